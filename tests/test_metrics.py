"""lulc_helpers.metrics and `lulc accuracy` against the paper's tables, hand calculations, scikit-learn and
Olofsson et al. (2014). Every matrix in the package has rows = classified, columns = reference."""

import json
import math

import numpy as np
import pytest
import rasterio
from sklearn import metrics as skm

from lulc_helpers import cli, data, evaluation, labels, metrics, paper, rasters

# ---------------------------------------------------------------- the paper's numbers (Sections 2.5 and 3.1)

# Strzegom U-Net matrix as printed (rows = classified, columns = reference), classes 1-5, 7-10
STRZEGOM_LABELS = [1, 2, 3, 4, 5, 7, 8, 9, 10]
STRZEGOM = [
    [1202, 3, 6, 36, 0, 1, 0, 11, 0],
    [549, 7568, 83, 103, 0, 2, 2, 135, 3],
    [0, 0, 625, 22, 35, 14, 0, 2, 0],
    [2, 10, 14, 7338, 133, 17, 0, 18, 7],
    [0, 0, 0, 6, 1150, 0, 0, 0, 0],
    [0, 0, 8, 6, 0, 59, 0, 11, 0],
    [0, 1, 0, 0, 0, 0, 635, 30, 6],
    [0, 43, 25, 534, 0, 67, 0, 10927, 1],
    [0, 28, 0, 2, 89, 0, 4, 0, 6998],
]
# its table: ACC, TNR, PA, UA, F1 per class, then Mean; Overall 0.9464
STRZEGOM_TABLE = {
    1: (0.9842, 0.9852, 0.9547, 0.6857, 0.7981),
    2: (0.9751, 0.9972, 0.8962, 0.9889, 0.9402),
    3: (0.9946, 0.9964, 0.8954, 0.8213, 0.8568),
    4: (0.9764, 0.9772, 0.9733, 0.9119, 0.9416),
    5: (0.9932, 0.9931, 0.9948, 0.8173, 0.8974),
    7: (0.9967, 0.9974, 0.7024, 0.3688, 0.4836),
    8: (0.9989, 0.9998, 0.9449, 0.9906, 0.9673),
    9: (0.9773, 0.9923, 0.9422, 0.9814, 0.9614),
    10: (0.9964, 0.9995, 0.9827, 0.9976, 0.9901),
    "Mean": (0.9881, 0.9931, 0.9207, 0.8404, 0.8707),
}
KOLBUSZOWA_LABELS = [1, 2, 3, 4, 5, 6, 7, 8, 9]
KOLBUSZOWA = [  # as printed in the paper (the repository CSV has typos 115/53/15)
    [1105, 7, 0, 1, 0, 0, 0, 0, 0],
    [42, 1591, 1, 9, 6, 0, 0, 0, 0],
    [2, 0, 324, 22, 4, 0, 23, 0, 0],
    [0, 0, 9, 2813, 45, 11, 65, 0, 3],
    [0, 0, 6, 72, 1221, 2, 2, 0, 0],
    [10, 102, 18, 4, 5, 530, 0, 0, 1],
    [0, 0, 12, 3, 6, 0, 105, 0, 0],
    [0, 0, 1, 0, 0, 0, 1, 21, 0],
    [15, 5, 11, 21, 0, 105, 0, 0, 1105],
]
KOLBUSZOWA_TABLE = {
    1: (0.9919, 0.9917, 0.9928, 0.9412, 0.9663),
    2: (0.9818, 0.9854, 0.9648, 0.9331, 0.9487),
    3: (0.9885, 0.9936, 0.8640, 0.8482, 0.8560),
    4: (0.9720, 0.9798, 0.9549, 0.9552, 0.9550),
    5: (0.9844, 0.9919, 0.9371, 0.9487, 0.9429),
    6: (0.9727, 0.9866, 0.7910, 0.8179, 0.8042),
    7: (0.9882, 0.9903, 0.8333, 0.5357, 0.6522),
    8: (0.9998, 1.0000, 0.9130, 1.0000, 0.9545),
    9: (0.9830, 0.9995, 0.8756, 0.9964, 0.9321),
    "Mean": (0.9847, 0.9910, 0.9030, 0.8863, 0.8902),
}
PAPER_CASES = [
    ("strzegom", STRZEGOM, STRZEGOM_LABELS, STRZEGOM_TABLE, 0.9464),
    ("kolbuszowa", KOLBUSZOWA, KOLBUSZOWA_LABELS, KOLBUSZOWA_TABLE, 0.9311),
]


