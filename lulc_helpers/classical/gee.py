"""The paper's Google Earth Engine workflow: CART, Random Forest (10 trees) and a linear SVM on Sentinel-2 L2A.

The Earth Engine backend of notebook 04, with the steps of `local.py` (the local backend):
`initialize`, `scene`, training points (the paper's assets or points from the local sampler),
`make_classifier`, `fit`, `classify_image`, `matrix_on_points` (errorMatrix handed to
`lulc_helpers.metrics`), `export_classified` / `download_classified`; and any area of your own:
`read_region`, `classify_region`, `export_region` (a region far larger than a download, exported by a task).

Earth Engine's `errorMatrix` has rows = reference (actual) and columns = classified; this package
uses rows = classified, columns = reference, so `reference_rows_to_classified_rows` transposes.
Every function except `initialize` builds a lazy graph; nothing runs on the server until a
result is requested (`getInfo`, an export, a map layer).
"""

from __future__ import annotations

import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from .. import data, errors, paper, rasters, scheme
from . import local

COLLECTION = "COPERNICUS/S2_SR_HARMONIZED"
# Our files name the bands B02..B12, Earth Engine B2..B12: the one mapping between them.
EE_BANDS: dict[str, str] = {band: "B" + band[1:].lstrip("0") for band in rasters.BANDS}
PAPER_ASSETS = {
    "train": "projects/urban-atlas-benchmark/assets/train_points_labels",
    "test": "projects/urban-atlas-benchmark/assets/test_points_labels",
}
PAPER_DATE = "2023-07-09"
PROJECT_ENV = "EE_PROJECT_ID"  # the variable geemap also reads
LABEL = "label"  # the point property holding the class code
CLASS_BAND = "classification"  # the band `Image.classify` writes
SCALE = 10
INSTALL_HINT = 'pip install "earthengine-api==1.7.50"'


def _ee():
    try:
        import ee
    except ImportError:
        raise errors.GEEUnavailable(f"earthengine-api is not installed ({INSTALL_HINT})") from None
    return ee


LOCAL_FALLBACK = "Running the classifiers locally with scikit-learn instead."


def connect(project: str | None = None) -> str:
    """Connect to Earth Engine with stored credentials. Never prompts.

    Parameters
    ----------
    project : str, optional
        The Google Cloud project (default: $EE_PROJECT_ID).

    Returns
    -------
    str
        The project connected to.

    Raises
    ------
    GEEUnavailable
        With the whole reason on one line: no project, no credentials, earthengine-api missing, or the server's
        refusal.
    """
    project = project or os.environ.get(PROJECT_ENV) or None
    ee = _ee()
    if project is None:
        raise errors.GEEUnavailable(f"no Earth Engine project: pass project=... or set ${PROJECT_ENV}")
    try:
        ee.Initialize(project=project)
    except Exception as err:  # ee, google-auth and HTTP errors alike mean "not available here"
        reason = " ".join(str(err).split()) or type(err).__name__  # its several lines, joined: never cut mid-sentence
        raise errors.GEEUnavailable(f"Earth Engine is not available ({reason.rstrip('.')})") from None
    return project


def initialize(project: str | None = None, verbose: bool = True, fallback: str = LOCAL_FALLBACK) -> bool:
    """Connect to Earth Engine with stored credentials, or say in one line why not. Never prompts: run
    `earthengine authenticate` (or `ee.Authenticate()` in Colab) once beforehand.

    Parameters
    ----------
    project : str, optional
        The Google Cloud project (default: $EE_PROJECT_ID).
    verbose : bool, default True
        Print the line on failure.
    fallback : str
        Ends that line: what the caller does instead (default: classifying locally).

    Returns
    -------
    bool
        True when connected.
    """
    try:
        project = connect(project)
    except errors.GEEUnavailable as why:
        if verbose:
            print(f"{why}. {fallback}".rstrip())
        return False
    if verbose:
        print(f"Earth Engine initialised with project {project}.")
    return True


# ---------------------------------------------------------------- scene and points


def region(like: xr.DataArray | None = None):
    """The footprint of a raster as an ee.Geometry in the raster's CRS.

    Parameters
    ----------
    like : xarray.DataArray, optional
        The raster (default: the Strzegom test mask).

    Returns
    -------
    ee.Geometry
        A rectangle.

    Raises
    ------
    GEEUnavailable
        If earthengine-api is not installed.
    """
    ee = _ee()
    like = like if like is not None else data.load_scene(data.test_scene())[1]
    return ee.Geometry.Rectangle(list(like.rio.bounds()), str(like.rio.crs), False)


