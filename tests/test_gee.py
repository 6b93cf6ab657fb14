"""The Earth Engine backend, offline: graphs are built and serialised, never sent (tests/ee_offline.py)."""

import builtins
import sys

import pytest

from lulc_helpers import errors
from lulc_helpers.classical import gee

from .ee_offline import calls_named, ee_offline, invocations  # noqa: F401  (fixture)


def test_band_names_map_ours_to_earth_engine():
    assert list(gee.EE_BANDS.values()) == ["B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12"]
    assert list(gee.EE_BANDS) == ["B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"]


@pytest.mark.parametrize(
    "method, algorithm, arguments",
    [
        ("cart", "Classifier.smileCart", {}),
        ("rf", "Classifier.smileRandomForest", {"numberOfTrees": 10, "seed": 7}),
        ("svm", "Classifier.libsvm", {"svmType": "C_SVC", "kernelType": "LINEAR"}),
    ],
)
def test_classifier_graphs(ee_offline, method, algorithm, arguments):
    (call,) = invocations(gee.make_classifier(method, seed=7))
    assert call == (algorithm, arguments)


def test_unknown_method_is_refused(ee_offline):
    with pytest.raises(ValueError, match="knn"):
        gee.make_classifier("knn")


def test_scene_filters_collection_date_cloud_and_bands(ee_offline):
    area = ee_offline.Geometry.Rectangle([585420, 5648240, 589430, 5652250], "EPSG:32633", False)
    image = gee.scene(area, "2023-07-09", max_cloud=20)
    (load,) = calls_named(image, "ImageCollection.load")
    assert load["id"] == "COPERNICUS/S2_SR_HARMONIZED"
    assert len(calls_named(image, "DateRange")) == 1
    assert {call["value"] for call in calls_named(image, "Date")} == {"2023-07-09"}
    (advance,) = calls_named(image, "Date.advance")
    assert (advance["delta"], advance["unit"]) == (1, "day")
    (cloud,) = calls_named(image, "Filter.lessThan")
    assert cloud == {"leftField": "CLOUDY_PIXEL_PERCENTAGE", "rightValue": 20}
    (select,) = calls_named(image, "Image.select")
    assert select["bandSelectors"] == ["B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12"]
    assert calls_named(image, "ImageCollection.mosaic") and calls_named(image, "Image.clip")


def test_region_is_the_test_grid_footprint(ee_offline, strzegom_test):
    (rectangle,) = calls_named(gee.region(), "GeometryConstructors.Rectangle")
    # the Strzegom grid: 401 x 401 pixels of 10 m from (585420, 5652250), EPSG:32633 (data README / GeoTIFF header)
    assert rectangle["coordinates"] == [585420.0, 5648240.0, 589430.0, 5652250.0]
    assert calls_named(gee.region(), "Projection") == [{"crs": "EPSG:32633"}] and rectangle["geodesic"] is False


def test_paper_assets(ee_offline):
    assert calls_named(gee.paper_points("train"), "Collection.loadTable")[0]["tableId"] == (
        "projects/urban-atlas-benchmark/assets/train_points_labels"
    )
    assert calls_named(gee.paper_points("test"), "Collection.loadTable")[0]["tableId"] == (
        "projects/urban-atlas-benchmark/assets/test_points_labels"
    )


def test_full_workflow_graph(ee_offline):
    (classified,) = gee.run(["rf"], seed=3).values()
    (train,) = calls_named(classified, "Classifier.train")
    assert train["classProperty"] == "label"
    (rf,) = calls_named(classified, "Classifier.smileRandomForest")
    assert rf == {"numberOfTrees": 10, "seed": 3}
    (classify,) = calls_named(classified, "Image.classify")
    assert classify["outputName"] == "classification"
    (sample,) = calls_named(classified, "Image.sampleRegions")
    assert sample["properties"] == ["label"] and sample["scale"] == 10
    assert calls_named(classified, "Collection.loadTable")[0]["tableId"].endswith("train_points_labels")


def test_error_matrix_graph(ee_offline):
    image = ee_offline.Image(0).rename("classification")
    matrix = gee.error_matrix(image, gee.paper_points("test"))
    (call,) = calls_named(matrix, "Collection.errorMatrix")
    assert call == {"collection": None, "actual": "label", "predicted": "classification", "order": list(range(1, 11))}


def test_local_points_upload_keeps_crs_and_labels(ee_offline):
    import pandas as pd

    points = pd.DataFrame({"x": [585425.0, 589425.0], "y": [5652245.0, 5648245.0], "label": [10, 3]})
    points.attrs["crs"] = "EPSG:32633"
    collection = gee.points_to_ee(points)
    geometries = calls_named(collection, "GeometryConstructors.Point")
    assert [g["coordinates"] for g in geometries] == [[585425.0, 5652245.0], [589425.0, 5648245.0]]
    assert calls_named(collection, "Projection") == [{"crs": "EPSG:32633"}] * 2
    assert [f["metadata"] for f in calls_named(collection, "Feature")] == [{"label": 10}, {"label": 3}]


