import os
import shutil
import subprocess

import dask.array
import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.transform import from_origin

from lulc_helpers import cli, data, errors, labels, paths, rasters, scheme

MIRROR = os.environ.get(data.MIRROR_ENV)
needs_mirror = pytest.mark.skipif(not MIRROR, reason="needs $LULC_DATA_MIRROR (a local copy of bh-del/lulc_mining)")


def _git_hash_object(path):
    return subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True).stdout.strip()


def test_blob_sha1_matches_git(tmp_path):
    sample = tmp_path / "sample.bin"
    sample.write_bytes(bytes(range(256)) * 1000)
    assert data.git_blob_sha1(sample) == _git_hash_object(sample)


def test_manifest_lists_the_repository():
    entries = data.manifest()
    assert len(entries) == 43
    optional = {e.path for e in entries if e.optional}
    assert len(optional) == 8 and all(p.startswith(("img_train/kolbuszowa", "img_train/krakow")) for p in optional)
    test_image = next(e for e in entries if e.path == "img_train/strzegom_20230709_33u.tif")
    assert test_image.commit == "e17964e249ae5b6acdbcd75d45ee0efef65bab80"
    assert test_image.url == (
        "https://raw.githubusercontent.com/bh-del/lulc_mining/e17964e249ae5b6acdbcd75d45ee0efef65bab80/"
        "img_train/strzegom_20230709_33u.tif"
    )


def test_every_scene_file_is_in_the_manifest():
    paths = {e.path for e in data.manifest()}
    for scene in data.SCENES:
        for path in (scene.mask, scene.image, scene.reference, scene.published_prediction):
            assert path is None or path in paths, path


