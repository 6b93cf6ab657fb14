"""The `lulc` command line: one subcommand per step of the workflow.

Each subcommand is an `add_<name>(subparsers)` function that registers its parser and sets
`handler`; `main` returns the handler's exit code. Errors that name a file (DataError and the
scheme's UnknownClassError) print one line to stderr and exit 2, no traceback.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__, data, scheme


def add_fetch(subparsers) -> None:
    parser = subparsers.add_parser(
        "fetch",
        help="download and verify the paper's data",
        description="Download every file of bh-del/lulc_mining at its pinned commit (or copy it from a mirror "
        "folder), verify its git blob SHA-1, and print one line per file. Exits 1 if any file FAILED.",
    )
    parser.add_argument("--dest", help="where the data goes (default: data/ in the project, or $LULC_DATA_DIR)")
    parser.add_argument("--mirror", help=f"a local folder laid out like the repository (default: ${data.MIRROR_ENV})")
    parser.set_defaults(handler=_fetch)


def _fetch(args) -> int:
    dest = args.dest or data.data_dir()
    width = max(len(e.path) for e in data.manifest())

    def report(result: data.FetchResult) -> None:
        line = f"{result.status:<17} {result.path:<{width}}  {result.detail}".rstrip()
        print(line, file=sys.stdout if result.ok else sys.stderr, flush=True)

    results = data.fetch(dest, mirror=args.mirror, report=report)
    failed = [r for r in results if not r.ok]
    counts = {s: sum(r.status == s for r in results) for s in ("verified", "downloaded", "missing-optional", "FAILED")}
    print(f"{dest}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return 1 if failed else 0


def add_train(subparsers) -> None:
    from dataclasses import fields

    from .training import PRESETS, TrainConfig

    parser = subparsers.add_parser(
        "train",
        help="train the U-Net on the paper's training scenes",
        description="Train the paper's U-Net on the training scenes whose images are present (one date held out "
        "for validation), write best.pt and last.pt, then report accuracy on Strzegom 20230709. Options left out "
        "take the preset's value; an interrupted run resumes from last.pt in the same --out folder.",
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="paper", help="starting configuration (default: paper)")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        elif f.name == "val_scenes":
            parser.add_argument(flag, nargs="*", default=None, metavar="SCENE", help="held-out scene names")
        else:
            kind = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            parser.add_argument(flag, type=kind, default=None)
    parser.add_argument("--out", help="run folder (default: runs/unet_<preset>_seed<seed>)")
    parser.add_argument("--no-resume", action="store_true", help="start afresh even if the run folder has last.pt")
    parser.add_argument("--no-evaluate", action="store_true", help="skip the accuracy report on the test scene")
    parser.set_defaults(handler=_train)


def _train(args) -> int:
    from dataclasses import fields, replace

    from . import training

    chosen = {f.name: getattr(args, f.name) for f in fields(training.TrainConfig) if getattr(args, f.name) is not None}
    if "val_scenes" in chosen:
        chosen["val_scenes"] = tuple(chosen["val_scenes"])
    config = replace(training.PRESETS[args.preset], **chosen)
    out = args.out or data.project_root() / "runs" / f"unet_{args.preset}_seed{config.seed}"
    split = training.paper_split(config)
    if split.missing:
        print(f"Images not present, trained without: {', '.join(split.missing)}")
    print(f"Training on {', '.join(split.train_names)}; validating on {', '.join(split.val_names) or 'nothing'}")
    result = training.train(config, split, out, resume=not args.no_resume)
    print(f"Checkpoints: {result.best_path} (best validation macro F1), {result.last_path}")
    if not args.no_evaluate:
        print("Strzegom 20230709 (pixels classified as 6 left out, as in the paper):")
        print(training.evaluate_on_test(result.best_path).round(4).to_string())
    return 0


def add_predict(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="classify a 10-band image with a trained U-Net",
        description="Classify IMAGE (10 bands B02 B03 B04 B05 B06 B07 B08 B8A B11 B12, integer reflectance x 10000) "
        "with CHECKPOINT and write OUT as a uint8 GeoTIFF on the image's grid, nodata 0, with the scheme's colours.",
    )
    parser.add_argument("checkpoint")
    parser.add_argument("image")
    parser.add_argument("out")
    parser.add_argument("--device", help="cpu, cuda or mps (default: the best available)")
    parser.set_defaults(handler=_predict)


def _predict(args) -> int:
    from . import runtime, training

    device = args.device or runtime.pick_device()
    image = data.open_image(args.image)
    classes = training.predict_scene(args.checkpoint, image, device)
    path = training.write_classification(classes, args.out)
    counts = {c: int((classes.values == c).sum()) for c in scheme.CLASS_IDS}
    print(f"{path}: {classes.rio.width}x{classes.rio.height} pixels, " + ", ".join(f"{c}: {n}" for c, n in counts.items() if n))
    return 0


COMMANDS = [add_fetch, add_train, add_predict]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lulc", description="Mining-aware land-cover classification (lulc-mining).")
    parser.add_argument("--version", action="version", version=f"lulc-mining {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (data.DataError, scheme.UnknownClassError) as err:
        print(f"lulc {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
