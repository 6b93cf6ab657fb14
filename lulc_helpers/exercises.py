"""Write-it-yourself exercises: a learner's function checked against the package's own on generated cases.

`check(EXERCISE, learner_function)` runs both on every case of the exercise (edge cases included: empty
classes, a class absent from the map, no-data pixels), prints ONE line and returns the function the rest of
the notebook uses: the learner's when it passed, the package's otherwise. The line is one of

    <title>: passed (N generated cases)
    <title>: not yet written; the notebook goes on with the package's version
    <title>: differs on <case>: <what differs>. Hint: <hint>

A stub that raises NotImplementedError (nbgrader's `raise NotImplementedError()`) or returns None is "not yet
written". In an interactive run a check never raises, so Run All works with an empty stub. Under grading a
check that did not pass raises AssertionError, so nbgrader scores it 0: grading is on while nbgrader's
autograder or validator runs (both set NBGRADER_EXECUTION) or when LULC_GRADING=1.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor the generated rasters need)
import xarray as xr

from . import classical, data, indices, inference, labels, losses, metrics, scheme, screening

GRADING_ENV = "LULC_GRADING"
PASSED, NOT_WRITTEN, DIFFERS = "passed", "not yet written", "differs"
_CRS = "EPSG:32633"  # UTM 33N, the Strzegom scene's: metres, so areas in hectares are defined
_PIXEL_M = 10.0


def grading() -> bool:
    """True under nbgrader's autograder or validator, or with LULC_GRADING=1."""
    return bool(os.environ.get("NBGRADER_EXECUTION")) or os.environ.get(GRADING_ENV) == "1"


@dataclass(frozen=True)
class Case:
    description: str
    args: tuple


@dataclass(frozen=True)
class Exercise:
    """What a learner writes (`title`), the package's version of it, the cases and the hint.

    `names` labels the parts of a tuple result (("PA", "UA", "F1")); `mistakes` pairs a known wrong version
    with what to tell a learner whose result matches it, a sharper hint than the general one.
    """

    title: str
    reference: Callable
    cases: Callable[[], list[Case]]
    hint: str
    names: Sequence[str] = ()
    mistakes: Sequence[tuple[Callable, str]] = ()
    rtol: float = 1e-6
    atol: float = 1e-9


def verdict(exercise: Exercise, learner: Callable) -> tuple[str, str]:
    """(status, the one line) of `learner` on every case of `exercise`."""
    cases = exercise.cases()
    for case in cases:
        try:
            got = learner(*copy.deepcopy(case.args))
        except NotImplementedError:
            return NOT_WRITTEN, f"{exercise.title}: {NOT_WRITTEN}; the notebook goes on with the package's version"
        except Exception as error:  # noqa: BLE001  (any error of the learner's code is reported, not raised)
            return DIFFERS, f"{exercise.title}: differs on {case.description}: your function raised " \
                            f"{type(error).__name__}: {error}. Hint: {exercise.hint}"
        if got is None:
            return NOT_WRITTEN, f"{exercise.title}: {NOT_WRITTEN} (it returns None); " \
                                "the notebook goes on with the package's version"
        expected = exercise.reference(*copy.deepcopy(case.args))
        difference = _difference(got, expected, exercise)
        if difference:
            return DIFFERS, f"{exercise.title}: differs on {case.description}: {difference}. Hint: " \
                            f"{_hint(exercise, case, got)}"
    return PASSED, f"{exercise.title}: {PASSED} ({len(cases)} generated cases, edge cases included)"


def check(exercise: Exercise, learner: Callable) -> Callable:
    """Print the verdict's line; return `learner` if it passed, else the package's version. Under grading
    (`grading()`) anything but a pass raises AssertionError with the same line."""
    status, line = verdict(exercise, learner)
    print(line)
    if status != PASSED and grading():
        raise AssertionError(line)
    return learner if status == PASSED else exercise.reference


def _hint(exercise: Exercise, case: Case, got) -> str:
    for wrong, hint in exercise.mistakes:
        if not _difference(got, wrong(*copy.deepcopy(case.args)), exercise):
            return hint
    return exercise.hint


