"""The paper's data: manifest, verified download, the train/test split, and readers.

Every file of the data repository bh-del/lulc_mining is pinned in `manifest.tsv` (path, commit,
git blob SHA-1). `fetch()` downloads from GitHub at those commits, or copies from a local mirror
folder laid out like the repository (argument or the LULC_DATA_MIRROR environment variable),
verifies each file's blob SHA-1, and writes atomically, so a failed or corrupt file never lands.

Rasters come back as xarray DataArrays with a CRS (rioxarray). Masks are uint8 with 0 = unlabelled.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import http.client
import os
import re
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np
import xarray as xr

from . import outputs, scheme

if TYPE_CHECKING:
    import pandas as pd

RAW_URL = "https://raw.githubusercontent.com/bh-del/lulc_mining/{commit}/{path}"
MIRROR_ENV = "LULC_DATA_MIRROR"
DATA_DIR_ENV = "LULC_DATA_DIR"
BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")
REFLECTANCE_SCALE = 10000
# ESA processing baseline 04.00 (from 2022-01-25) adds 1000 to every L2A digital number; the paper's
# 2021 scenes lack the offset and its 2022-2023 scenes carry it (their darkest water is ~1000, not ~0).
BOA_ADD_OFFSET = 1000
BOA_OFFSET_SINCE = "20220125"


class DataError(RuntimeError):
    """A data file is missing, corrupt, or not what the code expects; the message names the file."""


class OptionError(ValueError):
    """An option or parameter has a value that cannot work (not finite, out of range, an unknown name);
    the message names it."""


class GridMismatchError(DataError):
    """Two rasters that must share a grid (image and mask, map and reference) do not."""


# ---------------------------------------------------------------- manifest and fetching


@dataclass(frozen=True)
class ManifestEntry:
    path: str
    commit: str
    blob_sha1: str
    size: int | None
    optional: bool

    @property
    def url(self) -> str:
        return RAW_URL.format(commit=self.commit, path=self.path)


def manifest() -> list[ManifestEntry]:
    text = resources.files(__package__).joinpath("manifest.tsv").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return [
        ManifestEntry(
            path=row["path"],
            commit=row["source_commit"],
            blob_sha1=row["git_blob_sha1"],
            size=None if row["size_bytes"] == "unknown" else int(row["size_bytes"]),
            optional=row["optional"] == "yes",
        )
        for row in csv.DictReader(lines, delimiter="\t")
    ]


def git_blob_sha1(path: str | os.PathLike) -> str:
    """The SHA-1 that `git hash-object` prints for a file."""
    path = Path(path)
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: cwd) holding pyproject.toml, else cwd.

    Notebooks run from notebooks/, the CLI from anywhere in the clone, Colab from /content:
    all of them find the same data/ and figures/.
    """
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or project_root() / "data")


@dataclass(frozen=True)
class FetchResult:
    path: str
    status: str  # verified | downloaded | missing-optional | FAILED
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "FAILED"


def fetch(
    dest: str | os.PathLike | None = None,
    mirror: str | os.PathLike | None = None,
    entries: Iterable[ManifestEntry] | None = None,
    report: Callable[[FetchResult], None] | None = None,
) -> list[FetchResult]:
    """Make every manifest file present and verified under `dest` (default: `data_dir()`).

    Source: `mirror` (or $LULC_DATA_MIRROR), a folder laid out like the repository; else GitHub.
    Files already present with the right blob SHA-1 are left alone. Each result is passed to
    `report` as soon as it is known. A file whose checksum fails is reported FAILED and not written;
    a local copy that fails its checksum and cannot be replaced is removed. Temp files of an
    interrupted earlier fetch are removed. Raises DataError for an entry path outside `dest` and
    `outputs.OutputError` when `dest` cannot be a folder.
    """
    dest = Path(dest) if dest is not None else data_dir()
    origin = "the mirror argument" if mirror is not None else f"${MIRROR_ENV}"
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    if mirror is not None:
        mirror = Path(mirror)
        if not mirror.is_dir():
            raise DataError(
                f"data mirror {mirror} (from {origin}) does not exist or is not a folder; "
                "point it at a copy of the bh-del/lulc_mining repository"
            )
    entries = list(entries if entries is not None else manifest())
    for entry in entries:
        inside = os.path.abspath(dest / entry.path)
        if Path(entry.path).is_absolute() or os.path.commonpath([inside, os.path.abspath(dest)]) != os.path.abspath(dest):
            raise DataError(f"manifest entry {entry.path}: lies outside the destination {dest}; refused")
    outputs.make_folder(dest)
    results = []
    for entry in entries:
        result = _fetch_one(entry, dest, mirror)
        results.append(result)
        if report is not None:
            report(result)
    return results


