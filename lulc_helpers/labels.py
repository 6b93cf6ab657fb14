"""Working with the reference labels: class counts and weights, name checks, mask comparison, crop phases."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import xarray as xr

from . import data, errors, paths, rasters, scheme, spectral


def class_counts(masks: Iterable[np.ndarray]) -> np.ndarray:
    """Labelled pixels per class over all masks.

    Parameters
    ----------
    masks : iterable of array_like
        Class masks.

    Returns
    -------
    numpy.ndarray
        int64 counts indexed by class id (index 0 = unlabelled).

    Raises
    ------
    UnknownClassError
        Naming the mask, for a code outside the scheme.
    """
    counts = np.zeros(len(scheme.CLASSES) + 1, dtype=np.int64)
    for number, mask in enumerate(masks, start=1):
        values = np.asarray(mask).astype(np.int64).ravel()
        scheme.validate_codes(values, f"mask {number}")  # a stray code would otherwise be dropped silently
        counts += np.bincount(values, minlength=counts.size)
    return counts


def class_weights(counts: np.ndarray) -> np.ndarray:
    """Inverse-frequency class weights, w_c = N / (K n_c) (scikit-learn's "balanced" rule).

    N is the number of labelled pixels, K the number of classes present and n_c the pixels of class c: a class
    with the average share gets weight 1, a class ten times rarer gets 10.

    Parameters
    ----------
    counts : numpy.ndarray
        Pixels per class, indexed by class id (`class_counts`).

    Returns
    -------
    numpy.ndarray
        Weights indexed by class id; unlabelled (0) and absent classes get 0.
    """
    counts = np.asarray(counts, dtype=np.float64).copy()
    counts[scheme.NODATA] = 0
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


# ---------------------------------------------------------------- names in a reference GeoPackage


def name_report(frame, name_field: str = "name", label_field: str = "label"):
    """Check the class names of reference polygons against their labels.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Reference polygons.
    name_field : str, default "name"
        The field of Polish class names.
    label_field : str, default "label"
        The field of class codes.

    Returns
    -------
    pandas.DataFrame
        One row per (name, label) pair, with polygon count and status: `ok`; `typo of X` (counted with X's
        classes, reported rather than silently fixed); `no name`; `unknown name`; `label not expected for this
        name`.

    Raises
    ------
    DataError
        If a field is missing.
    """

    source = frame.attrs.get("source", "reference polygons")
    missing = [f for f in (name_field, label_field) if f not in frame.columns]
    if missing:
        fields = [c for c in frame.columns if c != "geometry"]
        raise errors.DataError(f"{source}: no field {', '.join(missing)}; its fields are {fields}")
    names = frame[name_field].astype("object").where(frame[name_field].notna(), None)
    pairs = pd.DataFrame({"name": names, "label": frame[label_field].astype(int)})
    counts = pairs.groupby(["name", "label"], dropna=False).size().rename("polygons").reset_index()
    counts["status"] = [_name_status(n, lab) for n, lab in zip(counts["name"], counts["label"])]
    return counts.sort_values(["label", "name"], na_position="last").reset_index(drop=True)


def _name_status(name, label: int) -> str:
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return "no name"
    try:
        entry = scheme.reference_name(name)
    except errors.UnknownClassError:
        return "unknown name"
    if label not in entry.classes:
        return "label not expected for this name"
    return f"typo of {entry.typo_of}" if entry.typo_of else "ok"


# ---------------------------------------------------------------- comparing two masks on one grid

DIFFERENCE_KINDS = {0: "same", 1: "both labelled, classes differ", 2: "only in the first", 3: "only in the second"}


def _pair(first, second) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(first).astype(np.int64), np.asarray(second).astype(np.int64)
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} vs {b.shape}")
    return a, b


def difference_kinds(first, second) -> np.ndarray:
    """Why two masks disagree, pixel by pixel.

    Parameters
    ----------
    first, second : array_like or xarray.DataArray
        Two masks of class codes on one grid (0 = unlabelled).

    Returns
    -------
    numpy.ndarray
        uint8 keys of DIFFERENCE_KINDS: 0 same, 1 both labelled with different classes, 2 only in the first,
        3 only in the second.

    Raises
    ------
    ValueError
        If the masks differ in shape.
    """
    a, b = _pair(first, second)
    kinds = np.zeros(a.shape, dtype=np.uint8)
    differ = a != b
    kinds[differ & (a > 0) & (b > 0)] = 1
    kinds[differ & (b == scheme.NODATA)] = 2
    kinds[differ & (a == scheme.NODATA)] = 3
    return kinds


def difference_pairs(first, second):
    """The pixels where two masks differ, counted per (first class, second class).

    Parameters
    ----------
    first, second : array_like or xarray.DataArray
        Two masks of class codes on one grid (0 = unlabelled).

    Returns
    -------
    pandas.DataFrame
        Columns first, second (0 = unlabelled), pixels; the largest first.

    Raises
    ------
    ValueError
        If the masks differ in shape.
    """

    a, b = _pair(first, second)
    differ = a != b
    pairs, counts = np.unique(np.stack([a[differ], b[differ]]), axis=1, return_counts=True)
    table = pd.DataFrame({"first": pairs[0], "second": pairs[1], "pixels": counts})
    return table.sort_values("pixels", ascending=False).reset_index(drop=True)


def agreement_per_class(first, second):
    """How alike two masks draw each class.

    Parameters
    ----------
    first, second : array_like or xarray.DataArray
        Two masks of class codes on one grid (0 = unlabelled).

    Returns
    -------
    pandas.DataFrame
        Per class present in either mask: its pixels in each, in both, and agreement = both / either
        (intersection over union; 1.0 when the two masks draw the class identically).

    Raises
    ------
    ValueError
        If the masks differ in shape.
    """

    a, b = _pair(first, second)
    rows = []
    for c in scheme.CLASS_IDS:
        in_a, in_b = a == c, b == c
        either = int((in_a | in_b).sum())
        if either:
            both = int((in_a & in_b).sum())
            rows.append({"class": c, "name": scheme.get(c).name, "first": int(in_a.sum()), "second": int(in_b.sum()),
                         "both": both, "agreement": both / either})
    return pd.DataFrame(rows).set_index("class")


# ---------------------------------------------------------------- seasonal crop phases (classes 4 and 9)

CROP_PHASES = (4, 9)  # before harvest / early spring, in vegetation stage
PHASE_INDICES = ("NDVI", "NDMI")
# Fitted on the six Strzegom training dates with fit_phase_rule (notebook 02 refits and checks them).
NDVI_MIN, NDMI_MIN = 0.44, 0.00


def crop_phase(ndvi, ndmi, ndvi_min: float = NDVI_MIN, ndmi_min: float = NDMI_MIN) -> np.ndarray:
    """The one-date rule for a crop pixel: 9 (in vegetation stage) when it is green, NDVI >= ndvi_min, and not
    drying, NDMI >= ndmi_min; else 4 (ripe before harvest, or bare/brown in early spring).

    Parameters
    ----------
    ndvi, ndmi : array_like
        The pixels' indices.
    ndvi_min, ndmi_min : float
        The thresholds (default: those fitted in notebook 02, NDVI_MIN and NDMI_MIN).

    Returns
    -------
    numpy.ndarray
        uint8 4 or 9; 0 (unlabelled) where an index is NaN.
    """
    ndvi, ndmi = np.asarray(ndvi, dtype=np.float64), np.asarray(ndmi, dtype=np.float64)
    phase = np.where((ndvi >= ndvi_min) & (ndmi >= ndmi_min), 9, 4).astype(np.uint8)
    phase[np.isnan(ndvi) | np.isnan(ndmi)] = scheme.NODATA
    return phase


def _phase_indices(image) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """PHASE_INDICES of `image` from surface reflectance (L2A offset removed) and where all are finite."""
    reflectance = rasters.reflectance(image)
    values = {name: spectral.INDICES[name](reflectance).values for name in PHASE_INDICES}
    return values, np.logical_and.reduce([np.isfinite(v) for v in values.values()])


def crop_pixels_of(image, mask, date: str, split: str = ""):
    """The crop pixels of one scene with their indices.

    NDVI and NDMI come from surface reflectance (`rasters.reflectance`, so the L2A offset of 2022+ scenes is
    removed). Pixels without data in a band are dropped: the Strzegom images carry a zero edge (10 m bands: last
    row and first column; 20 m bands: first two rows and last column) that their masks still label.

    Parameters
    ----------
    image : xarray.DataArray
        The scene's 10-band image.
    mask : array_like
        Its class mask.
    date : str
        The date, YYYYMMDD.
    split : str, optional
        "train" or "test", copied into the table.

    Returns
    -------
    pandas.DataFrame
        The pixels the mask labels 4 or 9: date, split, phase, NDVI, NDMI.
    """

    values = np.asarray(mask)
    columns, valid = _phase_indices(image)
    keep = np.isin(values, CROP_PHASES) & valid
    return pd.DataFrame({"date": date, "split": split, "phase": values[keep],
                         **{name: v[keep] for name, v in columns.items()}})


def crop_pixels(scenes: Iterable[data.Scene], root=None):
    """`crop_pixels_of` for each scene that has an image (the others are skipped), in one table.

    Parameters
    ----------
    scenes : iterable of data.Scene
        The scenes.
    root : Path, optional
        The data folder (default: `paths.data_dir()`).

    Returns
    -------
    pandas.DataFrame
        As `crop_pixels_of`.

    Raises
    ------
    DataError
        If none of the scenes has an image.
    """

    frames = []
    for scene in scenes:
        image, mask = _scene_with_image(scene, root)
        if image is not None:
            frames.append(crop_pixels_of(image, mask.values, scene.date, scene.split))
    if not frames:
        raise errors.DataError("crop_pixels: none of the scenes has an image")
    return pd.concat(frames, ignore_index=True)


def _scene_with_image(scene: data.Scene, root):
    return data.load_scene(scene, root) if scene.has_image(root) else (None, None)


def balanced_agreement(rule, mask) -> float:
    """How well a rule reproduces a mask's crop phases, each phase counted equally.

    Parameters
    ----------
    rule, mask : array_like
        The rule's and the mask's codes for the same pixels.

    Returns
    -------
    float
        Mean over classes 4 and 9 (those present in `mask`) of the share of the mask's pixels the rule
        reproduces.
    """
    rule, mask = np.asarray(rule), np.asarray(mask)
    return float(np.mean([(rule[mask == c] == c).mean() for c in CROP_PHASES if (mask == c).any()]))


def fit_phase_rule(pixels, ndvi_grid=None, ndmi_grid=None) -> tuple[float, float]:
    """The thresholds of `crop_phase` that agree best with the masks.

    Balanced (`balanced_agreement`), so the rarer phase of a date is not drowned by the common one.

    Parameters
    ----------
    pixels : pandas.DataFrame
        A `crop_pixels` table (date, split, phase, NDVI, NDMI).
    ndvi_grid, ndmi_grid : array_like, optional
        Thresholds to try (default: 0.02 steps, NDVI 0..0.9, NDMI -0.3..0.6).

    Returns
    -------
    tuple of float
        (ndvi_min, ndmi_min).
    """
    ndvi_grid = np.round(np.arange(0.0, 0.9001, 0.02), 2) if ndvi_grid is None else np.asarray(ndvi_grid)
    ndmi_grid = np.round(np.arange(-0.3, 0.6001, 0.02), 2) if ndmi_grid is None else np.asarray(ndmi_grid)
    ndvi, ndmi, mask = (pixels[c].to_numpy() for c in ("NDVI", "NDMI", "phase"))
    scores = np.array([[balanced_agreement(crop_phase(ndvi, ndmi, a, b), mask) for b in ndmi_grid] for a in ndvi_grid])
    best_a, best_b = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(ndvi_grid[best_a]), float(ndmi_grid[best_b])


def phase_agreement(pixels, ndvi_min: float = NDVI_MIN, ndmi_min: float = NDMI_MIN):
    """How well the crop-phase rule reproduces the masks, date by date.

    Parameters
    ----------
    pixels : pandas.DataFrame
        A `crop_pixels` table (date, split, phase, NDVI, NDMI).
    ndvi_min, ndmi_min : float
        The rule's thresholds.

    Returns
    -------
    pandas.DataFrame
        Per date: crop pixels, the rule's agreement with the mask, and the share of the mask's 4s and of its 9s
        that the rule reproduces.
    """

    rows = []
    for (date, split), group in pixels.groupby(["date", "split"], sort=True):
        rule, mask = crop_phase(group["NDVI"], group["NDMI"], ndvi_min, ndmi_min), group["phase"].to_numpy()
        row = {"date": date, "split": split, "crop pixels": len(group), "agreement": (rule == mask).mean()}
        for phase in CROP_PHASES:
            of_phase = mask == phase
            row[f"{phase}: pixels"] = int(of_phase.sum())
            row[f"{phase}: agreement"] = (rule[of_phase] == phase).mean() if of_phase.any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("date")


def parcel_series(parcels, scenes: Iterable[data.Scene], root=None):
    """Each crop parcel's indices over the dates, with the class each date's mask gives it.

    Parameters
    ----------
    parcels : geopandas.GeoDataFrame
        Reference polygons (`read_reference`); those of class 4 or 9 are the parcels.
    scenes : iterable of data.Scene
        The dates.
    root : Path, optional
        The data folder (default: `paths.data_dir()`).

    Returns
    -------
    pandas.DataFrame
        Long table: parcel, date, phase (the class the mask gives most often inside the parcel: 4, 9, or
        another code such as 5 after ploughing; 0 if unlabelled), NDVI and NDMI (medians).
    """
    from rasterio import features

    crops = parcels[parcels["class_id"].isin(CROP_PHASES)]
    rows = []
    for scene in scenes:
        image, mask = _scene_with_image(scene, root)
        if image is None:
            continue
        ids = features.rasterize(
            ((geom, i + 1) for i, geom in enumerate(crops.to_crs(mask.rio.crs).geometry)),
            out_shape=mask.shape, transform=mask.rio.transform(), fill=0, dtype="int32",
        )
        values, valid = _phase_indices(image)
        for parcel in np.unique(ids[(ids > 0) & valid]):
            inside = (ids == parcel) & valid
            codes = np.bincount(mask.values[inside], minlength=len(scheme.CLASSES) + 1)
            rows.append({"parcel": int(parcel), "date": scene.date, "phase": int(np.argmax(codes)),
                         **{name: float(np.nanmedian(v[inside])) for name, v in values.items()}})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- class balance


def training_counts(require_image: bool = False, root=None) -> np.ndarray:
    """`class_counts` over the masks of the paper's training scenes.

    Parameters
    ----------
    require_image : bool, default False
        Only scenes whose image is present, i.e. what training can use here.
    root : Path, optional
        The data folder (default: `paths.data_dir()`).

    Returns
    -------
    numpy.ndarray
        Pixels per class, indexed by class id.

    Raises
    ------
    DataError
        If no scene qualifies, or a mask cannot be read.
    """
    root = root or paths.data_dir()
    usable = [s for s in data.scenes("train") if not require_image or s.has_image(root)]
    if not usable:
        raise errors.DataError(f"{root}: no training scene with an image (run `lulc fetch`)")
    return class_counts(rasters.open_class_map(root / s.mask).values for s in usable)


def read_reference(path: str | os.PathLike, field: str | None = None):
    """Read reference polygons.

    Parameters
    ----------
    path : str or os.PathLike
        A vector file (GeoPackage...).
    field : str, optional
        The class-code field; default: the first of `label`, `DN` present (Strzegom and Kolbuszowa use those).

    Returns
    -------
    geopandas.GeoDataFrame
        The polygons with an integer `class_id` column, invalid ones repaired (`repair_geometries`).

    Raises
    ------
    DataError
        Naming the file, if it is missing or unreadable, has no such field or no CRS, or the field holds text.
    """
    import geopandas as gpd

    path = Path(path)
    if not path.is_file():
        raise errors.DataError(f"{path}: no such file")
    try:
        frame = gpd.read_file(path)
    except Exception as err:
        raise errors.DataError(f"{path}: not a readable vector file ({err})") from err
    if field is None:
        field = next((f for f in ("label", "DN") if f in frame.columns), None)
    if field is None or field not in frame.columns:
        fields = [c for c in frame.columns if c != "geometry"]
        raise errors.DataError(f"{path}: no label field {field or '(label or DN)'}; its fields are {fields}")
    if frame.crs is None:
        raise errors.DataError(f"{path}: has no CRS, so it cannot be matched to an image")
    codes = frame[field].to_numpy()
    if not (np.issubdtype(codes.dtype, np.integer) or np.issubdtype(codes.dtype, np.floating)):
        shown = ", ".join(repr(v) for v in list(dict.fromkeys(codes.tolist()))[:3])
        raise errors.DataError(f"{path}: field {field} holds text ({shown}...), not class codes; name the class-code field with --field")
    scheme.validate_codes(codes, f"{path} field {field}")
    frame = repair_geometries(frame.assign(class_id=codes.astype(np.uint8)), str(path))
    return frame


def repair_geometries(frame, source: str):
    """Repair invalid polygons (self-intersecting "bow-ties", ...) with shapely's `make_valid`, keeping their
    polygonal parts.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        The polygons.
    source : str
        What they are, for messages and ``attrs["source"]``.

    Returns
    -------
    geopandas.GeoDataFrame
        `frame` repaired; ``attrs["repaired"]`` counts the repairs.

    Raises
    ------
    DataError
        When a polygon has no area left after repair.
    """
    import shapely

    geometries = frame.geometry.to_numpy()
    invalid = np.array([g is not None and not g.is_valid for g in geometries], dtype=bool)
    if invalid.any():
        repaired = [_polygonal(shapely.make_valid(g)) for g in geometries[invalid]]
        if any(g is None for g in repaired):
            row = int(np.flatnonzero(invalid)[[g is None for g in repaired].index(True)])
            raise errors.DataError(f"{source}: polygon {row} is invalid and has no area left after repair")
        geometries = geometries.copy()
        geometries[invalid] = repaired
        frame = frame.set_geometry(geometries, crs=frame.crs)
    frame.attrs.update(source=source, repaired=int(invalid.sum()))
    return frame


def _polygonal(geometry):
    """The polygons of a repaired geometry as one (Multi)Polygon, None if nothing has area."""
    import shapely

    parts = [part for part in shapely.get_parts(geometry) if part.geom_type in ("Polygon", "MultiPolygon") and part.area > 0]
    return shapely.unary_union(parts) if parts else None


def rasterize_reference(reference, like: xr.DataArray, field: str | None = None, all_touched: bool = False) -> xr.DataArray:
    """Burn reference polygons onto a grid.

    By default a pixel is burnt when its centre falls inside a polygon (rasterio's rule). Polygons in another
    CRS are reprojected to the grid's CRS.

    Parameters
    ----------
    reference : str, os.PathLike or geopandas.GeoDataFrame
        A path, or polygons from `read_reference`.
    like : xarray.DataArray
        A raster on the grid wanted.
    field : str, optional
        As in `read_reference`.
    all_touched : bool, default False
        Burn every pixel a polygon touches.

    Returns
    -------
    xarray.DataArray
        uint8 class codes, 0 outside the polygons.

    Raises
    ------
    DataError
        If the grid has no CRS, the polygons cannot be reprojected or none overlaps the grid.
    """
    from rasterio import features

    frame = read_reference(reference, field) if isinstance(reference, (str, os.PathLike)) else reference
    source = frame.attrs.get("source", "reference polygons")
    if like.rio.crs is None:
        raise errors.DataError(f"{rasters.source_name(like, 'grid')}: has no CRS to rasterise {source} on")
    try:
        frame = frame.to_crs(like.rio.crs)
    except Exception as err:
        raise errors.DataError(f"{source}: cannot be reprojected to {like.rio.crs} ({err})") from err
    shape = (like.rio.height, like.rio.width)
    shapes = ((geom, int(code)) for geom, code in zip(frame.geometry, frame["class_id"]) if geom is not None)
    burnt = features.rasterize(
        shapes, out_shape=shape, transform=like.rio.transform(), fill=scheme.NODATA, dtype="uint8", all_touched=all_touched
    )
    if not burnt.any():
        raise errors.DataError(f"{source}: no polygon overlaps the grid of {rasters.source_name(like, 'the image')}")
    grid = like.isel(band=0, drop=True) if "band" in like.dims else like
    mask = grid.copy(data=burnt)
    mask.attrs = {"source": source}
    mask.rio.write_crs(like.rio.crs, inplace=True)
    mask.rio.write_nodata(scheme.NODATA, inplace=True)
    mask.name = Path(source).stem
    return mask


def catalogue(root: Path | None = None) -> "pd.DataFrame":
    """The paper's split at a glance.

    Parameters
    ----------
    root : Path, optional
        The data folder (default: `paths.data_dir()`).

    Returns
    -------
    pandas.DataFrame
        One row per scene: region, date, split, CRS, size, which files are here, and labelled pixels per class
        (columns named by class id).

    Raises
    ------
    DataError
        If a mask cannot be read.
    """


    root = root or paths.data_dir()
    rows = []
    for scene in data.SCENES:
        mask = rasters.open_class_map(root / scene.mask)
        counts = class_counts([mask.values])
        rows.append(
            {
                "scene": scene.name,
                "region": scene.region,
                "date": scene.date,
                "split": scene.split,
                "crs": str(mask.rio.crs),
                "size": f"{mask.rio.width}x{mask.rio.height}",
                "image here": scene.has_image(root),
                "labelled": int(counts[1:].sum()),
                **{c.id: int(counts[c.id]) for c in scheme.CLASSES},
            }
        )
    return pd.DataFrame(rows).set_index("scene")
