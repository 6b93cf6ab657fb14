"""The exercises of notebooks 05-08: PA, UA and F1, quarry areas, the stratified area estimate, raster blocks."""

from __future__ import annotations

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor the generated rasters need)
import xarray as xr

from .. import metrics, paper, scheme, screening, streaming
from .engine import UTM_CRS, Case, Exercise


# ---------------------------------------------------------------- 05: PA, UA and F1 from a confusion matrix


def _pa_ua_f1_reference(matrix, reading):
    table = metrics.per_class(matrix, range(1, len(matrix) + 1), reading)
    return tuple(table[name].to_numpy() for name in ("PA", "UA", "F1"))


def _pa_ua_f1_cases() -> list[Case]:
    rng = np.random.default_rng(5)
    matrix = rng.integers(0, 40, (4, 4)) + np.diag(rng.integers(50, 200, 4))
    no_reference = matrix.copy()
    no_reference[:, 2] = 0  # class 3 is in no reference pixel (rows = classified)
    no_map = matrix.copy()
    no_map[1, :] = 0  # class 2 is absent from the map
    printed = np.asarray(paper.PAPER_THREE_CLASS_ACTUAL_ROWS)
    return [
        Case("a 4-class matrix, rows = classified (standard)", (matrix, metrics.STANDARD)),
        Case("the same matrix, rows = reference (paper)", (matrix, metrics.PAPER)),
        Case("the paper's 3-class example, rows = reference", (printed, metrics.PAPER)),
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


PIXEL_M = 10.0  # the generated maps' pixel side, as Sentinel-2's 10 m bands


def _raster(values: np.ndarray) -> xr.DataArray:
    height, width = values.shape
    x = 300_000 + PIXEL_M * (np.arange(width) + 0.5)
    y = 5_650_000 - PIXEL_M * (np.arange(height) + 0.5)
    return xr.DataArray(values.astype(np.uint8), dims=("y", "x"), coords={"y": y, "x": x}).rio.write_crs(UTM_CRS)


def _quarry_reference(classified, min_area_ha):
    return screening.quarry_polygons(classified, min_area_ha)["area_ha"].to_numpy()


def _quarry_cases() -> list[Case]:
    rng = np.random.default_rng(6)
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
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 6, (4, 4)) + np.diag(rng.integers(20, 60, 4))
    areas = rng.integers(1_000, 50_000, 4).astype(float)
    unmapped = counts.copy()
    unmapped[2, :] = 0  # class 3 found only in the reference: no mapped area, no sample units
    unmapped_areas = areas.copy()
    unmapped_areas[2] = 0.0
    no_reference = counts.copy()
    no_reference[:, 1] = 0  # no sample point of class 2 in the reference
    return [
        Case("Olofsson et al. (2014)'s example", (np.asarray(paper.OLOFSSON_COUNTS), paper.OLOFSSON_MAPPED_AREAS)),
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
    return np.asarray(streaming.blocks(height, width, size), dtype=np.int64).reshape(-1, 2, 2)


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
