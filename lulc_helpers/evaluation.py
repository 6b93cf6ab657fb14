"""Scoring any class map on any reference: the reference protocols of the paper's test, confusion matrices on
points and on pixels, the same samples for every map, comparison tables, and the paper's numbers beside ours.

The maths is `metrics`'; this module decides what is compared with what. Matrices have rows = classified
(map), columns = reference, as everywhere in the package (docs/design.md, "Conventions").
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor used on every map)
import xarray as xr

from . import data, labels, metrics, paper, paths, rasters
from .paper import METHOD_NAMES, METHODS, PAPER_EXCLUDED, PAPER_OA, paper_gee_table
from .rasters import values_at_points


def accuracy(classified: np.ndarray, reference: np.ndarray, exclude_predicted: Sequence[int] = ()) -> dict:
    """The scores a model is chosen and reported by.

    Parameters
    ----------
    classified, reference : numpy.ndarray
        Class codes of the same shape (0 = unlabelled).
    exclude_predicted : sequence of int, optional
        Classified codes whose pixels are left out.

    Returns
    -------
    dict
        "oa", "macro_f1" (over the classes present in the reference), "matrix" (rows = classified) and
        "labels".

    Raises
    ------
    ValueError
        If the shapes differ or no pixel is labelled in both.
    """
    matrix, codes = metrics.confusion_matrix(classified, reference, exclude_predicted=tuple(exclude_predicted))
    return {
        "oa": metrics.overall_accuracy(matrix),
        "macro_f1": metrics.macro_f1(matrix, reference_classes_only=True),
        "matrix": matrix,
        "labels": codes,
    }


def reference_protocols(scene: data.Scene | None = None, root: Path | None = None) -> tuple[xr.DataArray, dict[str, np.ndarray]]:
    """A test scene's image and its two references.

    Parameters
    ----------
    scene : data.Scene, optional
        The test scene (default: Strzegom 2023-07-09).
    root : Path, optional
        The data folder (default: `paths.data_dir()`).

    Returns
    -------
    image : xarray.DataArray
        The test image.
    references : dict of str to numpy.ndarray
        "test mask" (the GeoTIFF) and "reference polygons" (rasterised on the image's grid).

    Raises
    ------
    DataError
        If a file cannot be read.
    """
    root = root or paths.data_dir()
    scene = scene or data.test_scene("strzegom")
    image, mask = data.load_scene(scene, root)
    polygons = labels.rasterize_reference(root / scene.reference, like=image, field=scene.reference_field)
    return image, {"test mask": mask.values, "reference polygons": polygons.values}


def scores_on_test(classes, references: dict[str, np.ndarray]) -> pd.DataFrame:
    """OA and macro F1 of any class map (U-Net, Random Forest...) under each reference protocol, predicted 6 left
    out as the paper did.

    Parameters
    ----------
    classes : array_like
        The class map, on the references' grid.
    references : dict of str to numpy.ndarray
        As `reference_protocols` returns them.

    Returns
    -------
    pandas.DataFrame
        One row per protocol: OA, macro F1.
    """
    rows = {name: accuracy(np.asarray(classes), ref, PAPER_EXCLUDED) for name, ref in references.items()}
    return pd.DataFrame({name: {"OA": r["oa"], "macro F1": r["macro_f1"]} for name, r in rows.items()}).T


def test_reference(scene: data.Scene | None = None, kind: str = "polygons") -> xr.DataArray:
    """The test scene's reference on its image grid.

    "polygons" is the reference that reproduces the paper's Strzegom matrix (docs/design.md).

    Parameters
    ----------
    scene : data.Scene, optional
        The test scene (default: Strzegom 2023-07-09).
    kind : {"polygons", "mask"}
        The polygons rasterised (pixel centres), or the mask GeoTIFF.

    Returns
    -------
    xarray.DataArray
        Class codes (0 = unlabelled).

    Raises
    ------
    ValueError
        For another `kind`.
    DataError
        If a file cannot be read.
    """
    scene = scene or data.test_scene()
    _, mask = data.load_scene(scene)
    if kind == "mask":
        return mask
    if kind == "polygons":
        return labels.rasterize_reference(paths.data_dir() / scene.reference, like=mask, field=scene.reference_field)
    raise ValueError(f"reference kind {kind!r}: use 'polygons' or 'mask'")


def matrix_on_points(classified: xr.DataArray, points: pd.DataFrame):
    """Confusion matrix of a map on test points.

    Parameters
    ----------
    classified : xarray.DataArray
        The class map.
    points : pandas.DataFrame
        Points with x, y (in the map's CRS) or a geometry, and `label`.

    Returns
    -------
    matrix : numpy.ndarray
        Rows = classified, columns = reference.
    labels : list of int
        The class of each row and column.
    """
    return metrics.confusion_matrix(values_at_points(classified, points), points["label"].to_numpy())


def matrix_on_pixels(classified: xr.DataArray, reference: xr.DataArray):
    """Confusion matrix of a map on every labelled reference pixel.

    Parameters
    ----------
    classified, reference : xarray.DataArray
        Class maps on one grid.

    Returns
    -------
    matrix : numpy.ndarray
        Rows = classified, columns = reference.
    labels : list of int
        The class of each row and column.

    Raises
    ------
    GridMismatchError
        If the two are not on one grid.
    """
    rasters.check_aligned(classified, reference)
    return metrics.confusion_matrix(classified.values, reference.values)


def common_samples(maps: Mapping[str, xr.DataArray], on) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every map's classes on the samples where the reference and every map have a class, so that every map is
    scored on exactly the same samples (`common_pixels`).

    Parameters
    ----------
    maps : mapping of str to xarray.DataArray
        Class maps by name, on one grid.
    on : pandas.DataFrame or xarray.DataArray
        Test points (x, y, label) or a reference raster on the maps' grid.

    Returns
    -------
    predicted : dict of str to numpy.ndarray
        Each map's classes on the samples.
    reference : numpy.ndarray
        The reference classes.

    Raises
    ------
    GridMismatchError
        If a map is not on the reference raster's grid.
    """
    if isinstance(on, pd.DataFrame):
        predicted = {name: values_at_points(m, on) for name, m in maps.items()}
        reference = on["label"].to_numpy()
    else:
        for m in maps.values():
            rasters.check_aligned(m, on)
        predicted = {name: m.values.ravel() for name, m in maps.items()}
        reference = on.values.ravel()
    keep = common_pixels(reference, predicted)
    return {name: values[keep] for name, values in predicted.items()}, reference[keep]


def comparison_table(maps: Mapping[str, xr.DataArray], evaluations: Mapping[str, object], n_boot: int = 1000, seed: int = 0):
    """`compare_classifiers` on every evaluation set: OA and macro F1 with 95 % bootstrap intervals, and kappa.

    Within a set, every map is scored on the same samples (`common_samples`).

    Parameters
    ----------
    maps : mapping of str to xarray.DataArray
        Class maps by name, on one grid.
    evaluations : mapping of str to pandas.DataFrame or xarray.DataArray
        Evaluation sets by name: test points (x, y, label) or a reference raster on the maps' grid.
    n_boot : int, default 1000
        Bootstrap replicates.
    seed : int, default 0
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        Rows (evaluation set, map).
    """
    tables = {}
    for where, on in evaluations.items():
        predicted, reference = common_samples(maps, on)
        scores, _ = compare_classifiers(predicted, reference, n_boot=n_boot, seed=seed)
        tables[where] = scores.rename(columns={"pixels": "samples"})
    return pd.concat(tables, names=["evaluated on", "map"])


def mcnemar_table(maps: Mapping[str, xr.DataArray], baseline: str, evaluations: Mapping[str, object]) -> pd.DataFrame:
    """McNemar's test of one map against every other, on the same samples of each evaluation set.

    Parameters
    ----------
    maps : mapping of str to xarray.DataArray
        Class maps by name, on one grid.
    baseline : str
        The map the others are tested against.
    evaluations : mapping of str to pandas.DataFrame or xarray.DataArray
        Evaluation sets by name: test points (x, y, label) or a reference raster on the maps' grid.

    Returns
    -------
    pandas.DataFrame
        One row per evaluation set and pair: discordant counts, statistic, p, the test used.
    """
    rows = []
    for where, on in evaluations.items():
        predicted, reference = common_samples(maps, on)
        for name, values in predicted.items():
            if name == baseline:
                continue
            test = metrics.mcnemar(predicted[baseline], values, reference)
            rows.append(
                {"evaluated on": where, "pair": f"{baseline} vs {name}", f"only {baseline} right": test.only_first_correct,
                 "only other right": test.only_second_correct, "statistic": test.statistic, "p": test.p_value,
                 "test": test.method}
            )
    return pd.DataFrame(rows).set_index(["evaluated on", "pair"])


def paper_comparison(method: str, matrix, labels) -> pd.DataFrame:
    """Our per-class table beside the paper's for a GEE classifier.

    Parameters
    ----------
    method : str
        "cart", "rf" or "svm".
    matrix : array_like
        Our confusion matrix, rows = classified.
    labels : sequence of int
        Its classes.

    Returns
    -------
    pandas.DataFrame
        Columns (metric, "paper" | "this run"), rows the classes, Mean and Overall.

    Raises
    ------
    ValueError
        For a method the paper has no table for.
    """
    ours = metrics.accuracy_table(matrix, labels)
    published = paper_gee_table(method)
    index = list(dict.fromkeys([*published.index, *ours.index]))
    columns = pd.MultiIndex.from_product([published.columns, ["paper", "this run"]])
    table = pd.DataFrame(index=pd.Index(index, name="class", dtype=object), columns=columns, dtype=float)
    for metric in published.columns:
        table[(metric, "paper")] = published[metric].reindex(index)
        table[(metric, "this run")] = ours[metric].reindex(index) if metric in ours else np.nan
    return table


def oa_summary(matrices: Mapping[str, tuple]) -> pd.DataFrame:
    """OA and macro F1 per method on the test points, the paper's beside ours.

    Macro F1 "paper" is the paper's printed Mean row; "paper, mean of its class rows" recomputes it from the
    printed per-class F1, which differs for RF and SVM (see `paper_mean_rows`).

    Parameters
    ----------
    matrices : mapping of str to (matrix, labels)
        Our confusion matrix of each method ("cart", "rf", "svm").

    Returns
    -------
    pandas.DataFrame
        One row per method.
    """
    rows = {}
    for method, (matrix, labels) in matrices.items():
        published = paper_gee_table(method)
        classes = [k for k in published.index if isinstance(k, int)]
        rows[METHOD_NAMES[method]] = {
            ("OA", "paper"): PAPER_OA[method], ("OA", "this run"): metrics.overall_accuracy(matrix),
            ("macro F1", "paper"): published.loc["Mean", "F1"],
            ("macro F1", "paper, mean of its class rows"): published.loc[classes, "F1"].mean(),
            ("macro F1", "this run"): metrics.macro_f1(matrix, reference_classes_only=True),
        }
    return pd.DataFrame(rows).T


def headline_comparison(table: pd.DataFrame, points: str, pixels: str, unet: str = "U-Net") -> pd.DataFrame:
    """The paper's OA of the U-Net (all reference pixels) and of CART/RF/SVM (280 points) beside ours on both sets.

    The paper's numbers were measured on different samples; ours are on the same samples per column.

    Parameters
    ----------
    table : pandas.DataFrame
        From `comparison_table`.
    points, pixels : str
        The names of its two evaluation sets.
    unet : str, default "U-Net"
        The U-Net's map name in `table`.

    Returns
    -------
    pandas.DataFrame
        One row per classifier.
    """
    published = {unet: (paper.PAPER_UNET_TABLES["strzegom"]["Overall"][0], "all reference pixels")}
    published |= {METHOD_NAMES[m]: (PAPER_OA[m], "280 test points") for m in METHODS}
    rows = {
        name: {"paper measured on": sample, "paper": oa, "this run, " + points: table.loc[(points, name), "OA"],
               "this run, " + pixels: table.loc[(pixels, name), "OA"]}
        for name, (oa, sample) in published.items()
    }
    frame = pd.DataFrame(rows).T
    return frame.astype({column: float for column in frame.columns[1:]})


def paper_mean_rows() -> pd.DataFrame:
    """The paper's printed Mean PA/UA/F1 against the mean over its 9 class rows and the 9-row sum / 10.

    CART's Mean is the 9-class mean; RF's and SVM's equal the sum divided by 10, as if the absent class 6
    counted with PA = UA = F1 = 0, which lowers their macro averages by a tenth.

    Returns
    -------
    pandas.DataFrame
        One row per method and metric.
    """
    rows = []
    for method in METHODS:
        table = paper_gee_table(method)
        classes = [k for k in table.index if isinstance(k, int)]
        for metric in ("PA", "UA", "F1"):
            rows.append(
                {"method": METHOD_NAMES[method], "metric": metric, "printed Mean": table.loc["Mean", metric],
                 f"mean of {len(classes)} classes": table.loc[classes, metric].mean(),
                 "sum / 10": table.loc[classes, metric].sum() / 10}
            )
    return pd.DataFrame(rows).set_index(["method", "metric"]).round(4)


def paper_vs_ours(table: pd.DataFrame, printed: Mapping) -> pd.DataFrame:
    """Every number the paper prints beside ours.

    Parameters
    ----------
    table : pandas.DataFrame
        From `metrics.accuracy_table`.
    printed : mapping
        A row (class, "Mean"...) to its (ACC, TNR, PA, UA, F1) as printed (None where not printed).

    Returns
    -------
    pandas.DataFrame
        Long table indexed by (class, metric), columns paper, this run, difference.
    """
    rows = [
        {"class": row, "metric": metric, "paper": value, "this run": float(table.loc[row, metric])}
        for row, values in printed.items()
        for metric, value in zip(metrics.METRICS, values)
        if value is not None
    ]
    frame = pd.DataFrame(rows).set_index(["class", "metric"])
    frame["difference"] = (frame["this run"] - frame["paper"]).round(6)
    return frame


def common_pixels(reference, maps: Mapping[str, object]) -> np.ndarray:
    """The pixels labelled in the reference and in every map: a fair common test set.

    Parameters
    ----------
    reference : array_like
        Reference class codes.
    maps : mapping of str to array_like
        Class codes of each map, of the reference's shape.

    Returns
    -------
    numpy.ndarray
        Boolean mask, flat.

    Raises
    ------
    ValueError
        If a map's shape differs from the reference's, or a code is not a class code.
    """
    valid = metrics.as_codes(reference, "reference") != 0
    for name, values in maps.items():
        codes = metrics.as_codes(values, name)
        if codes.shape != valid.shape:
            raise ValueError(f"{name}: shape {codes.shape} differs from the reference's {valid.shape}")
        valid &= codes != 0
    return valid


def compare_classifiers(maps: Mapping[str, object], reference, n_boot: int = 1000, seed: int = 0):
    """Several maps scored on the same reference pixels.

    Parameters
    ----------
    maps : mapping of str to array_like
        Class codes of each map.
    reference : array_like
        Reference class codes, of the same shape.
    n_boot : int, default 1000
        Bootstrap replicates.
    seed : int, default 0
        Seed of the bootstrap.

    Returns
    -------
    scores : pandas.DataFrame
        One row per map: OA and macro F1 (over the reference's classes; a predicted class the reference lacks
        counts as error), each with a bootstrap 95% interval, kappa, and the pixels used.
    p_values : pandas.DataFrame
        McNemar p for every pair (symmetric, NaN on the diagonal).

    Raises
    ------
    ValueError
        As `common_pixels`.
    """
    valid = common_pixels(reference, maps)
    ref = metrics.as_codes(reference, "reference")[valid]
    flat = {name: metrics.as_codes(values, name)[valid] for name, values in maps.items()}
    labels = sorted(set(np.unique(ref).tolist()).union(*(np.unique(v).tolist() for v in flat.values())))
    rows = {}
    for name, pred in flat.items():
        matrix, _ = metrics.confusion_matrix(pred, ref, labels)
        ci = metrics.bootstrap_ci(matrix, labels, n_boot=n_boot, seed=seed, reference_classes_only=True)
        rows[name] = {
            "pixels": int(matrix.sum()),
            "OA": ci.loc["OA", "estimate"],
            "OA low": ci.loc["OA", "low"],
            "OA high": ci.loc["OA", "high"],
            "macro F1": ci.loc["macro F1", "estimate"],
            "macro F1 low": ci.loc["macro F1", "low"],
            "macro F1 high": ci.loc["macro F1", "high"],
            "kappa": metrics.kappa(matrix),
        }
    names = list(flat)
    p_values = pd.DataFrame(np.nan, index=names, columns=names)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            p = metrics.mcnemar(flat[first], flat[second], ref).p_value
            p_values.loc[first, second] = p_values.loc[second, first] = p
    return pd.DataFrame.from_dict(rows, orient="index"), p_values


def synthetic_imbalance(
    ratio: float, n_classes: int = 5, minority_pixels: int = 1000, majority_recall: float = 0.95, minority_recall: float = 0.7
) -> tuple[np.ndarray, list[int]]:
    """Expected pixel counts of a classifier whose per-class behaviour is fixed, at a given class imbalance.

    Class 1 has `ratio` times the pixels of each of the other classes. The classifier finds `majority_recall`
    of class 1 and spreads its misses evenly over the minority classes; it finds `minority_recall` of each
    minority class and labels the rest class 1. Only the class sizes change with `ratio`, so any metric that
    moves is reacting to imbalance, not to the classifier.

    Parameters
    ----------
    ratio : float
        Pixels of class 1 per pixel of each other class, at least 1.
    n_classes : int, default 5
        Number of classes, at least 2.
    minority_pixels : int, default 1000
        Pixels of each minority class.
    majority_recall, minority_recall : float
        The share of class 1 and of each minority class found.

    Returns
    -------
    matrix : numpy.ndarray
        Expected counts (float), rows = classified.
    labels : list of int
        1..n_classes.

    Raises
    ------
    ValueError
        If `ratio` < 1 or `n_classes` < 2.
    """
    if ratio < 1 or n_classes < 2:
        raise ValueError("ratio must be >= 1 and n_classes >= 2")
    sizes = np.array([ratio * minority_pixels] + [minority_pixels] * (n_classes - 1), dtype=np.float64)
    matrix = np.zeros((n_classes, n_classes))
    matrix[0, 0] = majority_recall * sizes[0]
    matrix[1:, 0] = (1 - majority_recall) * sizes[0] / (n_classes - 1)
    for j in range(1, n_classes):
        matrix[j, j] = minority_recall * sizes[j]
        matrix[0, j] = (1 - minority_recall) * sizes[j]
    return matrix, list(range(1, n_classes + 1))


def imbalance_summary(ratios: Iterable[float], **kwargs) -> pd.DataFrame:
    """The scores of `synthetic_imbalance` at each ratio.

    Parameters
    ----------
    ratios : iterable of float
        Imbalance ratios.
    **kwargs
        Passed to `synthetic_imbalance`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ratio: OA, mean ACC, mean PA, mean UA, macro F1.
    """
    rows = {}
    for ratio in ratios:
        matrix, labels = synthetic_imbalance(ratio, **kwargs)
        mean = metrics.accuracy_table(matrix, labels).loc["Mean"]
        rows[ratio] = {
            "OA": metrics.overall_accuracy(matrix),
            "mean ACC": mean["ACC"],
            "mean PA": mean["PA"],
            "mean UA": mean["UA"],
            "macro F1": mean["F1"],
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("imbalance ratio")


def readings_side_by_side(matrix, labels: Sequence[int], printed: Mapping | None = None) -> pd.DataFrame:
    """PA and UA per class in the paper's reading (rows read as reference) and the standard one.

    The paper's PA column is this run's UA.

    Parameters
    ----------
    matrix : array_like
        Confusion matrix, rows = classified.
    labels : sequence of int
        Its classes.
    printed : mapping, optional
        The paper's printed rows (as in PAPER_UNET_TABLES); default: the paper reading of `matrix`. A class the
        paper prints no row for (Strzegom's 6, kept when no prediction is excluded) gets NaN there.

    Returns
    -------
    pandas.DataFrame
        Columns (PA | UA, "paper" | "this run"), one row per class.
    """
    standard = metrics.per_class(matrix, labels, metrics.STANDARD)
    if printed is None:
        paper = metrics.per_class(matrix, labels, metrics.PAPER)
    else:
        missing = (np.nan,) * len(metrics.METRICS)
        paper = pd.DataFrame({m: [printed.get(c, missing)[metrics.METRICS.index(m)] for c in standard.index]
                              for m in ("PA", "UA")}, index=standard.index)
    readings = {"paper": paper, "this run": standard}
    return pd.DataFrame({(m, source): readings[source][m] for m in ("PA", "UA") for source in readings})
