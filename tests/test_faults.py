"""Fault injection: every ordinary fault of a `lulc` command ends with the right exit code (0 success,
1 run-time failure, 2 bad input), one line on stderr naming the file or option and no traceback, the
previous output untouched and no temp file left.

Faults that need a separate process (a file-size limit standing in for a full disk, SIGTERM and SIGKILL
during a fetch) run `python -m lulc_helpers.cli` in a child; the rest call `cli.main`. CI runs as root,
where permissions stop nothing, so an unwritable destination is a file where a folder is expected, or a
folder under /proc.
"""

import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin
from shapely.geometry import Polygon, box

from lulc_helpers import cli, data, errors, outputs, rasters, screening, unet

ROOT = Path(__file__).resolve().parents[1]
X0, Y0, PIXEL, SIZE = 500_000.0, 5_600_000.0, 10.0, 20
TRANSFORM = from_origin(X0, Y0, PIXEL, PIXEL)
# The quick preset as `lulc train --preset quick --patches-per-epoch 4 --val-scenes` builds it.
TINY = replace(unet.PRESETS["quick"], patches_per_epoch=4, val_scenes=())


# ---------------------------------------------------------------- helpers


def run(argv, capsys):
    """(exit code, stdout, stderr) of `lulc ARGV` in this process; argparse's own errors exit through SystemExit."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def child(argv, fsize=None, **popen):
    """Start `lulc ARGV` in a child process, optionally under a file-size limit of `fsize` bytes (with SIGXFSZ
    ignored, a write past the limit fails with EFBIG, as on a full disk)."""

    def prepare():
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell running tests in the background ignores SIGINT
        signal.pthread_sigmask(signal.SIG_SETMASK, [])  # as from a shell: no signal blocked by the test process
        if fsize:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("LULC_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "lulc_helpers.cli", *map(str, argv)], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=prepare, **popen,
    )


def finish(process, timeout=120):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def one_line(err: str, *words: str) -> str:
    """The single stderr line, checked to name every one of `words`."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    """Temp files anywhere under `folder` (ours, and the .part files of older versions)."""
    return sorted(str(p) for p in folder.rglob("*") if outputs.TEMP_MARK in p.name or p.name.endswith(".part"))


def write_raster(path, values, crs="EPSG:32633", nodata=None, transform=TRANSFORM):
    values = np.asarray(values)
    values = values[None] if values.ndim == 2 else values
    profile = {"driver": "GTiff", "height": values.shape[1], "width": values.shape[2], "count": values.shape[0],
               "dtype": values.dtype.name, "transform": transform}
    if crs is not None:
        profile["crs"] = crs
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values)
    return path


def quarry_map() -> np.ndarray:
    """Background 9; quarry (10) in rows 2-11 x cols 2-11 (1.00 ha) and rows 14-17 x cols 14-17 (0.16 ha)."""
    values = np.full((SIZE, SIZE), 9, dtype=np.uint8)
    values[2:12, 2:12] = 10
    values[14:18, 14:18] = 10
    return values


def cells(r0, r1, c0, c1):
    """The polygon over pixel rows r0..r1-1 and columns c0..c1-1."""
    return box(X0 + PIXEL * c0, Y0 - PIXEL * r1, X0 + PIXEL * c1, Y0 - PIXEL * r0)


def bow_tie(r0, r1, c0, c1) -> Polygon:
    """A self-intersecting "bow-tie" over the pixel rectangle: two triangles meeting at its centre."""
    left, right, top, bottom = X0 + PIXEL * c0, X0 + PIXEL * c1, Y0 - PIXEL * r0, Y0 - PIXEL * r1
    return Polygon([(left, top), (right, bottom), (right, top), (left, bottom)])


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A checkpoint of the tiny configuration, a 64x64 10-band image dated 20210619, its map, a quarry map."""
    folder = tmp_path_factory.mktemp("faults")
    rng = np.random.default_rng(0)
    codes = np.repeat(np.array([1, 3, 8, 10], dtype=np.uint8), 16)[None, :].repeat(64, axis=0)
    spectra = rng.uniform(300, 4000, size=(11, 10))
    image = np.clip(spectra[codes].transpose(2, 0, 1) + rng.normal(0, 150, (10, 64, 64)), 1, None).astype(np.uint16)
    split = unet.Split(train=[(image.astype(np.float32) / 10000, codes)], train_names=["synthetic"])
    unet.train(TINY, split, folder / "run", device="cpu", progress=False)
    write_raster(folder / "scene_20210619.tif", image)
    write_raster(folder / "map.tif", quarry_map())
    return folder


