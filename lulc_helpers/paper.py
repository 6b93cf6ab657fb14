"""Every number the paper publishes that the package compares with, and the other published numbers it checks.

Hejmanowska et al. (2025), Appl. Sci. 15, 9785: the benchmark datasets it reviews (Section 2.1, with figures
from the datasets' own publications: EuroSAT [32], LandCoverNet [56,57], BigEarthNet/reBEN [58,59],
MultiSenNA [60,61], SeasoNet [62,63]; CORINE Land Cover 2018 from the Copernicus Land Monitoring Service),
the U-Net tables (Section 3.1), the worked metric examples (Section 2.5), the training sweep (the training-settings
table, Section 2.3.1), the GEE classifiers' tables and overall accuracies (Section 3.2). The text we work from
numbers no table, so tables are named here by what they hold. Also Olofsson et al. (2014), the worked example of stratified
area estimation that `metrics.stratified_estimates` reproduces. Nothing here is computed.
"""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pandas as pd

BENCHMARKS = (
    {
        "dataset": "EuroSAT",
        "classes": 10,
        "detail": "level 1",
        "area": "10 European countries",
        "samples": "27,000 patches of 64x64 px, Sentinel-2, 13 bands",
        "mining class": "none",
    },
    {
        "dataset": "LandCoverNet",
        "classes": 7,
        "detail": "level 1",
        "area": "global",
        "samples": "Sentinel-2 time series, 256x256 px chips",
        "mining class": "none (only 'bare ground artificial / natural')",
    },
    {
        "dataset": "BigEarthNet (reBEN v2.0)",
        "classes": 19,
        "detail": "level 3 (from CORINE 2018)",
        "area": "the 10 EuroSAT countries",
        "samples": "549,488 Sentinel-1/2 patch pairs",
        "mining class": "none",
    },
    {
        "dataset": "MultiSenNA",
        "classes": 14,
        "detail": "level 3",
        "area": "eastern France",
        "samples": "8,157 Sentinel-1/2 patches",
        "mining class": "class 12 'Open space, mineral' (France only)",
    },
    {
        "dataset": "SeasoNet",
        "classes": 33,
        "detail": "level 3 (from CORINE / LBM-DE 2018)",
        "area": "Germany",
        "samples": "1,759,830 Sentinel-2 patches, four seasons + snow",
        "mining class": "class 7 'Mineral extraction sites' (Germany only)",
    },
    {
        "dataset": "CORINE Land Cover 2018",
        "classes": 44,
        "detail": "level 3 (5 / 15 / 44 classes at levels 1 / 2 / 3)",
        "area": "Europe (EEA member and cooperating countries)",
        "samples": "vector map, 25 ha minimum mapping unit",
        "mining class": "131 'Mineral extraction sites' (but 25 ha MMU, 6-year updates)",
    },
    {
        "dataset": "This study (mining-aware scheme)",
        "classes": 10,
        "detail": "task-specific",
        "area": "Poland: Strzegom, Kolbuszowa, Krakow",
        "samples": "Sentinel-2 scenes, 10 bands, pixel masks",
        "mining class": "class 10 'Quarries, open pits'",
    },
)


def benchmark_table() -> pd.DataFrame:
    """The benchmark datasets the paper reviews (Section 2.1), one row each.

    Returns
    -------
    pandas.DataFrame
        BENCHMARKS indexed by dataset name.
    """
    return pd.DataFrame(BENCHMARKS).set_index("dataset")


# The U-Net tables as the paper prints them (Section 3.1, Strzegom and Kolbuszowa: ACC, TNR, PA, UA, F1 per class, then Mean),
# in the paper's reading; its OA: Strzegom 0.9464, Kolbuszowa 0.9311.
PAPER_UNET_TABLES = {
    "strzegom": {
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
        "Overall": (0.9464, None, None, None, None),
    },
    "kolbuszowa": {
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
        "Overall": (0.9311, None, None, None, None),
    },
}


# The U-Net's Strzegom figures as the text of Section 3.3 states them (its table prints OA 0.9464).
PAPER_UNET_TEXT = {"OA": 0.9460, "mean PA": 0.9207, "mean UA": 0.8404, "mean F1": 0.8707}


