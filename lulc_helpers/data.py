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
    """Make every manifest file present and verified under `dest` (default: `paths.data_dir()`).

    Source: `mirror` (or $LULC_DATA_MIRROR), a folder laid out like the repository; else GitHub.
    Files already present with the right blob SHA-1 are left alone. Each result is passed to
    `report` as soon as it is known. A file whose checksum fails is reported FAILED and not written;
    a local copy that fails its checksum and cannot be replaced is removed. Temp files of an
    interrupted earlier fetch are removed. Raises DataError for an entry path outside `dest` and
    `OutputError` when `dest` cannot be a folder.
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


def ensure_data(dest: str | os.PathLike | None = None, verbose: bool = True) -> Path:
    """Fetch what is missing (quietly if all is there) and return the data folder.

    Raises DataError naming every file that failed; optional files that are missing are listed.
    """
    dest = Path(dest) if dest is not None else paths.data_dir()
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
    return [s for s in SCENES if (split is None or s.split == split) and (region is None or s.region == region)]


def test_scene(region: str = "strzegom") -> Scene:
    return scenes("test", region)[0]


# ---------------------------------------------------------------- readers


def load_scene(scene: Scene, root: Path | None = None) -> tuple[xr.DataArray | None, xr.DataArray]:
    """(image or None when it is not available, mask) for a scene, checked to share one grid."""
    root = root or paths.data_dir()
    mask = rasters.open_class_map(root / scene.mask)
    image = rasters.open_image(root / scene.image) if scene.has_image(root) else None
    if image is not None:
        rasters.check_aligned(image, mask)
    return image, mask


def prediction_path(method: str, scene: Scene | None = None) -> Path:
    """Where notebooks write and read a method's map of a scene: runs/predictions/METHOD_SCENE.tif."""
    scene = scene or test_scene()
    return paths.predictions_dir() / f"{method}_{scene.name}.tif"
