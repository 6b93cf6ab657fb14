"""The recorded U-Net runs (results/unet_recorded_runs.csv): read, and appended to by `lulc train --record`."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .. import errors, outputs, paths


RECORDED_RUNS = Path("results") / "unet_recorded_runs.csv"  # under the project root


RECORD_COLUMNS = ["run", "seeds", "epochs", "threads", "evaluated_on", "protocol", "OA", "OA_sd", "OA_min",
                  "OA_max", "macro_F1", "macro_F1_sd", "macro_F1_min", "macro_F1_max", "setting_chosen_by", "source"]


def recorded_runs(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The recorded U-Net runs: one row per run and protocol, the mean over its seeds with sd and range.

    Rows come from `lulc train --record` or, for runs made before that option existed, from the project's
    closing notes (named in `source`).

    Parameters
    ----------
    path : str or os.PathLike, optional
        The CSV (default: results/unet_recorded_runs.csv at the project root).

    Returns
    -------
    pandas.DataFrame
        The table as stored.

    Raises
    ------
    DataError
        If the file is missing.
    """
    path = Path(path) if path is not None else paths.project_root() / RECORDED_RUNS
    if not path.is_file():
        raise errors.DataError(f"{path}: no recorded runs file (it ships with the repository; `lulc train --record` writes it)")
    return pd.read_csv(path)


def record(rows: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Append rows to a recorded-runs CSV, atomically.

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows with the columns of RECORD_COLUMNS (missing ones are left empty, others dropped).
    path : str or os.PathLike
        The CSV; created if missing.

    Returns
    -------
    Path
        `path`.

    Raises
    ------
    OutputError
        If the write fails.
    """
    path = Path(path)
    previous = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=RECORD_COLUMNS)
    table = pd.concat([previous, rows.reindex(columns=RECORD_COLUMNS)], ignore_index=True)
    with outputs.atomic_output(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    return path


# How the cpu preset's own runs are named in the recorded runs; a candidate change is "<PRESET_RUN>; <change>".
PRESET_RUN = "cpu preset, stripe validation, best epoch"
