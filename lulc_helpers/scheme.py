"""The paper's 10-class mining-aware land-cover scheme (Section 2.2), in one table.

Code 0 means unlabelled / nodata everywhere in this package. Names follow the README of the
data repository bh-del/lulc_mining. Its colours (four greens, two greys) could not be told apart
by many readers, so the colours here are this project's: every two classes differ by CIELAB
dE76 >= 26 for normal vision and for simulated protanopia and deuteranopia (Machado et al. 2009,
severity 1), and by >= 19 for tritanopia, while keeping their meaning: forests dark greens, crops
yellow and yellow-green, grassland pale green, water blue, urban red, bare soil brown, roads grey,
quarries purple (the colour CORINE gives mineral extraction sites). tests/test_palette.py checks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .errors import UnknownClassError

NODATA = 0


@dataclass(frozen=True)
class LandCoverClass:
    """One class of the paper's mining-aware scheme (Section 2.2).

    Attributes
    ----------
    id : int
        The class code, 1..10.
    key : str
        A short identifier, e.g. "quarries".
    name : str
        The paper's name, e.g. "Quarries, open pits".
    colour : str
        This project's colour, "#rrggbb" (colour-blind safe, CIELAB dE >= 12 between any two).
    """

    id: int
    key: str
    name: str
    colour: str


CLASSES: tuple[LandCoverClass, ...] = (
    LandCoverClass(1, "conifer_forest", "Conifer forest", "#003826"),
    LandCoverClass(2, "mixed_forest", "Mixed forest", "#4d7758"),
    LandCoverClass(3, "urban", "Urban", "#aa0000"),
    LandCoverClass(4, "crops_before_harvest", "Crops before harvest / early spring", "#fef083"),
    LandCoverClass(5, "bare_soil", "Bare soil", "#bc8d4f"),
    LandCoverClass(6, "permanent_grassland", "Permanent grassland", "#80f0b0"),
    LandCoverClass(7, "roads", "Roads", "#aaadb5"),
    LandCoverClass(8, "water", "Water", "#1786d5"),
    LandCoverClass(9, "crops_vegetation_stage", "Crops in vegetation stage", "#6fc800"),
    LandCoverClass(10, "quarries", "Quarries, open pits", "#7b467e"),
)

CLASS_IDS: tuple[int, ...] = tuple(c.id for c in CLASSES)
QUARRY = 10
_BY_ID = {c.id: c for c in CLASSES}


def get(class_id: int) -> LandCoverClass:
    """A class by its code.

    Parameters
    ----------
    class_id : int
        A code 1..10.

    Returns
    -------
    LandCoverClass
        The class.

    Raises
    ------
    UnknownClassError
        For a code outside the scheme.
    """
    try:
        return _BY_ID[int(class_id)]
    except KeyError:
        raise UnknownClassError(f"class {class_id} is not in the scheme (valid: {list(CLASS_IDS)})") from None


def names(ids: Iterable[int] | None = None) -> list[str]:
    """Class names.

    Parameters
    ----------
    ids : iterable of int, optional
        Class codes (default: all ten, 1..10).

    Returns
    -------
    list of str
        The names, in the order of `ids`.

    Raises
    ------
    UnknownClassError
        For a code outside the scheme.
    """
    return [get(i).name for i in (CLASS_IDS if ids is None else ids)]


def colours(ids: Iterable[int] | None = None) -> list[str]:
    """Class colours.

    Parameters
    ----------
    ids : iterable of int, optional
        Class codes (default: all ten, 1..10).

    Returns
    -------
    list of str
        "#rrggbb" colours, in the order of `ids`.

    Raises
    ------
    UnknownClassError
        For a code outside the scheme.
    """
    return [get(i).colour for i in (CLASS_IDS if ids is None else ids)]


def rgb(class_id: int) -> tuple[int, int, int]:
    """A class's colour as 0..255 integers.

    Parameters
    ----------
    class_id : int
        A code 1..10.

    Returns
    -------
    tuple of int
        (red, green, blue).

    Raises
    ------
    UnknownClassError
        For a code outside the scheme.
    """
    hex_colour = get(class_id).colour.lstrip("#")
    return tuple(int(hex_colour[i : i + 2], 16) for i in (0, 2, 4))


def legend_dict(ids: Iterable[int] | None = None) -> dict[str, str]:
    """A legend in the form geemap's `add_legend` takes: ``{"1 Conifer forest": "003826", ...}``.

    Parameters
    ----------
    ids : iterable of int, optional
        Class codes (default: all ten, 1..10).

    Returns
    -------
    dict of str to str
        "code name" to hexadecimal colour without "#".

    Raises
    ------
    UnknownClassError
        For a code outside the scheme.
    """
    return {f"{c} {get(c).name}": get(c).colour.lstrip("#") for c in (CLASS_IDS if ids is None else ids)}


def colormap():
    """A matplotlib colour map of the scheme, for drawing class maps nearest-neighbour.

    Returns
    -------
    cmap : matplotlib.colors.ListedColormap
        Code k in the scheme's colour; 0 transparent.
    norm : matplotlib.colors.BoundaryNorm
        Maps each integer code to its colour.
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap

    cmap = ListedColormap(["#00000000", *colours()], name="lulc_scheme")
    norm = BoundaryNorm(np.arange(-0.5, len(CLASSES) + 1.5), cmap.N)
    return cmap, norm


