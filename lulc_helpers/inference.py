"""Applying a per-pixel-window model to a raster of any size: a U-Net checkpoint or a fitted CART / RF / SVM.

In memory (`predict_scene`, `classify`, `probabilities`): the whole image at once, as for the 401 x 401
test scene. Streaming (`predict_raster`, `classify_raster`): the raster is cut into blocks whose sides are
multiples of the output's 256-pixel tiles; each block reads only the input it needs and is written to a
tiled, deflate-compressed GeoTIFF as soon as it is classified, so memory is bounded by block, window and
batch, not by the raster.

The U-Net's windows lie on one grid over the whole raster; a block computes every window that touches it and
blends them with the same ramps, so its pixels equal the in-memory prediction (with test-time augmentation the
turned views' grids start from the raster's far corner, so pixels near a block's edge can differ).
Blocks run one after another here, or as Dask tasks (`dask_client`): a LocalCluster of worker processes
or an existing cluster. The model goes to each worker once; workers return blocks and this process writes
them, so no two tasks write the file at once.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import os
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Iterator

import numpy as np
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import torch
import xarray as xr
from rasterio.windows import Window
from tqdm.auto import tqdm

from . import classical, data, outputs, runtime, scheme, training
from .model import UNet
from .patches import SYMMETRIES, Normalisation, turn, unturn, valid_pixels

DEFAULT_BLOCK = 1024  # pixels; 1024 + one window of input per block: about 1 GB resident with the cpu preset
# GDAL's block cache defaults to 5% of the machine's memory; over a raster larger than that, it would grow to it
GDAL_CACHE_BYTES = 64 * 2**20


# ---------------------------------------------------------------- in memory


def _starts(length: int, window: int, stride: int) -> list[int]:
    if length <= window:
        return [0]
    return sorted({*range(0, length - window, stride), length - window})


def window_size(config: training.TrainConfig, height: int, width: int) -> int:
    """The prediction window for an image of this size: `config.window`, shrunk to the image and rounded up to
    a multiple of 2**depth (the network halves the size `depth` times)."""
    step = 2**config.depth
    return min(config.window, math.ceil(max(height, width) / step) * step)


def autocast(device: torch.device, config: training.TrainConfig):
    """Mixed precision (float16) on CUDA when the configuration asks for it (`amp`), as in training."""
    return torch.autocast(device.type, dtype=torch.float16, enabled=config.amp and device.type == "cuda")


def probabilities(
    model: UNet, image: np.ndarray, config: training.TrainConfig, device=None, batch_size: int = 4, tta: bool = False,
    window: int | None = None,
) -> np.ndarray:
    """Class probabilities (class, y, x) of a normalised image, from overlapping windows blended with ramps.

    Windows are `window` pixels (default `window_size`; edge padding where the image is smaller); each
    pixel's probability is the weighted mean over the windows covering it, the weight falling towards a
    window's edge, where a convolutional network sees least context.
    tta=True (test-time augmentation) averages the probabilities of the 8 flips/rotations the network was
    trained on (`patches.SYMMETRIES`): 8 times the work, a steadier map.
    """
    window = window or window_size(config, *image.shape[-2:])
    if not tta:
        return _window_probabilities(model, image, config, device, batch_size, window)
    total = 0.0
    for turns, flip in SYMMETRIES:
        view = np.ascontiguousarray(turn(image, turns, flip))
        total = total + unturn(_window_probabilities(model, view, config, device, batch_size, window), turns, flip)
    return np.ascontiguousarray(total / len(SYMMETRIES))


def _window_probabilities(
    model: UNet, image: np.ndarray, config: training.TrainConfig, device, batch_size: int, window: int
) -> np.ndarray:
    device = torch.device(device or next(model.parameters()).device)
    height, width = image.shape[-2:]
    padding = ((0, 0), (0, max(window - height, 0)), (0, max(window - width, 0)))
    padded = np.pad(image, padding, mode="edge") if window > min(height, width) else image
    stride = max(window - config.overlap, 1)
    corners = [(r, c) for r in _starts(padded.shape[1], window, stride) for c in _starts(padded.shape[2], window, stride)]
    ramp = np.minimum(np.arange(window) + 1, np.arange(window)[::-1] + 1)
    weight = np.minimum.outer(np.minimum(ramp, config.overlap + 1), np.minimum(ramp, config.overlap + 1)).astype(np.float32)
    total = np.zeros((model.head.out_channels, *padded.shape[1:]), dtype=np.float32)
    norm = np.zeros(padded.shape[1:], dtype=np.float32)
    model.eval()
    with torch.no_grad(), autocast(device, config):
        for first in range(0, len(corners), batch_size):
            batch = corners[first : first + batch_size]
            x = torch.from_numpy(np.stack([padded[:, r : r + window, c : c + window] for r, c in batch])).to(device)
            probs = torch.softmax(model(x).float(), dim=1).cpu().numpy()
            for (r, c), p in zip(batch, probs):
                total[:, r : r + window, c : c + window] += p * weight
                norm[r : r + window, c : c + window] += weight
    total /= norm
    return total[:, :height, :width]


def classify(
    model: UNet, image: np.ndarray, config: training.TrainConfig, device=None, tta: bool = False,
    window: int | None = None, batch_size: int = 4,
) -> np.ndarray:
    """Class codes (y, x) uint8 for a normalised image (channel k is class k + 1)."""
    return (probabilities(model, image, config, device, batch_size, tta, window).argmax(axis=0) + 1).astype(np.uint8)


def check_image(image: xr.DataArray) -> None:
    """Raise DataError unless the image holds unsigned integer reflectance x 10000 in the paper's 10 bands, with a CRS."""
    source = image.attrs.get("source", image.name)
    if image.sizes.get("band") != len(data.BANDS):
        raise data.DataError(f"{source}: {image.sizes.get('band')} bands, expected {len(data.BANDS)} ({' '.join(data.BANDS)})")
    if not np.issubdtype(image.dtype, np.unsignedinteger):
        raise data.DataError(
            f"{source}: pixel type {image.dtype}; expected unsigned integer surface reflectance x 10000 (uint16) "
            "like the training images"
        )
    if image.rio.crs is None:
        raise data.DataError(f"{source}: has no CRS, so the map could not be placed; assign one (gdal_edit.py -a_srs EPSG:...)")


