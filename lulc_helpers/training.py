"""Training the U-Net on patches, checkpoints with everything needed to predict (prediction: `inference`).

The paper's settings (Table 3) are the defaults of `TrainConfig`. What the paper does not state (network
width and depth, patches per epoch, learning-rate schedule, normalisation, patch placement) is chosen here
so that training is stable; `PRESETS["naive"]` switches those choices off to show why they matter.
The network sees surface reflectance (`data.reflectance`, which removes the +1000 L2A offset of 2022-on
scenes), normalised per band; no-data pixels enter as 0 and their labels are dropped.
Accuracy uses `metrics`: confusion matrices with rows = classified (map), columns = reference.
"""

from __future__ import annotations

import math
import os
import time
import zipfile
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import xarray as xr
from tqdm.auto import tqdm

from . import data, inference, labels, metrics, outputs, runtime, scheme
from .losses import FocalLoss
from .model import VARIANTS, UNet
from .patches import Normalisation, PatchSampler, valid_pixels

# Set before torch's first parallel operation: set after it, a 2-thread training step still took 300 ms instead
# of 130 ms with subnormal weights (threads started earlier do not all follow the setting).
runtime.flush_denormals()

CHECKPOINT_FORMAT = "lulc-unet/2"  # /2: inputs are surface reflectance (data.reflectance), not digital numbers
# What the network sees, stored in every checkpoint so that prediction repeats it.
INPUT_CONVERSION = "data.reflectance: (DN - L2A offset by date) / 10000, then (x - mean) / std, no data -> 0"


@dataclass(frozen=True)
class TrainConfig:
    # The paper's Table 3.
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
    jitter: float = 0.0  # > 0: per-band gain and shift of each patch (patches.jitter)
    val_scenes: tuple[str, ...] = ("strzegom_20220619",)  # held-out training date, never the test date
    val_fraction: float = 0.0  # > 0: the bottom rows of every training scene held out instead
    val_every: int = 1  # validate every n-th epoch and the last; the kept epoch is one of those
    seed: int = 0
    amp: bool = True  # mixed precision, CUDA only
    window: int = 256  # prediction window; neighbouring windows overlap by `overlap` pixels
    overlap: int = 64


# The paper's sweep (Table 3): one training per weight decay, with and without class weights ("balance").
PAPER_SWEEP = {"weight_decays": (0.01, 0.001, 0.0001), "balances": (True, False)}

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
    """"paper" where a GPU (CUDA or Apple MPS) is present, else "cpu": the paper's network needs about
    80 minutes per training on two CPU cores and a few minutes on a GPU."""
    device = torch.device(device) if device is not None else runtime.pick_device(verbose=False)
    return "paper" if device.type in ("cuda", "mps") else "cpu"


def default_sweep(preset: str, config: TrainConfig) -> tuple[list[float], list[bool]]:
    """(weight decays, balances) to sweep: the paper's 3 x 2 for the `paper` preset (a GPU), else the
    configuration's own single setting (six trainings would take hours on a CPU)."""
    if preset == "paper":
        return list(PAPER_SWEEP["weight_decays"]), list(PAPER_SWEEP["balances"])
    return [config.weight_decay], [config.balance]


