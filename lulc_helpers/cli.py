"""The `lulc` command line: one subcommand per step of the workflow.

Each subcommand is an `add_<name>(subparsers)` function that registers its parser and sets
`handler`; `main` returns the handler's exit code. Errors that name a file (DataError and the
scheme's UnknownClassError) print one line to stderr and exit 2, no traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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


def add_classify(subparsers) -> None:
    from . import classical

    parser = subparsers.add_parser(
        "classify",
        help="classify the Strzegom 20230709 test scene with CART, Random Forest or a linear SVM",
        description="Train one of the paper's GEE classifiers and write the classified scene as a GeoTIFF "
        "(uint8, 0 = nodata, the scheme's colour table). --backend local trains scikit-learn on stratified points "
        "from the Strzegom training masks; --backend gee runs Earth Engine on the paper's point assets.",
    )
    parser.add_argument("--method", required=True, choices=classical.METHODS)
    parser.add_argument("--backend", choices=("local", "gee"), default="local")
    parser.add_argument("--out", help="GeoTIFF to write (default: runs/predictions/METHOD_strzegom_20230709.tif)")
    parser.add_argument("--per-class", type=int, default=500, help="local: training points per class (default 500)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--project", help="gee: Earth Engine Cloud project (default: $EE_PROJECT_ID)")
    parser.set_defaults(handler=_classify)


def _classify(args) -> int:
    from . import classical

    out = Path(args.out) if args.out else classical.prediction_path(args.method)
    if args.per_class < 1:
        raise data.DataError(f"--per-class {args.per_class}: need at least one training point per class")
    if args.backend == "gee":
        from . import gee

        if not gee.initialize(args.project, fallback="Authenticate with `earthengine authenticate`, or use --backend local."):
            return 1
        _, grid = data.load_scene(data.test_scene())
        (classified,) = gee.run([args.method], seed=args.seed, like=grid).values()
        gee.download_classified(classified, grid, out)
        print(f"{out}: {args.method} from Earth Engine (paper's training points)")
        return 0
    points = classical.training_points(args.per_class, args.seed)
    (classified,) = classical.run(points, [args.method], args.seed, write=False).values()
    classical.write_classification(classified, out)
    print(
        f"{out}: {args.method}, {classified.attrs['training_points']} training points, "
        f"fit {classified.attrs['fit_s']:.2f} s, predict {classified.attrs['predict_s']:.2f} s"
    )
    return 0


COMMANDS = [add_fetch, add_classify]


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
