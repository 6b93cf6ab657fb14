"""CART, Random Forest and a linear SVM with scikit-learn: the paper's GEE classifiers, run locally.

The local backend of notebook 04 (`classical.gee` is the Earth Engine one, with the same steps): stratified
point samples from class masks, the three classifiers trained on the 10 bands, and classification of a whole
scene into a GeoTIFF like the U-Net's (`PixelClassifier` streams a raster of any size through
`streaming.classify_raster`). Scoring the maps is `evaluation`'s; its confusion matrices have rows =
classified (map), columns = reference.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor used on every map)
import xarray as xr

from .. import data, errors, paths, rasters, sampling, scheme
from ..evaluation import test_reference
from ..paper import METHOD_NAMES, METHODS, PAPER_TEST_COUNTS

RF_TREES = 10  # the paper's smileRandomForest(10)


# ---------------------------------------------------------------- sampling


def band_values(image: xr.DataArray) -> np.ndarray:
    """The values the classifiers see: surface reflectance of the 10 bands, NaN for no data.

    Reflectance, not digital numbers: the 2022-2023 scenes carry ESA's +1000 L2A offset and the 2021 one does
    not, so raw numbers would give the same ground two different spectra across dates.

    Parameters
    ----------
    image : xarray.DataArray
        A 10-band image as stored (`rasters.open_image`).

    Returns
    -------
    numpy.ndarray
        float32 (band, y, x).

    Raises
    ------
    DataError
        If the image's date, and so its offset, is unknown.
    """
    return rasters.reflectance(image.sel(band=list(rasters.BANDS))).values


def sample_points(
    masks: xr.DataArray | Sequence[xr.DataArray],
    counts: int | Mapping[int, int],
    seed: int = 42,
    images: Sequence[xr.DataArray | None] | None = None,
) -> pd.DataFrame:
    """Stratified random points from one or several class masks (pixels pooled over all masks).

    A class with fewer labelled pixels than asked gives all of them, recorded in ``attrs["shortfall"]`` as
    {class: (asked, got)}.

    Parameters
    ----------
    masks : xarray.DataArray or sequence of xarray.DataArray
        Class masks (0 = unlabelled).
    counts : int or mapping of int to int
        Points per class: an int for every class present, or {class: n}.
    seed : int, default 42
        Seed of the draw.
    images : sequence of xarray.DataArray or None, optional
        One image per mask, on its grid: the points then carry the reflectance of B02..B12, and only pixels with
        data in every band are drawn.

    Returns
    -------
    pandas.DataFrame
        Columns source (mask name), row, col, x, y (pixel centre, the mask's CRS), label, and the bands when
        `images` are given.
    """
    masks = [masks] if isinstance(masks, xr.DataArray) else list(masks)
    if images is not None and len(images) != len(masks):
        raise ValueError(f"{len(images)} images for {len(masks)} masks")
    usable = [m.values != scheme.NODATA for m in masks]
    if images is not None:
        usable = [u & rasters.valid_pixels(band_values(image)) for u, image in zip(usable, images)]
    flat = [np.flatnonzero(u) for u in usable]
    which = np.concatenate([np.full(idx.size, i) for i, idx in enumerate(flat)])
    labels = np.concatenate([m.values.ravel()[idx] for m, idx in zip(masks, flat)]).astype(np.int64)
    flat = np.concatenate(flat)
    wanted = {int(c): counts for c in np.unique(labels)} if isinstance(counts, int) else dict(counts)
    pick, shortfall = sampling.draw_per_class(labels, dict(sorted(wanted.items())), np.random.default_rng(seed), partial=True)
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
        rasters.check_aligned(image, mask)
        frame[list(rasters.BANDS)] = band_values(image)[:, rows, cols].T
    return frame


def training_points(
    per_class: int | Mapping[int, int] = 500, seed: int = 42, region: str = "strzegom", dates: Sequence[str] | None = None
) -> pd.DataFrame:
    """Points with band values from a region's training masks and images (the U-Net's training scenes).

    Parameters
    ----------
    per_class : int or mapping of int to int, default 500
        Points per class, as `counts` of `sample_points`.
    seed : int, default 42
        Seed of the draw.
    region : str, default "strzegom"
        The region.
    dates : sequence of str, optional
        Keep only these scenes (e.g. ["20220619", "20220719"]); default: all of them.

    Returns
    -------
    pandas.DataFrame
        As `sample_points`; scenes whose image is not available are skipped and listed in ``attrs["skipped"]``.

    Raises
    ------
    DataError
        If no training scene matches, or a file cannot be read.
    """
    chosen = [s for s in data.scenes("train", region) if dates is None or s.date in dates]
    if not chosen:
        raise errors.DataError(f"no {region} training scene for dates {list(dates or [])}")
    pairs = [(scene, *data.load_scene(scene)) for scene in chosen]
    usable = [(image, mask) for _, image, mask in pairs if image is not None]
    if not usable:
        raise errors.DataError(f"no training image for region {region!r} under {paths.data_dir()} (run `lulc fetch`)")
    images, masks = zip(*usable)
    points = sample_points(list(masks), per_class, seed, images=list(images))
    points.attrs["skipped"] = [scene.name for scene, image, _ in pairs if image is None]
    return points


def test_points(counts: int | Mapping[int, int] = PAPER_TEST_COUNTS, seed: int = 42, kind: str = "polygons") -> pd.DataFrame:
    """Stratified test points from the Strzegom 2023-07-09 reference, on pixels where the test image has data in
    every band, so that every classifier can be scored on each point.

    Parameters
    ----------
    counts : int or mapping of int to int
        Points per class: an int for every class present, or {class: n}.
        Default: the paper's 280-point design.
    seed : int, default 42
        Seed of the draw.
    kind : {"polygons", "mask"}
        The reference (`evaluation.test_reference`).

    Returns
    -------
    pandas.DataFrame
        As `sample_points`, with the bands.
    """
    image, _ = data.load_scene(data.test_scene())
    return sample_points(test_reference(kind=kind), counts, seed, images=None if image is None else [image])


# ---------------------------------------------------------------- classifiers


def make_classifier(method: str, seed: int = 42):
    """An unfitted scikit-learn model, as the paper configured it in Earth Engine.

    The SVM standardises the bands first, as libsvm converges slowly on features of unequal spread.

    Parameters
    ----------
    method : str
        "cart", "rf" (Random Forest, 10 trees) or "svm" (linear-kernel C-SVM).
    seed : int, default 42
        The model's random state.

    Returns
    -------
    sklearn.base.BaseEstimator
        The model.

    Raises
    ------
    ValueError
        For another method.
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
    """The band columns of points as a feature matrix.

    Parameters
    ----------
    points : pandas.DataFrame
        Points with the columns B02..B12.

    Returns
    -------
    numpy.ndarray
        float32 (points, 10).

    Raises
    ------
    ValueError
        If band columns are missing.
    """
    missing = [b for b in rasters.BANDS if b not in points.columns]
    if missing:
        raise ValueError(f"points lack the band columns {missing}; sample them with images")
    return points[list(rasters.BANDS)].to_numpy(dtype=np.float32)