@pytest.fixture
def work(tmp_path, files):
    """A clean folder with the module's files copied in (so tests may damage them)."""
    for name in ("scene_20210619.tif", "map.tif"):
        shutil.copy(files / name, tmp_path / name)
    (tmp_path / "run").mkdir()
    shutil.copy(files / "run" / "last.pt", tmp_path / "run" / "last.pt")
    return tmp_path


def predict_args(work, out, *more):
    return ["predict", work / "run" / "last.pt", work / "scene_20210619.tif", out, "--no-tta", "--device", "cpu", *more]


# ---------------------------------------------------------------- data loss: full disk, file-size limit


@pytest.mark.parametrize("command", ["predict", "classify"])
def test_a_file_size_limit_fails_the_map_write_and_keeps_the_old_map(work, command):
    old = work / "old_20210619.tif"
    write_raster(old, quarry_map())
    before = old.read_bytes()
    argv = predict_args(work, old) if command == "predict" else ["classify", "--method", "cart", "--per-class", "5", "--out", old]
    code, out, err = finish(child(argv, fsize=1500))
    line = one_line(err, str(old), "could not write", "File too large")
    assert code == 1 and out.count(str(old)) == 0, (out, line)
    assert old.read_bytes() == before
    assert leftovers(work) == []


def test_a_full_disk_during_fetch_names_the_destination_not_the_mirror(tmp_path, data_root):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy(data_root / "README.md", mirror / "README.md")  # 3777 bytes, past the 1000-byte limit
    code, out, err = finish(child(["fetch", "--dest", tmp_path / "dest", "--mirror", mirror], fsize=1000))
    readme = [line for line in err.splitlines() if line.split()[1] == "README.md"]
    assert code == 1 and len(readme) == 1 and "could not write: File too large" in readme[0], err
    assert "download" not in err and "Traceback" not in err
    assert out.strip().splitlines()[-1].endswith("0 verified, 0 downloaded, 8 missing-optional, 35 FAILED")
    assert not (tmp_path / "dest" / "README.md").exists() and leftovers(tmp_path / "dest") == []


# ---------------------------------------------------------------- interrupted fetches


