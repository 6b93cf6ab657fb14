"""The U-Net's training configuration: `TrainConfig`, its presets, and the checks of its options.

The paper's settings (its training-settings table, Section 2.3.1) are the defaults of `TrainConfig`. What the paper does not state (network
width and depth, patches per epoch, learning-rate schedule, normalisation, patch placement) is chosen here
so that training is stable; `PRESETS["naive"]` switches those choices off to show why they matter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from .. import data, errors, runtime
from ..paper import PAPER_SWEEP

# The architectures a configuration may name: the paper's (3 convolutions per block, BatchNorm, replication
# padding before each skip) and the original U-Net of Ronneberger et al. (2015) as a baseline.
VARIANTS: dict[str, dict] = {
    "original": {"convs": 2, "batch_norm": False, "replication_pad": False},
    "proposed": {"convs": 3, "batch_norm": True, "replication_pad": True},
}


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a U-Net training; each is a flag of `lulc train` (`--epochs`, `--weight-power`, ...).

    The first group is the paper's training-settings table; the rest the paper does not state, and the `paper`
    preset fills them in. PRESETS holds the named configurations (`paper`, `cpu`, ...); `resolve_config` applies changes to one.
    """

    # The paper's training-settings table.
    epochs: int = 25
    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-3  # swept over {0.01, 0.001, 0.0001}
    balance: bool = True  # class weights in the loss: see `loss_weights`
    gamma: float = 2.0  # focal loss
    patch_size: int = 100
    # Not stated in the paper.
    width: int = 64
    depth: int = 4
    variant: str = "proposed"
    weight_power: float = 1.0  # 1: inverse frequency N / (K n_c); 0.5: its square root (softer)
    weight_cap: float = 0.0  # > 0: no class weight above it
    patches_per_epoch: int = 400
    schedule: str = "onecycle"  # or "cosine", "constant"
    normalise: bool = True
    balanced_sampling: bool = True  # patches placed on a uniformly drawn class
    jitter: float = 0.0  # > 0: per-band gain and shift of each patch (jitter)
    val_scenes: tuple[str, ...] = ("strzegom_20220619",)  # held-out training date, never the test date
    val_fraction: float = 0.0  # > 0: the bottom rows of every training scene held out instead
    val_every: int = 1  # validate every n-th epoch and the last; the kept epoch is one of those
    seed: int = 0
    amp: bool = True  # mixed precision where it pays: CUDA, and CPUs with AMX
    window: int = 256  # prediction window; neighbouring windows overlap by `overlap` pixels
    overlap: int = 64


PRESETS: dict[str, TrainConfig] = {
    "paper": TrainConfig(),
    # Two CPU cores: a narrower, shallower network, fewer patches. Every date is trained on (only three are
    # summer dates, like the test date); the bottom 20 % of the rows of each date are held out as validation
    # data, which keeps the best epoch and chooses between settings (`select`), never the test date. Validating
    # every 4th epoch instead of every one saves about 7 % of the training time (0.7 s of a 7.3 s epoch, 2 threads).
    # Square-root class weights (roads 42 -> 6.5): full ones make roads spread over fields. Radiometric jitter:
    # without it, on a date held out of training, the network swapped whole classes (mixed forest -> conifer).
    # Each of these was tried against its alternatives on the validation stripe (results/README.md).
    "cpu": TrainConfig(
        width=16, depth=3, patches_per_epoch=200, epochs=160, val_scenes=(), val_fraction=0.2, val_every=4,
        weight_power=0.5, jitter=0.15,
    ),
    "quick": TrainConfig(
        width=4, depth=2, patches_per_epoch=8, epochs=1, patch_size=48, window=128, overlap=16,
        val_scenes=(), val_fraction=0.2,
    ),
    # The first implementation: raw reflectance, constant lr, any labelled pixel.
    "naive": TrainConfig(normalise=False, schedule="constant", balanced_sampling=False, width=32),
}


def default_preset(device=None) -> str:
    """The preset `lulc train` takes without `--preset`.

    The paper's network needs about 80 minutes per training on two CPU cores and a few minutes on a GPU.

    Parameters
    ----------
    device : str or torch.device, optional
        The device to train on (default: `runtime.pick_device`).

    Returns
    -------
    str
        "paper" where a GPU (CUDA or Apple MPS) is present, else "cpu".
    """
    import torch

    device = torch.device(device) if device is not None else runtime.pick_device(verbose=False)
    return "paper" if device.type in ("cuda", "mps") else "cpu"


def default_sweep(preset: str, config: TrainConfig) -> tuple[list[float], list[bool]]:
    """The settings to sweep for a preset.

    Parameters
    ----------
    preset : str
        The preset's name.
    config : TrainConfig
        The configuration.

    Returns
    -------
    weight_decays : list of float
        The paper's three for the `paper` preset (a GPU), else the configuration's own.
    balances : list of bool
        The paper's two (with and without class weights), else the configuration's own (six trainings would
        take hours on a CPU).
    """
    if preset == "paper":
        return list(PAPER_SWEEP["weight_decays"]), list(PAPER_SWEEP["balances"])
    return [config.weight_decay], [config.balance]


