"""Classifying with a U-Net checkpoint: in memory (`predict_scene`, `classify`, `probabilities`) or streaming
(`predict_raster`, through `streaming.classify_raster`).

Windows of `window_size` pixels lie on one grid over the whole raster and are blended with ramps that fall
towards a window's edge; a streamed block computes every window that touches it, so its pixels equal the
in-memory prediction (with test-time augmentation the turned views' grids start from the raster's far corner,
so pixels near a block's edge can differ). `UNetClassifier` is the streaming protocol's U-Net side (`reads`,
`classify`); what a Dask worker receives.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import torch
import xarray as xr

from .. import rasters, runtime, scheme
from ..streaming import DEFAULT_BLOCK, Source, Written, classify_raster
from .checkpoint import load_checkpoint
from .config import TrainConfig, amp_enabled, config_from_dict
from .model import UNet, inference_copy, memory_format, mixed_precision
from .patches import SYMMETRIES, Normalisation, network_input, turn, unturn


def _starts(length: int, window: int, stride: int) -> list[int]:
    if length <= window:
        return [0]
    return sorted({*range(0, length - window, stride), length - window})


def window_size(config: TrainConfig, height: int, width: int) -> int:
    """The prediction window for an image of this size.

    Parameters
    ----------
    config : TrainConfig
        Its `window` and `depth`.
    height, width : int
        The image's size in pixels.

    Returns
    -------
    int
        `config.window`, shrunk to the image and rounded up to a multiple of 2**depth (the network halves the
        size `depth` times).
    """
    step = 2**config.depth
    return min(config.window, math.ceil(max(height, width) / step) * step)


def probabilities(
    model: UNet, image: np.ndarray, config: TrainConfig, device=None, batch_size: int = 4, tta: bool = False,
    window: int | None = None,
) -> np.ndarray:
    """Class probabilities of a normalised image, from overlapping windows blended with ramps.

    Each pixel's probability is the weighted mean over the windows covering it, the weight falling towards a
    window's edge, where a convolutional network sees least context.

    Parameters
    ----------
    model : UNet
        The trained network (eval mode).
    image : numpy.ndarray
        A normalised image (band, y, x).
    config : TrainConfig
        The model's configuration (depth, window, overlap).
    device : str or torch.device, optional
        Where to run (default: the model's device).
    batch_size : int, default 4
        Windows per batch.
    tta : bool, default False
        Test-time augmentation: average the probabilities of the 8 flips and rotations the network was trained
        on (`SYMMETRIES`); 8 times the work, a steadier map.
    window : int, optional
        Window side in pixels (default: `window_size`; edge padding where the image is smaller).

    Returns
    -------
    numpy.ndarray
        Probabilities (class, y, x); channel k is class k + 1.
    """
    window = window or window_size(config, *image.shape[-2:])
    device = torch.device(device or next(model.parameters()).device)
    network = inference_copy(model, device)  # once for all 8 views
    if not tta:
        return _window_probabilities(network, image, config, device, batch_size, window)
    total = 0.0
    for turns, flip in SYMMETRIES:
        view = np.ascontiguousarray(turn(image, turns, flip))
        total = total + unturn(_window_probabilities(network, view, config, device, batch_size, window), turns, flip)
    return np.ascontiguousarray(total / len(SYMMETRIES))


def _window_probabilities(
    network: torch.nn.Module, image: np.ndarray, config: TrainConfig, device: torch.device, batch_size: int, window: int
) -> np.ndarray:
    height, width = image.shape[-2:]
    padding = ((0, 0), (0, max(window - height, 0)), (0, max(window - width, 0)))
    padded = np.pad(image, padding, mode="edge") if window > min(height, width) else image
    stride = max(window - config.overlap, 1)
    corners = [(r, c) for r in _starts(padded.shape[1], window, stride) for c in _starts(padded.shape[2], window, stride)]
    ramp = np.minimum(np.arange(window) + 1, np.arange(window)[::-1] + 1)
    weight = np.minimum.outer(np.minimum(ramp, config.overlap + 1), np.minimum(ramp, config.overlap + 1)).astype(np.float32)
    total = np.zeros((network.head.out_channels, *padded.shape[1:]), dtype=np.float32)
    norm = np.zeros(padded.shape[1:], dtype=np.float32)
    layout = memory_format(device)
    with torch.no_grad(), mixed_precision(amp_enabled(config, device), device):
        for first in range(0, len(corners), batch_size):
            batch = corners[first : first + batch_size]
            x = torch.from_numpy(np.stack([padded[:, r : r + window, c : c + window] for r, c in batch]))
            x = x.to(device).contiguous(memory_format=layout)
            probs = torch.softmax(network(x).float(), dim=1).contiguous().cpu().numpy()
            for (r, c), p in zip(batch, probs):
                p *= weight  # in place: no temporary the size of a window's probabilities
                total[:, r : r + window, c : c + window] += p
                norm[r : r + window, c : c + window] += weight
    total /= norm
    return total[:, :height, :width]


def classify(
    model: UNet, image: np.ndarray, config: TrainConfig, device=None, tta: bool = False,
    window: int | None = None, batch_size: int = 4,
) -> np.ndarray:
    """Class codes of a normalised image: the most probable class of `probabilities`.

    Parameters
    ----------
    model : UNet
        The trained network (eval mode).
    image : numpy.ndarray
        A normalised image (band, y, x).
    config : TrainConfig
        The model's configuration (depth, window, overlap).
    device : str or torch.device, optional
        Where to run.
    tta : bool, default False
        As in `probabilities`.
    window : int, optional
        As in `probabilities`.
    batch_size : int, default 4
        Windows per batch.

    Returns
    -------
    numpy.ndarray
        uint8 class codes (y, x), 1..10.
    """
    return _most_probable(probabilities(model, image, config, device, batch_size, tta, window))


def _most_probable(probabilities: np.ndarray) -> np.ndarray:
    """uint8 argmax + 1 over the class axis (the first class on a tie), one class plane at a time: argmax over the
    first axis would first copy the whole array with that axis last."""
    best = probabilities[0].copy()
    codes = np.ones(best.shape, dtype=np.uint8)
    better = np.empty(best.shape, dtype=bool)
    for k, plane in enumerate(probabilities[1:], start=2):
        np.greater(plane, best, out=better)
        codes[better] = k
        np.maximum(best, plane, out=best)  # NaN stays: `best` is NaN where any class was
    undefined = np.isnan(best)
    if undefined.any():  # argmax's answer there: the first NaN
        codes[undefined] = np.isnan(probabilities[:, undefined]).argmax(axis=0) + 1
    return codes


@dataclass
class UNetClassifier:
    """A U-Net checkpoint ready to classify images of digital numbers (band, y, x); what a Dask worker receives.

    `window` fixes the window for a raster larger than the image handed to `classify` (a block); `offset` is
    the L2A offset (None: from the image's date, `rasters.reflectance`); `device` None: the worker's best.
    """

    model: UNet
    config: TrainConfig
    normalisation: Normalisation
    offset: int | None = None
    tta: bool = True
    device: str | None = None
    batch_size: int = 4
    window: int | None = None

    @classmethod
    def load(cls, checkpoint: str | os.PathLike, **options) -> "UNetClassifier":
        model, saved = load_checkpoint(checkpoint)
        config = config_from_dict(saved["config"])
        return cls(model, config, Normalisation.from_dict(saved["normalisation"]), **options)

    def reads(self, rows: tuple[int, int], cols: tuple[int, int], height: int, width: int):
        """The input rows and columns that the windows touching a block span (the block plus up to a window)."""
        window = self.window or window_size(self.config, height, width)
        stride = max(window - self.config.overlap, 1)
        return _span(*rows, height, window, stride), _span(*cols, width, window, stride)

    def classify(self, image: xr.DataArray) -> np.ndarray:
        """uint8 codes (y, x) of an image of digital numbers, 0 where it has no data."""
        runtime.apply_speed_settings()  # here, so that a Dask worker applies them before its first torch operation
        device = torch.device(self.device) if self.device else runtime.pick_device(verbose=False)
        values = network_input(image, self.offset)
        valid = rasters.valid_pixels(values)
        normalised = self.normalisation.apply(values, overwrite=True)
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
    """Classify a 10-band image in memory with a checkpoint.

    The image is converted as in training (`network_input`).

    Parameters
    ----------
    checkpoint : str or os.PathLike
        A checkpoint written by `lulc train`.
    image : xarray.DataArray
        A 10-band image as stored (`rasters.open_image`).
    device : str or torch.device, optional
        Where to run (default: the CPU).
    offset : int, optional
        The L2A offset its digital numbers carry (0 or 1000); None reads it from the date in the file name.
    tta : bool, default True
        Average over the 8 flips and rotations (see `probabilities`).

    Returns
    -------
    xarray.DataArray
        uint8 class codes (y, x), nodata 0, on the image's grid.

    Raises
    ------
    DataError
        If the image is not 10-band unsigned integer reflectance with a CRS, its offset is unknown, or the
        checkpoint cannot be read.
    """
    rasters.check_image(image)
    device = str(device) if device is not None else "cpu"
    codes = UNetClassifier.load(checkpoint, offset=offset, tta=tta, device=device).classify(image)
    result = image.isel(band=0, drop=True).copy(data=codes)
    result.attrs = {"source": str(checkpoint), "long_name": "U-Net class"}
    result.rio.write_crs(image.rio.crs, inplace=True)
    result.rio.write_nodata(scheme.NODATA, inplace=True)
    result.name = f"{image.name}_unet"
    return result


def predict_raster(
    checkpoint: str | os.PathLike, source: str | os.PathLike, out: str | os.PathLike, device=None,
    offset: int | None = None, tta: bool = True, block: int = DEFAULT_BLOCK, batch_size: int = 4, client=None,
    progress: bool = True, cog: bool = False,
) -> Written:
    """Classify a 10-band raster of any size with a U-Net checkpoint, streaming (`lulc predict`).

    The windows are those of `predict_scene` on the whole raster (same size, grid and blend), so the map is the
    same; the raster is read and written block by block (`streaming.classify_raster`).

    Parameters
    ----------
    checkpoint : str or os.PathLike
        A checkpoint written by `lulc train`.
    source : str or os.PathLike
        The 10-band image.
    out : str or os.PathLike
        The class map to write.
    device : str or torch.device, optional
        None: the best device of each process that classifies (CUDA batches in mixed precision).
    offset : int, optional
        As in `predict_scene`.
    tta : bool, default True
        As in `predict_scene`.
    block : int, default 1024
        Block side in pixels, a multiple of 256.
    batch_size : int, default 4
        Windows per batch.
    client : distributed.Client, optional
        Run the blocks on Dask workers (`streaming.dask_client`).
    progress : bool, default True
        Show a progress bar.
    cog : bool, default False
        Write a cloud-optimised GeoTIFF.

    Returns
    -------
    streaming.Written
        The file, its size, pixels per class and the seconds taken.

    Raises
    ------
    DataError
        If the image or the checkpoint cannot be read as such, or the offset is unknown.
    OutputError
        If the write fails.
    """
    raster = Source.open(source)
    unet = UNetClassifier.load(checkpoint, offset=offset, tta=tta, device=None if device is None else str(device),
                               batch_size=batch_size)
    unet.window = window_size(unet.config, raster.height, raster.width)
    if client is not None:
        client.run(_imported)  # each worker imports PyTorch before the clock starts, as this process did
    return classify_raster(unet, source, out, block, client, progress, cog, "U-Net class code (lulc_helpers.scheme)",
                           inputs=(checkpoint,))


def _imported() -> None:
    """Nothing: a Dask worker that unpickles this function has imported this module, PyTorch with it."""
