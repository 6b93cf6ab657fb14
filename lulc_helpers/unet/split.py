"""The paper's training scenes split into training and validation data (a stripe of every date, or whole
held-out dates); the test scenes never enter."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import data, errors, paths, rasters, scheme
from .config import TrainConfig
from .patches import network_input


@dataclass
class Split:
    """Training and validation (image, mask) numpy pairs, with the scene names."""

    train: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    val: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    train_names: list[str] = field(default_factory=list)
    val_names: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def split_names(config: TrainConfig = TrainConfig(), root: Path | None = None) -> Split:
    """The scene names of `paper_split`, without reading any image.

    Only the paper's training scenes (`data.scenes("train")`) ever appear; the test scenes never enter
    training or model selection.

    Parameters
    ----------
    config : TrainConfig, optional
        Its `val_fraction` or `val_scenes` say what is validation (default: the default configuration).
    root : Path, optional
        The data folder (default: `paths.data_dir()`).

    Returns
    -------
    Split
        The training and validation scene names, and the scenes whose images are missing.
    """
    split = Split()
    for scene in data.scenes("train"):
        if not scene.has_image(root):
            split.missing.append(scene.name)
        elif config.val_fraction > 0:
            split.train_names.append(scene.name)
            split.val_names.append(f"{scene.name} {_stripe(config)}")
        elif scene.name in config.val_scenes:
            split.val_names.append(scene.name)
        else:
            split.train_names.append(scene.name)
    if not split.train_names:
        raise errors.DataError(f"no training image is present under {root or paths.data_dir()} (run `lulc fetch`)")
    return split


def _stripe(config: TrainConfig) -> str:
    return f"bottom {config.val_fraction:.0%} of rows"


def paper_split(config: TrainConfig = TrainConfig(), root: Path | None = None) -> Split:
    """The paper's training scenes whose images are present, as surface reflectance (NaN = no data).

    Validation: with `config.val_fraction` > 0, the bottom rows of every scene (that fraction) form the
    validation set and the rows above it the training set, so no training patch overlaps a validation pixel and
    every date, summer ones included, is trained on; otherwise `config.val_scenes` are held out whole.

    Parameters
    ----------
    config : TrainConfig, optional
        Its `val_fraction` or `val_scenes` say what is validation (default: the default configuration).
    root : Path, optional
        The data folder (default: `paths.data_dir()`).

    Returns
    -------
    Split
        Training and validation images and masks, with their names and the missing scenes.

    Raises
    ------
    DataError
        If a scene's image or mask cannot be read.
    """
    split = split_names(config, root)
    for scene in data.scenes("train"):
        if scene.name in split.missing:
            continue
        image, mask = data.load_scene(scene, root)
        values = network_input(image)
        # labels on no-data pixels (the zero border rows and column) would teach the network noise
        labelled = np.where(rasters.valid_pixels(values), mask.values, scheme.NODATA).astype(np.uint8)
        if config.val_fraction > 0:
            cut = round(values.shape[1] * (1 - config.val_fraction))
            split.train.append((values[:, :cut], labelled[:cut]))
            split.val.append((values[:, cut:], labelled[cut:]))
        else:
            (split.val if scene.name in config.val_scenes else split.train).append((values, labelled))
    return split


def dry_run(config: TrainConfig, root: Path | None = None) -> dict:
    """What `train` would do, without training or reading an image (`lulc train --dry-run --json`).

    Parameters
    ----------
    config : TrainConfig, optional
        Its `val_fraction` or `val_scenes` say what is validation (default: the default configuration).
    root : Path, optional
        The data folder (default: `paths.data_dir()`).

    Returns
    -------
    dict
        "config" (every configuration field), "train_scenes", "val_scenes" and "missing_scenes".
    """
    split = split_names(config, root)
    return {
        "config": asdict(config),
        "train_scenes": split.train_names,
        "val_scenes": split.val_names,
        "missing_scenes": split.missing,
    }