@dataclass
class UNetClassifier:
    """A U-Net checkpoint ready to classify images of digital numbers (band, y, x); what a Dask worker receives.

    `window` fixes the window for a raster larger than the image handed to `classify` (a block); `offset` is
    the L2A offset (None: from the image's date, `data.reflectance`); `device` None: the worker's best.
    """

    model: UNet
    config: training.TrainConfig
    normalisation: Normalisation
    offset: int | None = None
    tta: bool = True
    device: str | None = None
    batch_size: int = 4
    window: int | None = None

    @classmethod
    def load(cls, checkpoint: str | os.PathLike, **options) -> "UNetClassifier":
        model, saved = training.load_checkpoint(checkpoint)
        config = training.config_from_dict(saved["config"])
        return cls(model, config, Normalisation.from_dict(saved["normalisation"]), **options)

    def reads(self, rows: tuple[int, int], cols: tuple[int, int], height: int, width: int):
        """The input rows and columns that the windows touching a block span (the block plus up to a window)."""
        window = self.window or window_size(self.config, height, width)
        stride = max(window - self.config.overlap, 1)
        return _span(*rows, height, window, stride), _span(*cols, width, window, stride)

    def classify(self, image: xr.DataArray) -> np.ndarray:
        """uint8 codes (y, x) of an image of digital numbers, 0 where it has no data."""
        device = torch.device(self.device) if self.device else runtime.pick_device(verbose=False)
        values = training.network_input(image, self.offset)
        valid = valid_pixels(values)
        normalised = self.normalisation.apply(values)
        del values
        codes = classify(self.model.to(device), normalised, self.config, device, self.tta, self.window, self.batch_size)
        codes[~valid] = scheme.NODATA
        return codes


def _span(start: int, stop: int, length: int, window: int, stride: int) -> tuple[int, int]:
    """[first, last) of the windows on the raster-wide grid that overlap [start, stop), within the raster."""
    touching = [s for s in _starts(length, window, stride) if s < stop and s + window > start]
    return touching[0], min(touching[-1] + window, length)


