"""`lulc screen`: quarry polygons against permitted areas."""

from __future__ import annotations

from pathlib import Path

from .. import outputs
from .options import non_negative, repaired_note


def add_screen(subparsers) -> None:
    """Register `lulc screen`: quarry polygons of a classified map, flagged outside permitted areas.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What `argparse.ArgumentParser.add_subparsers` returned; the command's parser is added to it, with its
        `handler` set.
    """
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
    parser.add_argument("--min-area-ha", type=non_negative(float), default=0.5, help="smallest polygon kept, hectares (default 0.5)")
    parser.add_argument("--clean-radius", type=non_negative(int), default=0, help="morphological opening radius, pixels (default 0: none)")
    parser.add_argument("--margin-m", type=non_negative(float), default=10.0, help="tolerance around permitted areas, metres (default 10)")
    parser.add_argument(
        "--max-excess-ha", type=non_negative(float), default=0.5, help="area allowed beyond the margin before flagging, hectares (default 0.5)"
    )
    parser.add_argument("--out", required=True, help="candidates layer to write (.gpkg or .geojson)")
    parser.add_argument("--csv", help="CSV summary to write (default: --out with suffix .csv)")
    parser.set_defaults(handler=_screen)


def _screen(args) -> int:
    from .. import screening

    csv_path = args.csv or Path(args.out).with_suffix(".csv")
    outputs.refuse_collisions([args.classified, args.permitted], [args.out, csv_path])
    classified = screening.open_classified(args.classified)
    permitted = screening.read_permitted(args.permitted, args.permitted_layer) if args.permitted else None
    candidates = screening.quarry_polygons(classified, args.min_area_ha, args.clean_radius)
    screened = screening.screen(candidates, permitted, args.margin_m, args.max_excess_ha, args.name_field)
    out = screening.write_candidates(screened, args.out)
    csv_path = screening.write_summary_csv(screened, csv_path)
    flagged = screened[screened["flagged"]]
    checked = "not checked (no --permitted)" if permitted is None else f"{len(flagged)} flagged ({flagged['area_ha'].sum():.2f} ha)"
    if permitted is not None and permitted.attrs["repaired"]:
        checked += f" ({args.permitted}: {repaired_note(permitted.attrs['repaired'])})"
    print(
        f"{len(screened)} quarry polygons >= {args.min_area_ha} ha ({screened['area_ha'].sum():.2f} ha), {checked}; "
        f"wrote {out} and {csv_path}"
    )
    return 0
