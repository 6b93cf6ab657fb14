"""Labelling sample points on the map without a browser: the buttons are pressed from Python
(`Button.click()` runs the same callbacks a browser click does), the file is reopened by a new widget."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from pyproj import Transformer
from rasterio.transform import from_origin

from lulc_helpers import errors, rasters, sampling

pytest.importorskip("geemap")
from lulc_helpers import point_labelling  # noqa: E402

ORIGIN = (585420.0, 5652250.0)


def _grid(values, dims=("y", "x")):
    h, w = values.shape[-2:]
    da = xr.DataArray(values, dims=dims, coords={"y": ORIGIN[1] - 5 - 10 * np.arange(h), "x": ORIGIN[0] + 5 + 10 * np.arange(w)})
    da.rio.write_crs("EPSG:32633", inplace=True)
    da.rio.write_transform(from_origin(*ORIGIN, 10, 10), inplace=True)
    return da


@pytest.fixture()
def sample(tmp_path):
    classes = np.ones((20, 20), dtype=np.uint8)
    classes[:, 10:] = 10
    classified = _grid(classes)
    image = _grid(np.random.default_rng(0).integers(1, 3000, (len(rasters.BANDS), 20, 20)).astype(np.uint16), ("band", "y", "x"))
    image = image.assign_coords(band=list(rasters.BANDS))
    path = sampling.write_points(sampling.draw(classified, pd.Series({1: 3, 10: 3}), seed=1), tmp_path / "points.gpkg")
    return path, classified, image


def _latlon(point):
    lon, lat = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True).transform(point.x, point.y)
    return lat, lon


def test_every_click_is_saved_and_a_new_widget_resumes(sample):
    path, classified, image = sample
    labeller = point_labelling.PointLabeller(path, layers={"map": classified}, images={"20230709": image})
    assert labeller.position == 0 and labeller.progress.value == 0 and "Point 1 of 6" in labeller.status.value
    assert labeller.map.center == pytest.approx(list(_latlon(labeller.points.iloc[0])))
    assert labeller.marker.location == pytest.approx(list(_latlon(labeller.points.iloc[0])))

    labeller.class_buttons[10].click()
    assert sampling.read_points(path)[sampling.LABEL].tolist()[0] == 10  # on disk after one click
    assert labeller.position == 1 and labeller.progress.value == 1
    labeller.unsure_button.click()
    labeller.class_buttons[3].click()
    assert sampling.read_points(path)[sampling.LABEL].tolist()[:4] == [10, sampling.UNSURE, 3, pd.NA]
    assert list(labeller.points.label_source[:3]) == ["interpreter"] * 3

    labeller.next_button.click()
    labeller.next_button.click()
    assert labeller.position == 5
    assert labeller.map.center == pytest.approx(list(_latlon(labeller.points.iloc[5])))
    labeller.class_buttons[1].click()  # the last point: moves on to the first still unlabelled (position 3)
    assert labeller.position == 3
    labeller.previous_button.click()
    assert labeller.position == 2 and "labelled 3" in labeller.status.value

    labeller.date.value = "20230709"
    names = [layer.name for layer in labeller.map.layers]
    assert names.index("True colour 20230709") < names.index("map") < names.index("current point")
    labeller.date.value = "(none)"
    assert "True colour 20230709" not in [layer.name for layer in labeller.map.layers]

    reopened = point_labelling.PointLabeller(path)  # a restart: only the file carries the labels over
    assert reopened.position == 3 and reopened.progress.value == 4
    assert reopened.points[sampling.LABEL].tolist() == [10, sampling.UNSURE, 3, pd.NA, pd.NA, 1]
    assert "4 (1 unsure), 2 to go" in reopened.status.value


def test_relabelling_a_point_overwrites_it(sample):
    path, _, _ = sample
    labeller = point_labelling.PointLabeller(path)
    labeller.class_buttons[2].click()
    labeller.previous_button.click()
    labeller.class_buttons[4].click()
    assert sampling.read_points(path)[sampling.LABEL].tolist()[:2] == [4, pd.NA]


def test_blind_by_default_and_a_failed_save_is_undone(sample, monkeypatch):
    path, _, _ = sample
    labeller = point_labelling.PointLabeller(path)
    assert "the map says" not in labeller.status.value  # the interpreter is not led by the map
    assert "the map says 1 " in point_labelling.PointLabeller(path, blind=False).status.value

    def full_disk(points, target):
        raise errors.OutputError(f"{target}: could not write: No space left on device")

    monkeypatch.setattr(sampling, "write_points", full_disk)
    labeller.class_buttons[5].click()
    assert labeller.position == 0 and pd.isna(labeller.points[sampling.LABEL].iloc[0])
    assert "Not saved" in labeller.status.value and "No space left" in labeller.status.value
    assert sampling.read_points(path)[sampling.LABEL].isna().all()
