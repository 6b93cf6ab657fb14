"""Screening on synthetic rasters and polygons whose answers are worked out by hand below.

Grid: 100 x 100 pixels of 10 m in EPSG:32633, top-left corner (500000, 5600000); pixel (row, col)
spans x 500000 + 10*col .. +10, y 5600000 - 10*row - 10 .. 5600000 - 10*row. Background class 9.

  A  rows 10-19, cols 10-19  (1.00 ha)  inside permitted area P1 (rows 5-25, cols 5-25)
  C  rows 10-19, cols 40-49  (1.00 ha)  straddles P2 (rows 5-25, cols 40-44): 0.50 ha in, 0.50 ha out
  B  rows 60-67, cols 60-67  (0.64 ha)  outside; nearest is P2, hypot(150, 340) m away
  D  rows 80-81, cols 10-11  (0.04 ha)  below a 0.1 ha minimum
"""

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from affine import Affine
from shapely.geometry import box

from lulc_helpers import cli, errors, plots, scheme, screening

X0, Y0, PIXEL = 500_000.0, 5_600_000.0, 10.0
CRS = "EPSG:32633"


def grid(values: np.ndarray, crs: str = CRS) -> xr.DataArray:
    height, width = values.shape
    raster = xr.DataArray(
        values.astype(np.uint8),
        dims=("y", "x"),
        coords={"y": Y0 - PIXEL * (np.arange(height) + 0.5), "x": X0 + PIXEL * (np.arange(width) + 0.5)},
    )
    raster.rio.write_crs(crs, inplace=True)
    raster.rio.write_transform(Affine(PIXEL, 0, X0, 0, -PIXEL, Y0), inplace=True)
    return raster


def cell_box(rows: tuple[int, int], cols: tuple[int, int]):
    """The polygon covering pixel rows r0..r1 and cols c0..c1 (inclusive)."""
    (r0, r1), (c0, c1) = rows, cols
    return box(X0 + PIXEL * c0, Y0 - PIXEL * (r1 + 1), X0 + PIXEL * (c1 + 1), Y0 - PIXEL * r0)


def burn(values: np.ndarray, rows, cols, code=scheme.QUARRY) -> None:
    values[rows[0] : rows[1] + 1, cols[0] : cols[1] + 1] = code


@pytest.fixture
def scene_map() -> xr.DataArray:
    values = np.full((100, 100), 9, dtype=np.uint8)
    for rows, cols in (((10, 19), (10, 19)), ((10, 19), (40, 49)), ((60, 67), (60, 67)), ((80, 81), (10, 11))):
        burn(values, rows, cols)
    return grid(values)


@pytest.fixture
def permitted() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["P1", "P2"]}, geometry=[cell_box((5, 25), (5, 25)), cell_box((5, 25), (40, 44))], crs=CRS
    )


def by_centre(screened: gpd.GeoDataFrame, rows, cols) -> pd.Series:
    centre = cell_box(rows, cols).centroid
    return screened[screened.geometry.contains(centre)].iloc[0]


def test_polygons_keep_patches_above_the_minimum_area(scene_map):
    kept = screening.quarry_polygons(scene_map, min_area_ha=0.1)
    assert kept["area_ha"].tolist() == pytest.approx([1.0, 1.0, 0.64])
    assert kept["id"].tolist() == [1, 2, 3]
    everything = screening.quarry_polygons(scene_map, min_area_ha=0)
    assert everything["area_ha"].min() == pytest.approx(0.04)
    assert kept.crs == CRS


def test_diagonal_neighbours_form_one_patch():
    values = np.full((20, 20), 9)
    burn(values, (0, 4), (0, 4))
    burn(values, (5, 7), (5, 7))  # touches the first block at one corner only
    patches = screening.quarry_polygons(grid(values), min_area_ha=0)
    assert len(patches) == 1
    assert patches["area_ha"].iloc[0] == pytest.approx((25 + 9) * 100 / 10_000)


