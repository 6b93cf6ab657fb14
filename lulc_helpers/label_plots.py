"""Figures for notebook 02 (the label scheme), in the scheme's colours with a legend."""

from __future__ import annotations


import numpy as np

from . import labels, plots, scheme

# Colours for why two masks differ (labels.DIFFERENCE_KINDS 1..3); chosen to stand out from the scheme's.
_DIFFERENCE_COLOURS = {1: "#e7298a", 2: "#ff7f00", 3: "#00bcd4"}


def plot_mask_comparison(first, second, first_title: str, second_title: str):
    """Two masks on one grid side by side, and a third panel with the pixels where they differ, coloured by why
    (`labels.difference_kinds`) over the first mask in grey.

    Parameters
    ----------
    first, second : xarray.DataArray
        Class maps with x/y coordinates, on one grid.
    first_title, second_title : str
        Their panel titles.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, axes = plt.subplots(1, 3, figsize=(17, 6), sharex=True, sharey=True, layout="constrained")
    plots.show_classes(first, axes[0], first_title, legend=False)
    plots.show_classes(second, axes[1], second_title, legend=False)
    kinds = labels.difference_kinds(first, second)
    extent = plots.extent_km(first)
    axes[2].imshow(np.asarray(first) > 0, cmap="Greys", vmin=0, vmax=4, extent=extent, interpolation="nearest")
    overlay = np.zeros((*kinds.shape, 4))
    for kind, colour in _DIFFERENCE_COLOURS.items():
        overlay[kinds == kind] = plt.matplotlib.colors.to_rgba(colour)
    axes[2].imshow(overlay, extent=extent, interpolation="nearest")
    axes[2].set_title(f"where they differ ({int((kinds > 0).sum())} pixels)", fontsize=9)
    axes[2].set_xlabel("easting (km)")
    present = sorted((set(np.unique(np.asarray(first))) | set(np.unique(np.asarray(second)))) - {scheme.NODATA})
    plots.add_class_legend(axes[1], present, loc="upper left", bbox_to_anchor=(0, -0.12), ncol=3, fontsize=8)
    names = {1: "both labelled, classes differ", 2: f"only in {first_title}", 3: f"only in {second_title}"}
    labelled = Patch(facecolor=plt.get_cmap("Greys")(0.25), label=f"labelled in {first_title}, no difference")
    axes[2].legend(
        handles=[Patch(facecolor=c, label=names[k]) for k, c in _DIFFERENCE_COLOURS.items()] + [labelled],
        loc="upper left", bbox_to_anchor=(0, -0.12), fontsize=8,
    )
    return fig


def _phase_colour(code: int) -> str:
    return scheme.get(code).colour if code != scheme.NODATA else "#ffffff"


def plot_crop_series(series):
    """NDVI and NDMI of each crop parcel over the dates: one grey line per parcel, each point in the colour of the
    class that date's mask gives the parcel.

    Parameters
    ----------
    series : pandas.DataFrame
        As `labels.parcel_series` returns it (parcel, date as YYYYMMDD, the indices, class).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.patches import Patch

    series = series.assign(when=pd.to_datetime(series["date"], format="%Y%m%d"))
    fig, axes = plt.subplots(2, 1, figsize=(11, 8), sharex=True, layout="constrained")
    for ax, index in zip(axes, labels.PHASE_INDICES):
        for _, parcel in series.groupby("parcel"):
            ax.plot(parcel["when"], parcel[index], color="0.8", lw=0.7, zorder=1)
        ax.scatter(series["when"], series[index], c=[_phase_colour(p) for p in series["phase"]],
                   edgecolors="0.3", linewidths=0.4, s=28, zorder=2)
        ax.set_ylabel(f"{index} (median per parcel)")
    axes[-1].set_xlabel("image date")
    axes[0].set_title("Strzegom crop parcels: index over time, coloured by each date's mask")
    unlabelled = Patch(facecolor=_phase_colour(scheme.NODATA), edgecolor="0.3", label="0 unlabelled on that date")
    plots.add_class_legend(axes[0], sorted(set(series["phase"]) - {scheme.NODATA}), extra=[unlabelled], loc="lower left",
                  fontsize=8)
    return fig


