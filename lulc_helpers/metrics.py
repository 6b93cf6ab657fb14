"""Accuracy of a classified map against reference labels, read the way the paper reads it and the standard way.

Orientation, everywhere in this module: a confusion matrix has ROWS = CLASSIFIED (map) and
COLUMNS = REFERENCE, as in the paper's matrices and most remote-sensing texts (scikit-learn
writes the transpose). With that orientation the standard definitions are

- PA (producer's accuracy, recall)  = diagonal / column sum (share of reference pixels found),
- UA (user's accuracy, precision)   = diagonal / row sum (share of mapped pixels that are right).

The paper's per-class tables (the U-Net's in Section 3.1, CART/RF/SVM's in Section 3.2) print diagonal / row sum
under "PA" and diagonal / column sum under "UA", that is, they read the rows as reference. `reading="paper"`
reproduces those printed numbers; `reading="standard"` (the default) is the textbook one. Class code 0 is
unlabelled and never counted. Pure maths: no torch, scikit-learn or plotting (docs/design.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

STANDARD = "standard"
PAPER = "paper"  # rows read as reference, as the paper's tables do
READINGS = (STANDARD, PAPER)
METRICS = ("ACC", "TNR", "PA", "UA", "F1")
READING_NOTE = {
    STANDARD: "PA = diag/column sum = recall, UA = diag/row sum = precision",
    PAPER: "rows read as reference, as the paper's tables: PA = diag/row sum, UA = diag/column sum",
}

_CHUNK = 1 << 23  # pixel pairs per bincount pass: bounds the temporary int64 arrays to ~64 MB
_MAX_CODE = 4095


def confusion_matrix(
    classified, reference, labels: Sequence[int] | None = None, exclude_predicted: Iterable[int] = ()
) -> tuple[np.ndarray, list[int]]:
    """Confusion matrix of two class maps: pixel counts with rows = classified, columns = reference.

    Pixels where either map is 0 (unlabelled) are ignored, and so are pixels whose classified code is in
    `exclude_predicted`. One integer bincount over ``code_classified * base + code_reference``, in chunks, so
    10^8 pixels need no Python loop.

    Parameters
    ----------
    classified, reference : array_like or xarray.DataArray
        Class codes (0..4095), of the same shape.
    labels : sequence of int, optional
        The classes of the rows and columns, in order. Default: the sorted union of the codes of both maps over
        the pixels counted (a class mapped only outside the reference gets no empty row). Pixels with codes
        outside given `labels` are ignored, as scikit-learn does.
    exclude_predicted : iterable of int, optional
        Classified codes whose pixels are left out (the paper left out the 17 Strzegom pixels classified as 6, a
        class absent from its reference).

    Returns
    -------
    matrix : numpy.ndarray
        int64 counts, shape (len(labels), len(labels)).
    labels : list of int
        The class of each row and column.

    Raises
    ------
    ValueError
        If the shapes differ, or a code is not a whole non-negative number up to 4095.
    """
    pred, ref = as_codes(classified, "classified"), as_codes(reference, "reference")
    if pred.shape != ref.shape:
        raise ValueError(f"classified {pred.shape} and reference {ref.shape} differ in shape")
    base = int(max(pred.max(initial=0), ref.max(initial=0))) + 1
    if base > _MAX_CODE + 1:
        raise ValueError(f"class codes up to {_MAX_CODE} are supported, found {base - 1}")
    counts = np.zeros(base * base, dtype=np.int64)
    for start in range(0, pred.size, _CHUNK):
        # both sides in int64: uint64 + int64 would promote to float64, which bincount refuses
        pair = pred[start : start + _CHUNK].astype(np.int64) * base + ref[start : start + _CHUNK].astype(np.int64)
        counts += np.bincount(pair, minlength=base * base)
    full = counts.reshape(base, base)
    full[0, :] = 0
    full[:, 0] = 0
    for code in exclude_predicted:
        if 0 <= int(code) < base:
            full[int(code), :] = 0
    if labels is None:
        labels = np.flatnonzero(full.sum(axis=1) + full.sum(axis=0)).tolist()
    labels = [int(v) for v in labels]
    inside = [v for v in labels if 0 < v < base]
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    at = [labels.index(v) for v in inside]
    matrix[np.ix_(at, at)] = full[np.ix_(inside, inside)]
    return matrix, labels


def as_codes(values, name: str) -> np.ndarray:
    """Class codes as a flat integer array.

    Parameters
    ----------
    values : array_like or xarray.DataArray
        Class codes; NaN counts as 0 (unlabelled).
    name : str
        What the values are, named in the error.

    Returns
    -------
    numpy.ndarray
        The codes, flattened, as integers.

    Raises
    ------
    ValueError
        Naming `name`, for fractions, text or negative codes.
    """
    array = np.asarray(getattr(values, "values", values)).ravel()
    if array.dtype.kind == "f":
        array = np.nan_to_num(array, nan=0.0)
        if not np.array_equal(array, np.round(array)):
            raise ValueError(f"{name}: class codes must be whole numbers")
        array = array.astype(np.int64)
    elif array.dtype.kind not in "iub":
        raise ValueError(f"{name}: class codes must be integers, got {array.dtype}")
    if array.size and array.min() < 0:
        raise ValueError(f"{name}: negative class codes")
    return array


def _as_matrix(matrix) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a confusion matrix is square, got shape {matrix.shape}")
    if matrix.sum() <= 0:
        raise ValueError("the confusion matrix is empty (no pixel labelled in both rasters)")
    return matrix


def _oriented(matrix, reading: str) -> np.ndarray:
    """The matrix with rows = classified, columns = reference for the chosen reading."""
    if reading not in READINGS:
        raise ValueError(f"reading must be one of {READINGS}, got {reading!r}")
    matrix = _as_matrix(matrix)
    return matrix.T if reading == PAPER else matrix


# ---------------------------------------------------------------- per-class and summary metrics


def overall_accuracy(matrix) -> float:
    """Overall accuracy: diagonal / total (the same in either orientation).

    Parameters
    ----------
    matrix : array_like
        A square confusion matrix of pixel counts, rows = classified, columns = reference.

    Returns
    -------
    float
        The share of pixels on the diagonal.

    Raises
    ------
    ValueError
        If the matrix is not square or holds no pixel.
    """
    matrix = _as_matrix(matrix)
    return float(np.trace(matrix) / matrix.sum())


def per_class(matrix, labels: Sequence[int], reading: str = STANDARD) -> pd.DataFrame:
    """ACC, TNR, PA, UA and F1 of every class against all others.

    For class c with TP = diagonal, FP = row sum - TP (mapped as c, reference other), FN = column sum - TP,
    TN = the rest: ACC = (TP + TN) / N, TNR = TN / (TN + FP), PA = TP / (TP + FN), UA = TP / (TP + FP),
    F1 = 2 TP / (2 TP + FP + FN).

    Parameters
    ----------
    matrix : array_like
        A square confusion matrix of pixel counts, rows = classified, columns = reference.
    labels : sequence of int
        The class code of each row and column, in order.
    reading : {"standard", "paper"}
        "standard" (the default) reads rows as classified; "paper" swaps rows and columns, as the paper's
        tables do.

    Returns
    -------
    pandas.DataFrame
        One row per class (indexed by class code), columns ACC, TNR, PA, UA, F1; undefined ratios (0 / 0) are
        NaN.

    Raises
    ------
    ValueError
        If the matrix is not square or holds no pixel, or `reading` is neither "standard" nor "paper".
    """
    counts = binary_counts(matrix, labels, reading).astype(np.float64)
    tp, fp, fn, tn = (counts[k].to_numpy() for k in ("TP", "FP", "FN", "TN"))
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame(
            {
                "ACC": (tp + tn) / (tp + fp + fn + tn),
                "TNR": tn / (tn + fp),
                "PA": tp / (tp + fn),
                "UA": tp / (tp + fp),
                "F1": 2 * tp / (2 * tp + fp + fn),
            },
            index=counts.index,
        )
    return table


def binary_counts(matrix, labels: Sequence[int], reading: str = STANDARD) -> pd.DataFrame:
    """TP, FP, FN and TN of each class against all others (one-vs-rest).

    Parameters
    ----------
    matrix : array_like
        A square confusion matrix of pixel counts, rows = classified, columns = reference.
    labels : sequence of int
        The class code of each row and column, in order.
    reading : {"standard", "paper"}
        "standard" (the default) reads rows as classified; "paper" swaps rows and columns, as the paper's
        tables do.

    Returns
    -------
    pandas.DataFrame
        One row per class, int64 columns TP, FP, FN, TN.

    Raises
    ------
    ValueError
        If the matrix is not square or holds no pixel, or `reading` is neither "standard" nor "paper".
    """
    m = _oriented(matrix, reading)
    tp = np.diag(m)
    fp, fn = m.sum(axis=1) - tp, m.sum(axis=0) - tp
    index = pd.Index([int(v) for v in labels], name="class")
    counts = pd.DataFrame({"TP": tp, "FP": fp, "FN": fn, "TN": m.sum() - tp - fp - fn}, index=index)
    return counts.astype(np.int64)


def accuracy_table(matrix, labels: Sequence[int], reading: str = STANDARD) -> pd.DataFrame:
    """`per_class` with the paper's summary rows added.

    Parameters
    ----------
    matrix : array_like
        A square confusion matrix of pixel counts, rows = classified, columns = reference.
    labels : sequence of int
        The class code of each row and column, in order.
    reading : {"standard", "paper"}
        "standard" (the default) reads rows as classified; "paper" swaps rows and columns, as the paper's
        tables do.
        "paper" gives the numbers as the paper's tables print them.

    Returns
    -------
    pandas.DataFrame
        The per-class rows, then "Mean" (unweighted mean over classes) and "Overall" (OA under ACC).

    Raises
    ------
    ValueError
        If the matrix is not square or holds no pixel, or `reading` is neither "standard" nor "paper".
    """
    table = per_class(matrix, labels, reading)
    mean = table.mean(axis=0).rename("Mean")
    overall = pd.Series({"ACC": overall_accuracy(matrix)}, name="Overall").reindex(METRICS)
    out = pd.concat([table, mean.to_frame().T, overall.to_frame().T])
    out.index = pd.Index([*table.index.tolist(), "Mean", "Overall"], name="class", dtype=object)
    return out


def matrix_frame(matrix, labels: Sequence[int]) -> pd.DataFrame:
    """A confusion matrix as a table with named axes.

    Parameters
    ----------
    matrix : array_like
        A square confusion matrix of pixel counts, rows = classified, columns = reference.
    labels : sequence of int
        The class code of each row and column, in order.

    Returns
    -------
    pandas.DataFrame
        Index "classified", columns "reference", both the class codes.
    """
    labels = [int(v) for v in labels]
    return pd.DataFrame(
        np.asarray(matrix), index=pd.Index(labels, name="classified"), columns=pd.Index(labels, name="reference")
    )


def report(matrix, labels: Sequence[int]) -> dict:
    """Everything about a confusion matrix as plain, JSON-ready values (what `lulc accuracy --json` prints).

    Parameters
    ----------
    matrix : array_like
        A square confusion matrix of pixel counts, rows = classified, columns = reference.
    labels : sequence of int
        The class code of each row and column, in order.

    Returns
    -------
    dict
        "orientation", "labels", "matrix", "pixels", the single-number scores of `summary` (NaN as None),
        "per_class" and "mean" in the standard reading, and "paper_reading" with the same in the paper's.

    Raises
    ------
    ValueError
        If the matrix is not square or holds no pixel.
    """

    def rows(reading: str) -> tuple[dict, dict]:
        table = accuracy_table(matrix, labels, reading)
        per = {str(c): _plain(table.loc[c]) for c in labels}
        return per, _plain(table.loc["Mean"])

    per_class_standard, mean_standard = rows(STANDARD)
    per_class_paper, mean_paper = rows(PAPER)
    return {
        "orientation": "rows = classified, columns = reference",
        "labels": [int(v) for v in labels],
        "matrix": np.asarray(matrix).astype(int).tolist(),
        "pixels": int(np.asarray(matrix).sum()),
        **_plain(pd.Series(summary(matrix))),  # NaN (an undefined kappa) is not valid JSON: null
        "per_class": per_class_standard,
        "mean": mean_standard,
        "paper_reading": {"note": READING_NOTE[PAPER], "per_class": per_class_paper, "mean": mean_paper},
    }


def _plain(row: pd.Series) -> dict:
    return {k: (None if pd.isna(v) else float(v)) for k, v in row.items()}


def kappa(matrix) -> float:
    """Cohen's kappa: (OA - chance agreement) / (1 - chance agreement); symmetric in orientation.

    Parameters
    ----------
    matrix : array_like
        A square confusion matrix of pixel counts, rows = classified, columns = reference.

    Returns
    -------
    float
        Kappa; NaN when chance agreement is 1 (one class in both map and reference), as in scikit-learn.

    Raises
    ------
    ValueError
        If the matrix is not square or holds no pixel.
    """
    m = _as_matrix(matrix)
    n = m.sum()
    chance = float((m.sum(axis=0) * m.sum(axis=1)).sum() / n**2)
    return (overall_accuracy(m) - chance) / (1 - chance) if chance < 1 else float("nan")


def balanced_accuracy(matrix) -> float:
    """Balanced accuracy: the mean producer's accuracy (recall) over the classes present in the reference.

    Parameters
    ----------
    matrix : array_like
        A square confusion matrix of pixel counts, rows = classified, columns = reference.

    Returns
    -------
    float
        The mean of diagonal / column sum over the columns with pixels.

    Raises
    ------
    ValueError
        If the matrix is not square or holds no pixel.
    """
    m = _as_matrix(matrix)
    reference_totals = m.sum(axis=0)
    present = reference_totals > 0
    return float(np.mean(np.diag(m)[present] / reference_totals[present]))


def macro_f1(matrix, reference_classes_only: bool = False) -> float:
    """Unweighted mean of the per-class F1 (orientation-free: F1 is symmetric in PA and UA).

    Parameters
    ----------
    matrix : array_like
        A square confusion matrix of pixel counts, rows = classified, columns = reference.
    reference_classes_only : bool, default False
        False: over every class of the matrix (scikit-learn's macro average). True: over the classes present in
        the reference (columns), so that a map predicting a class the reference lacks is penalised by its
        errors, not by an extra F1 of 0.

    Returns
    -------
    float
        The macro-averaged F1 (a class with no pixel in its row or column counts 0).

    Raises
    ------
    ValueError
        If the matrix is not square or holds no pixel.
    """
    m = _as_matrix(matrix)
    tp = np.diag(m)
    denominator = m.sum(axis=0) + m.sum(axis=1)
    f1 = np.where(denominator > 0, 2 * tp / np.where(denominator > 0, denominator, 1), 0.0)
    return float(np.mean(f1[m.sum(axis=0) > 0] if reference_classes_only else f1))


def mcc(matrix) -> float:
    """Matthews correlation coefficient, multiclass (Gorodkin 2004).

    Parameters
    ----------
    matrix : array_like
        A square confusion matrix of pixel counts, rows = classified, columns = reference.

    Returns
    -------
    float
        MCC in [-1, 1]; 0 when undefined.

    Raises
    ------
    ValueError
        If the matrix is not square or holds no pixel.
    """
    m = _as_matrix(matrix)
    n, correct = m.sum(), np.trace(m)
    predicted, actual = m.sum(axis=1), m.sum(axis=0)
    denominator = np.sqrt((n**2 - predicted @ predicted) * (n**2 - actual @ actual))
    return float((correct * n - predicted @ actual) / denominator) if denominator > 0 else 0.0


def disagreement(matrix) -> dict[str, float]:
    """Quantity and allocation disagreement (Pontius & Millones 2011), as proportions.

    ``quantity = sum_g |row_g - col_g| / 2``, ``allocation = sum_g min(row_g - p_gg, col_g - p_gg)``, with p the
    matrix as proportions; quantity + allocation = 1 - OA.

    Parameters
    ----------
    matrix : array_like
        A square confusion matrix of pixel counts, rows = classified, columns = reference.

    Returns
    -------
    dict
        "quantity", "allocation" and "total" (their sum).

    Raises
    ------
    ValueError
        If the matrix is not square or holds no pixel.
    """
    p = _as_matrix(matrix)
    p = p / p.sum()
    rows, cols, diag = p.sum(axis=1), p.sum(axis=0), np.diag(p)
    quantity = float(np.abs(rows - cols).sum() / 2)
    allocation = float(np.minimum(rows - diag, cols - diag).sum())
    return {"quantity": quantity, "allocation": allocation, "total": quantity + allocation}


def summary(matrix) -> dict[str, float]:
    """Every single-number score of a confusion matrix.

    Parameters
    ----------
    matrix : array_like
        A square confusion matrix of pixel counts, rows = classified, columns = reference.

    Returns
    -------
    dict
        "overall_accuracy", "kappa", "balanced_accuracy", "mcc", "macro_f1", "quantity_disagreement",
        "allocation_disagreement".

    Raises
    ------
    ValueError
        If the matrix is not square or holds no pixel.
    """
    split = disagreement(matrix)
    return {
        "overall_accuracy": overall_accuracy(matrix),
        "kappa": kappa(matrix),
        "balanced_accuracy": balanced_accuracy(matrix),
        "mcc": mcc(matrix),
        "macro_f1": macro_f1(matrix),
        "quantity_disagreement": split["quantity"],
        "allocation_disagreement": split["allocation"],
    }


# ---------------------------------------------------------------- stratified estimators (Olofsson et al. 2014)


@dataclass(frozen=True)
class StratifiedEstimate:
    """Area-weighted accuracy and area from a stratified random sample; every `*_ci` is a 95% half-width.

    `proportions` is the estimated error matrix in area proportions (rows = map, columns = reference).
    Areas are in the unit of the mapped areas given (pixels, hectares...).
    """

    proportions: pd.DataFrame
    overall_accuracy: float
    overall_accuracy_ci: float
    table: pd.DataFrame  # per class: UA, UA_ci, PA, PA_ci, area, area_ci, mapped_area


def stratified_estimates(counts, mapped_areas, labels: Sequence[int] | None = None, z: float = 1.96) -> StratifiedEstimate:
    """Accuracy and class areas from a stratified random sample (Olofsson et al. 2014).

    A row with no mapped area and no sample units is a class found only in the reference: it weighs nothing,
    its UA is NaN, and its area comes from the other strata.

    Parameters
    ----------
    counts : array_like
        Square matrix of sample counts, rows = map class (the strata), columns = reference class.
    mapped_areas : array_like
        The area the map gives each row's class (its stratum size), in any unit; the areas in the result come
        in that unit.
    labels : sequence of int, optional
        The class code of each row and column (default 1..n).
    z : float, default 1.96
        The normal quantile of the intervals (1.96: 95%).

    Returns
    -------
    StratifiedEstimate
        OA, UA, PA and reference-class areas, each with z * its standard error, and the estimated error matrix
        in area proportions.

    Raises
    ------
    ValueError
        If `counts` is not square or `mapped_areas` not one value per row, a mapped class has fewer than two
        sample units, or a class with sample units has no mapped area.
    """
    n = np.asarray(counts, dtype=np.float64)
    area = np.asarray(mapped_areas, dtype=np.float64)
    if n.ndim != 2 or n.shape[0] != n.shape[1] or area.shape != (n.shape[0],):
        raise ValueError("counts must be a square matrix and mapped_areas one value per row")
    n_i = n.sum(axis=1)
    mapped = area > 0
    if (n_i[mapped] < 2).any():
        raise ValueError("every map class (row) needs at least two sample units")
    if (n_i[~mapped] > 0).any():
        raise ValueError("sample units in a map class (row) with no mapped area")
    n_i = np.where(mapped, n_i, 2.0)  # an empty, unmapped row: zero weight, any divisor keeps its terms at 0
    labels = list(range(1, n.shape[0] + 1)) if labels is None else [int(v) for v in labels]
    total = area.sum()
    w = area / total
    within = n / n_i[:, None]  # n_ij / n_i.
    p = w[:, None] * within
    diag = np.diag(p)
    ref_prop = p.sum(axis=0)
    ua = np.diag(within)
    pa = np.divide(diag, ref_prop, out=np.full_like(diag, np.nan), where=ref_prop > 0)  # NaN: class never in the reference
    oa = diag.sum()
    oa_var = np.sum(w**2 * ua * (1 - ua) / (n_i - 1))
    ua_var = ua * (1 - ua) / (n_i - 1)
    # eq. 7 of Olofsson et al. 2014, with N = areas: N_.j estimated reference total, N_j. mapped total
    ref_area = area @ within
    cell_var = area[:, None] ** 2 * within * (1 - within) / (n_i[:, None] - 1)
    off_diagonal = cell_var.sum(axis=0) - np.diag(cell_var)
    pa_var = (area**2 * (1 - pa) ** 2 * ua * (1 - ua) / (n_i - 1) + pa**2 * off_diagonal) / ref_area**2
    area_se = np.sqrt(np.sum((w[:, None] * p - p**2) / (n_i[:, None] - 1), axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        pa_ci = z * np.sqrt(pa_var)
    table = pd.DataFrame(
        {
            "UA": np.where(mapped, ua, np.nan),
            "UA_ci": np.where(mapped, z * np.sqrt(ua_var), np.nan),
            "PA": pa,
            "PA_ci": pa_ci,
            "area": ref_prop * total,
            "area_ci": z * area_se * total,
            "mapped_area": area,
        },
        index=pd.Index(labels, name="class"),
    )
    proportions = pd.DataFrame(p, index=pd.Index(labels, name="map"), columns=pd.Index(labels, name="reference"))
    return StratifiedEstimate(proportions, float(oa), float(z * np.sqrt(oa_var)), table)


def estimate_from_points(map_classes, reference_classes, stratum_areas: Mapping[int, float], z: float = 1.96) -> StratifiedEstimate:
    """`stratified_estimates` from the points of a stratified random sample whose strata are the map classes.

    Parameters
    ----------
    map_classes, reference_classes : array_like
        The map's and the reference's class of each point. Points without a reference class (code 0) must be
        left out first.
    stratum_areas : mapping of int to float
        Each map class's mapped area: all of the frame the points were drawn from, in any unit (the areas in
        the result come in that unit).
    z : float, default 1.96
        The normal quantile of the intervals (1.96: 95%).

    Returns
    -------
    StratifiedEstimate
        As `stratified_estimates`; classes found only in the reference get a row of zeros.

    Raises
    ------
    ValueError
        If the two arrays differ in length, a point has reference class 0, a point's map class has no area in
        `stratum_areas`, or a stratum has fewer than two points.
    """
    mapped, reference = as_codes(map_classes, "map classes"), as_codes(reference_classes, "reference classes")
    if mapped.shape != reference.shape:
        raise ValueError(f"{mapped.size} map classes but {reference.size} reference classes")
    if (reference == 0).any():
        raise ValueError("a point has no reference class (0): leave unlabelled points out first")
    strata = {int(c): float(a) for c, a in stratum_areas.items() if a > 0}
    outside = sorted(set(np.unique(mapped).tolist()) - set(strata))
    if outside:
        raise ValueError(f"points in map classes {outside}, which have no mapped area")
    labels = sorted(set(strata) | set(np.unique(reference).tolist()))
    counts, _ = confusion_matrix(mapped, reference, labels)
    return stratified_estimates(counts, [strata.get(c, 0.0) for c in labels], labels, z)


# ---------------------------------------------------------------- bootstrap and McNemar


def bootstrap_ci(
    matrix,
    labels: Sequence[int],
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    reference_classes_only: bool = False,
) -> pd.DataFrame:
    """Percentile bootstrap intervals for OA, macro F1 and each class's F1.

    Resampling N pixel pairs with replacement only changes how many pairs fall in each cell, so each replicate
    is one multinomial draw of the matrix: exact, and fast for millions of pixels. It treats pixels as
    independent; neighbouring pixels are not, so for polygon references the intervals are optimistic (a point
    sample, as in the GEE notebook, does not have that problem).

    Parameters
    ----------
    matrix : array_like
        A square confusion matrix of pixel counts, rows = classified, columns = reference.
    labels : sequence of int
        The class code of each row and column, in order.
    n_boot : int, default 2000
        Number of bootstrap replicates.
    confidence : float, default 0.95
        Coverage of the intervals.
    seed : int, default 0
        Seed of the random draws.
    reference_classes_only : bool, default False
        As in `macro_f1`.

    Returns
    -------
    pandas.DataFrame
        Rows "OA", "macro F1" and "F1 <class>", columns estimate, low, high.

    Raises
    ------
    ValueError
        If the matrix is not square or holds no pixel.
    """
    m = _as_matrix(matrix)
    k = m.shape[0]
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(int(m.sum()), (m / m.sum()).ravel(), size=n_boot).reshape(n_boot, k, k).astype(np.float64)
    tp = np.diagonal(draws, axis1=1, axis2=2)
    denominator = draws.sum(axis=1) + draws.sum(axis=2)
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    averaged = m.sum(axis=0) > 0 if reference_classes_only else np.ones(k, dtype=bool)
    replicates = {"OA": tp.sum(axis=1) / m.sum(), "macro F1": f1[:, averaged].mean(axis=1)}
    estimates = {"OA": overall_accuracy(m), "macro F1": macro_f1(m, reference_classes_only)}
    point_f1 = per_class(m, labels)["F1"].fillna(0.0)
    for j, label in enumerate(labels):
        replicates[f"F1 {label}"] = f1[:, j]
        estimates[f"F1 {label}"] = float(point_f1.iloc[j])
    tail = (1 - confidence) / 2 * 100
    rows = {
        name: {"estimate": estimates[name], "low": np.percentile(v, tail), "high": np.percentile(v, 100 - tail)}
        for name, v in replicates.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")


@dataclass(frozen=True)
class McNemarResult:
    """The outcome of `mcnemar`.

    Attributes
    ----------
    only_first_correct : int
        b: pixels the first classifier gets right and the second wrong.
    only_second_correct : int
        c: pixels the second gets right and the first wrong.
    statistic : float
        The continuity-corrected chi-square or, for the exact test, min(b, c).
    p_value : float
        Two-sided p-value.
    method : str
        "exact binomial", "chi-square, continuity-corrected" or "no discordant pixels".
    """

    only_first_correct: int  # b: pixels the first classifier gets right and the second wrong
    only_second_correct: int  # c
    statistic: float  # chi-square (continuity-corrected) or, for the exact test, min(b, c)
    p_value: float
    method: str  # "exact binomial" or "chi-square, continuity-corrected"


EXACT_BELOW = 25  # discordant pairs under which the exact binomial test is used


def mcnemar(first, second, reference) -> McNemarResult:
    """McNemar's test: do two classifiers differ in accuracy on the same reference pixels?

    Only pixels labelled in the reference and in both maps count. With b + c discordant pixels, b + c < 25 uses
    the exact two-sided binomial test (b ~ Bin(b + c, 1/2)); otherwise the chi-square statistic
    ``(|b - c| - 1)^2 / (b + c)`` with Edwards' continuity correction, 1 d.o.f. Pixels are treated as
    independent, so with spatially clustered references p is optimistic.

    Parameters
    ----------
    first, second : array_like or xarray.DataArray
        Class codes of the two maps.
    reference : array_like or xarray.DataArray
        Reference class codes, of the same shape (0 = unlabelled).

    Returns
    -------
    McNemarResult
        b, c, the statistic, the p-value and the test used.

    Raises
    ------
    ValueError
        If the shapes differ or a code is not a whole non-negative number.
    """
    from scipy import stats

    a, b_map, ref = (as_codes(x, name) for x, name in ((first, "first"), (second, "second"), (reference, "reference")))
    if not a.shape == b_map.shape == ref.shape:
        raise ValueError(f"shapes differ: first {a.shape}, second {b_map.shape}, reference {ref.shape}")
    valid = (ref != 0) & (a != 0) & (b_map != 0)
    right_a, right_b = a[valid] == ref[valid], b_map[valid] == ref[valid]
    b = int(np.count_nonzero(right_a & ~right_b))
    c = int(np.count_nonzero(~right_a & right_b))
    if b + c == 0:
        return McNemarResult(b, c, 0.0, 1.0, "no discordant pixels")
    if b + c < EXACT_BELOW:
        p = stats.binomtest(b, b + c, 0.5).pvalue
        return McNemarResult(b, c, float(min(b, c)), float(p), "exact binomial")
    chi2 = (abs(b - c) - 1) ** 2 / (b + c)
    return McNemarResult(b, c, float(chi2), float(stats.chi2.sf(chi2, 1)), "chi-square, continuity-corrected")


# ---------------------------------------------------------------- the imbalance demonstration