def resolve_config(preset: str, overrides: dict | None = None) -> TrainConfig:
    """The preset's configuration with `overrides` ({field: value}) applied; an unknown preset or field
    raises ValueError naming it, so that a typo is not silently ignored."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: {', '.join(PRESETS)}")
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - {f.name for f in fields(TrainConfig)})
    if unknown:
        raise ValueError(f"unknown TrainConfig field(s) {', '.join(unknown)}; fields: {', '.join(f.name for f in fields(TrainConfig))}")
    if "val_scenes" in overrides:
        overrides["val_scenes"] = tuple(overrides["val_scenes"])
    return replace(PRESETS[preset], **overrides)


@dataclass
class TrainResult:
    model: UNet  # after the last epoch; best.pt holds the best validation epoch
    history: pd.DataFrame
    best_path: Path
    last_path: Path
    normalisation: Normalisation
    config: TrainConfig


@dataclass
class Split:
    """Training and validation (image, mask) numpy pairs, with the scene names."""

    train: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    val: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    train_names: list[str] = field(default_factory=list)
    val_names: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def split_names(config: TrainConfig = TrainConfig(), root: Path | None = None) -> Split:
    """The scene names of `paper_split` without reading any image: only the paper's training scenes
    (`data.scenes("train")`) ever appear; the test scenes never enter training or model selection."""
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
        raise data.DataError(f"no training image is present under {root or data.data_dir()} (run `lulc fetch`)")
    return split


def _stripe(config: TrainConfig) -> str:
    return f"bottom {config.val_fraction:.0%} of rows"


def paper_split(config: TrainConfig = TrainConfig(), root: Path | None = None) -> Split:
    """The paper's training scenes whose images are present, as surface reflectance (NaN = no data).

    Validation: with `config.val_fraction` > 0, the bottom rows of every scene (that fraction) form the
    validation set and the rows above it the training set, so no training patch overlaps a validation
    pixel and every date, summer ones included, is trained on; otherwise `config.val_scenes` are held out whole.
    """
    split = split_names(config, root)
    for scene in data.scenes("train"):
        if scene.name in split.missing:
            continue
        image, mask = data.load_scene(scene, root)
        values = network_input(image)
        # labels on no-data pixels (the zero border rows and column) would teach the network noise
        labelled = np.where(valid_pixels(values), mask.values, scheme.NODATA).astype(np.uint8)
        if config.val_fraction > 0:
            cut = round(values.shape[1] * (1 - config.val_fraction))
            split.train.append((values[:, :cut], labelled[:cut]))
            split.val.append((values[:, cut:], labelled[cut:]))
        else:
            (split.val if scene.name in config.val_scenes else split.train).append((values, labelled))
    return split


def dry_run(config: TrainConfig, root: Path | None = None) -> dict:
    """What `train` would do, without training or reading an image: every configuration field and the
    training, validation and missing scene names (`lulc train --dry-run --json`)."""
    split = split_names(config, root)
    return {
        "config": asdict(config),
        "train_scenes": split.train_names,
        "val_scenes": split.val_names,
        "missing_scenes": split.missing,
    }


def check_config(config: TrainConfig, split: Split | None = None, flag=lambda name: name) -> None:
    """Raise data.OptionError naming the first setting of `config` that cannot work; `flag` turns a field name
    into what the caller calls it (the CLI passes --patch-size for patch_size). With `split`, the patch must
    also fit in every training scene, and held-out scenes must be present."""

    def refuse(name: str, why: str):
        value = getattr(config, name)
        shown = " ".join(map(str, value)) if isinstance(value, tuple) else value
        raise data.OptionError(f"{flag(name)} {shown}: {why}")

    for f in fields(config):
        if isinstance(getattr(config, f.name), float) and not math.isfinite(getattr(config, f.name)):
            refuse(f.name, "not a finite number")
    for name in ("epochs", "batch_size", "patch_size", "width", "depth", "patches_per_epoch", "window", "val_every"):
        if getattr(config, name) < 1:
            refuse(name, "must be at least 1")
    for name in ("weight_decay", "gamma", "weight_cap", "jitter", "overlap"):
        if getattr(config, name) < 0:
            refuse(name, "must be 0 or more")
    if config.lr <= 0:
        refuse("lr", "must be above 0")
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
    if split is None:
        return
    smallest = min(min(mask.shape) for _, mask in split.train)
    if config.patch_size > smallest:
        refuse("patch_size", f"larger than the smallest training scene ({smallest} pixels)")
    if config.val_scenes and config.val_fraction == 0 and not split.val:
        refuse("val_scenes", "no held-out scene has its image here, so nothing would be validated")


# ---------------------------------------------------------------- checkpoints


def _scheme_table() -> list[list]:
    return [[c.id, c.name, c.colour] for c in scheme.CLASSES]


def _save(path: Path, payload: dict) -> None:
    """Write a checkpoint through `outputs.atomic_output`; the CRCs of its zip container are checked first."""

    def verify(tmp: Path) -> None:
        try:
            with zipfile.ZipFile(tmp) as archive:
                damaged = archive.testzip()
        except (zipfile.BadZipFile, OSError):
            damaged = "its zip directory"
        if damaged is not None:
            raise outputs.OutputError(f"{path}: the written checkpoint does not read back ({damaged} is damaged)")

    with outputs.atomic_output(path, verify) as tmp:
        try:
            torch.save(payload, tmp)
        except RuntimeError as err:  # torch reports a failed write (full disk, file-size limit) as RuntimeError
            raise outputs.OutputError(f"{path}: could not write: {str(err).splitlines()[0]}") from err


def load_checkpoint(path: str | os.PathLike, device=None) -> tuple[UNet, dict]:
    """(model in eval mode, checkpoint dict) from a file written by `train`."""
    path = Path(path)
    if not path.is_file():
        raise data.DataError(f"{path}: no such checkpoint")
    if not zipfile.is_zipfile(path):  # torch.load would answer with a page about weights_only
        raise data.DataError(f"{path}: not a checkpoint (torch.save writes a zip archive; this is not one)")
    try:
        checkpoint = torch.load(path, map_location=device or "cpu", weights_only=True)
    except Exception as err:
        raise data.DataError(f"{path}: not a readable checkpoint ({err})") from err
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        found = checkpoint.get("format") if isinstance(checkpoint, dict) else None
        hint = "; it was trained on digital numbers, not reflectance: train it again" if found == "lulc-unet/1" else ""
        raise data.DataError(f"{path}: not a lulc U-Net checkpoint of format {CHECKPOINT_FORMAT} (found {found}){hint}")
    if [row[:2] for row in checkpoint["scheme"]] != [row[:2] for row in _scheme_table()]:  # colours may change
        raise data.DataError(f"{path}: trained with another class scheme than lulc_helpers.scheme")
    model = build_model(config_from_dict(checkpoint["config"]))
    model.load_state_dict(checkpoint["model"])
    return model.to(device or "cpu").eval(), checkpoint


def network_input(image: xr.DataArray, offset: int | None = None) -> np.ndarray:
    """The values the network is trained on and predicts from: surface reflectance (band, y, x), NaN = no data.

    `offset` is the L2A offset to remove (0 or 1000); None takes it from the image's date (`data.reflectance`).
    """
    return data.reflectance(image, offset).values


def loss_weights(config: TrainConfig, masks: Sequence[np.ndarray]) -> np.ndarray | None:
    """The "balance" option's class weights, indexed by class id: min((N / (K n_c)) ** weight_power, weight_cap).

    N / (K n_c) is `labels.class_weights` (inverse frequency); a power below 1 and a cap soften it, so that a
    class 42 times rarer than average (roads) does not take over its neighbours. None without balance.
    """
    if not config.balance:
        return None
    weights = labels.class_weights(labels.class_counts(masks)) ** config.weight_power
    return np.minimum(weights, config.weight_cap) if config.weight_cap > 0 else weights


def config_from_dict(values: dict) -> TrainConfig:
    return TrainConfig(**{**values, "val_scenes": tuple(values["val_scenes"])})


def build_model(config: TrainConfig) -> UNet:
    return UNet(width=config.width, depth=config.depth, variant=config.variant)


# ---------------------------------------------------------------- training


def _scheduler(optimizer, config: TrainConfig, steps_per_epoch: int):
    total = config.epochs * steps_per_epoch
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total, pct_start=0.2)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if config.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    raise ValueError(f"unknown schedule {config.schedule!r}: onecycle, cosine or constant")


def amp_enabled(config: TrainConfig, device: torch.device) -> bool:
    """Mixed precision (float16 autocast with a GradScaler) on CUDA only; CPU and MPS train in float32."""
    return config.amp and device.type == "cuda"


def train(
    config: TrainConfig,
    split: Split,
    out_dir: str | os.PathLike,
    resume: bool = True,
    device=None,
    progress: bool = True,
    on_epoch: Callable[[pd.DataFrame], None] | None = None,
) -> TrainResult:
    """Train, validate after every `config.val_every`-th epoch and the last, write `last.pt` every epoch and
    `best.pt` at the best validation macro F1 (the last epoch when there is no validation data).

    progress: one bar for the whole training (epoch, loss, validation macro F1, time left).
    on_epoch: called with the history so far after every epoch (a notebook redraws its curves there).
    With resume=True and a `last.pt` in `out_dir` from the same configuration, training goes on from its
    epoch; each epoch's patches are drawn from a generator seeded with (seed, epoch), so an interrupted and
    resumed run sees the same patches as an uninterrupted one.
    """
    check_config(config, split)
    out_dir = Path(out_dir)
    runtime.seed_everything(config.seed)
    device = torch.device(device) if device is not None else runtime.pick_device(verbose=progress)
    use_amp = amp_enabled(config, device)
    images, masks = [image for image, _ in split.train], [mask for _, mask in split.train]
    normalisation = Normalisation.fit(images) if config.normalise else Normalisation.identity(images[0].shape[0])
    sampler = PatchSampler(
        [normalisation.apply(i) for i in images], masks, config.patch_size, config.balanced_sampling, config.jitter
    )
    weights = loss_weights(config, masks)
    val = [(normalisation.apply(image), mask) for image, mask in split.val]

    model = build_model(config).to(device)
    loss_fn = FocalLoss(config.gamma, weights).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = math.ceil(config.patches_per_epoch / config.batch_size)
    scheduler = _scheduler(optimizer, config, steps)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    history: list[dict] = []
    best_score, start = -math.inf, 0
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    if resume and last_path.is_file():
        _, saved = load_checkpoint(last_path)
        before = config_from_dict(saved["config"])
        if before != config:
            changed = ", ".join(f"{f.name} {getattr(before, f.name)!r}, now {getattr(config, f.name)!r}"
                                for f in fields(config) if getattr(before, f.name) != getattr(config, f.name))
            raise data.OptionError(
                f"{last_path}: written with another configuration ({changed}); to resume, use the same options; "
                "else use another out_dir (--out) or resume=False (--no-resume)"
            )
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        if saved["scaler"]:  # empty when written by a disabled scaler (a CPU run resumed on a GPU)
            scaler.load_state_dict(saved["scaler"])
        history, best_score, start = saved["history"], saved["best_score"], saved["epoch"]

    label = f"{out_dir.name}: epochs" if progress else ""
    bar = tqdm(range(start, config.epochs), initial=start, total=config.epochs, desc=label, disable=not progress)
    latest_f1 = next((h["val_f1"] for h in reversed(history) if not math.isnan(h["val_f1"])), math.nan)
    for epoch in bar:
        runtime.flush_denormals()  # again each epoch: a library called in between may have reset it
        began = time.perf_counter()
        x_all, y_all = sampler.sample(config.patches_per_epoch, np.random.default_rng([config.seed, epoch]))
        model.train()
        total_loss = 0.0
        for step in range(steps):
            batch = slice(step * config.batch_size, (step + 1) * config.batch_size)
            x = torch.from_numpy(x_all[batch]).to(device)
            y = torch.from_numpy(y_all[batch]).to(device)
            total_loss += _step(model, loss_fn, optimizer, scaler, x, y, use_amp).item()
            scheduler.step()
        trained = time.perf_counter()
        record = {"epoch": epoch + 1, "loss": total_loss / steps, "lr": optimizer.param_groups[0]["lr"]}
        validated = (epoch + 1) % config.val_every == 0 or epoch + 1 == config.epochs
        record.update(validate(model, val if validated else [], config, device))
        record["train_s"], record["val_s"] = trained - began, time.perf_counter() - trained
        history.append(record)
        # without validation data the model is the last epoch (a fixed-length schedule), so best.pt = last.pt
        score = record["epoch"] if not val else record["val_f1"] if validated else -math.inf
        payload = {
            "format": CHECKPOINT_FORMAT,
            "model": model.state_dict(),
            "config": asdict(config),
            "normalisation": normalisation.to_dict(),
            "input": INPUT_CONVERSION,
            "scheme": _scheme_table(),
            "bands": list(data.BANDS),
            "train_scenes": split.train_names,
            "val_scenes": split.val_names,
            "epoch": epoch + 1,
            "history": history,
            "best_score": max(best_score, score),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
        }
        if score > best_score:
            best_score = score
            _save(best_path, payload)
        _save(last_path, payload)
        latest_f1 = record["val_f1"] if validated else latest_f1
        bar.set_postfix(loss=f"{record['loss']:.3f}", val_f1=f"{latest_f1:.3f}", refresh=False)
        if on_epoch is not None:
            on_epoch(pd.DataFrame(history))
    bar.close()
    model.eval()
    return TrainResult(model, pd.DataFrame(history), best_path, last_path, normalisation, config)


def validate(model: UNet, val: Sequence[tuple[np.ndarray, np.ndarray]], config: TrainConfig, device) -> dict:
    """Validation OA and macro F1 (classes present in the reference) over the held-out scenes, pooled."""
    if not val:
        return {"val_oa": float("nan"), "val_f1": float("nan")}
    maps = [inference.classify(model, image, config, device) for image, _ in val]
    scores = accuracy(np.concatenate([m.ravel() for m in maps]), np.concatenate([mask.ravel() for _, mask in val]))
    return {"val_oa": scores["oa"], "val_f1": scores["macro_f1"]}


def accuracy(classified: np.ndarray, reference: np.ndarray, exclude_predicted: Sequence[int] = ()) -> dict:
    """OA, macro F1 over the classes present in the reference, and the per-class table (rows = classified)."""
    matrix, codes = metrics.confusion_matrix(classified, reference, exclude_predicted=tuple(exclude_predicted))
    return {
        "oa": metrics.overall_accuracy(matrix),
        "macro_f1": metrics.macro_f1(matrix, reference_classes_only=True),
        "matrix": matrix,
        "labels": codes,
    }


def run_dir(root: str | os.PathLike, config: TrainConfig) -> Path:
    """The folder of one run of `sweep` or `seed_runs`, named by what they vary: a finished run is resumed, not
    trained again, when another call asks for the same configuration."""
    return Path(root) / f"wd{config.weight_decay:g}_balance{int(config.balance)}_seed{config.seed}"


def sweep(
    config: TrainConfig,
    split: Split,
    out_dir: str | os.PathLike,
    weight_decays: Sequence[float] = PAPER_SWEEP["weight_decays"],
    balances: Sequence[bool] = PAPER_SWEEP["balances"],
    progress: bool = True,
    on_epoch: Callable[[pd.DataFrame], None] | None = None,
) -> pd.DataFrame:
    """The paper's sweep: one run per (weight decay, balance), each scored at its best validation epoch.
    Uses the validation data of `split` only (never a test scene); `select` picks the row."""
    rows = []
    for weight_decay in weight_decays:
        for balance in balances:
            run = replace(config, weight_decay=weight_decay, balance=balance)
            result = train(run, split, run_dir(out_dir, run), progress=progress, on_epoch=on_epoch)
            rows.append({"weight_decay": weight_decay, "balance": balance, **_best_epoch(result)})
    return pd.DataFrame(rows)


def _best_epoch(result: TrainResult) -> dict:
    """The epoch kept in best.pt (best validation macro F1, the earliest on a tie; the last without validation)."""
    history = result.history
    if history["val_f1"].isna().all():
        best = history.iloc[-1]
    else:
        best = history.sort_values(["val_f1", "epoch"], ascending=[False, True]).iloc[0]
    return {"best_epoch": int(best["epoch"]), "val_oa": best["val_oa"], "val_f1": best["val_f1"],
            "checkpoint": str(result.best_path)}


def select(table: pd.DataFrame, score: str = "val_f1") -> pd.Series:
    """The row of a `sweep` table with the best validation score (the first of equals).

    Raises ValueError when there is more than one row and no validation score: without validation data
    a sweep cannot choose, and taking its first row would look like a choice.
    """
    if table[score].isna().any():
        if len(table) > 1:
            raise ValueError(f"no validation {score} for {table[score].isna().sum()} of {len(table)} settings: "
                             "hold out validation data (val_fraction or val_scenes) to choose between settings")
        return table.iloc[0]
    return table.loc[table[score].idxmax()]


def seed_runs(
    config: TrainConfig, split: Split, out_dir: str | os.PathLike, seeds: Sequence[int], progress: bool = True,
    on_epoch: Callable[[pd.DataFrame], None] | None = None,
) -> pd.DataFrame:
    """Train once per seed: one row per seed with its best epoch, validation scores and checkpoint. No test
    scene is read here (score them once, at the end, with `test_scores`). With the `out_dir` of a `sweep`,
    the seed that the sweep trained is not trained again."""
    rows = []
    for seed in seeds:
        run = replace(config, seed=seed)
        result = train(run, split, run_dir(out_dir, run), progress=progress, on_epoch=on_epoch)
        rows.append({"seed": seed, **_best_epoch(result)})
    return pd.DataFrame(rows)


def score_test_scene(runs: pd.DataFrame, scene: data.Scene | None = None, tta: bool = True) -> pd.DataFrame:
    """Score each run's checkpoint (a `seed_runs` table) on the test scene under both reference protocols:
    one row per run and protocol."""
    rows = []
    for _, run in runs.iterrows():
        scores = evaluate_on_test(run["checkpoint"], scene, tta=tta)
        rows += [{**run.to_dict(), "protocol": name, **scores.loc[name].to_dict()} for name in scores.index]
    return pd.DataFrame(rows)


def validation_by_date(checkpoint: str | os.PathLike, split: Split, device=None) -> pd.DataFrame:
    """OA and macro F1 of a checkpoint on each validation part of `split` (one row per training date's stripe
    or held-out date), one pass without test-time augmentation, as during training."""
    model, saved = load_checkpoint(checkpoint, device)
    config, normalisation = config_from_dict(saved["config"]), Normalisation.from_dict(saved["normalisation"])
    rows = {}
    for name, (image, mask) in zip(split.val_names, split.val):
        scores = accuracy(inference.classify(model, normalisation.apply(image), config, device).ravel(), mask.ravel())
        rows[name] = {"OA": scores["oa"], "macro F1": scores["macro_f1"]}
    return pd.DataFrame(rows).T


# ---------------------------------------------------------------- recorded runs and the paper


RECORDED_RUNS = Path("results") / "unet_recorded_runs.csv"  # under the project root
RECORD_COLUMNS = ["run", "seeds", "epochs", "threads", "evaluated_on", "protocol", "OA", "OA_sd", "OA_min",
                  "OA_max", "macro_F1", "macro_F1_sd", "macro_F1_min", "macro_F1_max", "setting_chosen_by", "source"]


def recorded_runs(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The recorded U-Net runs (results/unet_recorded_runs.csv): one row per run and protocol, the mean over
    its seeds with sd and range. Rows come from `lulc train --record` or, for runs made before that option
    existed, from the project's closing notes (named in `source`)."""
    path = Path(path) if path is not None else data.project_root() / RECORDED_RUNS
    if not path.is_file():
        raise data.DataError(f"{path}: no recorded runs file (it ships with the repository; `lulc train --record` writes it)")
    return pd.read_csv(path)