def plot_phase_rule(pixels, ndvi_min: float, ndmi_min: float, per_class: int = 3000, seed: int = 0):
    """NDVI against NDMI for crop pixels, coloured by the mask's class 4 or 9, one panel per date, with the rule's
    boundary.

    Parameters
    ----------
    pixels : pandas.DataFrame
        As `labels.crop_pixels` returns it.
    ndvi_min, ndmi_min : float
        The rule's thresholds.
    per_class : int, default 3000
        At most this many random pixels per class and date are drawn.
    seed : int, default 0
        Seed of that draw.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import matplotlib.pyplot as plt

    dates = sorted(pixels["date"].unique())
    columns = min(4, len(dates))
    rows = -(-len(dates) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.8 * rows), sharex=True, sharey=True,
                             layout="constrained", squeeze=False)
    rng = np.random.default_rng(seed)
    for ax, date in zip(axes.flat, dates):
        day = pixels[pixels["date"] == date]
        for phase in labels.CROP_PHASES:
            group = day[day["phase"] == phase]
            drawn = group.iloc[rng.permutation(len(group))[:per_class]]
            ax.scatter(drawn["NDVI"], drawn["NDMI"], s=3, alpha=0.4, color=scheme.get(phase).colour)
        ax.axvline(ndvi_min, color="k", lw=1)
        ax.axhline(ndmi_min, color="k", lw=1, ls="--")
        split = day["split"].iloc[0]
        ax.set_title(f"{date}" + (f" ({split})" if split else ""))
    for ax in axes.flat[len(dates):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("NDMI")
    for ax in axes[-1]:
        ax.set_xlabel("NDVI")
    plots.add_class_legend(axes.flat[0], labels.CROP_PHASES, loc="upper left", fontsize=7, markerscale=3)
    fig.suptitle(f"Rule: 9 where NDVI ≥ {ndvi_min:.2f} (solid) and NDMI ≥ {ndmi_min:.2f} (dashed), else 4")
    return fig


def plot_class_balance(table, weights: np.ndarray):
    """Class balance. Left: labelled pixels per class over the training scenes, log scale, each bar annotated with
    its class weight. Right: counts per scene (log colour scale; blank = 0).

    Parameters
    ----------
    table : pandas.DataFrame
        Pixel counts per scene and class, with a `split` column (`labels.catalogue`).
    weights : numpy.ndarray
        The class weights, one per class 1..10.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    ids = list(scheme.CLASS_IDS)
    counts = table[ids].to_numpy()
    fig, (left, right) = plt.subplots(1, 2, figsize=(17, 6.5), layout="constrained",
                                      gridspec_kw={"width_ratios": [1, 1.3]})
    totals = counts[(table["split"] == "train").to_numpy()].sum(axis=0)
    bars = left.bar([str(c) for c in ids], np.where(totals > 0, totals, np.nan), color=scheme.colours(ids),
                    edgecolor="0.3")
    for bar, c in zip(bars, ids):
        if totals[c - 1]:
            left.annotate(f"w={weights[c]:.2f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                          ha="center", va="bottom", fontsize=8)
    left.set(yscale="log", xlabel="class", ylabel="labelled pixels (log scale)", title="Training scenes: pixels per class, weight w")
    plots.add_class_legend(left, ids, loc="upper left", bbox_to_anchor=(0, -0.1), ncol=3, fontsize=8)
    shown = np.where(counts > 0, counts, np.nan)
    image = right.imshow(shown, norm=LogNorm(vmin=1, vmax=np.nanmax(shown)), cmap="viridis", aspect="auto")
    right.set_xticks(range(len(ids)), [str(c) for c in ids])
    right.set_yticks(range(len(table)), [f"{name} ({split})" for name, split in zip(table.index, table["split"])],
                     fontsize=8)
    right.set(xlabel="class", title="Pixels per scene and class (blank: none)")
    fig.colorbar(image, ax=right, label="labelled pixels (log scale)")
    return fig