def _printed(actual, printed, decimals):
    """True when `actual` rounds (half up, as the paper does) to the printed values."""
    tolerance = 0.5 * 10.0**-decimals + 1e-9
    return np.all(np.abs(np.asarray(actual, dtype=float) - np.asarray(printed, dtype=float)) <= tolerance)


def _expand(matrix, labels):
    """Pixel arrays (classified, reference) that produce `matrix` (rows = classified)."""
    m = np.asarray(matrix)
    rows, cols = np.nonzero(m)
    counts = m[rows, cols]
    labels = np.asarray(labels)
    return np.repeat(labels[rows], counts), np.repeat(labels[cols], counts)


# ---------------------------------------------------------------- worked examples of Section 2.5


def test_binary_example_matches_the_paper():
    # paper's table: actual Positive row TP=40 FN=10, Negative row FP=5 TN=45; ours has rows = classified
    matrix = np.array([[40, 5], [10, 45]])
    counts = metrics.binary_counts(matrix, [1, 2]).loc[1]
    assert (counts.TP, counts.FP, counts.FN, counts.TN) == (40, 5, 10, 45)
    row = metrics.per_class(matrix, [1, 2]).loc[1]
    assert metrics.overall_accuracy(matrix) == pytest.approx(0.85)
    assert row.ACC == pytest.approx(0.85)
    assert row.TNR == pytest.approx(0.90)
    assert row.PA == pytest.approx(0.80)
    assert round(row.UA, 2) == 0.89  # 40/45
    assert round(row.F1, 2) == 0.84  # 80/95


# the paper's 3-class matrix has rows = actual (A: 30 5 5 / B: 2 28 10 / C: 3 5 22); ours is its transpose
THREE_CLASS = np.array([[30, 5, 5], [2, 28, 10], [3, 5, 22]]).T


def test_three_class_example_matches_the_paper():
    counts = metrics.binary_counts(THREE_CLASS, [1, 2, 3])
    assert counts[["TP", "FP", "FN", "TN"]].to_numpy().tolist() == [[30, 5, 10, 65], [28, 10, 12, 60], [22, 15, 8, 65]]
    table = metrics.accuracy_table(THREE_CLASS, [1, 2, 3])
    printed = {  # ACC, TNR, PA, UA (3 decimals, as printed)
        1: (0.864, 0.929, 0.750, 0.857),
        2: (0.800, 0.857, 0.700, 0.737),
        3: (0.791, 0.813, 0.733, 0.595),
        "Mean": (0.818, 0.866, 0.728, 0.730),
    }
    for row, values in printed.items():
        assert _printed(table.loc[row, ["ACC", "TNR", "PA", "UA"]], values, 3), row
    assert _printed(table.loc[2, "F1"], 0.718, 3)
    # The paper prints F1 0.799 (A), 0.655 (C), mean 0.724 and OA 0.7270; its own TP/FP/FN give
    # 2*30/75 = 0.800, 2*22/67 = 0.657, mean 0.725 and OA 80/110 = 0.7273 (rounding slips in the paper).
    assert table.loc[1, "F1"] == pytest.approx(60 / 75)
    assert table.loc[3, "F1"] == pytest.approx(44 / 67)
    assert table.loc["Mean", "F1"] == pytest.approx((60 / 75 + 56 / 78 + 44 / 67) / 3)
    assert table.loc["Overall", "ACC"] == pytest.approx(80 / 110)



