"""What the notebooks say about a run: how it differs from the paper, how the cpu preset was chosen, and which
U-Net map a notebook reads (notebook 03's own, or the paper's published one). Narration for the lessons; the
computations they describe live in the modules they name."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from . import data, paths
from .paper import PAPER_REGIONS, PAPER_SWEEP
from .unet.config import PRESETS, TrainConfig
from .unet.runs import PRESET_RUN, recorded_runs
from .unet.split import Split, _stripe


def selection_evidence(recorded: pd.DataFrame | None = None, epochs: int | None = None) -> pd.DataFrame:
    """The evidence behind the `cpu` preset's choices: validation scores (training dates only) of the recorded
    preset runs and of the candidate changes tried against them.

    Parameters
    ----------
    recorded : pandas.DataFrame, optional
        The recorded runs (default: `unet.recorded_runs()`).
    epochs : int, optional
        Keep only runs of this length.

    Returns
    -------
    pandas.DataFrame
        One row per run, with `change` ("none" for the preset itself) and, for a candidate, its macro F1 minus
        that of the preset's run of the same seed and length (for a change of the number of epochs, "epochs 80",
        the preset's own length).
    """
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


def deviations(config: TrainConfig, split: Split, tta: bool = True, weight_decays=None, balances=None) -> pd.DataFrame:
    """How a run differs from the paper, aspect by aspect.

    Parameters
    ----------
    config : TrainConfig
        The run's configuration.
    split : Split
        Its training and validation scenes.
    tta : bool, default True
        Whether its maps use test-time augmentation.
    weight_decays, balances : sequence, optional
        The sweep the run made, if any (default: the configuration's own values).

    Returns
    -------
    pandas.DataFrame
        Indexed by aspect: what the paper says (its training-settings table and Section 2.3.1), what the `paper` preset makes of it
        (the paper leaves some choices open), this run's value, and whether the run differs from the preset.
    """
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
        ("classes", "settings table: 1-9; Strzegom accuracy table: quarries (10) too", "1-10", "1-10"),
        ("width / depth", "not stated (model table: blocks only)", f"{paper.width} / {paper.depth}", f"{config.width} / {config.depth}"),
        ("epochs", "25 (settings table)", paper.epochs, config.epochs),
        ("patches per epoch", "not stated", paper.patches_per_epoch, config.patches_per_epoch),
        ("loss", "settings table: FocalLoss(), gamma 2; Section 2.3.1 text: CrossEntropyLoss",
         f"focal, gamma {paper.gamma:g}", f"focal, gamma {config.gamma:g}" if config.gamma else "cross-entropy"),
        ("class weights", "balance 1 (formula not stated)", weights(paper), weights(config)),
        ("learning rate", "settings table: 0.001; Section 2.3.1 text: swept (values not given)", paper.lr, config.lr),
        ("schedule", "not stated", paper.schedule, config.schedule),
        ("sweep", "settings table: weight decay {0.01, 0.001, 0.0001}; balance on and off", sweep_text(*PAPER_SWEEP.values()),
         sweep_text(weight_decays or [config.weight_decay], balances or [config.balance])),
        ("radiometric jitter", "not stated", paper.jitter, config.jitter),
        ("validation", "not stated (training and validation dates listed together)",
         ", ".join(paper.val_scenes) or _stripe(paper), _stripe(config) if config.val_fraction > 0 else ", ".join(config.val_scenes) or "none"),
        ("test-time augmentation", "not stated", "8 flips and rotations", "8 flips and rotations" if tta else "none"),
    ]
    table = pd.DataFrame(rows, columns=["aspect", "paper says", "paper preset", "this run"]).set_index("aspect")
    table["this run differs from the paper preset"] = [str(a) != str(b) for a, b in zip(table["paper preset"], table["this run"])]
    return table


PUBLISHED_UNET = "the paper's published U-Net map"


OWN_UNET = "the U-Net map notebook 03 wrote on this machine"


def unet_prediction_path(scene: data.Scene | None = None, report: bool = True) -> Path:
    """The U-Net map to use: the one notebook 03 wrote (runs/predictions/) when it exists, else the paper's
    published U-Net raster.

    Parameters
    ----------
    scene : data.Scene, optional
        The test scene (default: `data.test_scene()`).
    report : bool, default True
        Print which of the two it returns.

    Returns
    -------
    Path
        The map's file; `unet_map_source` names it for a sentence.
    """
    scene = scene or data.test_scene()
    ours = data.prediction_path("unet", scene)
    path = ours if ours.is_file() else paths.data_dir() / scene.published_prediction
    if report:
        advice = "" if path == ours else " (run notebook 03 in full mode to use your own)"
        print(f"U-Net map: {unet_map_source(path, scene)}, {paths.shown(path)}{advice}")
    return path


def unet_map_source(path: str | os.PathLike, scene: data.Scene | None = None) -> str:
    """Which U-Net map a file is, in words for a sentence.

    Parameters
    ----------
    path : str or os.PathLike
        A U-Net map.
    scene : data.Scene, optional
        The test scene (default: `data.test_scene()`).

    Returns
    -------
    str
        PUBLISHED_UNET when `path` is the scene's published U-Net raster, else OWN_UNET.
    """
    scene = scene or data.test_scene()
    return PUBLISHED_UNET if Path(path).name == Path(scene.published_prediction).name else OWN_UNET