def _fetch_from_fifo(tmp_path, data_root):
    """A child fetching README.md (the manifest's first file) from a mirror where it is a FIFO; returns
    (process, dest, writer fd) once the child is copying into its temp file."""
    assert data.manifest()[0].path == "README.md"
    mirror, dest = tmp_path / "mirror", tmp_path / "dest"
    mirror.mkdir()
    os.mkfifo(mirror / "README.md")
    process = child(["fetch", "--dest", dest, "--mirror", mirror])
    deadline = time.monotonic() + 60
    while True:  # open the writing end once the child reads (non-blocking: ENXIO until then)
        try:
            writer = os.open(mirror / "README.md", os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "the child never opened the mirror file"
            time.sleep(0.05)
    os.write(writer, (data_root / "README.md").read_bytes()[:2000])
    while not list(dest.glob(f".README{outputs.TEMP_MARK}*")):
        assert time.monotonic() < deadline, "the child never wrote its temp file"
        time.sleep(0.05)
    return process, dest, writer


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_during_fetch_removes_the_temp_file(tmp_path, data_root, signum):
    process, dest, writer = _fetch_from_fifo(tmp_path, data_root)
    process.send_signal(signum)
    code, out, err = finish(process)
    os.close(writer)
    assert code == 128 + signum
    one_line(err, "lulc fetch", f"interrupted ({signum.name})", "removed")
    assert leftovers(dest) == [] and not (dest / "README.md").exists()


def test_a_temp_file_left_by_a_killed_fetch_is_removed_by_the_next(tmp_path, data_root, capsys):
    process, dest, writer = _fetch_from_fifo(tmp_path, data_root)
    process.kill()  # SIGKILL: no handler runs, the temp file stays
    process.wait()
    os.close(writer)
    assert len(leftovers(dest)) == 1
    old_style = dest / ".README.md.x1y2z3.part"  # what versions before outputs.py left behind
    old_style.write_text("partial")
    (tmp_path / "mirror" / "README.md").unlink()
    shutil.copy(data_root / "README.md", tmp_path / "mirror" / "README.md")
    code, out, err = run(["fetch", "--dest", dest, "--mirror", tmp_path / "mirror"], capsys)
    assert code == 1 and out.splitlines()[0].startswith("downloaded") and "README.md" in out.splitlines()[0]
    assert leftovers(dest) == []


def test_a_corrupt_local_copy_does_not_survive_a_failed_refetch(tmp_path, data_root):
    entry = data.manifest()[0]
    dest, mirror = tmp_path / "dest", tmp_path / "mirror"
    mirror.mkdir()
    dest.mkdir()
    (dest / entry.path).write_bytes((data_root / entry.path).read_bytes()[:100])  # truncated
    [result] = data.fetch(dest, mirror=mirror, entries=[entry])
    assert result.status == "FAILED" and "not in the mirror" in result.detail and "corrupt local copy" in result.detail
    assert not (dest / entry.path).exists()


def test_fetch_refuses_entry_paths_outside_the_destination(tmp_path):
    entry = replace(data.manifest()[0], path="../escaped.md")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with pytest.raises(errors.DataError, match="outside the destination"):
        data.fetch(mirror / "dest", mirror=mirror, entries=[entry])
    assert not (mirror / "escaped.md").exists() and not (mirror / "dest").exists()


# ---------------------------------------------------------------- destinations that cannot be written


def test_fetch_into_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "blocker").write_text("keep me")
    code, out, err = run(["fetch", "--dest", tmp_path / "blocker", "--mirror", tmp_path], capsys)
    assert code == 1 and out == ""
    one_line(err, "blocker", "a file of that name is in the way")
    assert (tmp_path / "blocker").read_text() == "keep me"


def test_fetch_goes_on_past_an_unwritable_folder_and_prints_its_summary(tmp_path, data_root, capsys):
    mirror, dest = tmp_path / "mirror", tmp_path / "dest"
    for name in ("README.md", "test_mask/strzegom_ref.gpkg"):
        (mirror / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_root / name, mirror / name)
    dest.mkdir()
    (dest / "accuracy_analysis").write_text("a file where a folder is expected")
    code, out, err = run(["fetch", "--dest", dest, "--mirror", mirror], capsys)
    blocked = [line for line in err.splitlines() if line.startswith("FAILED") and "accuracy_analysis/" in line]
    assert code == 1 and blocked and all("a file of that name is in the way" in line for line in blocked)
    assert (dest / "README.md").is_file() and (dest / "test_mask/strzegom_ref.gpkg").is_file()
    assert out.strip().splitlines()[-1] == f"{dest}: 0 verified, 2 downloaded, 8 missing-optional, 33 FAILED"
    assert "Traceback" not in err


