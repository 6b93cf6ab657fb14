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
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import xarray as xr
from tqdm.auto import tqdm

from . import data, inference, labels, metrics, outputs, runtime, scheme
from .losses import FocalLoss
from .model import VARIANTS, UNet
from .patches import Normalisation, PatchSampler, valid_pixels

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
    seed: int = 0
    amp: bool = True  # mixed precision, CUDA only
    window: int = 256  # prediction window; neighbouring windows overlap by `overlap` pixels
    overlap: int = 64


PRESETS: dict[str, TrainConfig] = {
    "paper": TrainConfig(),
    # Two CPU cores: a narrower, shallower network, fewer patches; every date trained (only three are summer
    # dates, like the test date), no validation, the last epoch kept. Square-root class weights (roads 42 -> 6.5):
    # full ones make roads spread over fields. Radiometric jitter: without it, on a date held out of training,
    # the network swapped whole classes (mixed forest -> conifer) and scored a lower macro F1 (notebook 03);
    # with it the network fits more slowly: 160 epochs scored 0.02 higher in OA and 0.03 in macro F1 than 80.
    "cpu": TrainConfig(
        width=16, depth=3, patches_per_epoch=200, epochs=160, val_scenes=(), weight_power=0.5, jitter=0.15
    ),
    "quick": TrainConfig(width=4, depth=2, patches_per_epoch=8, epochs=1, patch_size=48, window=128, overlap=16),
    # The first implementation: raw reflectance, constant lr, any labelled pixel.
    "naive": TrainConfig(normalise=False, schedule="constant", balanced_sampling=False, width=32),
}


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


def paper_split(config: TrainConfig = TrainConfig(), root: Path | None = None) -> Split:
    """The paper's training scenes whose images are present, as surface reflectance (NaN = no data).

    Validation: with `config.val_fraction` > 0, the bottom rows of every scene (that fraction) form the
    validation set and the rows above it the training set, so no training patch overlaps a validation
    pixel and every date, summer ones included, is trained on; otherwise `config.val_scenes` are held out whole.
    """
    split = Split()
    for scene in data.scenes("train"):
        if not scene.has_image(root):
            split.missing.append(scene.name)
            continue
        image, mask = data.load_scene(scene, root)
        values = network_input(image)
        # labels on no-data pixels (the zero border rows and column) would teach the network noise
        labelled = np.where(valid_pixels(values), mask.values, scheme.NODATA).astype(np.uint8)
        if config.val_fraction > 0:
            cut = round(values.shape[1] * (1 - config.val_fraction))
            split.train.append((values[:, :cut], labelled[:cut]))
            split.val.append((values[:, cut:], labelled[cut:]))
            split.train_names.append(scene.name)
            split.val_names.append(f"{scene.name} rows {cut}+")
            continue
        held_out = scene.name in config.val_scenes
        (split.val if held_out else split.train).append((values, labelled))
        (split.val_names if held_out else split.train_names).append(scene.name)
    if not split.train:
        raise data.DataError(f"no training image is present under {root or data.data_dir()} (run `lulc fetch`)")
    return split


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
    for name in ("epochs", "batch_size", "patch_size", "width", "depth", "patches_per_epoch", "window"):
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
    if checkpoint["scheme"] != _scheme_table():
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


def train(
    config: TrainConfig,
    split: Split,
    out_dir: str | os.PathLike,
    resume: bool = True,
    device=None,
    progress: bool = True,
) -> TrainResult:
    """Train, validate after every epoch, write `last.pt` every epoch and `best.pt` at the best validation macro F1
    (the last epoch when there is no validation data).

    With resume=True and a `last.pt` in `out_dir` from the same configuration, training goes on from its
    epoch; each epoch's patches are drawn from a generator seeded with (seed, epoch), so an interrupted and
    resumed run sees the same patches as an uninterrupted one.
    """
    check_config(config, split)
    out_dir = Path(out_dir)
    runtime.seed_everything(config.seed)
    device = torch.device(device) if device is not None else runtime.pick_device(verbose=progress)
    use_amp = config.amp and device.type == "cuda"
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
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
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
        scaler.load_state_dict(saved["scaler"])
        history, best_score, start = saved["history"], saved["best_score"], saved["epoch"]
        if progress:
            done = "all epochs done, not trained again" if start == config.epochs else "resuming"
            print(f"{last_path}: epoch {start} of {config.epochs}, {done}")

    for epoch in range(start, config.epochs):
        began = time.perf_counter()
        x_all, y_all = sampler.sample(config.patches_per_epoch, np.random.default_rng([config.seed, epoch]))
        model.train()
        total_loss = 0.0
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
        for step in bar:
            batch = slice(step * config.batch_size, (step + 1) * config.batch_size)
            x = torch.from_numpy(x_all[batch]).to(device)
            y = torch.from_numpy(y_all[batch]).to(device)
            loss = _step(model, loss_fn, optimizer, scaler, x, y, use_amp)
            scheduler.step()
            total_loss += loss.item()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        record = {"epoch": epoch + 1, "loss": total_loss / steps, "lr": optimizer.param_groups[0]["lr"]}
        record.update(validate(model, val, config, device))
        record["seconds"] = time.perf_counter() - began
        history.append(record)
        # without validation data the model is the last epoch (a fixed-length schedule), so best.pt = last.pt
        score = record["val_f1"] if not math.isnan(record["val_f1"]) else record["epoch"]
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
        if progress:
            print(
                f"epoch {epoch + 1:>2}/{config.epochs}  loss {record['loss']:.4f}  "
                f"val OA {record['val_oa']:.3f}  val macro F1 {record['val_f1']:.3f}  ({record['seconds']:.0f} s)"
            )
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
    weight_decays: Sequence[float] = (0.01, 0.001, 0.0001),
    balances: Sequence[bool] = (True, False),
    progress: bool = True,
) -> pd.DataFrame:
    """The paper's sweep: one run per (weight decay, balance); best validation epoch of each."""
    rows = []
    for weight_decay in weight_decays:
        for balance in balances:
            run = replace(config, weight_decay=weight_decay, balance=balance)
            result = train(run, split, run_dir(out_dir, run), progress=progress)
            best = result.history.sort_values(["val_f1", "epoch"], ascending=[False, True]).iloc[0]
            rows.append(
                {"weight_decay": weight_decay, "balance": balance, "best_epoch": int(best["epoch"]),
                 "val_oa": best["val_oa"], "val_f1": best["val_f1"], "checkpoint": str(result.best_path)}
            )
    return pd.DataFrame(rows)


def seed_runs(
    config: TrainConfig, split: Split, out_dir: str | os.PathLike, seeds: Sequence[int], progress: bool = True
) -> pd.DataFrame:
    """Train once per seed and score each best checkpoint on Strzegom 20230709: one row per seed and protocol.
    With the `out_dir` of a `sweep`, the seed that the sweep trained is not trained again."""
    rows = []
    for seed in seeds:
        run = replace(config, seed=seed)
        result = train(run, split, run_dir(out_dir, run), progress=progress)
        scores = evaluate_on_test(result.best_path)
        rows += [{"seed": seed, "protocol": name, **scores.loc[name].to_dict(), "checkpoint": str(result.best_path)}
                 for name in scores.index]
    return pd.DataFrame(rows)


def train_throughput(config: TrainConfig, device, steps: int = 3) -> float:
    """Training patches per second (forward, backward, Adam step) on random data, after one warm-up step."""
    device = torch.device(device)
    use_amp = config.amp and device.type == "cuda"
    model = build_model(config).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
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
