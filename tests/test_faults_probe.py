"""The second fault probe (192 cases on main at efb9d46, 23 of them defects), one test per defect: each
asserts the exit code, the one line on stderr (naming the file or option and the problem) and what is
left on disk. Helpers and the tiny checkpoint come from `tests/test_faults.py`.
"""

import argparse
import json
import os
import shutil
import stat

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import Resampling, calculate_default_transform, reproject

from lulc_helpers import cli, errors, outputs, sampling, streaming
from lulc_helpers.cli import classify as cli_classify
from tests.test_faults import (  # noqa: F401  (files and work are fixtures)
    PIXEL,
    X0,
    Y0,
    child,
    files,
    finish,
    leftovers,
    one_line,
    predict_args,
    quarry_map,
    run,
    work,
    write_raster,
)


def device_node(path):
    """A character device like /dev/null (major 1, minor 3) at `path`; skipped where mknod is not allowed."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    return path


def is_char_device(path) -> bool:
    return stat.S_ISCHR(os.lstat(path).st_mode)


# ---------------------------------------------------------------- outputs that are not regular files


def writers(work, out):
    """Every writing command with `out` as its (first) output."""
    return {
        "predict": predict_args(work, out),
        "classify": ["classify", "--method", "cart", "--per-class", "5", "--out", out],
        "screen": ["screen", "--classified", work / "map.tif", "--min-area-ha", "0.1", "--out", out],
        "screen --csv": ["screen", "--classified", work / "map.tif", "--min-area-ha", "0.1", "--out", work / "c.gpkg",
                         "--csv", out],
        "sample": ["sample", "--classified", work / "map.tif", "--n", "20", "--out", out],
    }


@pytest.mark.parametrize("kind", ["character device", "fifo", "folder"])
def test_no_writer_replaces_what_is_not_a_regular_file(work, capsys, kind):
    suffix = {"predict": ".tif", "classify": ".tif", "screen": ".gpkg", "screen --csv": ".csv", "sample": ".gpkg"}
    for name in writers(work, work / "x"):
        out = work / f"target{suffix[name]}"
        if kind == "character device":
            device_node(out)
        elif kind == "fifo":
            os.mkfifo(out)
        else:
            out.mkdir()
        code, stdout, err = run(writers(work, out)[name], capsys)
        assert code == 2, (name, err)
        one_line(err, str(out), f"is a {kind}, not a regular file")
        assert (is_char_device(out) if kind == "character device" else
                stat.S_ISFIFO(os.lstat(out).st_mode) if kind == "fifo" else out.is_dir()), name
        assert leftovers(work) == [] and not (work / "c.gpkg").exists(), name
        out.rmdir() if kind == "folder" else out.unlink()


def test_the_write_path_refuses_a_device_for_the_api_too(tmp_path):
    node = device_node(tmp_path / "null.tif")
    with pytest.raises(outputs.OutputCollision, match="is a character device, not a regular file"):
        with outputs.atomic_output(node) as tmp:
            tmp.write_bytes(b"x")
    assert is_char_device(node) and leftovers(tmp_path) == []


def test_tile_mosaic_refuses_to_overwrite_its_input(work):
    image = work / "scene_20210619.tif"
    before = image.read_bytes()
    with pytest.raises(outputs.OutputCollision, match="would overwrite the input"):
        streaming.tile_mosaic(image, work / "." / "scene_20210619.tif", 128)
    assert image.read_bytes() == before and leftovers(work) == []


# ---------------------------------------------------------------- areas in CRSs that are not metres or equal-area


def reprojected(source, target, crs):
    """`source` reprojected to `crs` by nearest neighbour (the pixel size chosen by GDAL)."""
    with rasterio.open(source) as src:
        transform, width, height = calculate_default_transform(src.crs, crs, src.width, src.height, *src.bounds)
        values = np.zeros((height, width), dtype=np.uint8)
        reproject(rasterio.band(src, 1), values, dst_transform=transform, dst_crs=crs, resampling=Resampling.nearest)
    return write_raster(target, values, crs=crs, transform=transform)


def test_web_mercator_areas_are_refused_in_screen_sample_and_area(work, capsys):
    mercator = reprojected(work / "map.tif", work / "mercator.tif", "EPSG:3857")
    commands = [["screen", "--classified", mercator, "--min-area-ha", "0.1", "--out", work / "c.gpkg"],
                ["sample", "--classified", mercator, "--n", "20", "--out", work / "p.gpkg"]]
    for argv in commands:
        code, out, err = run(argv, capsys)
        assert code == 2, err
        one_line(err, "mercator.tif", "EPSG:3857", "areas")
    assert sorted(p.name for p in work.iterdir()) == ["map.tif", "mercator.tif", "run", "scene_20210619.tif"]


def test_a_crs_in_us_feet_gives_areas_in_hectares(work, capsys):
    feet = 0.3048006096012192  # the US survey foot in metres
    crs = "+proj=utm +zone=33 +datum=WGS84 +units=us-ft +no_defs"
    write_raster(work / "feet.tif", quarry_map(), crs=crs, transform=from_origin(X0 / feet, Y0 / feet, PIXEL / feet, PIXEL / feet))
    code, out, err = run(["screen", "--classified", work / "feet.tif", "--min-area-ha", "0.1", "--out", work / "c.gpkg"], capsys)
    assert code == 0, err
    import geopandas as gpd

    assert gpd.read_file(work / "c.gpkg")["area_ha"].round(4).tolist() == [1.0, 0.16]  # 100 and 16 pixels of 10 m
    code, out, err = run(["sample", "--classified", work / "feet.tif", "--n", "20", "--out", work / "p.gpkg"], capsys)
    assert code == 0, err
    assert sampling.read_points(work / "p.gpkg")["pixel_area_ha"].round(6).unique().tolist() == [0.01]


@pytest.mark.parametrize(("crs", "origin", "metres"), [
    ("EPSG:32633", (X0, Y0), 1.0),  # UTM 33N: areal scale 0.9992 on its central meridian
    ("EPSG:2180", (300_000.0, 400_000.0), 1.0),  # the Polish CS92: within 0.1 % over Poland
    ("+proj=utm +zone=33 +datum=WGS84 +units=ft +no_defs", (X0 / 0.3048, Y0 / 0.3048), 0.3048),
    ("EPSG:3857", (1_669_792.0, 6_542_225.0), None),  # Web Mercator at 50.5 deg N: areas 2.48 times too large
])
def test_areas_are_measured_only_in_crss_that_keep_them(tmp_path, crs, origin, metres):
    from lulc_helpers import rasters

    path = write_raster(tmp_path / "grid.tif", quarry_map(), crs=crs, transform=from_origin(*origin, PIXEL, PIXEL))
    grid = rasters.open_class_map(path)
    if metres is None:
        with pytest.raises(errors.DataError, match="distorts areas by a factor of 2.4"):
            rasters.pixel_area_ha(grid)
    else:
        assert rasters.metres_per_unit(grid) == pytest.approx(metres)
        assert rasters.pixel_area_ha(grid) == pytest.approx((PIXEL * metres) ** 2 / 10_000)


# ---------------------------------------------------------------- lulc area and the stratum sizes of the points file


def test_area_refuses_a_map_that_differs_outside_the_sample(work, capsys):
    points = work / "p.gpkg"
    code, out, err = run(["sample", "--classified", work / "map.tif", "--n", "20", "--label-from", work / "map.tif",
                          "--out", points], capsys)
    assert code == 0, err
    drawn = sampling.read_points(points)
    changed = quarry_map()
    keep = np.zeros_like(changed, dtype=bool)
    keep[drawn["row"], drawn["col"]] = True
    changed[(changed == 10) & ~keep] = 0  # quarries cut to the sampled pixels (no data elsewhere)
    write_raster(work / "cut.tif", changed)
    code, out, err = run(["area", "--classified", work / "cut.tif", "--points", points], capsys)
    assert code == 2 and out == ""
    one_line(err, "p.gpkg", "cut.tif", "class 10", "116 pixels", f"{int((changed == 10).sum())} in the map")


# ---------------------------------------------------------------- lulc train options


def test_val_scenes_with_a_stripe_preset_is_refused(tmp_path, capsys):
    code, out, err = run(["train", "--preset", "quick", "--val-scenes", "strzegom_20220619", "--dry-run", "--json"], capsys)
    if code == 0:  # the alternative fix: the date is really held out, and the plan says so
        plan = json.loads(out)
        assert "strzegom_20220619" not in plan["train_scenes"] and plan["val_scenes"] == ["strzegom_20220619"]
    else:
        assert code == 2 and out == ""
        one_line(err, "--val-scenes strzegom_20220619", "--val-fraction 0")


def test_record_refuses_a_csv_that_is_not_a_recorded_runs_table(tmp_path, capsys):
    table = tmp_path / "other.csv"
    table.write_text("name,count\nbirch,0012\n")
    before = table.read_bytes()
    code, out, err = run(["train", "--preset", "quick", "--epochs", "1", "--out", tmp_path / "run", "--no-evaluate",
                          "--record", table], capsys)
    assert code == 2, err
    one_line(err, "other.csv", "not a recorded-runs table")
    assert table.read_bytes() == before and not (tmp_path / "run").exists()


@pytest.mark.parametrize(("options", "says"), [(["--jitter", "5"], "--jitter 5.0: must be below 1"),
                                               (["--weight-power", "-2"], "--weight-power -2.0: must be 0 or more")])
def test_train_refuses_jitter_and_weight_power_that_cannot_work(tmp_path, capsys, options, says):
    code, out, err = run(["train", "--preset", "quick", *options, "--out", tmp_path / "run", "--no-evaluate"], capsys)
    assert code == 2, err
    one_line(err, says)
    assert not (tmp_path / "run").exists()


def test_train_prints_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path):
    argv = ["train", "--preset", "quick", "--patches-per-epoch", "2", "--epochs", "1", "--out", tmp_path / "run",
            "--no-evaluate"]
    code, out, err = finish(child(argv), timeout=300)
    assert code == 0 and err == "", err
    assert (tmp_path / "run" / "best.pt").is_file()


# ---------------------------------------------------------------- lulc sample


def test_a_sample_larger_than_its_frame_is_refused(work, capsys):
    code, out, err = run(["sample", "--classified", work / "map.tif", "--n", "1000000000", "--out", work / "p.gpkg"], capsys)
    assert code == 2 and out == ""
    one_line(err, "--n 1000000000: 1,000,000,000 points asked, but the frame holds only 400 pixels", "map.tif")
    assert not (work / "p.gpkg").exists()


def test_sample_write_failures_name_the_output(work, capsys):
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc")
    code, out, err = run(["sample", "--classified", work / "map.tif", "--n", "20", "--out", "/proc/self/p.gpkg"], capsys)
    assert code == 1
    line = one_line(err, "/proc/self/p.gpkg", "could not write")
    assert "unexpected" not in line and "sqlite3" not in line


@pytest.mark.parametrize("command", ["sample", "screen"])
def test_a_full_disk_is_one_short_line_and_keeps_the_old_file(work, command):
    old = work / "old.gpkg"
    shutil.copy(work / "map.tif", old)  # any previous content
    before = old.read_bytes()
    argv = (["sample", "--classified", work / "map.tif", "--n", "20", "--out", old] if command == "sample" else
            ["screen", "--classified", work / "map.tif", "--min-area-ha", "0.1", "--out", old, "--csv", work / "c.csv"])
    code, out, err = finish(child(argv, fsize=4096))
    line = one_line(err, str(old), "could not write", "File too large")
    assert code == 1 and len(line) < 200 and "sqlite3" not in line, line
    assert old.read_bytes() == before and leftovers(work) == []


@pytest.mark.parametrize(
    ("options", "says"),
    [(["--n", "0"], ["--n: 0: need at least 1"]), (["--n", "-5"], ["--n: -5: need at least 1"]),
     (["--n", "3"], ["--n 3: 3 points are too few: the map's 2 classes need 2 each, so at least 4"]),
     (["--target-se", "5"], ["--target-se: 5 is not a number strictly between 0 and 1"]),
     (["--target-se", "nan"], ["--target-se: nan is not"]),
     (["--n", "20", "--allocation", "min:1"], ["--allocation: allocation 'min:1': use proportional, equal or min:N"]),
     (["--n", "20", "--seed", "-1"], ["--seed: -1 is negative"])],
)
def test_sample_options_are_named_in_their_errors(work, capsys, options, says):
    code, out, err = run(["sample", "--classified", work / "map.tif", *options, "--out", work / "p.gpkg"], capsys)
    assert code == 2 and out == ""
    line = one_line(err, *says)
    assert "map.tif" not in line or options == ["--n", "3"]
    assert not (work / "p.gpkg").exists()


def test_an_opening_radius_larger_than_the_map_is_refused(work, capsys):
    code, out, err = run(["screen", "--classified", work / "map.tif", "--clean-radius", "100000", "--out", work / "c.gpkg"], capsys)
    assert code == 2 and out == ""
    one_line(err, "--clean-radius 100000", "20x20")
    assert not (work / "c.gpkg").exists()


# ---------------------------------------------------------------- help, schedulers, unreadable images


@pytest.mark.parametrize("argv", [["--help"], ["-h"], *([name, "--help"] for name in
                                  ("fetch", "train", "predict", "classify", "accuracy", "screen", "sample", "area"))])
def test_help_prints_for_every_command(capsys, argv):
    code, out, err = run(argv, capsys)
    assert code == 0 and err == "" and out.startswith("usage: lulc")


def test_every_train_option_has_help_and_table_3_gives_the_papers_values():
    """The CLI reference is generated from the parser: an option without help would be a bare name there."""
    commands = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.option_strings[0]: a.help for a in commands.choices["train"]._actions if a.option_strings}
    assert [option for option, text in helps.items() if not text] == []
    table_3 = {"--epochs": "25", "--batch-size": "4", "--lr": "0.001", "--gamma": "2", "--patch-size": "100"}
    for option, value in table_3.items():
        assert f"(paper: {value})" in helps[option], option
    assert "0.01, 0.001 and 0.0001" in helps["--weight-decay"]


def test_a_scheduler_address_that_is_not_an_address_is_bad_input(work, capsys):
    code, out, err = run(predict_args(work, work / "out.tif", "--scheduler", "notaurl"), capsys)
    assert code == 2 and out == ""
    one_line(err, "--scheduler: notaurl is not a Dask scheduler address")
    assert not (work / "out.tif").exists()


def test_a_scheduler_without_workers_is_not_a_failed_write(work, capsys, monkeypatch):
    from dask.distributed import LocalCluster

    monkeypatch.setattr(cli_classify, "WORKER_WAIT_S", 1)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        code, out, err = run(predict_args(work, work / "out.tif", "--scheduler", cluster.scheduler_address), capsys)
    assert code == 1
    line = one_line(err, f"--scheduler {cluster.scheduler_address}", "no worker")
    assert "could not write" not in line
    assert not (work / "out.tif").exists() and leftovers(work) == []


def damaged_image(work):
    """The scene with its pixel data overwritten past the header: the file opens, its blocks do not decode."""
    image = work / "damaged_20210619.tif"
    with rasterio.open(work / "scene_20210619.tif") as src:
        profile = {**src.profile, "compress": "deflate", "tiled": True, "blockxsize": 32, "blockysize": 32}
        with rasterio.open(image, "w", **profile) as dst:
            dst.write(src.read())
    raw = bytearray(image.read_bytes())
    raw[len(raw) // 3:] = b"\xff" * (len(raw) - len(raw) // 3)
    image.write_bytes(bytes(raw))
    return image


@pytest.mark.parametrize("workers", [None, "1"])
def test_an_unreadable_image_is_bad_input_with_or_without_dask(work, capsys, workers):
    image = damaged_image(work)
    argv = ["predict", work / "run" / "last.pt", image, work / "out.tif", "--no-tta", "--device", "cpu", "--block", "256"]
    code, out, err = finish(child(argv + (["--workers", workers] if workers else [])), timeout=300)
    assert code == 2, err
    line = one_line(err, "damaged_20210619.tif", "could not read")
    assert "could not write" not in line and "unexpected" not in line
    assert not (work / "out.tif").exists() and leftovers(work) == []