def gdal_colour_table() -> dict[int, tuple[int, int, int, int]]:
    """The colour table written into every class map GeoTIFF (rasterio's `write_colormap`).

    Returns
    -------
    dict of int to tuple
        0 transparent, 1..10 in the scheme's colours, as (r, g, b, alpha).
    """
    table = {NODATA: (0, 0, 0, 0)}
    table.update({c.id: (*rgb(c.id), 255) for c in CLASSES})
    return table


def validate_codes(values: np.ndarray, source: str) -> None:
    """Check that an array holds only codes of the scheme (0..10).

    Parameters
    ----------
    values : numpy.ndarray
        Class codes.
    source : str
        What the values are, named in the error.

    Raises
    ------
    UnknownClassError
        Naming `source` and up to ten unknown codes.
    """
    present = np.unique(np.asarray(values))
    unknown = [v for v in present.tolist() if v != NODATA and v not in _BY_ID]
    if unknown:
        shown = ", ".join(str(v) for v in unknown[:10])
        raise UnknownClassError(
            f"{source}: unknown class codes {shown} (the scheme has 0 = unlabelled and {CLASS_IDS[0]}..{CLASS_IDS[-1]})"
        )


# ---------------------------------------------------------------- CORINE Land Cover level 3 -> the scheme

MAPPED, AMBIGUOUS, NO_EQUIVALENT = "mapped", "ambiguous", "no equivalent"


@dataclass(frozen=True)
class CorineMapping:
    """One CORINE level-3 code: `mapped` to one class, `ambiguous` (several candidates and the
    rule that picks one), or `no equivalent` in the scheme (`classes` empty, `rule` says what to do)."""

    code: int
    name: str
    status: str
    classes: tuple[int, ...] = ()
    rule: str = ""


_SEASONAL = (
    "by the state of the field on the image date: 9 while green (vegetation stage), 4 before harvest "
    "or in early spring before agrotechnical treatments, 5 when ploughed bare"
)
_MOSAIC = "a mosaic: label each parcel by what it shows on the image date"

