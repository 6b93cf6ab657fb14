"""Training the U-Net on patches: the loop, validation, and a throughput measurement.

The network sees surface reflectance (`rasters.reflectance`, which removes the +1000 L2A offset of 2022-on
scenes), normalised per band; no-data pixels enter as 0 and their labels are dropped. Every epoch writes a
checkpoint (`checkpoint.contents`) from which training resumes. Accuracy uses `evaluation.accuracy`:
confusion matrices with rows = classified (map), columns = reference.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from .. import errors, labels, rasters, runtime, scheme
from ..evaluation import accuracy
from ..progress import progress_bar
from .checkpoint import contents, load_checkpoint, save_checkpoint
from .config import TrainConfig, amp_enabled, check_config, config_from_dict
from .losses import FocalLoss
from .model import UNet, build_model, half_precision, memory_format, mixed_precision
from .patches import Normalisation, PatchSampler
from .predict import classify
from .split import Split


@dataclass
class TrainResult:
    """What `train` returns.

    Attributes
    ----------
    model : UNet
        The network after the last epoch; best.pt holds the best validation epoch.
    history : pandas.DataFrame
        One row per epoch: epoch, loss, lr, val_oa and val_f1 (NaN on epochs without validation), train_s,
        val_s.
    best_path, last_path : Path
        The checkpoints best.pt and last.pt.
    normalisation : Normalisation
        The band normalisation, computed on the training scenes.
    config : TrainConfig
        The configuration trained.
    """

    model: UNet  # after the last epoch; best.pt holds the best validation epoch
    history: pd.DataFrame
    best_path: Path
    last_path: Path
    normalisation: Normalisation
    config: TrainConfig


@dataclass
class _Run:
    """What one training updates: the network, its loss, optimiser, schedule and scaler, and its progress."""

    model: UNet
    loss_fn: FocalLoss
    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: torch.amp.GradScaler
    use_amp: bool
    history: list[dict]
    best_score: float = -math.inf
    start: int = 0


def loss_weights(config: TrainConfig, masks: Sequence[np.ndarray]) -> np.ndarray | None:
    """The "balance" option's class weights: min((N / (K n_c)) ** weight_power, weight_cap).

    N / (K n_c) is `labels.class_weights` (inverse frequency); a power below 1 and a cap soften it, so that a
    class 42 times rarer than average (roads) does not take over its neighbours.

    Parameters
    ----------
    config : TrainConfig
        The configuration.
    masks : sequence of numpy.ndarray
        The training masks.

    Returns
    -------
    numpy.ndarray or None
        Weights indexed by class id; None without balance.
    """
    if not config.balance:
        return None
    weights = labels.class_weights(labels.class_counts(masks)) ** config.weight_power
    return np.minimum(weights, config.weight_cap) if config.weight_cap > 0 else weights


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
    on_epoch: Callable[[pd.DataFrame], None] | None = None,
) -> TrainResult:
    """Train a U-Net, validate, and write its checkpoints.

    Validation runs after every `config.val_every`-th epoch and the last; `last.pt` is written every epoch and
    `best.pt` at the best validation macro F1 (the last epoch when there is no validation data). With `resume`
    and a `last.pt` in `out_dir` from the same configuration, training goes on from its epoch; each epoch's
    patches are drawn from a generator seeded with (seed, epoch), so an interrupted and resumed run sees the
    same patches as an uninterrupted one.

    Parameters
    ----------
    config : TrainConfig
        The configuration.
    split : Split
        Training and validation data (`paper_split`).
    out_dir : str or os.PathLike
        Where best.pt and last.pt go.
    resume : bool, default True
        Go on from a `last.pt` in `out_dir`.
    device : str or torch.device, optional
        Where to train (default: `runtime.pick_device`).
    progress : bool, default True
        One bar for the whole training (epoch, loss, validation macro F1, time left).
    on_epoch : callable, optional
        Called with the history so far after every epoch (a notebook redraws its curves there).

    Returns
    -------
    TrainResult
        The model, its history and checkpoints.

    Raises
    ------
    OptionError
        For a configuration that cannot work, or a `last.pt` written with another one.
    OutputError
        If a checkpoint cannot be written.
    """
    check_config(config, split)
    runtime.apply_speed_settings()
    out_dir = Path(out_dir)
    runtime.seed_everything(config.seed)
    device = torch.device(device) if device is not None else runtime.pick_device(verbose=progress)
    images, masks = [image for image, _ in split.train], [mask for _, mask in split.train]
    normalisation = Normalisation.fit(images) if config.normalise else Normalisation.identity(images[0].shape[0])
    sampler = PatchSampler(
        [normalisation.apply(i) for i in images], masks, config.patch_size, config.balanced_sampling, config.jitter
    )
    val = [(normalisation.apply(image), mask) for image, mask in split.val]
    steps = math.ceil(config.patches_per_epoch / config.batch_size)
    run = _new_run(config, device, loss_weights(config, masks), steps)
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    if resume and last_path.is_file():
        _resume(run, last_path, config)
    label = f"{out_dir.name}: epochs" if progress else ""
    bar = progress_bar(range(run.start, config.epochs), initial=run.start, total=config.epochs, desc=label,
                       disable=not progress)
    latest_f1 = next((h["val_f1"] for h in reversed(run.history) if not math.isnan(h["val_f1"])), math.nan)
    for epoch in bar:
        runtime.apply_speed_settings()  # again each epoch: a library called in between may have reset them
        record = _epoch(run, sampler, config, epoch, steps, val, device)
        # without validation data the model is the last epoch (a fixed-length schedule), so best.pt = last.pt
        validated = not math.isnan(record["val_f1"])
        score = record["epoch"] if not val else record["val_f1"] if validated else -math.inf
        payload = contents(run.model, config, normalisation, split.train_names, split.val_names, epoch + 1,
                           run.history, max(run.best_score, score), run.optimizer, run.scheduler, run.scaler)
        if score > run.best_score:
            run.best_score = score
            save_checkpoint(best_path, payload)
        save_checkpoint(last_path, payload)
        latest_f1 = record["val_f1"] if validated else latest_f1
        bar.set_postfix(loss=f"{record['loss']:.3f}", val_f1=f"{latest_f1:.3f}", refresh=False)
        if on_epoch is not None:
            on_epoch(pd.DataFrame(run.history))
    bar.close()
    run.model.eval()
    return TrainResult(run.model, pd.DataFrame(run.history), best_path, last_path, normalisation, config)


def _new_run(config: TrainConfig, device: torch.device, weights: np.ndarray | None, steps_per_epoch: int) -> _Run:
    use_amp = amp_enabled(config, device)
    model = build_model(config).to(device).to(memory_format=memory_format(device))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return _Run(model, FocalLoss(config.gamma, weights).to(device), optimizer, _scheduler(optimizer, config, steps_per_epoch),
                _grad_scaler(device, use_amp), use_amp, [])


def _resume(run: _Run, last_path: Path, config: TrainConfig) -> None:
    """Load the state of `last_path` into `run`; errors.OptionError when it was written with another configuration."""
    _, saved = load_checkpoint(last_path)
    before = config_from_dict(saved["config"])
    if before != config:
        changed = ", ".join(f"{f.name} {getattr(before, f.name)!r}, now {getattr(config, f.name)!r}"
                            for f in fields(config) if getattr(before, f.name) != getattr(config, f.name))
        raise errors.OptionError(
            f"{last_path}: written with another configuration ({changed}); to resume, use the same options; "
            "else use another out_dir (--out) or resume=False (--no-resume)"
        )
    run.model.load_state_dict(saved["model"])
    run.optimizer.load_state_dict(saved["optimizer"])
    run.scheduler.load_state_dict(saved["scheduler"])
    if saved["scaler"]:  # empty when written by a disabled scaler (a CPU run resumed on a GPU)
        run.scaler.load_state_dict(saved["scaler"])
    run.history, run.best_score, run.start = saved["history"], saved["best_score"], saved["epoch"]


def _epoch(run: _Run, sampler: PatchSampler, config: TrainConfig, epoch: int, steps: int, val, device) -> dict:
    """Train one epoch on freshly drawn patches, validate when it is due; the epoch's record, added to the history."""
    began = time.perf_counter()
    x_all, y_all = sampler.sample(config.patches_per_epoch, np.random.default_rng([config.seed, epoch]))
    run.model.train()
    total_loss = 0.0
    for step in range(steps):
        batch = slice(step * config.batch_size, (step + 1) * config.batch_size)
        x = torch.from_numpy(x_all[batch]).to(device).contiguous(memory_format=memory_format(device))
        y = torch.from_numpy(y_all[batch]).to(device)
        total_loss += _step(run.model, run.loss_fn, run.optimizer, run.scaler, x, y, run.use_amp).item()
        run.scheduler.step()
    trained = time.perf_counter()
    record = {"epoch": epoch + 1, "loss": total_loss / steps, "lr": run.optimizer.param_groups[0]["lr"]}
    validated = (epoch + 1) % config.val_every == 0 or epoch + 1 == config.epochs
    record.update(validate(run.model, val if validated else [], config, device))
    record["train_s"], record["val_s"] = trained - began, time.perf_counter() - trained
    run.history.append(record)
    return record


