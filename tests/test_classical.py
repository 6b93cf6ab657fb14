"""Local CART / Random Forest / linear SVM: sampling, reproducibility, GeoTIFF output, evaluation, CLI."""

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from rasterio.transform import from_origin
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from lulc_helpers import classical, cli, course, data, errors, evaluation, metrics, paper, paths, rasters, scheme


def _grid(values, name="grid", origin=(500000.0, 5600000.0)):
    """A (y, x) DataArray with EPSG:32633 georeferencing and 10 m pixels."""
    values = np.asarray(values)
    transform = from_origin(*origin, 10, 10)
    da = xr.DataArray(
        values,
        dims=("y", "x"),
        coords={"y": origin[1] - 5 - 10 * np.arange(values.shape[0]), "x": origin[0] + 5 + 10 * np.arange(values.shape[1])},
        name=name,
    )
    da.rio.write_crs("EPSG:32633", inplace=True)
    da.rio.write_transform(transform, inplace=True)
    return da


def _image(masks_shape, seed=0, date="20230709"):
    """Random digital numbers 1001..4999 of a scene acquired on `date` (with the +1000 L2A offset from 2022)."""
    rng = np.random.default_rng(seed)
    values = rng.integers(1001, 5000, (len(rasters.BANDS), *masks_shape)).astype(np.uint16)
    grid = _grid(values[0])
    image = xr.DataArray(values, dims=("band", "y", "x"), coords={"band": list(rasters.BANDS), "y": grid.y, "x": grid.x})
    image.attrs["date"] = date
    image.rio.write_crs("EPSG:32633", inplace=True)
    image.rio.write_transform(grid.rio.transform(), inplace=True)
    return image


# ---------------------------------------------------------------- the paper's 280 test points


@pytest.mark.parametrize("method", paper.METHODS)
def test_paper_counts_reproduce_every_pa_and_tnr_of_the_paper(method):
    """PA x n is a whole number and TN / (N - n) gives the printed TNR, for every class of every table."""
    table = paper.paper_gee_table(method)
    total = sum(paper.PAPER_TEST_COUNTS.values())
    assert total == 280  # the paper's test set (Section 3.2)
    for code, n in paper.PAPER_TEST_COUNTS.items():
        pa, ua, tnr = table.loc[code, ["PA", "UA", "TNR"]]
        tp = pa * n
        assert tp == pytest.approx(round(tp), abs=0.01)
        false_positives = round(tp) / ua - round(tp)
        assert (total - n - false_positives) / (total - n) == pytest.approx(tnr, abs=6e-4)


def test_paper_tables_as_printed():
    cart, rf = paper.paper_gee_table("cart"), paper.paper_gee_table("rf")
    assert cart.loc["Overall", "ACC"] == 0.7679 and rf.loc["Overall", "ACC"] == 0.8000
    assert paper.paper_gee_table("svm").loc["Overall", "ACC"] == 0.7857
    classes = [k for k in cart.index if isinstance(k, int)]
    assert 6 not in classes and len(classes) == 9
    # CART's Mean row is the mean of its 9 rows; RF's divides the 9-row sum by 10 (hand-checked: 7.0976 / 10).
    assert cart.loc[classes, "PA"].mean() == pytest.approx(cart.loc["Mean", "PA"], abs=1e-4)
    assert rf.loc[classes, "PA"].sum() / 10 == pytest.approx(rf.loc["Mean", "PA"], abs=1e-4)
    with pytest.raises(ValueError, match="knn"):
        paper.paper_gee_table("knn")


# ---------------------------------------------------------------- sampling


def test_sample_points_is_stratified_exact_and_seeded():
    mask = _grid(np.repeat(np.array([[1, 2, 3, 0]]), 10, axis=0).repeat(5, axis=1))  # 10 x 20, 50 px per class
    image = _image(mask.shape)
    points = classical.sample_points(mask, {1: 7, 2: 50, 3: 60}, seed=1, images=[image])
    assert points.groupby("label").size().to_dict() == {1: 7, 2: 50, 3: 50}
    assert points.attrs["shortfall"] == {3: (60, 50)}
    assert (mask.values[points["row"], points["col"]] == points["label"]).all()
    assert not points.duplicated(["row", "col"]).any()
    # pixel centres: x0 + 5 + 10 col, y0 - 5 - 10 row
    assert np.allclose(points["x"], 500005 + 10 * points["col"]) and np.allclose(points["y"], 5599995 - 10 * points["row"])
    # reflectance = (DN - 1000) / 10000 for a 2023 scene (ESA's L2A offset, processing baseline 04.00)
    expected = (image.values[:, points["row"], points["col"]].T - 1000.0) / 10000.0
    assert np.allclose(points[list(rasters.BANDS)].to_numpy(), expected, atol=1e-6)
    again = classical.sample_points(mask, {1: 7, 2: 50, 3: 60}, seed=1, images=[image])
    other = classical.sample_points(mask, {1: 7, 2: 50, 3: 60}, seed=2, images=[image])
    pd.testing.assert_frame_equal(points, again)
    assert not points[["row", "col"]].equals(other[["row", "col"]])