class _SourceError(Exception):
    """Reading the mirror or the download failed (as opposed to writing the destination)."""


class _SourceMissing(_SourceError):
    """The mirror or GitHub does not have the file."""


class _ChecksumMismatch(Exception):
    pass


def _fetch_one(entry: ManifestEntry, dest: Path, mirror: Path | None) -> FetchResult:
    target = dest / entry.path
    for left in target.parent.glob(f".{target.name}.*.part"):  # temp files of versions before outputs.py
        left.unlink(missing_ok=True)
    if target.is_file() and git_blob_sha1(target) == entry.blob_sha1:
        return FetchResult(entry.path, "verified")
    try:
        with outputs.atomic_output(target) as tmp:
            source = _copy_in(entry, mirror, tmp)
            actual = git_blob_sha1(tmp)
            if actual != entry.blob_sha1:
                raise _ChecksumMismatch(f"checksum mismatch from {source}: blob SHA-1 {actual}, expected {entry.blob_sha1}")
    except _SourceError as err:
        result = FetchResult(entry.path, "missing-optional" if entry.optional else "FAILED", str(err))
    except (_ChecksumMismatch, outputs.OutputError) as err:
        result = FetchResult(entry.path, "FAILED", str(err))
    else:
        return FetchResult(entry.path, "downloaded", f"from {source}")
    if target.is_file():  # a local copy that failed its checksum must not be read as data later
        with contextlib.suppress(OSError):
            target.unlink()
            result = FetchResult(result.path, result.status, f"{result.detail}; the corrupt local copy {target} was removed")
    return result


def _copy_in(entry: ManifestEntry, mirror: Path | None, tmp: Path) -> str:
    """Copy the entry from the mirror or GitHub into `tmp`; the source (path or URL) it came from.
    _SourceMissing when the source lacks it, _SourceError when reading it fails, OSError when writing fails."""
    if mirror is not None:
        source = mirror / entry.path
        if not source.exists() or source.is_dir():
            raise _SourceMissing(f"{entry.path} is not in the mirror {mirror}")
        try:
            reader = open(source, "rb")
        except OSError as err:
            raise _SourceError(f"could not read {source} from the mirror: {err.strerror or err}") from err
        with reader:
            _copy_stream(reader, tmp, f"could not read {source} from the mirror")
        return str(source)
    try:
        response = urllib.request.urlopen(entry.url, timeout=60)
    except urllib.error.HTTPError as err:
        if err.code == 404:
            raise _SourceMissing(f"{entry.url} answered 404") from err
        raise _SourceError(f"could not download {entry.url}: {err}") from err
    except (urllib.error.URLError, OSError) as err:
        raise _SourceError(f"could not download {entry.url}: {err}") from err
    with response:
        _copy_stream(response, tmp, f"could not download {entry.url}")
    return entry.url


def _copy_stream(reader, tmp: Path, read_failure: str) -> None:
    """Copy `reader` into `tmp` in chunks: read errors become _SourceError, write errors stay OSError."""
    with open(tmp, "wb") as out:
        while True:
            try:
                chunk = reader.read(1 << 20)
            except (OSError, http.client.HTTPException) as err:
                raise _SourceError(f"{read_failure}: {getattr(err, 'strerror', None) or err}") from err
            if not chunk:
                return
            out.write(chunk)


