"""Classifying a raster of any size block by block, with any model behind one small protocol, in this process
or on Dask workers.

A classifier has `reads(rows, cols, height, width)` (the input a block needs: the block itself for a per-pixel
model, the block plus up to a window for the U-Net) and `classify(image)` (uint8 codes of an image of digital
numbers): `unet.UNetClassifier` and `classical.PixelClassifier` are the two. The raster is cut into blocks whose
sides are multiples of the output's 256-pixel tiles; each block reads only the input it needs and is written
to a tiled, deflate-compressed GeoTIFF as soon as it is classified, so memory is bounded by block, window and
batch, not by the raster. Blocks run one after another here, or as Dask tasks (`dask_client`): a LocalCluster
of worker processes or an existing cluster. The model goes to each worker once; workers return blocks and this
process writes them, so no two tasks write the file at once.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Iterator

import numpy as np
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from rasterio.windows import Window

from . import allocator, errors, outputs, rasters
from .progress import progress_bar


DEFAULT_BLOCK = 1024  # pixels; 1024 + one window of input per block: about 1 GB resident with the cpu preset


# GDAL's block cache defaults to 5% of the machine's memory; over a raster larger than that, it would grow to it
GDAL_CACHE_BYTES = 64 * 2**20


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
        image = rasters.open_image(path, lazy=True)
        rasters.check_image(image)
        attrs = {k: image.attrs[k] for k in ("source", "date") if k in image.attrs}
        return cls(str(path), image.rio.height, image.rio.width, image.rio.crs.to_wkt(), tuple(image.rio.transform()), attrs)

    def read(self, rows: tuple[int, int], cols: tuple[int, int]) -> xr.DataArray:
        """The block's values; errors.DataError naming the image when they cannot be read (a damaged file is bad
        input, not a failed write; this runs on Dask workers too)."""
        try:
            with rasterio.open(self.path) as src:
                values = src.read(window=Window(cols[0], rows[0], cols[1] - cols[0], rows[1] - rows[0]))
        except rasterio.errors.RasterioError as err:
            reason = rasters.gdal_reason(err)
        else:
            reason = None
        if reason is not None:  # raised outside the except: GDAL's chained errors do not pickle back from a Dask worker
            raise errors.DataError(f"{self.path}: could not read rows {rows[0]}-{rows[1]}, columns {cols[0]}-{cols[1]} ({reason})")
        image = xr.DataArray(values, dims=("band", "y", "x"), coords={"band": list(rasters.BANDS)}, attrs=dict(self.attrs))
        return image.rio.write_crs(self.crs, inplace=True)  # not a copy of the block


def blocks(height: int, width: int, size: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The blocks that tile a raster, row by row.

    Parameters
    ----------
    height, width : int
        The raster's size in pixels.
    size : int
        The block's side, a positive multiple of the output's 256-pixel tiles.

    Returns
    -------
    list of tuple
        ((row, row end), (col, col end)) of each block.

    Raises
    ------
    ValueError
        If `size` is not a positive multiple of the tile size.
    """
    if size <= 0 or size % rasters.CLASS_MAP_TILE:
        raise ValueError(f"block size {size}: use a positive multiple of {rasters.CLASS_MAP_TILE} (the output's tiles)")
    return [
        ((r, min(r + size, height)), (c, min(c + size, width)))
        for r in range(0, height, size)
        for c in range(0, width, size)
    ]


