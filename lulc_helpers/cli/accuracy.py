"""`lulc accuracy`, `lulc sample`, `lulc area`: a map against reference pixels, polygons or a labelled sample."""

from __future__ import annotations

import json
from pathlib import Path

from .. import errors, metrics, outputs, rasters
from .options import allocation, at_least_one, class_code, non_negative, open_fraction, reference_on_grid, repaired_note


def add_accuracy(subparsers) -> None:
    """Register `lulc accuracy`: a classified map against reference pixels, polygons or a labelled sample.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What `argparse.ArgumentParser.add_subparsers` returned; the command's parser is added to it, with its
        `handler` set.
    """
    parser = subparsers.add_parser(
        "accuracy",
        help="confusion matrix and per-class accuracy of a classified map",
        description="Compare a classified map with reference labels (a raster on the same grid, or polygons "
        "rasterised on the map's grid by the pixel-centre rule) and print the confusion matrix "
        "(rows = classified, columns = reference), the per-class table and OA. Pixels with 0 in either are ignored.",
    )
    parser.add_argument("--classified", required=True, help="classified map (GeoTIFF, class codes 0..10)")
    against = parser.add_mutually_exclusive_group(required=True)
    against.add_argument("--reference", help="reference raster (GeoTIFF) or polygons (GeoPackage, ...)")
    against.add_argument(
        "--points", help="labelled sample from `lulc sample` (GeoPackage): the sample's weights give the estimated "
        "error matrix in area proportions and OA, UA, PA with 95%% intervals (Olofsson et al. 2014); "
        "--exclude-predicted and --reading do not apply",
    )
    parser.add_argument("--field", help="class field of a vector reference (default: label or DN)")
    parser.add_argument(
        "--exclude-predicted", type=class_code, nargs="+", default=[], metavar="CODE",
        help="leave out pixels classified as these codes (the paper left out class 6 in Strzegom)",
    )
    parser.add_argument(
        "--reading", choices=metrics.READINGS, default=metrics.STANDARD,
        help="standard: PA = diag/column sum (recall); paper: PA = diag/row sum, as the paper's tables print it",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.set_defaults(handler=_accuracy)


def _accuracy(args) -> int:
    classified = rasters.open_class_map(args.classified)
    if args.points:
        return _accuracy_on_points(args, classified)
    reference, repaired = reference_on_grid(Path(args.reference), classified, args.field)
    matrix, labels = metrics.confusion_matrix(classified, reference, exclude_predicted=args.exclude_predicted)
    if matrix.sum() == 0:
        raise errors.DataError(
            f"{args.reference}: no pixel is labelled in both it and {args.classified} (empty overlap"
            + (f" once pixels classified as {' '.join(map(str, args.exclude_predicted))} are left out)"
               if args.exclude_predicted else ")")
        )
    if args.json:
        print(json.dumps({**metrics.report(matrix, labels), "repaired_polygons": repaired}))
        return 0
    if repaired:
        print(f"{args.reference}: {repaired_note(repaired)}")
    table = metrics.accuracy_table(matrix, labels, reading=args.reading)
    frame = metrics.matrix_frame(matrix, labels)
    print(f"Confusion matrix, rows = classified ({args.classified}), columns = reference ({args.reference}):")
    print(frame.to_string())
    print(f"\nPer-class accuracy ({args.reading} reading; {metrics.READING_NOTE[args.reading]}):")
    print(table.to_string(float_format=lambda v: f"{v:.4f}", na_rep="-"))
    print(f"\nOA = {metrics.overall_accuracy(matrix):.4f} over {int(matrix.sum())} pixels")
    return 0


def _accuracy_on_points(args, classified) -> int:
    from .. import sampling

    points = _labelled_points(args.points, classified, args.field)
    result = sampling.estimate(points)
    if args.json:
        print(json.dumps(sampling.accuracy_report(points)))
        return 0
    used = len(sampling.labelled(points))
    print(f"Estimated error matrix in area proportions, rows = map ({args.classified}), columns = reference "
          f"({args.points}, {used} labelled points of {len(points)}):")
    print(result.proportions.to_string(float_format=lambda v: f"{v:.4f}"))
    print("\nPer class (standard reading: UA = of the mapped area, the share that is right; PA = of the class's true area, "
          "the share mapped as it), each with its 95% half-width:")
    print(result.table[["UA", "UA_ci", "PA", "PA_ci"]].to_string(float_format=lambda v: f"{v:.4f}", na_rep="-"))
    print(f"\nOA = {result.overall_accuracy:.4f} ± {result.overall_accuracy_ci:.4f} (95%)")
    return 0


def _labelled_points(path: str, classified, field: str | None):
    """The sample in `path`, checked against the map it was drawn from, with labels from `field` if given."""
    from .. import sampling

    points = sampling.read_points(path, field)
    sampling.check_drawn_from(points, classified)
    used = sampling.labelled(points)
    if used.empty:
        raise errors.DataError(f"{path}: no point has a reference label yet (label them with `lulc sample --label-from` or on the map)")
    short = used.groupby("stratum").size().reindex(sorted(points["stratum"].unique()), fill_value=0)
    if (short < 2).any():
        raise errors.DataError(f"{path}: map classes {short[short < 2].index.tolist()} have fewer than two labelled points; "
                             "label more points of those classes")
    return points


def add_sample(subparsers) -> None:
    """Register `lulc sample`: a stratified random sample of points from a classified map.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What `argparse.ArgumentParser.add_subparsers` returned; the command's parser is added to it, with its
        `handler` set.
    """
    from .. import sampling

    parser = subparsers.add_parser(
        "sample",
        help="draw a stratified random sample of points from a classified map, for accuracy and area",
        description="Draw points from a classified map, stratified by map class (0 never sampled), as Olofsson et al. "
        "(2014) recommend, and write them as a GeoPackage with stratum, map class, stratum size, inclusion weight and "
        "an empty reference label. The total is --n, or from --target-se (the standard error of OA wanted; their Eq. 13 "
        "with --anticipated-ua). --label-from fills the labels from a reference raster or polygons.",
    )
    parser.add_argument("--classified", required=True, help="classified map (GeoTIFF, class codes 0..10, projected CRS)")
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--n", type=at_least_one, help="total number of points")
    size.add_argument("--target-se", type=open_fraction, help="target standard error of overall accuracy, e.g. 0.01")
    parser.add_argument("--anticipated-ua", type=open_fraction, default=sampling.ANTICIPATED_UA,
                        help=f"user's accuracy expected of every class, for --target-se (default {sampling.ANTICIPATED_UA})")
    parser.add_argument("--allocation", type=allocation, default="proportional",
                        help="proportional (default), equal, or min:N (proportional with at least N points per class)")
    parser.add_argument("--seed", type=non_negative(int), default=0)
    parser.add_argument("--region", help="sample only where this reference (raster on the map's grid, or polygons) has a class")
    parser.add_argument("--label-from", help="reference raster (GeoTIFF) or polygons whose class labels the points")
    parser.add_argument("--field", help="class field of vector references (default: label or DN)")
    parser.add_argument("--out", required=True, help="GeoPackage to write (.gpkg)")
    parser.set_defaults(handler=_sample)


def _sample(args) -> int:
    from .. import sampling

    outputs.refuse_collisions([args.classified, args.region, args.label_from], [args.out])
    classified = rasters.open_class_map(args.classified)
    region = None if args.region is None else reference_on_grid(Path(args.region), classified, args.field)[0].values != 0
    try:
        points = sampling.stratified_sample(classified, args.n, args.target_se, args.allocation, args.seed, region,
                                            args.anticipated_ua)
    except ValueError as err:  # the size does not fit the map's strata
        option = f"--n {args.n}" if args.n is not None else f"--target-se {args.target_se}"
        raise errors.OptionError(f"{option}: {err} ({args.classified})") from None
    if args.label_from:
        points = sampling.label_from(points, args.label_from, args.field)
        if points[sampling.LABEL].isna().all():
            raise errors.DataError(f"{args.label_from}: labels none of the {len(points)} points (does it cover {args.classified}?)")
    path = sampling.write_points(points, args.out)
    counts = points.groupby("stratum").size()
    labelled = len(sampling.labelled(points))
    print(f"{path}: {len(points)} points ({', '.join(f'{c}: {n}' for c, n in counts.items())}), "
          f"{labelled} labelled" + (f" from {args.label_from}" if args.label_from else ""))
    return 0


def add_area(subparsers) -> None:
    """Register `lulc area`: class areas by pixel counting and as estimated from a labelled sample.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What `argparse.ArgumentParser.add_subparsers` returned; the command's parser is added to it, with its
        `handler` set.
    """
    parser = subparsers.add_parser(
        "area",
        help="class areas in hectares: pixel counting and the error-adjusted estimate with 95%% intervals",
        description="From a classified map and a labelled sample of it (`lulc sample`), print each class's area by "
        "pixel counting and as estimated from the sample (Olofsson et al. 2014, stratified estimator), with a 95%% "
        "confidence interval, in hectares, over the frame the sample was drawn from.",
    )
    parser.add_argument("--classified", required=True, help="the classified map the points were drawn from")
    parser.add_argument("--points", required=True, help="labelled sample (GeoPackage from `lulc sample`)")
    parser.add_argument("--field", help="label field of the points (default: label)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(handler=_area)


def _area(args) -> int:
    from .. import sampling

    points = _labelled_points(args.points, rasters.open_class_map(args.classified), args.field)
    report = sampling.area_report(points)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"Areas in hectares, {report['points_used']} labelled points ({report['points_left_out']} unlabelled or unsure "
          f"left out), frame {report['total_area_ha']:.2f} ha:")
    print(sampling.area_table(points).to_string(float_format=lambda v: f"{v:.2f}"))
    low, high = report["overall_accuracy_ci95"]
    print(f"\nOA = {report['overall_accuracy']:.4f} (95% interval {low:.4f} to {high:.4f})")
    return 0
