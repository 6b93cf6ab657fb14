"""labels.py: weights, mask comparison, rasterisation against the published masks, the crop-phase rule,
class counts; and the reference readers' errors (labels.read_reference / rasterize_reference)."""

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from shapely.geometry import box
from sklearn.utils.class_weight import compute_class_weight

from lulc_helpers import data, errors, labels, rasters, scheme

# ---------------------------------------------------------------- weights on a hand-made example


def test_class_weights_by_hand():
    # 5 unlabelled, 10 of class 1, 30 of class 2, none of 3, 60 of class 4: N = 100, K = 3
    mask = np.array([0] * 5 + [1] * 10 + [2] * 30 + [4] * 60).reshape(5, 21)
    counts = labels.class_counts([mask])
    assert counts.tolist()[:5] == [5, 10, 30, 0, 60] and counts[5:].sum() == 0
    weights = labels.class_weights(counts)
    assert weights[[1, 2, 4]] == pytest.approx([100 / 30, 100 / 90, 100 / 180])
    assert weights[0] == 0 and weights[3] == 0
    # scikit-learn's "balanced" rule is the same formula
    y = mask[mask > 0]
    assert weights[[1, 2, 4]] == pytest.approx(compute_class_weight("balanced", classes=np.array([1, 2, 4]), y=y))


def test_class_counts_refuse_codes_outside_the_scheme():
    with pytest.raises(errors.UnknownClassError, match=r"mask 2: unknown class codes 11, 255"):
        labels.class_counts([np.array([1, 2]), np.array([1, 11, 255])])


# ---------------------------------------------------------------- comparing masks, hand-made


def test_difference_kinds_and_agreement_by_hand():
    first = np.array([[1, 1, 0], [2, 2, 4], [0, 9, 9]])
    second = np.array([[1, 1, 1], [2, 4, 4], [0, 0, 9]])
    assert labels.difference_kinds(first, second).tolist() == [[0, 0, 3], [0, 1, 0], [0, 2, 0]]
    table = labels.agreement_per_class(first, second)
    assert table.loc[1, "agreement"] == pytest.approx(2 / 3)  # 2 in both, 3 in either
    assert table.loc[2, "agreement"] == pytest.approx(1 / 2)
    assert table.loc[4, "agreement"] == pytest.approx(1 / 2)
    assert table.loc[9, "agreement"] == pytest.approx(1 / 2)
    pairs = {(r.first, r.second): r.pixels for r in labels.difference_pairs(first, second).itertuples()}
    assert pairs == {(0, 1): 1, (2, 4): 1, (9, 0): 1}


# ---------------------------------------------------------------- rasterisation against the published masks


def _published(data_root, scene):
    return rasters.open_class_map(data_root / scene.mask)


@pytest.mark.parametrize("all_touched", [False, True])
def test_kolbuszowa_polygons_reproduce_its_mask_exactly(data_root, all_touched):
    scene = data.test_scene("kolbuszowa")
    published = _published(data_root, scene)
    burnt = labels.rasterize_reference(data_root / scene.reference, published, all_touched=all_touched)
    assert np.array_equal(burnt.values, published.values)


def test_strzegom_polygons_differ_in_about_1_3_percent(data_root, strzegom_test):
    published = _published(data_root, strzegom_test)
    burnt = labels.rasterize_reference(data_root / strzegom_test.reference, published)
    with rasterio.open(data_root / strzegom_test.mask) as src:  # the GeoTIFF read directly
        raw = src.read(1)
    differ = (burnt.values != raw).mean()
    assert 0.012 < differ < 0.014
    assert (labels.difference_kinds(published, burnt) > 0).mean() == pytest.approx(differ)


# ---------------------------------------------------------------- reference errors, through GeoPackage files


def _write_gpkg(tmp_path, frame, name="ref.gpkg"):
    path = tmp_path / name
    frame.to_file(path)
    return path


STRZEGOM_BOX = box(585500, 5648500, 586000, 5649000)  # inside the Strzegom grid (EPSG:32633)


def test_geopackage_without_the_label_field(tmp_path, data_root, strzegom_test):
    path = _write_gpkg(tmp_path, gpd.GeoDataFrame({"klasa": [1]}, geometry=[STRZEGOM_BOX], crs=32633))
    with pytest.raises(errors.DataError, match=r"ref.gpkg: no label field .*\['klasa'\]"):
        labels.rasterize_reference(path, _published(data_root, strzegom_test))


