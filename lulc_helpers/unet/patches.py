"""What the network sees: the input conversion, per-band normalisation, patches placed on labelled pixels,
flips and rotations, radiometric jitter.

The normalisation (per-band mean and standard deviation) is fitted on the training scenes only and
travels inside the checkpoint, so prediction on a new image applies exactly the training statistics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np
import xarray as xr

from .. import rasters, scheme


@dataclass(frozen=True)
class Normalisation:
    """Per-band (x - mean) / std, fitted on the valid pixels of the training images."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, images: Iterable[np.ndarray]) -> "Normalisation":
        total = total_sq = count = 0
        for image in images:
            values = np.asarray(image, dtype=np.float64)
            pixels = values[:, rasters.valid_pixels(values)]
            total = total + pixels.sum(axis=1)
            total_sq = total_sq + (pixels**2).sum(axis=1)
            count += pixels.shape[1]
        if count == 0:
            raise ValueError("no valid pixels to fit the normalisation on")
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
        return cls(tuple(mean.tolist()), tuple(np.where(std > 0, std, 1.0).tolist()))

    @classmethod
    def identity(cls, bands: int) -> "Normalisation":
        """No normalisation: raw reflectance goes into the network (the naive baseline)."""
        return cls((0.0,) * bands, (1.0,) * bands)

    def apply(self, image: np.ndarray, overwrite: bool = False) -> np.ndarray:
        """(image - mean) / std; no-data pixels (NaN) become 0, the training mean, after the scaling.

        `overwrite`: scale a float32 `image` in place, for a caller that no longer needs it (a streamed block:
        no second array of the block's size).
        """
        image = np.asarray(image, dtype=np.float32)
        if image.shape[0] != len(self.mean):
            raise ValueError(f"image has {image.shape[0]} bands, the normalisation {len(self.mean)}")
        mean = np.asarray(self.mean, dtype=np.float32)[:, None, None]
        std = np.asarray(self.std, dtype=np.float32)[:, None, None]
        scaled = np.subtract(image, mean, out=image if overwrite else None)
        scaled /= std
        not_finite = ~np.isfinite(scaled)  # one mask: nan_to_num on the whole array would make three
        scaled[not_finite] = np.nan_to_num(scaled[not_finite], nan=0.0)
        return scaled

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Normalisation":
        return cls(tuple(values["mean"]), tuple(values["std"]))


# The 8 symmetries of the square as (quarter turns, mirror): training augments with them, prediction averages over them.
SYMMETRIES = tuple((turns, flip) for turns in range(4) for flip in (False, True))


def turn(x: np.ndarray, turns: int, flip: bool) -> np.ndarray:
    """Rotate and mirror an array's last two axes.

    Parameters
    ----------
    x : numpy.ndarray
        (..., y, x).
    turns : int
        Quarter turns.
    flip : bool
        Then mirror left-right.

    Returns
    -------
    numpy.ndarray
        A view of `x`, turned.
    """
    x = np.rot90(x, turns, axes=(-2, -1))
    return x[..., ::-1] if flip else x


def unturn(x: np.ndarray, turns: int, flip: bool) -> np.ndarray:
    """The inverse of `turn`.

    Parameters
    ----------
    x : numpy.ndarray
        (..., y, x), as `turn` returned it.
    turns : int
        The quarter turns `turn` made.
    flip : bool
        Whether `turn` mirrored.

    Returns
    -------
    numpy.ndarray
        A view of `x`, turned back.
    """
    x = x[..., ::-1] if flip else x
    return np.rot90(x, -turns, axes=(-2, -1))