@pytest.mark.parametrize("where", ["file in the way", "proc"])
def test_every_writing_command_reports_an_unwritable_destination_in_one_line(work, capsys, where):
    if where == "proc" and not Path("/proc/self").is_dir():
        pytest.skip("needs /proc")
    (work / "blocker").write_text("keep me")
    folder = work / "blocker" if where == "file in the way" else Path("/proc/self/lulc")
    commands = {
        "predict": predict_args(work, folder / "out.tif"),
        "classify": ["classify", "--method", "cart", "--per-class", "5", "--out", folder / "out.tif"],
        "screen": ["screen", "--classified", work / "map.tif", "--out", folder / "c.gpkg"],
        "train": ["train", "--preset", "quick", "--epochs", "1", "--out", folder / "run", "--no-evaluate"],
        "fetch": ["fetch", "--dest", folder / "data", "--mirror", work],
    }
    for name, argv in commands.items():
        code, out, err = run(argv, capsys)
        assert code == 1, (name, err)
        one_line(err, f"lulc {name}", str(folder), "cannot create the folder")
    assert (work / "blocker").read_text() == "keep me" and leftovers(work) == []


# ---------------------------------------------------------------- outputs that would overwrite inputs


def test_predict_refuses_to_overwrite_its_input(work, capsys):
    image = work / "scene_20210619.tif"
    before = image.read_bytes()
    code, out, err = run(predict_args(work, work / "." / "scene_20210619.tif"), capsys)
    assert code == 2 and out == ""
    one_line(err, "would overwrite the input", "scene_20210619.tif")
    assert image.read_bytes() == before


def test_screen_refuses_a_csv_over_its_layer(work, capsys):
    for csv in ("c.gpkg", None):  # --csv equal to --out, and --out ending in .csv (the default CSV is --out.csv)
        out_name = "c.gpkg" if csv else "c.csv"
        argv = ["screen", "--classified", work / "map.tif", "--out", work / out_name]
        code, out, err = run(argv + (["--csv", work / csv] if csv else []), capsys)
        assert code == 2, err
        one_line(err, out_name, "two outputs name the same file")
    assert sorted(p.name for p in work.iterdir()) == ["map.tif", "run", "scene_20210619.tif"]


# ---------------------------------------------------------------- bad parameters


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [("--max-excess-ha", "nan", "not a finite number"), ("--margin-m", "nan", "not a finite number"),
     ("--min-area-ha", "inf", "not a finite number"), ("--max-excess-ha", "inf", "not a finite number")],
)
def test_screen_refuses_non_finite_parameters(work, capsys, option, value, says):
    code, out, err = run(["screen", "--classified", work / "map.tif", option, value, "--out", work / "c.gpkg"], capsys)
    assert code == 2 and out == ""
    one_line(err, option, value, says)
    assert not (work / "c.gpkg").exists()


def test_sample_refuses_a_non_finite_anticipated_accuracy(work, capsys):
    code, out, err = run(["sample", "--classified", work / "map.tif", "--target-se", "0.01", "--anticipated-ua", "nan",
                          "--out", work / "points.gpkg"], capsys)
    assert code == 2 and out == ""
    one_line(err, "--anticipated-ua", "nan is not a number strictly between 0 and 1")
    assert not (work / "points.gpkg").exists()


def test_screening_functions_refuse_non_finite_thresholds(files):
    classified = rasters.open_class_map(files / "map.tif")
    with pytest.raises(errors.OptionError, match="min_area_ha nan"):
        screening.quarry_polygons(classified, min_area_ha=float("nan"))
    candidates = screening.quarry_polygons(classified)
    with pytest.raises(errors.OptionError, match="margin_m nan"):
        screening.screen(candidates, gpd.GeoDataFrame(geometry=[cells(0, 5, 0, 5)], crs="EPSG:32633"), margin_m=float("nan"))


def test_accuracy_refuses_unknown_class_codes_to_exclude(work, capsys):
    for code_text in ("99", "-5", "0"):
        code, out, err = run(["accuracy", "--classified", work / "map.tif", "--reference", work / "map.tif",
                              "--exclude-predicted", "6", code_text], capsys)
        assert code == 2 and out == ""
        one_line(err, "--exclude-predicted", code_text, "not a class code")


