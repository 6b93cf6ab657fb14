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
    """The folder of one run of `sweep` or `seed_runs`, named by what they vary, so that a finished run is resumed,
    not trained again, when another call asks for the same configuration.

    Parameters
    ----------
    root : str or os.PathLike
        The folder of the runs.
    config : TrainConfig
        The run's configuration.

    Returns
    -------
    Path
        ``root/wd<weight decay>_balance<0|1>_seed<seed>``.
    """
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

    Uses the validation data of `split` only; `select` picks the row.

    Parameters
    ----------
    config : TrainConfig
        The base configuration.
    split : Split
        Training and validation data; never a test scene.
    out_dir : str or os.PathLike
        Each run goes to its `run_dir` there.
    weight_decays : sequence of float
        Default: the paper's 0.01, 0.001, 0.0001.
    balances : sequence of bool
        Default: with and without class weights.
    progress : bool, default True
        Show each training's progress bar.
    on_epoch : callable, optional
        As in `train`.

    Returns
    -------
    pandas.DataFrame
        One row per setting: weight decay, balance, best epoch, validation OA and macro F1, checkpoint.

    Raises
    ------
    OptionError
        For a configuration that cannot work.
    """
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

    Parameters
    ----------
    table : pandas.DataFrame
        A `sweep` table.
    score : str, default "val_f1"
        The column to maximise.

    Returns
    -------
    pandas.Series
        The chosen row.

    Raises
    ------
    ValueError
        When there is more than one row and no validation score: without validation data a sweep cannot
        choose, and taking its first row would look like a choice.
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
    """Train once per seed. No test scene is read here (score them once, at the end, with `score_test_scene`).

    With the `out_dir` of a `sweep`, the seed that the sweep trained is not trained again.

    Parameters
    ----------
    config : TrainConfig
        The base configuration.
    split : Split
        Training and validation data; never a test scene.
    out_dir : str or os.PathLike
        Each run goes to its `run_dir` there.
    seeds : sequence of int
        The seeds.
    progress : bool, default True
        Show each training's progress bar.
    on_epoch : callable, optional
        As in `train`.

    Returns
    -------
    pandas.DataFrame
        One row per seed: best epoch, validation OA and macro F1, checkpoint.
    """
    rows = []
    for seed in seeds:
        run = replace(config, seed=seed)
        result = train(run, split, run_dir(out_dir, run), progress=progress, on_epoch=on_epoch)
        rows.append({"seed": seed, **_best_epoch(result)})
    return pd.DataFrame(rows)


def score_test_scene(runs: pd.DataFrame, scene: data.Scene | None = None, tta: bool = True) -> pd.DataFrame:
    """Score each run's checkpoint on the test scene under both reference protocols.

    Parameters
    ----------
    runs : pandas.DataFrame
        A `seed_runs` table (its `checkpoint` column).
    scene : data.Scene, optional
        The test scene (default: Strzegom 2023-07-09).
    tta : bool, default True
        Test-time augmentation.

    Returns
    -------
    pandas.DataFrame
        One row per run and protocol, with the run's columns and its scores.
    """
    rows = []
    for _, run in runs.iterrows():
        scores = evaluate_on_test(run["checkpoint"], scene, tta=tta)
        rows += [{**run.to_dict(), "protocol": name, **scores.loc[name].to_dict()} for name in scores.index]
    return pd.DataFrame(rows)


def validation_by_date(checkpoint: str | os.PathLike, split: Split, device=None) -> pd.DataFrame:
    """A checkpoint's scores on each validation part of a split, one pass without test-time augmentation, as
    during training.

    Parameters
    ----------
    checkpoint : str or os.PathLike
        The checkpoint.
    split : Split
        Its validation parts (a training date's stripe or a held-out date each).
    device : str or torch.device, optional
        Where to run.

    Returns
    -------
    pandas.DataFrame
        One row per validation part: OA and macro F1.

    Raises
    ------
    DataError
        If the checkpoint cannot be read.
    """
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
    """A checkpoint's OA and macro F1 on a test scene under both reference protocols (predicted 6 left out).

    Parameters
    ----------
    checkpoint : str or os.PathLike
        The checkpoint.
    scene : data.Scene, optional
        The test scene (default: Strzegom 2023-07-09).
    device : str or torch.device, optional
        Where to run.
    tta : bool, default True
        Test-time augmentation.

    Returns
    -------
    pandas.DataFrame
        One row per protocol ("test mask", "reference polygons").

    Raises
    ------
    DataError
        If the checkpoint or the scene's files cannot be read.
    """
    image, references = reference_protocols(scene)
    return scores_on_test(predict_scene(checkpoint, image, device, tta=tta), references)