def test_package_copies_of_the_worked_examples_match_this_transcription():
    # notebook 05 reads the paper's worked examples and Olofsson et al.'s from metrics; this file transcribes them apart
    assert paper.PAPER_BINARY_COUNTS == {"TP": 40, "FN": 10, "FP": 5, "TN": 45}
    assert paper.PAPER_BINARY_RESULTS == {"ACC": 0.85, "TNR": 0.90, "PA": 0.80, "UA": 0.89, "F1": 0.84, "OA": 0.85}
    assert (np.array(paper.PAPER_THREE_CLASS_ACTUAL_ROWS).T == THREE_CLASS).all()
    printed = paper.PAPER_THREE_CLASS_TABLE
    assert [printed[k][:4] for k in ("A", "B", "C", "Mean")] == [
        (0.864, 0.929, 0.750, 0.857), (0.800, 0.857, 0.700, 0.737), (0.791, 0.813, 0.733, 0.595), (0.818, 0.866, 0.728, 0.730)]
    assert [printed[k][4] for k in ("A", "B", "C", "Mean")] == [0.799, 0.718, 0.655, 0.724]
    assert printed["Overall"][0] == 0.7270
    assert paper.PAPER_UNET_TEXT == {"OA": 0.9460, "mean PA": 0.9207, "mean UA": 0.8404, "mean F1": 0.8707}
    assert paper.OLOFSSON_COUNTS == [[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]]
    assert paper.OLOFSSON_MAPPED_AREAS == [200000, 150000, 3200000, 6450000]
    assert paper.OLOFSSON_PUBLISHED == {"UA class 1": (0.88, 0.07), "PA class 1": (0.75, 0.21), "OA": (0.95, 0.02),
                                          "area class 1 (pixels)": (235086, 68418)}

# ---------------------------------------------------------------- the U-Net tables, both readings


@pytest.mark.parametrize("name, matrix, labels, printed, oa", PAPER_CASES, ids=[c[0] for c in PAPER_CASES])
def test_paper_reading_reproduces_the_printed_tables(name, matrix, labels, printed, oa):
    table = metrics.accuracy_table(matrix, labels, reading="paper")
    for row, values in printed.items():
        assert _printed(table.loc[row, list(metrics.METRICS)], values, 4), (name, row)
    assert _printed(table.loc["Overall", "ACC"], oa, 4)


@pytest.mark.parametrize("name, matrix, labels, printed, oa", PAPER_CASES, ids=[c[0] for c in PAPER_CASES])
def test_standard_reading_is_sklearn_with_reference_as_truth(name, matrix, labels, printed, oa):
    classified, reference = _expand(matrix, labels)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(reference, classified, labels=labels, zero_division=0)
    table = metrics.per_class(matrix, labels)
    np.testing.assert_allclose(table.PA, recall)
    np.testing.assert_allclose(table.UA, precision)
    np.testing.assert_allclose(table.F1, f1)
    # the paper's PA column is the standard UA: the two readings differ only by transposition
    assert _printed(table.UA, [printed[c][2] for c in labels], 4)
    sides = evaluation.readings_side_by_side(matrix, labels, paper.PAPER_UNET_TABLES[name])
    np.testing.assert_allclose(sides[("PA", "this run")], recall)
    assert sides[("PA", "paper")].tolist() == [printed[c][2] for c in labels]
    assert sides[("UA", "paper")].tolist() == [printed[c][3] for c in labels]


def test_side_by_side_leaves_a_class_the_paper_does_not_print_empty():
    # Strzegom with its class-6 predictions kept: the paper prints no row 6, so that row's paper values are NaN
    labels = [*STRZEGOM_LABELS[:5], 6, *STRZEGOM_LABELS[5:]]
    matrix = np.insert(np.insert(np.array(STRZEGOM), 5, 0, axis=1), 5, [0, 2, 0, 5, 0, 0, 0, 0, 7, 3], axis=0)
    sides = evaluation.readings_side_by_side(matrix, labels, paper.PAPER_UNET_TABLES["strzegom"])
    assert np.isnan(sides.loc[6, ("PA", "paper")]) and np.isnan(sides.loc[6, ("UA", "paper")])
    assert np.isnan(sides.loc[6, ("PA", "this run")])  # class 6 is absent from the reference: recall is 0 / 0
    assert sides.loc[6, ("UA", "this run")] == 0  # and none of the 17 pixels mapped as 6 is right
    assert sides.loc[1, ("PA", "paper")] == STRZEGOM_TABLE[1][2]