def test_pixels_without_data_are_neither_sampled_nor_classified():
    mask = _grid(np.full((6, 6), 4, dtype=np.uint8))
    image = _image(mask.shape)
    image.values[6, :, 0] = 0  # B08 missing in the first column, as along the scenes' edges
    points = classical.sample_points(mask, 100, seed=0, images=[image])
    assert len(points) == 30 and (points["col"] > 0).all() and points.attrs["shortfall"] == {4: (100, 30)}
    training = pd.DataFrame(np.full((2, len(rasters.BANDS)), 0.05), columns=list(rasters.BANDS)).assign(label=[4, 7])
    classified = classical.classify_image(classical.fit("cart", training), image)
    assert (classified.values[:, 0] == 0).all() and (classified.values[:, 1:] > 0).all()


def test_the_l2a_offset_is_removed_by_date():
    """The same ground in a 2021 scene (no offset) and a 2023 scene (+1000) gives the same features and classes."""
    mask = _grid(np.full((5, 5), 2, dtype=np.uint8))
    later = _image(mask.shape, seed=1, date="20230709")
    earlier = later.copy(data=later.values - 1000)
    earlier.attrs["date"] = "20210619"
    first = classical.sample_points(mask, 25, images=[earlier])
    second = classical.sample_points(mask, 25, images=[later])
    assert np.allclose(first[list(rasters.BANDS)], second[list(rasters.BANDS)])
    assert first["B02"].min() >= 0 and first["B02"].max() < 0.4  # reflectance 0..1, not digital numbers
    training = pd.concat([first.assign(label=2), second.assign(B08=second["B08"] + 0.3, label=9)])
    trained = classical.fit("cart", training)
    assert np.array_equal(classical.classify_image(trained, earlier).values, classical.classify_image(trained, later).values)


def test_maps_are_compared_on_common_samples():
    reference = _grid(np.array([[1, 1, 2, 2]], dtype=np.uint8))
    full = _grid(np.array([[1, 2, 2, 2]], dtype=np.uint8))
    holed = _grid(np.array([[0, 1, 2, 2]], dtype=np.uint8))
    predicted, ref = evaluation.common_samples({"full": full, "holed": holed}, reference)
    assert ref.tolist() == [1, 2, 2] and predicted["full"].tolist() == [2, 2, 2]
    points = pd.DataFrame({"x": 500005.0 + 10 * np.arange(4), "y": 5599995.0, "label": [1, 1, 2, 2]})  # pixel centres
    table = evaluation.comparison_table({"full": full, "holed": holed}, {"px": reference, "pts": points}, n_boot=20)
    assert table["samples"].tolist() == [3, 3, 3, 3]
    for where in ("px", "pts"):
        # on the 3 common samples: full gets 2 of 3 right, holed all 3
        assert table.loc[(where, "full"), "OA"] == pytest.approx(2 / 3) and table.loc[(where, "holed"), "OA"] == 1.0
        # full: F1 of class 1 = 0, of class 2 = 2 * 2 / (2 * 2 + 1 + 0) = 0.8
        assert table.loc[(where, "full"), "macro F1"] == pytest.approx(0.4)


def test_sample_points_pools_several_masks():
    first = _grid(np.full((4, 4), 1, dtype=np.uint8), name="a")
    second = _grid(np.full((4, 4), 1, dtype=np.uint8), name="b")
    points = classical.sample_points([first, second], 32, seed=0)
    assert len(points) == 32 and points["source"].value_counts().to_dict() == {"a": 16, "b": 16}


