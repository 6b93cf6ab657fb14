"""The paper's data: manifest, verified download, and the scenes of the paper's train/test split.

Every file of the data repository bh-del/lulc_mining is pinned in `manifest.tsv` (path, commit,
git blob SHA-1). `fetch()` downloads from GitHub at those commits, or copies from a local mirror
folder laid out like the repository (argument or the LULC_DATA_MIRROR environment variable),
verifies each file's blob SHA-1, and writes atomically, so a failed or corrupt file never lands.

Reading the rasters is `rasters`; the reference polygons are `labels`.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import http.client
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable

import xarray as xr

from . import outputs, paths, rasters
from .errors import DataError, OutputError

RAW_URL = "https://raw.githubusercontent.com/bh-del/lulc_mining/{commit}/{path}"
MIRROR_ENV = "LULC_DATA_MIRROR"


# ---------------------------------------------------------------- manifest and fetching


@dataclass(frozen=True)
class ManifestEntry:
    """One file of the data repository, as `lulc_helpers/manifest.tsv` pins it.

    Attributes
    ----------
    path : str
        The file's path in bh-del/lulc_mining.
    commit : str
        The commit it is downloaded at.
    blob_sha1 : str
        Its git blob SHA-1, checked after every download or copy.
    size : int or None
        Its size in bytes, when known.
    optional : bool
        Whether `fetch` may leave it missing (e.g. the Kolbuszowa and Krakow training images).
    """

    path: str
    commit: str
    blob_sha1: str
    size: int | None
    optional: bool

    @property
    def url(self) -> str:
        return RAW_URL.format(commit=self.commit, path=self.path)


def manifest() -> list[ManifestEntry]:
    """The files of the data repository, as `lulc_helpers/manifest.tsv` pins them.

    Returns
    -------
    list of ManifestEntry
        One entry per file.
    """
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
    """The SHA-1 that `git hash-object` prints for a file.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    str
        The hexadecimal digest.

    Raises
    ------
    OSError
        If the file cannot be read.
    """
    path = Path(path)
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FetchResult:
    """What `fetch` did with one file.

    Attributes
    ----------
    path : str
        The file's path in the data folder.
    status : str
        "verified", "downloaded", "missing-optional" or "FAILED".
    detail : str
        Where it came from, or why it failed.
    """

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
    """Make every manifest file present and verified under `dest` (`lulc fetch`).

    Files already present with the right blob SHA-1 are left alone. A file whose checksum fails is reported
    FAILED and not written; a local copy that fails its checksum and cannot be replaced is removed. Temp files of
    an interrupted earlier fetch are removed.

    Parameters
    ----------
    dest : str or os.PathLike, optional
        The data folder (default: `paths.data_dir()`).
    mirror : str or os.PathLike, optional
        A folder laid out like the repository to copy from (default: $LULC_DATA_MIRROR; else GitHub).
    entries : iterable of ManifestEntry, optional
        The files (default: the whole manifest).
    report : callable, optional
        Called with each FetchResult as soon as it is known.

    Returns
    -------
    list of FetchResult
        One per file.

    Raises
    ------
    DataError
        For an entry path outside `dest`.
    OutputError
        When `dest` cannot be a folder.
    """
    dest = Path(dest) if dest is not None else paths.data_dir()
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
    except (_ChecksumMismatch, OutputError) as err:
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


def ensure_data(dest: str | os.PathLike | None = None, verbose: bool = True, list_missing: bool = False) -> Path:
    """Fetch what is missing (quietly if all is there) and return the data folder; what notebooks call first.

    Parameters
    ----------
    dest : str or os.PathLike, optional
        The data folder (default: `paths.data_dir()`).
    verbose : bool, default True
        Print what was fetched and how many optional files are missing.
    list_missing : bool, default False
        Also list the missing optional files (the course's first notebook lists them, so the others need not
        repeat the list).

    Returns
    -------
    Path
        The data folder.

    Raises
    ------
    DataError
        Naming every file that failed.
    """
    dest = Path(dest) if dest is not None else paths.data_dir()
    results = fetch(dest)
    failed = [r for r in results if not r.ok]
    if failed:
        raise DataError("data files failed: " + "; ".join(f"{r.path} ({r.detail})" for r in failed))
    if verbose:
        fetched = sum(r.status == "downloaded" for r in results)
        missing = [r.path for r in results if r.status == "missing-optional"]
        print(f"Data in {paths.shown(dest)}: {len(results) - len(missing)} files verified ({fetched} fetched now).")
        if missing and list_missing:
            print(f"Not available, the notebooks go on without them: {', '.join(missing)}")
        elif missing:
            print(f"{len(missing)} optional files are not available; the notebooks go on without them "
                  "(notebook 01 lists them).")
    return dest


# ---------------------------------------------------------------- scenes and the paper's split


@dataclass(frozen=True)
class Scene:
    """One scene of the paper's split: a Sentinel-2 image and its labels.

    Attributes
    ----------
    region : str
        "strzegom", "kolbuszowa" or "krakow".
    date : str
        Acquisition date, YYYYMMDD.
    split : str
        "train" or "test".
    mask : str
        The label mask's path in the data folder.
    image : str or None
        The image's path (None: never published).
    tile : str or None
        Which of a date's sub-images it is (Krakow: "1", "2", "3").
    reference : str or None
        Reference polygons (GeoPackage), test scenes only.
    reference_field : str or None
        Their class field.
    published_prediction : str or None
        The paper's U-Net output raster.
    """

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
        return self.image is not None and ((root or paths.data_dir()) / self.image).is_file()


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
    """The scenes of the paper's split.

    Parameters
    ----------
    split : str, optional
        "train" or "test" (default: both).
    region : str, optional
        Only this region.

    Returns
    -------
    list of Scene
        In the order of SCENES.
    """
    return [s for s in SCENES if (split is None or s.split == split) and (region is None or s.region == region)]


def test_scene(region: str = "strzegom") -> Scene:
    """A region's test scene.

    Parameters
    ----------
    region : str, default "strzegom"
        The region.

    Returns
    -------
    Scene
        Its test scene.

    Raises
    ------
    IndexError
        For a region without a test scene.
    """
    return scenes("test", region)[0]


# ---------------------------------------------------------------- readers


def load_scene(scene: Scene, root: Path | None = None) -> tuple[xr.DataArray | None, xr.DataArray]:
    """Open a scene's image and mask, checked to share one grid.

    Parameters
    ----------
    scene : Scene
        The scene.
    root : Path, optional
        The data folder (default: `paths.data_dir()`).

    Returns
    -------
    image : xarray.DataArray or None
        The image (`rasters.open_image`), None when it is not available.
    mask : xarray.DataArray
        The labels (`rasters.open_class_map`).

    Raises
    ------
    DataError
        If a file cannot be read, or the image and mask are not on one grid (GridMismatchError).
    """
    root = root or paths.data_dir()
    mask = rasters.open_class_map(root / scene.mask)
    image = rasters.open_image(root / scene.image) if scene.has_image(root) else None
    if image is not None:
        rasters.check_aligned(image, mask)
    return image, mask


def prediction_path(method: str, scene: Scene | None = None) -> Path:
    """Where notebooks write and read a method's map of a scene.

    Parameters
    ----------
    method : str
        The method, e.g. "unet" or "rf".
    scene : Scene, optional
        The scene (default: the Strzegom test scene).

    Returns
    -------
    Path
        runs/predictions/METHOD_SCENE.tif (`paths.predictions_dir`).
    """
    scene = scene or test_scene()
    return paths.predictions_dir() / f"{method}_{scene.name}.tif"
