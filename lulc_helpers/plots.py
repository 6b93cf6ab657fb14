"""Figures in the scheme's names and colours: composites, class maps, distributions, signatures,
confusion-matrix heatmaps, per-class metric bars and the imbalance demonstration.

Every confusion matrix here has rows = classified (map) and columns = reference, the package's
orientation; the axis labels say so. Class names and colours come from `scheme`.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.patches import Patch

from . import evaluation, scheme

TRUE_COLOUR = ("B04", "B03", "B02")
FALSE_COLOUR = ("B08", "B04", "B03")  # NIR-red-green: vegetation shows red
INDEX_CMAP = "BrBG"  # diverging, readable with colour-blind vision: brown for bare or wet (< 0), green for vegetation


def composite(image: xr.DataArray, bands: Sequence[str] = TRUE_COLOUR, percentiles=(2, 98)) -> np.ndarray:
    """An RGB composite for display, each band stretched between its own percentiles.

    Parameters
    ----------
    image : xarray.DataArray
        An image with a band coordinate.
    bands : sequence of str, default ("B04", "B03", "B02")
        The red, green and blue bands.
    percentiles : tuple of float, default (2, 98)
        The stretch.

    Returns
    -------
    numpy.ndarray
        (y, x, 3) in 0..1.
    """
    channels = []
    for band in bands:
        values = image.sel(band=band).values.astype(np.float32)
        low, high = np.percentile(values, percentiles)
        channels.append(np.clip((values - low) / max(high - low, 1e-6), 0, 1))
    return np.dstack(channels)


def extent_km(da: xr.DataArray) -> list[float]:
    """A raster's extent in km, for imshow on a projected grid.

    Parameters
    ----------
    da : xarray.DataArray
        A raster with a projected CRS.

    Returns
    -------
    list of float
        [left, right, bottom, top].
    """
    left, bottom, right, top = da.rio.bounds()
    return [left / 1000, right / 1000, bottom / 1000, top / 1000]


def show_composite(image: xr.DataArray, bands: Sequence[str] = TRUE_COLOUR, ax=None, title: str | None = None):
    """Draw a composite with axes in km.

    Parameters
    ----------
    image : xarray.DataArray
        An image with a band coordinate.
    bands : sequence of str, default true colour
        The red, green and blue bands.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: the current axes).
    title : str, optional
        Default: the image's name and the bands.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = ax or plt.gca()
    ax.imshow(composite(image, bands), extent=extent_km(image))
    ax.set_title(title or f"{image.name}: {'-'.join(bands)}", fontsize=9)
    ax.set_xlabel("easting (km)")
    ax.set_ylabel("northing (km)")
    return ax


