"""Figures in the scheme's names and colours: composites, class maps, distributions, signatures."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.patches import Patch

from . import scheme

TRUE_COLOUR = ("B04", "B03", "B02")
FALSE_COLOUR = ("B08", "B04", "B03")  # NIR-red-green: vegetation shows red


def composite(image: xr.DataArray, bands: Sequence[str] = TRUE_COLOUR, percentiles=(2, 98)) -> np.ndarray:
    """An RGB array (y, x, 3) in 0..1, each band stretched between its own percentiles."""
    channels = []
    for band in bands:
        values = image.sel(band=band).values.astype(np.float32)
        low, high = np.percentile(values, percentiles)
        channels.append(np.clip((values - low) / max(high - low, 1e-6), 0, 1))
    return np.dstack(channels)


def _extent(da: xr.DataArray) -> list[float]:
    left, bottom, right, top = da.rio.bounds()
    return [left / 1000, right / 1000, bottom / 1000, top / 1000]


def show_composite(image: xr.DataArray, bands: Sequence[str] = TRUE_COLOUR, ax=None, title: str | None = None):
    ax = ax or plt.gca()
    ax.imshow(composite(image, bands), extent=_extent(image))
    ax.set_title(title or f"{image.name}: {'-'.join(bands)}", fontsize=9)
    ax.set_xlabel("easting (km)")
    ax.set_ylabel("northing (km)")
    return ax


def composites_grid(images: Sequence[xr.DataArray], titles: Sequence[str]):
    """True colour (top row) and false colour NIR-R-G (bottom row) for each image."""
    fig, axes = plt.subplots(2, len(images), figsize=(3.2 * len(images), 6.8), squeeze=False)
    for column, (image, title) in enumerate(zip(images, titles)):
        show_composite(image, TRUE_COLOUR, axes[0, column], f"{title}\ntrue colour")
        show_composite(image, FALSE_COLOUR, axes[1, column], f"{title}\nfalse colour (B08-B04-B03)")
    for ax in axes.ravel()[1:]:
        ax.set_xlabel("")
        ax.set_ylabel("")
    fig.tight_layout()
    return fig


def scheme_legend_handles(ids: Sequence[int] | None = None) -> list[Patch]:
    return [Patch(facecolor=scheme.get(i).colour, label=f"{i} {scheme.get(i).name}") for i in (ids or scheme.CLASS_IDS)]


def show_classes(mask: xr.DataArray, ax=None, title: str | None = None, legend: bool = True):
    """A class map in the scheme's colours (unlabelled transparent) with a legend of the classes present."""
    ax = ax or plt.gca()
    cmap, norm = scheme.colormap()
    ax.imshow(mask.values, cmap=cmap, norm=norm, extent=_extent(mask), interpolation="nearest")
    ax.set_title(title or str(mask.name), fontsize=9)
    ax.set_xlabel("easting (km)")
    ax.set_ylabel("northing (km)")
    if legend:
        present = [int(v) for v in np.unique(mask.values) if v != scheme.NODATA]
        ax.legend(handles=scheme_legend_handles(present), loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    return ax


def class_distribution(catalogue: pd.DataFrame, by: str = "scene", log: bool = True):
    """Labelled pixels per class, one bar group per scene (or region), bars in the scheme's colours."""
    import seaborn as sns

    counts = catalogue.groupby(by)[list(scheme.CLASS_IDS)].sum() if by != "scene" else catalogue[list(scheme.CLASS_IDS)]
    long = counts.reset_index().melt(id_vars=counts.index.name or by, var_name="class_id", value_name="pixels")
    long["class"] = [f"{c} {scheme.get(c).name}" for c in long["class_id"]]
    palette = {f"{c.id} {c.name}": c.colour for c in scheme.CLASSES}
    height = max(4, 0.32 * len(counts) + 2)
    fig, ax = plt.subplots(figsize=(10, height))
    sns.barplot(data=long, y=counts.index.name or by, x="pixels", hue="class", palette=palette, ax=ax, orient="h")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("labelled pixels (10 m x 10 m)" + (", log scale" if log else ""))
    ax.set_ylabel(by)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False, title="class")
    fig.tight_layout()
    return fig


def spectral_signatures(table: pd.DataFrame):
    """Mean reflectance per band and class with the 10th-90th percentile band (from spectra.signatures)."""
    fig, ax = plt.subplots(figsize=(9, 5))
    bands = list(dict.fromkeys(table["band"]))
    x = np.arange(len(bands))
    for class_id, rows in table.groupby("class_id"):
        rows = rows.set_index("band").loc[bands]
        colour = scheme.get(class_id).colour
        ax.plot(x, rows["mean"], marker="o", color=colour, label=f"{class_id} {scheme.get(class_id).name}")
        ax.fill_between(x, rows["p10"], rows["p90"], color=colour, alpha=0.15)
    ax.set_xticks(x, bands)
    ax.set_xlabel("Sentinel-2 band")
    ax.set_ylabel("surface reflectance (0-1)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def index_maps(maps: dict[str, xr.DataArray], title: str = ""):
    """One panel per spectral index on a shared -1..1 diverging scale."""
    fig, axes = plt.subplots(1, len(maps), figsize=(4.2 * len(maps), 4), squeeze=False)
    for ax, (name, values) in zip(axes[0], maps.items()):
        shown = ax.imshow(values.values, cmap="RdYlGn", vmin=-1, vmax=1, extent=_extent(values))
        ax.set_title(f"{name} {title}".strip(), fontsize=9)
        ax.set_xlabel("easting (km)")
    axes[0, 0].set_ylabel("northing (km)")
    fig.colorbar(shown, ax=axes[0].tolist(), shrink=0.8, label="index value")
    return fig
