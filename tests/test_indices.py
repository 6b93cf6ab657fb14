import numpy as np
import pytest
import xarray as xr

from lulc_helpers import data, indices


def _image(**bands):
    shape = np.shape(next(iter(bands.values())))
    values = np.stack([np.asarray(bands.get(b, np.zeros(shape)), dtype=np.float32) for b in data.BANDS])
    return xr.DataArray(values, dims=("band", "y", "x"), coords={"band": list(data.BANDS)})


def test_ndvi_by_hand():
    image = _image(B08=[[0.5, 0.3]], B04=[[0.1, 0.3]])
    # (0.5 - 0.1) / (0.5 + 0.1) = 0.6667; equal bands give 0
    np.testing.assert_allclose(indices.ndvi(image).values, [[2 / 3, 0.0]], rtol=1e-6)


def test_water_and_moisture_indices_by_hand():
    image = _image(B03=[[0.08]], B08=[[0.02]], B11=[[0.01]])
    assert indices.ndwi(image).item() == pytest.approx((0.08 - 0.02) / 0.10)  # 0.6
    assert indices.mndwi(image).item() == pytest.approx((0.08 - 0.01) / 0.09)  # 0.7778
    assert indices.ndmi(image).item() == pytest.approx((0.02 - 0.01) / 0.03)  # 0.3333


def test_zero_denominator_gives_nan_for_arrays_and_mappings():
    assert np.isnan(indices.ndvi(_image(B08=[[0.0]], B04=[[0.0]])).item())
    result = indices.ndvi({"B08": np.array([0.0, 0.4]), "B04": np.array([0.0, 0.2])})
    assert np.isnan(result[0]) and result[1] == pytest.approx(1 / 3)


def test_missing_band_is_named():
    image = xr.DataArray(np.zeros((2, 1, 1)), dims=("band", "y", "x"), coords={"band": ["B02", "B03"]})
    with pytest.raises(KeyError, match="B08"):
        indices.ndvi(image)