def augment(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One of the 8 flips and rotations of the square, at random, applied to a patch and its mask alike.

    Parameters
    ----------
    x : numpy.ndarray
        The patch (band, y, x).
    y : numpy.ndarray
        Its mask (y, x).
    rng : numpy.random.Generator
        The random generator.

    Returns
    -------
    tuple of numpy.ndarray
        The turned patch and mask, contiguous.
    """
    turns, flip = int(rng.integers(4)), bool(rng.integers(2))
    return np.ascontiguousarray(turn(x, turns, flip)), np.ascontiguousarray(turn(y, turns, flip))


def jitter(x: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Per-band radiometric jitter: gain 1 +/- strength and shift +/- strength (normalised units).

    Dates differ in illumination, atmosphere and phenology; the jitter stops the network from keying on one
    date's exact band levels so that it transfers to a date it has not seen.

    Parameters
    ----------
    x : numpy.ndarray
        One normalised patch (band, y, x).
    strength : float
        The largest relative gain change and shift.
    rng : numpy.random.Generator
        The random generator.

    Returns
    -------
    numpy.ndarray
        The jittered patch.
    """
    bands = x.shape[0]
    gain = rng.uniform(1 - strength, 1 + strength, bands).astype(np.float32)[:, None, None]
    shift = rng.uniform(-strength, strength, bands).astype(np.float32)[:, None, None]
    return x * gain + shift


class PatchSampler:
    """Square patches that each contain a labelled pixel, drawn from (normalised image, mask) pairs.

    balanced=True first draws a class uniformly from the classes present, then a pixel of that class,
    so rare classes (roads, water) are seen as often as common ones; balanced=False draws a labelled
    pixel uniformly. The pixel lands at a random position inside the patch.
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        masks: Sequence[np.ndarray],
        size: int,
        balanced: bool = True,
        jitter: float = 0.0,
    ):
        for image, mask in zip(images, masks):
            if min(mask.shape) < size:
                raise ValueError(f"a scene of {mask.shape} pixels is smaller than the patch size {size}")
        self.images, self.masks, self.size, self.balanced, self.jitter = list(images), list(masks), size, balanced, jitter
        located, codes = [], []
        for i, mask in enumerate(self.masks):
            rows, cols = np.nonzero(mask != scheme.NODATA)
            located.append(np.column_stack([np.full(len(rows), i), rows, cols]))
            codes.append(mask[rows, cols])
        pixels, codes = np.concatenate(located), np.concatenate(codes)
        if len(pixels) == 0:
            raise ValueError("the masks hold no labelled pixel to sample patches from")
        self.pixels, self.codes = pixels, codes
        self.by_class = {int(c): pixels[codes == c] for c in np.unique(codes)}

    def _pixel(self, rng: np.random.Generator) -> np.ndarray:
        if self.balanced:
            classes = list(self.by_class)
            pool = self.by_class[classes[int(rng.integers(len(classes)))]]
        else:
            pool = self.pixels
        return pool[int(rng.integers(len(pool)))]

    def sample(self, count: int, rng: np.random.Generator, augmented: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """`count` patches: x (count, band, size, size) float32 and y (count, size, size) int64 codes."""
        xs, ys = [], []
        for _ in range(count):
            scene, row, col = self._pixel(rng)
            mask = self.masks[scene]
            top = int(np.clip(row - rng.integers(self.size), 0, mask.shape[0] - self.size))
            left = int(np.clip(col - rng.integers(self.size), 0, mask.shape[1] - self.size))
            window = (slice(top, top + self.size), slice(left, left + self.size))
            x, y = self.images[scene][(slice(None), *window)], mask[window]
            if augmented:
                x, y = augment(x, y, rng)
                if self.jitter > 0:
                    x = jitter(x, self.jitter, rng)
            xs.append(x)
            ys.append(y)
        return np.stack(xs).astype(np.float32), np.stack(ys).astype(np.int64)


def network_input(image: xr.DataArray, offset: int | None = None) -> np.ndarray:
    """The values the network is trained on and predicts from: surface reflectance (band, y, x), NaN = no data.

    Parameters
    ----------
    image : xarray.DataArray
        A 10-band image as stored (integer reflectance x 10000).
    offset : int, optional
        The L2A offset to remove (0 or 1000); None takes it from the image's date (`rasters.reflectance`).

    Returns
    -------
    numpy.ndarray
        float32 surface reflectance.
    """
    return rasters.reflectance(image, offset).values