# Official English names of the CLC nomenclature (EEA); mapping decisions are this project's.
CORINE: tuple[CorineMapping, ...] = (
    CorineMapping(111, "Continuous urban fabric", MAPPED, (3,)),
    CorineMapping(112, "Discontinuous urban fabric", MAPPED, (3,)),
    CorineMapping(121, "Industrial or commercial units", MAPPED, (3,)),
    CorineMapping(122, "Road and rail networks and associated land", MAPPED, (7,), "railways go with roads"),
    CorineMapping(123, "Port areas", MAPPED, (3,)),
    CorineMapping(124, "Airports", AMBIGUOUS, (3, 7, 6), "terminals 3, runways 7, the grass between them 6"),
    CorineMapping(131, "Mineral extraction sites", MAPPED, (QUARRY,), "the scheme's quarry class"),
    CorineMapping(132, "Dump sites", AMBIGUOUS, (10, 5), "spoil heaps of working pits 10, other bare dumps 5"),
    CorineMapping(133, "Construction sites", AMBIGUOUS, (5, 3), "exposed ground 5, finished buildings 3"),
    CorineMapping(141, "Green urban areas", AMBIGUOUS, (6, 2, 1), "lawns 6, tree stands by forest type"),
    CorineMapping(142, "Sport and leisure facilities", AMBIGUOUS, (3, 6), "buildings and courts 3, pitches 6"),
    CorineMapping(211, "Non-irrigated arable land", AMBIGUOUS, (4, 9, 5), _SEASONAL),
    CorineMapping(212, "Permanently irrigated land", AMBIGUOUS, (4, 9, 5), _SEASONAL),
    CorineMapping(213, "Rice fields", AMBIGUOUS, (4, 9, 5), _SEASONAL),
    CorineMapping(221, "Vineyards", NO_EQUIVALENT, (), "no permanent-crop class; leave unlabelled"),
    CorineMapping(222, "Fruit trees and berry plantations", NO_EQUIVALENT, (), "no permanent-crop class; leave unlabelled"),
    CorineMapping(223, "Olive groves", NO_EQUIVALENT, (), "no permanent-crop class; leave unlabelled"),
    CorineMapping(231, "Pastures", MAPPED, (6,)),
    CorineMapping(241, "Annual crops associated with permanent crops", AMBIGUOUS, (4, 9, 5), _MOSAIC),
    CorineMapping(242, "Complex cultivation patterns", AMBIGUOUS, (4, 9, 5, 6), _MOSAIC),
    CorineMapping(
        243,
        "Land principally occupied by agriculture, with significant areas of natural vegetation",
        AMBIGUOUS,
        (4, 9, 5, 6, 1, 2),
        _MOSAIC,
    ),
    CorineMapping(244, "Agro-forestry areas", AMBIGUOUS, (6, 2), "open grazing 6, tree cover 2"),
    CorineMapping(311, "Broad-leaved forest", MAPPED, (2,), "no broad-leaved class; the non-conifer forest class"),
    CorineMapping(312, "Coniferous forest", MAPPED, (1,)),
    CorineMapping(313, "Mixed forest", MAPPED, (2,)),
    CorineMapping(321, "Natural grasslands", MAPPED, (6,)),
    CorineMapping(322, "Moors and heathland", NO_EQUIVALENT, (), "no shrub class; leave unlabelled"),
    CorineMapping(323, "Sclerophyllous vegetation", NO_EQUIVALENT, (), "no shrub class; leave unlabelled"),
    CorineMapping(324, "Transitional woodland-shrub", AMBIGUOUS, (1, 2, 6), "by the dominant cover"),
    CorineMapping(331, "Beaches, dunes, sands", MAPPED, (5,)),
    CorineMapping(332, "Bare rocks", AMBIGUOUS, (5, QUARRY), "10 only where rock is being extracted, else 5"),
    CorineMapping(333, "Sparsely vegetated areas", AMBIGUOUS, (5, 6), "by the share of vegetation"),
    CorineMapping(334, "Burnt areas", NO_EQUIVALENT, (), "transient; label what the image shows"),
    CorineMapping(335, "Glaciers and perpetual snow", NO_EQUIVALENT, (), "not in the scheme; leave unlabelled"),
    CorineMapping(411, "Inland marshes", NO_EQUIVALENT, (), "no wetland class; leave unlabelled"),
    CorineMapping(412, "Peat bogs", NO_EQUIVALENT, (), "no wetland class; peat cuttings are 131, so 10"),
    CorineMapping(421, "Salt marshes", NO_EQUIVALENT, (), "no wetland class; leave unlabelled"),
    CorineMapping(422, "Salines", NO_EQUIVALENT, (), "no wetland class; leave unlabelled"),
    CorineMapping(423, "Intertidal flats", NO_EQUIVALENT, (), "no wetland class; leave unlabelled"),
    CorineMapping(511, "Water courses", MAPPED, (8,)),
    CorineMapping(512, "Water bodies", MAPPED, (8,), "flooded pits too: the water surface is 8"),
    CorineMapping(521, "Coastal lagoons", MAPPED, (8,)),
    CorineMapping(522, "Estuaries", MAPPED, (8,)),
    CorineMapping(523, "Sea and ocean", MAPPED, (8,)),
)
_CORINE_BY_CODE = {m.code: m for m in CORINE}