def record(rows: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Append rows (columns as RECORD_COLUMNS; missing ones left empty) to a recorded-runs CSV, atomically."""
    path = Path(path)
    previous = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=RECORD_COLUMNS)
    table = pd.concat([previous, rows.reindex(columns=RECORD_COLUMNS)], ignore_index=True)
    with outputs.atomic_output(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    return path


# How the cpu preset's own runs are named in the recorded runs; a candidate change is "<PRESET_RUN>; <change>".
PRESET_RUN = "cpu preset, stripe validation, best epoch"


def selection_evidence(recorded: pd.DataFrame | None = None, epochs: int | None = None) -> pd.DataFrame:
    """The validation scores (training dates only) of the recorded `cpu`-preset runs and of the candidate
    changes tried against it: one row per run, with `change` ("none" for the preset itself) and, for a
    candidate, its macro F1 minus that of the preset's run of the same seed and length (for a change of the
    number of epochs, "epochs 80", the preset's own length)."""
    recorded = recorded_runs() if recorded is None else recorded
    rows = recorded[(recorded["evaluated_on"] == "training dates") & recorded["run"].str.startswith(PRESET_RUN)]
    if epochs is not None:
        rows = rows[rows["epochs"] == epochs]
    rows = rows.assign(change=rows["run"].str.removeprefix(PRESET_RUN).str.lstrip("; ").replace("", "none"))
    rows = rows.drop_duplicates(["change", "seeds", "epochs"], keep="last")
    preset = rows[rows["change"] == "none"].set_index(["seeds", "epochs"])["macro_F1"]

    def baseline(change: str, seed, length: int) -> float:  # "epochs N" is compared with the preset's length
        return preset.get((seed, PRESETS["cpu"].epochs if change.startswith("epochs ") else length), np.nan)

    gain = [f1 - baseline(change, seed, length) if change != "none" else np.nan
            for change, seed, length, f1 in rows[["change", "seeds", "epochs", "macro_F1"]].itertuples(index=False)]
    return (rows.assign(**{"macro F1 minus the preset's": gain})
            [["change", "seeds", "epochs", "OA", "macro_F1", "macro F1 minus the preset's"]]
            .rename(columns={"OA": "validation OA", "macro_F1": "validation macro F1", "seeds": "seed"})
            .sort_values(["epochs", "change", "seed"]).reset_index(drop=True))


# Strzegom 2023-07-09, reference polygons (the paper's Table 6 / metrics.PAPER_UNET_TABLES).
PAPER_STRZEGOM = {
    "OA": metrics.PAPER_UNET_TABLES["strzegom"]["Overall"][0],
    "macro F1": metrics.PAPER_UNET_TABLES["strzegom"]["Mean"][4],
}
PAPER_REGIONS = ("strzegom", "kolbuszowa", "krakow")  # Section 2.3.1, training and validation


def deviations(config: TrainConfig, split: Split, tta: bool = True, weight_decays=None, balances=None) -> pd.DataFrame:
    """How a run differs from the paper: what the paper says (Table 3 and Section 2.3.1), what the `paper`
    preset makes of it (`PRESETS["paper"]`; the paper leaves some choices open) and this run's configuration."""
    paper = PRESETS["paper"]
    regions = sorted({name.split("_")[0] for name in split.train_names})

    def weights(c: TrainConfig) -> str:
        if not c.balance:
            return "none"
        cap = f", capped at {c.weight_cap:g}" if c.weight_cap > 0 else ""
        return f"(N / (K n_c)) ** {c.weight_power:g}{cap}"

    def sweep_text(decays, balance_options) -> str:
        return f"weight decay {list(decays)} x balance {list(balance_options)}"

    rows = [
        ("regions", "Strzegom, Kolbuszowa, Kraków (Section 2.3.1)", ", ".join(PAPER_REGIONS), ", ".join(regions)),
        ("classes", "Table 3: 1-9; Table 6 scores quarries (10) too", "1-10", "1-10"),
        ("width / depth", "not stated (Table 2: blocks only)", f"{paper.width} / {paper.depth}", f"{config.width} / {config.depth}"),
        ("epochs", "25 (Table 3)", paper.epochs, config.epochs),
        ("patches per epoch", "not stated", paper.patches_per_epoch, config.patches_per_epoch),
        ("loss", "Table 3: FocalLoss(), gamma 2; Section 2.3.1 text: CrossEntropyLoss",
         f"focal, gamma {paper.gamma:g}", f"focal, gamma {config.gamma:g}" if config.gamma else "cross-entropy"),
        ("class weights", "balance 1 (formula not stated)", weights(paper), weights(config)),
        ("learning rate", "Table 3: 0.001; Section 2.3.1 text: swept (values not given)", paper.lr, config.lr),
        ("schedule", "not stated", paper.schedule, config.schedule),
        ("sweep", "Table 3: weight decay {0.01, 0.001, 0.0001}; balance on and off", sweep_text(*PAPER_SWEEP.values()),
         sweep_text(weight_decays or [config.weight_decay], balances or [config.balance])),
        ("radiometric jitter", "not stated", paper.jitter, config.jitter),
        ("validation", "not stated (training and validation dates listed together)",
         ", ".join(paper.val_scenes) or _stripe(paper), _stripe(config) if config.val_fraction > 0 else ", ".join(config.val_scenes) or "none"),
        ("test-time augmentation", "not stated", "8 flips and rotations", "8 flips and rotations" if tta else "none"),
    ]
    table = pd.DataFrame(rows, columns=["aspect", "paper says", "paper preset", "this run"]).set_index("aspect")
    table["differs"] = [str(a) != str(b) for a, b in zip(table["paper preset"], table["this run"])]
    return table


def train_throughput(config: TrainConfig, device, steps: int = 3) -> float:
    """Training patches per second (forward, backward, Adam step) on random data, after one warm-up step."""
    device = torch.device(device)
    use_amp = amp_enabled(config, device)
    model = build_model(config).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    loss_fn = FocalLoss(config.gamma)
    x = torch.randn(config.batch_size, len(data.BANDS), config.patch_size, config.patch_size, device=device)
    y = torch.randint(0, len(scheme.CLASSES) + 1, (config.batch_size, config.patch_size, config.patch_size), device=device)
    for step in range(steps + 1):
        if step == 1:  # the first step pays for allocations and cuDNN autotuning
            _synchronise(device)
            began = time.perf_counter()
        _step(model, loss_fn, optimizer, scaler, x, y, use_amp)
    _synchronise(device)
    return steps * config.batch_size / (time.perf_counter() - began)


def _step(model, loss_fn, optimizer, scaler, x, y, use_amp: bool) -> torch.Tensor:
    """One optimiser step (mixed precision when `use_amp`), shared by training and the throughput benchmark."""
    with torch.autocast(x.device.type, dtype=torch.float16, enabled=use_amp):
        loss = loss_fn(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def estimate_minutes(config: TrainConfig, runs: int, device, steps: int = 2) -> float:
    """Minutes that `runs` trainings of `config` take on `device`, from a short measurement (validation not counted)."""
    return runs * config.epochs * config.patches_per_epoch / train_throughput(config, device, steps) / 60


# ---------------------------------------------------------------- the paper's test


def reference_protocols(scene: data.Scene | None = None, root: Path | None = None) -> tuple[xr.DataArray, dict[str, np.ndarray]]:
    """(test image, {protocol: reference codes}) for a test scene: its test-mask GeoTIFF and its polygons."""
    root = root or data.data_dir()
    scene = scene or data.test_scene("strzegom")
    image, mask = data.load_scene(scene, root)
    polygons = data.rasterize_reference(root / scene.reference, like=image, field=scene.reference_field)
    return image, {"test mask": mask.values, "reference polygons": polygons.values}


# Class 6 is absent from the Strzegom reference; the paper leaves pixels classified as 6 out (DESIGN.md, Data).
PAPER_EXCLUDED = (6,)


def evaluate_on_test(
    checkpoint: str | os.PathLike, scene: data.Scene | None = None, device=None, tta: bool = True
) -> pd.DataFrame:
    """OA and macro F1 of a checkpoint on a test scene under both reference protocols (predicted 6 left out)."""
    image, references = reference_protocols(scene)
    return scores_on_test(inference.predict_scene(checkpoint, image, device, tta=tta), references)


def scores_on_test(classes, references: dict[str, np.ndarray]) -> pd.DataFrame:
    """OA and macro F1 of any class map (U-Net, Random Forest...) under each reference protocol, predicted 6 left out."""
    rows = {name: accuracy(np.asarray(classes), ref, PAPER_EXCLUDED) for name, ref in references.items()}
    return pd.DataFrame({name: {"OA": r["oa"], "macro F1": r["macro_f1"]} for name, r in rows.items()}).T