def test_training_points_come_from_all_strzegom_training_scenes(strzegom_test):
    points = classical.training_points(per_class=20, seed=0)
    present = set()
    for scene in data.scenes("train", "strzegom"):
        present |= set(np.unique(data.load_scene(scene)[1].values)) - {0}
    assert points.groupby("label").size().to_dict() == {int(k): 20 for k in sorted(present)}
    assert set(points["source"]) <= {f"{s.name}_33u" for s in data.scenes("train", "strzegom")}
    assert points.attrs["skipped"] == []
    summer = classical.training_points(per_class=5, seed=0, dates=["20220619", "20220719"])
    assert set(summer["source"]) == {"strzegom_20220619_33u", "strzegom_20220719_33u"}
    with pytest.raises(errors.DataError, match="19990101"):
        classical.training_points(dates=["19990101"])


def test_test_points_follow_the_paper_design(strzegom_test):
    points = classical.test_points(seed=0)
    assert len(points) == 280
    assert points.groupby("label").size().to_dict() == paper.PAPER_TEST_COUNTS
    reference = evaluation.test_reference(kind="polygons")
    assert (rasters.values_at_points(reference, points) == points["label"]).all()
    image, _ = data.load_scene(strzegom_test)
    assert rasters.valid_pixels(classical.band_values(image))[points["row"], points["col"]].all()


# ---------------------------------------------------------------- classifiers


def test_classifiers_are_the_papers():
    assert type(classical.make_classifier("cart")).__name__ == "DecisionTreeClassifier"
    assert classical.make_classifier("rf").n_estimators == 10
    svm = classical.make_classifier("svm")[-1]
    assert (type(svm).__name__, svm.kernel) == ("SVC", "linear")
    with pytest.raises(ValueError, match="knn"):
        classical.make_classifier("knn")


@pytest.mark.parametrize("method", paper.METHODS)
def test_fit_and_classify_are_reproducible_and_match_scikit_learn(method):
    rng = np.random.default_rng(0)
    labels = np.repeat([1, 5, 10], 40)
    # reflectance-like features whose class means (0.03 apart) overlap the image's values (0..0.4)
    points = pd.DataFrame(rng.normal(labels[:, None] * 0.03, 0.04, (labels.size, len(rasters.BANDS))), columns=list(rasters.BANDS))
    points["label"] = labels
    image = _image((30, 30), seed=3)
    first = classical.classify_image(classical.fit(method, points, seed=5), image)
    second = classical.classify_image(classical.fit(method, points, seed=5), image)
    assert first.dtype == np.uint8 and first.shape == (30, 30)
    assert np.array_equal(first.values, second.values)
    assert len(np.unique(first.values)) > 1  # a real map, not one class everywhere
    # the same model built directly with scikit-learn, fitted on the same points, classifies the same reflectance
    models = {
        "cart": DecisionTreeClassifier(random_state=5),
        "rf": RandomForestClassifier(n_estimators=10, random_state=5),
        "svm": make_pipeline(StandardScaler(), SVC(kernel="linear", C=1.0)),
    }
    direct = models[method].fit(points[list(rasters.BANDS)].to_numpy(np.float32), labels)
    pixels = ((image.values.reshape(len(rasters.BANDS), -1).T - 1000.0) / 10000.0).astype(np.float32)
    assert np.array_equal(first.values.ravel(), direct.predict(pixels))
    assert first.attrs["predict_s"] >= 0 and first.attrs["fit_s"] >= 0


def test_random_forest_seed_changes_the_forest():
    rng = np.random.default_rng(1)
    labels = np.repeat([1, 2], 30)
    points = pd.DataFrame(rng.normal(labels[:, None] * 0.05, 0.05, (60, len(rasters.BANDS))), columns=list(rasters.BANDS))
    points["label"] = labels
    image = _image((30, 30), seed=2)
    maps = [classical.classify_image(classical.fit("rf", points, seed=s), image).values for s in (1, 1, 2)]
    assert np.array_equal(maps[0], maps[1]) and not np.array_equal(maps[0], maps[2])


def test_write_classification_round_trip(tmp_path):
    classified = _grid(np.arange(12, dtype=np.uint8).reshape(3, 4) % 11)
    path = rasters.write_class_map(classified, tmp_path / "sub" / "rf.tif")
    with rasterio.open(path) as src:
        assert (src.dtypes[0], src.nodata, src.crs.to_epsg()) == ("uint8", 0, 32633)
        assert np.array_equal(src.read(1), classified.values)
        assert src.transform == classified.rio.transform()
        colours = src.colormap(1)
    assert colours[10] == (0x7B, 0x46, 0x7E, 255) and colours[1] == (0x00, 0x38, 0x26, 255)  # quarries, conifer forest
    assert [p.name for p in path.parent.iterdir()] == ["rf.tif"]  # no temporary left behind