def validate(model: UNet, val: Sequence[tuple[np.ndarray, np.ndarray]], config: TrainConfig, device) -> dict:
    """Validation scores over the held-out data, pooled.

    Parameters
    ----------
    model : UNet
        The network.
    val : sequence of (numpy.ndarray, numpy.ndarray)
        Normalised images and their masks.
    config : TrainConfig
        The configuration.
    device : str or torch.device
        Where to run.

    Returns
    -------
    dict
        "val_oa" and "val_f1" (macro F1 over the classes present in the reference); NaN without validation data.
    """
    if not val:
        return {"val_oa": float("nan"), "val_f1": float("nan")}
    maps = [classify(model, image, config, device) for image, _ in val]
    scores = accuracy(np.concatenate([m.ravel() for m in maps]), np.concatenate([mask.ravel() for _, mask in val]))
    return {"val_oa": scores["oa"], "val_f1": scores["macro_f1"]}


def train_throughput(config: TrainConfig, device, steps: int = 3) -> float:
    """Training speed on random data, after one warm-up step.

    Parameters
    ----------
    config : TrainConfig
        The configuration.
    device : str or torch.device
        Where to measure.
    steps : int, default 3
        Steps timed (forward, backward, Adam step).

    Returns
    -------
    float
        Training patches per second.
    """
    device = torch.device(device)
    use_amp = amp_enabled(config, device)
    model = build_model(config).to(device).to(memory_format=memory_format(device)).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scaler = _grad_scaler(device, use_amp)
    loss_fn = FocalLoss(config.gamma)
    x = torch.randn(config.batch_size, len(rasters.BANDS), config.patch_size, config.patch_size, device=device)
    x = x.contiguous(memory_format=memory_format(device))
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
    with mixed_precision(use_amp, x.device):
        loss = loss_fn(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss


def _grad_scaler(device: torch.device, use_amp: bool) -> torch.amp.GradScaler:
    """Loss scaling keeps float16's small gradients from rounding to zero; bfloat16 needs none."""
    return torch.amp.GradScaler(device.type, enabled=use_amp and half_precision(device) == torch.float16)


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def estimate_minutes(config: TrainConfig, runs: int, device, steps: int = 2) -> float:
    """How long trainings will take, from a short measurement (validation not counted).

    Parameters
    ----------
    config : TrainConfig
        The configuration.
    runs : int
        Number of trainings.
    device : str or torch.device
        Where they run.
    steps : int, default 2
        Steps timed.

    Returns
    -------
    float
        Minutes.
    """
    return runs * config.epochs * config.patches_per_epoch / train_throughput(config, device, steps) / 60


# ---------------------------------------------------------------- the paper's test


