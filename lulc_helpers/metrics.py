"""TEMPORARY stand-in for the metrics issue's module, so that the classical branch runs on its own.

The lead replaces this file at merge with the real `lulc_helpers/metrics.py`. Only the names the
classical code calls are here. Confusion matrices: rows = classified (map), columns = reference.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from . import scheme


def confusion_matrix(classified, reference, labels: Sequence[int] | None = None, exclude_predicted: Iterable[int] = ()):
    """(matrix, labels): rows = classified, columns = reference; pixels where either side is 0 are ignored.

    `labels` defaults to the codes present on either side; pixels whose classified code is in
    `exclude_predicted` are left out.
    """
    classified = np.asarray(classified).ravel().astype(np.int64)
    reference = np.asarray(reference).ravel().astype(np.int64)
    keep = (classified != scheme.NODATA) & (reference != scheme.NODATA) & ~np.isin(classified, list(exclude_predicted))
    classified, reference = classified[keep], reference[keep]
    if labels is None:
        labels = sorted(set(np.unique(classified).tolist()) | set(np.unique(reference).tolist()))
    labels = [int(k) for k in labels]
    lookup = np.full(max(labels + [int(classified.max(initial=0)), int(reference.max(initial=0))]) + 1, -1)
    lookup[labels] = np.arange(len(labels))
    rows, cols = lookup[classified], lookup[reference]
    inside = (rows >= 0) & (cols >= 0)
    flat = np.bincount(rows[inside] * len(labels) + cols[inside], minlength=len(labels) ** 2)
    return flat.reshape(len(labels), len(labels)), labels


def overall_accuracy(matrix) -> float:
    matrix = np.asarray(matrix, dtype=float)
    return float(np.trace(matrix) / matrix.sum())


def per_class(matrix, labels) -> pd.DataFrame:
    """ACC, TNR, PA (recall), UA (precision), F1 per class; rows = classified, columns = reference."""
    m = np.asarray(matrix, dtype=float)
    total, tp = m.sum(), np.diag(m)
    predicted, actual = m.sum(axis=1), m.sum(axis=0)
    fp, fn = predicted - tp, actual - tp
    tn = total - tp - fp - fn
    with np.errstate(invalid="ignore", divide="ignore"):
        pa, ua = tp / actual, tp / predicted
        frame = pd.DataFrame(
            {"ACC": (tp + tn) / total, "TNR": tn / (tn + fp), "PA": pa, "UA": ua, "F1": 2 * tp / (2 * tp + fp + fn)},
            index=pd.Index([int(k) for k in labels], name="class"),
        )
    return frame


def accuracy_table(matrix, labels) -> pd.DataFrame:
    """The paper's table layout: per-class rows, then Mean (macro) and Overall (OA in ACC)."""
    table = per_class(matrix, labels)
    table.index = table.index.astype(object)
    table.loc["Mean"] = table.mean()
    table.loc["Overall"] = [overall_accuracy(matrix), np.nan, np.nan, np.nan, np.nan]
    return table


def bootstrap_ci(classified, reference, statistic=overall_accuracy, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0):
    """Percentile bootstrap (low, high) of `statistic(matrix)` over labelled samples."""
    classified = np.asarray(classified).ravel()
    reference = np.asarray(reference).ravel()
    keep = (classified != scheme.NODATA) & (reference != scheme.NODATA)
    classified, reference = classified[keep], reference[keep]
    labels = sorted(set(np.unique(classified).tolist()) | set(np.unique(reference).tolist()))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        pick = rng.integers(0, classified.size, classified.size)
        values.append(statistic(confusion_matrix(classified[pick], reference[pick], labels)[0]))
    return float(np.quantile(values, alpha / 2)), float(np.quantile(values, 1 - alpha / 2))


def mcnemar(classified_a, classified_b, reference):
    """McNemar's test with continuity correction on paired samples: (chi2, p_value, n01, n10)."""
    from scipy.stats import chi2

    a, b, ref = (np.asarray(v).ravel() for v in (classified_a, classified_b, reference))
    keep = ref != scheme.NODATA
    right_a, right_b = a[keep] == ref[keep], b[keep] == ref[keep]
    n01, n10 = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    if n01 + n10 == 0:
        return 0.0, 1.0, n01, n10
    statistic = (abs(n01 - n10) - 1) ** 2 / (n01 + n10)
    return float(statistic), float(chi2.sf(statistic, 1)), n01, n10