def predict_scene(
    checkpoint: str | os.PathLike, image: xr.DataArray, device=None, offset: int | None = None, tta: bool = True
) -> xr.DataArray:
    """Classify a 10-band image in memory with a checkpoint: uint8 codes (y, x), nodata 0, on the image's grid.

    The image is converted as in training (`training.network_input`): `offset` (0 or 1000) is the L2A offset
    its digital numbers carry; None reads it from the date in the file name and raises DataError without one.
    tta: average over the 8 flips/rotations (see `probabilities`).
    """
    check_image(image)
    device = str(device) if device is not None else "cpu"
    codes = UNetClassifier.load(checkpoint, offset=offset, tta=tta, device=device).classify(image)
    result = image.isel(band=0, drop=True).copy(data=codes)
    result.attrs = {"source": str(checkpoint), "long_name": "U-Net class"}
    result.rio.write_crs(image.rio.crs, inplace=True)
    result.rio.write_nodata(scheme.NODATA, inplace=True)
    result.name = f"{image.name}_unet"
    return result


def write_classification(classes: xr.DataArray, path: str | os.PathLike) -> Path:
    """Write a class map as a uint8 GeoTIFF (nodata 0) with the scheme's colour table, atomically and verified."""
    return outputs.write_class_map(classes, path)


# ---------------------------------------------------------------- streaming


@dataclass
class PixelClassifier:
    """A fitted scikit-learn classifier (`classical.fit`) that classifies each pixel alone: a block reads itself."""

    trained: classical.Trained
    offset: int | None = None

    def reads(self, rows: tuple[int, int], cols: tuple[int, int], height: int, width: int):
        return rows, cols

    def classify(self, image: xr.DataArray) -> np.ndarray:
        return classical.classify_values(self.trained, data.reflectance(image, self.offset).values)


@dataclass(frozen=True)
class Source:
    """A 10-band image on disk, described once; blocks are read from it by whoever classifies them."""

    path: str
    height: int
    width: int
    crs: str
    transform: tuple
    attrs: dict = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Source":
        image = data.open_image(path, lazy=True)
        check_image(image)
        attrs = {k: image.attrs[k] for k in ("source", "date") if k in image.attrs}
        return cls(str(path), image.rio.height, image.rio.width, image.rio.crs.to_wkt(), tuple(image.rio.transform()), attrs)

    def read(self, rows: tuple[int, int], cols: tuple[int, int]) -> xr.DataArray:
        with rasterio.open(self.path) as src:
            values = src.read(window=Window(cols[0], rows[0], cols[1] - cols[0], rows[1] - rows[0]))
        image = xr.DataArray(values, dims=("band", "y", "x"), coords={"band": list(data.BANDS)}, attrs=dict(self.attrs))
        return image.rio.write_crs(self.crs)


def blocks(height: int, width: int, size: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """((row, row end), (col, col end)) of the blocks that tile a raster, row by row."""
    if size <= 0 or size % outputs.CLASS_MAP_TILE:
        raise ValueError(f"block size {size}: use a positive multiple of {outputs.CLASS_MAP_TILE} (the output's tiles)")
    return [
        ((r, min(r + size, height)), (c, min(c + size, width)))
        for r in range(0, height, size)
        for c in range(0, width, size)
    ]


def classify_block(classifier, source: Source, block) -> tuple:
    """(block, uint8 codes of the block): read what the block needs, classify it, keep the block."""
    (r0, r1), (c0, c1) = block
    rows, cols = classifier.reads((r0, r1), (c0, c1), source.height, source.width)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES):
        image = source.read(rows, cols)
    codes = classifier.classify(image)
    del image
    # xarray's .rio accessor and its array refer to each other; without a collection, the cycles of several
    # blocks (hundreds of MB each) would wait for Python's occasional cycle collector
    gc.collect()
    return block, codes[r0 - rows[0] : r1 - rows[0], c0 - cols[0] : c1 - cols[0]]


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[object | None]:
    """A dask.distributed Client: on an existing cluster (`scheduler` address), or on a LocalCluster of
    `workers` processes with one thread each; None (blocks run in this process) when neither is given."""
    if workers is None and scheduler is None:
        yield None
        return
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    if workers < 1:
        raise ValueError(f"--workers {workers}: need at least 1")
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
    )
    with cluster, Client(cluster) as client:
        yield client


def _results_in_process(classifier, source: Source, grid) -> Iterator[tuple]:
    for block in grid:
        yield classify_block(classifier, source, block)


def _results_on_dask(client, classifier, source: Source, grid) -> Iterator[tuple]:
    """Blocks classified as Dask tasks, in the order they finish; at most two per worker thread in flight, so
    finished blocks never pile up faster than they are written."""
    from dask.distributed import as_completed

    shared = client.scatter(classifier, broadcast=True, hash=False)  # the model travels to each worker once
    queue = iter(grid)
    in_flight = 2 * max(sum(client.nthreads().values()), 1)

    def submit(block):
        return client.submit(classify_block, shared, source, block, pure=False)

    finished = as_completed([submit(b) for b in islice(queue, in_flight)], with_results=True)
    for _, result in finished:
        yield result
        following = next(queue, None)
        if following is not None:
            finished.add(submit(following))


