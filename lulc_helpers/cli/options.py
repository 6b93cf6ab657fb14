"""Argument types and small helpers shared by the commands."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from .. import labels, rasters, scheme


def non_negative(number_type):
    """An argparse type: finite `number_type` values of at least 0 (a negative area or margin has no meaning,
    and NaN would compare false with every threshold)."""

    def parse(text: str):
        value = number_type(text)
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text} is negative; use 0 or more")
        return value

    return parse


def open_fraction(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1 (NaN is not)."""
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a number strictly between 0 and 1")
    return value


def allocation(text: str) -> str:
    """An argparse type: an allocation `sampling.parse_allocation` understands."""
    from .. import sampling

    try:
        sampling.parse_allocation(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def class_code(text: str) -> int:
    """An argparse type: a class code of the scheme."""
    try:
        code = int(text)
    except ValueError:
        code = None
    if code not in scheme.CLASS_IDS:
        raise argparse.ArgumentTypeError(f"{text} is not a class code of the scheme ({scheme.CLASS_IDS[0]}..{scheme.CLASS_IDS[-1]})")
    return code


def block_size(text: str) -> int:
    """An argparse type: a block side that is a positive multiple of the output's tiles."""

    size = int(text)
    if size <= 0 or size % rasters.CLASS_MAP_TILE:
        raise argparse.ArgumentTypeError(f"{text} is not a positive multiple of {rasters.CLASS_MAP_TILE} (the output's tiles)")
    return size


def at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: need at least 1")
    return value


def local_workers(text: str) -> int:
    """An argparse type: worker processes for a local cluster, at least 1 and at most one per CPU core (each
    is a Python process with its own copy of the model; thousands would never start)."""
    workers, cores = at_least_one(text), os.cpu_count() or 1
    if workers > cores:
        raise argparse.ArgumentTypeError(f"{text}: more than this machine's {cores} CPU cores; use --scheduler for a larger cluster")
    return workers


DASK_PROTOCOLS = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def scheduler_address(text: str) -> str:
    """An argparse type: a Dask scheduler address, PROTOCOL://HOST:PORT (tcp:// may be left out)."""
    protocol, sep, rest = text.rpartition("://")
    protocol = protocol if sep else "tcp"
    host, _, port = rest.rpartition(":")
    if protocol not in DASK_PROTOCOLS or (protocol != "inproc" and not (host and port.isdigit())):
        raise argparse.ArgumentTypeError(f"{text} is not a Dask scheduler address (PROTOCOL://HOST:PORT, e.g. tcp://host:8786)")
    return text


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def repaired_note(count: int) -> str:
    return f"{count} invalid polygon{'s' * (count != 1)} (self-intersecting) repaired with shapely's make_valid"


def reference_on_grid(path: Path, classified, field: str | None):
    """(the reference as a mask on the classified map's grid, polygons repaired); a raster must already share the grid."""
    if path.suffix.lower() in {".tif", ".tiff", ".vrt"}:
        reference = rasters.open_class_map(path)
        rasters.check_aligned(classified, reference)
        return reference, 0
    polygons = labels.read_reference(path, field)
    return labels.rasterize_reference(polygons, classified), polygons.attrs["repaired"]
