"""Test-session setup shared by unit tests (tests/) and notebook runs (notebooks/, via nbmake).

The data are fetched once into the project's data/ folder, exactly as `make data` does (from
$LULC_DATA_MIRROR when set, as in CI, else from GitHub); quick-mode figures go to a temporary
folder, and so do quick-mode models and maps (runs/), so that they never overwrite full-mode results.
"""

import os
import tempfile

from lulc_helpers import data, paths


def pytest_configure(config):
    data.ensure_data(verbose=False)
    os.environ.setdefault(paths.DATA_DIR_ENV, str(paths.data_dir()))
    os.environ.setdefault(paths.FIGURES_DIR_ENV, tempfile.mkdtemp(prefix="lulc-figures-"))
    os.environ.setdefault(paths.RUNS_DIR_ENV, tempfile.mkdtemp(prefix="lulc-runs-"))
    os.environ.setdefault("MPLBACKEND", "Agg")