@dataclass
class Written:
    """What a streaming run wrote: the file, its size, pixels per class code, seconds."""

    path: Path
    height: int
    width: int
    counts: dict[int, int]
    seconds: float

    @property
    def mpx_per_s(self) -> float:
        return self.height * self.width / 1e6 / self.seconds


def classify_raster(
    classifier, source: str | os.PathLike, out: str | os.PathLike, block: int = DEFAULT_BLOCK, client=None,
    progress: bool = True, cog: bool = False, description: str = "class code (lulc_helpers.scheme)",
) -> Written:
    """Classify a 10-band raster of any size block by block (`UNetClassifier` or `PixelClassifier`) into a tiled,
    deflate-compressed GeoTIFF (a cloud-optimised one with `cog`), written atomically: a run that stops
    half-way leaves no file under `out`, and the next run starts cleanly. `client`: a Dask client (`dask_client`).
    """
    began = time.perf_counter()
    raster = Source.open(source)
    grid = blocks(raster.height, raster.width, block)
    results = (
        _results_in_process(classifier, raster, grid) if client is None else _results_on_dask(client, classifier, raster, grid)
    )
    transform = rasterio.Affine(*raster.transform[:6])
    bar = tqdm(total=raster.height * raster.width, unit="px", unit_scale=True, desc=Path(out).name, disable=not progress)
    with bar, rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES), outputs.write_class_map_blocks(
        out, raster.height, raster.width, raster.crs, transform, description, cog
    ) as written:
        for done, (((r0, r1), (c0, c1)), codes) in enumerate(results, 1):
            written.write(r0, c0, codes)
            bar.update((r1 - r0) * (c1 - c0))
            bar.set_postfix(blocks=f"{done}/{len(grid)}")
    counts = {int(code): int(n) for code, n in enumerate(written.counts) if n}
    return Written(Path(out), raster.height, raster.width, counts, time.perf_counter() - began)


def predict_raster(
    checkpoint: str | os.PathLike, source: str | os.PathLike, out: str | os.PathLike, device=None,
    offset: int | None = None, tta: bool = True, block: int = DEFAULT_BLOCK, batch_size: int = 4, client=None,
    progress: bool = True, cog: bool = False,
) -> Written:
    """`lulc predict`: classify a 10-band raster of any size with a U-Net checkpoint, streaming (`classify_raster`).

    The windows are those of `predict_scene` on the whole raster (same size, grid and blend); `device` None:
    the best one of each process that classifies (CUDA batches in mixed precision).
    """
    raster = Source.open(source)
    unet = UNetClassifier.load(checkpoint, offset=offset, tta=tta, device=None if device is None else str(device),
                               batch_size=batch_size)
    unet.window = window_size(unet.config, raster.height, raster.width)
    return classify_raster(unet, source, out, block, client, progress, cog, "U-Net class code (lulc_helpers.scheme)")


def tile_mosaic(image: str | os.PathLike, out: str | os.PathLike, size: int, rows_per_write: int = 256) -> Path:
    """A size x size mosaic of copies of a 10-band image, every other copy mirrored so that neighbours meet
    without a seam, on the image's grid extended east and south; written in strips of `rows_per_write` rows, so
    a mosaic larger than memory can be made: data to try streaming on. Same bands, type and CRS as `image`."""
    with rasterio.open(image) as src:
        values, profile, descriptions = src.read(), src.profile, src.descriptions
    height, width = values.shape[1:]

    def mirrored(n: int, length: int) -> np.ndarray:
        index = np.arange(n) % length
        return np.where(np.arange(n) // length % 2 == 1, length - 1 - index, index)

    rows, cols = mirrored(size, height), mirrored(size, width)
    profile.update(height=size, width=size, tiled=True, blockxsize=256, blockysize=256, interleave="pixel", compress=None)
    with outputs.atomic_output(out) as tmp, outputs.gdal_errors_raise(out), rasterio.open(tmp, "w", **profile) as dst:
        dst.descriptions = descriptions
        for top in range(0, size, rows_per_write):
            strip = rows[top : top + rows_per_write]
            dst.write(values[:, strip][:, :, cols], window=Window(0, top, size, len(strip)))
    return Path(out)
