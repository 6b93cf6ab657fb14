"""`lulc predict` and `lulc classify`: a 10-band image of any size to a class map, in this process or on Dask."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from .. import data, errors, outputs, paper, paths, rasters, runtime, scheme, streaming, unet
from .options import at_least_one, block_size, local_workers, one_line, scheduler_address


def add_streaming_options(parser) -> None:
    """Add the options of the windowed writer (`streaming.classify_raster`), shared by predict and classify.

    --block (the block side), --workers or --scheduler (where blocks run) and --cog.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.
    """
    parser.add_argument(
        "--block", type=block_size, default=streaming.DEFAULT_BLOCK,
        help=f"block side in pixels, a multiple of 256 (default {streaming.DEFAULT_BLOCK}); memory grows with its square",
    )
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--workers", type=local_workers, help="classify blocks on a local Dask cluster of N worker processes")
    scale.add_argument("--scheduler", metavar="ADDRESS", type=scheduler_address,
                       help="classify blocks on an existing Dask cluster (tcp://host:8786); on Linux, start its workers "
                            "with MALLOC_ARENA_MAX=1 for full speed")
    parser.add_argument("--cog", action="store_true", help="write a cloud-optimised GeoTIFF (with overviews)")


WORKER_WAIT_S = 60  # how long a cluster may take to get its first worker


@contextlib.contextmanager
def _cluster(args):
    """The Dask client `args` ask for (None: this process), connected and with a worker, or errors.Unavailable."""
    where = f"--scheduler {args.scheduler}" if args.scheduler else f"--workers {args.workers}"
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(streaming.dask_client(args.workers, args.scheduler))
            if client is not None:
                client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except (OSError, TimeoutError) as err:
            why = "no worker joined the cluster" if "worker" in str(err).lower() else f"cannot connect ({one_line(err)})"
            raise errors.Unavailable(f"{where}: {why} within {WORKER_WAIT_S} s") from err
        yield client


def stream(args, classify) -> None:
    """Run `classify(client)` in this process or on the Dask cluster that `args` name, then say what was written.

    The progress bar goes to a terminal only, so that a failure piped to a log is one line.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; its `workers` and `scheduler` (the options of `add_streaming_options`) say
        where blocks run.
    classify : callable
        Called with the Dask client (None: this process); writes the map and returns what
        `streaming.classify_raster` returns.

    Raises
    ------
    Unavailable
        Naming --workers or --scheduler, if the cluster cannot be reached or no worker joins it within
        `WORKER_WAIT_S` seconds.
    """
    with _cluster(args) as client:
        if client is not None:
            print(f"Dask dashboard: {client.dashboard_link}", flush=True)
        written = classify(client)
    counts = ", ".join(f"{code}: {n}" for code, n in written.counts.items() if code != scheme.NODATA)
    print(f"{written.path}: {written.width}x{written.height} pixels, {written.mpx_per_s:.3f} Mpx/s, {counts}")


def add_predict(subparsers) -> None:
    """Register `lulc predict`: a 10-band image classified with a trained U-Net.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What `argparse.ArgumentParser.add_subparsers` returned; the command's parser is added to it, with its
        `handler` set.
    """
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
    parser.add_argument("--batch-size", type=at_least_one, default=4, help="windows per network pass (default 4)")
    add_streaming_options(parser)
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

    stream(args, predict)
    return 0


def add_classify(subparsers) -> None:
    """Register `lulc classify`: a 10-band image classified with CART, Random Forest or a linear SVM.

    The classifier is trained with scikit-learn (--backend local) or on Earth Engine (--backend gee).

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What `argparse.ArgumentParser.add_subparsers` returned; the command's parser is added to it, with its
        `handler` set.
    """

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
    parser.add_argument("--days", type=at_least_one, default=1, help="gee --region: days from --date; more than 1: the median (default 1)")
    parser.add_argument("--export", choices=("drive", "asset"), default="drive", help="gee --region: where the task writes")
    parser.add_argument("--asset-id", help="gee --region --export asset: the asset to write (projects/.../assets/NAME)")
    parser.add_argument("--folder", default="lulc-mining", help="gee --region --export drive: Drive folder (default lulc-mining)")
    add_streaming_options(parser)
    parser.set_defaults(handler=_classify)


def _classify(args) -> int:
    from .. import classical

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

    stream(args, classify)
    return 0


def _data_files() -> list[Path]:
    """The images and masks of the paper's scenes: never an output."""
    root = paths.data_dir()
    return [root / p for s in data.SCENES for p in (s.image, s.mask) if p]


def _classify_gee(args) -> int:
    from ..classical import gee

    out = Path(args.out) if args.out else data.prediction_path(args.method)
    if not args.region:
        outputs.refuse_collisions(_data_files(), [out])
    elif not Path(args.region).is_file():  # bad input is found before the connection, which may fail for other reasons
        raise errors.DataError(f"{args.region}: {'is a folder' if Path(args.region).is_dir() else 'no such file'} (--region)")
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