@pytest.mark.parametrize("name, matrix, labels, printed, oa", PAPER_CASES, ids=[c[0] for c in PAPER_CASES])
def test_package_copy_of_the_printed_tables_matches_this_transcription(name, matrix, labels, printed, oa):
    # the notebook compares against paper.PAPER_UNET_TABLES; this file transcribes the paper separately
    assert paper.PAPER_UNET_TABLES[name] == {**printed, "Overall": (oa, None, None, None, None)}


# ---------------------------------------------------------------- the confusion matrix itself


@pytest.fixture(scope="module")
def random_pairs():
    rng = np.random.default_rng(7)
    reference = rng.integers(0, 8, size=20_000).astype(np.uint8)  # 0 = unlabelled, 1..7 classes
    classified = np.where(rng.random(reference.size) < 0.6, reference, rng.integers(0, 8, size=reference.size))
    return classified.astype(np.uint8), reference


def test_confusion_matrix_is_sklearn_transposed_without_zeros(random_pairs):
    classified, reference = random_pairs
    matrix, labels = metrics.confusion_matrix(classified.reshape(100, 200), reference.reshape(100, 200))
    assert labels == list(range(1, 8))
    expected = skm.confusion_matrix(reference, classified, labels=labels).T  # sklearn drops pairs with a 0
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.dtype == np.int64


def test_summary_scores_match_sklearn(random_pairs):
    classified, reference = random_pairs
    keep = (classified != 0) & (reference != 0)
    y_pred, y_true = classified[keep], reference[keep]
    matrix, labels = metrics.confusion_matrix(classified, reference)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels)
    table = metrics.per_class(matrix, labels)
    np.testing.assert_allclose(table.PA, recall)
    np.testing.assert_allclose(table.UA, precision)
    np.testing.assert_allclose(table.F1, f1)
    assert metrics.kappa(matrix) == pytest.approx(skm.cohen_kappa_score(y_true, y_pred))
    assert metrics.mcc(matrix) == pytest.approx(skm.matthews_corrcoef(y_true, y_pred))
    assert metrics.balanced_accuracy(matrix) == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    assert metrics.macro_f1(matrix) == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))
    assert metrics.overall_accuracy(matrix) == pytest.approx(skm.accuracy_score(y_true, y_pred))