def composites_grid(images: Sequence[xr.DataArray], titles: Sequence[str], false_colour: Sequence[str] = FALSE_COLOUR):
    """True colour (top row) and a false colour (bottom row) for each image.

    Parameters
    ----------
    images : sequence of xarray.DataArray
        The images.
    titles : sequence of str
        One per image.
    false_colour : sequence of str, default ("B08", "B04", "B03")
        NIR-red-green: vegetation shows red.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    fig, axes = plt.subplots(2, len(images), figsize=(3.2 * len(images), 6.8), squeeze=False)
    for column, (image, title) in enumerate(zip(images, titles)):
        show_composite(image, TRUE_COLOUR, axes[0, column], f"{title}\ntrue colour")
        show_composite(image, tuple(false_colour), axes[1, column], f"{title}\nfalse colour ({'-'.join(false_colour)})")
    for ax in axes.ravel()[1:]:
        ax.set_xlabel("")
        ax.set_ylabel("")
    fig.tight_layout()
    return fig


def scheme_legend_handles(ids: Sequence[int] | None = None) -> list[Patch]:
    """Legend entries of scheme classes: `id name` in the class colour.

    Parameters
    ----------
    ids : sequence of int, optional
        The classes (default: all ten).

    Returns
    -------
    list of matplotlib.patches.Patch
        One handle per class.
    """
    return [Patch(facecolor=scheme.get(i).colour, label=f"{i} {scheme.get(i).name}") for i in (ids or scheme.CLASS_IDS)]


def add_class_legend(ax, ids: Iterable[int], extra=(), **kwargs):
    """A legend of scheme classes on an axes, then any extra handles.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes.
    ids : iterable of int
        The classes.
    extra : sequence, optional
        More legend handles.
    **kwargs
        Passed to `Axes.legend`.

    Returns
    -------
    matplotlib.legend.Legend
        The legend.
    """
    return ax.legend(handles=[*scheme_legend_handles(list(ids)), *extra], **kwargs)


def scheme_legend(columns: int = 2):
    """The ten classes as swatches in the scheme's colours with their codes and names (docs/legend.png, shown in
    the book).

    Parameters
    ----------
    columns : int, default 2
        Columns of swatches.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    rows, width = -(-len(scheme.CLASSES) // columns), 9.0  # a column, in rows: fits the longest name
    fig, ax = plt.subplots(figsize=(0.4 * width * columns, 0.4 * rows + 0.1))
    for index, c in enumerate(scheme.CLASSES):
        x, y = index // rows * width, rows - 1 - index % rows
        ax.add_patch(plt.Rectangle((x, y + 0.1), 0.6, 0.8, facecolor=c.colour, edgecolor="0.3", linewidth=0.5))
        ax.text(x + 0.8, y + 0.5, f"{c.id}  {c.name}", va="center", fontsize=9)
    ax.set_xlim(0, width * columns)
    ax.set_ylim(0, rows)
    ax.set_axis_off()
    return fig


def show_classes(mask: xr.DataArray, ax=None, title: str | None = None, legend: bool = True):
    """A class map in the scheme's colours (unlabelled transparent), nearest-neighbour.

    Parameters
    ----------
    mask : xarray.DataArray
        Class codes with a projected CRS.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: the current axes).
    title : str, optional
        Default: the map's name.
    legend : bool, default True
        Add a legend of the classes present.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = ax or plt.gca()
    cmap, norm = scheme.colormap()
    ax.imshow(mask.values, cmap=cmap, norm=norm, extent=extent_km(mask), interpolation="nearest")
    ax.set_title(title or str(mask.name), fontsize=9)
    ax.set_xlabel("easting (km)")
    ax.set_ylabel("northing (km)")
    if legend:
        present = [int(v) for v in np.unique(mask.values) if v != scheme.NODATA]
        ax.legend(handles=scheme_legend_handles(present), loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    return ax


def class_distribution(catalogue: pd.DataFrame, by: str = "scene", log: bool = True):
    """Labelled pixels per class, one bar group per scene (or region), bars in the scheme's colours.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        From `labels.catalogue`.
    by : str, default "scene"
        "scene", or a column to group by (e.g. "region").
    log : bool, default True
        Logarithmic pixel axis.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
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
    """Mean reflectance per band and class, with the 10th-90th percentile band.

    Parameters
    ----------
    table : pandas.DataFrame
        From `spectral.signatures`.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
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
    """One panel per spectral index on a shared -1..1 diverging, colour-blind-safe scale (BrBG).

    Parameters
    ----------
    maps : dict of str to xarray.DataArray
        Index maps by name.
    title : str, optional
        Added to each panel's title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    fig, axes = plt.subplots(1, len(maps), figsize=(4.2 * len(maps), 4), squeeze=False)
    for ax, (name, values) in zip(axes[0], maps.items()):
        shown = ax.imshow(values.values, cmap=INDEX_CMAP, vmin=-1, vmax=1, extent=extent_km(values))
        ax.set_title(f"{name} {title}".strip(), fontsize=9)
        ax.set_xlabel("easting (km)")
    axes[0, 0].set_ylabel("northing (km)")
    fig.colorbar(shown, ax=axes[0].tolist(), shrink=0.8, label="index value")
    return fig


NORMALISE = {
    None: ("pixels (log colour scale)", "counts (blank = 0)"),
    "rows": ("share of the row", "row-normalised: diagonal = UA (precision)"),
    "columns": ("share of the column", "column-normalised: diagonal = PA (recall)"),
}
# one colour per score, the same in every imbalance figure
SCORE_COLOURS = {
    "OA": "#4d4d4d", "mean ACC": "#d62728", "mean PA": "#1f77b4", "mean UA": "#ff7f0e", "macro F1": "#2ca02c"
}


def class_labels(labels: Sequence[int]) -> list[str]:
    """Axis labels for class codes.

    Parameters
    ----------
    labels : sequence of int
        Class codes.

    Returns
    -------
    list of str
        '4 Crops before harvest / early spring' for scheme codes; plain numbers for codes outside it.
    """
    return [f"{c} {scheme.get(c).name}" if c in scheme.CLASS_IDS else str(c) for c in labels]


def class_swatches(ax, axis: str, codes: Sequence[int]) -> None:
    """Draw each tick on an axis as a thick bar in its class's scheme colour.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes.
    axis : {"x", "y"}
        Which axis.
    codes : sequence of int
        The class of each tick.
    """
    ax.tick_params(axis=axis, length=8, width=6)
    for tick, code in zip(getattr(ax, f"{axis}axis").get_major_ticks(), codes):
        tick.tick1line.set_markeredgecolor(scheme.get(code).colour if code in scheme.CLASS_IDS else "none")


def normalised(matrix, normalise: str | None) -> np.ndarray:
    """A confusion matrix as counts or shares.

    Parameters
    ----------
    matrix : array_like
        Counts.
    normalise : {None, "rows", "columns"}
        None: counts as they are; else each row or column divided by its sum.

    Returns
    -------
    numpy.ndarray
        float64; an empty row or column stays 0.

    Raises
    ------
    ValueError
        For another `normalise`.
    """
    if normalise not in NORMALISE:
        raise ValueError(f"normalise must be one of {list(NORMALISE)}, got {normalise!r}")
    m = np.asarray(matrix, dtype=np.float64)
    if normalise is None:
        return m
    totals = m.sum(axis=1, keepdims=True) if normalise == "rows" else m.sum(axis=0, keepdims=True)
    return np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)