# ---------------------------------------------------------------- evaluation


def test_values_at_points_reads_the_right_pixels():
    raster = _grid(np.arange(20, dtype=np.uint8).reshape(4, 5))
    points = pd.DataFrame({"x": [500001.0, 500049.0, 500025.0, 499990.0], "y": [5599999.0, 5599961.0, 5599975.0, 5599999.0]})
    # row 0 col 0 -> 0; row 3 col 4 -> 19; row 2 col 2 -> 12; outside -> 0
    assert rasters.values_at_points(raster, points).tolist() == [0, 19, 12, 0]


def test_evaluation_agrees_with_scikit_learn():
    rng = np.random.default_rng(4)
    reference = rng.integers(0, 5, (20, 20)).astype(np.uint8)
    classified = np.where(rng.random((20, 20)) < 0.7, reference, rng.integers(1, 6, (20, 20))).astype(np.uint8)
    ref, cls = _grid(reference), _grid(classified)
    matrix, labels = evaluation.matrix_on_pixels(cls, ref)
    keep = (reference > 0) & (classified > 0)
    expected = confusion_matrix(reference[keep], classified[keep], labels=labels).T  # sklearn: rows = true
    assert np.array_equal(matrix, expected)
    present = sorted(set(reference[keep].tolist()))
    assert metrics.macro_f1(matrix, reference_classes_only=True) == pytest.approx(
        f1_score(reference[keep], classified[keep], labels=present, average="macro", zero_division=0)
    )
    table = evaluation.comparison_table({"a": cls, "b": ref}, {"pixels": ref}, n_boot=50)
    labelled = reference > 0
    assert table.loc[("pixels", "a"), "samples"] == table.loc[("pixels", "b"), "samples"] == labelled.sum()
    assert table.loc[("pixels", "b"), "OA"] == 1.0
    assert table.loc[("pixels", "a"), "OA"] == pytest.approx(accuracy_score(reference[labelled], classified[labelled]))
    assert table.loc[("pixels", "a"), "OA low"] <= table.loc[("pixels", "a"), "OA"] <= table.loc[("pixels", "a"), "OA high"]


def test_mcnemar_table_counts_discordant_pairs():
    reference = _grid(np.array([[1, 1, 2, 2, 3, 3]], dtype=np.uint8))
    base = _grid(np.array([[1, 1, 2, 2, 3, 1]], dtype=np.uint8))  # 5 right
    other = _grid(np.array([[1, 2, 2, 1, 1, 3]], dtype=np.uint8))  # 3 right
    table = evaluation.mcnemar_table({"base": base, "other": other}, "base", {"pixels": reference})
    row = table.loc[("pixels", "base vs other")]
    # base right & other wrong: pixels 2, 4, 5 -> 3; other right & base wrong: pixel 6 -> 1
    assert (row["only base right"], row["only other right"]) == (3, 1)


def test_unet_map_prefers_our_run_and_says_which(tmp_path, monkeypatch, capsys, strzegom_test, data_root):
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(tmp_path / "runs"))
    published = course.unet_prediction_path()
    assert published == data_root / strzegom_test.published_prediction
    assert course.unet_map_source(published) == "the paper's published U-Net map"
    assert "published" in capsys.readouterr().out
    ours = tmp_path / "runs" / "predictions" / "unet_strzegom_20230709.tif"
    ours.parent.mkdir(parents=True)
    ours.write_bytes(b"")
    assert course.unet_prediction_path() == ours
    assert course.unet_map_source(ours) == "the U-Net map notebook 03 wrote on this machine"
    assert "notebook 03" in capsys.readouterr().out
    assert course.unet_prediction_path(report=False) == ours and capsys.readouterr().out == ""


def test_runs_dir_defaults_to_the_project_and_follows_the_environment(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(paths.RUNS_DIR_ENV)
    assert data.prediction_path("rf") == tmp_path / "runs" / "predictions" / "rf_strzegom_20230709.tif"
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(tmp_path / "elsewhere"))
    assert data.prediction_path("rf") == tmp_path / "elsewhere" / "predictions" / "rf_strzegom_20230709.tif"


