"""Screening for possibly unpermitted open-pit mining (the paper's Section 4.2).

A quarry candidate is an 8-connected patch of class 10 (`scheme.QUARRY`) pixels of a classified
map, turned into a polygon with its area in hectares. Candidates are compared with a layer of
permitted (or known) extraction areas: a candidate is flagged when more than `max_excess_ha` of it
lies further than `margin_m` outside every permitted area. Extent change between dates counts
quarry pixels per date and maps where quarries appeared or disappeared.

A flag is a prompt to look, not evidence: the classification has errors, and permitted-area
layers are often approximate or out of date. All areas and distances are in the map's projected
CRS (metres); a permitted layer in another CRS is reprojected to it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from . import errors, labels, outputs, rasters, scheme
from .rasters import check_aligned, pixel_area_ha

M2_PER_HA = 10_000.0
_AREA_EPS_HA = 1e-4  # 1 m²: below this, a difference is floating-point noise of the overlay
STATUSES = ("outside", "extends beyond", "inside", "not checked")
_FLAGGED_STATUSES = ("outside", "extends beyond")
CANDIDATE_COLUMNS = {
    "id": "int64",
    "area_ha": "float64",
    "overlap_ha": "float64",  # inside the permitted areas
    "excess_ha": "float64",  # further than the margin outside every permitted area
    "distance_m": "float64",  # to the nearest permitted area, 0 when touching or overlapping it
    "nearest_permitted": "object",
    "status": "object",
    "flagged": "bool",
}
_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON"}


# ---------------------------------------------------------------- quarry polygons


def open_classified(path: str | os.PathLike) -> xr.DataArray:
    """Open a classified map for screening.

    Parameters
    ----------
    path : str or os.PathLike
        A single-band GeoTIFF of class codes 0..10.

    Returns
    -------
    xarray.DataArray
        The class map.

    Raises
    ------
    DataError
        Naming the file, if it cannot be read as a class map or holds no quarry pixel.
    UnknownClassError
        For codes outside the scheme.
    """
    classified = rasters.open_class_map(path)
    if not (classified.values == scheme.QUARRY).any():
        raise errors.DataError(
            f"{path}: no class {scheme.QUARRY} ({scheme.get(scheme.QUARRY).name}) pixels, so there is nothing "
            "to screen; is it a classification in the lulc-mining scheme?"
        )
    return classified


def _metric_crs(raster: xr.DataArray, what: str):
    crs = raster.rio.crs
    if crs is None or not crs.is_projected:
        raise errors.DataError(
            f"{raster.attrs.get('source', what)}: CRS {crs} is not projected; areas in hectares need metres "
            "(reproject the map to UTM first)"
        )
    return crs


def quarry_pixels(classified: xr.DataArray, clean_radius: int = 0) -> np.ndarray:
    """Where the map shows quarries, optionally cleaned of specks.

    Parameters
    ----------
    classified : xarray.DataArray
        A class map (y, x) of the scheme; quarries are class 10.
    clean_radius : int, default 0
        Above 0: a morphological opening with a (2r+1)-pixel square, which removes specks and spurs narrower than
        that square.

    Returns
    -------
    numpy.ndarray
        Boolean quarry mask on the map's grid.
    """
    from scipy import ndimage

    quarry = np.asarray(classified.values) == scheme.QUARRY
    if clean_radius > 0:
        quarry = ndimage.binary_opening(quarry, structure=np.ones((2 * clean_radius + 1,) * 2, dtype=bool))
    return quarry


def _polygons(selected: np.ndarray, like: xr.DataArray, min_area_ha: float):
    """8-connected patches of `selected` as a GeoDataFrame (id, area_ha), largest first."""
    import geopandas as gpd
    from rasterio import features
    from scipy import ndimage
    from shapely.geometry import shape
    from shapely.ops import unary_union

    crs = _metric_crs(like, "classified map")
    patches, _ = ndimage.label(selected, structure=np.ones((3, 3), dtype=bool))
    pieces: dict[int, list] = {}
    # shapes() traces 4-connected pieces; pieces of one 8-connected patch are merged below
    for geometry, value in features.shapes(
        patches.astype(np.int32), mask=selected, transform=like.rio.transform()
    ):
        pieces.setdefault(int(value), []).append(shape(geometry))
    geometries = [unary_union(parts) for parts in pieces.values()]
    frame = gpd.GeoDataFrame({"area_ha": [g.area / M2_PER_HA for g in geometries]}, geometry=geometries, crs=crs)
    frame = frame[frame["area_ha"] >= min_area_ha].sort_values("area_ha", ascending=False, ignore_index=True)
    frame.insert(0, "id", np.arange(1, len(frame) + 1, dtype=np.int64))
    return frame


def quarry_polygons(classified: xr.DataArray, min_area_ha: float = 0.5, clean_radius: int = 0):
    """Quarry patches as polygons: 8-connected class-10 pixels of at least `min_area_ha`.

    Parameters
    ----------
    classified : xarray.DataArray
        A class map (y, x) of the scheme; quarries are class 10.
    min_area_ha : float, default 0.5
        Smallest patch kept, in hectares.
    clean_radius : int, default 0
        As in `quarry_pixels`.

    Returns
    -------
    geopandas.GeoDataFrame
        `id` (1 = largest), `area_ha` and the polygon, in the map's CRS.

    Raises
    ------
    OptionError
        If a threshold is negative or not finite.
    """
    _check_thresholds(min_area_ha=min_area_ha, clean_radius=clean_radius)
    return _polygons(quarry_pixels(classified, clean_radius), classified, min_area_ha)


def _check_thresholds(**values: float) -> None:
    """OptionError unless every value is a finite number of at least 0 (NaN would compare false with everything)."""
    for name, value in values.items():
        if not math.isfinite(value) or value < 0:
            raise errors.OptionError(f"{name} {value}: must be a finite number, 0 or more")


# ---------------------------------------------------------------- permitted areas


def read_permitted(path: str | os.PathLike, layer: str | None = None):
    """Read permitted or known extraction areas from any vector file GDAL reads (GeoPackage, GeoJSON, shapefile...).

    Invalid polygons are repaired (`labels.repair_geometries`) and counted in ``.attrs["repaired"]``; other
    geometry types are dropped.

    Parameters
    ----------
    path : str or os.PathLike
        The vector file.
    layer : str, optional
        The layer to read (default: the first).

    Returns
    -------
    geopandas.GeoDataFrame
        The polygons, in the file's CRS.

    Raises
    ------
    DataError
        Naming the file, if it is missing or unreadable, has no CRS or no polygons.
    """
    import geopandas as gpd

    path = Path(path)
    if not path.exists():
        raise errors.DataError(f"{path}: no such permitted-areas file")
    try:
        frame = gpd.read_file(path, layer=layer)
    except Exception as err:  # pyogrio raises several types for unreadable files
        raise errors.DataError(f"{path}: not a readable vector file of permitted areas ({err})") from err
    if frame.crs is None:
        raise errors.DataError(f"{path}: has no CRS, so it cannot be matched to the map")
    polygonal = frame[frame.geometry.notna() & frame.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polygonal.empty:
        raise errors.DataError(f"{path}: holds no polygons (geometry types: {sorted(set(frame.geom_type.dropna()))})")
    return labels.repair_geometries(polygonal.reset_index(drop=True), str(path))


def screen(candidates, permitted=None, margin_m: float = 10.0, max_excess_ha: float = 0.5, name_field: str | None = None):
    """Compare quarry candidates with permitted areas.

    A candidate's excess is its area further than `margin_m` from every permitted area. Its status is `inside`
    (excess at most `max_excess_ha`, so a sliver next to a permitted area counts as inside), else
    `extends beyond` (it overlaps a permitted area) or `outside` (it does not); `not checked` when `permitted`
    is None. `flagged` is True for `extends beyond` and `outside`. A flag is a prompt to look, not evidence of
    illegal mining.

    Parameters
    ----------
    candidates : geopandas.GeoDataFrame
        Quarry polygons (`quarry_polygons`).
    permitted : geopandas.GeoDataFrame, optional
        Permitted areas (`read_permitted`), reprojected to the candidates' CRS.
    margin_m : float, default 10.0
        Distance from a permitted area within which a candidate's area counts as inside, in metres.
    max_excess_ha : float, default 0.5
        Excess area up to which a candidate still counts as inside, in hectares.
    name_field : str, optional
        The permitted areas' field that `nearest_permitted` holds (default: their index).

    Returns
    -------
    geopandas.GeoDataFrame
        The candidates with CANDIDATE_COLUMNS: overlap, excess, distance to the nearest permitted area, its
        name, status and flag.

    Raises
    ------
    OptionError
        If a threshold is negative or not finite.
    """
    import geopandas as gpd

    _check_thresholds(margin_m=margin_m, max_excess_ha=max_excess_ha)
    frame = candidates[["id", "area_ha", "geometry"]].copy()
    if permitted is None:
        frame = frame.assign(
            overlap_ha=np.nan, excess_ha=np.nan, distance_m=np.nan, nearest_permitted=None, status="not checked"
        )
        return _finish(frame)
    source = permitted.attrs.get("source", "permitted areas")
    try:
        permitted = permitted.to_crs(frame.crs)
    except Exception as err:
        raise errors.DataError(f"{source}: cannot be reprojected to {frame.crs} ({err})") from err
    if name_field is not None and name_field not in permitted.columns:
        fields = [c for c in permitted.columns if c != "geometry"]
        raise errors.DataError(f"{source}: no field {name_field!r}; its fields are {fields}")
    names = permitted[name_field].astype(str) if name_field else pd.Series(permitted.index.astype(str))
    allowed = permitted.geometry.union_all()
    zone = allowed.buffer(margin_m) if margin_m > 0 else allowed
    frame["overlap_ha"] = frame.geometry.intersection(allowed).area / M2_PER_HA
    frame["excess_ha"] = frame.geometry.difference(zone).area / M2_PER_HA
    targets = gpd.GeoDataFrame({"nearest_permitted": names.to_numpy()}, geometry=permitted.geometry.to_numpy(), crs=frame.crs)
    nearest = gpd.sjoin_nearest(frame[["id", "geometry"]], targets, how="left", distance_col="distance_m")
    nearest = nearest.drop_duplicates("id").set_index("id")  # ties: keep one nearest area
    frame["distance_m"] = frame["id"].map(nearest["distance_m"])
    frame["nearest_permitted"] = frame["id"].map(nearest["nearest_permitted"])
    beyond = frame["excess_ha"] > max_excess_ha + _AREA_EPS_HA
    overlaps = frame["overlap_ha"] > _AREA_EPS_HA
    frame["status"] = np.where(~beyond, "inside", np.where(overlaps, "extends beyond", "outside"))
    return _finish(frame)


def _finish(frame):
    frame["flagged"] = frame["status"].isin(_FLAGGED_STATUSES)
    frame = frame[[*CANDIDATE_COLUMNS, "geometry"]]
    return frame.astype(CANDIDATE_COLUMNS)


def screening_summary(screened) -> pd.DataFrame:
    """Candidates and hectares per status.

    Parameters
    ----------
    screened : geopandas.GeoDataFrame
        Candidates as `screen` returns them.

    Returns
    -------
    pandas.DataFrame
        One row per status present, plus a row `all`: status, candidates, area_ha.
    """
    table = screened.groupby("status")["area_ha"].agg(candidates="size", area_ha="sum")
    table = table.reindex([s for s in STATUSES if s in table.index])
    table.loc["all"] = [len(screened), screened["area_ha"].sum()]
    return table.astype({"candidates": "int64"}).reset_index()


# ---------------------------------------------------------------- writing


def write_candidates(screened, path: str | os.PathLike, layer: str = "candidates") -> Path:
    """Write the screened candidates atomically; an empty result is still a valid layer with the full schema.

    Parameters
    ----------
    screened : geopandas.GeoDataFrame
        Candidates as `screen` returns them.
    path : str or os.PathLike
        A .gpkg, .geojson or .json file.
    layer : str, default "candidates"
        The GeoPackage layer.

    Returns
    -------
    Path
        `path`.

    Raises
    ------
    DataError
        For another file suffix.
    OutputError
        If the write fails or the file does not read back with every row.
    """
    path = Path(path)
    driver = _DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise errors.DataError(f"{path}: unsupported output format; use .gpkg or .geojson")
    import geopandas as gpd

    options = {"layer": layer} if driver == "GPKG" else {}
    with outputs.atomic_output(path, _reads_back(path, len(screened), lambda tmp: gpd.read_file(tmp, **options))) as tmp:
        try:
            screened.to_file(tmp, driver=driver, geometry_type="MultiPolygon", promote_to_multi=True, **options)
        except OSError:
            raise
        except Exception as err:  # pyogrio reports a failed write (full disk, ...) with its own types
            raise errors.OutputError(f"{path}: could not write: {err}") from err
    return path


def write_summary_csv(screened, path: str | os.PathLike) -> Path:
    """Write one CSV row per candidate (its attributes and a point inside it, in the layer's CRS), atomically.

    Parameters
    ----------
    screened : geopandas.GeoDataFrame
        Candidates as `screen` returns them.
    path : str or os.PathLike
        The CSV file.

    Returns
    -------
    Path
        `path`.

    Raises
    ------
    OutputError
        If the write fails or the file does not read back with every row.
    """
    inside = screened.geometry.representative_point()
    table = pd.DataFrame(screened.drop(columns="geometry")).assign(x=inside.x.round(1), y=inside.y.round(1))
    path = Path(path)
    with outputs.atomic_output(path, _reads_back(path, len(table), pd.read_csv)) as tmp:
        table.to_csv(tmp, index=False)
    return path


def _reads_back(path: Path, rows: int, read):
    """A check for `outputs.atomic_output`: the written table reads back with `rows` rows."""

    def verify(tmp: Path) -> None:
        try:
            ok = len(read(tmp)) == rows
        except Exception:  # any reader failure means the file is damaged
            ok = False
        if not ok:
            raise errors.OutputError(f"{path}: the written file does not read back with its {rows} rows")

    return verify


# ---------------------------------------------------------------- change over time


def _change_masks(before: np.ndarray, after: np.ndarray) -> dict[str, np.ndarray]:
    """Where quarries appeared or disappeared; only pixels labelled at both dates count as change.
    Quarry pixels unlabelled (0) at the other date are kept apart, so that net change =
    gained - lost + earlier unlabelled - later unlabelled."""
    quarry_before, quarry_after = before == scheme.QUARRY, after == scheme.QUARRY
    return {
        "gained": quarry_after & (before != scheme.NODATA) & ~quarry_before,
        "lost": quarry_before & (after != scheme.NODATA) & ~quarry_after,
        "earlier unlabelled": quarry_after & (before == scheme.NODATA),
        "later unlabelled": quarry_before & (after == scheme.NODATA),
    }


def quarry_change(rasters: Mapping[str, xr.DataArray]) -> pd.DataFrame:
    """Quarry area per date and its change from the previous date.

    With sparse reference masks (0 = unlabelled) net change mixes real change and labelling; gained and lost
    count only pixels labelled at both dates, and change = gained - lost + earlier unlabelled - later unlabelled.

    Parameters
    ----------
    rasters : mapping of str to xarray.DataArray
        Class maps by date, in time order, all on one grid.

    Returns
    -------
    pandas.DataFrame
        Columns date, quarry_ha, change_ha (net), gained_ha, lost_ha, earlier_unlabelled_ha,
        later_unlabelled_ha.

    Raises
    ------
    ValueError
        If no raster is given.
    GridMismatchError
        If the maps are not on one grid.
    """
    dates = list(rasters)
    if not dates:
        raise ValueError("quarry_change needs at least one raster")
    first = rasters[dates[0]]
    for date in dates[1:]:
        check_aligned(first, rasters[date], f"{dates[0]} map", f"{date} map")
    pixel_ha = pixel_area_ha(first)
    rows, previous = [], None
    for date in dates:
        values = np.asarray(rasters[date].values)
        row = {"date": date, "quarry_ha": (values == scheme.QUARRY).sum() * pixel_ha}
        if previous is not None:
            row["change_ha"] = row["quarry_ha"] - rows[-1]["quarry_ha"]
            row.update({f"{k.replace(' ', '_')}_ha": m.sum() * pixel_ha for k, m in _change_masks(previous, values).items()})
        rows.append(row)
        previous = values
    columns = ["date", "quarry_ha", "change_ha", "gained_ha", "lost_ha", "earlier_unlabelled_ha", "later_unlabelled_ha"]
    return pd.DataFrame(rows).reindex(columns=columns)


def change_polygons(before: xr.DataArray, after: xr.DataArray, min_area_ha: float = 0.0):
    """Where quarries changed between two maps on one grid, as polygons.

    Parameters
    ----------
    before, after : xarray.DataArray
        The earlier and the later class map.
    min_area_ha : float, default 0.0
        Smallest patch kept, in hectares.

    Returns
    -------
    geopandas.GeoDataFrame
        `change` (gained, lost, earlier unlabelled, later unlabelled), `area_ha` and the polygon, in the later
        map's CRS.

    Raises
    ------
    GridMismatchError
        If the maps are not on one grid.
    """
    import geopandas as gpd

    rasters.check_aligned(before, after, "earlier map", "later map")
    parts = [
        _polygons(mask, after, min_area_ha).assign(change=kind)
        for kind, mask in _change_masks(np.asarray(before.values), np.asarray(after.values)).items()
    ]
    frame = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(frame[["change", "area_ha", "geometry"]], geometry="geometry", crs=after.rio.crs)


# ---------------------------------------------------------------- demonstration layer


def demonstration_permitted(mask: xr.DataArray, derived_from: str, buffer_m: float = 20.0, min_area_ha: float = 0.5):
    """A stand-in for a permitted-areas layer, built from data at hand. NOT official.

    The quarry patches of `mask` (for example the earliest reference labels), buffered and merged; the
    `source` field says that the layer is a demonstration and what it was derived from.

    Parameters
    ----------
    mask : xarray.DataArray
        A class map (y, x) whose quarries (class 10) become the areas.
    derived_from : str
        What the mask is, written into `source`.
    buffer_m : float, default 20.0
        Buffer around each patch, in metres.
    min_area_ha : float, default 0.5
        Smallest patch used, in hectares.

    Returns
    -------
    geopandas.GeoDataFrame
        `name`, `source` and the polygon, in the mask's CRS.
    """
    import geopandas as gpd

    patches = quarry_polygons(mask, min_area_ha=min_area_ha)
    merged = patches.geometry.buffer(buffer_m).union_all() if len(patches) else None
    geometries = list(getattr(merged, "geoms", [merged] if merged is not None else []))
    return gpd.GeoDataFrame(
        {
            "name": [f"demo area {i}" for i in range(1, len(geometries) + 1)],
            "source": f"DEMONSTRATION, not official: derived from {derived_from}",
        },
        geometry=geometries,
        crs=mask.rio.crs,
    )


# ---------------------------------------------------------------- figures