def scene(area, date: str = PAPER_DATE, max_cloud: float = 20, days: int = 1):
    """The Sentinel-2 L2A (harmonised) image over an area: the mosaic of one day, or the per-pixel median of
    several (a composite of a season), in the 10 bands.

    Parameters
    ----------
    area : ee.Geometry
        The area.
    date : str, default the paper's test date
        The first day, YYYY-MM-DD.
    max_cloud : float, default 20
        Granules with more cloud (%) are left out.
    days : int, default 1
        Days from `date`.

    Returns
    -------
    ee.Image
        The image.

    Raises
    ------
    GEEUnavailable
        If earthengine-api is not installed.
    """
    ee = _ee()
    start = ee.Date(date)
    collection = (
        ee.ImageCollection(COLLECTION)
        .filterBounds(area)
        .filterDate(start, start.advance(days, "day"))
        .filter(ee.Filter.lt("CLOUDY_PIXEL_PERCENTAGE", max_cloud))
        .select(list(EE_BANDS.values()))
    )
    return (collection.mosaic() if days == 1 else collection.median()).clip(area)


def paper_points(split: str):
    """The paper's point assets in Earth Engine.

    Parameters
    ----------
    split : str
        "train" or "test" (280 Strzegom points).

    Returns
    -------
    ee.FeatureCollection
        The points.

    Raises
    ------
    ValueError
        For another split.
    GEEUnavailable
        If earthengine-api is not installed.
    """
    if split not in PAPER_ASSETS:
        raise ValueError(f"split {split!r}: use 'train' or 'test'")
    return _ee().FeatureCollection(PAPER_ASSETS[split])


def points_to_ee(points: pd.DataFrame, crs: str | None = None, label: str = LABEL):
    """Local points as an Earth Engine FeatureCollection.

    Parameters
    ----------
    points : pandas.DataFrame
        Points from `local.sample_points` (x, y, label).
    crs : str, optional
        Their CRS (default: ``points.attrs["crs"]``).
    label : str, default "label"
        The class property.

    Returns
    -------
    ee.FeatureCollection
        One point per row, geometry in their CRS, with the class property.

    Raises
    ------
    ValueError
        If the points carry no CRS and none is given.
    GEEUnavailable
        If earthengine-api is not installed.
    """
    ee = _ee()
    crs = crs or points.attrs.get("crs")
    if crs is None:
        raise ValueError("the points carry no CRS: pass crs=")
    return ee.FeatureCollection(
        [
            ee.Feature(ee.Geometry.Point([float(x), float(y)], crs), {label: int(code)})
            for x, y, code in zip(points["x"], points["y"], points["label"])
        ]
    )


# ---------------------------------------------------------------- classifiers


def make_classifier(method: str, seed: int = 42):
    """An untrained Earth Engine classifier, as the paper configured it.

    Parameters
    ----------
    method : str
        "cart" (smileCart), "rf" (smileRandomForest, 10 trees) or "svm" (libsvm C-SVC, linear kernel).
    seed : int, default 42
        The Random Forest's seed.

    Returns
    -------
    ee.Classifier
        The classifier.

    Raises
    ------
    ValueError
        For another method.
    GEEUnavailable
        If earthengine-api is not installed.
    """
    ee = _ee()
    builders = {
        "cart": lambda: ee.Classifier.smileCart(),
        "rf": lambda: ee.Classifier.smileRandomForest(numberOfTrees=local.RF_TREES, seed=seed),
        "svm": lambda: ee.Classifier.libsvm(svmType="C_SVC", kernelType="LINEAR"),
    }
    if method not in builders:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(paper.METHODS)}")
    return builders[method]()


def fit(method: str, image, training, seed: int = 42, label: str = LABEL):
    """Train a classifier on an image's band values at training points.

    Parameters
    ----------
    method : str
        As in `make_classifier`.
    image : ee.Image
        The image (`scene`).
    training : ee.FeatureCollection
        Points with the class property.
    seed : int, default 42
        The Random Forest's seed.
    label : str, default "label"
        The class property.

    Returns
    -------
    ee.Classifier
        The trained classifier.
    """
    samples = image.sampleRegions(collection=training, properties=[label], scale=SCALE)
    return make_classifier(method, seed).train(samples, label, image.bandNames())


def classify_image(trained, image):
    """Classify an image.

    Parameters
    ----------
    trained : ee.Classifier
        A trained classifier (`fit`).
    image : ee.Image
        The image.

    Returns
    -------
    ee.Image
        Class codes as bytes, band "classification".
    """
    return image.classify(trained, CLASS_BAND).toByte()