def test_opening_removes_spurs_and_specks():
    values = np.full((30, 30), 9)
    burn(values, (5, 14), (5, 14))  # 10 x 10 block
    burn(values, (9, 9), (15, 19))  # 1-pixel-wide spur of 5 pixels
    burn(values, (25, 25), (25, 25))  # isolated pixel
    raw = screening.quarry_polygons(grid(values), min_area_ha=0)
    cleaned = screening.quarry_polygons(grid(values), min_area_ha=0, clean_radius=1)
    assert raw["area_ha"].tolist() == pytest.approx([1.05, 0.01])
    assert cleaned["area_ha"].tolist() == pytest.approx([1.0])


def test_screen_inside_outside_straddling(scene_map, permitted):
    candidates = screening.quarry_polygons(scene_map, min_area_ha=0.1)
    screened = screening.screen(candidates, permitted, margin_m=0, max_excess_ha=0.1, name_field="name")
    inside = by_centre(screened, (10, 19), (10, 19))
    straddling = by_centre(screened, (10, 19), (40, 49))
    outside = by_centre(screened, (60, 67), (60, 67))
    assert (inside["status"], inside["flagged"], inside["distance_m"]) == ("inside", False, 0)
    assert inside["overlap_ha"] == pytest.approx(1.0) and inside["excess_ha"] == pytest.approx(0, abs=1e-9)
    assert (straddling["status"], straddling["flagged"]) == ("extends beyond", True)
    assert straddling["overlap_ha"] == pytest.approx(0.5) and straddling["excess_ha"] == pytest.approx(0.5)
    assert (outside["status"], outside["flagged"], outside["nearest_permitted"]) == ("outside", True, "P2")
    assert outside["distance_m"] == pytest.approx(math.hypot(150, 340))
    assert outside["excess_ha"] == pytest.approx(0.64)
    assert list(screened.columns) == [*screening.CANDIDATE_COLUMNS, "geometry"]


def test_margin_and_area_tolerance(scene_map, permitted):
    candidates = screening.quarry_polygons(scene_map, min_area_ha=0.1)
    with_margin = screening.screen(candidates, permitted, margin_m=10, max_excess_ha=0.1)
    # a 10 m margin takes one pixel column (0.1 ha) off the straddling quarry's excess
    assert by_centre(with_margin, (10, 19), (40, 49))["excess_ha"] == pytest.approx(0.4, abs=1e-6)
    tolerant = screening.screen(candidates, permitted, margin_m=10, max_excess_ha=0.45)
    assert by_centre(tolerant, (10, 19), (40, 49))["status"] == "inside"
    assert by_centre(tolerant, (60, 67), (60, 67))["status"] == "outside"


def test_a_neighbour_within_the_margin_counts_as_inside(permitted):
    values = np.full((40, 40), 9)
    burn(values, (10, 19), (27, 28))  # 2 columns wide, one empty column east of P1 (cols 5-25)
    candidates = screening.quarry_polygons(grid(values), min_area_ha=0)
    near = screening.screen(candidates, permitted, margin_m=30, max_excess_ha=0).iloc[0]
    assert (near["status"], near["overlap_ha"], near["distance_m"]) == ("inside", 0, pytest.approx(10))
    assert screening.screen(candidates, permitted, margin_m=0, max_excess_ha=0).iloc[0]["status"] == "outside"


def test_without_permitted_layer_nothing_is_checked(scene_map):
    screened = screening.screen(screening.quarry_polygons(scene_map, min_area_ha=0.1))
    assert set(screened["status"]) == {"not checked"} and not screened["flagged"].any()


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp"])
def test_permitted_layer_in_another_crs_is_reprojected(tmp_path, scene_map, permitted, suffix):
    path = tmp_path / f"permitted{suffix}"
    permitted.to_crs("EPSG:4326").to_file(path)
    loaded = screening.read_permitted(path)
    assert loaded.crs.to_epsg() == 4326
    screened = screening.screen(screening.quarry_polygons(scene_map, 0.1), loaded, margin_m=0, max_excess_ha=0.1)
    assert by_centre(screened, (60, 67), (60, 67))["distance_m"] == pytest.approx(math.hypot(150, 340), abs=0.01)
    assert by_centre(screened, (10, 19), (40, 49))["excess_ha"] == pytest.approx(0.5, abs=1e-4)
    assert sorted(screened["status"]) == ["extends beyond", "inside", "outside"]