def _plain(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _difference(got, expected, exercise: Exercise) -> str | None:
    """What differs between the learner's result and the expected one, in words; None if they agree."""
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected {len(expected)} results ({', '.join(exercise.names)}), got {type(got).__name__}"
        names = exercise.names or [f"result {i + 1}" for i in range(len(expected))]
        for name, mine, theirs in zip(names, got, expected):
            difference = _array_difference(mine, theirs, exercise, name)
            if difference:
                return difference
        return None
    return _array_difference(got, expected, exercise, "the result")


def _array_difference(got, expected, exercise: Exercise, name: str) -> str | None:
    try:
        mine = _plain(got)
    except (TypeError, ValueError):
        return f"{name} is a {type(got).__name__}, not numbers"
    theirs = _plain(expected)
    if mine.shape != theirs.shape:
        return f"{name} has shape {mine.shape}, expected {theirs.shape}"
    nan_mine, nan_theirs = np.isnan(mine), np.isnan(theirs)
    close = np.isclose(mine, theirs, rtol=exercise.rtol, atol=exercise.atol) | (nan_mine & nan_theirs)
    if close.all():
        return None
    where = tuple(int(i) for i in np.argwhere(~close)[0])
    at = f"[{', '.join(map(str, where))}]" if where else ""
    wrong = int((~close).sum())
    also = f" ({wrong} values differ)" if wrong > 1 else ""
    return f"{name}{at} is {mine[where]:.6g}, expected {theirs[where]:.6g}{also}"


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- 01: a spectral index from stored bands


def _index_reference(first, second, date: str):
    image = xr.DataArray(np.stack([first, second]), dims=("band", "y", "x"), coords={"band": ["first", "second"]},
                         attrs={"date": date}).rio.write_crs(_CRS)
    return indices.normalized_difference(data.reflectance(image), "first", "second").values


def _index_cases() -> list[Case]:
    rng = _rng(1)
    first, second = (rng.integers(1001, 6000, (6, 7)).astype(np.uint16) for _ in range(2))
    nodata = first.copy()
    nodata[0, :3] = 0  # no data in one band: the index is NaN there
    equal = np.full((2, 2), data.BOA_ADD_OFFSET, dtype=np.uint16)  # both reflectances 0 after the offset
    return [
        Case("a 2023 scene (offset removed)", (first, second, "20230709")),
        Case("a 2021 scene (no offset)", (first, second, "20210901")),
        Case("the first day of the offset, 2022-01-25", (first, second, data.BOA_OFFSET_SINCE)),
        Case("a band with no-data pixels (0)", (nodata, second, "20220719")),
        Case("both bands at the offset (0 / 0)", (equal, equal, "20230709")),
    ]


def _index_without_offset(first, second, date):
    a, b = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((a > 0) & (b > 0), (a - b) / (a + b), np.nan)


SPECTRAL_INDEX = Exercise(
    title="01 normalised difference from stored L2A bands",
    reference=_index_reference,
    cases=_index_cases,
    hint=f"subtract the offset ({data.BOA_ADD_OFFSET}) from scenes acquired on or after {data.BOA_OFFSET_SINCE} "
         "(compare the date strings), divide by 10000, make stored 0 NaN, and return NaN where the two "
         "reflectances sum to 0",
    mistakes=[(_index_without_offset, "this is the index of the stored numbers: remove the L2A offset first "
                                      "(the normalised difference cancels a scale, not an offset)")],
)


# ---------------------------------------------------------------- 02: balanced class weights


def _weights_cases() -> list[Case]:
    rng = _rng(2)
    counts = np.zeros(len(scheme.CLASSES) + 1, dtype=np.int64)
    counts[1:] = rng.integers(100, 100_000, len(scheme.CLASSES))
    absent = counts.copy()
    absent[[6, 10]] = 0  # grassland and quarries absent, as on some dates
    unlabelled = counts.copy()
    unlabelled[scheme.NODATA] = 500_000
    single = np.zeros_like(counts)
    single[3] = 42
    return [
        Case("every class present", (counts,)),
        Case("two classes absent", (absent,)),
        Case("unlabelled pixels counted at index 0", (unlabelled,)),
        Case("only one class present", (single,)),
    ]


def _weights_over_all_classes(counts):
    counts = np.asarray(counts, dtype=np.float64)
    weights = np.zeros_like(counts)
    present = counts[1:] > 0
    weights[1:][present] = counts[1:].sum() / ((len(counts) - 1) * counts[1:][present])
    return weights


CLASS_WEIGHTS = Exercise(
    title="02 balanced class weights",
    reference=labels.class_weights,
    cases=_weights_cases,
    hint="w_c = N / (K n_c) with N the labelled pixels (leave index 0 out), K the number of classes PRESENT, "
         "and weight 0 for index 0 and for absent classes",
    mistakes=[(_weights_over_all_classes, "K is the number of classes present, not all ten: "
                                          "with a class absent every weight is too small")],
)


# ---------------------------------------------------------------- 03: the focal loss


def _focal_reference(logits, codes, gamma, weight):
    return losses.FocalLoss(gamma=gamma, weight=weight)(logits, codes)


def _focal_cases() -> list[Case]:
    import torch

    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 4, 5, 5, generator=generator)
    codes = torch.randint(0, 5, (2, 5, 5), generator=generator)  # 0: unlabelled, 1-4: classes
    codes[0, 0, :] = 0
    weight = np.array([0.0, 0.5, 1.0, 2.0, 4.0])
    absent = codes.clone()
    absent[absent == 4] = 2
    no_fourth = weight.copy()
    no_fourth[4] = 0.0
    return [
        Case("gamma 2, no class weights", (logits, codes, 2.0, None)),
        Case("gamma 0 with class weights (weighted cross-entropy)", (logits, codes, 0.0, weight)),
        Case("gamma 2 with class weights", (logits, codes, 2.0, weight)),
        Case("a class absent, its weight 0", (logits, absent, 1.5, no_fourth)),
        Case("a batch with no labelled pixel", (logits, torch.zeros_like(codes), 2.0, weight)),
    ]


