"""lulc_helpers.plots: axes say classified vs reference, ticks use the scheme's names, normalisation is right."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from lulc_helpers import metrics, plots, scheme

MATRIX = np.array([[8, 2, 0], [1, 6, 3], [1, 2, 7]])  # rows = classified
LABELS = [3, 5, 10]


def _heat_values(ax):
    return np.asarray(ax.collections[0].get_array()).reshape(MATRIX.shape)


@pytest.mark.parametrize(
    "normalise, expected",
    [
        (None, MATRIX),
        ("rows", MATRIX / MATRIX.sum(axis=1, keepdims=True)),
        ("columns", MATRIX / MATRIX.sum(axis=0, keepdims=True)),
    ],
)
def test_heatmap_values_and_axis_labels(normalise, expected):
    ax = plots.confusion_heatmap(MATRIX, LABELS, normalise)
    np.testing.assert_allclose(_heat_values(ax), expected)
    assert "Reference" in ax.get_xlabel() and "Classified" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"{c} {scheme.get(c).name}" for c in LABELS]
    plt.close("all")


def test_column_normalised_diagonal_is_producers_accuracy():
    ax = plots.confusion_heatmap(MATRIX, LABELS, "columns")
    np.testing.assert_allclose(np.diag(_heat_values(ax)), [8 / 10, 6 / 10, 7 / 10])  # diag / column sum, by hand
    plt.close("all")


def test_counts_use_a_log_scale_and_ticks_carry_scheme_colours():
    ax = plots.confusion_heatmap(MATRIX, LABELS)
    assert isinstance(ax.collections[0].norm, matplotlib.colors.LogNorm)  # small errors stay visible
    swatches = [t.tick1line.get_markeredgecolor() for t in ax.yaxis.get_major_ticks()]
    assert swatches == [scheme.get(c).colour for c in LABELS]
    plt.close("all")


def test_panels_and_bars():
    fig = plots.confusion_panels(MATRIX, LABELS, "demo")
    heatmaps = [a for a in fig.axes if a.get_xlabel()]
    np.testing.assert_allclose(_heat_values(heatmaps[2]), MATRIX / MATRIX.sum(axis=0, keepdims=True))
    assert [bool(a.get_ylabel()) for a in heatmaps] == [True, False, False]  # class names once, on the left
    ax = plots.per_class_bars(metrics.accuracy_table(MATRIX, LABELS))
    assert len(ax.patches) == 3 * len(LABELS)  # PA, UA, F1 per class; Mean and Overall rows left out
    assert ax.get_xticklabels()[0].get_text() == "3 Urban"
    assert [p.get_height() for p in ax.patches[: len(LABELS)]] == pytest.approx([8 / 10, 6 / 10, 7 / 10])  # PA
    plt.close("all")


def test_imbalance_figures_share_one_colour_per_score():
    ax = plots.imbalance_curves([1, 10, 100])
    curves = {line.get_label(): line.get_color() for line in ax.get_lines()}
    assert set(curves) == {"OA", "mean ACC", "mean PA", "mean UA", "macro F1"}
    fig = plots.imbalance_figure(20)
    bars = fig.axes[1].patches
    names = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    assert len(bars) == 5
    for name, bar in zip(names, bars):
        assert matplotlib.colors.same_color(bar.get_facecolor(), curves[name]), name
    plt.close("all")
    with pytest.raises(ValueError):
        plots.normalised(MATRIX, "diagonal")


def test_scheme_legend_shows_every_class_in_its_colour():
    from matplotlib.colors import to_hex

    fig = plots.scheme_legend()
    ax = fig.axes[0]
    swatches = [to_hex(p.get_facecolor()) for p in ax.patches]
    labels = [t.get_text() for t in ax.texts]
    assert swatches == [c.colour for c in scheme.CLASSES]
    assert labels == [f"{c.id}  {c.name}" for c in scheme.CLASSES]
    plt.close(fig)


def test_index_maps_use_a_colour_blind_safe_diverging_map():
    import xarray as xr

    values = xr.DataArray(np.linspace(-1, 1, 16).reshape(4, 4), dims=("y", "x"), coords={"y": np.arange(4) * -10.0, "x": np.arange(4) * 10.0})
    fig = plots.index_maps({"NDVI": values})
    image = fig.axes[0].images[0]
    assert image.get_cmap().name == "BrBG"  # RdYlGn's red and green ends look alike to deuteranopes
    assert image.get_clim() == (-1, 1)
    plt.close(fig)