def error_matrix(classified, test, label: str = LABEL):
    """Earth Engine's confusion matrix on test points, in its orientation.

    Parameters
    ----------
    classified : ee.Image
        A classified image (`classify_image`).
    test : ee.FeatureCollection
        Test points with the class property.
    label : str, default "label"
        The class property.

    Returns
    -------
    ee.ConfusionMatrix
        Rows = reference (actual), columns = classified, order 1..10.
    """
    samples = classified.sampleRegions(collection=test, properties=[label], scale=SCALE)
    return samples.errorMatrix(label, CLASS_BAND, list(scheme.CLASS_IDS))


def reference_rows_to_classified_rows(matrix) -> np.ndarray:
    """Earth Engine's orientation (rows = reference) to this package's (rows = classified): a transpose.

    Parameters
    ----------
    matrix : array_like
        A matrix with rows = reference.

    Returns
    -------
    numpy.ndarray
        The same matrix with rows = classified.
    """
    return np.asarray(matrix).T


def matrix_on_points(classified, test, label: str = LABEL):
    """The confusion matrix on test points, computed on the server, for `lulc_helpers.metrics`.

    Parameters
    ----------
    classified : ee.Image
        A classified image (`classify_image`).
    test : ee.FeatureCollection
        Test points with the class property.
    label : str, default "label"
        The class property.

    Returns
    -------
    matrix : numpy.ndarray
        Rows = classified, columns = reference.
    labels : list of int
        1..10.
    """
    on_server = error_matrix(classified, test, label).array().getInfo()
    return reference_rows_to_classified_rows(on_server), list(scheme.CLASS_IDS)


def run(methods: Sequence[str] = paper.METHODS, date: str = PAPER_DATE, training=None, seed: int = 42, like=None):
    """Classify the area of a raster with each method in Earth Engine.

    Parameters
    ----------
    methods : sequence of str
        Default: CART, Random Forest, SVM.
    date : str, default the paper's test date
        As in `scene`.
    training : ee.FeatureCollection, optional
        Default: the paper's training asset; pass `points_to_ee(...)` to use local points.
    seed : int, default 42
        The Random Forest's seed.
    like : xarray.DataArray, optional
        The raster whose area is classified (default: the Strzegom test grid).

    Returns
    -------
    dict of str to ee.Image
        {method: classified image}.
    """
    area = region(like)
    return {method: classify_region(method, area, date, training=training, seed=seed) for method in methods}


def classify_region(method: str, area, date: str = PAPER_DATE, days: int = 1, training=None, seed: int = 42):
    """A classified image over any area: `scene(area, date, days=days)` classified by `method`.

    Parameters
    ----------
    method : str
        As in `make_classifier`.
    area : ee.Geometry
        The area, e.g. from `read_region`.
    date : str, default the paper's test date
        As in `scene`.
    days : int, default 1
        As in `scene`.
    training : ee.FeatureCollection, optional
        Default: the paper's training asset.
    seed : int, default 42
        The Random Forest's seed.

    Returns
    -------
    ee.Image
        Class codes.
    """
    image = scene(area, date, days=days)
    training = training if training is not None else paper_points("train")
    return classify_image(fit(method, image, training, seed), image)


def read_region(path: str | os.PathLike):
    """An area to classify from the polygons of a vector file (GeoJSON, GeoPackage, shapefile, ...), merged into one.

    Parameters
    ----------
    path : str or os.PathLike
        The vector file.

    Returns
    -------
    area : ee.Geometry
        The area in WGS 84.
    crs : str
        The CRS to export in: the area's UTM zone.

    Raises
    ------
    DataError
        Naming the file, if it is unreadable, has no polygon or no CRS.
    """
    import geopandas

    try:
        frame = geopandas.read_file(path)
    except Exception as err:  # pyogrio raises several types for missing or unreadable files
        raise errors.DataError(f"{path}: not a readable vector file ({err})") from None
    polygons = frame[frame.geometry.notna() & frame.geom_type.isin(["Polygon", "MultiPolygon"])] if len(frame) else frame
    if polygons.empty:
        raise errors.DataError(f"{path}: no polygon to classify inside")
    if polygons.crs is None:
        raise errors.DataError(f"{path}: no coordinate reference system")
    area = polygons.to_crs(4326).union_all()
    return _ee().Geometry(area.__geo_interface__, None, False), str(polygons.estimate_utm_crs())