def test_paper_comparison_and_mean_rows():
    matrix = np.array([[3, 1], [0, 4]])  # rows = classified: class 1 PA = 3/3, UA = 3/4
    table = evaluation.paper_comparison("cart", matrix, [1, 2])
    assert table.loc[1, ("PA", "this run")] == 1.0 and table.loc[1, ("UA", "this run")] == 0.75
    assert table.loc[1, ("PA", "paper")] == 0.7 and table.loc["Overall", ("ACC", "paper")] == 0.7679
    assert table.loc["Overall", ("ACC", "this run")] == pytest.approx(7 / 8)
    means = evaluation.paper_mean_rows()
    assert means.loc[("Random Forest", "PA"), "sum / 10"] == means.loc[("Random Forest", "PA"), "printed Mean"]
    assert means.loc[("CART", "PA"), "mean of 9 classes"] == means.loc[("CART", "PA"), "printed Mean"]


def test_oa_summary_puts_the_papers_oa_beside_ours():
    matrix = np.array([[3, 1], [0, 4]])
    table = evaluation.oa_summary({"rf": (matrix, [1, 2])})
    assert table.loc["Random Forest", ("OA", "paper")] == 0.8
    assert table.loc["Random Forest", ("OA", "this run")] == pytest.approx(7 / 8)
    # macro F1: class 1: 2*3/(6+1) = 6/7, class 2: 2*4/(8+1) = 8/9
    assert table.loc["Random Forest", ("macro F1", "this run")] == pytest.approx((6 / 7 + 8 / 9) / 2)
    assert table.loc["Random Forest", ("macro F1", "paper")] == 0.7100  # the RF table's printed Mean row (Section 3.2)
    # the mean of the RF table's nine printed class F1 values, summed by hand: 7.1 / 9
    assert table.loc["Random Forest", ("macro F1", "paper, mean of its class rows")] == pytest.approx(7.1 / 9, abs=1e-4)


def test_headline_comparison_sets_the_papers_samples_beside_ours():
    index = pd.MultiIndex.from_product([["pts", "px"], ["U-Net", "CART", "Random Forest", "SVM (linear)"]])
    table = pd.DataFrame({"OA": [0.9, 0.6, 0.65, 0.7, 0.95, 0.66, 0.72, 0.78]}, index=index)
    headline = evaluation.headline_comparison(table, "pts", "px")
    # the paper: U-Net OA 0.9464 on every reference pixel (its Strzegom table, Section 3.1), CART 0.7679 and SVM 0.7857 on 280 points
    assert headline.loc["U-Net", "paper"] == 0.9464 and headline.loc["U-Net", "paper measured on"] == "all reference pixels"
    assert headline.loc["SVM (linear)", "paper"] == 0.7857 and headline.loc["CART", "paper measured on"] == "280 test points"
    assert headline.loc["CART", "this run, pts"] == 0.6 and headline.loc["SVM (linear)", "this run, px"] == 0.78


def test_point_count_table_totals():
    train = pd.DataFrame({"label": [1, 1, 10]})
    test = pd.DataFrame({"label": [10]})
    table = classical.point_count_table(train, test)
    assert table.loc["Total"].tolist() == [3, 280, 1]
    assert table.loc["1 Conifer forest", "training points"] == 2


# ---------------------------------------------------------------- CLI


def test_cli_classify_local_writes_a_geotiff(tmp_path, capsys, strzegom_test):
    out = tmp_path / "cart.tif"
    assert cli.main(["classify", "--method", "cart", "--per-class", "20", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    classified = rasters.open_class_map(out)
    _, mask = data.load_scene(strzegom_test)
    rasters.check_aligned(classified, mask)
    assert set(np.unique(classified.values)) <= {0, *scheme.CLASS_IDS}
    assert (classified.values == 0).mean() < 0.02  # only the image's edge pixels without data
    with rasterio.open(out) as src:
        assert src.colormap(1)[10][:3] == (0x7B, 0x46, 0x7E) and src.colormap(1)[8][:3] == (0x17, 0x86, 0xD5)  # quarries, water


def test_cli_classify_gee_without_project_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("EE_PROJECT_ID", raising=False)
    assert cli.main(["classify", "--method", "rf", "--backend", "gee", "--out", str(tmp_path / "x.tif")]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "--backend local" in captured.err and not (tmp_path / "x.tif").exists()


def test_cli_classify_rejects_bad_arguments(capsys):
    assert cli.main(["classify", "--method", "rf", "--per-class", "0"]) == 2
    assert "--per-class 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["classify", "--method", "knn"])
