"""Streaming U-Net inference on mosaics of the Strzegom image: Mpx/s and peak resident memory per run.

    python benchmarks/inference.py --checkpoint runs/unet_cpu_seed0/best.pt
    python benchmarks/inference.py --sizes 1003 2005 --dask-sizes 2005 --tta-sizes 1003 --in-memory-sizes 1003 2005
    python benchmarks/inference.py --side-by-side 4010 --baseline ../base   # git worktree add ../base efb9d46

Each run is the real command in a fresh process: `lulc predict` (streaming; in this process, or on a Dask
LocalCluster of 1 or 2 workers with one thread each), or the in-memory `unet.predict_scene` that
`lulc predict` used before streaming. Mpx/s: pixels over the seconds of the classification itself, as the
command prints it (imports and cluster start-up not counted); wall s: the whole command. Peak memory: the
largest sum of resident memory over the command's process and its children (Dask workers), sampled every
0.1 s. Without --checkpoint, a cpu-preset network (width 16, depth 3) is trained for one epoch: speed does
not depend on accuracy. Mosaics are written to a temporary folder and deleted afterwards.

--side-by-side SIZE: one SIZE^2 mosaic, one pass (no test-time augmentation), `lulc predict` in process with 1 and
2 PyTorch threads and on 2 Dask workers, each also with the code of --baseline (an older checkout, imported through
PYTHONPATH), alternating, --repeats times; each map is compared pixel by pixel with the first, and each run's line
gives the machine's 1-minute load average when it started.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import rasterio

from lulc_helpers import data, paths, streaming, unet

IN_MEMORY = """
import sys, time
from lulc_helpers import rasters, unet
began = time.perf_counter()
classes = unet.predict_scene(sys.argv[1], rasters.open_image(sys.argv[2]), "cpu", tta=sys.argv[4] == "tta")
rasters.write_class_map(classes, sys.argv[3])
print(f"{classes.size / 1e6 / (time.perf_counter() - began):.3f} Mpx/s")
"""


def peak_memory_run(command: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[str, float, float]:
    """(output, wall seconds, peak resident GB of the process tree) of a command."""
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd)
    watched, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        try:
            tree = [watched, *watched.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.1)
    output = process.stdout.read()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output[-2000:]}")
    return output, time.perf_counter() - began, peak / 1e9


def checkpoint_for_benchmark(folder: Path) -> Path:
    config = replace(unet.PRESETS["cpu"], epochs=1)
    return unet.train(config, unet.paper_split(config), folder, progress=False).best_path


def side_by_side(mosaic: Path, checkpoint: Path, folder: Path, baseline: str | None, repeats: int, block: int) -> None:
    """The runs of --side-by-side, printed as they finish, then the median of each and the ratios between them."""
    codes = {"this code": str(Path(__file__).resolve().parents[1])} | ({"baseline": str(Path(baseline).resolve())} if baseline else {})
    placements = {"in process, 1 thread": (["--device", "cpu"], "1"), "in process, 2 threads": (["--device", "cpu"], "2"),
                  "Dask, 2 workers": (["--workers", "2"], "")}
    # `python -m` puts its working folder before PYTHONPATH: run where no lulc_helpers is, and check
    for code, root in codes.items():
        imported = subprocess.run([sys.executable, "-c", "import lulc_helpers; print(lulc_helpers.__file__)"], cwd=folder,
                                  env={**os.environ, "PYTHONPATH": root}, capture_output=True, text=True, check=True)
        if Path(imported.stdout.strip()).parents[1] != Path(root):
            raise RuntimeError(f"{code}: imports {imported.stdout.strip()}, not the checkout {root}")
    rows, reference = [], None
    for repeat in range(repeats):
        for placement, (extra, threads) in placements.items():
            for code, root in codes.items():
                env = {**os.environ, "PYTHONPATH": root} | ({"OMP_NUM_THREADS": threads} if threads else {})
                out = folder / f"map_{len(rows)}.tif"
                command = [sys.executable, "-m", "lulc_helpers.cli", "predict", str(checkpoint), str(mosaic), str(out),
                           "--no-tta", "--block", str(block), *extra]
                load = os.getloadavg()[0]
                output, wall, peak = peak_memory_run(command, env, cwd=folder)
                with rasterio.open(out) as src:
                    classes = src.read(1)
                reference = classes if reference is None else reference
                rows.append({"run": placement, "code": code, "repeat": repeat + 1, "load": round(load, 1),
                             "Mpx/s": float(re.findall(r"([\d.]+) Mpx/s", output)[-1]), "wall s": round(wall, 1),
                             "peak memory GB": round(peak, 2), "pixels unlike the first map": int(np.sum(classes != reference))})
                print(rows[-1], flush=True)
                if out != folder / "map_0.tif":
                    out.unlink()
    table = pd.DataFrame(rows)
    medians = table.groupby(["run", "code"], sort=False)["Mpx/s"].median()
    print(f"\nCPU: {os.cpu_count()} cores; mosaic {mosaic.name}; block {block}; checkpoint {checkpoint}; baseline {baseline}")
    print(table.to_string(index=False))
    print("\nmedian Mpx/s\n" + medians.round(3).to_string())
    one = medians[("in process, 1 thread", "this code")]
    print(f"\n2 Dask workers / 1 thread in process: {medians[('Dask, 2 workers', 'this code')] / one:.2f}")
    if baseline:
        for placement in placements:
            print(f"{placement}: this code / baseline {medians[(placement, 'this code')] / medians[(placement, 'baseline')]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="U-Net checkpoint (default: a cpu-preset network trained for 1 epoch)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2005, 4010], help="mosaic sides in pixels")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Dask worker counts")
    parser.add_argument("--dask-sizes", type=int, nargs="*", default=[2005, 4010], help="sizes also run on Dask (one pass)")
    parser.add_argument("--tta-sizes", type=int, nargs="*", default=[2005],
                        help="sizes also run with the 8 flips/rotations, in process and in memory (on Dask a block does the same work)")
    parser.add_argument("--in-memory-sizes", type=int, nargs="*", default=[2005, 4010], help="sizes also run in memory")
    parser.add_argument("--block", type=int, default=streaming.DEFAULT_BLOCK)
    parser.add_argument("--side-by-side", type=int, metavar="SIZE", help="instead of the runs above: the comparison described above")
    parser.add_argument("--baseline", help="for --side-by-side: a checkout of older code, run the same way")
    parser.add_argument("--repeats", type=int, default=2, help="for --side-by-side: rounds of alternating runs")
    args = parser.parse_args()
    image = paths.data_dir() / data.test_scene().image
    rows = []
    with tempfile.TemporaryDirectory(prefix="lulc-inference-bench-") as folder:
        folder = Path(folder)
        checkpoint = Path(args.checkpoint).resolve() if args.checkpoint else checkpoint_for_benchmark(folder / "checkpoint")
        if args.side_by_side:
            size = args.side_by_side
            mosaic = streaming.tile_mosaic(image, folder / f"mosaic_20230709_{size}.tif", size)
            side_by_side(mosaic, checkpoint, folder, args.baseline, args.repeats, args.block)
            return
        for size in args.sizes:
            mosaic = streaming.tile_mosaic(image, folder / f"mosaic_20230709_{size}.tif", size)
            for tta in (False, True) if size in args.tta_sizes else (False,):
                runs = {"in process": []}
                if size in args.dask_sizes and not tta:
                    runs |= {f"Dask, {n} worker{'s' * (n > 1)}": ["--workers", str(n)] for n in args.workers}
                lulc = [sys.executable, "-m", "lulc_helpers.cli", "predict", str(checkpoint), str(mosaic), str(folder / "map.tif"),
                        "--block", str(args.block), *([] if tta else ["--no-tta"])]
                commands = {f"lulc predict, {name}": lulc + extra for name, extra in runs.items()}
                if size in args.in_memory_sizes:
                    commands["in memory (predict_scene)"] = [sys.executable, "-c", IN_MEMORY, str(checkpoint), str(mosaic),
                                                             str(folder / "map.tif"), "tta" if tta else "one pass"]
                for name, command in commands.items():
                    output, wall, peak = peak_memory_run(command)
                    speed = float(re.findall(r"([\d.]+) Mpx/s", output)[-1])
                    rows.append({"size": f"{size}^2", "Mpx": round(size * size / 1e6, 1), "TTA": tta, "run": name,
                                 "Mpx/s": speed, "wall s": round(wall, 1), "peak memory GB": round(peak, 2)})
                    print(rows[-1], flush=True)
            mosaic.unlink()
    table = pd.DataFrame(rows)
    print(f"\nCPU: {os.cpu_count()} cores; block {args.block}; checkpoint {checkpoint}")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
