import pytest

from lulc_helpers import data, paths


@pytest.fixture(scope="session")
def data_root():
    """The verified data folder (fetched in the root conftest)."""
    return paths.data_dir()


@pytest.fixture(scope="session")
def strzegom_test(data_root):
    return data.test_scene("strzegom")