def test_given_labels_exclusion_and_float_input():
    classified = np.array([1, 1, 2, 6, 6, 0, 3, np.nan])
    reference = np.array([1, 2, 2, 2, 1, 3, 0, 1])
    matrix, labels = metrics.confusion_matrix(classified, reference, labels=[1, 2, 4], exclude_predicted=[6])
    assert labels == [1, 2, 4]
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [0, 0, 0]])
    inferred, inferred_labels = metrics.confusion_matrix(classified, reference)
    assert inferred_labels == [1, 2, 6]  # 3 only ever meets a 0, so it gets no empty row
    assert inferred.sum() == 5
    with pytest.raises(ValueError, match="shape"):
        metrics.confusion_matrix([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="whole numbers"):
        metrics.confusion_matrix([1.5], [1])
    mixed, _ = metrics.confusion_matrix(np.array([1, 2, 2], dtype=np.int64), np.array([1, 2, 1], dtype=np.uint64))
    np.testing.assert_array_equal(mixed, [[1, 0], [1, 1]])  # int64 with uint64 would promote to float


def test_single_class_overlap_gives_nan_kappa_and_strict_json():
    matrix = np.array([[25]])  # one class in map and reference: chance agreement is 1
    assert math.isnan(metrics.kappa(matrix))
    result = json.loads(json.dumps(metrics.report(matrix, [10]), allow_nan=False))
    assert result["kappa"] is None and result["overall_accuracy"] == 1.0


def test_undefined_ratios_are_nan_and_excluded_from_the_mean():
    matrix = np.array([[5, 1, 0], [0, 4, 0], [0, 0, 0]])  # class 3 neither mapped nor in the reference
    table = metrics.accuracy_table(matrix, [1, 2, 3])
    assert math.isnan(table.loc[3, "PA"]) and math.isnan(table.loc[3, "UA"])
    assert table.loc["Mean", "PA"] == pytest.approx((1 + 0.8) / 2)


# ---------------------------------------------------------------- Pontius & Millones (2011)


@pytest.mark.parametrize(
    "matrix, quantity, allocation",
    [
        ([[10, 0], [20, 70]], 0.2, 0.0),  # map gives class 1 10%, reference 30%: pure quantity error
        ([[40, 10], [10, 40]], 0.0, 0.2),  # right amounts, swapped places: pure allocation error
        ([[30, 10, 0], [0, 40, 10], [0, 0, 10]], 0.1, 0.1),  # rows .4 .5 .1, cols .3 .5 .2 -> Q = .1; D = .2
    ],
)
def test_quantity_and_allocation_disagreement_by_hand(matrix, quantity, allocation):
    split = metrics.disagreement(matrix)
    assert split["quantity"] == pytest.approx(quantity)
    assert split["allocation"] == pytest.approx(allocation)
    assert split["total"] == pytest.approx(1 - metrics.overall_accuracy(matrix))


# ---------------------------------------------------------------- Olofsson et al. (2014), Section 5


def test_olofsson_worked_example():
    counts = [[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]]
    estimate = metrics.stratified_estimates(counts, [200000, 150000, 3200000, 6450000])
    table = estimate.table
    assert table.UA.round(2).tolist() == [0.88, 0.73, 0.93, 0.96]
    assert table.UA_ci.round(2).tolist() == [0.07, 0.10, 0.04, 0.02]
    assert table.PA.round(2).tolist() == [0.75, 0.85, 0.93, 0.96]
    # published PA intervals: 0.21 and 0.03; the printed 0.23 (class 2) and 0.01 (class 4) do not follow
    # from the paper's own eq. 7 (other implementations, e.g. acc_assessment, skip them for the same reason)
    assert [round(table.PA_ci[c], 2) for c in (1, 3)] == [0.21, 0.03]
    assert round(estimate.overall_accuracy, 2) == 0.95
    assert round(estimate.overall_accuracy_ci, 2) == 0.02
    assert round(table.area.iloc[0]) == 235086
    assert round(table.area_ci.iloc[0]) == 68418
    # Olofsson et al.'s Table 9, the estimated error matrix in area proportions (4 decimals)
    table_9 = [[0.0176, 0, 0.0013, 0.0011], [0, 0.0110, 0.0016, 0.0024],
               [0.0019, 0, 0.2967, 0.0213], [0.0040, 0.0020, 0.0179, 0.6212]]
    np.testing.assert_allclose(estimate.proportions.to_numpy(), table_9, atol=0.00005 + 1e-9)
    # areas of the other classes in hectares (30 m pixels: 0.09 ha each), as printed
    hectares = (table.area * 0.09).round().tolist()[1:]
    assert hectares == [11686, 285770, 581386]
    assert (table.area_ci * 0.09).round().tolist()[1:] == [3756, 15510, 16282]
    with pytest.raises(ValueError, match="two sample units"):
        metrics.stratified_estimates([[1, 0], [0, 5]], [10, 10])


# ---------------------------------------------------------------- bootstrap and McNemar


def test_bootstrap_is_seeded_and_agrees_with_the_binomial_interval():
    matrix = np.array([[800, 40, 10], [30, 500, 20], [20, 30, 550]])
    first = metrics.bootstrap_ci(matrix, [1, 2, 3], n_boot=4000, seed=3)
    assert first.equals(metrics.bootstrap_ci(matrix, [1, 2, 3], n_boot=4000, seed=3))
    oa, n = np.trace(matrix) / matrix.sum(), matrix.sum()
    half = 1.96 * math.sqrt(oa * (1 - oa) / n)  # normal approximation to the binomial
    assert first.loc["OA", "low"] == pytest.approx(oa - half, abs=0.003)
    assert first.loc["OA", "high"] == pytest.approx(oa + half, abs=0.003)
    assert list(first.index) == ["OA", "macro F1", "F1 1", "F1 2", "F1 3"]
    assert (first.low <= first.estimate).all() and (first.estimate <= first.high).all()


def test_multinomial_bootstrap_equals_resampling_pixels():
    matrix = np.array([[60, 10], [15, 40]])
    classified, reference = _expand(matrix, [1, 2])
    rng = np.random.default_rng(11)
    f1 = []
    for _ in range(3000):  # the textbook way: draw pixel pairs with replacement
        pick = rng.integers(0, classified.size, classified.size)
        f1.append(skm.f1_score(reference[pick], classified[pick], average="macro"))
    ours = metrics.bootstrap_ci(matrix, [1, 2], n_boot=3000, seed=5).loc["macro F1"]
    assert ours.low == pytest.approx(np.percentile(f1, 2.5), abs=0.015)
    assert ours.high == pytest.approx(np.percentile(f1, 97.5), abs=0.015)


def _pair_maps(b, c, both_right=50, both_wrong=5):
    """Reference and two maps with b pixels only the first gets right and c only the second gets right."""
    reference = np.ones(b + c + both_right + both_wrong, dtype=np.uint8)
    first = np.concatenate([np.ones(b), np.full(c, 2), np.ones(both_right), np.full(both_wrong, 2)])
    second = np.concatenate([np.full(b, 2), np.ones(c), np.ones(both_right), np.full(both_wrong, 3)])
    return first.astype(np.uint8), second.astype(np.uint8), reference


def test_mcnemar_exact_for_few_discordant_pixels():
    result = metrics.mcnemar(*_pair_maps(10, 3))
    assert (result.only_first_correct, result.only_second_correct) == (10, 3)
    assert result.method == "exact binomial"
    # two-sided: 2 * P(X <= 3), X ~ Bin(13, 1/2) = 2 * (1 + 13 + 78 + 286) / 8192
    assert result.p_value == pytest.approx(2 * 378 / 8192)


def test_mcnemar_chi_square_with_continuity_correction():
    result = metrics.mcnemar(*_pair_maps(40, 20))
    statistic = (abs(40 - 20) - 1) ** 2 / 60
    assert result.method == "chi-square, continuity-corrected"
    assert result.statistic == pytest.approx(statistic)
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(statistic / 2)))  # chi-square 1 d.o.f. tail