def _focal_plain_mean(logits, codes, gamma, weight):
    import torch

    labelled = codes != scheme.NODATA
    if not labelled.any():
        return torch.tensor(0.0)
    log_p = torch.log_softmax(logits, dim=1).movedim(1, -1)[labelled]
    target = codes[labelled].long()
    log_pt = log_p.gather(1, (target - 1).unsqueeze(1)).squeeze(1)
    w = torch.ones_like(log_pt) if weight is None else torch.as_tensor(weight, dtype=torch.float32)[target]
    return (-w * (1 - log_pt.exp()) ** gamma * log_pt).mean()


FOCAL_LOSS = Exercise(
    title="03 focal loss",
    reference=_focal_reference,
    cases=_focal_cases,
    hint="keep only pixels whose code is not 0; channel k of the logits is class k + 1; "
         "FL = -(1 - p_t)**gamma log p_t; with weights, divide sum(w_t FL) by sum(w_t), not by the pixel count; "
         "a batch with no labelled pixel gives 0",
    mistakes=[(_focal_plain_mean, "with class weights the loss is a weighted MEAN: divide by the sum of the "
                                  "pixels' weights, not by their number")],
    rtol=1e-5,
    atol=1e-6,
)


# ---------------------------------------------------------------- 04: a Random Forest on sampled pixels


def _forest_reference(points, values, seed):
    return classical.classify_values(classical.fit("rf", points, seed), values)


def _forest_cases() -> list[Case]:
    rng = _rng(4)
    bands = len(data.BANDS)

    def cluster(class_id: int, n: int) -> np.ndarray:
        return rng.normal(0.05 * class_id, 0.03, (n, bands))

    def points(classes) -> pd.DataFrame:
        rows = np.concatenate([cluster(c, 40) for c in classes])
        frame = pd.DataFrame(rows.astype(np.float32), columns=list(data.BANDS))
        frame["label"] = np.repeat(np.asarray(classes, dtype=np.uint8), 40)
        return frame

    image = np.concatenate([cluster(c, 64) for c in (1, 3, 10)]).T.reshape(bands, 12, 16).astype(np.float32)
    holes = image.copy()
    holes[:, :3, :] = np.nan  # the image's edge, outside the swath
    holes[4, 5, 5] = np.nan  # one band missing in one pixel
    empty = np.full((bands, 4, 4), np.nan, dtype=np.float32)
    return [
        Case("three classes, every pixel with data", (points([1, 3, 10]), image, 42)),
        Case("no-data pixels (NaN in a band)", (points([1, 3, 10]), holes, 42)),
        Case("a class of the image absent from the points", (points([1, 10]), holes, 7)),
        Case("an image with no pixel of data", (points([1, 3, 10]), empty, 42)),
    ]


def _forest_classifying_nodata(points, values, seed):
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=classical.RF_TREES, random_state=seed)
    model.fit(points[list(data.BANDS)].to_numpy(), points["label"].to_numpy())
    pixels = np.nan_to_num(values.reshape(len(data.BANDS), -1).T)
    return model.predict(pixels).reshape(values.shape[1:])


