"""Spectral indices from named Sentinel-2 bands (normalised differences, so reflectance scale cancels).

Each function takes an image whose `band` coordinate names the bands (`rasters.open_image`), or a
mapping of band name to array, and returns float32 with NaN where both bands are zero.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from . import scheme


def normalized_difference(image, first: str, second: str):
    """A normalised difference of two bands: (first - second) / (first + second).

    Parameters
    ----------
    image : xarray.DataArray or mapping of str to array_like
        Reflectance with a band coordinate (`rasters.reflectance`), or arrays by band name.
    first, second : str
        Band names, e.g. "B08" and "B04".

    Returns
    -------
    xarray.DataArray or numpy.ndarray
        The index, NaN where the two bands sum to 0 or either is NaN.

    Raises
    ------
    KeyError
        If a band is not in the image.
    TypeError
        If `image` is neither a DataArray with a band coordinate nor a mapping.
    """
    a, b = _band(image, first), _band(image, second)
    total = a + b
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (a - b) / total
    if isinstance(ratio, xr.DataArray):
        return ratio.where(total != 0)
    return np.where(total != 0, ratio, np.float32(np.nan))


def _band(image, name: str):
    if isinstance(image, xr.DataArray):
        if name not in image.coords["band"].values:
            raise KeyError(f"band {name} is not in the image (bands: {list(image.coords['band'].values)})")
        return image.sel(band=name, drop=True).astype(np.float32)
    if isinstance(image, Mapping):
        return np.asarray(image[name], dtype=np.float32)
    raise TypeError("expected an xarray DataArray with a band coordinate or a mapping of band arrays")


def ndvi(image):
    """NDVI, vegetation: (NIR - red) / (NIR + red), Rouse et al. 1974 (B08, B04).

    Parameters
    ----------
    image : xarray.DataArray or mapping of str to array_like
        Reflectance with a band coordinate (`rasters.reflectance`), or arrays by band name.

    Returns
    -------
    xarray.DataArray or numpy.ndarray
        The index, NaN where the two bands sum to 0 or either is NaN.

    Raises
    ------
    KeyError
        If a band is not in the image.
    TypeError
        If `image` is neither a DataArray with a band coordinate nor a mapping.
    """
    return normalized_difference(image, "B08", "B04")


def ndwi(image):
    """NDWI, open water, McFeeters 1996: (green - NIR) / (green + NIR) (B03, B08).

    Parameters
    ----------
    image : xarray.DataArray or mapping of str to array_like
        Reflectance with a band coordinate (`rasters.reflectance`), or arrays by band name.

    Returns
    -------
    xarray.DataArray or numpy.ndarray
        The index, NaN where the two bands sum to 0 or either is NaN.

    Raises
    ------
    KeyError
        If a band is not in the image.
    TypeError
        If `image` is neither a DataArray with a band coordinate nor a mapping.
    """
    return normalized_difference(image, "B03", "B08")


def mndwi(image):
    """Modified NDWI, Xu 2006: (green - SWIR1) / (green + SWIR1) (B03, B11).

    Parameters
    ----------
    image : xarray.DataArray or mapping of str to array_like
        Reflectance with a band coordinate (`rasters.reflectance`), or arrays by band name.

    Returns
    -------
    xarray.DataArray or numpy.ndarray
        The index, NaN where the two bands sum to 0 or either is NaN.

    Raises
    ------
    KeyError
        If a band is not in the image.
    TypeError
        If `image` is neither a DataArray with a band coordinate nor a mapping.
    """
    return normalized_difference(image, "B03", "B11")


def ndmi(image):
    """NDMI, moisture, Gao 1996 / Wilson & Sader 2002: (NIR - SWIR1) / (NIR + SWIR1) (B08, B11).

    Parameters
    ----------
    image : xarray.DataArray or mapping of str to array_like
        Reflectance with a band coordinate (`rasters.reflectance`), or arrays by band name.

    Returns
    -------
    xarray.DataArray or numpy.ndarray
        The index, NaN where the two bands sum to 0 or either is NaN.

    Raises
    ------
    KeyError
        If a band is not in the image.
    TypeError
        If `image` is neither a DataArray with a band coordinate nor a mapping.
    """
    return normalized_difference(image, "B08", "B11")


INDICES = {"NDVI": ndvi, "NDWI": ndwi, "MNDWI": mndwi, "NDMI": ndmi}


def signatures(reflectance: xr.DataArray, mask: xr.DataArray) -> pd.DataFrame:
    """Spectral signatures: statistics per class and band over the labelled pixels that have data in every band.

    Parameters
    ----------
    reflectance : xarray.DataArray
        A reflectance image (band, y, x), as `rasters.reflectance` returns it.
    mask : xarray.DataArray
        Class codes on the same grid (0 = unlabelled).

    Returns
    -------
    pandas.DataFrame
        Long table with columns class_id, class, band, mean, std, p10, p90, pixels.
    """
    pixels = reflectance.values.reshape(reflectance.sizes["band"], -1).astype(np.float64)
    labels = np.where(np.isfinite(pixels).all(axis=0), np.asarray(mask.values).ravel(), scheme.NODATA)
    rows = []
    for class_id in (c for c in scheme.CLASS_IDS if (labels == c).any()):
        selected = pixels[:, labels == class_id]
        p10, p90 = np.percentile(selected, [10, 90], axis=1)
        for i, band in enumerate(reflectance.coords["band"].values):
            rows.append(
                {
                    "class_id": class_id,
                    "class": scheme.get(class_id).name,
                    "band": str(band),
                    "mean": selected[i].mean(),
                    "std": selected[i].std(),
                    "p10": p10[i],
                    "p90": p90[i],
                    "pixels": selected.shape[1],
                }
            )
    return pd.DataFrame(rows)
