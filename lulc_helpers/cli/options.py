"""Argument types and small helpers shared by the commands."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from .. import labels, rasters, scheme


def non_negative(number_type):
    """An argparse type: finite values of at least 0.

    A negative area or margin has no meaning, and NaN would compare false with every threshold.

    Parameters
    ----------
    number_type : type
        `int` or `float`: how the text is read.

    Returns
    -------
    callable
        The type: takes the option's text and returns a `number_type` value, or raises
        `argparse.ArgumentTypeError` (an infinite, NaN or negative value) or `ValueError` (not a number), which
        argparse reports as bad input naming the option.
    """

    def parse(text: str):
        value = number_type(text)
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text} is negative; use 0 or more")
        return value

    return parse


def open_fraction(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1 (NaN is not).

    Parameters
    ----------
    text : str
        The option's value as typed.

    Returns
    -------
    float
        The number.

    Raises
    ------
    argparse.ArgumentTypeError
        If the number is not strictly between 0 and 1.
    ValueError
        If `text` is not a number.
    """
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a number strictly between 0 and 1")
    return value


def allocation(text: str) -> str:
    """An argparse type: an allocation `sampling.parse_allocation` understands.

    Parameters
    ----------
    text : str
        The option's value as typed: "proportional", "equal" or "min:N".

    Returns
    -------
    str
        `text` unchanged; `sampling.stratified_sample` reads it.

    Raises
    ------
    argparse.ArgumentTypeError
        With `sampling.parse_allocation`'s message, for any other text.
    """
    from .. import sampling

    try:
        sampling.parse_allocation(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def class_code(text: str) -> int:
    """An argparse type: a class code of the scheme.

    Parameters
    ----------
    text : str
        The option's value as typed.

    Returns
    -------
    int
        The class code.

    Raises
    ------
    argparse.ArgumentTypeError
        If `text` is not an integer among `scheme.CLASS_IDS`.
    """
    try:
        code = int(text)
    except ValueError:
        code = None
    if code not in scheme.CLASS_IDS:
        raise argparse.ArgumentTypeError(f"{text} is not a class code of the scheme ({scheme.CLASS_IDS[0]}..{scheme.CLASS_IDS[-1]})")
    return code


def block_size(text: str) -> int:
    """An argparse type: a block side that is a positive multiple of the output's tiles.

    Parameters
    ----------
    text : str
        The option's value as typed, in pixels.

    Returns
    -------
    int
        The block side in pixels.

    Raises
    ------
    argparse.ArgumentTypeError
        If the side is not a positive multiple of `rasters.CLASS_MAP_TILE`.
    ValueError
        If `text` is not an integer.
    """
    size = int(text)
    if size <= 0 or size % rasters.CLASS_MAP_TILE:
        raise argparse.ArgumentTypeError(f"{text} is not a positive multiple of {rasters.CLASS_MAP_TILE} (the output's tiles)")
    return size


def at_least_one(text: str) -> int:
    """An argparse type: a count of at least 1.

    Parameters
    ----------
    text : str
        The option's value as typed.

    Returns
    -------
    int
        The count.

    Raises
    ------
    argparse.ArgumentTypeError
        If the count is below 1.
    ValueError
        If `text` is not an integer.
    """
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: need at least 1")
    return value


def local_workers(text: str) -> int:
    """An argparse type: worker processes for a local cluster, at least 1 and at most one per CPU core.

    Each worker is a Python process with its own copy of the model; thousands would never start.

    Parameters
    ----------
    text : str
        The option's value as typed.

    Returns
    -------
    int
        The number of workers.

    Raises
    ------
    argparse.ArgumentTypeError
        If the number is below 1 or above this machine's CPU cores.
    ValueError
        If `text` is not an integer.
    """
    workers, cores = at_least_one(text), os.cpu_count() or 1
    if workers > cores:
        raise argparse.ArgumentTypeError(f"{text}: more than this machine's {cores} CPU cores; use --scheduler for a larger cluster")
    return workers


DASK_PROTOCOLS = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def scheduler_address(text: str) -> str:
    """An argparse type: a Dask scheduler address, PROTOCOL://HOST:PORT (tcp:// may be left out).

    Parameters
    ----------
    text : str
        The option's value as typed.

    Returns
    -------
    str
        `text` unchanged, for `streaming.dask_client`.

    Raises
    ------
    argparse.ArgumentTypeError
        If the protocol is not one of `DASK_PROTOCOLS`, or the host or a numeric port is missing (inproc://
        needs neither).
    """
    protocol, sep, rest = text.rpartition("://")
    protocol = protocol if sep else "tcp"
    host, _, port = rest.rpartition(":")
    if protocol not in DASK_PROTOCOLS or (protocol != "inproc" and not (host and port.isdigit())):
        raise argparse.ArgumentTypeError(f"{text} is not a Dask scheduler address (PROTOCOL://HOST:PORT, e.g. tcp://host:8786)")
    return text


def one_line(err: BaseException) -> str:
    """An exception's message on one line, for stderr.

    Parameters
    ----------
    err : BaseException
        The exception.

    Returns
    -------
    str
        Its message with every run of whitespace (newlines included) as one space, or the exception's type
        name when the message is empty.
    """
    return " ".join(str(err).split()) or type(err).__name__


def repaired_note(count: int) -> str:
    """The note a command prints when it repaired invalid reference polygons.

    Parameters
    ----------
    count : int
        The number of polygons repaired.

    Returns
    -------
    str
        "N invalid polygon(s) (self-intersecting) repaired with shapely's make_valid".
    """
    return f"{count} invalid polygon{'s' * (count != 1)} (self-intersecting) repaired with shapely's make_valid"


def reference_on_grid(path: Path, classified, field: str | None):
    """A reference on a classified map's grid: a raster as it is, polygons rasterised by the pixel-centre rule.

    Parameters
    ----------
    path : pathlib.Path
        A reference raster (.tif, .tiff, .vrt), which must already share the map's grid, or polygons in any
        vector file `labels.read_reference` reads.
    classified : xarray.DataArray
        The classified map whose grid the reference goes on.
    field : str or None
        The class field of polygons (default: label or DN); a raster ignores it.

    Returns
    -------
    reference : xarray.DataArray
        Class codes on the map's grid, 0 where there is no reference.
    repaired : int
        The number of invalid polygons repaired (0 for a raster).

    Raises
    ------
    DataError
        Naming the file, if it cannot be read, lacks the field or a CRS, or a raster is not on the map's grid
        (`GridMismatchError`).
    UnknownClassError
        If a reference raster holds codes outside the scheme.
    """
    if path.suffix.lower() in {".tif", ".tiff", ".vrt"}:
        reference = rasters.open_class_map(path)
        rasters.check_aligned(classified, reference)
        return reference, 0
    polygons = labels.read_reference(path, field)
    return labels.rasterize_reference(polygons, classified), polygons.attrs["repaired"]