RANDOM_FOREST = Exercise(
    title="04 Random Forest map",
    reference=_forest_reference,
    cases=_forest_cases,
    hint=f"RandomForestClassifier(n_estimators={classical.RF_TREES}, random_state=seed) fitted on the ten band "
         "columns and `label`; predict only pixels with a value in every band (reshape to pixels x bands), "
         "and leave 0 elsewhere, also when no pixel has data",
    mistakes=[(_forest_classifying_nodata, "pixels with no data got a class: predict only where every band "
                                           "has a value and leave 0 (no data) elsewhere")],
)


# ---------------------------------------------------------------- 05: PA, UA and F1 from a confusion matrix


def _pa_ua_f1_reference(matrix, reading):
    table = metrics.per_class(matrix, range(1, len(matrix) + 1), reading)
    return tuple(table[name].to_numpy() for name in ("PA", "UA", "F1"))


def _pa_ua_f1_cases() -> list[Case]:
    rng = _rng(5)
    matrix = rng.integers(0, 40, (4, 4)) + np.diag(rng.integers(50, 200, 4))
    no_reference = matrix.copy()
    no_reference[:, 2] = 0  # class 3 is in no reference pixel (rows = classified)
    no_map = matrix.copy()
    no_map[1, :] = 0  # class 2 is absent from the map
    paper = np.asarray(metrics.PAPER_THREE_CLASS_ACTUAL_ROWS)
    return [
        Case("a 4-class matrix, rows = classified (standard)", (matrix, metrics.STANDARD)),
        Case("the same matrix, rows = reference (paper)", (matrix, metrics.PAPER)),
        Case("the paper's 3-class example, rows = reference", (paper, metrics.PAPER)),
        Case("a class absent from the reference (0 / 0 is NaN)", (no_reference, metrics.STANDARD)),
        Case("a class absent from the map (0 / 0 is NaN)", (no_map, metrics.STANDARD)),
    ]


def _pa_ua_swapped(matrix, reading):
    pa, ua, f1 = _pa_ua_f1_reference(matrix, reading)
    return ua, pa, f1


PA_UA_F1 = Exercise(
    title="05 PA, UA and F1",
    reference=_pa_ua_f1_reference,
    cases=_pa_ua_f1_cases,
    names=("PA", "UA", "F1"),
    hint="PA = diagonal / REFERENCE total, UA = diagonal / MAP total; with reading 'standard' rows are the map, "
         "with 'paper' rows are the reference; 0 / 0 is NaN",
    mistakes=[(_pa_ua_swapped, "PA and UA are swapped: PA divides by the reference total of the class, "
                               "UA by its map total; check which axis is the reference for this reading")],
)


# ---------------------------------------------------------------- 06: quarry polygons and their area


def _raster(values: np.ndarray) -> xr.DataArray:
    height, width = values.shape
    x = 300_000 + _PIXEL_M * (np.arange(width) + 0.5)
    y = 5_650_000 - _PIXEL_M * (np.arange(height) + 0.5)
    return xr.DataArray(values.astype(np.uint8), dims=("y", "x"), coords={"y": y, "x": x}).rio.write_crs(_CRS)


def _quarry_reference(classified, min_area_ha):
    return screening.quarry_polygons(classified, min_area_ha)["area_ha"].to_numpy()


def _quarry_cases() -> list[Case]:
    rng = _rng(6)
    values = rng.choice([1, 3, 9], (40, 50))
    values[2:12, 3:20] = scheme.QUARRY  # 170 pixels: 1.7 ha
    values[20:24, 30:34] = scheme.QUARRY  # 0.16 ha
    values[24:27, 34:37] = scheme.QUARRY  # touches the one above at a corner only: one 8-connected patch
    values[35:37, 5:7] = scheme.QUARRY  # 0.04 ha
    values[:, -3:] = scheme.NODATA
    none = values.copy()
    none[none == scheme.QUARRY] = 1
    return [
        Case("three patches, one of two squares touching at a corner, min 0 ha", (_raster(values), 0.0)),
        Case("the same map, min 0.25 ha (the corner-touching patch is 0.25 ha)", (_raster(values), 0.25)),
        Case("the same map, min 0.5 ha", (_raster(values), 0.5)),
        Case("a map with no quarry", (_raster(none), 0.0)),
    ]