@dataclass
class Trained:
    """A fitted classical model.

    Attributes
    ----------
    method : str
        "cart", "rf" or "svm".
    model : sklearn.base.BaseEstimator
        The fitted model.
    fit_s : float
        Seconds the fit took.
    """

    method: str
    model: object
    fit_s: float


def fit(method: str, points: pd.DataFrame, seed: int = 42) -> Trained:
    """Fit a classical model on points.

    Parameters
    ----------
    method : str
        "cart", "rf" or "svm".
    points : pandas.DataFrame
        Points with the bands and `label` (`training_points`).
    seed : int, default 42
        The model's random state.

    Returns
    -------
    Trained
        The fitted model and the time it took.

    Raises
    ------
    ValueError
        For another method, or points without band columns.
    """
    model = make_classifier(method, seed)
    start = time.perf_counter()
    model.fit(features(points), points["label"].to_numpy())
    return Trained(method, model, time.perf_counter() - start)


def classify_values(trained: Trained, values: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Classify reflectance values, `chunk` pixels at a time so that the classifier's working memory stays small.

    Parameters
    ----------
    trained : Trained
        A fitted model (`fit`).
    values : numpy.ndarray
        Reflectance (band, y, x) in the 10 bands.
    chunk : int, default 65536
        Pixels per prediction call.

    Returns
    -------
    numpy.ndarray
        uint8 codes (y, x), 0 where a band has no data (NaN).
    """
    pixels = values.reshape(len(rasters.BANDS), -1).T
    valid = ~np.isnan(pixels).any(axis=1)
    pixels = pixels[valid]
    labels = np.zeros(valid.size, dtype=np.uint8)
    if len(pixels):
        labels[valid] = np.concatenate([trained.model.predict(pixels[i : i + chunk]) for i in range(0, len(pixels), chunk)])
    return labels.reshape(values.shape[1:])


def classify_image(trained: Trained, image: xr.DataArray) -> xr.DataArray:
    """Classify every pixel of an image with data in all bands, from its reflectance as in training.

    A raster of any size: `streaming.classify_raster` with a `PixelClassifier`.

    Parameters
    ----------
    trained : Trained
        A fitted model (`fit`).
    image : xarray.DataArray
        A 10-band image as stored.

    Returns
    -------
    xarray.DataArray
        uint8 codes (y, x) on the image grid, 0 elsewhere; ``attrs["predict_s"]`` holds the prediction time.
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


def run(
    points: pd.DataFrame, methods: Sequence[str] = METHODS, seed: int = 42, write: bool = True
) -> dict[str, xr.DataArray]:
    """Train each method on points and classify the Strzegom 2023-07-09 test image.

    Parameters
    ----------
    points : pandas.DataFrame
        Training points with the bands (`training_points`).
    methods : sequence of str
        Default: CART, Random Forest and SVM.
    seed : int, default 42
        The models' random state.
    write : bool, default True
        Also write each map to `data.prediction_path(method)` (runs/predictions/METHOD_strzegom_20230709.tif).

    Returns
    -------
    dict of str to xarray.DataArray
        {method: classified map}, fit and predict times in its attrs.

    Raises
    ------
    DataError
        If the test image is missing.
    OutputError
        If a map cannot be written.
    """
    scene = data.test_scene()
    image, _ = data.load_scene(scene)
    if image is None:
        raise errors.DataError(f"{paths.data_dir() / scene.image}: the test image is missing (run `lulc fetch`)")
    maps = {}
    for method in methods:
        maps[method] = classify_image(fit(method, points, seed), image)
        maps[method].attrs["training_points"] = len(points)
        if write:
            maps[method].attrs["path"] = str(rasters.write_class_map(maps[method], data.prediction_path(method, scene), f"class ({method})"))
    return maps


def timing_table(maps: Mapping[str, xr.DataArray]) -> pd.DataFrame:
    """Fit and predict seconds per method, and the prediction speed.

    Parameters
    ----------
    maps : mapping of str to xarray.DataArray
        As `run` returns them.

    Returns
    -------
    pandas.DataFrame
        One row per method: training points, fit (s), predict (s), pixels per second.
    """
    rows = {
        METHOD_NAMES.get(method, method): {
            "training points": m.attrs["training_points"], "fit (s)": m.attrs["fit_s"], "predict (s)": m.attrs["predict_s"],
            "pixels per second": m.size / max(m.attrs["predict_s"], 1e-9),
        }
        for method, m in maps.items()
    }
    return pd.DataFrame(rows).T


def point_count_table(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Points per class: training (this run), test (the paper's, recovered from its tables) and test (this run).

    Parameters
    ----------
    train, test : pandas.DataFrame
        Training and test points with `label`.

    Returns
    -------
    pandas.DataFrame
        One row per class ("code name") and a Total row.
    """
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


# ---------------------------------------------------------------- the paper's numbers


@dataclass
class PixelClassifier:
    """A fitted scikit-learn classifier (`fit`) that classifies each pixel alone: a block reads itself."""

    trained: Trained
    offset: int | None = None

    def reads(self, rows: tuple[int, int], cols: tuple[int, int], height: int, width: int):
        return rows, cols

    def classify(self, image: xr.DataArray) -> np.ndarray:
        return classify_values(self.trained, rasters.reflectance(image, self.offset).values)
