"""The `lulc` command line: one subcommand per step of the workflow.

Each subcommand is an `add_<name>(subparsers)` function that registers its parser and sets
`handler`; `main` returns the handler's exit code. The error policy lives in `main` alone: exit 0
on success, 1 for a run-time failure (I/O, a missing device or service), 2 for bad input (a data
file, an option, colliding paths), each with one line on stderr naming the file or option; a
traceback only with --debug or LULC_DEBUG=1. SIGTERM and Ctrl-C remove unfinished outputs and exit 128 + the signal.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

from . import __version__, data, errors, labels, metrics, outputs, paper, paths, rasters, runtime, scheme, streaming, unet

DEBUG_ENV = "LULC_DEBUG"


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
    dest = Path(args.dest) if args.dest else paths.data_dir()
    width = max(len(e.path) for e in data.manifest())

    def report(result: data.FetchResult) -> None:
        line = f"{result.status:<17} {result.path:<{width}}  {result.detail}".rstrip()
        print(line, file=sys.stdout if result.ok else sys.stderr, flush=True)

    results = data.fetch(dest, mirror=args.mirror, report=report)
    failed = [r for r in results if not r.ok]
    counts = {s: sum(r.status == s for r in results) for s in ("verified", "downloaded", "missing-optional", "FAILED")}
    print(f"{dest}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return 1 if failed else 0


def add_accuracy(subparsers) -> None:
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
        "--exclude-predicted", type=_class_code, nargs="+", default=[], metavar="CODE",
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
    reference, repaired = _reference_on_grid(Path(args.reference), classified, args.field)
    matrix, labels = metrics.confusion_matrix(classified, reference, exclude_predicted=args.exclude_predicted)
    if matrix.sum() == 0:
        raise errors.DataError(
            f"{args.reference}: no pixel is labelled in both it and {args.classified} (empty overlap)"
        )
    if args.json:
        print(json.dumps({**metrics.report(matrix, labels), "repaired_polygons": repaired}))
        return 0
    if repaired:
        print(f"{args.reference}: {_repaired(repaired)}")
    table = metrics.accuracy_table(matrix, labels, reading=args.reading)
    frame = metrics.matrix_frame(matrix, labels)
    print(f"Confusion matrix, rows = classified ({args.classified}), columns = reference ({args.reference}):")
    print(frame.to_string())
    print(f"\nPer-class accuracy ({args.reading} reading; {metrics.READING_NOTE[args.reading]}):")
    print(table.to_string(float_format=lambda v: f"{v:.4f}", na_rep="-"))
    print(f"\nOA = {metrics.overall_accuracy(matrix):.4f} over {int(matrix.sum())} pixels")
    return 0


def _accuracy_on_points(args, classified) -> int:
    from . import sampling

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
    from . import sampling

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


def _reference_on_grid(path: Path, classified, field: str | None):
    """(the reference as a mask on the classified map's grid, polygons repaired); a raster must already share the grid."""
    if path.suffix.lower() in {".tif", ".tiff", ".vrt"}:
        reference = rasters.open_class_map(path)
        rasters.check_aligned(classified, reference)
        return reference, 0
    polygons = labels.read_reference(path, field)
    return labels.rasterize_reference(polygons, classified), polygons.attrs["repaired"]


def _repaired(count: int) -> str:
    return f"{count} invalid polygon{'s' * (count != 1)} (self-intersecting) repaired with shapely's make_valid"


def _non_negative(number_type):
    """An argparse type: finite `number_type` values of at least 0 (a negative area or margin has no meaning,
    and NaN would compare false with every threshold)."""

    def parse(text: str):
        value = number_type(text)
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text} is negative; use 0 or more")
        return value

    return parse