def _quarry_four_connected(classified, min_area_ha):
    from scipy import ndimage

    patches, count = ndimage.label(np.asarray(classified.values) == scheme.QUARRY)
    pixel_ha = abs(np.prod(classified.rio.resolution())) / 10_000
    areas = np.bincount(patches.ravel(), minlength=count + 1)[1:] * pixel_ha
    return np.sort(areas[areas >= min_area_ha])[::-1]


QUARRY_AREAS = Exercise(
    title="06 quarry patches and their areas",
    reference=_quarry_reference,
    cases=_quarry_cases,
    hint="label the quarry pixels (class 10) as 8-connected patches (scipy.ndimage.label with a 3 x 3 structure "
         "of ones), area = pixels x pixel area (from classified.rio.resolution(), m² / 10 000 = ha), keep patches "
         "of at least min_area_ha, largest first",
    mistakes=[(_quarry_four_connected, "two squares touching at a corner are one patch here: use 8-connectivity "
                                       "(structure=np.ones((3, 3)))")],
)


# ---------------------------------------------------------------- 07: the stratified area estimate


def _area_reference(counts, mapped_areas):
    table = metrics.stratified_estimates(counts, mapped_areas).table
    return table["area"].to_numpy(), table["area_ci"].to_numpy()


def _area_cases() -> list[Case]:
    rng = _rng(7)
    counts = rng.integers(0, 6, (4, 4)) + np.diag(rng.integers(20, 60, 4))
    areas = rng.integers(1_000, 50_000, 4).astype(float)
    unmapped = counts.copy()
    unmapped[2, :] = 0  # class 3 found only in the reference: no mapped area, no sample units
    unmapped_areas = areas.copy()
    unmapped_areas[2] = 0.0
    no_reference = counts.copy()
    no_reference[:, 1] = 0  # no sample point of class 2 in the reference
    return [
        Case("Olofsson et al. (2014)'s example", (np.asarray(metrics.OLOFSSON_COUNTS), metrics.OLOFSSON_MAPPED_AREAS)),
        Case("a generated 4-class sample", (counts, areas)),
        Case("a class absent from the map (no area, no points)", (unmapped, unmapped_areas)),
        Case("a class no point found in the reference", (no_reference, areas)),
    ]


def _area_standard_error(counts, mapped_areas):
    area, half_width = _area_reference(counts, mapped_areas)
    return area, half_width / 1.96


AREA_ESTIMATE = Exercise(
    title="07 stratified area estimate",
    reference=_area_reference,
    cases=_area_cases,
    names=("area", "95% half-width"),
    hint="W_i = A_i / sum(A); p_ij = W_i n_ij / n_i.; area_j = sum(A) * sum_i p_ij; "
         "SE(p_.j) = sqrt(sum_i (W_i p_ij - p_ij²) / (n_i. - 1)); half-width = 1.96 * SE * sum(A); "
         "a row with no mapped area weighs 0",
    mistakes=[(_area_standard_error, "this is the standard error: the 95% interval's half-width is 1.96 times it")],
)


# ---------------------------------------------------------------- 08: cutting a raster into blocks


def _blocks_reference(height, width, size):
    return np.asarray(inference.blocks(height, width, size), dtype=np.int64).reshape(-1, 2, 2)


def _blocks_cases() -> list[Case]:
    return [
        Case("1000 x 700 pixels, blocks of 256 (partial blocks at the edges)", (1000, 700, 256)),
        Case("512 x 512 pixels, blocks of 256 (an exact fit)", (512, 512, 256)),
        Case("300 x 200 pixels, blocks of 1024 (one block smaller than the size)", (300, 200, 1024)),
        Case("10980 x 10980 pixels (a Sentinel-2 tile), blocks of 1024", (10980, 10980, 1024)),
    ]


def _blocks_unclipped(height, width, size):
    return np.asarray([((r, r + size), (c, c + size)) for r in range(0, height, size) for c in range(0, width, size)])


BLOCKS = Exercise(
    title="08 blocks of a raster",
    reference=_blocks_reference,
    cases=_blocks_cases,
    hint="((row, row end), (col, col end)) for row in range(0, height, size) and col in range(0, width, size), "
         "row by row; the last block of a row or column ends at the raster's edge",
    mistakes=[(_blocks_unclipped, "the blocks at the right and bottom edges reach beyond the raster: "
                                  "end them at min(start + size, height or width)")],
)
