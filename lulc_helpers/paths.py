"""Where things live: the project root, data/, figures/ and runs/ (each overridable by an environment variable)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "LULC_DATA_DIR"
FIGURES_DIR_ENV = "LULC_FIGURES_DIR"
RUNS_DIR_ENV = "LULC_RUNS_DIR"


def project_root(start: Path | None = None) -> Path:
    """The project's root folder: where data/, figures/ and runs/ live.

    Notebooks run from notebooks/, the CLI from anywhere in the clone, Colab from /content:
    all of them find the same data/ and figures/.

    Parameters
    ----------
    start : Path, optional
        Where to start looking (default: the working directory).

    Returns
    -------
    Path
        The nearest folder at or above `start` holding pyproject.toml, else `start` itself.
    """
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def shown(path: str | os.PathLike) -> str:
    """`path` as an output shows it, so that no notebook output or book page carries the machine's folders.

    Parameters
    ----------
    path : str or os.PathLike
        Any path.

    Returns
    -------
    str
        The path relative to the project root when it lies inside it, else the file's name alone.
    """
    path = Path(path).absolute()
    try:
        return str(path.relative_to(project_root()))
    except ValueError:
        return path.name


def data_dir() -> Path:
    """Where the data are fetched and read.

    Returns
    -------
    Path
        $LULC_DATA_DIR, else data/ at the project root (not created here).
    """
    return Path(os.environ.get(DATA_DIR_ENV) or project_root() / "data")




def figures_dir() -> Path:
    """Where notebooks save their figures; created if missing.

    Returns
    -------
    Path
        $LULC_FIGURES_DIR, else figures/ at the project root.
    """
    folder = Path(os.environ.get(FIGURES_DIR_ENV) or project_root() / "figures")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def runs_dir() -> Path:
    """Where notebooks write and read models and maps.

    Test runs point $LULC_RUNS_DIR at a temporary folder, so quick runs never overwrite full-mode results.

    Returns
    -------
    Path
        $LULC_RUNS_DIR, else runs/ at the project root (not created here).
    """
    return Path(os.environ.get(RUNS_DIR_ENV) or project_root() / "runs")


def predictions_dir() -> Path:
    """Where notebooks write and read classified maps.

    Returns
    -------
    Path
        predictions/ under `runs_dir()` (not created here).
    """
    return runs_dir() / "predictions"