def test_compare_classifiers_uses_the_same_pixels():
    first, second, reference = _pair_maps(40, 20)
    second[:5] = 0  # unlabelled in one map: dropped for both
    scores, p_values = evaluation.compare_classifiers({"A": first, "B": second}, reference, n_boot=200)
    assert scores.pixels.tolist() == [first.size - 5, first.size - 5]
    assert scores.loc["A", "OA"] == pytest.approx((35 + 50) / (first.size - 5))
    # macro F1 over the reference's classes only (class 1): F1 of class 1 for map A, by hand
    assert scores.loc["A", "macro F1"] == pytest.approx(2 * 85 / (2 * 85 + 20 + 5 + 0))
    assert p_values.loc["A", "B"] == p_values.loc["B", "A"] == pytest.approx(metrics.mcnemar(first[5:], second[5:], reference[5:]).p_value)
    assert scores.loc["A", "kappa"] == pytest.approx(skm.cohen_kappa_score(reference[5:], first[5:]))


# ---------------------------------------------------------------- the imbalance demonstration


def test_imbalance_inflates_mean_acc_but_not_f1():
    balanced = evaluation.imbalance_summary([1]).iloc[0]
    # by hand, ratio 1, 5 classes of 1000: OA = (950 + 4 * 700) / 5000
    assert balanced.OA == pytest.approx(0.75)
    summary = evaluation.imbalance_summary([1, 3, 10, 30, 100])
    assert summary["mean ACC"].is_monotonic_increasing and summary["OA"].is_monotonic_increasing
    assert summary.loc[100, "mean ACC"] > 0.97
    assert summary.loc[100, "macro F1"] < summary.loc[1, "macro F1"] - 0.15
    assert summary.loc[100, "mean UA"] < summary.loc[1, "mean UA"] - 0.3
    assert summary["mean PA"].max() - summary["mean PA"].min() < 0.01  # recall per class is fixed by design