@pytest.mark.parametrize(
    ("options", "says"),
    [(["--epochs", "0"], "--epochs 0: must be at least 1"),
     (["--batch-size", "0"], "--batch-size 0: must be at least 1"),
     (["--val-fraction", "1"], "--val-fraction 1.0: the share of rows held out must be at least 0 and below 1"),
     (["--lr", "nan"], "--lr nan: not a finite number"),
     (["--val-scenes", "nosuchscene"], "--val-scenes nosuchscene: not a training scene"),
     (["--val-scenes", "strzegom_20230709"], "--val-scenes strzegom_20230709: not a training scene"),
     (["--patch-size", "1000", "--val-fraction", "0"], "--patch-size 1000: larger than the smallest training scene (401 pixels)")],
)
def test_train_refuses_options_that_cannot_work(tmp_path, capsys, options, says):
    code, out, err = run(["train", "--preset", "quick", *options, "--out", tmp_path / "run", "--no-evaluate"], capsys)
    assert code == 2, err
    one_line(err, says)
    assert not (tmp_path / "run").exists()


def test_train_refuses_to_resume_with_another_learning_rate(tmp_path, files, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(files / "run" / "last.pt", run_dir / "last.pt")
    before = (run_dir / "last.pt").read_bytes()
    options = ["--preset", "quick", "--patches-per-epoch", "4", "--val-scenes", "--out", run_dir, "--no-evaluate"]
    code, out, err = run(["train", *options, "--lr", "0.01"], capsys)
    assert code == 2, err
    one_line(err, "last.pt", "another configuration (lr 0.001, now 0.01)", "--no-resume")
    assert (run_dir / "last.pt").read_bytes() == before and sorted(p.name for p in run_dir.iterdir()) == ["last.pt"]


def test_a_missing_gpu_is_a_device_problem_not_a_checkpoint_problem(work, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, out, err = run([*predict_args(work, work / "out.tif")[:-2], "--device", "cuda"], capsys)
    assert code == 1 and "checkpoint" not in err
    one_line(err, "device cuda: not available on this machine", "--device cpu")
    code, out, err = run([*predict_args(work, work / "out.tif")[:-2], "--device", "gpu0"], capsys)
    assert code == 2
    one_line(err, "device gpu0: not a device name")
    assert not (work / "out.tif").exists()


# ---------------------------------------------------------------- images and labels that are not what they seem


@pytest.mark.parametrize(
    ("name", "dtype", "crs", "says"),
    [("int8_20210619.tif", "int8", "EPSG:32633", "pixel type int8"),
     ("int16_20210619.tif", "int16", "EPSG:32633", "pixel type int16"),
     ("float_20210619.tif", "float32", "EPSG:32633", "pixel type float32"),
     ("nocrs_20210619.tif", "uint16", None, "has no CRS")],
)
def test_predict_refuses_images_it_cannot_classify(work, capsys, name, dtype, crs, says):
    values = np.full((10, 16, 16), 100, dtype=dtype)
    write_raster(work / name, values, crs=crs)
    code, out, err = run(["predict", work / "run" / "last.pt", work / name, work / "out.tif", "--device", "cpu"], capsys)
    assert code == 2 and out == ""
    one_line(err, name, says)
    assert not (work / "out.tif").exists()


@pytest.mark.parametrize(("dtype", "nodata"), [("uint8", 255), ("int16", -9999), ("float32", -9999.0)])
def test_a_declared_nodata_value_means_no_label(work, capsys, dtype, nodata):
    reference = quarry_map().astype(dtype)
    reference[:5] = nodata  # 100 pixels without a label
    write_raster(work / "ref.tif", reference, nodata=nodata)
    code, out, err = run(["accuracy", "--classified", work / "map.tif", "--reference", work / "ref.tif", "--json"], capsys)
    assert code == 0 and err == ""
    assert json.loads(out)["pixels"] == SIZE * SIZE - 5 * SIZE  # the 100 nodata pixels are left out


def test_a_text_label_field_is_reported_as_text(work, capsys):
    frame = gpd.GeoDataFrame({"label": ["forest", "quarry"]}, geometry=[cells(0, 5, 0, 5), cells(5, 10, 0, 5)], crs="EPSG:32633")
    frame.to_file(work / "ref.gpkg")
    code, out, err = run(["accuracy", "--classified", work / "map.tif", "--reference", work / "ref.gpkg"], capsys)
    assert code == 2 and out == ""
    one_line(err, "ref.gpkg", "field label holds text ('forest', 'quarry'", "--field")


# ---------------------------------------------------------------- invalid geometries, the same in every command


def test_a_bow_tie_polygon_is_repaired_and_counted_in_screen_and_accuracy(work, capsys):
    # permitted: a bow-tie over rows 0-12 x cols 0-12, whose two triangles cover half of the 1 ha quarry
    permitted = gpd.GeoDataFrame({"name": ["bow-tie"]}, geometry=[bow_tie(0, 12, 0, 12)], crs="EPSG:32633")
    assert not permitted.geometry.iloc[0].is_valid
    permitted.to_file(work / "permits.gpkg")
    code, out, err = run(["screen", "--classified", work / "map.tif", "--permitted", work / "permits.gpkg",
                          "--min-area-ha", "0.1", "--margin-m", "0", "--max-excess-ha", "0.1", "--out", work / "c.gpkg"], capsys)
    assert code == 0 and err == "", err
    assert "1 invalid polygon (self-intersecting) repaired with shapely's make_valid" in out
    screened = gpd.read_file(work / "c.gpkg")
    # make_valid keeps both triangles (half the 12x12-pixel square, 0.72 ha); 0.5 ha of the 1 ha quarry is inside
    assert screened["overlap_ha"].round(3).tolist() == [0.5, 0.0] and screened["flagged"].tolist() == [True, True]

    reference = gpd.GeoDataFrame({"label": [10]}, geometry=[bow_tie(0, 12, 0, 12)], crs="EPSG:32633")
    reference.to_file(work / "ref.gpkg")
    code, out, err = run(["accuracy", "--classified", work / "map.tif", "--reference", work / "ref.gpkg"], capsys)
    assert code == 0 and err == ""
    assert "1 invalid polygon (self-intersecting) repaired with shapely's make_valid" in out


# ---------------------------------------------------------------- messages, permissions, debugging


def test_earth_engine_without_credentials_is_one_whole_line_on_stderr(tmp_path, capsys, monkeypatch):
    pytest.importorskip("ee")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "none.json"))
    code, out, err = run(["classify", "--method", "rf", "--backend", "gee", "--project", "p", "--out", tmp_path / "x.tif"], capsys)
    assert code == 1 and out == ""
    line = one_line(err, "Earth Engine is not available", "--backend local")
    assert "earthengine authenticate" in line and "and then retry" in line  # the whole reason, not its first line
    assert not (tmp_path / "x.tif").exists()


def test_maps_and_checkpoints_get_ordinary_permissions(work, capsys, tmp_path):
    old = os.umask(0o022)
    try:
        code, out, err = run(predict_args(work, work / "out.tif"), capsys)
        unet.save_checkpoint(tmp_path / "ckpt" / "last.pt", {"format": "x"})
    finally:
        os.umask(old)
    assert code == 0, err
    assert stat.S_IMODE((work / "out.tif").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "ckpt" / "last.pt").stat().st_mode) == 0o644
    assert leftovers(work) == [] and leftovers(tmp_path / "ckpt") == []


def test_tracebacks_only_with_debug(work, capsys, monkeypatch):
    argv = ["accuracy", "--classified", work / "nothing.tif", "--reference", work / "map.tif"]
    code, out, err = run(argv, capsys)
    assert code == 2
    one_line(err, "nothing.tif", "no such file")
    code, out, err = run(["--debug", *argv], capsys)
    assert code == 2 and "Traceback" in err and err.strip().splitlines()[-1].endswith("no such file (run `lulc fetch` or `make data` first)")
    monkeypatch.setenv("LULC_DEBUG", "1")
    code, out, err = run(argv, capsys)
    assert code == 2 and "Traceback" in err