def classify_block(classifier, source: Source, block) -> tuple:
    """Classify one block: read what it needs, classify, keep the block.

    Parameters
    ----------
    classifier : UNetClassifier or PixelClassifier
        Says which rows and columns a block needs (`reads`) and classifies them (`classify`).
    source : Source
        The input raster.
    block : tuple
        ((row, row end), (col, col end)), as `blocks` gives it.

    Returns
    -------
    tuple
        The block and the uint8 class codes of its pixels.
    """
    (r0, r1), (c0, c1) = block
    rows, cols = classifier.reads((r0, r1), (c0, c1), source.height, source.width)
    # xarray's .rio accessor and its array refer to each other; without a collection, the cycles of several
    # blocks (hundreds of MB each) would wait for Python's occasional cycle collector. Freezing what exists
    # before the block makes that collection scan the block's own objects only: 0.2 s less per block.
    gc.freeze()
    try:
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES):
            image = source.read(rows, cols)
        codes = classifier.classify(image)
        del image
        gc.collect()
    finally:
        gc.unfreeze()
    return block, codes[r0 - rows[0] : r1 - rows[0], c0 - cols[0] : c1 - cols[0]]


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[object | None]:
    """A dask.distributed Client to run the blocks on (a context manager).

    Parameters
    ----------
    workers : int, optional
        Start a LocalCluster of this many processes, one thread each.
    scheduler : str, optional
        The address of an existing cluster's scheduler (tcp://HOST:8786).

    Yields
    ------
    distributed.Client or None
        The client; None (blocks run in this process) when neither is given.
    """
    if workers is None and scheduler is None:
        yield None
        return
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    if workers < 1:
        raise ValueError(f"--workers {workers}: need at least 1")
    # Dask's nanny starts its workers with MALLOC_TRIM_THRESHOLD_=65536 (distributed.nanny.pre-spawn-environ), under
    # which a one-thread worker predicted at about half the speed of one thread here; these workers start with
    # `allocator.MALLOC_ENVIRONMENT` instead. Each worker's profiler would interrupt the block's thread every 10 ms
    # for the dashboard's profile page: about 5 % of the speed of 2 workers.
    environment = {**dask.config.get("distributed.nanny.pre-spawn-environ"), **allocator.MALLOC_ENVIRONMENT}
    settings = {"distributed.nanny.pre-spawn-environ": environment, "distributed.worker.profile.enabled": False}
    before = {name: os.environ.get(name) for name in environment}
    try:
        with dask.config.set(settings):
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.CRITICAL
            )
    finally:  # a nanny sets its worker's variables in this process's environment, where they would reach any child
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
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
    inputs: tuple = (),
) -> Written:
    """Classify a 10-band raster of any size, block by block, into a class map.

    The map is a tiled, deflate-compressed GeoTIFF (a cloud-optimised one with `cog`) with the scheme's colour
    table and nodata 0, written atomically: a run that stops half-way leaves no file under `out`, and the next
    run starts cleanly.

    Parameters
    ----------
    classifier : UNetClassifier or PixelClassifier
        The model.
    source : str or os.PathLike
        The 10-band image (a path or URL GDAL reads).
    out : str or os.PathLike
        The class map to write.
    block : int, default 1024
        The block's side in pixels, a multiple of 256.
    client : distributed.Client, optional
        Run the blocks as Dask tasks there (`dask_client`); this process alone writes the file.
    progress : bool, default True
        Show a progress bar.
    cog : bool, default False
        Write a cloud-optimised GeoTIFF with overviews.
    description : str
        The band description of the output.
    inputs : tuple of str or os.PathLike
        Other files the classifier reads (a checkpoint); `out` must not be one of them or `source`.

    Returns
    -------
    Written
        The file, its size, pixels per class code and the seconds taken.

    Raises
    ------
    DataError
        If the input cannot be read as a 10-band image, or a block of it cannot be read.
    ValueError
        For a bad block size.
    OutputCollision
        If `out` is `source` or one of `inputs`, or not a regular file.
    OutputError
        If the write fails.
    """
    began = time.perf_counter()
    raster = Source.open(source)
    grid = blocks(raster.height, raster.width, block)
    results = (
        _results_in_process(classifier, raster, grid) if client is None else _results_on_dask(client, classifier, raster, grid)
    )
    transform = rasterio.Affine(*raster.transform[:6])
    bar = progress_bar(total=raster.height * raster.width, unit="px", unit_scale=True, desc=Path(out).name,
                       disable=not progress)
    with bar, rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES), rasters.write_class_map_blocks(
        out, raster.height, raster.width, raster.crs, transform, description, cog, inputs=[source, *inputs]
    ) as written:
        for done, (((r0, r1), (c0, c1)), codes) in enumerate(results, 1):
            written.write(r0, c0, codes)
            bar.update((r1 - r0) * (c1 - c0))
            bar.set_postfix(blocks=f"{done}/{len(grid)}")
    counts = {int(code): int(n) for code, n in enumerate(written.counts) if n}
    return Written(Path(out), raster.height, raster.width, counts, time.perf_counter() - began)


def tile_mosaic(image: str | os.PathLike, out: str | os.PathLike, size: int, rows_per_write: int = 256) -> Path:
    """A large mosaic of copies of an image, to try streaming on.

    Every other copy is mirrored so that neighbours meet without a seam, on the image's grid extended east and
    south; written in strips, so that a mosaic larger than memory can be made. Same bands, type and CRS as
    `image`.

    Parameters
    ----------
    image : str or os.PathLike
        A 10-band image.
    out : str or os.PathLike
        The mosaic's file.
    size : int
        The mosaic's side in pixels.
    rows_per_write : int, default 256
        Rows written at a time.

    Returns
    -------
    Path
        `out`.

    Raises
    ------
    OutputCollision
        If `out` is `image` (checked before the image is read whole).
    OutputError
        If the write fails.
    """
    outputs.refuse_collisions([image], [out])
    with rasterio.open(image) as src:
        values, profile, descriptions = src.read(), src.profile, src.descriptions
    height, width = values.shape[1:]

    def mirrored(n: int, length: int) -> np.ndarray:
        index = np.arange(n) % length
        return np.where(np.arange(n) // length % 2 == 1, length - 1 - index, index)

    rows, cols = mirrored(size, height), mirrored(size, width)
    profile.update(height=size, width=size, tiled=True, blockxsize=256, blockysize=256, interleave="pixel", compress=None)
    with outputs.atomic_output(out, inputs=[image]) as tmp, outputs.gdal_errors_raise(out), rasterio.open(tmp, "w", **profile) as dst:
        dst.descriptions = descriptions
        for top in range(0, size, rows_per_write):
            strip = rows[top : top + rows_per_write]
            dst.write(values[:, strip][:, :, cols], window=Window(0, top, size, len(strip)))
    return Path(out)
