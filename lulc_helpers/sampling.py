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
    """Boolean mask of the pixels that can be sampled: mapped (not 0) and inside `region` (an array, True or
    non-zero = inside), e.g. where a reference has a label."""
    inside = np.asarray(classified.values) != scheme.NODATA
    if region is not None:
        region = np.asarray(getattr(region, "values", region))
        if region.shape != inside.shape:
            raise errors.DataError(f"region {region.shape} and map {inside.shape} differ in shape")
        inside &= region.astype(bool)
    return inside


def stratum_sizes(classified: xr.DataArray, region=None) -> pd.Series:
    """Pixels per map class inside the frame (index: class code, 0 never included)."""
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
    """Total points for a stratified random sample so that the standard error of OA is about `target_se`.

    Olofsson et al. (2014), Eq. 13 (Cochran 1977, Eq. 5.25): n = (sum W_i S_i)^2 / (S(O)^2 + sum W_i S_i^2 / N),
    with W_i the stratum's share of the mapped area, S_i = sqrt(U_i (1 - U_i)) from the anticipated
    user's accuracy U_i, and N the pixels in the frame. Rounded up.
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
    """("proportional" | "equal" | "min", minimum per stratum) from "proportional", "equal" or "min:N"."""
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
    """Points per stratum: `proportional` to mapped area, `equal`, or `min:N` (proportional, but no stratum below N,
    Olofsson et al.'s advice for rare classes: the rest is shared proportionally among the larger strata).

    Every stratum gets at least two points (the variance estimators need them) and never more than its pixels
    (a stratum that small is censused), so the total can differ slightly from `n`.
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
    """A stratified draw without replacement: positions in `codes` (1-D), `counts[c]` of those holding class c,
    drawn class by class in the order of `counts`, each class's positions sorted.

    A class with fewer positions than asked raises ValueError, or with `partial` gives all it has; the second
    value records those as {class: (asked, got)}.
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
    """A stratified random sample (GeoDataFrame of pixel centres in the map's CRS), `counts[c]` points
    drawn without replacement from the frame's pixels of map class c, with an empty `label` column."""
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
    """`draw` with `allocate(n)` points, n given or from `sample_size(target_se)` (exactly one of the two)."""
    if (n is None) == (target_se is None):
        raise ValueError("give either a sample size n or a target standard error of OA")
    sizes = stratum_sizes(classified, region)
    if sizes.empty:
        raise errors.DataError(f"{classified.attrs.get('source', 'map')}: no mapped pixel to sample")
    total = n if n is not None else sample_size(sizes, target_se, anticipated_ua)
    return draw(classified, allocate(total, sizes, allocation), seed, region)


# ---------------------------------------------------------------- labels


def label_from(points, reference, field: str | None = None, source: str | None = None):
    """A copy of `points` with `label` filled from a reference: a class raster (DataArray or GeoTIFF path) or
    polygons (GeoDataFrame from `labels.read_reference`, or a vector file path, class in `field`). Points where the
    reference has no class keep their label (empty until labelled); `label_source` names the reference."""
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
    """Give the point at position `index` a class (1..10) or UNSURE (0); returns the points."""
    if label != UNSURE:
        scheme.get(label)  # raises UnknownClassError for a code outside the scheme
    points.loc[points.index[index], LABEL] = label
    points.loc[points.index[index], "label_source"] = source
    return points


def first_unlabelled(points) -> int | None:
    """Position of the first point without a label, None when every point has one."""
    empty = np.flatnonzero(points[LABEL].isna().to_numpy())
    return int(empty[0]) if empty.size else None


# ---------------------------------------------------------------- the points file


def write_points(points, path: str | os.PathLike) -> Path:
    """Write the points as a GeoPackage (layer "points"), atomically: the file is read back and its point
    count and labels compared before it replaces `path`, so an interrupted write keeps the previous labels."""
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
    """The points of a sample file written by `write_points` (labels as nullable integers); `field` names
    another column to take the reference labels from (it replaces `label`)."""
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
    """Raise DataError unless every point's map class is the map's class at that point (the right map)."""
    found = rasters.values_at_points(classified, points)
    wrong = int((found != points["map_class"].to_numpy()).sum())
    if wrong:
        raise errors.DataError(
            f"{points.attrs.get('source', 'points')}: {wrong} of {len(points)} points have another class in "
            f"{classified.attrs.get('source', 'the map')} than when drawn; were they drawn from this map?"
        )


# ---------------------------------------------------------------- estimates


def labelled(points):
    """The points with a reference class (not empty, not unsure)."""
    return points[points[LABEL].notna() & (points[LABEL] != UNSURE)]


def stratum_areas_ha(points) -> dict[int, float]:
    """{map class: mapped area of its stratum in hectares} from the design recorded on the points."""
    first = points.groupby("stratum")[["stratum_pixels", "pixel_area_ha"]].first()
    return {int(c): float(row.stratum_pixels * row.pixel_area_ha) for c, row in first.iterrows()}


def estimate(points) -> metrics.StratifiedEstimate:
    """Accuracy and areas (hectares) with 95% intervals from the labelled points (Olofsson et al. 2014)."""
    used = labelled(points)
    return metrics.estimate_from_points(used["map_class"].to_numpy(), used[LABEL].to_numpy(np.int64), stratum_areas_ha(points))


def area_table(points) -> pd.DataFrame:
    """Per class: pixel-count area, error-adjusted area and its 95% interval, all in hectares."""
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
    """The estimated error matrix (area proportions), OA, UA and PA with 95% half-widths, JSON-ready
    (what `lulc accuracy --points --json` prints); NaN (undefined) becomes null."""
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
    """`area_table` and overall accuracy as plain JSON-ready values (what `lulc area --json` prints)."""
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
    """Repeat the whole sample-label-estimate cycle against a complete `truth` (class codes on the map's grid).

    Each repeat draws a fresh stratified sample with `counts` points per stratum, labels it from `truth`
    and estimates the area of `class_id` (hectares) with its 95% interval. The frame is the mapped pixels
    inside `region` where `truth` has a class. Returns one row per repeat: estimate, ci, low, high, covered,
    with the true area in `attrs["true_area_ha"]` and the map's pixel count in `attrs["pixel_area_ha"]`.
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
    """`simulate` at several total sample sizes: per size, the coverage of the 95% intervals, their mean
    half-width and the spread (standard deviation) of the estimates, in hectares."""
    truth_values = np.asarray(getattr(truth, "values", truth))
    sizes = stratum_sizes(classified, _known(truth_values, classified, region))
    rows = {}
    for n in sizes_n:
        runs = simulate(truth_values, classified, allocate(int(n), sizes, allocation), class_id, repeats, seed, region)
        rows[int(runs.attrs["points"])] = {"coverage": runs.covered.mean(), "mean_ci95_ha": runs.ci95_ha.mean(),
                                           "sd_estimate_ha": runs.estimate_ha.std(ddof=1), "mean_estimate_ha": runs.estimate_ha.mean(),
                                           "true_area_ha": runs.attrs["true_area_ha"]}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("points")