# ---------------------------------------------------------------- the public data and `lulc accuracy`


def test_public_rasters_reproduce_both_paper_matrices(data_root, strzegom_test):
    strzegom = rasters.open_class_map(data_root / strzegom_test.published_prediction)
    polygons = labels.rasterize_reference(data_root / strzegom_test.reference, strzegom, "label")
    matrix, codes = metrics.confusion_matrix(strzegom, polygons, exclude_predicted=[6])
    assert codes == STRZEGOM_LABELS
    np.testing.assert_array_equal(matrix, STRZEGOM)
    with_six, _ = metrics.confusion_matrix(strzegom, polygons)
    assert with_six.sum() - matrix.sum() == 17  # the pixels the paper left out
    mask_tif = rasters.open_class_map(data_root / strzegom_test.mask)
    assert round(metrics.overall_accuracy(metrics.confusion_matrix(strzegom, mask_tif)[0]), 3) == 0.916
    kolbuszowa = data.test_scene("kolbuszowa")
    matrix, codes = metrics.confusion_matrix(
        rasters.open_class_map(data_root / kolbuszowa.published_prediction), rasters.open_class_map(data_root / kolbuszowa.mask)
    )
    assert codes == KOLBUSZOWA_LABELS
    np.testing.assert_array_equal(matrix, KOLBUSZOWA)


def test_cli_json_reproduces_strzegom(data_root, capsys):
    code = cli.main(
        [
            "accuracy", "--classified", str(data_root / "accuracy_analysis/strzegom_20230709_33u_class.tif"),
            "--reference", str(data_root / "test_mask/strzegom_ref.gpkg"), "--field", "label",
            "--exclude-predicted", "6", "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["labels"] == STRZEGOM_LABELS
    assert result["matrix"] == STRZEGOM
    assert _printed(result["overall_accuracy"], 0.9464, 4)
    assert set(result["per_class"]["1"]) == {"ACC", "TNR", "PA", "UA", "F1"}
    assert result["per_class"]["1"]["PA"] == pytest.approx(1202 / 1753)  # standard: diag / column sum
    assert _printed([result["paper_reading"]["mean"][k] for k in metrics.METRICS], STRZEGOM_TABLE["Mean"], 4)
    assert _printed(result["mean"]["F1"], 0.8707, 4)


def test_cli_table_reproduces_kolbuszowa(data_root, capsys):
    code = cli.main(
        [
            "accuracy", "--classified", str(data_root / "accuracy_analysis/kolbuszowa_20210725_34u_class.tif"),
            "--reference", str(data_root / "test_mask/kolbuszowa_20210725_ref.tif"), "--reading", "paper",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "OA = 0.9311" in out
    assert "0.9928" in out  # paper's PA of class 1 (diag / row sum)
    assert "rows = classified" in out


def _write_mask(path, values, like):
    profile = {"driver": "GTiff", "height": values.shape[0], "width": values.shape[1], "count": 1,
               "dtype": "uint8", "crs": like.rio.crs, "transform": like.rio.transform()}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values.astype(np.uint8), 1)


def test_cli_refuses_bad_input(data_root, tmp_path, capsys):
    strzegom_map = data_root / "accuracy_analysis/strzegom_20230709_33u_class.tif"
    like = rasters.open_class_map(strzegom_map)
    outside = np.zeros(like.shape, dtype=np.uint8)
    outside[:5, :5] = 12
    _write_mask(tmp_path / "codes.tif", outside, like)
    _write_mask(tmp_path / "empty.tif", np.zeros(like.shape, dtype=np.uint8), like)
    cases = {
        str(data_root / "test_mask/kolbuszowa_20210725_ref.tif"): "not on the same grid",
        str(tmp_path / "codes.tif"): "unknown class codes 12",
        str(tmp_path / "empty.tif"): "empty overlap",
        str(data_root / "test_mask/kolbuszowa_ref.gpkg"): "no polygon overlaps",
    }
    for reference, message in cases.items():
        assert cli.main(["accuracy", "--classified", str(strzegom_map), "--reference", reference]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