def ensure_data(dest: str | os.PathLike | None = None, verbose: bool = True) -> Path:
    """Fetch what is missing (quietly if all is there) and return the data folder.

    Raises DataError naming every file that failed; optional files that are missing are listed.
    """
    dest = Path(dest) if dest is not None else data_dir()
    results = fetch(dest)
    failed = [r for r in results if not r.ok]
    if failed:
        raise DataError("data files failed: " + "; ".join(f"{r.path} ({r.detail})" for r in failed))
    if verbose:
        fetched = sum(r.status == "downloaded" for r in results)
        missing = [r.path for r in results if r.status == "missing-optional"]
        print(f"Data in {dest}: {len(results) - len(missing)} files verified ({fetched} fetched now).")
        if missing:
            print(f"Not available, the notebooks go on without them: {', '.join(missing)}")
    return dest


# ---------------------------------------------------------------- scenes and the paper's split


@dataclass(frozen=True)
class Scene:
    region: str
    date: str
    split: str  # "train" or "test"
    mask: str
    image: str | None
    tile: str | None = None
    reference: str | None = None  # reference polygons (GeoPackage), test scenes only
    reference_field: str | None = None
    published_prediction: str | None = None  # the paper's U-Net output raster

    @property
    def name(self) -> str:
        return f"{self.region}_{self.date}" + (f"_{self.tile}" if self.tile else "")

    def has_image(self, root: Path | None = None) -> bool:
        return self.image is not None and ((root or data_dir()) / self.image).is_file()


def _train(region: str, date: str, stem: str, tile: str | None = None) -> Scene:
    return Scene(region, date, "train", f"training_masks/{stem}.tif", f"img_train/{stem}.tif", tile)


SCENES: tuple[Scene, ...] = (
    *(
        _train("strzegom", d, f"strzegom_{d}_33u")
        for d in ("20210619", "20220619", "20220719", "20221012", "20230209", "20230301")
    ),
    *(_train("kolbuszowa", d, f"kolbuszowa_{d}") for d in ("20210327", "20210411", "20210509", "20210728", "20210906")),
    *(_train("krakow", "20220603", f"krakow_20220603_34uda_{t}", tile=str(t)) for t in (1, 2, 3)),
    Scene(
        "strzegom",
        "20230709",
        "test",
        mask="test_mask/strzegom_20230709_33u.tif",
        image="img_train/strzegom_20230709_33u.tif",
        reference="test_mask/strzegom_ref.gpkg",
        reference_field="label",
        published_prediction="accuracy_analysis/strzegom_20230709_33u_class.tif",
    ),
    Scene(
        "kolbuszowa",
        "20210725",
        "test",
        mask="test_mask/kolbuszowa_20210725_ref.tif",
        image=None,  # not public; the U-Net's output raster is
        reference="test_mask/kolbuszowa_ref.gpkg",
        reference_field="DN",
        published_prediction="accuracy_analysis/kolbuszowa_20210725_34u_class.tif",
    ),
)


def scenes(split: str | None = None, region: str | None = None) -> list[Scene]:
    return [s for s in SCENES if (split is None or s.split == split) and (region is None or s.region == region)]


def test_scene(region: str = "strzegom") -> Scene:
    return scenes("test", region)[0]


# ---------------------------------------------------------------- readers


def _open(path: str | os.PathLike, lazy: bool = False) -> xr.DataArray:
    import rioxarray

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (run `lulc fetch` or `make data` first)")
    try:
        opened = rioxarray.open_rasterio(path)
        return opened if lazy else opened.load()
    except Exception as err:  # rasterio raises several types for unreadable files
        raise DataError(f"{path}: not a readable raster ({err})") from err


