"""Rasters on disk: Sentinel-2 images and class maps, read, checked, written; values at points; pixel area.

Images are 10 bands of surface reflectance x 10000 (uint16, band names B02..B12 as `BANDS`); class maps
(reference masks and classifications alike) are uint8 codes of `scheme`, 0 = no data / unlabelled. Every
class map the package writes goes through `write_class_map` or `write_class_map_blocks`: tiled or not, deflate,
the scheme's colour table, written atomically and read back (`outputs.atomic_output`).
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from . import scheme
from .errors import DataError, GridMismatchError, OutputError
from .outputs import atomic_output, gdal_errors_raise

BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")
REFLECTANCE_SCALE = 10000
# ESA processing baseline 04.00 (from 2022-01-25) adds 1000 to every L2A digital number; the paper's
# 2021 scenes lack the offset and its 2022-2023 scenes carry it (their darkest water is ~1000, not ~0).
BOA_ADD_OFFSET = 1000
BOA_OFFSET_SINCE = "20220125"


def _open(path: str | os.PathLike, lazy: bool = False) -> xr.DataArray:
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a raster")
    if not path.is_file():
        raise DataError(f"{path}: no such file (run `lulc fetch` or `make data` first)")
    try:
        opened = rioxarray.open_rasterio(path)
        return opened if lazy else opened.load()
    except Exception as err:  # rasterio raises several types for unreadable files
        raise DataError(f"{path}: not a readable raster ({gdal_reason(err)})") from err


def gdal_reason(err: BaseException) -> str:
    """GDAL's own reason for a failure, on one line.

    rasterio's "Read failed. See previous exception for details." names none and keeps the reason in its cause.

    Parameters
    ----------
    err : BaseException
        An exception rasterio raised.

    Returns
    -------
    str
        The innermost message that is not a pointer to another.
    """
    while err.__cause__ is not None and "previous exception" in str(err):
        err = err.__cause__
    return " ".join(str(err).split())


def open_image(path: str | os.PathLike, lazy: bool = False) -> xr.DataArray:
    """Open a 10-band Sentinel-2 image (band, y, x), bands named B02..B12 in the paper's order.

    The acquisition date (YYYYMMDD) in the file name, when there is one, goes to ``attrs["date"]``, which
    `reflectance` uses for the L2A offset.

    Parameters
    ----------
    path : str or os.PathLike
        A GeoTIFF (or any raster GDAL reads) with the 10 bands.
    lazy : bool, default False
        Read pixels only when they are used (a raster larger than memory, read in windows).

    Returns
    -------
    xarray.DataArray
        The digital numbers as stored, named after the file.

    Raises
    ------
    DataError
        Naming the file, if it is missing or unreadable, has another number of bands, a non-numeric pixel type
        or band descriptions in another order.
    """
    image = _open(path, lazy)
    if image.sizes["band"] != len(BANDS):
        raise DataError(
            f"{path}: {image.sizes['band']} bands, expected {len(BANDS)} ({' '.join(BANDS)}, in that order)"
        )
    if not np.issubdtype(image.dtype, np.integer) and not np.issubdtype(image.dtype, np.floating):
        raise DataError(f"{path}: pixel type {image.dtype} is not numeric")
    descriptions = image.attrs.get("long_name")
    if isinstance(descriptions, (tuple, list)) and all(descriptions) and tuple(descriptions) != BANDS:
        raise DataError(f"{path}: band descriptions {tuple(descriptions)} differ from the expected {BANDS}")
    image = image.assign_coords(band=list(BANDS))
    image.name = Path(path).stem
    image.attrs["source"] = str(path)
    date = re.search(r"(?<!\d)(20\d{6})(?!\d)", image.name)
    if date:
        image.attrs["date"] = date.group(1)
    return image


def reflectance(image: xr.DataArray, offset: int | None = None) -> xr.DataArray:
    """Surface reflectance (0..1, float32) from the stored digital numbers; 0 (no data) becomes NaN.

    Parameters
    ----------
    image : xarray.DataArray
        Digital numbers, surface reflectance x 10000 (`open_image`).
    offset : int, optional
        Subtracted first. Default: BOA_ADD_OFFSET (1000) for scenes acquired on or after BOA_OFFSET_SINCE
        (2022-01-25, processing baseline 04.00), 0 before, by the date `open_image` took from the file name.

    Returns
    -------
    xarray.DataArray
        Reflectance, with ``attrs["offset_removed"]``.

    Raises
    ------
    DataError
        If no offset is given and the image's date is unknown.
    """
    if offset is None:
        date = image.attrs.get("date")
        if date is None:
            raise DataError(
                f"{source_name(image, 'image')}: acquisition date unknown, so the L2A offset is too; pass offset=0 or 1000"
            )
        offset = BOA_ADD_OFFSET if date >= BOA_OFFSET_SINCE else 0
    result = xr.apply_ufunc(_reflectance_values, image, kwargs={"offset": offset}, dask="parallelized",
                            output_dtypes=[np.float32])
    result.attrs = {**image.attrs, "units": "reflectance", "offset_removed": offset}
    return result.rio.write_crs(image.rio.crs, inplace=True)  # not a copy: the result is new


def _reflectance_values(numbers: np.ndarray, offset: int) -> np.ndarray:
    # In place on one float32 copy: each operation of the expression on arrays would map a new array of the
    # image's size, and a streamed block's first arrays cost more in page faults than in arithmetic.
    values = numbers.astype(np.float32)
    values -= offset
    values /= REFLECTANCE_SCALE
    values[numbers == 0] = np.nan
    return values


def open_class_map(path: str | os.PathLike, name: str | None = None) -> xr.DataArray:
    """Open a class map (y, x) as uint8 codes of the scheme: a reference mask or a classification alike.

    0 = unlabelled / no data, and so is the raster's declared nodata value (such as 255 or -9999).

    Parameters
    ----------
    path : str or os.PathLike
        A single-band raster of class codes.
    name : str, optional
        The DataArray's name (default: the file's stem).

    Returns
    -------
    xarray.DataArray
        uint8 codes 0..10.

    Raises
    ------
    DataError
        Naming the file, if it is missing or unreadable, has more than one band or non-integer codes.
    UnknownClassError
        For codes outside the scheme.
    """
    raw = _open(path)
    if raw.sizes["band"] != 1:
        raise DataError(f"{path}: {raw.sizes['band']} bands, a class map has one")
    values = np.nan_to_num(raw.values[0], nan=scheme.NODATA)
    declared = raw.rio.nodata
    if declared is not None and not np.isnan(declared):  # a declared nodata (255, -9999) means "no label"
        values = np.where(values == declared, scheme.NODATA, values)
    if not np.array_equal(values, np.round(values)):
        raise DataError(f"{path}: non-integer class codes")
    scheme.validate_codes(values, str(path))
    classes = raw.isel(band=0, drop=True).copy(data=values.astype(np.uint8))
    classes.rio.write_nodata(scheme.NODATA, inplace=True)
    classes.name = name or Path(path).stem
    classes.attrs["source"] = str(path)
    return classes


def source_name(da: xr.DataArray, fallback: str) -> str:
    """How to name a raster in a message.

    Parameters
    ----------
    da : xarray.DataArray
        The raster.
    fallback : str
        The name when it records no source.

    Returns
    -------
    str
        ``attrs["source"]``, else `fallback`.
    """
    return da.attrs.get("source", fallback)


def check_aligned(a: xr.DataArray, b: xr.DataArray, a_name: str | None = None, b_name: str | None = None) -> None:
    """Check that two rasters share a grid: CRS, transform and shape.

    Parameters
    ----------
    a, b : xarray.DataArray
        The rasters.
    a_name, b_name : str, optional
        Their names in the message (default: their sources).

    Raises
    ------
    GridMismatchError
        Naming both rasters and what differs.
    """
    a_name, b_name = a_name or source_name(a, "first raster"), b_name or source_name(b, "second raster")
    problems = []
    if a.rio.crs != b.rio.crs:
        problems.append(f"CRS {a.rio.crs} vs {b.rio.crs}")
    if (a.rio.height, a.rio.width) != (b.rio.height, b.rio.width):
        problems.append(f"shape {a.rio.height}x{a.rio.width} vs {b.rio.height}x{b.rio.width}")
    if not a.rio.transform().almost_equals(b.rio.transform(), precision=1e-6):
        problems.append(f"transform {tuple(a.rio.transform())[:6]} vs {tuple(b.rio.transform())[:6]}")
    if problems:
        raise GridMismatchError(f"{a_name} and {b_name} are not on the same grid: {'; '.join(problems)}")


CLASS_MAP_TILE = 256  # tile side of tiled class maps


def class_map_profile(height: int, width: int, crs, transform, tiled: bool = False) -> dict:
    """The GeoTIFF profile of every class map the package writes: uint8, nodata 0, deflate.

    Parameters
    ----------
    height, width : int
        Size in pixels.
    crs : rasterio.crs.CRS or str
        The map's CRS.
    transform : affine.Affine
        Its transform.
    tiled : bool, default False
        Tiles of CLASS_MAP_TILE (256) pixels.

    Returns
    -------
    dict
        A rasterio profile.
    """
    profile = {
        "driver": "GTiff", "height": height, "width": width, "count": 1, "dtype": "uint8",
        "crs": crs, "transform": transform, "nodata": scheme.NODATA, "compress": "deflate",
    }
    if tiled:
        profile.update(tiled=True, blockxsize=CLASS_MAP_TILE, blockysize=CLASS_MAP_TILE)
    return profile


def write_class_map(classes, path: str | os.PathLike, description: str = "class code (lulc_helpers.scheme)") -> Path:
    """Write a class map as a uint8 GeoTIFF with nodata 0 and the scheme's colour table, atomically.

    The written band is read back and compared before it replaces `path`.

    Parameters
    ----------
    classes : xarray.DataArray
        Class codes (y, x) with a CRS.
    path : str or os.PathLike
        The GeoTIFF.
    description : str
        The band's description.

    Returns
    -------
    Path
        `path`.

    Raises
    ------
    OutputError
        If the write fails or the file does not read back as written.
    """
    import rasterio

    path = Path(path)
    values = np.asarray(classes.values, dtype=np.uint8)
    profile = class_map_profile(classes.rio.height, classes.rio.width, classes.rio.crs, classes.rio.transform())

    def verify(tmp: Path) -> None:
        try:
            with rasterio.open(tmp) as written:
                ok = written.shape == values.shape and written.crs == profile["crs"] and np.array_equal(written.read(1), values)
        except rasterio.errors.RasterioError:
            ok = False
        if not ok:
            raise OutputError(f"{path}: the written file does not read back as what was written")

    with atomic_output(path, verify) as tmp:
        try:
            with gdal_errors_raise(path), rasterio.open(tmp, "w", **profile) as dst:
                dst.write(values, 1)
                dst.write_colormap(1, scheme.gdal_colour_table())
                dst.set_band_description(1, description)
        except rasterio.errors.RasterioError as err:
            raise OutputError(f"{path}: could not write: {err}") from err
    return path


class ClassMapBlocks:
    """The open class map of `write_class_map_blocks`: `write(row, col, codes)` puts one block in place and
    counts its pixels per code (`counts`, indexed by code), which the read-back check compares."""

    def __init__(self, dataset) -> None:
        self._dataset = dataset
        self.counts = np.zeros(256, dtype=np.int64)

    def write(self, row: int, col: int, codes: np.ndarray) -> None:
        from rasterio.windows import Window

        codes = np.asarray(codes, dtype=np.uint8)
        self._dataset.write(codes, 1, window=Window(col, row, codes.shape[1], codes.shape[0]))
        self.counts += np.bincount(codes.ravel(), minlength=256)


@contextlib.contextmanager
def write_class_map_blocks(
    path: str | os.PathLike, height: int, width: int, crs, transform,
    description: str = "class code (lulc_helpers.scheme)", cog: bool = False, inputs: Iterable = (),
) -> Iterator[ClassMapBlocks]:
    """Write a class map of any size block by block (a context manager).

    A tiled uint8 GeoTIFF, nodata 0, deflate, the scheme's colour table; a cloud-optimised GeoTIFF (overviews by
    nearest neighbour) with `cog`. Blocks should be whole tiles (multiples of CLASS_MAP_TILE) so that each
    compressed tile is written once. Atomic like `write_class_map`: the file appears under `path` only after the
    block ends without error and the file, read back tile by tile, holds as many pixels of each code as were
    written.

    Parameters
    ----------
    path : str or os.PathLike
        The GeoTIFF.
    height, width : int
        The map's size in pixels.
    crs : rasterio.crs.CRS or str
        Its CRS.
    transform : affine.Affine
        Its transform.
    description : str
        The band's description.
    cog : bool, default False
        Write a cloud-optimised GeoTIFF.
    inputs : iterable of str or os.PathLike
        The files the caller reads, which `path` must not be.

    Yields
    ------
    ClassMapBlocks
        ``write(row, col, codes)`` puts one block in place.

    Raises
    ------
    OutputCollision
        If `path` is one of `inputs` or not a regular file.
    OutputError
        If the write fails or the read-back counts differ.
    """
    import rasterio
    import rasterio.shutil

    path = Path(path)
    profile = class_map_profile(height, width, crs, transform, tiled=True)

    def verify(tmp: Path) -> None:
        found = np.zeros(256, dtype=np.int64)
        try:
            with rasterio.open(tmp) as written:
                ok = written.shape == (height, width) and written.crs == profile["crs"] and 10 in written.colormap(1)
                for _, window in written.block_windows(1):
                    found += np.bincount(written.read(1, window=window).ravel(), minlength=256)
        except (rasterio.errors.RasterioError, ValueError):
            ok = False
        if not ok or not np.array_equal(found, blocks.counts):
            raise OutputError(f"{path}: the written file does not read back as what was written")

    with atomic_output(path, verify, inputs) as tmp:
        tiles = tmp.with_name(f"{tmp.stem}.tiles{tmp.suffix}") if cog else tmp
        try:
            with gdal_errors_raise(path):
                with rasterio.open(tiles, "w", **profile) as dst:
                    dst.write_colormap(1, scheme.gdal_colour_table())
                    dst.set_band_description(1, description)
                    blocks = ClassMapBlocks(dst)
                    yield blocks
                if cog:
                    rasterio.shutil.copy(tiles, tmp, driver="COG", compress="DEFLATE", overview_resampling="NEAREST")
        except rasterio.errors.RasterioError as err:
            raise OutputError(f"{path}: could not write: {err}") from err
        finally:
            if cog:
                tiles.unlink(missing_ok=True)


def valid_pixels(image: np.ndarray) -> np.ndarray:
    """Where an image has data.

    Parameters
    ----------
    image : numpy.ndarray
        (band, y, x): reflectance (NaN = no data) or digital numbers (0 in every band = no data).

    Returns
    -------
    numpy.ndarray
        Boolean (y, x).
    """
    image = np.asarray(image)
    return np.isfinite(image).all(axis=0) & (image != 0).any(axis=0)


def check_image(image: xr.DataArray) -> None:
    """Check that an image can be classified: unsigned integer reflectance x 10000 in the paper's 10 bands, with a CRS.

    Parameters
    ----------
    image : xarray.DataArray
        The image (`open_image`).

    Raises
    ------
    DataError
        Naming the image and what is wrong.
    """
    source = image.attrs.get("source", image.name)
    if image.sizes.get("band") != len(BANDS):
        raise DataError(f"{source}: {image.sizes.get('band')} bands, expected {len(BANDS)} ({' '.join(BANDS)})")
    if not np.issubdtype(image.dtype, np.unsignedinteger):
        raise DataError(
            f"{source}: pixel type {image.dtype}; expected unsigned integer surface reflectance x 10000 (uint16) "
            "like the training images"
        )
    if image.rio.crs is None:
        raise DataError(f"{source}: has no CRS, so the map could not be placed; assign one (gdal_edit.py -a_srs EPSG:...)")


def values_at_points(raster: xr.DataArray, points: pd.DataFrame) -> np.ndarray:
    """The raster's value under each point.

    Parameters
    ----------
    raster : xarray.DataArray
        A single-band raster (y, x).
    points : geopandas.GeoDataFrame or pandas.DataFrame
        Points with a CRS (reprojected to the raster's first), or a table with `x` and `y` columns in the
        raster's CRS.

    Returns
    -------
    numpy.ndarray
        int64 values, 0 for points outside the raster.

    Raises
    ------
    DataError
        If points with a CRS are given and the raster has none.
    """
    if hasattr(points, "geometry") and getattr(points, "crs", None) is not None:
        if raster.rio.crs is None:
            raise DataError(f"{raster.attrs.get('source', 'raster')}: has no CRS, so the points cannot be placed on it")
        where = points.geometry.to_crs(raster.rio.crs)
        xs, ys = where.x.to_numpy(), where.y.to_numpy()
    else:
        xs, ys = points["x"].to_numpy(), points["y"].to_numpy()
    cols, rows = ~raster.rio.transform() * (xs, ys)
    rows, cols = np.floor(rows).astype(int), np.floor(cols).astype(int)
    inside = (rows >= 0) & (rows < raster.rio.height) & (cols >= 0) & (cols < raster.rio.width)
    values = np.zeros(len(points), dtype=np.int64)
    values[inside] = np.asarray(raster.values)[rows[inside], cols[inside]]
    return values


MAX_AREA_DISTORTION = 0.01  # UTM stays within 0.1 % near its zone; Web Mercator is 2.5 times too large at 50 deg N


def metres_per_unit(raster: xr.DataArray) -> float:
    """Metres per unit of a raster's CRS, once areas measured in it are known to be true.

    Every area and distance the package gives in hectares or metres goes through here (screening, sampling,
    areas). Areas are true to MAX_AREA_DISTORTION when the projection's areal scale at the raster's corners and
    centre stays that close to 1 (UTM, national grids, equal-area CRSs; not Web Mercator).

    Parameters
    ----------
    raster : xarray.DataArray
        A raster with a CRS.

    Returns
    -------
    float
        1 for metres, 0.3048 for feet, ...

    Raises
    ------
    DataError
        Naming the raster, if its CRS is missing, not projected or distorts areas more.
    """
    import pyproj

    name, crs = raster.attrs.get("source", "map"), raster.rio.crs
    if crs is None or not crs.is_projected:
        raise DataError(f"{name}: CRS {crs} is not projected, so areas in hectares cannot be measured in it "
                        "(reproject the map to its UTM zone first)")
    left, bottom, right, top = raster.rio.bounds()
    xs = np.array([left, right, left, right, (left + right) / 2])
    ys = np.array([top, top, bottom, bottom, (top + bottom) / 2])
    projection = pyproj.Proj(pyproj.CRS.from_wkt(crs.to_wkt()))
    scales = np.asarray(projection.get_factors(*projection(xs, ys, inverse=True)).areal_scale)
    worst = float(scales[np.argmax(np.abs(scales - 1))])
    if not abs(worst - 1) <= MAX_AREA_DISTORTION:
        raise DataError(f"{name}: CRS {crs} distorts areas by a factor of {worst:.3g} over the map, so its areas "
                        "would be wrong; reproject the map to an equal-area CRS or its UTM zone first")
    return float(crs.linear_units_factor[1])


def pixel_area_ha(classified: xr.DataArray) -> float:
    """The area of one pixel in hectares.

    Parameters
    ----------
    classified : xarray.DataArray
        A raster in a projected CRS that keeps areas (`metres_per_unit`), in any linear unit.

    Returns
    -------
    float
        Hectares per pixel.

    Raises
    ------
    DataError
        If the CRS is missing, not projected or distorts areas by more than MAX_AREA_DISTORTION.
    """
    transform = classified.rio.transform()
    return abs(transform.a * transform.e - transform.b * transform.d) * metres_per_unit(classified) ** 2 / 10_000