def test_empty_result_is_a_valid_layer_with_the_schema(tmp_path, permitted):
    values = np.full((20, 20), 9)
    burn(values, (3, 4), (3, 4))  # 0.04 ha, below the minimum
    screened = screening.screen(screening.quarry_polygons(grid(values), min_area_ha=0.1), permitted)
    path = screening.write_candidates(screened, tmp_path / "out" / "candidates.gpkg")
    info = pyogrio.read_info(path, layer="candidates")
    assert info["features"] == 0
    assert list(info["fields"]) == list(screening.CANDIDATE_COLUMNS)
    assert info["geometry_type"] == "MultiPolygon" and info["crs"] == CRS
    assert [p.name for p in path.parent.iterdir()] == ["candidates.gpkg"]  # no temporary left behind


def test_unsupported_output_writes_nothing(tmp_path, scene_map):
    screened = screening.screen(screening.quarry_polygons(scene_map, 0.1))
    with pytest.raises(errors.DataError, match="candidates.kml"):
        screening.write_candidates(screened, tmp_path / "candidates.kml")
    assert list(tmp_path.iterdir()) == []


def test_unreadable_or_empty_permitted_layers_are_named(tmp_path):
    junk = tmp_path / "permits.gpkg"
    junk.write_text("not a geopackage")
    with pytest.raises(errors.DataError, match="permits.gpkg"):
        screening.read_permitted(junk)
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1).centroid], crs=CRS).to_file(points)
    with pytest.raises(errors.DataError, match="points.geojson: holds no polygons"):
        screening.read_permitted(points)


def test_geographic_map_is_refused():
    values = np.full((10, 10), 10)
    with pytest.raises(errors.DataError, match="not projected"):
        screening.quarry_polygons(grid(values, crs="EPSG:4326"))


def change_series():
    """Three dates: a quarry grows east by 2 columns, then loses 1 row; a small one appears where the
    first mask is unlabelled and is unlabelled again in the third; 0 = unlabelled."""
    first = np.full((20, 20), 9)
    burn(first, (0, 19), (15, 19), code=0)  # east part unlabelled in the first mask
    burn(first, (2, 6), (2, 6))  # 25 px
    second = np.full((20, 20), 9)
    burn(second, (2, 6), (2, 8))  # 35 px: 10 gained
    burn(second, (10, 11), (16, 17))  # 4 px where the first mask is unlabelled
    third = second.copy()
    burn(third, (6, 6), (2, 8), code=5)  # 7 px lost to bare soil
    burn(third, (10, 11), (16, 17), code=0)  # 4 px no longer labelled
    return {"2021": grid(first), "2022": grid(second), "2023": grid(third)}


def test_quarry_change_counts_by_hand():
    table = screening.quarry_change(change_series()).set_index("date")
    assert table["quarry_ha"].tolist() == pytest.approx([0.25, 0.39, 0.28])
    kinds = ["change_ha", "gained_ha", "lost_ha", "earlier_unlabelled_ha", "later_unlabelled_ha"]
    assert table.loc["2022", kinds].tolist() == pytest.approx([0.14, 0.10, 0.0, 0.04, 0.0])
    assert table.loc["2023", kinds].tolist() == pytest.approx([-0.11, 0.0, 0.07, 0.0, 0.04])
    assert np.isnan(table.loc["2021", "change_ha"])


def test_change_polygons_say_where():
    maps = change_series()
    changes = screening.change_polygons(maps["2021"], maps["2022"])
    areas = changes.groupby("change")["area_ha"].sum()
    assert areas.to_dict() == pytest.approx({"gained": 0.10, "earlier unlabelled": 0.04})
    gained = changes[changes["change"] == "gained"].geometry.iloc[0]
    assert gained.equals(cell_box((2, 6), (7, 8)))
    later = screening.change_polygons(maps["2022"], maps["2023"])
    assert later.groupby("change")["area_ha"].sum().to_dict() == pytest.approx({"lost": 0.07, "later unlabelled": 0.04})
    assert later[later["change"] == "later unlabelled"].geometry.iloc[0].equals(cell_box((10, 11), (16, 17)))