def confusion_heatmap(
    matrix, labels: Sequence[int], normalise: str | None = None, ax=None, title: str | None = None, names=None
):
    """Heatmap of a confusion matrix (rows = classified, columns = reference).

    Counts use a log colour scale so that errors of a few hundred pixels still show beside a diagonal of
    thousands. Ticks show the scheme's names (and colours) of `labels` unless `names` are given.

    Parameters
    ----------
    matrix : array_like
        Confusion matrix, rows = classified, columns = reference.
    labels : sequence of int
        Its classes.
    normalise : {None, "rows", "columns"}
        As in `normalised`.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    title : str, optional
        The title.
    names : sequence of str, optional
        Tick labels (default: `class_labels`, with colour swatches).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Raises
    ------
    ValueError
        For another `normalise`.
    """
    import seaborn as sns
    from matplotlib.colors import LogNorm

    values = normalised(matrix, normalise)
    colourbar, subtitle = NORMALISE[normalise]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * len(labels) + 4, 0.5 * len(labels) + 3))
    counts = normalise is None and values.max() > 1
    sns.heatmap(
        values, ax=ax, annot=len(labels) <= 12, fmt=".0f" if normalise is None else ".2f", cmap="Blues",
        xticklabels=class_labels(labels) if names is None else list(names),
        yticklabels=class_labels(labels) if names is None else list(names),
        cbar_kws={"label": colourbar, "shrink": 0.8}, annot_kws={"fontsize": 8},
        mask=values == 0, norm=LogNorm(vmin=1, vmax=values.max()) if counts else None,  # blank zeros read faster
        vmin=None if counts else 0, vmax=None if counts else 1 if normalise else None,
        square=True, linewidths=0.3, linecolor="#dddddd",
    )
    ax.set_xlabel("Reference (columns)")
    ax.set_ylabel("Classified map (rows)")
    ax.set_title(title or subtitle, fontsize=10)
    ax.tick_params(axis="x", labelrotation=45)
    ax.tick_params(axis="y", labelrotation=0)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
        label.set_rotation_mode("anchor")
    if names is None:
        class_swatches(ax, "x", labels)
        class_swatches(ax, "y", labels)
    return ax


