"""Where things live: the project root, data/, figures/ and runs/ (each overridable by an environment variable)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "LULC_DATA_DIR"
FIGURES_DIR_ENV = "LULC_FIGURES_DIR"
RUNS_DIR_ENV = "LULC_RUNS_DIR"


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd) holding pyproject.toml, else cwd.

    Notebooks run from notebooks/, the CLI from anywhere in the clone, Colab from /content:
    all of them find the same data/ and figures/.
    """
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or project_root() / "data")




def figures_dir() -> Path:
    """$LULC_FIGURES_DIR, else figures/ at the project root; created if missing."""
    folder = Path(os.environ.get(FIGURES_DIR_ENV) or project_root() / "figures")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def runs_dir() -> Path:
    """$LULC_RUNS_DIR, else runs/ at the project root: where notebooks write and read models and maps
    (test runs point it at a temporary folder so quick runs never overwrite full-mode results)."""
    return Path(os.environ.get(RUNS_DIR_ENV) or project_root() / "runs")


def predictions_dir() -> Path:
    """predictions/ under `runs_dir()` (runs/ at the project root): where notebooks write and read maps."""
    return runs_dir() / "predictions"
