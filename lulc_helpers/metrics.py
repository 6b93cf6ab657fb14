"""TEMPORARY STAND-IN for the metrics branch (drop at merge: the real lulc_helpers/metrics.py wins).

Only the calls training.py and notebook 03 make, with the agreed API. Rows = classified, columns = reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import scheme


def confusion_matrix(classified, reference, labels=None, exclude_predicted=()):
    """(matrix, labels): rows = classified (map), columns = reference; pixels with 0 in either are ignored."""
    classified, reference = np.asarray(classified).ravel(), np.asarray(reference).ravel()
    keep = (classified != scheme.NODATA) & (reference != scheme.NODATA) & ~np.isin(classified, exclude_predicted)
    classified, reference = classified[keep], reference[keep]
    if labels is None:
        labels = np.union1d(np.unique(classified), np.unique(reference)).tolist()
    lookup = np.full(256, -1)
    lookup[np.asarray(labels, dtype=int)] = np.arange(len(labels))
    rows, cols = lookup[classified.astype(int)], lookup[reference.astype(int)]
    inside = (rows >= 0) & (cols >= 0)
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(matrix, (rows[inside], cols[inside]), 1)
    return matrix, list(labels)


def overall_accuracy(matrix) -> float:
    matrix = np.asarray(matrix)
    return float(np.trace(matrix) / matrix.sum())


def per_class(matrix, labels) -> pd.DataFrame:
    """ACC TNR PA UA F1 per class; rows = classified, columns = reference, so PA = recall, UA = precision."""
    m = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(m)
    fp, fn = m.sum(axis=1) - tp, m.sum(axis=0) - tp
    tn = m.sum() - tp - fp - fn
    with np.errstate(invalid="ignore", divide="ignore"):
        pa, ua = tp / (tp + fn), tp / (tp + fp)
        frame = pd.DataFrame(
            {"ACC": (tp + tn) / m.sum(), "TNR": tn / (tn + fp), "PA": pa, "UA": ua, "F1": 2 * pa * ua / (pa + ua)},
            index=pd.Index(labels, name="class"),
        )
    return frame


def accuracy_table(matrix, labels) -> pd.DataFrame:
    table = per_class(matrix, labels)
    table.loc["Mean"] = table.mean()
    table.loc["Overall"] = [overall_accuracy(matrix)] + [np.nan] * 4
    return table