def corine(code: int) -> CorineMapping:
    """The scheme's answer for a CORINE level-3 code.

    Parameters
    ----------
    code : int
        A CORINE level-3 code (111..523).

    Returns
    -------
    CorineMapping
        Mapped to one class, ambiguous with its rule, or without equivalent.

    Raises
    ------
    UnknownClassError
        For a code that is not one of CORINE's 44.
    """
    try:
        return _CORINE_BY_CODE[int(code)]
    except KeyError:
        raise UnknownClassError(f"{code} is not a CORINE level-3 code (111..523, 44 codes)") from None


def corine_table():
    """All 44 CORINE level-3 codes and what the scheme makes of each.

    Returns
    -------
    pandas.DataFrame
        Indexed by code: CORINE name, status, scheme classes, rule.
    """
    import pandas as pd

    rows = [
        {"code": m.code, "CORINE name": m.name, "status": m.status, "classes": ", ".join(map(str, m.classes)), "rule": m.rule}
        for m in CORINE
    ]
    return pd.DataFrame(rows).set_index("code")


# ---------------------------------------------------------------- names in the reference GeoPackages


@dataclass(frozen=True)
class ReferenceName:
    """A value of the `name` field in `strzegom_ref.gpkg`: its meaning and the scheme classes it may carry."""

    name: str
    meaning: str
    classes: tuple[int, ...]
    typo_of: str | None = None
    note: str = ""


REFERENCE_NAMES: tuple[ReferenceName, ...] = (
    ReferenceName("iglasty", "coniferous (forest)", (1,)),
    ReferenceName("mieszany", "mixed (forest)", (2,)),
    ReferenceName("zabudowa", "built-up area", (3,)),
    ReferenceName("zabnudowa", "built-up area", (3,), typo_of="zabudowa"),
    ReferenceName("zboze", "cereals (zboże)", (4, 9), note="the season decides: 4 or 9 on the image date"),
    ReferenceName("gleba", "soil", (5,)),
    ReferenceName("droga", "road", (7,)),
    ReferenceName("woda", "water", (8,)),
    ReferenceName("main", "mine (not a Polish word; read as English 'mine')", (QUARRY,)),
)
_REFERENCE_BY_NAME = {n.name: n for n in REFERENCE_NAMES}


def reference_name(name: str) -> ReferenceName:
    """The entry for a value of the reference polygons' `name` field.

    Parameters
    ----------
    name : str
        The value (case and surrounding spaces ignored).

    Returns
    -------
    ReferenceName
        Its meaning and the scheme classes it may carry.

    Raises
    ------
    UnknownClassError
        For a name not listed.
    """
    try:
        return _REFERENCE_BY_NAME[str(name).strip().lower()]
    except KeyError:
        raise UnknownClassError(
            f"reference name {name!r} is not known (known: {', '.join(_REFERENCE_BY_NAME)})"
        ) from None