def open_image(path: str | os.PathLike, lazy: bool = False) -> xr.DataArray:
    """A 10-band Sentinel-2 image (band, y, x), bands named B02..B12 in the paper's order.

    lazy=True reads pixels only when they are used (a raster larger than memory, read in windows)."""
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

    `offset` is subtracted first; by default it is BOA_ADD_OFFSET for scenes acquired on or after
    BOA_OFFSET_SINCE (the date comes from the file name, see `open_image`) and 0 before.
    """
    if offset is None:
        date = image.attrs.get("date")
        if date is None:
            raise DataError(
                f"{_label(image, 'image')}: acquisition date unknown, so the L2A offset is too; pass offset=0 or 1000"
            )
        offset = BOA_ADD_OFFSET if date >= BOA_OFFSET_SINCE else 0
    values = image.astype(np.float32)
    result = ((values - offset) / REFLECTANCE_SCALE).where(image != 0)
    result.attrs = {**image.attrs, "units": "reflectance", "offset_removed": offset}
    return result.rio.write_crs(image.rio.crs)


def open_mask(path: str | os.PathLike) -> xr.DataArray:
    """A class mask (y, x) as uint8, 0 = unlabelled (so is the raster's declared nodata value); raises on
    codes outside the scheme."""
    raw = _open(path)
    if raw.sizes["band"] != 1:
        raise DataError(f"{path}: {raw.sizes['band']} bands, a mask has one")
    values = np.nan_to_num(raw.values[0], nan=scheme.NODATA)
    declared = raw.rio.nodata
    if declared is not None and not np.isnan(declared):  # a declared nodata (255, -9999) means "no label"
        values = np.where(values == declared, scheme.NODATA, values)
    if not np.array_equal(values, np.round(values)):
        raise DataError(f"{path}: non-integer class codes")
    scheme.validate_codes(values, str(path))
    mask = raw.isel(band=0, drop=True).copy(data=values.astype(np.uint8))
    mask.rio.write_nodata(scheme.NODATA, inplace=True)
    mask.name = Path(path).stem
    mask.attrs["source"] = str(path)
    return mask


def _label(da: xr.DataArray, fallback: str) -> str:
    return da.attrs.get("source", fallback)


def check_aligned(a: xr.DataArray, b: xr.DataArray, a_name: str | None = None, b_name: str | None = None) -> None:
    """Raise GridMismatchError naming both rasters unless CRS, transform and shape agree."""
    a_name, b_name = a_name or _label(a, "first raster"), b_name or _label(b, "second raster")
    problems = []
    if a.rio.crs != b.rio.crs:
        problems.append(f"CRS {a.rio.crs} vs {b.rio.crs}")
    if (a.rio.height, a.rio.width) != (b.rio.height, b.rio.width):
        problems.append(f"shape {a.rio.height}x{a.rio.width} vs {b.rio.height}x{b.rio.width}")
    if not a.rio.transform().almost_equals(b.rio.transform(), precision=1e-6):
        problems.append(f"transform {tuple(a.rio.transform())[:6]} vs {tuple(b.rio.transform())[:6]}")
    if problems:
        raise GridMismatchError(f"{a_name} and {b_name} are not on the same grid: {'; '.join(problems)}")


def read_reference(path: str | os.PathLike, field: str | None = None):
    """Reference polygons as a GeoDataFrame with an integer `class_id` column.

    `field` defaults to the first of `label`, `DN` present (Strzegom and Kolbuszowa use those).
    """
    import geopandas as gpd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        frame = gpd.read_file(path)
    except Exception as err:
        raise DataError(f"{path}: not a readable vector file ({err})") from err
    if field is None:
        field = next((f for f in ("label", "DN") if f in frame.columns), None)
    if field is None or field not in frame.columns:
        fields = [c for c in frame.columns if c != "geometry"]
        raise DataError(f"{path}: no label field {field or '(label or DN)'}; its fields are {fields}")
    if frame.crs is None:
        raise DataError(f"{path}: has no CRS, so it cannot be matched to an image")
    codes = frame[field].to_numpy()
    if not (np.issubdtype(codes.dtype, np.integer) or np.issubdtype(codes.dtype, np.floating)):
        shown = ", ".join(repr(v) for v in list(dict.fromkeys(codes.tolist()))[:3])
        raise DataError(f"{path}: field {field} holds text ({shown}...), not class codes; name the class-code field with --field")
    scheme.validate_codes(codes, f"{path} field {field}")
    frame = repair_geometries(frame.assign(class_id=codes.astype(np.uint8)), str(path))
    return frame


def repair_geometries(frame, source: str):
    """`frame` with invalid polygons (self-intersecting "bow-ties", ...) replaced by shapely's `make_valid`,
    keeping their polygonal parts; `frame.attrs["repaired"]` counts them and `frame.attrs["source"]` is `source`.
    Raises DataError when a polygon has no area left after repair."""
    import shapely

    geometries = frame.geometry.to_numpy()
    invalid = np.array([g is not None and not g.is_valid for g in geometries], dtype=bool)
    if invalid.any():
        repaired = [_polygonal(shapely.make_valid(g)) for g in geometries[invalid]]
        if any(g is None for g in repaired):
            row = int(np.flatnonzero(invalid)[[g is None for g in repaired].index(True)])
            raise DataError(f"{source}: polygon {row} is invalid and has no area left after repair")
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
    """Burn reference polygons onto the grid of `like` (uint8 mask, 0 outside polygons).

    `reference` is a path or a GeoDataFrame from `read_reference`. By default a pixel is burnt
    when its centre falls inside a polygon (rasterio's rule); `all_touched=True` burns every pixel
    a polygon touches. Polygons in another CRS are reprojected to the grid's CRS.
    """
    from rasterio import features

    frame = read_reference(reference, field) if isinstance(reference, (str, os.PathLike)) else reference
    source = frame.attrs.get("source", "reference polygons")
    if like.rio.crs is None:
        raise DataError(f"{_label(like, 'grid')}: has no CRS to rasterise {source} on")
    try:
        frame = frame.to_crs(like.rio.crs)
    except Exception as err:
        raise DataError(f"{source}: cannot be reprojected to {like.rio.crs} ({err})") from err
    shape = (like.rio.height, like.rio.width)
    shapes = ((geom, int(code)) for geom, code in zip(frame.geometry, frame["class_id"]) if geom is not None)
    burnt = features.rasterize(
        shapes, out_shape=shape, transform=like.rio.transform(), fill=scheme.NODATA, dtype="uint8", all_touched=all_touched
    )
    if not burnt.any():
        raise DataError(f"{source}: no polygon overlaps the grid of {_label(like, 'the image')}")
    grid = like.isel(band=0, drop=True) if "band" in like.dims else like
    mask = grid.copy(data=burnt)
    mask.attrs = {"source": source}
    mask.rio.write_crs(like.rio.crs, inplace=True)
    mask.rio.write_nodata(scheme.NODATA, inplace=True)
    mask.name = Path(source).stem
    return mask


def load_scene(scene: Scene, root: Path | None = None) -> tuple[xr.DataArray | None, xr.DataArray]:
    """(image or None when it is not available, mask) for a scene, checked to share one grid."""
    root = root or data_dir()
    mask = open_mask(root / scene.mask)
    image = open_image(root / scene.image) if scene.has_image(root) else None
    if image is not None:
        check_aligned(image, mask)
    return image, mask


def catalogue(root: Path | None = None) -> "pd.DataFrame":
    """One row per scene of the paper's split: region, date, split, CRS, size, which files are here,
    and labelled pixels per class (columns named by class id)."""
    import pandas as pd

    from .labels import class_counts

    root = root or data_dir()
    rows = []
    for scene in SCENES:
        mask = open_mask(root / scene.mask)
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