def _open_fraction(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1 (NaN is not)."""
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a number strictly between 0 and 1")
    return value


def _class_code(text: str) -> int:
    """An argparse type: a class code of the scheme."""
    try:
        code = int(text)
    except ValueError:
        code = None
    if code not in scheme.CLASS_IDS:
        raise argparse.ArgumentTypeError(f"{text} is not a class code of the scheme ({scheme.CLASS_IDS[0]}..{scheme.CLASS_IDS[-1]})")
    return code


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
    parser.add_argument("--min-area-ha", type=_non_negative(float), default=0.5, help="smallest polygon kept, hectares (default 0.5)")
    parser.add_argument("--clean-radius", type=_non_negative(int), default=0, help="morphological opening radius, pixels (default 0: none)")
    parser.add_argument("--margin-m", type=_non_negative(float), default=10.0, help="tolerance around permitted areas, metres (default 10)")
    parser.add_argument(
        "--max-excess-ha", type=_non_negative(float), default=0.5, help="area allowed beyond the margin before flagging, hectares (default 0.5)"
    )
    parser.add_argument("--out", required=True, help="candidates layer to write (.gpkg or .geojson)")
    parser.add_argument("--csv", help="CSV summary to write (default: --out with suffix .csv)")
    parser.set_defaults(handler=_screen)


def _screen(args) -> int:
    from . import screening

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
        checked += f" ({args.permitted}: {_repaired(permitted.attrs['repaired'])})"
    print(
        f"{len(screened)} quarry polygons >= {args.min_area_ha} ha ({screened['area_ha'].sum():.2f} ha), {checked}; "
        f"wrote {out} and {csv_path}"
    )
    return 0


def _block_size(text: str) -> int:
    """An argparse type: a block side that is a positive multiple of the output's tiles."""

    size = int(text)
    if size <= 0 or size % rasters.CLASS_MAP_TILE:
        raise argparse.ArgumentTypeError(f"{text} is not a positive multiple of {rasters.CLASS_MAP_TILE} (the output's tiles)")
    return size


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: need at least 1")
    return value


def _add_streaming_options(parser) -> None:
    """Options of the windowed writer (`streaming.classify_raster`), shared by predict and classify."""

    parser.add_argument(
        "--block", type=_block_size, default=streaming.DEFAULT_BLOCK,
        help=f"block side in pixels, a multiple of 256 (default {streaming.DEFAULT_BLOCK}); memory grows with its square",
    )
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--workers", type=_at_least_one, help="classify blocks on a local Dask cluster of N worker processes")
    scale.add_argument("--scheduler", metavar="ADDRESS", help="classify blocks on an existing Dask cluster (tcp://host:8786)")
    parser.add_argument("--cog", action="store_true", help="write a cloud-optimised GeoTIFF (with overviews)")


def _stream(args, classify) -> None:
    """Run `classify(client)` in this process or on the Dask cluster that `args` name, then say what was written.
    The progress bar goes to a terminal only, so that a failure piped to a log is one line."""

    with streaming.dask_client(args.workers, args.scheduler) as client:
        if client is not None:
            print(f"Dask dashboard: {client.dashboard_link}", flush=True)
        written = classify(client)
    counts = ", ".join(f"{code}: {n}" for code, n in written.counts.items() if code != scheme.NODATA)
    print(f"{written.path}: {written.width}x{written.height} pixels, {written.mpx_per_s:.3f} Mpx/s, {counts}")


def add_classify(subparsers) -> None:

    parser = subparsers.add_parser(
        "classify",
        help="classify a 10-band image (default: Strzegom 20230709) with CART, Random Forest or a linear SVM",
        description="Train one of the paper's GEE classifiers and classify a 10-band image of any size block by block "
        "into a GeoTIFF (uint8, 0 = nodata, the scheme's colour table). --backend local trains scikit-learn on stratified "
        "points from the Strzegom training masks; --backend gee runs Earth Engine on the paper's point assets, on the "
        "Strzegom test grid or, with --region, on the Sentinel-2 collection over your own area, exported by a task.",
    )
    parser.add_argument("--method", required=True, choices=paper.METHODS)
    parser.add_argument("--backend", choices=("local", "gee"), default="local")
    parser.add_argument("--image", help="local: 10-band GeoTIFF to classify (default: the Strzegom 20230709 test image)")
    parser.add_argument("--out", help="GeoTIFF to write (default: runs/predictions/METHOD_IMAGE.tif)")
    parser.add_argument("--offset", type=int, choices=(0, rasters.BOA_ADD_OFFSET), help="local: L2A offset (default: from the date in the file name)")
    parser.add_argument("--per-class", type=int, default=500, help="local: training points per class (default 500)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--project", help="gee: Earth Engine Cloud project (default: $EE_PROJECT_ID)")
    parser.add_argument("--region", help="gee: area to classify (GeoJSON, GeoPackage, ...); starts an export task")
    parser.add_argument("--date", help="gee --region: first day of the Sentinel-2 images, YYYY-MM-DD (default 2023-07-09)")
    parser.add_argument("--days", type=_at_least_one, default=1, help="gee --region: days from --date; more than 1: the median (default 1)")
    parser.add_argument("--export", choices=("drive", "asset"), default="drive", help="gee --region: where the task writes")
    parser.add_argument("--asset-id", help="gee --region --export asset: the asset to write (projects/.../assets/NAME)")
    parser.add_argument("--folder", default="lulc-mining", help="gee --region --export drive: Drive folder (default lulc-mining)")
    _add_streaming_options(parser)
    parser.set_defaults(handler=_classify)


def _classify(args) -> int:
    from . import classical

    if args.per_class < 1:
        raise errors.OptionError(f"--per-class {args.per_class}: need at least one training point per class")
    if args.backend == "gee":
        if args.region and args.export == "asset" and not args.asset_id:
            raise errors.OptionError("--export asset needs --asset-id projects/PROJECT/assets/NAME")
        return _classify_gee(args)
    image = Path(args.image) if args.image else paths.data_dir() / data.test_scene().image
    default_out = paths.predictions_dir() / f"{args.method}_{image.stem}.tif" if args.image else data.prediction_path(args.method)
    out = Path(args.out) if args.out else default_out
    outputs.refuse_collisions([image, *_data_files()], [out])
    _check_image_and_offset(image, args.offset)
    points = classical.training_points(args.per_class, args.seed)
    trained = classical.fit(args.method, points, args.seed)
    print(f"{args.method}: {len(points)} training points, fit {trained.fit_s:.2f} s")
    pixels = classical.PixelClassifier(trained, args.offset)

    def classify(client):
        return streaming.classify_raster(pixels, image, out, args.block, client, sys.stderr.isatty(), args.cog, f"class ({args.method})")

    _stream(args, classify)
    return 0


def _data_files() -> list[Path]:
    """The images and masks of the paper's scenes: never an output."""
    root = paths.data_dir()
    return [root / p for s in data.SCENES for p in (s.image, s.mask) if p]


def _classify_gee(args) -> int:
    from .classical import gee

    out = Path(args.out) if args.out else data.prediction_path(args.method)
    if not args.region:
        outputs.refuse_collisions(_data_files(), [out])
    try:
        gee.connect(args.project)
    except errors.GEEUnavailable as why:
        raise errors.GEEUnavailable(f"{why}. Authenticate with `earthengine authenticate`, or use --backend local") from None
    if args.region:
        area, crs = gee.read_region(args.region)
        classified = gee.classify_region(args.method, area, args.date or gee.PAPER_DATE, args.days, seed=args.seed)
        name = f"{args.method}_{Path(args.region).stem}"
        task = gee.export_region(classified, area, crs, name, args.export, args.folder, args.asset_id)
        task.start()
        print(f"Earth Engine task {task.id} started: {args.method} over {args.region}, export to {args.export}")
        return 0
    _, grid = data.load_scene(data.test_scene())
    (classified,) = gee.run([args.method], seed=args.seed, like=grid).values()
    gee.download_classified(classified, grid, out)
    print(f"{out}: {args.method} from Earth Engine (paper's training points)")
    return 0


def add_train(subparsers) -> None:
    from dataclasses import fields

    from .unet.config import PRESETS, TrainConfig

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
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        elif f.name == "val_scenes":
            parser.add_argument(flag, nargs="*", default=None, metavar="SCENE", help="held-out scene names")
        else:
            kind = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            parser.add_argument(flag, type=kind, default=None)
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
    split = unet.paper_split(config)
    unet.check_config(config, split, flag)
    outputs.make_folder(out)
    if split.missing:
        print(f"Images not present, trained without: {', '.join(split.missing)}")
    print(f"Training on {', '.join(split.train_names)}; validating on {', '.join(split.val_names) or 'nothing'}")
    result = unet.train(config, split, out, resume=not args.no_resume)
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


def add_predict(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="classify a 10-band image of any size with a trained U-Net",
        description="Classify IMAGE (10 bands B02 B03 B04 B05 B06 B07 B08 B8A B11 B12, integer reflectance x 10000) "
        "with CHECKPOINT and write OUT as a tiled uint8 GeoTIFF on the image's grid, nodata 0, with the scheme's colours, "
        "block by block (memory bounded by --block, not by the image), in this process or on a Dask cluster. "
        "The image is turned into surface reflectance as in training: Sentinel-2 L2A products processed from "
        "2022-01-25 on carry +1000 on every value, found from the date (YYYYMMDD) in the file name, or given by --offset.",
    )
    parser.add_argument("checkpoint")
    parser.add_argument("image")
    parser.add_argument("out")
    parser.add_argument("--device", help="cpu, cuda or mps (default: the best available)")
    parser.add_argument(
        "--offset", type=int, choices=(0, rasters.BOA_ADD_OFFSET),
        help=f"L2A offset in the image's values: {rasters.BOA_ADD_OFFSET} (processing baseline 04.00, from 2022-01-25) "
        "or 0 (before); default: from the date in the file name",
    )
    parser.add_argument(
        "--no-tta", action="store_true",
        help="one pass instead of the mean over the 8 flips/rotations (8 times faster, a slightly noisier map)",
    )
    parser.add_argument("--batch-size", type=_at_least_one, default=4, help="windows per network pass (default 4)")
    _add_streaming_options(parser)
    parser.set_defaults(handler=_predict)


def _check_image_and_offset(path, offset: int | None) -> None:
    """Stop before any work unless PATH is a 10-band integer image whose L2A offset is known (--offset or its date)."""

    image = rasters.open_image(path, lazy=True)
    rasters.check_image(image)
    if offset is None and "date" not in image.attrs:
        raise errors.DataError(
            f"{path}: no acquisition date (YYYYMMDD) in the file name, so the L2A offset is unknown; "
            f"pass --offset {rasters.BOA_ADD_OFFSET} for products processed from 2022-01-25 on, --offset 0 for older ones"
        )


def _predict(args) -> int:

    outputs.refuse_collisions([args.checkpoint, args.image], [args.out])
    _check_image_and_offset(args.image, args.offset)
    # on a cluster each worker picks its own best device unless --device names one
    on_cluster = args.workers is not None or args.scheduler is not None
    device = args.device if on_cluster else runtime.device(args.device)

    def predict(client):
        return unet.predict_raster(
            args.checkpoint, args.image, args.out, device, args.offset, not args.no_tta, args.block, args.batch_size,
            client, progress=sys.stderr.isatty(), cog=args.cog,
        )

    _stream(args, predict)
    return 0


def add_sample(subparsers) -> None:
    from . import sampling

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
    size.add_argument("--n", type=int, help="total number of points")
    size.add_argument("--target-se", type=float, help="target standard error of overall accuracy, e.g. 0.01")
    parser.add_argument("--anticipated-ua", type=_open_fraction, default=sampling.ANTICIPATED_UA,
                        help=f"user's accuracy expected of every class, for --target-se (default {sampling.ANTICIPATED_UA})")
    parser.add_argument("--allocation", default="proportional",
                        help="proportional (default), equal, or min:N (proportional with at least N points per class)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--region", help="sample only where this reference (raster on the map's grid, or polygons) has a class")
    parser.add_argument("--label-from", help="reference raster (GeoTIFF) or polygons whose class labels the points")
    parser.add_argument("--field", help="class field of vector references (default: label or DN)")
    parser.add_argument("--out", required=True, help="GeoPackage to write (.gpkg)")
    parser.set_defaults(handler=_sample)


def _sample(args) -> int:
    from . import outputs, sampling

    outputs.refuse_collisions([args.classified, args.region, args.label_from], [args.out])
    classified = rasters.open_class_map(args.classified)
    region = None if args.region is None else _reference_on_grid(Path(args.region), classified, args.field)[0].values != 0
    try:
        points = sampling.stratified_sample(classified, args.n, args.target_se, args.allocation, args.seed, region,
                                            args.anticipated_ua)
    except ValueError as err:
        raise errors.DataError(f"{args.classified}: {err}") from None
    if args.label_from:
        points = sampling.label_from(points, args.label_from, args.field)
    path = sampling.write_points(points, args.out)
    counts = points.groupby("stratum").size()
    labelled = len(sampling.labelled(points))
    print(f"{path}: {len(points)} points ({', '.join(f'{c}: {n}' for c, n in counts.items())}), "
          f"{labelled} labelled" + (f" from {args.label_from}" if args.label_from else ""))
    return 0


def add_area(subparsers) -> None:
    parser = subparsers.add_parser(
        "area",
        help="class areas in hectares: pixel counting and the error-adjusted estimate with 95% intervals",
        description="From a classified map and a labelled sample of it (`lulc sample`), print each class's area by "
        "pixel counting and as estimated from the sample (Olofsson et al. 2014, stratified estimator), with a 95% "
        "confidence interval, in hectares, over the frame the sample was drawn from.",
    )
    parser.add_argument("--classified", required=True, help="the classified map the points were drawn from")
    parser.add_argument("--points", required=True, help="labelled sample (GeoPackage from `lulc sample`)")
    parser.add_argument("--field", help="label field of the points (default: label)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(handler=_area)


def _area(args) -> int:
    from . import sampling

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


COMMANDS = [add_fetch, add_train, add_predict, add_classify, add_accuracy, add_screen, add_sample, add_area]


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (the usage is one --help away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lulc", description="Mining-aware land-cover classification (lulc-mining).")
    parser.add_argument("--version", action="version", version=f"lulc-mining {__version__}")
    debug_help = f"show the traceback of an error (or set {DEBUG_ENV}=1)"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    for subparser in subparsers.choices.values():  # `lulc --debug CMD` and `lulc CMD --debug` alike
        subparser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
    return parser


# Exit codes by exception type, the first match along the exception's class hierarchy wins.
BAD_INPUT, RUNTIME_FAILURE = 2, 1
EXIT_CODES: dict[type, int] = {
    errors.OutputCollision: BAD_INPUT,
    errors.DataError: BAD_INPUT,
    errors.OptionError: BAD_INPUT,
    errors.UnknownClassError: BAD_INPUT,
    errors.OutputError: RUNTIME_FAILURE,
    errors.Unavailable: RUNTIME_FAILURE,
    OSError: RUNTIME_FAILURE,
    MemoryError: RUNTIME_FAILURE,
}


class Interrupted(BaseException):
    """SIGTERM arrived; raised like KeyboardInterrupt so that every `finally` removes its temp files."""


def _raise_interrupted(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    in_main_thread = threading.current_thread() is threading.main_thread()  # only it may set signal handlers
    previous = signal.signal(signal.SIGTERM, _raise_interrupted) if in_main_thread else None
    try:
        return args.handler(args)
    except (KeyboardInterrupt, Interrupted) as stop:
        signum = signal.SIGINT if isinstance(stop, KeyboardInterrupt) else signal.SIGTERM
        print(f"lulc {args.command}: interrupted ({signum.name}); unfinished outputs removed", file=sys.stderr)
        return 128 + signum
    except Exception as err:
        code = next((EXIT_CODES[c] for c in type(err).__mro__ if c in EXIT_CODES), None)
        if debug:
            traceback.print_exc()
        if code is None:  # a bug, not a fault of the input or the machine
            print(f"lulc {args.command}: error: unexpected {type(err).__name__}: {_one_line(err)}"
                  f"{'' if debug else ' (rerun with --debug for the traceback)'}", file=sys.stderr)
            return RUNTIME_FAILURE
        print(f"lulc {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return code
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
