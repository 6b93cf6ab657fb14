"""Stratified random samples of a classified map, their reference labels, and the area estimates they give.

The design is the one Olofsson et al. (2014, Remote Sensing of Environment 148, 42-57) recommend:
strata = the map's classes (0, no data, is never sampled), the total sample size from a target
standard error of overall accuracy (their Eq. 13), and an allocation that gives rare classes enough
points. Every point is a pixel centre and carries its stratum, its stratum's size in pixels, the
pixel area and its inclusion weight (pixels it stands for), so a points file alone is enough to
estimate accuracy and area (`estimate`, `area_table`); `metrics.estimate_from_points` does the sums.

Reference labels: the `label` column is empty (NULL) until a point is labelled; UNSURE (0) marks a
point looked at but given no class. Both are left out of the estimates.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from . import errors, labels, metrics, outputs, rasters, scheme

LABEL = "label"
UNSURE = 0
LAYER = "points"
COLUMNS = ("point_id", "row", "col", "x", "y", "stratum", "map_class", "stratum_pixels", "weight",
           "pixel_area_ha", LABEL, "label_source")
ALLOCATIONS = ("proportional", "equal", "min:N")
ANTICIPATED_UA = 0.9  # user's accuracy assumed for every class when sizing a sample, unless given per class
MIN_PER_STRATUM = 2  # the stratified variance estimators need two points in every stratum


def frame(classified: xr.DataArray, region=None) -> np.ndarray:
    """The sampling frame: the pixels a sample may be drawn from.

    Parameters
    ----------
    classified : xarray.DataArray
        The class map (y, x) the sample is drawn from; 0 = unmapped.
    region : array_like, optional
        Where sampling may happen (True or non-zero = inside), on the map's grid, e.g. where a reference has a
        label. Default: the whole map.

    Returns
    -------
    numpy.ndarray
        Boolean mask on the map's grid: mapped (not 0) and inside `region`.

    Raises
    ------
    DataError
        If `region` and the map differ in shape.
    """
    inside = np.asarray(classified.values) != scheme.NODATA
    if region is not None:
        region = np.asarray(getattr(region, "values", region))
        if region.shape != inside.shape:
            raise errors.DataError(f"region {region.shape} and map {inside.shape} differ in shape")
        inside &= region.astype(bool)
    return inside


def stratum_sizes(classified: xr.DataArray, region=None) -> pd.Series:
    """Pixels per map class inside the frame: the strata of a stratified sample.

    Parameters
    ----------
    classified : xarray.DataArray
        The class map (y, x) the sample is drawn from; 0 = unmapped.
    region : array_like, optional
        Where sampling may happen (True or non-zero = inside), on the map's grid, e.g. where a reference has a
        label. Default: the whole map.

    Returns
    -------
    pandas.Series
        Pixel counts indexed by class code (0 never included), only classes present.
    """
    values = np.asarray(classified.values)[frame(classified, region)]
    counts = np.bincount(values.astype(np.int64).ravel(), minlength=scheme.NODATA + 1)
    present = np.flatnonzero(counts)
    return pd.Series(counts[present], index=pd.Index(present.tolist(), name="class"), name="pixels")


def _anticipated(sizes: pd.Series, anticipated_ua: float | Mapping[int, float]) -> np.ndarray:
    if isinstance(anticipated_ua, Mapping):
        missing = [c for c in sizes.index if c not in anticipated_ua]
        if missing:
            raise ValueError(f"no anticipated user's accuracy for classes {missing}")
        values = np.array([anticipated_ua[c] for c in sizes.index], dtype=float)
    else:
        values = np.full(len(sizes), float(anticipated_ua))
    if ((values <= 0) | (values >= 1)).any():
        raise ValueError("anticipated user's accuracies must lie strictly between 0 and 1")
    return values


def sample_size(sizes: pd.Series, target_se: float = 0.01, anticipated_ua: float | Mapping[int, float] = ANTICIPATED_UA) -> int:
    """Total points of a stratified random sample for a wanted standard error of overall accuracy.

    Olofsson et al. (2014), Eq. 13 (Cochran 1977, Eq. 5.25): n = (sum W_i S_i)^2 / (S(O)^2 + sum W_i S_i^2 / N),
    with W_i the stratum's share of the mapped area, S_i = sqrt(U_i (1 - U_i)) from the anticipated user's
    accuracy U_i, and N the pixels in the frame.

    Parameters
    ----------
    sizes : pandas.Series
        Pixels per stratum (`stratum_sizes`).
    target_se : float, default 0.01
        The standard error of OA wanted, between 0 and 1.
    anticipated_ua : float or mapping of int to float, default 0.9
        The user's accuracy expected of every class, or per class.

    Returns
    -------
    int
        The number of points, rounded up.

    Raises
    ------
    ValueError
        If `target_se` is not between 0 and 1, or an anticipated accuracy is missing for a class or not
        strictly between 0 and 1.
    """
    if not 0 < target_se < 1:
        raise ValueError(f"target standard error {target_se}: use a value between 0 and 1, e.g. 0.01")
    sizes = pd.Series(sizes, dtype=float)
    ua = _anticipated(sizes, anticipated_ua)
    weights = sizes.to_numpy() / sizes.sum()
    spread = np.sqrt(ua * (1 - ua))
    n = (weights @ spread) ** 2 / (target_se**2 + (weights @ spread**2) / sizes.sum())
    return int(math.ceil(n - 1e-9))


def parse_allocation(allocation: str) -> tuple[str, int]:
    """Read an allocation rule as the CLI's `--allocation` takes it.

    Parameters
    ----------
    allocation : str
        "proportional", "equal" or "min:N".

    Returns
    -------
    kind : str
        "proportional", "equal" or "min".
    minimum : int
        Points every stratum gets at least (N for "min:N", else 2).

    Raises
    ------
    ValueError
        For any other text, or N below 2.
    """
    if allocation in ("proportional", "equal"):
        return allocation, MIN_PER_STRATUM
    kind, _, number = allocation.partition(":")
    if kind == "min" and number.isdigit() and int(number) >= MIN_PER_STRATUM:
        return "min", int(number)
    raise ValueError(f"allocation {allocation!r}: use proportional, equal or min:N with N >= {MIN_PER_STRATUM} (e.g. min:50)")


def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    """Whole numbers summing to `total`, as close as possible to `total * shares / shares.sum()`."""
    exact = total * shares / shares.sum()
    whole = np.floor(exact).astype(np.int64)
    whole[np.argsort(-(exact - whole), kind="stable")[: total - whole.sum()]] += 1
    return whole


def allocate(n: int, sizes: pd.Series, allocation: str = "proportional") -> pd.Series:
    """Share a number of points out among the strata.

    `min:N` is Olofsson et al.'s advice for rare classes: proportional, but no stratum below N; the rest is
    shared proportionally among the larger strata. Every stratum gets at least two points (the variance
    estimators need them) and never more than its pixels (a stratum that small is censused), so the total can
    differ slightly from `n`.

    Parameters
    ----------
    n : int
        Total points wanted.
    sizes : pandas.Series
        Pixels per stratum (`stratum_sizes`).
    allocation : str, default "proportional"
        "proportional" to mapped area, "equal", or "min:N".

    Returns
    -------
    pandas.Series
        Points per stratum, indexed as `sizes`.

    Raises
    ------
    ValueError
        For an unknown allocation, or `n` too small to give every stratum its minimum.
    """
    kind, minimum = parse_allocation(allocation)
    sizes = pd.Series(sizes, dtype=np.int64)
    if n < minimum * len(sizes):
        raise ValueError(f"{n} points cannot give {len(sizes)} strata {minimum} points each; use n >= {minimum * len(sizes)}")
    if kind == "equal":
        counts = _largest_remainder(n, np.ones(len(sizes)))
    else:
        fixed = np.zeros(len(sizes), dtype=bool)
        while True:  # fix the strata whose proportional share falls below the minimum, then share out the rest
            share = (n - minimum * fixed.sum()) * sizes.to_numpy() * ~fixed / sizes[~fixed].sum()
            below = ~fixed & (share < minimum)
            if not below.any():
                break
            fixed |= below
        counts = np.where(fixed, minimum, 0)
        counts[~fixed] = _largest_remainder(n - minimum * fixed.sum(), sizes.to_numpy()[~fixed].astype(float))
    counts = np.minimum(np.maximum(counts, MIN_PER_STRATUM), sizes.to_numpy())
    return pd.Series(counts, index=sizes.index, name="points")


def draw_per_class(
    codes: np.ndarray, counts: Mapping[int, int], rng: np.random.Generator, partial: bool = False
) -> tuple[np.ndarray, dict[int, tuple[int, int]]]:
    """A stratified draw without replacement from a list of class codes.

    Parameters
    ----------
    codes : numpy.ndarray
        Class codes (1-D), one per candidate position.
    counts : mapping of int to int
        Positions to draw per class, drawn class by class in this order.
    rng : numpy.random.Generator
        The random generator.
    partial : bool, default False
        Give a class with fewer positions than asked all it has, instead of raising.

    Returns
    -------
    positions : numpy.ndarray
        Drawn positions in `codes`, each class's sorted.
    shortfall : dict
        {class: (asked, got)} for the classes that had too few positions (only with `partial`).

    Raises
    ------
    ValueError
        Without `partial`, for a class with fewer positions than asked.
    """
    picks, shortfall = [], {}
    for code, n in counts.items():
        pool = np.flatnonzero(codes == code)
        if pool.size < n:
            if not partial:
                raise ValueError(f"class {code}: {n} points asked, {pool.size} pixels in the frame")
            shortfall[code] = (int(n), int(pool.size))
        picks.append(np.sort(rng.choice(pool, size=int(min(n, pool.size)), replace=False)))
    return (np.concatenate(picks) if picks else np.array([], dtype=np.int64)), shortfall


def draw(classified: xr.DataArray, counts: pd.Series, seed: int = 0, region=None):
    """Draw a stratified random sample of pixel centres, without replacement.

    Parameters
    ----------
    classified : xarray.DataArray
        The class map (y, x) the sample is drawn from; 0 = unmapped.
    counts : pandas.Series
        Points per map class (`allocate`).
    seed : int, default 0
        Seed of the draw.
    region : array_like, optional
        Where sampling may happen (True or non-zero = inside), on the map's grid, e.g. where a reference has a
        label. Default: the whole map.

    Returns
    -------
    geopandas.GeoDataFrame
        One point per row in the map's CRS with the columns of COLUMNS: position, stratum and map class, stratum
        size, inclusion weight, pixel area, and empty `label` and `label_source`.

    Raises
    ------
    ValueError
        If a class has fewer pixels in the frame than points asked.
    """
    import geopandas as gpd

    inside = frame(classified, region)
    values = np.asarray(classified.values)
    sizes = stratum_sizes(classified, region)
    candidates = np.flatnonzero(inside)
    picked, _ = draw_per_class(values.ravel()[candidates], counts, np.random.default_rng(seed))
    flat = candidates[picked]
    rows, cols = np.divmod(flat, values.shape[1])
    xs, ys = classified.rio.transform() * (cols + 0.5, rows + 0.5)
    strata = values[rows, cols].astype(np.int64)
    stratum_pixels = sizes.reindex(strata).to_numpy()
    frame_table = pd.DataFrame({
        "point_id": np.arange(1, flat.size + 1), "row": rows, "col": cols, "x": xs, "y": ys,
        "stratum": strata, "map_class": strata, "stratum_pixels": stratum_pixels,
        "weight": stratum_pixels / counts.reindex(strata).to_numpy(),
        "pixel_area_ha": rasters.pixel_area_ha(classified),
        LABEL: pd.array([pd.NA] * flat.size, dtype="Int64"), "label_source": pd.array([pd.NA] * flat.size, dtype="string"),
    })
    return gpd.GeoDataFrame(frame_table, geometry=gpd.points_from_xy(xs, ys), crs=classified.rio.crs)


def stratified_sample(
    classified: xr.DataArray,
    n: int | None = None,
    target_se: float | None = None,
    allocation: str = "proportional",
    seed: int = 0,
    region=None,
    anticipated_ua: float | Mapping[int, float] = ANTICIPATED_UA,
):
    """A stratified random sample of a map: the allocation and the draw in one step.

    Parameters
    ----------
    classified : xarray.DataArray
        The class map (y, x) the sample is drawn from; 0 = unmapped.
    n : int, optional
        Total points (give this or `target_se`).
    target_se : float, optional
        The standard error of OA wanted; the size comes from `sample_size`.
    allocation : str, default "proportional"
        As in `allocate`.
    seed : int, default 0
        Seed of the draw.
    region : array_like, optional
        Where sampling may happen (True or non-zero = inside), on the map's grid, e.g. where a reference has a
        label. Default: the whole map.
    anticipated_ua : float or mapping of int to float, default 0.9
        As in `sample_size`.

    Returns
    -------
    geopandas.GeoDataFrame
        The points, as `draw` returns them.

    Raises
    ------
    ValueError
        Unless exactly one of `n` and `target_se` is given, or for a bad allocation or size.
    DataError
        If the map has no mapped pixel inside the frame.
    """
    if (n is None) == (target_se is None):
        raise ValueError("give either a sample size n or a target standard error of OA")
    sizes = stratum_sizes(classified, region)
    if sizes.empty:
        raise errors.DataError(f"{classified.attrs.get('source', 'map')}: no mapped pixel to sample")
    total = n if n is not None else sample_size(sizes, target_se, anticipated_ua)
    return draw(classified, allocate(total, sizes, allocation), seed, region)


# ---------------------------------------------------------------- labels


def label_from(points, reference, field: str | None = None, source: str | None = None):
    """Fill the points' labels from a reference.

    Points where the reference has no class keep their label (empty until labelled).

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        A sample as `draw` or `read_points` returns it.
    reference : xarray.DataArray, geopandas.GeoDataFrame, str or os.PathLike
        A class raster (DataArray or GeoTIFF path) or polygons (GeoDataFrame from `labels.read_reference`, or a
        vector file path).
    field : str, optional
        The polygons' class field (default: as `labels.read_reference` finds it).
    source : str, optional
        What `label_source` records (default: the reference's path or source).

    Returns
    -------
    geopandas.GeoDataFrame
        A labelled copy of `points`.

    Raises
    ------
    DataError
        If the reference file cannot be read as a class map or reference polygons.
    """
    labelled = points.copy()
    if isinstance(reference, (str, os.PathLike)):
        source = source or str(reference)
        if Path(reference).suffix.lower() in {".tif", ".tiff", ".vrt"}:
            reference = rasters.open_class_map(reference)
        else:
            reference = labels.read_reference(reference, field)
    if isinstance(reference, xr.DataArray):
        found = rasters.values_at_points(reference, labelled)
    else:
        found = _polygon_values(reference, labelled)
    source = source or str(reference.attrs.get("source", "reference"))
    hit = found != scheme.NODATA
    labelled.loc[hit, LABEL] = found[hit]
    labelled.loc[hit, "label_source"] = source
    return labelled


def _polygon_values(polygons, points) -> np.ndarray:
    """Class of the polygon holding each point; where polygons overlap the last one wins, as when rasterised."""
    import geopandas as gpd

    polygons = polygons.to_crs(points.crs)[["class_id", "geometry"]].reset_index(drop=True)
    joined = gpd.sjoin(points[["geometry"]].reset_index(drop=True), polygons, predicate="within")
    last = joined.reset_index().groupby("index")["index_right"].max()
    values = np.zeros(len(points), dtype=np.int64)
    values[last.index.to_numpy()] = polygons["class_id"].to_numpy()[last.to_numpy()]
    return values


def set_label(points, index: int, label: int, source: str = "interpreter"):
    """Give one point a class, as an interpreter does by eye.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        A sample as `draw` or `read_points` returns it.
    index : int
        The point's position in `points`.
    label : int
        A class code 1..10, or UNSURE (0).
    source : str, default "interpreter"
        What `label_source` records.

    Returns
    -------
    geopandas.GeoDataFrame
        `points`, changed in place.

    Raises
    ------
    UnknownClassError
        For a code outside the scheme.
    """
    if label != UNSURE:
        scheme.get(label)  # raises UnknownClassError for a code outside the scheme
    points.loc[points.index[index], LABEL] = label
    points.loc[points.index[index], "label_source"] = source
    return points


def first_unlabelled(points) -> int | None:
    """Where labelling should resume.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        A sample as `draw` or `read_points` returns it.

    Returns
    -------
    int or None
        The position of the first point without a label; None when every point has one.
    """
    empty = np.flatnonzero(points[LABEL].isna().to_numpy())
    return int(empty[0]) if empty.size else None


# ---------------------------------------------------------------- the points file


def write_points(points, path: str | os.PathLike) -> Path:
    """Write a sample as a GeoPackage (layer "points"), atomically.

    The file is read back and its point count and labels compared before it replaces `path`, so an interrupted
    write keeps the previous labels.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        A sample as `draw` or `read_points` returns it.
    path : str or os.PathLike
        A ``*.gpkg`` file.

    Returns
    -------
    Path
        `path`.

    Raises
    ------
    DataError
        If `path` is not a .gpkg.
    OutputError
        If the write fails or the file does not read back as written.
    """
    path = Path(path)
    if path.suffix.lower() != ".gpkg":
        raise errors.DataError(f"{path}: the points are written as a GeoPackage; name it *.gpkg")

    def verify(tmp: Path) -> None:
        back = read_points(tmp)
        if len(back) != len(points) or not back[LABEL].equals(points[LABEL].astype("Int64").reset_index(drop=True)):
            raise errors.OutputError(f"{path}: the written file does not read back as what was written")

    with outputs.atomic_output(path, verify) as tmp:
        points.to_file(tmp, layer=LAYER, driver="GPKG")
    return path


def read_points(path: str | os.PathLike, field: str | None = None):
    """Read a sample file written by `write_points` (or `lulc sample`).

    Parameters
    ----------
    path : str or os.PathLike
        The GeoPackage.
    field : str, optional
        Another column to take the reference labels from (it replaces `label`).

    Returns
    -------
    geopandas.GeoDataFrame
        The points, labels as nullable integers; `attrs["source"]` is the path.

    Raises
    ------
    DataError
        Naming the file, if it is missing or unreadable, lacks the sample's columns or `field`, or holds labels
        that are not empty, 0 (unsure) or class codes.
    """
    import geopandas as gpd

    path = Path(path)
    if not path.is_file():
        raise errors.DataError(f"{path}: no such file")
    try:
        points = gpd.read_file(path, layer=LAYER)
    except Exception as err:
        raise errors.DataError(f"{path}: not a readable GeoPackage with a '{LAYER}' layer ({err})") from err
    missing = [c for c in COLUMNS if c not in points.columns]
    if missing:
        raise errors.DataError(f"{path}: not a sample from `lulc sample`: missing columns {missing}")
    if field not in (None, LABEL):
        if field not in points.columns:
            raise errors.DataError(f"{path}: no label field {field}; its fields are {[c for c in points.columns if c != 'geometry']}")
        points[LABEL] = pd.to_numeric(points[field], errors="coerce").where(points[field].notna())
        if points[LABEL].isna().sum() > points[field].isna().sum():
            raise errors.DataError(f"{path}: field {field} holds values that are not class codes")
    found = points[LABEL]
    known = found.dropna()
    if not np.array_equal(known, np.round(known)) or not known.isin([UNSURE, *scheme.CLASS_IDS]).all():
        raise errors.DataError(f"{path}: labels ({field or LABEL}) must be empty, {UNSURE} (unsure) or class codes {list(scheme.CLASS_IDS)}")
    points[LABEL] = found.astype("Int64")
    points["label_source"] = points["label_source"].astype("string")
    points.attrs["source"] = str(path)
    return points


def check_drawn_from(points, classified: xr.DataArray) -> None:
    """Check that the points were drawn from this map.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        A sample as `draw` or `read_points` returns it.
    classified : xarray.DataArray
        The class map (y, x) the sample is drawn from; 0 = unmapped.

    Raises
    ------
    DataError
        Unless every point's recorded map class is the map's class at that point.
    """
    found = rasters.values_at_points(classified, points)
    wrong = int((found != points["map_class"].to_numpy()).sum())
    if wrong:
        raise errors.DataError(
            f"{points.attrs.get('source', 'points')}: {wrong} of {len(points)} points have another class in "
            f"{classified.attrs.get('source', 'the map')} than when drawn; were they drawn from this map?"
        )


# ---------------------------------------------------------------- estimates


def labelled(points):
    """The points with a reference class.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        A sample as `draw` or `read_points` returns it.

    Returns
    -------
    geopandas.GeoDataFrame
        The points whose label is neither empty nor unsure (0).
    """
    return points[points[LABEL].notna() & (points[LABEL] != UNSURE)]


def stratum_areas_ha(points) -> dict[int, float]:
    """The mapped area of every stratum, from the design recorded on the points.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        A sample as `draw` or `read_points` returns it.

    Returns
    -------
    dict
        {map class: mapped area of its stratum in hectares}.
    """
    first = points.groupby("stratum")[["stratum_pixels", "pixel_area_ha"]].first()
    return {int(c): float(row.stratum_pixels * row.pixel_area_ha) for c, row in first.iterrows()}


def estimate(points) -> metrics.StratifiedEstimate:
    """Accuracy and areas with 95% intervals from the labelled points (Olofsson et al. 2014).

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        A sample as `draw` or `read_points` returns it.

    Returns
    -------
    metrics.StratifiedEstimate
        Areas in hectares.

    Raises
    ------
    ValueError
        If a stratum has fewer than two labelled points.
    """
    used = labelled(points)
    return metrics.estimate_from_points(used["map_class"].to_numpy(), used[LABEL].to_numpy(np.int64), stratum_areas_ha(points))


def area_table(points) -> pd.DataFrame:
    """Per class: the pixel-count area, the error-adjusted area and its 95% interval.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        A sample as `draw` or `read_points` returns it.

    Returns
    -------
    pandas.DataFrame
        Columns pixel_area_ha, estimated_area_ha, ci95_low_ha, ci95_high_ha, indexed by class.

    Raises
    ------
    ValueError
        As `estimate`.
    """
    table = estimate(points).table
    return pd.DataFrame({
        "pixel_area_ha": table["mapped_area"],
        "estimated_area_ha": table["area"],
        "ci95_low_ha": table["area"] - table["area_ci"],
        "ci95_high_ha": table["area"] + table["area_ci"],
    })


def _plain(value) -> float | None:
    return None if pd.isna(value) else float(value)


def accuracy_report(points) -> dict:
    """The estimated error matrix and accuracies, JSON-ready (what `lulc accuracy --points --json` prints).

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        A sample as `draw` or `read_points` returns it.

    Returns
    -------
    dict
        "orientation", "labels", "proportions" (area proportions, rows = map), "overall_accuracy" and its
        "overall_accuracy_ci95" half-width, "per_class" UA and PA with half-widths, "points_used"; NaN
        (undefined) becomes None.

    Raises
    ------
    ValueError
        As `estimate`.
    """
    result = estimate(points)
    return {
        "orientation": "rows = map, columns = reference; cells are proportions of the frame's area",
        "labels": [int(c) for c in result.proportions.index],
        "proportions": result.proportions.to_numpy().tolist(),
        "overall_accuracy": result.overall_accuracy,
        "overall_accuracy_ci95": result.overall_accuracy_ci,
        "per_class": {str(c): {k: _plain(row[k]) for k in ("UA", "UA_ci", "PA", "PA_ci")} for c, row in result.table.iterrows()},
        "points_used": int(len(labelled(points))),
    }


def area_report(points) -> dict:
    """`area_table` and overall accuracy, JSON-ready (what `lulc area --json` prints).

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        A sample as `draw` or `read_points` returns it.

    Returns
    -------
    dict
        "classes" ({class: pixel_area_ha, estimated_area_ha, ci95_ha}), "overall_accuracy" and its interval,
        "total_area_ha", "points_used", "points_left_out".

    Raises
    ------
    ValueError
        As `estimate`.
    """
    result = estimate(points)
    table = area_table(points)
    used = labelled(points)
    return {
        "classes": {
            str(c): {"pixel_area_ha": float(row.pixel_area_ha), "estimated_area_ha": float(row.estimated_area_ha),
                     "ci95_ha": [float(row.ci95_low_ha), float(row.ci95_high_ha)]}
            for c, row in table.iterrows()
        },
        "overall_accuracy": result.overall_accuracy,
        "overall_accuracy_ci95": [result.overall_accuracy - result.overall_accuracy_ci,
                                  result.overall_accuracy + result.overall_accuracy_ci],
        "total_area_ha": float(table["pixel_area_ha"].sum()),
        "points_used": int(len(used)),
        "points_left_out": int(len(points) - len(used)),
    }


# ---------------------------------------------------------------- checking the estimator by simulation


def simulate(truth, classified: xr.DataArray, counts: pd.Series, class_id: int, repeats: int, seed: int = 0, region=None) -> pd.DataFrame:
    """Repeat the whole sample-label-estimate cycle against a complete truth, to check the intervals' coverage.

    Each repeat draws a fresh stratified sample, labels it from `truth` and estimates the area of `class_id`
    with its 95% interval. The frame is the mapped pixels inside `region` where `truth` has a class.

    Parameters
    ----------
    truth : array_like or xarray.DataArray
        Class codes on the map's grid (0 = unknown).
    classified : xarray.DataArray
        The class map (y, x) the sample is drawn from; 0 = unmapped.
    counts : pandas.Series
        Points per stratum in every repeat.
    class_id : int
        The class whose area is estimated.
    repeats : int
        Number of repeats.
    seed : int, default 0
        Seed of the draws.
    region : array_like, optional
        Where sampling may happen (True or non-zero = inside), on the map's grid, e.g. where a reference has a
        label. Default: the whole map.

    Returns
    -------
    pandas.DataFrame
        One row per repeat: estimate_ha, ci95_ha, low_ha, high_ha, covered; `attrs` holds true_area_ha,
        pixel_area_ha (the map's count) and points.

    Raises
    ------
    DataError
        If `truth` and the map differ in shape.
    """
    truth = np.asarray(getattr(truth, "values", truth))
    inside = frame(classified, _known(truth, classified, region))
    values = np.asarray(classified.values)
    unit = rasters.pixel_area_ha(classified)
    strata = {int(c): np.flatnonzero(inside & (values == c)) for c in counts.index}
    areas = {c: pixels.size * unit for c, pixels in strata.items()}
    flat_truth, flat_map = truth.ravel(), values.ravel()
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(repeats):
        picked = np.concatenate([rng.choice(strata[c], size=int(n), replace=False) for c, n in counts.items()])
        table = metrics.estimate_from_points(flat_map[picked], flat_truth[picked], areas).table
        area, ci = (float(table.loc[class_id, k]) if class_id in table.index else 0.0 for k in ("area", "area_ci"))
        rows.append({"estimate_ha": area, "ci95_ha": ci})
    result = pd.DataFrame(rows)
    true_area = float(np.count_nonzero(inside & (truth == class_id)) * unit)
    result["low_ha"], result["high_ha"] = result.estimate_ha - result.ci95_ha, result.estimate_ha + result.ci95_ha
    result["covered"] = (result.low_ha <= true_area) & (true_area <= result.high_ha)
    result.attrs.update(true_area_ha=true_area, pixel_area_ha=areas.get(class_id, 0.0), points=int(counts.sum()))
    return result


def _known(truth: np.ndarray, classified: xr.DataArray, region) -> np.ndarray:
    """Where the truth has a class (and inside `region`, if given): the part of the map a simulation can use."""
    if truth.shape != classified.shape:
        raise errors.DataError(f"truth {truth.shape} and map {classified.shape} differ in shape")
    known = truth != scheme.NODATA
    return known if region is None else known & np.asarray(getattr(region, "values", region), bool)


def coverage_by_size(truth, classified: xr.DataArray, sizes_n, class_id: int, repeats: int, allocation: str = "proportional",
                     seed: int = 0, region=None) -> pd.DataFrame:
    """`simulate` at several total sample sizes.

    Parameters
    ----------
    truth : array_like or xarray.DataArray
        Class codes on the map's grid (0 = unknown).
    classified : xarray.DataArray
        The class map (y, x) the sample is drawn from; 0 = unmapped.
    sizes_n : iterable of int
        Total sample sizes to try.
    class_id : int
        The class whose area is estimated.
    repeats : int
        Repeats per size.
    allocation : str, default "proportional"
        As in `allocate`.
    seed : int, default 0
        Seed of the draws.
    region : array_like, optional
        Where sampling may happen (True or non-zero = inside), on the map's grid, e.g. where a reference has a
        label. Default: the whole map.

    Returns
    -------
    pandas.DataFrame
        Indexed by the points actually drawn: coverage of the 95% intervals, mean_ci95_ha, sd_estimate_ha,
        mean_estimate_ha, true_area_ha.

    Raises
    ------
    DataError
        If `truth` and the map differ in shape.
    """
    truth_values = np.asarray(getattr(truth, "values", truth))
    sizes = stratum_sizes(classified, _known(truth_values, classified, region))
    rows = {}
    for n in sizes_n:
        runs = simulate(truth_values, classified, allocate(int(n), sizes, allocation), class_id, repeats, seed, region)
        rows[int(runs.attrs["points"])] = {"coverage": runs.covered.mean(), "mean_ci95_ha": runs.ci95_ha.mean(),
                                           "sd_estimate_ha": runs.estimate_ha.std(ddof=1), "mean_estimate_ha": runs.estimate_ha.mean(),
                                           "true_area_ha": runs.attrs["true_area_ha"]}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("points")