def _small_mirror(tmp_path, names):
    mirror = tmp_path / "mirror"
    for name in names:
        (mirror / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(os.path.join(MIRROR, name), mirror / name)
    return mirror


@needs_mirror
def test_fetch_copies_verifies_then_skips(tmp_path):
    entries = [e for e in data.manifest() if e.path.startswith("test_mask/")]
    mirror = _small_mirror(tmp_path, [e.path for e in entries])
    first = data.fetch(tmp_path / "dest", mirror=mirror, entries=entries)
    assert [r.status for r in first] == ["downloaded"] * len(entries)
    for entry in entries:
        assert _git_hash_object(tmp_path / "dest" / entry.path) == entry.blob_sha1
        assert (tmp_path / "dest" / entry.path).stat().st_mode & 0o044, "fetched files are readable by others"
    second = data.fetch(tmp_path / "dest", mirror=mirror, entries=entries)
    assert [r.status for r in second] == ["verified"] * len(entries)


@needs_mirror
def test_fetch_cli_rejects_a_corrupted_file_and_leaves_nothing(tmp_path, capsys):
    entries = data.manifest()
    mirror = _small_mirror(tmp_path, [e.path for e in entries if not e.optional])
    corrupted = "test_mask/strzegom_20230709_33u.tif"
    with open(mirror / corrupted, "r+b") as f:
        f.seek(5000)
        f.write(b"\xff" * 16)
    dest = tmp_path / "dest"
    code = cli.main(["fetch", "--dest", str(dest), "--mirror", str(mirror)])
    out, err = capsys.readouterr()
    assert code != 0
    assert f"FAILED            {corrupted}" in err and "checksum mismatch" in err
    assert not (dest / corrupted).exists()
    assert not [p for p in dest.rglob("*") if p.name.endswith(".part")]
    assert "8 missing-optional" in out and "34 downloaded" in out


@needs_mirror
def test_fetch_replaces_a_corrupted_local_copy(tmp_path):
    entry = next(e for e in data.manifest() if e.path == "test_mask/metadata.md")
    mirror = _small_mirror(tmp_path, [entry.path])
    target = tmp_path / "dest" / entry.path
    target.parent.mkdir(parents=True)
    target.write_text("not the file")
    [result] = data.fetch(tmp_path / "dest", mirror=mirror, entries=[entry])
    assert result.status == "downloaded"
    assert data.git_blob_sha1(target) == entry.blob_sha1


def test_missing_mirror_is_a_clear_error(tmp_path, capsys):
    code = cli.main(["fetch", "--dest", str(tmp_path), "--mirror", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2
    assert "nowhere" in err and "does not exist" in err


def test_missing_required_file_fails_but_optional_is_reported(tmp_path):
    required = next(e for e in data.manifest() if not e.optional)
    optional = next(e for e in data.manifest() if e.optional)
    (tmp_path / "mirror").mkdir()
    results = data.fetch(tmp_path / "dest", mirror=tmp_path / "mirror", entries=[required, optional])
    assert [r.status for r in results] == ["FAILED", "missing-optional"]
    assert required.path in results[0].detail


# ---------------------------------------------------------------- readers


def test_open_image_names_bands_and_reads_the_grid(data_root, strzegom_test):
    image = rasters.open_image(data_root / strzegom_test.image)
    assert list(image.band.values) == list(rasters.BANDS)
    assert image.shape == (10, 401, 401)
    assert image.rio.crs.to_epsg() == 32633
    with rasterio.open(data_root / strzegom_test.image) as src:
        assert image.rio.transform() == src.transform
        np.testing.assert_array_equal(image.sel(band="B8A").values, src.read(8))


def test_reflectance_removes_the_offset_by_date(data_root):
    image_2021 = rasters.open_image(data_root / "img_train/strzegom_20210619_33u.tif")
    image_2023 = rasters.open_image(data_root / "img_train/strzegom_20230709_33u.tif")
    raw = image_2023.sel(band="B04").values[200, 200]
    assert rasters.reflectance(image_2023).sel(band="B04").values[200, 200] == pytest.approx((raw - 1000) / 10000)
    raw = image_2021.sel(band="B04").values[200, 200]
    assert rasters.reflectance(image_2021).sel(band="B04").values[200, 200] == pytest.approx(raw / 10000)
    stored_zero = image_2021.values == 0  # the no-data border
    assert stored_zero.any() and np.isnan(rasters.reflectance(image_2021).values[stored_zero]).all()


def test_reflectance_of_a_dask_backed_image_stays_lazy_and_equal(data_root):
    image = rasters.open_image(data_root / "img_train/strzegom_20230709_33u.tif")
    stored = image.copy()
    lazy = rasters.reflectance(image.chunk({"y": 100}))
    assert isinstance(lazy.data, dask.array.Array)
    xr.testing.assert_identical(lazy.compute(), rasters.reflectance(image))
    xr.testing.assert_identical(image, stored)  # the stored numbers are left as they were


def test_open_mask_is_uint8_with_scheme_codes(data_root, strzegom_test):
    mask = rasters.open_class_map(data_root / strzegom_test.mask)
    assert mask.dtype == np.uint8
    assert set(np.unique(mask.values)) <= {0, *scheme.CLASS_IDS}
    with rasterio.open(data_root / strzegom_test.mask) as src:
        np.testing.assert_array_equal(mask.values, src.read(1).astype(np.uint8))


def _write(path, array, crs="EPSG:32633", origin=(585420.0, 5652250.0), dtype=None):
    array = np.asarray(array)
    array = array[None] if array.ndim == 2 else array
    with rasterio.open(
        path, "w", driver="GTiff", width=array.shape[2], height=array.shape[1], count=array.shape[0],
        dtype=dtype or array.dtype, crs=crs, transform=from_origin(*origin, 10, 10),
    ) as dst:
        dst.write(array)
    return path


def test_wrong_band_count_names_the_file(tmp_path):
    path = _write(tmp_path / "four_bands.tif", np.ones((4, 5, 5), dtype=np.uint16))
    with pytest.raises(errors.DataError, match=r"four_bands\.tif: 4 bands, expected 10"):
        rasters.open_image(path)


def test_unknown_class_codes_name_the_file(tmp_path):
    path = _write(tmp_path / "bad_mask.tif", np.array([[0, 3], [12, 1]], dtype=np.float32))
    with pytest.raises(errors.UnknownClassError, match=r"bad_mask\.tif: unknown class codes 12"):
        rasters.open_class_map(path)


def test_unreadable_raster_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.tif"
    path.write_bytes(b"not a tiff")
    with pytest.raises(errors.DataError, match="broken.tif: not a readable raster"):
        rasters.open_class_map(path)


@pytest.mark.parametrize(
    "kwargs, problem",
    [({"crs": "EPSG:32634"}, "CRS"), ({"origin": (585430.0, 5652250.0)}, "transform"), ({"shape": (4, 5)}, "shape")],
)
def test_mismatched_grids_raise_naming_both(tmp_path, kwargs, problem):
    shape = kwargs.pop("shape", (5, 5))
    first = rasters.open_class_map(_write(tmp_path / "map.tif", np.ones((5, 5), dtype=np.uint8)))
    second = rasters.open_class_map(_write(tmp_path / "ref.tif", np.ones(shape, dtype=np.uint8), **kwargs))
    with pytest.raises(errors.GridMismatchError, match=problem) as err:
        rasters.check_aligned(first, second)
    assert "map.tif" in str(err.value) and "ref.tif" in str(err.value)


def test_rasterize_reference_uses_pixel_centres(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    grid = rasters.open_class_map(_write(tmp_path / "grid.tif", np.zeros((4, 4), dtype=np.uint8), origin=(0.0, 40.0)))
    # Covers x 0..22, y 24..40: pixel centres x 5, 15 and y 35, 25 fall inside (a 2x2 block); the third
    # column (x 20..30, centre 25) is only touched, so all-touched adds it.
    polygons = gpd.GeoDataFrame({"label": [10]}, geometry=[box(0, 24, 22, 40)], crs="EPSG:32633")
    path = tmp_path / "ref.gpkg"
    polygons.to_file(path)
    centre = labels.rasterize_reference(path, grid)
    expected = np.zeros((4, 4), dtype=np.uint8)
    expected[:2, :2] = 10
    np.testing.assert_array_equal(centre.values, expected)
    expected[:2, 2] = 10
    np.testing.assert_array_equal(labels.rasterize_reference(path, grid, all_touched=True).values, expected)


def test_rasterize_reference_reprojects_polygons(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    grid = rasters.open_class_map(_write(tmp_path / "grid.tif", np.zeros((4, 4), dtype=np.uint8), origin=(585420.0, 5652250.0)))
    square = gpd.GeoSeries([box(585420, 5652230, 585440, 5652250)], crs="EPSG:32633").to_crs("EPSG:4326")
    path = tmp_path / "ref_wgs84.gpkg"
    gpd.GeoDataFrame({"label": [8]}, geometry=square).to_file(path)
    mask = labels.rasterize_reference(path, grid)
    assert (mask.values == 8).sum() == 4 and mask.values[0, 0] == 8


def test_reference_without_label_field_is_a_clear_error(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    path = tmp_path / "unlabelled.gpkg"
    gpd.GeoDataFrame({"kind": ["quarry"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:32633").to_file(path)
    with pytest.raises(errors.DataError, match=r"unlabelled\.gpkg: no label field .*\['kind'\]"):
        labels.read_reference(path)


def test_load_scene_checks_the_grid(data_root, strzegom_test):
    image, mask = data.load_scene(strzegom_test, data_root)
    assert image.shape[1:] == mask.shape
    kolbuszowa_image, kolbuszowa_mask = data.load_scene(data.test_scene("kolbuszowa"), data_root)
    assert kolbuszowa_image is None and kolbuszowa_mask.rio.crs.to_epsg() == 32634


def test_catalogue_counts_match_the_masks(data_root):
    table = labels.catalogue(data_root)
    assert len(table) == len(data.SCENES) == 16
    with rasterio.open(data_root / "training_masks/strzegom_20221012_33u.tif") as src:
        mask = src.read(1)
    row = table.loc["strzegom_20221012"]
    assert row[10] == (mask == 10).sum() and row["labelled"] == (mask > 0).sum()
    assert table["image here"].sum() == 7  # the Strzegom dates; the other images are not in the mirror


def test_outputs_show_paths_relative_to_the_project_or_by_name(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    assert paths.shown(tmp_path / "figures" / "01_x.png") == os.path.join("figures", "01_x.png")
    assert paths.shown(tmp_path.parent / "elsewhere" / "scene.tif") == "scene.tif"


def test_absent_optional_files_are_listed_only_when_asked(tmp_path, monkeypatch, capsys):
    results = [data.FetchResult("a.tif", "verified", ""), data.FetchResult("b.tif", "missing-optional", "")]
    monkeypatch.setattr(data, "fetch", lambda dest: results)
    data.ensure_data(tmp_path)
    told = capsys.readouterr().out
    assert "b.tif" not in told and "1 optional files are not available" in told
    data.ensure_data(tmp_path, list_missing=True)
    assert "Not available, the notebooks go on without them: b.tif" in capsys.readouterr().out