def confusion_panels(matrix, labels: Sequence[int], title: str = ""):
    """Counts, row-normalised and column-normalised heatmaps side by side (class names on the first only).

    Parameters
    ----------
    matrix : array_like
        Confusion matrix, rows = classified, columns = reference.
    labels : sequence of int
        Its classes.
    title : str, optional
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    cells = 0.45 * len(labels)
    fig, axes = plt.subplots(1, 3, figsize=(3 * (cells + 1.2) + 3, cells + 3), constrained_layout=True)
    for k, (ax, normalise) in enumerate(zip(axes, NORMALISE)):
        confusion_heatmap(matrix, labels, normalise, ax=ax)
        if k:  # the rows are the same classes in every panel
            ax.set_ylabel("")
            ax.tick_params(axis="y", labelleft=False)
    if title:
        fig.suptitle(title)
    return fig


def per_class_bars(table: pd.DataFrame, columns: Sequence[str] = ("PA", "UA", "F1"), ax=None, title: str = ""):
    """Grouped bars of per-class metrics (class rows only).

    Parameters
    ----------
    table : pandas.DataFrame
        From `metrics.per_class` or `metrics.accuracy_table`.
    columns : sequence of str, default ("PA", "UA", "F1")
        The metrics.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    title : str, optional
        The title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    rows = table.loc[[i for i in table.index if not isinstance(i, str)]]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 0.9 * len(rows) + 2), 4))
    x = np.arange(len(rows))
    width = 0.8 / len(columns)
    for k, column in enumerate(columns):
        ax.bar(x + (k - (len(columns) - 1) / 2) * width, rows[column].to_numpy(), width, label=column)
    ax.set_xticks(x, class_labels(rows.index.tolist()), rotation=45, ha="right", rotation_mode="anchor")
    class_swatches(ax, "x", rows.index.tolist())
    ax.set_ylim(0, 1.0)
    ax.set_ylabel("score (0-1)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)  # outside: bars reach 1
    ax.set_title(title, fontsize=10)
    return ax


def imbalance_curves(ratios: Sequence[float], ax=None, **kwargs):
    """OA, mean per-class ACC, mean PA, mean UA and macro F1 against the imbalance ratio (log x axis).

    Parameters
    ----------
    ratios : sequence of float
        Imbalance ratios.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    **kwargs
        Passed to `evaluation.synthetic_imbalance`.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    summary = evaluation.imbalance_summary(ratios, **kwargs)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    for column in summary.columns:
        ax.plot(summary.index, summary[column], marker="o", label=column, color=SCORE_COLOURS[column],
                linestyle="--" if column == "mean ACC" else "-")
    ax.set_xscale("log")
    ax.set_xticks(list(ratios), [f"{r:g}" for r in ratios])
    ax.minorticks_off()
    ax.set_xlabel("imbalance ratio (pixels of the majority class / of each minority class)")
    ax.set_ylabel("score (0-1)")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Same classifier, more imbalance", fontsize=10)
    return ax


def imbalance_figure(ratio: float = 10.0, **kwargs):
    """The synthetic confusion matrix at one imbalance ratio (pixel counts) beside its summary scores.

    Parameters
    ----------
    ratio : float, default 10.0
        The imbalance ratio.
    **kwargs
        Passed to `evaluation.synthetic_imbalance`.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    matrix, labels = evaluation.synthetic_imbalance(ratio, **kwargs)
    scores = evaluation.imbalance_summary([ratio], **kwargs).iloc[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    names = ["majority" if c == 1 else f"minority {c}" for c in labels]
    confusion_heatmap(matrix, labels, None, ax=left, title=f"ratio {ratio:g}: pixel counts", names=names)
    bars = right.bar(scores.index, scores.to_numpy(), color=[SCORE_COLOURS[name] for name in scores.index])
    right.bar_label(bars, fmt="%.3f", fontsize=8)
    right.set_ylim(0, 1.05)
    right.set_ylabel("score (0-1)")
    right.set_title("mean per-class ACC stays high; mean UA and macro F1 fall", fontsize=10)
    return fig


def imbalance_widget(ratios: Sequence[float] = (1, 2, 5, 10, 20, 50, 100), **kwargs):
    """A slider over imbalance ratios that redraws `imbalance_figure`.

    Parameters
    ----------
    ratios : sequence of float
        The slider's values.
    **kwargs
        Passed to `evaluation.synthetic_imbalance`.

    Returns
    -------
    ipywidgets.interactive or None
        The widget; None without ipywidgets.
    """
    try:
        import ipywidgets
    except ImportError:
        return None

    def draw(ratio):
        imbalance_figure(ratio, **kwargs)
        plt.show()

    slider = ipywidgets.SelectionSlider(options=list(ratios), value=ratios[len(ratios) // 2], description="ratio")
    return ipywidgets.interactive(draw, ratio=slider)


COVERED, MISSED = "#0072B2", "#D55E00"  # Okabe-Ito blue and vermillion: distinct under protanopia and deuteranopia


def coverage_figure(runs: pd.DataFrame, by_size: pd.DataFrame, shown: int = 40, title: str = ""):
    """How well the sample's intervals cover the true area.

    Left: the first `shown` simulated 95% intervals against the true area and the pixel count; right: mean
    interval half-width against the sample size, with a 1/sqrt(n) guide and each size's coverage.

    Parameters
    ----------
    runs : pandas.DataFrame
        From `sampling.simulate`.
    by_size : pandas.DataFrame
        From `sampling.coverage_by_size`.
    shown : int, default 40
        Intervals drawn.
    title : str, optional
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    first = runs.head(shown)
    colours = np.where(first.covered, COVERED, MISSED)
    left.hlines(np.arange(len(first)), first.low_ha, first.high_ha, colors=colours, linewidth=2)
    left.scatter(first.estimate_ha, np.arange(len(first)), c=colours, s=10, zorder=3)
    left.axvline(runs.attrs["true_area_ha"], color="black", label=f"true area {runs.attrs['true_area_ha']:.1f} ha")
    left.axvline(runs.attrs["pixel_area_ha"], color="grey", linestyle="--", label=f"pixel count {runs.attrs['pixel_area_ha']:.1f} ha")
    left.plot([], [], color=COVERED, label="interval covers the true area")
    left.plot([], [], color=MISSED, label="interval misses it")
    left.set_xlabel("estimated area (ha) with 95% interval")
    left.set_ylabel("simulated sample")
    left.set_title(f"{runs.covered.mean():.0%} of {len(runs)} intervals of {runs.attrs['points']} points cover the truth", fontsize=10)
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    n = by_size.index.to_numpy(dtype=float)
    right.loglog(n, by_size.mean_ci95_ha, "o-", color=COVERED, label="mean 95% half-width")
    right.loglog(n, by_size.mean_ci95_ha.iloc[0] * np.sqrt(n[0] / n), ":", color="grey", label="1/sqrt(n)")
    for size, row in by_size.iterrows():
        right.annotate(f"{row.coverage:.0%}", (size, row.mean_ci95_ha), textcoords="offset points", xytext=(4, 6), fontsize=8)
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    right.set_xticks(n)
    for axis in (right.xaxis, right.yaxis):
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(NullFormatter())
    right.set_yticks(by_size.mean_ci95_ha.round(1).to_numpy())
    right.set_xlabel("points in the sample")
    right.set_ylabel("95% half-width (ha)")
    right.set_title("the interval narrows as 1/sqrt(n); labels: coverage", fontsize=10)
    right.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------- mining screening (`screening`)


def _extent(raster: xr.DataArray) -> tuple[float, float, float, float]:
    left, bottom, right, top = raster.rio.bounds()
    return left, right, bottom, top


def _finish_axes(fig, ax, raster: xr.DataArray, handles, title: str) -> None:
    left, right, bottom, top = _extent(raster)
    ax.set_xlim(left, right)  # buffered permitted areas may reach past the map; keep the map's frame
    ax.set_ylim(bottom, top)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9, frameon=False)
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.set(xlabel="Easting (m)", ylabel="Northing (m)", title=title)
    fig.tight_layout()


def plot_screening_map(
    classified: xr.DataArray,
    screened,
    permitted=None,
    permitted_label: str = "permitted areas",
    demonstration: bool = False,
    title: str | None = None,
):
    """A screening result on the map: the classification in the scheme's colours, permitted areas hatched,
    candidates outlined (flagged in red, inside in black), with a legend.

    Parameters
    ----------
    classified : xarray.DataArray
        The class map.
    screened : geopandas.GeoDataFrame
        From `screening.screen`.
    permitted : geopandas.GeoDataFrame, optional
        The permitted areas.
    permitted_label : str, default "permitted areas"
        Their legend entry.
    demonstration : bool, default False
        Stamp the map as a demonstration.
    title : str, optional
        The title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    cmap, norm = scheme.colormap()
    fig, ax = plt.subplots(figsize=(12, 8))
    ax.imshow(classified.values, cmap=cmap, norm=norm, extent=_extent(classified), interpolation="nearest", alpha=0.85)
    present = [c for c in scheme.CLASS_IDS if (np.asarray(classified.values) == c).any()]
    handles = scheme_legend_handles(present)
    if permitted is not None:
        permitted.to_crs(classified.rio.crs).plot(ax=ax, facecolor="none", edgecolor="navy", hatch="///", linewidth=1.2)
        handles.append(Patch(facecolor="none", edgecolor="navy", hatch="///", label=permitted_label))
    for flagged, colour, label in ((True, "red", "flagged candidate"), (False, "black", "candidate, not flagged")):
        part = screened[screened["flagged"] == flagged]
        if len(part):
            part.boundary.plot(ax=ax, color=colour, linewidth=1.6)
            handles.append(Line2D([], [], color=colour, linewidth=1.6, label=label))
    if demonstration:
        ax.text(
            0.5, 0.97, "DEMONSTRATION LAYER — not official", transform=ax.transAxes, ha="center", va="top",
            fontsize=13, fontweight="bold", color="darkred", bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "darkred"},
        )
    _finish_axes(fig, ax, classified, handles, title or "Quarry candidates against permitted areas")
    return fig


def plot_quarry_change(before: xr.DataArray, changes, before_label: str = "earlier date", title: str | None = None):
    """Quarry pixels of the earlier map in the scheme's quarry colour, change polygons outlined by kind.

    Parameters
    ----------
    before : xarray.DataArray
        The earlier class map.
    changes : geopandas.GeoDataFrame
        From `screening.change_polygons`.
    before_label : str, default "earlier date"
        Its legend entry.
    title : str, optional
        The title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    quarry = np.where(np.asarray(before.values) == scheme.QUARRY, 1.0, np.nan)
    fig, ax = plt.subplots(figsize=(11, 8))
    ax.imshow(quarry, cmap=ListedColormap([scheme.get(scheme.QUARRY).colour]), extent=_extent(before), interpolation="nearest")
    handles = [Patch(facecolor=scheme.get(scheme.QUARRY).colour, label=f"{scheme.get(scheme.QUARRY).name}, {before_label}")]
    kinds = (("gained", "red"), ("lost", "royalblue"), ("earlier unlabelled", "orange"), ("later unlabelled", "purple"))
    for kind, colour in kinds:
        part = changes[changes["change"] == kind]
        if len(part):
            part.boundary.plot(ax=ax, color=colour, linewidth=1.4)
            handles.append(Line2D([], [], color=colour, linewidth=1.4, label=f"{kind} ({part['area_ha'].sum():.1f} ha)"))
    _finish_axes(fig, ax, before, handles, title or "Quarry extent change")
    return fig
