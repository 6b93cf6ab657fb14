"""The public land-cover benchmarks the paper reviews (Section 2.1), and whether they have a mining class.

Figures are from the paper and the datasets' own publications (references there: EuroSAT [32],
LandCoverNet [56,57], BigEarthNet/reBEN [58,59], MultiSenNA [60,61], SeasoNet [62,63]; CORINE
Land Cover 2018 from the Copernicus Land Monitoring Service).
"""

from __future__ import annotations

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
    return pd.DataFrame(BENCHMARKS).set_index("dataset")