def test_change_needs_one_grid():
    maps = change_series()
    with pytest.raises(errors.GridMismatchError):
        screening.quarry_change({"a": maps["2021"], "b": maps["2022"].isel(x=slice(0, 10))})


def test_demonstration_layer_says_so():
    values = np.full((40, 40), 9)
    burn(values, (10, 19), (10, 19))  # 100 m x 100 m
    demo = screening.demonstration_permitted(grid(values), "test labels", buffer_m=20)
    assert len(demo) == 1
    assert "DEMONSTRATION" in demo["source"].iloc[0] and "not official" in demo["source"].iloc[0]
    # square grown by 20 m: 100^2 + 4 * 100 * 20 + pi * 20^2 (rounded corners, polygonised)
    assert demo.area.iloc[0] == pytest.approx(100 * 100 + 4 * 100 * 20 + math.pi * 20**2, rel=1e-3)


def test_map_carries_the_demonstration_stamp_and_legend(scene_map, permitted):
    import matplotlib.pyplot as plt

    screened = screening.screen(screening.quarry_polygons(scene_map, 0.1), permitted)
    fig = plots.plot_screening_map(scene_map, screened, permitted, "demo permits", demonstration=True)
    texts = [t.get_text() for t in fig.axes[0].texts]
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "DEMONSTRATION LAYER — not official" in texts
    assert {"demo permits", "flagged candidate", "candidate, not flagged", "10 Quarries, open pits"} <= set(labels)
    plain = plots.plot_screening_map(scene_map, screened, permitted)
    assert not plain.axes[0].texts
    plt.close("all")


def test_published_prediction_area_equals_pixel_count(data_root, strzegom_test):
    prediction = screening.open_classified(data_root / strzegom_test.published_prediction)
    pixels = int((prediction.values == scheme.QUARRY).sum())
    patches = screening.quarry_polygons(prediction, min_area_ha=0)
    assert patches["area_ha"].sum() == pytest.approx(pixels * 10 * 10 / 10_000)


# ---------------------------------------------------------------- the `lulc screen` command


@pytest.fixture
def files(tmp_path, scene_map, permitted):
    scene_map.rio.to_raster(tmp_path / "map.tif")
    permitted.to_file(tmp_path / "permitted.gpkg")
    return tmp_path


def test_cli_writes_layer_and_csv(files, capsys):
    out = files / "result" / "candidates.gpkg"
    code = cli.main(
        ["screen", "--classified", str(files / "map.tif"), "--permitted", str(files / "permitted.gpkg"),
         "--min-area-ha", "0.1", "--margin-m", "0", "--max-excess-ha", "0.1", "--out", str(out)]
    )
    assert code == 0
    assert "3 quarry polygons" in capsys.readouterr().out
    table = pd.read_csv(out.with_suffix(".csv"))
    assert sorted(table["status"]) == ["extends beyond", "inside", "outside"]
    assert len(gpd.read_file(out, layer="candidates")) == 3


def test_cli_refuses_a_map_without_quarries(files, capsys):
    no_quarry = grid(np.full((10, 10), 9))
    no_quarry.rio.to_raster(files / "fields.tif")
    code = cli.main(["screen", "--classified", str(files / "fields.tif"), "--out", str(files / "c.gpkg")])
    err = capsys.readouterr().err
    assert code == 2 and "fields.tif" in err and "no class 10" in err
    assert not (files / "c.gpkg").exists()


def test_cli_refuses_an_unreadable_permitted_file(files, capsys):
    (files / "permits.shp").write_text("garbage")
    code = cli.main(
        ["screen", "--classified", str(files / "map.tif"), "--permitted", str(files / "permits.shp"),
         "--out", str(files / "c.gpkg")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "permits.shp" in err and len(err.strip().splitlines()) == 1
    assert not (files / "c.gpkg").exists()


def test_cli_refuses_a_negative_minimum_area(files, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["screen", "--classified", str(files / "map.tif"), "--min-area-ha", "-1", "--out", str(files / "c.gpkg")])
    assert exit_info.value.code == 2 and "--min-area-ha: -1 is negative" in capsys.readouterr().err
    assert not (files / "c.gpkg").exists()