# The paper's worked examples (Section 2.5): the binary case as printed (TP 40, FN 10, FP 5, TN 45) and the
# 3-class case (rows = actual A, B, C as printed) with its printed per-class table (ACC, TNR, PA, UA, F1).
PAPER_BINARY_COUNTS = {"TP": 40, "FN": 10, "FP": 5, "TN": 45}


PAPER_BINARY_RESULTS = {"ACC": 0.85, "TNR": 0.90, "PA": 0.80, "UA": 0.89, "F1": 0.84, "OA": 0.85}


PAPER_THREE_CLASS_ACTUAL_ROWS = [[30, 5, 5], [2, 28, 10], [3, 5, 22]]


PAPER_THREE_CLASS_TABLE = {
    "A": (0.864, 0.929, 0.750, 0.857, 0.799),
    "B": (0.800, 0.857, 0.700, 0.737, 0.718),
    "C": (0.791, 0.813, 0.733, 0.595, 0.655),
    "Mean": (0.818, 0.866, 0.728, 0.730, 0.724),
    "Overall": (0.7270, None, None, None, None),
}


# Olofsson et al. (2014), the worked example of Section 5: sample counts (rows = map class, columns = reference),
# mapped areas in pixels, and the published estimates for class 1 (value, 95 % half-width) and OA.
OLOFSSON_COUNTS = [[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]]


OLOFSSON_MAPPED_AREAS = [200000, 150000, 3200000, 6450000]


OLOFSSON_PUBLISHED = {"UA class 1": (0.88, 0.07), "PA class 1": (0.75, 0.21), "OA": (0.95, 0.02),
                      "area class 1 (pixels)": (235086, 68418)}


# The paper's sweep (its training-settings table): one training per weight decay, with and without class weights ("balance").
PAPER_SWEEP = {"weight_decays": (0.01, 0.001, 0.0001), "balances": (True, False)}


# Strzegom 2023-07-09, reference polygons (the paper's Strzegom U-Net table, PAPER_UNET_TABLES).
PAPER_STRZEGOM = {
    "OA": PAPER_UNET_TABLES["strzegom"]["Overall"][0],
    "macro F1": PAPER_UNET_TABLES["strzegom"]["Mean"][4],
}


PAPER_REGIONS = ("strzegom", "kolbuszowa", "krakow")  # Section 2.3.1, training and validation


# Class 6 is absent from the Strzegom reference; the paper leaves pixels classified as 6 out (docs/design.md, "Data").
PAPER_EXCLUDED = (6,)


# The paper's 280 GEE test points per reference class (Strzegom 20230709). Not printed in the paper:
# recovered from its CART/RF/SVM tables, where PA x count is a whole number for every classifier
# and the TNR column agrees (tests/test_classical.py checks both).
PAPER_TEST_COUNTS: dict[int, int] = {1: 10, 2: 35, 3: 70, 4: 70, 5: 5, 7: 20, 8: 20, 9: 30, 10: 20}


# The paper's three GEE classifiers (Section 2.3.2) and how tables name them.
METHODS: tuple[str, ...] = ("cart", "rf", "svm")
METHOD_NAMES = {"cart": "CART", "rf": "Random Forest", "svm": "SVM (linear)"}
PAPER_OA = {"cart": 0.7679, "rf": 0.8000, "svm": 0.7857}  # Section 3.2, on the 280 test points


def paper_gee_table(method: str) -> pd.DataFrame:
    """The paper's per-class table for a GEE classifier, as printed.

    Parameters
    ----------
    method : str
        "cart", "rf" or "svm".

    Returns
    -------
    pandas.DataFrame
        Columns ACC, TNR, PA, UA, F1; rows the classes 1..10 as printed, then Mean and Overall (NaN where the
        paper prints nothing).

    Raises
    ------
    ValueError
        For a method the paper has no table for.
    """
    text = resources.files(__package__).joinpath("paper_gee_tables.tsv").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    rows = [r for r in csv.DictReader(lines, delimiter="\t") if r["method"] == method]
    if not rows:
        raise ValueError(f"no paper table for {method!r}: choose one of {', '.join(METHODS)}")
    index = [int(r["class"]) if r["class"].isdigit() else r["class"] for r in rows]
    columns = ["ACC", "TNR", "PA", "UA", "F1"]
    values = [[float(r[c]) if r[c] else np.nan for c in columns] for r in rows]
    return pd.DataFrame(values, index=pd.Index(index, name="class", dtype=object), columns=columns)
