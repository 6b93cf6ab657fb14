"""Choosing a U-Net without touching the test date: the paper's sweep, the choice on validation data, runs
over seeds, and the scores of chosen checkpoints (validation by date; the test scene once, at the end)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from .. import data
from ..evaluation import accuracy, reference_protocols, scores_on_test
from ..paper import PAPER_SWEEP
from .checkpoint import load_checkpoint
from .config import TrainConfig, config_from_dict
from .patches import Normalisation
from .predict import classify, predict_scene
from .split import Split
from .training import TrainResult, train


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
        scores = accuracy(classify(model, normalisation.apply(image), config, device).ravel(), mask.ravel())
        rows[name] = {"OA": scores["oa"], "macro F1": scores["macro_f1"]}
    return pd.DataFrame(rows).T


def evaluate_on_test(
    checkpoint: str | os.PathLike, scene: data.Scene | None = None, device=None, tta: bool = True
) -> pd.DataFrame:
    """OA and macro F1 of a checkpoint on a test scene under both reference protocols (predicted 6 left out)."""
    image, references = reference_protocols(scene)
    return scores_on_test(predict_scene(checkpoint, image, device, tta=tta), references)
