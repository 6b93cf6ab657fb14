"""A third probe, as an outsider would try the commands: the cases that found a defect (the whole table is in
the note for issue 24). Each asserts the exit code, the one line on stderr and what is left on disk."""

import os
import stat

import geopandas as gpd
import numpy as np
import pytest

from lulc_helpers import sampling
from tests.test_faults import (  # noqa: F401  (files and work are fixtures)
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


def test_fetch_refuses_an_empty_destination(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["fetch", "--dest", "", "--mirror", tmp_path], capsys)
    assert code == 2 and out == ""
    one_line(err, "--dest '': an empty path")
    assert list(tmp_path.iterdir()) == []


def test_a_device_in_the_way_of_a_folder_is_named_as_such(tmp_path, capsys):
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        pytest.skip("needs /dev/null")
    code, out, err = run(["fetch", "--dest", "/dev/null", "--mirror", tmp_path], capsys)
    assert code == 1
    one_line(err, "/dev/null", "a character device of that name is in the way")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_truncated_map_is_one_line_without_gdal_warnings(work):
    raw = (work / "map.tif").read_bytes()
    (work / "half.tif").write_bytes(raw[: len(raw) // 2])
    for argv in (["accuracy", "--classified", work / "half.tif", "--reference", work / "map.tif"],
                 ["screen", "--classified", work / "half.tif", "--out", work / "c.gpkg"]):
        code, out, err = finish(child(argv))
        assert code == 2, err
        line = one_line(err, "half.tif", "not a readable raster")
        assert "Warning" not in err and "previous exception" not in line
    assert not (work / "c.gpkg").exists() and leftovers(work) == []


@pytest.mark.parametrize("argv", [
    ["area", "--classified", "{work}/map.tif", "--points", "{work}/run"],
    ["accuracy", "--classified", "{work}/run", "--reference", "{work}/map.tif"],
    ["predict", "{work}/run/last.pt", "{work}/run", "{work}/out.tif", "--device", "cpu"],
    ["predict", "{work}/run", "{work}/scene_20210619.tif", "{work}/out.tif", "--device", "cpu"],
])
def test_a_folder_given_as_an_input_is_named_a_folder(work, capsys, argv):
    code, out, err = run([a.format(work=work) for a in argv], capsys)
    assert code == 2 and out == ""
    one_line(err, f"{work}/run: is a folder")
    assert not (work / "out.tif").exists()


@pytest.mark.parametrize("reference", ["empty layer", "other CRS"])
def test_a_reference_that_labels_no_point_is_refused(work, capsys, reference):
    if reference == "empty layer":
        path = work / "empty.gpkg"
        gpd.GeoDataFrame({"label": []}, geometry=[], crs="EPSG:32633").to_file(path)
    else:  # the same numbers in the Polish CS92: hundreds of kilometres away
        path = write_raster(work / "elsewhere.tif", quarry_map(), crs="EPSG:2180")
    code, out, err = run(["sample", "--classified", work / "map.tif", "--n", "20", "--label-from", path,
                          "--out", work / "p.gpkg"], capsys)
    assert code == 2 and out == ""
    one_line(err, path.name, "labels none of the 20 points", "map.tif")
    assert not (work / "p.gpkg").exists()


def test_a_target_error_that_needs_too_many_points_is_refused(work, capsys, monkeypatch):
    monkeypatch.setattr(sampling, "MAX_POINTS", 100)
    code, out, err = run(["sample", "--classified", work / "map.tif", "--target-se", "1e-9", "--out", work / "p.gpkg"], capsys)
    assert code == 2 and out == ""
    one_line(err, "--target-se 1e-09: 400 points asked; above 100 the points alone take gigabytes")
    assert not (work / "p.gpkg").exists()


def test_too_few_points_for_the_classes_reads_as_a_sentence(work, capsys):
    write_raster(work / "one.tif", np.full((3, 3), 10, dtype=np.uint8))
    code, out, err = run(["sample", "--classified", work / "one.tif", "--n", "1", "--out", work / "p.gpkg"], capsys)
    assert code == 2
    one_line(err, "--n 1: 1 points are too few: the map's 1 classes need 2 each, so at least 2 (", "one.tif)")


def test_an_exclusion_that_leaves_nothing_says_so(work, capsys):
    code, out, err = run(["accuracy", "--classified", work / "map.tif", "--reference", work / "map.tif",
                          "--exclude-predicted", "9", "10"], capsys)
    assert code == 2
    one_line(err, "empty overlap once pixels classified as 9 10 are left out")


def test_more_local_workers_than_cores_is_refused(work, capsys):
    code, out, err = run(predict_args(work, work / "out.tif", "--workers", "100000"), capsys)
    assert code == 2 and out == ""
    one_line(err, "--workers: 100000: more than this machine's", "CPU cores")
    assert not (work / "out.tif").exists()


def test_a_missing_region_is_bad_input_before_any_earth_engine_connection(tmp_path, capsys):
    code, out, err = run(["classify", "--method", "rf", "--backend", "gee", "--region", tmp_path / "nosuch.geojson"], capsys)
    assert code == 2 and out == ""
    one_line(err, "nosuch.geojson: no such file (--region)")


@pytest.mark.parametrize(("options", "says"), [
    (["--lr", "1e308"], "--lr 1e+308: must be above 0 and at most 1"),
    (["--depth", "40"], "--depth 40: the 48-pixel patch or window would be halved to nothing; at most 5"),
    (["--val-fraction", "0.999"], "once --val-fraction 0.999 holds out its bottom rows"),
])
def test_train_refuses_settings_that_would_crash_with_the_option_named(tmp_path, capsys, options, says):
    code, out, err = run(["train", "--preset", "quick", *options, "--epochs", "1", "--out", tmp_path / "run",
                          "--no-evaluate"], capsys)
    assert code == 2, err
    one_line(err, says)
    assert not (tmp_path / "run").exists()


def test_a_network_too_large_for_memory_is_a_one_line_runtime_failure(tmp_path, capsys):
    code, out, err = run(["train", "--preset", "quick", "--width", "100000", "--epochs", "1", "--out", tmp_path / "run",
                          "--no-evaluate"], capsys)
    assert code == 1
    one_line(err, "not enough memory to train this network (--width 100000")
    assert not (tmp_path / "run" / "last.pt").exists()