def test_export_lands_on_the_local_grid(ee_offline, strzegom_test, data_root):
    from lulc_helpers import data

    _, mask = data.load_scene(strzegom_test)
    task = gee.export_classified(ee_offline.Image(1).toByte(), mask, "rf_strzegom_20230709")
    options = task.config["fileExportOptions"]
    assert options["fileFormat"] == "GEO_TIFF"
    assert options["driveDestination"] == {"folder": "lulc-mining", "filenamePrefix": "rf_strzegom_20230709"}
    # the grid of the Strzegom GeoTIFFs: EPSG:32633, 10 m pixels from (585420, 5652250), 401 x 401
    transforms = {tuple(call["crsTransform"]) for call in calls_named(task.config["expression"], "Image.reproject")}
    assert transforms == {(10.0, 0.0, 585420.0, 0.0, -10.0, 5652250.0)}
    assert {"crs": "EPSG:32633"} in calls_named(task.config["expression"], "Projection")
    (window,) = calls_named(task.config["expression"], "GeometryConstructors.Rectangle")
    assert window["coordinates"] == [0, 0, 401, 401]


def test_error_matrix_orientation_is_transposed():
    # Earth Engine: rows = reference. 3 reference-1 points, 2 of them classified 2.
    ee_matrix = [[1, 2], [0, 5]]
    ours = gee.reference_rows_to_classified_rows(ee_matrix)
    assert ours.tolist() == [[1, 0], [2, 5]]  # rows = classified: 2 points classified 2 are reference 1
    assert ours.sum(axis=0).tolist() == [3, 5]  # column sums = reference totals


def test_initialize_without_project_says_so_once(monkeypatch, capsys):
    monkeypatch.delenv(gee.PROJECT_ENV, raising=False)
    assert gee.initialize() is False
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "EE_PROJECT_ID" in out and "locally" in out


def test_initialize_without_credentials_returns_false(monkeypatch, capsys, tmp_path):
    # No stored credentials: point HOME and the ADC variable at an empty folder.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "none.json"))
    monkeypatch.setattr(builtins, "input", lambda *a: pytest.fail("initialize() prompted for input"))
    assert gee.initialize(project="some-project") is False
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "not available" in out and "Traceback" not in out


def test_missing_earthengine_api_is_a_clear_message(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ee", None)  # `import ee` now raises ImportError, as when it is not installed
    assert gee.initialize(project="p") is False
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "earthengine-api is not installed" in out and "locally" in out
    with pytest.raises(errors.GEEUnavailable, match="pip install"):
        gee.make_classifier("rf")


def test_vis_params_use_the_scheme_palette():
    from lulc_helpers import scheme

    vis = gee.vis_params()
    assert (vis["min"], vis["max"]) == (1, 10)
    assert vis["palette"][0] == "003826" and vis["palette"][9] == "7b467e"  # conifer forest, quarries
    assert vis["palette"] == [scheme.get(k).colour.lstrip("#") for k in range(1, 11)]


def test_download_lands_on_the_local_grid_with_colours(ee_offline, monkeypatch, tmp_path, strzegom_test, data_root):
    """getDownloadId is answered locally and the 'download' is the published U-Net raster (same grid)."""
    import io

    import rasterio

    from lulc_helpers import data

    requests = []
    monkeypatch.setattr(ee_offline.data, "getDownloadId", lambda params: requests.append(params) or {"docid": "d", "token": "t"})
    published = (data_root / strzegom_test.published_prediction).read_bytes()
    monkeypatch.setattr(gee.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(published))
    _, mask = data.load_scene(strzegom_test)
    path = gee.download_classified(ee_offline.Image(1).toByte(), mask, tmp_path / "rf_gee.tif")
    (request,) = requests
    assert request["format"] == "GEO_TIFF"
    assert request["crs"] == "EPSG:32633" and request["dimensions"] == "401x401"
    assert request["crs_transform"] == [10.0, 0.0, 585420.0, 0.0, -10.0, 5652250.0]
    with rasterio.open(path) as src:
        assert (src.width, src.height, src.nodata) == (401, 401, 0)
        assert src.colormap(1)[10][:3] == (0x7B, 0x46, 0x7E)  # quarries, purple
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rf_gee.tif"]


def test_another_earthengine_api_version_is_named_in_one_line(monkeypatch):
    from . import ee_offline as offline

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(offline.ee, "__version__", "9.9.9")
    with pytest.raises(pytest.skip.Exception) as skipped:
        offline.require_pinned_ee()
    message = str(skipped.value)
    assert "\n" not in message and "found 9.9.9" in message and "earthengine-api==1.7.50" in message
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="found 9.9.9"):
        offline.require_pinned_ee()
