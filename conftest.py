"""Test-session setup.

The data are fetched once into the project's data/ folder, exactly as `make data` does (from
$LULC_DATA_MIRROR when set, as in CI, else from GitHub); quick-mode figures go to a temporary
folder, and so do quick-mode models and maps (runs/), so that they never overwrite full-mode results.
The notebooks' shared quick runs go to a fresh temporary folder (tests/quick_runs.py).

With pytest-xdist (`make test` runs `-n auto`), the controller fetches the data and makes the folders before
any worker starts; each worker then writes into its own subfolder, and gives PyTorch its share of the cores:
two workers with two threads each on two cores run slower than with one each.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from lulc_helpers import data, paths
from tests.quick_runs import FOLDER_ENV as QUICK_RUNS_ENV

# The notebook, exercise and browser runs take minutes, started in this order (see below);
# `pytest -m "not slow"` leaves them out.
SLOW_MODULES = ["test_notebooks.py", "test_exercises.py", "test_browser.py"]
TEMPORARY_FOLDERS = {paths.FIGURES_DIR_ENV: "lulc-figures-", paths.RUNS_DIR_ENV: "lulc-runs-",
                     QUICK_RUNS_ENV: "lulc-quick-runs-"}
MADE_HERE = pytest.StashKey[list]()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs a notebook or a browser (minutes); deselect with -m 'not slow'")
    worker = getattr(config, "workerinput", None)
    if worker is None:
        data.ensure_data(verbose=False)
        os.environ.setdefault(paths.DATA_DIR_ENV, str(paths.data_dir()))
        for name, prefix in TEMPORARY_FOLDERS.items():
            if name == QUICK_RUNS_ENV or name not in os.environ:  # quick runs: never a stale earlier session's
                os.environ[name] = tempfile.mkdtemp(prefix=prefix)
                config.stash[MADE_HERE] = [*config.stash.get(MADE_HERE, []), os.environ[name]]
        os.environ.setdefault("MPLBACKEND", "Agg")
        return
    for name in (paths.FIGURES_DIR_ENV, paths.RUNS_DIR_ENV):
        folder = Path(os.environ[name]) / worker["workerid"]
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(folder)
    share = max(1, (os.cpu_count() or 1) // worker["workercount"])
    os.environ.setdefault("OMP_NUM_THREADS", str(share))


def pytest_unconfigure(config):
    for folder in config.stash.get(MADE_HERE, []):
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_modifyitems(items):
    """Mark notebook, exercise and browser runs slow, and start them first: spread over the workers from the
    beginning, they do not leave one worker running the last long notebook while the others wait. The browser
    tests come last of them: by then the book's notebooks have run (tests/quick_runs.py)."""
    for item in items:
        if item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        if item.path.name in ("test_browser.py", "test_browser_dbg.py"):
            item.add_marker(pytest.mark.xdist_group("browser"))
    order = {name: rank for rank, name in enumerate(SLOW_MODULES)}
    items.sort(key=lambda item: order.get(item.path.name, len(order)))
