"""`lulc train`: train the U-Net on the paper's training scenes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import outputs, paths, runtime, unet

# What each TrainConfig field does, as its option's help; "paper:" is the value in the paper's training-settings table.
OPTION_HELP = {
    "epochs": "training epochs (paper: 25)",
    "batch_size": "patches per training step (paper: 4)",
    "lr": "Adam learning rate, the peak of the onecycle schedule (paper: 0.001)",
    "weight_decay": "Adam weight decay (paper: swept over 0.01, 0.001 and 0.0001)",
    "balance": "weight the focal loss by inverse class frequency (paper: on; its sweep also tried off)",
    "gamma": "focal loss exponent: how much well-classified pixels are down-weighted (paper: 2)",
    "patch_size": "side of the training patches, pixels (paper: 100)",
    "width": "channels of the first U-Net level, doubled at each level below",
    "depth": "poolings of the U-Net, each halving the patch",
    "variant": "proposed (the paper's: 3 convolutions per block, BatchNorm, replication padding) or original",
    "weight_power": "exponent of the class weights: 1 inverse frequency, 0.5 its square root (softer)",
    "weight_cap": "largest class weight (0: no cap)",
    "patches_per_epoch": "training patches drawn per epoch",
    "schedule": "learning-rate schedule: onecycle, cosine or constant",
    "normalise": "standardise each band by the mean and deviation of the training images",
    "balanced_sampling": "place each patch over a pixel of a uniformly drawn class, so rare classes are seen as often",
    "jitter": "per-band random gain and shift of each patch, below 1 (0: none)",
    "val_scenes": "training dates held out whole for validation (none: the --val-fraction stripe)",
    "val_fraction": "share of the bottom rows of every training date held out for validation (0: --val-scenes)",
    "val_every": "validate every n-th epoch and the last; the epoch kept is one of those",
    "seed": "random seed of weights, patches and jitter",
    "amp": "mixed precision: float16 on CUDA, bfloat16 on a CPU with AMX; float32 elsewhere",
    "window": "side of the prediction windows, pixels",
    "overlap": "pixels by which neighbouring prediction windows overlap",
}


def add_train(subparsers) -> None:
    """Register `lulc train`: the U-Net trained on the paper's training scenes.

    Every field of `unet.TrainConfig` is an option (--epochs for `epochs`); those left out take the preset's
    value.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What `argparse.ArgumentParser.add_subparsers` returned; the command's parser is added to it, with its
        `handler` set.
    """
    from dataclasses import fields

    from ..unet.config import PRESETS, TrainConfig

    parser = subparsers.add_parser(
        "train",
        help="train the U-Net on the paper's training scenes",
        description="Train the paper's U-Net on the training scenes whose images are present (validation on "
        "a stripe of every date, --val-fraction, as the cpu preset does; or on whole held-out dates, --val-scenes), "
        "write best.pt (the best validation epoch) and last.pt, then report accuracy on Strzegom 20230709. Options "
        "left out take the preset's value; an interrupted run resumes from last.pt in the same --out folder.",
    )
    parser.add_argument(
        "--preset", choices=sorted(PRESETS),
        help="starting configuration (default: paper where CUDA or MPS is present, else cpu)",
    )
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=OPTION_HELP[f.name])
        elif f.name == "val_scenes":
            parser.add_argument(flag, nargs="*", default=None, metavar="SCENE", help=OPTION_HELP[f.name])
        else:
            kind = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            parser.add_argument(flag, type=kind, default=None, help=OPTION_HELP[f.name])
    parser.add_argument("--out", help="run folder (default: runs/unet_<preset>_seed<seed>; runs/ is $LULC_RUNS_DIR if set)")
    parser.add_argument("--no-resume", action="store_true", help="start afresh even if the run folder has last.pt")
    parser.add_argument("--no-evaluate", action="store_true", help="skip the accuracy report on the test scene")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved configuration and scenes; do not train")
    parser.add_argument("--json", action="store_true", help="with --dry-run: print one JSON object")
    parser.add_argument(
        "--record", metavar="CSV",
        help="append the test scores and the validation score (with --no-evaluate: the validation score only) to this "
        "recorded-runs file, e.g. results/unet_recorded_runs.csv",
    )
    parser.add_argument("--record-as", metavar="NAME", help="the run's name in --record (default: the run folder's name)")
    parser.set_defaults(handler=_train)


def _train(args) -> int:
    from dataclasses import fields

    import pandas as pd
    import torch


    preset = args.preset or unet.default_preset()
    chosen = {f.name: getattr(args, f.name) for f in fields(unet.TrainConfig) if getattr(args, f.name) is not None}
    config = unet.resolve_config(preset, chosen)
    flag = lambda name: "--" + name.replace("_", "-")  # noqa: E731
    unet.check_config(config, flag=flag)
    if args.dry_run:
        plan = {"preset": preset, **unet.dry_run(config)}
        if args.json:
            print(json.dumps(plan))
        else:
            for key, value in plan.items():
                print(f"{key}: {value}")
        return 0
    out = Path(args.out or paths.runs_dir() / f"unet_{preset}_seed{config.seed}")
    if args.record:  # refused before hours of training, not after
        unet.check_record_file(args.record)
    split = unet.paper_split(config)
    unet.check_config(config, split, flag)
    outputs.make_folder(out)
    if split.missing:
        print(f"Images not present, trained without: {', '.join(split.missing)}")
    print(f"Training on {', '.join(split.train_names)}; validating on {', '.join(split.val_names) or 'nothing'}")
    # the bar goes to a terminal only, so that a failed run piped to a log is one line
    try:
        result = unet.train(config, split, out, resume=not args.no_resume, device=runtime.pick_device(),
                            progress=sys.stderr.isatty())
    except RuntimeError as err:  # PyTorch reports memory it cannot get as a RuntimeError ("can't allocate memory")
        if "allocate" not in str(err):
            raise
        raise MemoryError(f"not enough memory to train this network (--width {config.width}, --depth {config.depth}, "
                          f"--batch-size {config.batch_size}, --patch-size {config.patch_size}); use smaller values") from err
    print(f"Checkpoints: {result.best_path} (best validation macro F1; the last epoch without validation), {result.last_path}")
    rows = []
    if not args.no_evaluate:
        run = pd.DataFrame([{"seed": config.seed, "checkpoint": str(result.best_path)}])
        scores = unet.score_test_scene(run)
        print("Strzegom 20230709 (pixels classified as 6 left out, as in the paper):")
        print(scores.set_index("protocol")[["OA", "macro F1"]].round(4).to_string())
        rows = [{"evaluated_on": "Strzegom 20230709", "protocol": r["protocol"], "OA": r["OA"], "macro_F1": r["macro F1"]}
                for _, r in scores.iterrows()]
    if args.record:
        kept = unet.load_checkpoint(result.best_path)[1]["history"][-1]  # best.pt's history ends at its epoch
        held_out = f"bottom {config.val_fraction:.0%} of rows of each date" if config.val_fraction > 0 else ", ".join(split.val_names)
        rows.append({"evaluated_on": "training dates", "protocol": f"validation ({held_out or 'none'})",
                     "OA": kept["val_oa"], "macro_F1": kept["val_f1"]})
        common = {"run": args.record_as or out.name, "seeds": str(config.seed), "epochs": config.epochs,
                  "threads": torch.get_num_threads(), "source": "lulc train --record",
                  "setting_chosen_by": f"preset {preset}; epoch {kept['epoch']} kept on validation"}
        table = pd.DataFrame([{**common, **r} for r in rows])
        print(f"Recorded in {unet.record(table, args.record)}")
    return 0
