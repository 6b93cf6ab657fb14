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


def add_screen(subparsers) -> None:
    parser = subparsers.add_parser(
        "screen",
        help="flag quarry polygons outside permitted extraction areas",
        description="Turn the quarry class (10) of a classified map into polygons and, given a layer of permitted "
        "or known extraction areas (GeoPackage, GeoJSON, shapefile; reprojected as needed), flag the polygons "
        "outside it or extending beyond it. Writes the candidates layer and a CSV summary (one row per polygon). "
        "A flag is a prompt to look, not evidence of illegal mining.",
    )
    parser.add_argument("--classified", required=True, help="classified map (GeoTIFF, codes 0..10, projected CRS)")
    parser.add_argument("--permitted", help="permitted or known extraction areas (any vector file GDAL reads)")
    parser.add_argument("--permitted-layer", help="layer of --permitted to read (default: the first)")
    parser.add_argument("--name-field", help="field of --permitted naming each area (default: its row number)")
    parser.add_argument("--min-area-ha", type=float, default=0.5, help="smallest polygon kept, hectares (default 0.5)")
    parser.add_argument("--clean-radius", type=int, default=0, help="morphological opening radius, pixels (default 0: none)")
    parser.add_argument("--margin-m", type=float, default=10.0, help="tolerance around permitted areas, metres (default 10)")
    parser.add_argument(
        "--max-excess-ha", type=float, default=0.5, help="area allowed beyond the margin before flagging, hectares (default 0.5)"
    )
    parser.add_argument("--out", required=True, help="candidates layer to write (.gpkg or .geojson)")
    parser.add_argument("--csv", help="CSV summary to write (default: --out with suffix .csv)")
    parser.set_defaults(handler=_screen)


def _screen(args) -> int:
    from . import screening

    classified = screening.open_classified(args.classified)
    permitted = screening.read_permitted(args.permitted, args.permitted_layer) if args.permitted else None
    candidates = screening.quarry_polygons(classified, args.min_area_ha, args.clean_radius)
    screened = screening.screen(candidates, permitted, args.margin_m, args.max_excess_ha, args.name_field)
    out = screening.write_candidates(screened, args.out)
    csv_path = screening.write_summary_csv(screened, args.csv or out.with_suffix(".csv"))
    flagged = screened[screened["flagged"]]
    checked = "not checked (no --permitted)" if permitted is None else f"{len(flagged)} flagged ({flagged['area_ha'].sum():.2f} ha)"
    print(
        f"{len(screened)} quarry polygons >= {args.min_area_ha} ha ({screened['area_ha'].sum():.2f} ha), {checked}; "
        f"wrote {out} and {csv_path}"
    )
    return 0


COMMANDS = [add_fetch, add_screen]


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
