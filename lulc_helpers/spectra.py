"""Spectral signatures: reflectance per band and class, from an image and its mask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from . import scheme


def signatures(reflectance: xr.DataArray, mask: xr.DataArray) -> pd.DataFrame:
    """Mean, standard deviation and 10th/90th percentiles per class and band of a reflectance image
    (`data.reflectance`), over the mask's labelled pixels that have data in every band.

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
