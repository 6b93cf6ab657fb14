"""The paper's 10-class mining-aware land-cover scheme (Section 2.2), in one table.

Code 0 means unlabelled / nodata everywhere in this package. Names and colours follow
the README of the data repository bh-del/lulc_mining.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

NODATA = 0


@dataclass(frozen=True)
class LandCoverClass:
    id: int
    key: str
    name: str
    colour: str


CLASSES: tuple[LandCoverClass, ...] = (
    LandCoverClass(1, "conifer_forest", "Conifer forest", "#2e8b57"),
    LandCoverClass(2, "mixed_forest", "Mixed forest", "#3cb371"),
    LandCoverClass(3, "urban", "Urban", "#8b0000"),
    LandCoverClass(4, "crops_before_harvest", "Crops before harvest / early spring", "#deb887"),
    LandCoverClass(5, "bare_soil", "Bare soil", "#a0522d"),
    LandCoverClass(6, "permanent_grassland", "Permanent grassland", "#32cd32"),
    LandCoverClass(7, "roads", "Roads", "#808080"),
    LandCoverClass(8, "water", "Water", "#1e90ff"),
    LandCoverClass(9, "crops_vegetation_stage", "Crops in vegetation stage", "#228b22"),
    LandCoverClass(10, "quarries", "Quarries, open pits", "#696969"),
)

CLASS_IDS: tuple[int, ...] = tuple(c.id for c in CLASSES)
QUARRY = 10
_BY_ID = {c.id: c for c in CLASSES}


class UnknownClassError(ValueError):
    """Raised when a raster or table holds codes outside 0..10."""


def get(class_id: int) -> LandCoverClass:
    try:
        return _BY_ID[int(class_id)]
    except KeyError:
        raise UnknownClassError(f"class {class_id} is not in the scheme (valid: {list(CLASS_IDS)})") from None


def names(ids: Iterable[int] | None = None) -> list[str]:
    return [get(i).name for i in (CLASS_IDS if ids is None else ids)]


def colours(ids: Iterable[int] | None = None) -> list[str]:
    return [get(i).colour for i in (CLASS_IDS if ids is None else ids)]


def rgb(class_id: int) -> tuple[int, int, int]:
    hex_colour = get(class_id).colour.lstrip("#")
    return tuple(int(hex_colour[i : i + 2], 16) for i in (0, 2, 4))


def legend_dict(ids: Iterable[int] | None = None) -> dict[str, str]:
    """`{"1 Conifer forest": "2e8b57", ...}`, the form geemap's add_legend takes."""
    return {f"{c} {get(c).name}": get(c).colour.lstrip("#") for c in (CLASS_IDS if ids is None else ids)}


def colormap():
    """A matplotlib (cmap, norm) pair mapping code k to the scheme's colour; 0 is transparent."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    cmap = ListedColormap(["#00000000", *colours()], name="lulc_scheme")
    norm = BoundaryNorm(np.arange(-0.5, len(CLASSES) + 1.5), cmap.N)
    return cmap, norm


def gdal_colour_table() -> dict[int, tuple[int, int, int, int]]:
    """Colour table for rasterio's `write_colormap` (0 transparent, 1..10 in the scheme's colours)."""
    table = {NODATA: (0, 0, 0, 0)}
    table.update({c.id: (*rgb(c.id), 255) for c in CLASSES})
    return table


def validate_codes(values: np.ndarray, source: str) -> None:
    """Raise UnknownClassError naming `source` if `values` holds codes outside 0..10."""
    present = np.unique(np.asarray(values))
    unknown = [v for v in present.tolist() if v != NODATA and v not in _BY_ID]
    if unknown:
        shown = ", ".join(str(v) for v in unknown[:10])
        raise UnknownClassError(
            f"{source}: unknown class codes {shown} (the scheme has 0 = unlabelled and {CLASS_IDS[0]}..{CLASS_IDS[-1]})"
        )
