import numpy as np
import pytest
import xarray as xr

from lulc_helpers import rasters, spectral


def _image(**bands):
    shape = np.shape(next(iter(bands.values())))
    values = np.stack([np.asarray(bands.get(b, np.zeros(shape)), dtype=np.float32) for b in rasters.BANDS])
    return xr.DataArray(values, dims=("band", "y", "x"), coords={"band": list(rasters.BANDS)})


def test_ndvi_by_hand():
    image = _image(B08=[[0.5, 0.3]], B04=[[0.1, 0.3]])
    # (0.5 - 0.1) / (0.5 + 0.1) = 0.6667; equal bands give 0
    np.testing.assert_allclose(spectral.ndvi(image).values, [[2 / 3, 0.0]], rtol=1e-6)


def test_water_and_moisture_indices_by_hand():
    image = _image(B03=[[0.08]], B08=[[0.02]], B11=[[0.01]])
    assert spectral.ndwi(image).item() == pytest.approx((0.08 - 0.02) / 0.10)  # 0.6
    assert spectral.mndwi(image).item() == pytest.approx((0.08 - 0.01) / 0.09)  # 0.7778
    assert spectral.ndmi(image).item() == pytest.approx((0.02 - 0.01) / 0.03)  # 0.3333


def test_zero_denominator_gives_nan_for_arrays_and_mappings():
    assert np.isnan(spectral.ndvi(_image(B08=[[0.0]], B04=[[0.0]])).item())
    result = spectral.ndvi({"B08": np.array([0.0, 0.4]), "B04": np.array([0.0, 0.2])})
    assert np.isnan(result[0]) and result[1] == pytest.approx(1 / 3)


def test_missing_band_is_named():
    image = xr.DataArray(np.zeros((2, 1, 1)), dims=("band", "y", "x"), coords={"band": ["B02", "B03"]})
    with pytest.raises(KeyError, match="B08"):
        spectral.ndvi(image)