def resolve_config(preset: str, overrides: dict | None = None) -> TrainConfig:
    """A preset's configuration with changes applied.

    Parameters
    ----------
    preset : str
        A name in PRESETS.
    overrides : dict, optional
        {field: value} to change.

    Returns
    -------
    TrainConfig
        The configuration.

    Raises
    ------
    ValueError
        Naming an unknown preset or field, so that a typo is not silently ignored.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: {', '.join(PRESETS)}")
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - {f.name for f in fields(TrainConfig)})
    if unknown:
        raise ValueError(f"unknown TrainConfig field(s) {', '.join(unknown)}; fields: {', '.join(f.name for f in fields(TrainConfig))}")
    if "val_scenes" in overrides:
        overrides["val_scenes"] = tuple(overrides["val_scenes"])
    return replace(PRESETS[preset], **overrides)


def check_config(config: TrainConfig, split=None, flag=lambda name: name) -> None:
    """Check that a configuration can work before training starts.

    Parameters
    ----------
    config : TrainConfig
        The configuration.
    split : split.Split, optional
        With it, the patch must also fit in every training scene, and held-out scenes must be present.
    flag : callable, optional
        Turns a field name into what the caller calls it (the CLI passes --patch-size for patch_size).

    Raises
    ------
    OptionError
        Naming the first setting that cannot work and why.
    """

    def refuse(name: str, why: str):
        value = getattr(config, name)
        shown = " ".join(map(str, value)) if isinstance(value, tuple) else value
        raise errors.OptionError(f"{flag(name)} {shown}: {why}")

    for f in fields(config):
        if isinstance(getattr(config, f.name), float) and not math.isfinite(getattr(config, f.name)):
            refuse(f.name, "not a finite number")
    for name in ("epochs", "batch_size", "patch_size", "width", "depth", "patches_per_epoch", "window", "val_every"):
        if getattr(config, name) < 1:
            refuse(name, "must be at least 1")
    for name in ("weight_decay", "gamma", "weight_cap", "jitter", "overlap", "weight_power"):
        if getattr(config, name) < 0:
            refuse(name, "must be 0 or more")
    if config.jitter >= 1:
        refuse("jitter", "must be below 1 (band gains are drawn from 1 - jitter to 1 + jitter and must stay positive)")
    if not 0 < config.lr <= 1:
        refuse("lr", "must be above 0 and at most 1")
    side = min(config.patch_size, config.window)
    if 2 ** config.depth > side:  # each level halves the patch
        refuse("depth", f"the {side}-pixel patch or window would be halved to nothing; at most {int(math.log2(side))}")
    if not 0 <= config.val_fraction < 1:
        refuse("val_fraction", "the share of rows held out must be at least 0 and below 1")
    if config.overlap >= config.window:
        refuse("overlap", f"must be smaller than the window ({config.window})")
    if config.schedule not in ("onecycle", "cosine", "constant"):
        refuse("schedule", "use onecycle, cosine or constant")
    if config.variant not in VARIANTS:
        refuse("variant", f"use one of {', '.join(sorted(VARIANTS))}")
    known = [s.name for s in data.scenes("train")]
    if set(config.val_scenes) - set(known):
        refuse("val_scenes", f"not a training scene (they are {', '.join(known)})")
    if config.val_scenes and config.val_fraction > 0:
        refuse("val_scenes", f"held out whole, or the bottom {config.val_fraction:.0%} of every date ({flag('val_fraction')} "
                             f"{config.val_fraction}), not both: add {flag('val_fraction')} 0 to hold the dates out, or "
                             f"{flag('val_scenes')} with no name for the stripe")
    if split is None:
        return
    smallest = min(min(mask.shape) for _, mask in split.train)
    if config.patch_size > smallest:
        after = f" once {flag('val_fraction')} {config.val_fraction} holds out its bottom rows" if config.val_fraction else ""
        refuse("patch_size", f"larger than the smallest training scene ({smallest} pixels{after})")
    if config.val_scenes and config.val_fraction == 0 and not split.val:
        refuse("val_scenes", "no held-out scene has its image here, so nothing would be validated")


def config_from_dict(values: dict) -> TrainConfig:
    """A configuration from the dict a checkpoint stores.

    Parameters
    ----------
    values : dict
        Every field of TrainConfig (lists where the class has tuples).

    Returns
    -------
    TrainConfig
        The configuration.

    Raises
    ------
    TypeError
        For a field TrainConfig does not have.
    """
    return TrainConfig(**{**values, "val_scenes": tuple(values["val_scenes"])})


def amp_enabled(config: TrainConfig, device) -> bool:
    """Whether to use mixed precision: the one rule for training and prediction alike.

    Parameters
    ----------
    config : TrainConfig
        Its `amp` setting.
    device : torch.device
        The device.

    Returns
    -------
    bool
        True when `config.amp` on CUDA (float16 autocast, with a GradScaler in training) and on a CPU with AMX
        (bfloat16 autocast, `runtime.cpu_has_amx`); other CPUs and MPS work in float32.
    """
    return config.amp and (device.type == "cuda" or (device.type == "cpu" and runtime.cpu_has_amx()))