def export_region(
    classified, area, crs: str, description: str, to: str = "drive", folder: str = "lulc-mining",
    asset_id: str | None = None,
):
    """An export task of a classified image over an area at 10 m; call `.start()` to run it.

    Parameters
    ----------
    classified : ee.Image
        A classified image (`classify_image`).
    area : ee.Geometry
        The area.
    crs : str
        The CRS of the export.
    description : str
        The task's name (and the file's).
    to : {"drive", "asset"}
        Google Drive (a GeoTIFF in `folder`) or an Earth Engine asset (overviews by the most common class).
    folder : str, default "lulc-mining"
        The Drive folder.
    asset_id : str, optional
        The asset (projects/PROJECT/assets/NAME), needed for `to="asset"`.

    Returns
    -------
    ee.batch.Task
        The task, not started.

    Raises
    ------
    ValueError
        For another destination, or an asset export without `asset_id`.
    """
    ee = _ee()
    common = {"image": classified, "description": description, "region": area, "scale": SCALE, "crs": crs, "maxPixels": 1e13}
    if to == "drive":
        return ee.batch.Export.image.toDrive(**common, folder=folder, fileNamePrefix=description, fileFormat="GeoTIFF")
    if to == "asset":
        if not asset_id:
            raise ValueError("an export to an asset needs its id (projects/PROJECT/assets/NAME)")
        return ee.batch.Export.image.toAsset(**common, assetId=asset_id, pyramidingPolicy={".default": "mode"})
    raise ValueError(f"export to {to!r}: use 'drive' or 'asset'")


# ---------------------------------------------------------------- export


def grid_params(like: xr.DataArray) -> dict:
    """The CRS and affine transform of a local grid, so that an export lands pixel for pixel on it.

    Parameters
    ----------
    like : xarray.DataArray
        A raster on the local grid wanted.

    Returns
    -------
    dict
        "crs", "crs_transform" and "dimensions", as Earth Engine's exports take them.
    """
    t = like.rio.transform()
    return {"crs": str(like.rio.crs), "crs_transform": [t.a, t.b, t.c, t.d, t.e, t.f],
            "dimensions": f"{like.rio.width}x{like.rio.height}"}


def export_classified(classified, like: xr.DataArray, description: str, folder: str = "lulc-mining"):
    """A Google Drive export task of a classified image on a local grid; call `.start()` to run it.

    Parameters
    ----------
    classified : ee.Image
        A classified image (`classify_image`).
    like : xarray.DataArray
        A raster on the local grid wanted.
    description : str
        The task's name and the file's.
    folder : str, default "lulc-mining"
        The Drive folder.

    Returns
    -------
    ee.batch.Task
        The task, not started.
    """
    ee = _ee()
    grid = grid_params(like)
    return ee.batch.Export.image.toDrive(
        image=classified, description=description, folder=folder, fileNamePrefix=description,
        crs=grid["crs"], crsTransform=grid["crs_transform"], dimensions=grid["dimensions"], fileFormat="GeoTIFF",
    )


def download_classified(classified, like: xr.DataArray, path: str | os.PathLike) -> Path:
    """Download a classified image as a GeoTIFF on a local grid (small areas), then add the colour table.

    Parameters
    ----------
    classified : ee.Image
        A classified image (`classify_image`).
    like : xarray.DataArray
        A raster on the local grid wanted.
    path : str or os.PathLike
        The GeoTIFF to write.

    Returns
    -------
    Path
        `path`.

    Raises
    ------
    OSError
        If the download fails (urllib's errors).
    DataError
        If what arrives is not a class map.
    OutputError
        If the write fails.
    """
    url = classified.getDownloadURL({**grid_params(like), "format": "GEO_TIFF"})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        with urllib.request.urlopen(url, timeout=300) as response, open(tmp, "wb") as out:
            out.write(response.read())
        downloaded = rasters.open_class_map(tmp, name=path.stem)
        downloaded.attrs["method"] = f"{path.stem} (Earth Engine)"
        return rasters.write_class_map(downloaded, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def download_maps(ee_maps: Mapping[str, object], like: xr.DataArray) -> dict[str, xr.DataArray]:
    """Download classified images onto a local grid, to runs/predictions/METHOD_gee_SCENE.tif, for side-by-side
    evaluation with the local maps.

    Parameters
    ----------
    ee_maps : mapping of str to ee.Image
        {method: classified image} (`run`).
    like : xarray.DataArray
        A raster on the local grid wanted.

    Returns
    -------
    dict of str to xarray.DataArray
        {"CART (GEE)": map, ...}.
    """
    return {
        f"{paper.METHOD_NAMES[method]} (GEE)": rasters.open_class_map(
            download_classified(image, like, data.prediction_path(f"{method}_gee")), f"{method}_gee"
        )
        for method, image in ee_maps.items()
    }


def vis_params() -> Mapping[str, object]:
    """Earth Engine visualisation parameters of class codes 1..10 in the scheme's colours.

    Returns
    -------
    dict
        "min", "max" and "palette".
    """
    return {"min": scheme.CLASS_IDS[0], "max": scheme.CLASS_IDS[-1], "palette": [c.lstrip("#") for c in scheme.colours()]}
