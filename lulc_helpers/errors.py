"""Every exception of the package, in one place, with the CLI exit code each one maps to.

Bad input (exit 2): DataError and its GridMismatchError, OptionError, OutputCollision, UnknownClassError.
Runtime failures (exit 1): OutputError, Unavailable and its GEEUnavailable. The message always names the
file or option and the problem (docs/design.md, "Errors").
"""

from __future__ import annotations


class DataError(RuntimeError):
    """A data file is missing, corrupt, or not what the code expects; the message names the file."""


class OptionError(ValueError):
    """An option or parameter has a value that cannot work (not finite, out of range, an unknown name);
    the message names it."""


class GridMismatchError(DataError):
    """Two rasters that must share a grid (image and mask, map and reference) do not."""


class OutputError(RuntimeError):
    """Writing an output failed at run time (I/O); the message names the file. The CLI exits 1."""


class OutputCollision(ValueError):
    """An output would overwrite an input of the same command, or another output. The CLI exits 2."""


class UnknownClassError(ValueError):
    """Raised when a raster or table holds codes outside 0..10."""


class Unavailable(RuntimeError):
    """A device or service the run needs is not available here (no CUDA, no Earth Engine credentials);
    the message says which and what to do instead. The CLI exits 1."""


class GEEUnavailable(Unavailable):
    """Earth Engine cannot be used here: the package is missing or there are no credentials."""
