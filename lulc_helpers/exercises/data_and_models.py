"""The exercises of notebooks 01-04: a spectral index, class weights, the focal loss, a Random Forest map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor the generated rasters need)
import xarray as xr

from .. import classical, labels, rasters, scheme, spectral, unet
from .engine import UTM_CRS, Case, Exercise


# ---------------------------------------------------------------- 01: a spectral index from stored bands


def _index_reference(first, second, date: str):
    image = xr.DataArray(np.stack([first, second]), dims=("band", "y", "x"), coords={"band": ["first", "second"]},
                         attrs={"date": date}).rio.write_crs(UTM_CRS)
    return spectral.normalized_difference(rasters.reflectance(image), "first", "second").values


def _index_cases() -> list[Case]:
    rng = np.random.default_rng(1)
    first, second = (rng.integers(1001, 6000, (6, 7)).astype(np.uint16) for _ in range(2))
    nodata = first.copy()
    nodata[0, :3] = 0  # no data in one band: the index is NaN there
    equal = np.full((2, 2), rasters.BOA_ADD_OFFSET, dtype=np.uint16)  # both reflectances 0 after the offset
    return [
        Case("a 2023 scene (offset removed)", (first, second, "20230709")),
        Case("a 2021 scene (no offset)", (first, second, "20210901")),
        Case("the first day of the offset, 2022-01-25", (first, second, rasters.BOA_OFFSET_SINCE)),
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
    hint=f"subtract the offset ({rasters.BOA_ADD_OFFSET}) from scenes acquired on or after {rasters.BOA_OFFSET_SINCE} "
         "(compare the date strings), divide by 10000, make stored 0 NaN, and return NaN where the two "
         "reflectances sum to 0",
    mistakes=[(_index_without_offset, "this is the index of the stored numbers: remove the L2A offset first "
                                      "(the normalised difference cancels a scale, not an offset)")],
)


# ---------------------------------------------------------------- 02: balanced class weights


def _weights_cases() -> list[Case]:
    rng = np.random.default_rng(2)
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
    return unet.FocalLoss(gamma=gamma, weight=weight)(logits, codes)


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
    rng = np.random.default_rng(4)
    bands = len(rasters.BANDS)

    def cluster(class_id: int, n: int) -> np.ndarray:
        return rng.normal(0.05 * class_id, 0.03, (n, bands))

    def points(classes) -> pd.DataFrame:
        rows = np.concatenate([cluster(c, 40) for c in classes])
        frame = pd.DataFrame(rows.astype(np.float32), columns=list(rasters.BANDS))
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
    model.fit(points[list(rasters.BANDS)].to_numpy(), points["label"].to_numpy())
    pixels = np.nan_to_num(values.reshape(len(rasters.BANDS), -1).T)
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