def test_geopackage_with_a_crs_that_cannot_be_matched(tmp_path, data_root, strzegom_test):
    local = 'ENGCRS["site grid",EDATUM["site"],CS[Cartesian,2],AXIS["x",east,LENGTHUNIT["metre",1]],' \
            'AXIS["y",north,LENGTHUNIT["metre",1]]]'
    path = _write_gpkg(tmp_path, gpd.GeoDataFrame({"label": [1]}, geometry=[STRZEGOM_BOX], crs=local))
    with pytest.raises(errors.DataError, match=r"ref.gpkg: cannot be reprojected"):
        labels.rasterize_reference(path, _published(data_root, strzegom_test))


def test_geopackage_without_crs(tmp_path, data_root, strzegom_test):
    path = _write_gpkg(tmp_path, gpd.GeoDataFrame({"label": [1]}, geometry=[STRZEGOM_BOX]))
    with pytest.raises(errors.DataError, match=r"ref.gpkg: has no CRS"):
        labels.rasterize_reference(path, _published(data_root, strzegom_test))


def test_geopackage_of_another_region(data_root, strzegom_test):
    kolbuszowa = data.test_scene("kolbuszowa").reference
    with pytest.raises(errors.DataError, match=r"kolbuszowa_ref.gpkg: no polygon overlaps"):
        labels.rasterize_reference(data_root / kolbuszowa, _published(data_root, strzegom_test))


def test_geopackage_in_geographic_crs_is_reprojected(tmp_path, data_root):
    scene = data.test_scene("kolbuszowa")
    published = _published(data_root, scene)
    frame = gpd.read_file(data_root / scene.reference).to_crs(4326)
    burnt = labels.rasterize_reference(_write_gpkg(tmp_path, frame), published)
    assert (burnt.values == published.values).mean() > 0.999


# ---------------------------------------------------------------- the crop-phase rule


def test_crop_phase_rule_by_hand():
    ndvi = [0.5, 0.2, 0.5, np.nan, 0.30]
    ndmi = [0.1, 0.1, -0.1, 0.1, 0.00]
    assert labels.crop_phase(ndvi, ndmi, 0.30, 0.00).tolist() == [9, 4, 4, 0, 9]
    assert labels.crop_phase([0.45, 0.43], [0.2, 0.2]).tolist() == [9, 4]  # the defaults: NDVI >= 0.44


def test_balanced_agreement_by_hand():
    mask = np.array([4, 4, 4, 4, 9])
    rule = np.array([4, 4, 9, 9, 9])
    assert labels.balanced_agreement(rule, mask) == pytest.approx((2 / 4 + 1) / 2)


def test_fit_phase_rule_recovers_known_thresholds():
    import pandas as pd

    rng = np.random.default_rng(0)
    ndvi, ndmi = rng.uniform(0, 0.9, 4000), rng.uniform(-0.3, 0.6, 4000)
    phase = np.where((ndvi >= 0.40) & (ndmi >= 0.10), 9, 4)
    pixels = pd.DataFrame({"NDVI": ndvi, "NDMI": ndmi, "phase": phase})
    ndvi_min, ndmi_min = labels.fit_phase_rule(pixels)
    assert ndvi_min == pytest.approx(0.40) and ndmi_min == pytest.approx(0.10)


def test_rule_agrees_with_the_training_masks(data_root):
    pixels = labels.crop_pixels(data.scenes("train", "strzegom"), data_root)
    table = labels.phase_agreement(pixels)
    assert set(table.index) == {s.date for s in data.scenes("train", "strzegom")}
    assert (table["agreement"] > 0.95).all()  # the claim notebook 02 makes


# ---------------------------------------------------------------- class counts


def test_training_counts_match_a_direct_read(data_root):
    train = data.scenes("train")
    direct = np.zeros(len(scheme.CLASSES) + 1, dtype=np.int64)
    for scene in train:
        with rasterio.open(data_root / scene.mask) as src:  # float32 masks read directly, not through the package
            direct += np.bincount(src.read(1).astype(np.int64).ravel(), minlength=direct.size)
    assert labels.training_counts(root=data_root).tolist() == direct.tolist()
    usable = labels.training_counts(require_image=True, root=data_root)
    expected = labels.class_counts(rasters.open_class_map(data_root / s.mask).values for s in train if s.has_image(data_root))
    assert usable.tolist() == expected.tolist() and usable.sum() < direct.sum()
