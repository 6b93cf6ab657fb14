"""Figures for the notebooks: confusion-matrix heatmaps, per-class metric bars, the imbalance demonstration.

Every confusion matrix here has rows = classified (map) and columns = reference, the package's
orientation; the axis labels say so. Class names come from `scheme`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from . import metrics, scheme

NORMALISE = {
    None: ("pixels", "counts"),
    "rows": ("share of the row", "row-normalised: diagonal = UA (precision)"),
    "columns": ("share of the column", "column-normalised: diagonal = PA (recall)"),
}


def class_labels(labels: Sequence[int]) -> list[str]:
    """'4 Crops before harvest / early spring' for scheme codes; plain numbers for codes outside it."""
    return [f"{c} {scheme.get(c).name}" if c in scheme.CLASS_IDS else str(c) for c in labels]


def normalised(matrix, normalise: str | None) -> np.ndarray:
    """Counts as they are (None), or each row / column divided by its sum ("rows" / "columns")."""
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
    """Seaborn heatmap of a confusion matrix (rows = classified, columns = reference); returns the axes.

    Ticks show the scheme's names of `labels` unless `names` are given.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    values = normalised(matrix, normalise)
    colourbar, subtitle = NORMALISE[normalise]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.75 * len(labels) + 4, 0.6 * len(labels) + 3))
    names = class_labels(labels) if names is None else list(names)
    sns.heatmap(
        values, ax=ax, annot=len(labels) <= 12, fmt=".0f" if normalise is None else ".2f", cmap="Blues",
        xticklabels=names, yticklabels=names, cbar_kws={"label": colourbar}, annot_kws={"fontsize": 7},
        square=True, linewidths=0.3, linecolor="white",
    )
    ax.set_xlabel("Reference (columns)")
    ax.set_ylabel("Classified map (rows)")
    ax.set_title(title or subtitle, fontsize=10)
    ax.tick_params(axis="x", labelrotation=45)
    ax.tick_params(axis="y", labelrotation=0)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    return ax


def confusion_panels(matrix, labels: Sequence[int], title: str = ""):
    """Counts, row-normalised and column-normalised heatmaps side by side; returns the figure."""
    import matplotlib.pyplot as plt

    size = 0.6 * len(labels) + 3
    fig, axes = plt.subplots(1, 3, figsize=(3 * size + 4, size + 1), constrained_layout=True)
    for ax, normalise in zip(axes, NORMALISE):
        confusion_heatmap(matrix, labels, normalise, ax=ax)
    if title:
        fig.suptitle(title)
    return fig


def per_class_bars(table: pd.DataFrame, columns: Sequence[str] = ("PA", "UA", "F1"), ax=None, title: str = ""):
    """Grouped bars of per-class metrics from `metrics.per_class` / `accuracy_table` (class rows only)."""
    import matplotlib.pyplot as plt

    rows = table.loc[[i for i in table.index if not isinstance(i, str)]]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 0.9 * len(rows) + 2), 4))
    x = np.arange(len(rows))
    width = 0.8 / len(columns)
    for k, column in enumerate(columns):
        ax.bar(x + (k - (len(columns) - 1) / 2) * width, rows[column].to_numpy(), width, label=column)
    ax.set_xticks(x, class_labels(rows.index.tolist()), rotation=45, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (0-1)")
    ax.legend(ncol=len(columns), loc="lower right", fontsize=8)
    ax.set_title(title, fontsize=10)
    return ax


def imbalance_curves(ratios: Sequence[float], ax=None, **kwargs):
    """OA, mean per-class ACC, mean PA, mean UA and macro F1 against the imbalance ratio (log x axis)."""
    import matplotlib.pyplot as plt

    summary = metrics.imbalance_summary(ratios, **kwargs)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    for column in summary.columns:
        ax.plot(summary.index, summary[column], marker="o", label=column, linestyle="--" if column == "mean ACC" else "-")
    ax.set_xscale("log")
    ax.set_xlabel("imbalance ratio (majority / each minority class, pixels)")
    ax.set_ylabel("score (0-1)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    ax.set_title("Same classifier, more imbalance", fontsize=10)
    return ax


def imbalance_figure(ratio: float = 10.0, **kwargs):
    """The synthetic matrix at one `ratio` (column-normalised heatmap) beside its summary scores."""
    import matplotlib.pyplot as plt

    matrix, labels = metrics.synthetic_imbalance(ratio, **kwargs)
    scores = metrics.imbalance_summary([ratio], **kwargs).iloc[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    names = ["majority" if c == 1 else f"minority {c}" for c in labels]
    confusion_heatmap(matrix, labels, None, ax=left, title=f"ratio {ratio:g}: pixel counts", names=names)
    bars = right.bar(scores.index, scores.to_numpy(), color=["#555555", "#d62728", "#1f77b4", "#ff7f0e", "#2ca02c"])
    right.bar_label(bars, fmt="%.3f", fontsize=8)
    right.set_ylim(0, 1.05)
    right.set_ylabel("score (0-1)")
    right.set_title("mean per-class ACC stays high; mean UA and macro F1 fall", fontsize=10)
    return fig


def imbalance_widget(ratios: Sequence[float] = (1, 2, 5, 10, 20, 50, 100)):
    """An ipywidgets slider over `ratios` redrawing `imbalance_figure`, or None without ipywidgets."""
    try:
        import ipywidgets
    except ImportError:
        return None
    import matplotlib.pyplot as plt

    def draw(ratio):
        imbalance_figure(ratio)
        plt.show()

    slider = ipywidgets.SelectionSlider(options=list(ratios), value=ratios[len(ratios) // 2], description="ratio")
    return ipywidgets.interactive(draw, ratio=slider)
