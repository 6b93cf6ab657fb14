"""CART, Random Forest and a linear SVM with scikit-learn: the paper's GEE classifiers, run locally.

The local backend of notebook 04 (`gee.py` is the Earth Engine one, with the same steps):
stratified point samples from class masks, the three classifiers trained on the 10 bands,
classification of a whole scene into a GeoTIFF like the U-Net's, and evaluation on test points
and on every reference pixel through `lulc_helpers.metrics`. Confusion matrices follow the
package's orientation: rows = classified (map), columns = reference.
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor used on every map)
import xarray as xr

from . import data, metrics, outputs, runtime, scheme

METHODS: tuple[str, ...] = ("cart", "rf", "svm")
METHOD_NAMES = {"cart": "CART", "rf": "Random Forest", "svm": "SVM (linear)"}
RF_TREES = 10  # the paper's smileRandomForest(10)

# The paper's 280 GEE test points per reference class (Strzegom 20230709). Not printed in the paper:
# recovered from its CART/RF/SVM tables, where PA x count is a whole number for every classifier
# and the TNR column agrees (tests/test_classical.py checks both).
PAPER_TEST_COUNTS: dict[int, int] = {1: 10, 2: 35, 3: 70, 4: 70, 5: 5, 7: 20, 8: 20, 9: 30, 10: 20}


# ---------------------------------------------------------------- sampling


def band_values(image: xr.DataArray) -> np.ndarray:
    """(band, y, x) float32 surface reflectance of the 10 bands, NaN for no data (`data.reflectance`).

    Reflectance, not digital numbers: the 2022-2023 scenes carry ESA's +1000 L2A offset and the 2021
    one does not, so raw numbers would give the same ground two different spectra across dates.
    """
    return data.reflectance(image.sel(band=list(data.BANDS))).values


def valid_pixels(image: xr.DataArray) -> np.ndarray:
    """(y, x) bool: pixels with a value in every band (the images lack some bands along their edges)."""
    return ~np.isnan(band_values(image)).any(axis=0)


def sample_points(
    masks: xr.DataArray | Sequence[xr.DataArray],
    counts: int | Mapping[int, int],
    seed: int = 42,
    images: Sequence[xr.DataArray | None] | None = None,
) -> pd.DataFrame:
    """Stratified random points from one or several class masks (pixels pooled over all masks).

    `counts` is points per class (an int for every class present, or {class: n}); a class with
    fewer labelled pixels gives all of them, recorded in `attrs["shortfall"]` as {class: (asked, got)}.
    Columns: source (mask name), row, col, x, y (pixel centre, the mask's CRS), label, and the
    reflectance of B02..B12 when `images` (one per mask, on its grid) are given; then only pixels
    with data in every band (`valid_pixels`) are drawn.
    """
    masks = [masks] if isinstance(masks, xr.DataArray) else list(masks)
    if images is not None and len(images) != len(masks):
        raise ValueError(f"{len(images)} images for {len(masks)} masks")
    usable = [m.values != scheme.NODATA for m in masks]
    if images is not None:
        usable = [u & valid_pixels(image) for u, image in zip(usable, images)]
    flat = [np.flatnonzero(u) for u in usable]
    which = np.concatenate([np.full(idx.size, i) for i, idx in enumerate(flat)])
    labels = np.concatenate([m.values.ravel()[idx] for m, idx in zip(masks, flat)]).astype(np.int64)
    flat = np.concatenate(flat)
    wanted = {int(c): counts for c in np.unique(labels)} if isinstance(counts, int) else dict(counts)
    rng = np.random.default_rng(seed)
    chosen, shortfall = [], {}
    for code, n in sorted(wanted.items()):
        pool = np.flatnonzero(labels == code)
        if pool.size < n:
            shortfall[code] = (n, int(pool.size))
        chosen.append(np.sort(rng.choice(pool, size=min(n, pool.size), replace=False)))
    pick = np.concatenate(chosen) if chosen else np.array([], dtype=np.int64)
    frame = pd.concat(
        [_points_of(masks[i], flat[pick[which[pick] == i]], images[i] if images else None) for i in range(len(masks))],
        ignore_index=True,
    )
    frame = frame.sort_values(["label", "source", "row", "col"], ignore_index=True)
    frame.attrs["shortfall"] = shortfall
    frame.attrs["crs"] = str(masks[0].rio.crs)
    return frame


def _points_of(mask: xr.DataArray, flat: np.ndarray, image: xr.DataArray | None) -> pd.DataFrame:
    rows, cols = np.unravel_index(flat, mask.shape)
    frame = pd.DataFrame(
        {
            "source": str(mask.name),
            "row": rows,
            "col": cols,
            "x": mask["x"].values[cols],
            "y": mask["y"].values[rows],
            "label": mask.values[rows, cols].astype(np.uint8),
        }
    )
    if image is not None:
        data.check_aligned(image, mask)
        frame[list(data.BANDS)] = band_values(image)[:, rows, cols].T
    return frame


def training_points(
    per_class: int | Mapping[int, int] = 500, seed: int = 42, region: str = "strzegom", dates: Sequence[str] | None = None
) -> pd.DataFrame:
    """Points with band values from the region's training masks and images (the U-Net's training scenes).

    `dates` (e.g. ["20220619", "20220719"]) keeps only those scenes; default: all of them.
    Scenes whose image is not available are skipped and listed in `attrs["skipped"]`.
    """
    chosen = [s for s in data.scenes("train", region) if dates is None or s.date in dates]
    if not chosen:
        raise data.DataError(f"no {region} training scene for dates {list(dates or [])}")
    pairs = [(scene, *data.load_scene(scene)) for scene in chosen]
    usable = [(image, mask) for _, image, mask in pairs if image is not None]
    if not usable:
        raise data.DataError(f"no training image for region {region!r} under {data.data_dir()} (run `lulc fetch`)")
    images, masks = zip(*usable)
    points = sample_points(list(masks), per_class, seed, images=list(images))
    points.attrs["skipped"] = [scene.name for scene, image, _ in pairs if image is None]
    return points


def test_reference(scene: data.Scene | None = None, kind: str = "polygons") -> xr.DataArray:
    """The test scene's reference on its image grid: the polygons rasterised (pixel centres), or the mask GeoTIFF.

    "polygons" is the reference that reproduces the paper's Strzegom matrix (DESIGN.md).
    """
    scene = scene or data.test_scene()
    _, mask = data.load_scene(scene)
    if kind == "mask":
        return mask
    if kind == "polygons":
        return data.rasterize_reference(data.data_dir() / scene.reference, like=mask, field=scene.reference_field)
    raise ValueError(f"reference kind {kind!r}: use 'polygons' or 'mask'")


def test_points(counts: int | Mapping[int, int] = PAPER_TEST_COUNTS, seed: int = 42, kind: str = "polygons") -> pd.DataFrame:
    """Stratified test points from the Strzegom 20230709 reference (default: the paper's 280-point design),
    on pixels where the test image has data in every band, so every classifier can be scored on each point."""
    image, _ = data.load_scene(data.test_scene())
    return sample_points(test_reference(kind=kind), counts, seed, images=None if image is None else [image])


# ---------------------------------------------------------------- classifiers


def make_classifier(method: str, seed: int = 42):
    """An unfitted scikit-learn model: CART, Random Forest with 10 trees, or a linear-kernel C-SVM.

    The SVM standardises the bands first, as libsvm converges slowly on features of unequal spread.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    builders = {
        "cart": lambda: DecisionTreeClassifier(random_state=seed),
        "rf": lambda: RandomForestClassifier(n_estimators=RF_TREES, random_state=seed, n_jobs=1),
        "svm": lambda: make_pipeline(StandardScaler(), SVC(kernel="linear", C=1.0, random_state=seed)),
    }
    if method not in builders:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    return builders[method]()


def features(points: pd.DataFrame) -> np.ndarray:
    missing = [b for b in data.BANDS if b not in points.columns]
    if missing:
        raise ValueError(f"points lack the band columns {missing}; sample them with images")
    return points[list(data.BANDS)].to_numpy(dtype=np.float32)


@dataclass
class Trained:
    method: str
    model: object
    fit_s: float


def fit(method: str, points: pd.DataFrame, seed: int = 42) -> Trained:
    model = make_classifier(method, seed)
    start = time.perf_counter()
    model.fit(features(points), points["label"].to_numpy())
    return Trained(method, model, time.perf_counter() - start)


def classify_values(trained: Trained, values: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """uint8 codes (y, x) of reflectance (band, y, x) in the 10 bands, 0 where a band has no data (NaN);
    `chunk` pixels at a time, so that the classifier's working memory stays small."""
    pixels = values.reshape(len(data.BANDS), -1).T
    valid = ~np.isnan(pixels).any(axis=1)
    pixels = pixels[valid]
    labels = np.zeros(valid.size, dtype=np.uint8)
    if len(pixels):
        labels[valid] = np.concatenate([trained.model.predict(pixels[i : i + chunk]) for i in range(0, len(pixels), chunk)])
    return labels.reshape(values.shape[1:])


def classify_image(trained: Trained, image: xr.DataArray) -> xr.DataArray:
    """Classify every pixel with data in all bands (its reflectance, as in training): uint8 (y, x) on the
    image grid, 0 elsewhere. `attrs["predict_s"]` holds the prediction time.
    A raster of any size: `inference.classify_raster` with an `inference.PixelClassifier`.
    """
    values = band_values(image)
    start = time.perf_counter()
    labels = classify_values(trained, values)
    elapsed = time.perf_counter() - start
    grid = image.isel(band=0, drop=True)
    classified = grid.copy(data=labels)
    classified.attrs = {"method": trained.method, "predict_s": elapsed, "fit_s": trained.fit_s}
    classified.name = trained.method
    classified.rio.write_crs(image.rio.crs, inplace=True)
    classified.rio.write_nodata(scheme.NODATA, inplace=True)
    return classified


def write_classification(classified: xr.DataArray, path: str | os.PathLike) -> Path:
    """A one-band uint8 GeoTIFF with nodata 0 and the scheme's colour table, written atomically and verified."""
    return outputs.write_class_map(classified, path, f"class ({classified.attrs.get('method', 'classification')})")


def predictions_dir() -> Path:
    """predictions/ under `runtime.runs_dir()` (runs/ at the project root): where notebooks write and read maps."""
    return runtime.runs_dir() / "predictions"


def prediction_path(method: str, scene: data.Scene | None = None) -> Path:
    scene = scene or data.test_scene()
    return predictions_dir() / f"{method}_{scene.name}.tif"


PUBLISHED_UNET = "the paper's published U-Net map"
OWN_UNET = "the U-Net map notebook 03 wrote on this machine"


def unet_prediction_path(scene: data.Scene | None = None, report: bool = True) -> Path:
    """The U-Net map notebook 03 wrote (runs/predictions/) when it exists, else the paper's published U-Net raster.

    Prints which of the two it returns unless `report` is False; `unet_map_source` names it for a sentence.
    """
    scene = scene or data.test_scene()
    ours = prediction_path("unet", scene)
    path = ours if ours.is_file() else data.data_dir() / scene.published_prediction
    if report:
        advice = "" if path == ours else " (run notebook 03 in full mode to use your own)"
        print(f"U-Net map: {unet_map_source(path, scene)}, {path}{advice}")
    return path


def unet_map_source(path: str | os.PathLike, scene: data.Scene | None = None) -> str:
    """PUBLISHED_UNET when `path` is the scene's published U-Net raster, else OWN_UNET."""
    scene = scene or data.test_scene()
    return PUBLISHED_UNET if Path(path).name == Path(scene.published_prediction).name else OWN_UNET


def open_classification(path: str | os.PathLike, name: str | None = None) -> xr.DataArray:
    classified = data.open_mask(path)
    classified.name = name or classified.name
    return classified


def run(
    points: pd.DataFrame, methods: Sequence[str] = METHODS, seed: int = 42, write: bool = True
) -> dict[str, xr.DataArray]:
    """Train each method on `points` (from `training_points`) and classify the Strzegom 20230709 test image.

    Returns {method: classified map} with fit and predict times in its attrs; with `write`, each
    map also goes to `prediction_path(method)` (runs/predictions/METHOD_strzegom_20230709.tif).
    """
    scene = data.test_scene()
    image, _ = data.load_scene(scene)
    if image is None:
        raise data.DataError(f"{data.data_dir() / scene.image}: the test image is missing (run `lulc fetch`)")
    maps = {}
    for method in methods:
        maps[method] = classify_image(fit(method, points, seed), image)
        maps[method].attrs["training_points"] = len(points)
        if write:
            maps[method].attrs["path"] = str(write_classification(maps[method], prediction_path(method, scene)))
    return maps


def timing_table(maps: Mapping[str, xr.DataArray]) -> pd.DataFrame:
    """Fit and predict seconds per method (from `run`), and the prediction speed."""
    rows = {
        METHOD_NAMES.get(method, method): {
            "training points": m.attrs["training_points"], "fit (s)": m.attrs["fit_s"], "predict (s)": m.attrs["predict_s"],
            "pixels per second": m.size / max(m.attrs["predict_s"], 1e-9),
        }
        for method, m in maps.items()
    }
    return pd.DataFrame(rows).T


def point_count_table(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Points per class: training (this run), test (paper, recovered from its tables) and test (this run)."""
    table = pd.DataFrame(
        {
            "training points": train["label"].value_counts(),
            "test points, paper": pd.Series(PAPER_TEST_COUNTS),
            "test points, this run": test["label"].value_counts(),
        }
    ).sort_index().fillna(0).astype(int)
    table.index = [f"{k} {scheme.get(k).name}" for k in table.index]
    table.loc["Total"] = table.sum()
    return table


# ---------------------------------------------------------------- evaluation


def values_at_points(classified: xr.DataArray, points: pd.DataFrame) -> np.ndarray:
    """The map's codes at the points' x, y (same CRS); 0 for points outside the map."""
    inverse = ~classified.rio.transform()
    cols, rows = inverse * (points["x"].to_numpy(), points["y"].to_numpy())
    rows, cols = np.floor(rows).astype(int), np.floor(cols).astype(int)
    inside = (rows >= 0) & (rows < classified.rio.height) & (cols >= 0) & (cols < classified.rio.width)
    values = np.zeros(len(points), dtype=np.uint8)
    values[inside] = classified.values[rows[inside], cols[inside]]
    return values


def matrix_on_points(classified: xr.DataArray, points: pd.DataFrame):
    """(matrix, labels) on the test points; rows = classified, columns = reference."""
    return metrics.confusion_matrix(values_at_points(classified, points), points["label"].to_numpy())


def matrix_on_pixels(classified: xr.DataArray, reference: xr.DataArray):
    """(matrix, labels) on every labelled reference pixel; rows = classified, columns = reference."""
    data.check_aligned(classified, reference)
    return metrics.confusion_matrix(classified.values, reference.values)


def common_samples(maps: Mapping[str, xr.DataArray], on) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """({name: classified}, reference) on the samples where the reference and every map have a class.

    `on` is test points (a DataFrame with x, y, label) or a reference raster on the maps' grid, so
    that every map is scored on exactly the same samples (`metrics.common_pixels`).
    """
    if isinstance(on, pd.DataFrame):
        predicted = {name: values_at_points(m, on) for name, m in maps.items()}
        reference = on["label"].to_numpy()
    else:
        for m in maps.values():
            data.check_aligned(m, on)
        predicted = {name: m.values.ravel() for name, m in maps.items()}
        reference = on.values.ravel()
    keep = metrics.common_pixels(reference, predicted)
    return {name: values[keep] for name, values in predicted.items()}, reference[keep]


def comparison_table(maps: Mapping[str, xr.DataArray], evaluations: Mapping[str, object], n_boot: int = 1000, seed: int = 0):
    """`metrics.compare_classifiers` on every evaluation set: OA and macro F1 with 95 % bootstrap intervals, kappa.

    `evaluations` maps a name to test points (DataFrame) or a reference raster; within a set,
    every map is scored on the same samples (`common_samples`). Rows: (evaluation, map).
    """
    tables = {}
    for where, on in evaluations.items():
        predicted, reference = common_samples(maps, on)
        scores, _ = metrics.compare_classifiers(predicted, reference, n_boot=n_boot, seed=seed)
        tables[where] = scores.rename(columns={"pixels": "samples"})
    return pd.concat(tables, names=["evaluated on", "map"])


def mcnemar_table(maps: Mapping[str, xr.DataArray], baseline: str, evaluations: Mapping[str, object]) -> pd.DataFrame:
    """McNemar's test of `baseline` against every other map, on the same samples of each evaluation set."""
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


# ---------------------------------------------------------------- the paper's numbers

PAPER_OA = {"cart": 0.7679, "rf": 0.8000, "svm": 0.7857}  # Section 3.2, on the 280 test points


def paper_gee_table(method: str) -> pd.DataFrame:
    """The paper's per-class table for a GEE classifier (ACC TNR PA UA F1; rows 1..10 as printed, Mean, Overall)."""
    text = resources.files(__package__).joinpath("paper_gee_tables.tsv").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    rows = [r for r in csv.DictReader(lines, delimiter="\t") if r["method"] == method]
    if not rows:
        raise ValueError(f"no paper table for {method!r}: choose one of {', '.join(METHODS)}")
    index = [int(r["class"]) if r["class"].isdigit() else r["class"] for r in rows]
    columns = ["ACC", "TNR", "PA", "UA", "F1"]
    values = [[float(r[c]) if r[c] else np.nan for c in columns] for r in rows]
    return pd.DataFrame(values, index=pd.Index(index, name="class", dtype=object), columns=columns)


def paper_comparison(method: str, matrix, labels) -> pd.DataFrame:
    """Our per-class table (rows = classified matrix) beside the paper's: columns (metric, paper | this run)."""
    ours = metrics.accuracy_table(matrix, labels)
    paper = paper_gee_table(method)
    index = list(dict.fromkeys([*paper.index, *ours.index]))
    columns = pd.MultiIndex.from_product([paper.columns, ["paper", "this run"]])
    table = pd.DataFrame(index=pd.Index(index, name="class", dtype=object), columns=columns, dtype=float)
    for metric in paper.columns:
        table[(metric, "paper")] = paper[metric].reindex(index)
        table[(metric, "this run")] = ours[metric].reindex(index) if metric in ours else np.nan
    return table


def oa_summary(matrices: Mapping[str, tuple]) -> pd.DataFrame:
    """OA and macro F1 per method on the test points, the paper's beside ours ({method: (matrix, labels)}).

    Macro F1 `paper` is the paper's printed Mean row; `paper, mean of its class rows` recomputes it from the
    printed per-class F1, which differs for RF and SVM (see `paper_mean_rows`).
    """
    rows = {}
    for method, (matrix, labels) in matrices.items():
        paper = paper_gee_table(method)
        classes = [k for k in paper.index if isinstance(k, int)]
        rows[METHOD_NAMES[method]] = {
            ("OA", "paper"): PAPER_OA[method], ("OA", "this run"): metrics.overall_accuracy(matrix),
            ("macro F1", "paper"): paper.loc["Mean", "F1"],
            ("macro F1", "paper, mean of its class rows"): paper.loc[classes, "F1"].mean(),
            ("macro F1", "this run"): metrics.macro_f1(matrix, reference_classes_only=True),
        }
    return pd.DataFrame(rows).T


def headline_comparison(table: pd.DataFrame, points: str, pixels: str, unet: str = "U-Net") -> pd.DataFrame:
    """The paper's OA of the U-Net (all reference pixels) and of CART/RF/SVM (280 points) beside ours on both sets.

    `table` comes from `comparison_table`; `points` and `pixels` name its two evaluation sets.
    The paper's numbers were measured on different samples; ours are on the same samples per column.
    """
    paper = {unet: (metrics.PAPER_UNET_TABLES["strzegom"]["Overall"][0], "all reference pixels")}
    paper |= {METHOD_NAMES[m]: (PAPER_OA[m], "280 test points") for m in METHODS}
    rows = {
        name: {"paper measured on": sample, "paper": oa, "this run, " + points: table.loc[(points, name), "OA"],
               "this run, " + pixels: table.loc[(pixels, name), "OA"]}
        for name, (oa, sample) in paper.items()
    }
    frame = pd.DataFrame(rows).T
    return frame.astype({column: float for column in frame.columns[1:]})


def paper_mean_rows() -> pd.DataFrame:
    """The paper's printed Mean PA/UA/F1 against the mean over its 9 class rows and the 9-row sum / 10.

    CART's Mean is the 9-class mean; RF's and SVM's equal the sum divided by 10, as if the absent
    class 6 counted with PA = UA = F1 = 0, which lowers their macro averages by a tenth.
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
