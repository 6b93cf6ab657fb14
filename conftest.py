"""Test-session setup shared by unit tests (tests/) and notebook runs (notebooks/, via nbmake).

The data are fetched once into the project's data/ folder, exactly as `make data` does (from
$LULC_DATA_MIRROR when set, as in CI, else from GitHub); quick-mode figures go to a temporary
folder, and so do quick-mode models and maps (runs/), so that they never overwrite full-mode results.

With pytest-xdist (`make test` runs `-n auto`), the controller fetches the data and makes the folders before
any worker starts; each worker then writes into its own subfolder (two workers may run the same notebook, as a
notebook test and as one of its exercises, and would otherwise share a run folder), and gives PyTorch its share
of the cores: two workers with two threads each on two cores run slower than with one each.
"""

import os
import tempfile
from pathlib import Path

import pytest

from lulc_helpers import data, paths

# Notebook runs (nbmake) and the exercise and browser runs take minutes; `pytest -m "not slow"` leaves them out.
SLOW_MODULES = {"test_exercises.py", "test_browser.py"}


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs a notebook or a browser (minutes); deselect with -m 'not slow'")
    worker = getattr(config, "workerinput", None)
    if worker is None:
        data.ensure_data(verbose=False)
        os.environ.setdefault(paths.DATA_DIR_ENV, str(paths.data_dir()))
        os.environ.setdefault(paths.FIGURES_DIR_ENV, tempfile.mkdtemp(prefix="lulc-figures-"))
        os.environ.setdefault(paths.RUNS_DIR_ENV, tempfile.mkdtemp(prefix="lulc-runs-"))
        os.environ.setdefault("MPLBACKEND", "Agg")
        return
    for name in (paths.FIGURES_DIR_ENV, paths.RUNS_DIR_ENV):
        folder = Path(os.environ[name]) / worker["workerid"]
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(folder)
    share = max(1, (os.cpu_count() or 1) // worker["workercount"])
    os.environ.setdefault("OMP_NUM_THREADS", str(share))


def pytest_collection_modifyitems(items):
    """Mark notebook, exercise and browser runs slow, and start them first: spread over the workers from the
    beginning, they do not leave one worker running the last long notebook while the others wait."""
    for item in items:
        if item.path.suffix == ".ipynb" or item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
