"""The U-Net checkpoint: one format, written in one place (`contents`, `save_checkpoint`) and read in one
(`load_checkpoint`).

A checkpoint is a zip archive written by `torch.save` holding a dict: `format` (CHECKPOINT_FORMAT, the
version), the network's weights, the `TrainConfig`, the band normalisation, how inputs are converted, the
class scheme, the bands, the training and validation scenes, the epoch, the history, and the optimiser,
scheduler and scaler states from which training resumes. It is read with `weights_only=True`.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import asdict
from pathlib import Path

import torch

from .. import errors, outputs, rasters, scheme
from .config import TrainConfig, config_from_dict
from .model import UNet, build_model

CHECKPOINT_FORMAT = "lulc-unet/2"  # /2: inputs are surface reflectance (rasters.reflectance), not digital numbers
# What the network sees, stored in every checkpoint so that prediction repeats it.
INPUT_CONVERSION = "reflectance: (DN - L2A offset by date) / 10000, then (x - mean) / std, no data -> 0"


def _scheme_table() -> list[list]:
    return [[c.id, c.name, c.colour] for c in scheme.CLASSES]


def contents(
    model: UNet, config: TrainConfig, normalisation, train_scenes: list[str], val_scenes: list[str], epoch: int,
    history: list[dict], best_score: float, optimizer, scheduler, scaler,
) -> dict:
    """What a checkpoint holds (format CHECKPOINT_FORMAT) after some epochs of training.

    Parameters
    ----------
    model : UNet
        The network.
    config : TrainConfig
        Its training configuration.
    normalisation : Normalisation
        The band normalisation, computed on the training scenes.
    train_scenes, val_scenes : list of str
        The scenes trained and validated on.
    epoch : int
        Epochs done.
    history : list of dict
        One record per epoch (loss, validation score...).
    best_score : float
        The best validation score so far.
    optimizer, scheduler, scaler
        Their states are stored so that an interrupted run resumes exactly.

    Returns
    -------
    dict
        The checkpoint: weights, configuration, normalisation, input conversion, class scheme, bands, scenes,
        history and the optimiser's state.
    """
    return {
        "format": CHECKPOINT_FORMAT,
        "model": model.state_dict(),
        "config": asdict(config),
        "normalisation": normalisation.to_dict(),
        "input": INPUT_CONVERSION,
        "scheme": _scheme_table(),
        "bands": list(rasters.BANDS),
        "train_scenes": train_scenes,
        "val_scenes": val_scenes,
        "epoch": epoch,
        "history": history,
        "best_score": best_score,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
    }


def save_checkpoint(path: Path, payload: dict) -> None:
    """Write a checkpoint atomically (`outputs.atomic_output`); the CRCs of its zip container are checked first.

    Parameters
    ----------
    path : Path
        The checkpoint file.
    payload : dict
        What `contents` returns.

    Raises
    ------
    OutputError
        If the write fails or the written file does not read back.
    """

    def verify(tmp: Path) -> None:
        try:
            with zipfile.ZipFile(tmp) as archive:
                damaged = archive.testzip()
        except (zipfile.BadZipFile, OSError):
            damaged = "its zip directory"
        if damaged is not None:
            raise errors.OutputError(f"{path}: the written checkpoint does not read back ({damaged} is damaged)")

    with outputs.atomic_output(path, verify) as tmp:
        try:
            torch.save(payload, tmp)
        except RuntimeError as err:  # torch reports a failed write (full disk, file-size limit) as RuntimeError
            raise errors.OutputError(f"{path}: could not write: {str(err).splitlines()[0]}") from err


def load_checkpoint(path: str | os.PathLike, device=None) -> tuple[UNet, dict]:
    """Load a checkpoint written by `save_checkpoint` (`train` writes one every epoch).

    It is read with ``torch.load(weights_only=True)``, so a hostile pickle never runs.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    device : str or torch.device, optional
        Where the model goes (default: the CPU).

    Returns
    -------
    model : UNet
        The network, in eval mode.
    checkpoint : dict
        Everything the file holds.

    Raises
    ------
    DataError
        Naming the file, when it is missing, not a zip archive, unreadable, of another format or trained with
        another class scheme.
    """
    path = Path(path)
    if not path.is_file():
        raise errors.DataError(f"{path}: no such checkpoint")
    if not zipfile.is_zipfile(path):  # torch.load would answer with a page about weights_only
        raise errors.DataError(f"{path}: not a checkpoint (torch.save writes a zip archive; this is not one)")
    try:
        checkpoint = torch.load(path, map_location=device or "cpu", weights_only=True)
    except Exception as err:
        raise errors.DataError(f"{path}: not a readable checkpoint ({err})") from err
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        found = checkpoint.get("format") if isinstance(checkpoint, dict) else None
        hint = "; it was trained on digital numbers, not reflectance: train it again" if found == "lulc-unet/1" else ""
        raise errors.DataError(f"{path}: not a lulc U-Net checkpoint of format {CHECKPOINT_FORMAT} (found {found}){hint}")
    if [row[:2] for row in checkpoint["scheme"]] != [row[:2] for row in _scheme_table()]:  # colours may change
        raise errors.DataError(f"{path}: trained with another class scheme than lulc_helpers.scheme")
    model = build_model(config_from_dict(checkpoint["config"]))
    model.load_state_dict(checkpoint["model"])
    return model.to(device or "cpu").eval(), checkpoint
