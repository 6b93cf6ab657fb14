"""Stratified sampling, labels, the points file and the area estimates, against numbers worked out
independently: Olofsson et al. (2014, Remote Sensing of Environment 148, 42-57, Section 5), a small case
by hand, and a coverage check of the 95% intervals by simulation."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from rasterio.transform import from_origin

from lulc_helpers import cli, errors, evaluation, labels, metrics, paths, rasters, sampling

ORIGIN = (585420.0, 5652250.0)  # the Strzegom grid, EPSG:32633


def _raster(values, pixel=10.0, name="map"):
    values = np.asarray(values, dtype=np.uint8)
    h, w = values.shape
    da = xr.DataArray(values, dims=("y", "x"), name=name, coords={
        "y": ORIGIN[1] - pixel / 2 - pixel * np.arange(h), "x": ORIGIN[0] + pixel / 2 + pixel * np.arange(w)})
    da.rio.write_crs("EPSG:32633", inplace=True)
    da.rio.write_transform(from_origin(*ORIGIN, pixel, pixel), inplace=True)
    da.rio.write_nodata(0, inplace=True)
    return da


# ---------------------------------------------------------------- Olofsson et al. (2014), Section 5

# Their example map: strata deforestation, forest gain, stable forest, stable non-forest, 30 m pixels.
OLOFSSON_PIXELS = pd.Series([200_000, 150_000, 3_200_000, 6_450_000], index=[1, 2, 3, 4])
OLOFSSON_COUNTS = [[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]]


def test_sample_size_of_the_olofsson_example():
    # Section 5.1: target S(O) = 0.01 with anticipated user's accuracies 0.70, 0.60, 0.90, 0.95 gives n = 641
    # (the same 641 appears in pyeo's validation tests of this example)
    anticipated = {1: 0.70, 2: 0.60, 3: 0.90, 4: 0.95}
    assert sampling.sample_size(OLOFSSON_PIXELS, 0.01, anticipated) == 641
    # with U = 0.9 everywhere, S_i = 0.3 and n = (0.3 / 0.01)^2 = 900 (N large)
    assert sampling.sample_size(OLOFSSON_PIXELS, 0.01, 0.9) == 900


def _points_from_counts(counts, pixels, pixel_area_ha):
    """A sample table (the columns `estimate` reads) with the given counts (rows = map, columns = reference)."""
    rows = []
    for i, (stratum, row) in enumerate(zip(pixels.index, counts)):
        for j, n in enumerate(row):
            rows += [{"stratum": stratum, "map_class": stratum, "stratum_pixels": pixels[stratum],
                      "pixel_area_ha": pixel_area_ha, sampling.LABEL: pixels.index[j]}] * n
    frame = pd.DataFrame(rows)
    frame[sampling.LABEL] = frame[sampling.LABEL].astype("Int64")
    return frame


def test_area_of_the_olofsson_example_in_hectares():
    points = _points_from_counts(OLOFSSON_COUNTS, OLOFSSON_PIXELS, 0.09)
    table = sampling.area_table(points)
    half_width = (table.ci95_high_ha - table.estimated_area_ha).round()
    # Section 5.2: deforestation 21,158 ± 6,158 ha; stable forest 285,770 ± 15,510 ha (30 m pixels = 0.09 ha)
    assert round(table.loc[1, "estimated_area_ha"]) == 21158 and half_width[1] == 6158
    assert round(table.loc[3, "estimated_area_ha"]) == 285770 and half_width[3] == 15510
    assert (table.estimated_area_ha - table.ci95_low_ha).round().equals(half_width)  # symmetric
    assert table.loc[1, "pixel_area_ha"] == 18000  # 200,000 pixels x 0.09 ha
    assert round(sampling.estimate(points).overall_accuracy, 2) == 0.95


# ---------------------------------------------------------------- allocation


def test_allocations_by_hand():
    sizes = pd.Series([1000, 100, 10], index=[1, 2, 3])
    # proportional: 111 x (1000, 100, 10) / 1110 = (100, 10, 1), but one point gives no variance: class 3 gets 2
    # and the other 109 go 1000 : 100 (99.1, 9.9 -> 99, 10)
    assert sampling.allocate(111, sizes, "proportional").tolist() == [99, 10, 2]
    # min:20: class 3 (share 0.9) and then class 2 (share 80 x 100/1100 = 7.3) get 20, class 1 the other 60;
    # class 3 has only 10 pixels, so it is censused
    assert sampling.allocate(100, sizes, "min:20").tolist() == [60, 20, 10]
    assert sampling.allocate(100, sizes, "equal").tolist() == [34, 33, 10]
    with pytest.raises(ValueError, match="min:N"):
        sampling.parse_allocation("min:1")
    with pytest.raises(ValueError, match="n >= 60"):
        sampling.allocate(50, sizes, "min:20")


# ---------------------------------------------------------------- drawing and labelling


@pytest.fixture()
def small_map():
    values = np.zeros((10, 10), dtype=np.uint8)
    values[:8, :] = 1  # 80 pixels of class 1
    values[8:, :] = 2  # 20 pixels of class 2
    values[0, 0] = 0  # one pixel without data is never sampled
    return _raster(values, pixel=100.0)  # 1 ha pixels


def test_draw_is_stratified_seeded_and_on_pixel_centres(small_map):
    counts = pd.Series({1: 10, 2: 5})
    points = sampling.draw(small_map, counts, seed=7)
    again = sampling.draw(small_map, counts, seed=7)
    assert points[["row", "col"]].equals(again[["row", "col"]])
    assert not points[["row", "col"]].equals(sampling.draw(small_map, counts, seed=8)[["row", "col"]])
    assert points.groupby("stratum").size().to_dict() == {1: 10, 2: 5}
    assert (small_map.values[points.row, points.col] == points.map_class).all()
    assert not ((points.row == 0) & (points.col == 0)).any()
    assert ((points.x - ORIGIN[0]) % 100 == 50).all() and ((ORIGIN[1] - points.y) % 100 == 50).all()
    assert points.loc[points.stratum == 1, "weight"].eq(79 / 10).all()  # 79 pixels of class 1, 10 points
    assert points.loc[points.stratum == 2, "weight"].eq(20 / 5).all()
    assert points.pixel_area_ha.eq(1.0).all() and points[sampling.LABEL].isna().all()


def test_region_limits_the_frame(small_map):
    region = np.zeros((10, 10), dtype=bool)
    region[:, :5] = True
    points = sampling.stratified_sample(small_map, n=20, allocation="equal", seed=1, region=region)
    assert (points.col < 5).all()
    assert points.groupby("stratum")["stratum_pixels"].first().to_dict() == {1: 39, 2: 10}


def test_labels_from_raster_and_from_polygons_agree(data_root, strzegom_test):
    classified = rasters.open_class_map(data_root / strzegom_test.published_prediction)
    polygons = data_root / strzegom_test.reference
    raster = evaluation.test_reference(kind="polygons")  # the polygons burnt by pixel centres
    points = sampling.stratified_sample(classified, n=300, seed=3)
    from_raster = sampling.label_from(points, raster)
    from_polygons = sampling.label_from(points, polygons)
    inside = raster.values[points.row, points.col] != 0
    assert from_raster[sampling.LABEL].notna().tolist() == inside.tolist()  # outside the reference: still empty
    assert (from_raster[sampling.LABEL] == from_polygons[sampling.LABEL]).fillna(True).all()
    assert (from_polygons.loc[inside, "label_source"] == str(polygons)).all()


# ---------------------------------------------------------------- the points file


def test_points_file_round_trip_and_atomic_failure(small_map, tmp_path, monkeypatch):
    path = tmp_path / "points.gpkg"
    points = sampling.draw(small_map, pd.Series({1: 4, 2: 3}), seed=0)
    sampling.set_label(points, 0, 1)
    sampling.set_label(points, 1, sampling.UNSURE)
    sampling.write_points(points, path)
    back = sampling.read_points(path)
    assert back[sampling.LABEL].tolist()[:3] == [1, 0, pd.NA] and sampling.first_unlabelled(back) == 2

    def broken(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    sampling.set_label(points, 2, 2)
    monkeypatch.setattr(type(points), "to_file", broken)
    with pytest.raises(errors.OutputError, match="points.gpkg"):
        sampling.write_points(points, path)
    assert sampling.read_points(path)[sampling.LABEL].tolist()[:3] == [1, 0, pd.NA]  # the previous labels survive
    assert [p.name for p in tmp_path.iterdir()] == ["points.gpkg"]


# ---------------------------------------------------------------- a small case by hand, through the CLI


@pytest.fixture()
def hand_case(small_map, tmp_path):
    """Map: 79 ha of class 1, 20 ha of class 2. Sample: 10 points each; in stratum 1, 8 are class 1 and 2 are
    class 2; in stratum 2, 1 is class 1 and 9 are class 2."""
    map_path = tmp_path / "map.tif"
    rasters.write_class_map(small_map, map_path)
    points = sampling.draw(small_map, pd.Series({1: 10, 2: 10}), seed=0)
    points[sampling.LABEL] = pd.array([1] * 8 + [2] * 2 + [1] + [2] * 9, dtype="Int64")
    points_path = sampling.write_points(points, tmp_path / "points.gpkg")
    return map_path, points_path


def test_area_and_accuracy_by_hand_through_the_cli(hand_case, capsys):
    map_path, points_path = hand_case
    assert cli.main(["area", "--classified", str(map_path), "--points", str(points_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # W = (79, 20) / 99; p_12 = W1 x 0.2, p_22 = W2 x 0.9; area of class 2 = 99 (p_12 + p_22) = 15.8 + 18 = 33.8 ha
    # SE(p_.2)^2 = sum_i (W_i p_i2 - p_i2^2) / (n_i - 1)
    w1, w2 = 79 / 99, 20 / 99
    p12, p22 = w1 * 0.2, w2 * 0.9
    se = math.sqrt((w1 * p12 - p12**2) / 9 + (w2 * p22 - p22**2) / 9)
    two = report["classes"]["2"]
    assert two["pixel_area_ha"] == pytest.approx(20)
    assert two["estimated_area_ha"] == pytest.approx(33.8)
    assert two["ci95_ha"] == pytest.approx([33.8 - 1.96 * se * 99, 33.8 + 1.96 * se * 99])
    assert report["classes"]["1"]["estimated_area_ha"] == pytest.approx(79 * 0.8 + 20 * 0.1)  # 65.2
    assert report["total_area_ha"] == pytest.approx(99)
    assert cli.main(["accuracy", "--classified", str(map_path), "--points", str(points_path), "--json"]) == 0
    accuracy = json.loads(capsys.readouterr().out)
    assert accuracy["overall_accuracy"] == pytest.approx(w1 * 0.8 + w2 * 0.9)
    assert accuracy["per_class"]["2"]["PA"] == pytest.approx(p22 / (p12 + p22))
    assert accuracy["per_class"]["1"]["UA"] == pytest.approx(0.8)
    assert accuracy["proportions"][0][1] == pytest.approx(p12)


def test_sample_command_sizes_labels_and_writes(small_map, tmp_path, capsys):
    map_path, out = tmp_path / "map.tif", tmp_path / "s.gpkg"
    rasters.write_class_map(small_map, map_path)
    reference = small_map.copy(data=np.where(small_map.values == 0, 0, 2).astype(np.uint8))
    rasters.write_class_map(reference, tmp_path / "ref.tif")
    code = cli.main(["sample", "--classified", str(map_path), "--target-se", "0.1", "--allocation", "equal", "--seed", "2",
                     "--label-from", str(tmp_path / "ref.tif"), "--out", str(out)])
    assert code == 0 and "labelled" in capsys.readouterr().out
    points = sampling.read_points(out)
    assert len(points) == 9  # U = 0.9: n = (0.3 / 0.1)^2 = 9, split 5 / 4
    assert points[sampling.LABEL].eq(2).all()


def test_sample_command_keeps_to_the_region_of_a_polygon_reference(tmp_path, capsys):
    root = paths.data_dir()
    published = root / "accuracy_analysis/strzegom_20230709_33u_class.tif"
    polygons = root / "test_mask/strzegom_ref.gpkg"
    out = tmp_path / "inside.gpkg"
    assert cli.main(["sample", "--classified", str(published), "--n", "200", "--seed", "1", "--region", str(polygons),
                     "--label-from", str(polygons), "--out", str(out)]) == 0
    points = sampling.read_points(out)
    inside = labels.rasterize_reference(polygons, rasters.open_class_map(published)).values != 0
    assert len(points) >= 200 and points[sampling.LABEL].gt(0).all()  # every point inside a labelled polygon
    assert inside.sum() < inside.size / 2  # the region is a real restriction: under half the scene


def test_bad_inputs_exit_2_naming_the_file(hand_case, tmp_path, capsys):
    map_path, points_path = hand_case
    other = _raster(np.full((10, 10), 3), pixel=100.0)
    rasters.write_class_map(other, tmp_path / "other.tif")
    junk = tmp_path / "junk.gpkg"
    junk.write_text("not a geopackage")
    for argv, named in [
        (["area", "--classified", str(tmp_path / "other.tif"), "--points", str(points_path)], "points.gpkg"),
        (["area", "--classified", str(map_path), "--points", str(junk)], "junk.gpkg"),
        (["accuracy", "--classified", str(map_path), "--points", str(tmp_path / "none.gpkg")], "none.gpkg"),
        (["sample", "--classified", str(map_path), "--n", "3", "--out", str(tmp_path / "x.gpkg")], "map.tif"),
    ]:
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and named in err
    assert not (tmp_path / "x.gpkg").exists()


def test_labels_from_another_field(hand_case, tmp_path, capsys):
    map_path, points_path = hand_case
    points = sampling.read_points(points_path)
    points["second_opinion"] = points[sampling.LABEL].astype(float)  # as a GIS might store it
    points.loc[points.index[:2], "second_opinion"] = 2.0  # stratum 1: 6 right, 4 class 2
    points["comment"] = "looked at"
    sampling.write_points(points, tmp_path / "two.gpkg")
    argv = ["area", "--classified", str(map_path), "--points", str(tmp_path / "two.gpkg"), "--json"]
    assert cli.main(argv + ["--field", "second_opinion"]) == 0
    assert json.loads(capsys.readouterr().out)["classes"]["1"]["estimated_area_ha"] == pytest.approx(79 * 0.6 + 20 * 0.1)
    for field, message in [("comment", "not class codes"), ("nothing", "no label field nothing")]:
        assert cli.main(argv + ["--field", field]) == 2
        assert message in capsys.readouterr().err


def test_unlabelled_strata_are_refused(small_map, tmp_path, capsys):
    map_path = tmp_path / "map.tif"
    rasters.write_class_map(small_map, map_path)
    points = sampling.draw(small_map, pd.Series({1: 3, 2: 3}), seed=0)
    points[sampling.LABEL] = pd.array([1, 1, 1, 2, pd.NA, 0], dtype="Int64")  # stratum 2: one usable label
    sampling.write_points(points, tmp_path / "p.gpkg")
    assert cli.main(["area", "--classified", str(map_path), "--points", str(tmp_path / "p.gpkg")]) == 2
    assert "[2]" in capsys.readouterr().err


def test_a_class_only_in_the_reference_gets_an_area():
    # stratum 1 (60 ha): 3 of 4 points are class 1, one is class 3; stratum 2 (40 ha): all class 2.
    # Class 3 is never mapped: its area is 60 x 1/4 = 15 ha, its UA undefined.
    result = metrics.estimate_from_points([1, 1, 1, 1, 2, 2], [1, 1, 1, 3, 2, 2], {1: 60.0, 2: 40.0})
    assert result.table.loc[3, "area"] == pytest.approx(15.0)
    assert np.isnan(result.table.loc[3, "UA"]) and result.table.loc[3, "mapped_area"] == 0
    assert result.overall_accuracy == pytest.approx(0.6 * 0.75 + 0.4)
    with pytest.raises(ValueError, match="no mapped area"):
        metrics.estimate_from_points([1, 1, 3], [1, 1, 3], {1: 60.0})


def test_labels_from_a_raster_in_another_crs(small_map):
    points = sampling.draw(small_map, pd.Series({1: 5, 2: 5}), seed=0)
    reprojected = small_map.rio.reproject("EPSG:3035", resolution=50.0, nodata=0)
    labelled = sampling.label_from(points, reprojected)
    assert (labelled[sampling.LABEL] == labelled.map_class).all()  # each point falls in its own pixel's class


# ---------------------------------------------------------------- coverage of the 95% intervals


def test_coverage_of_the_95_percent_intervals():
    # A map whose errors are common enough for the normal approximation (Olofsson et al.'s intervals) to hold:
    # 30% of pixels are redrawn at random in the truth, 100 points per stratum, strata of 4,000-24,000 pixels.
    rng = np.random.default_rng(20140101)
    mapped = rng.choice([1, 2, 3], size=(200, 200), p=[0.6, 0.3, 0.1]).astype(np.uint8)
    truth = mapped.copy()
    wrong = rng.random(mapped.shape) < 0.3
    truth[wrong] = rng.choice([1, 2, 3], size=int(wrong.sum()))
    repeats = 600
    runs = sampling.simulate(truth, _raster(mapped), pd.Series({1: 100, 2: 100, 3: 100}), class_id=3, repeats=repeats, seed=5)
    assert runs.attrs["true_area_ha"] == pytest.approx((truth == 3).sum() * 0.01)
    assert runs.attrs["pixel_area_ha"] == pytest.approx((mapped == 3).sum() * 0.01)
    tolerance = 3 * math.sqrt(0.95 * 0.05 / repeats)  # three binomial standard errors of a 95% coverage
    assert abs(runs.covered.mean() - 0.95) < tolerance
    # unbiased: the mean estimate is the true area within three standard errors of the mean
    assert abs(runs.estimate_ha.mean() - runs.attrs["true_area_ha"]) < 3 * runs.estimate_ha.std() / math.sqrt(repeats)
