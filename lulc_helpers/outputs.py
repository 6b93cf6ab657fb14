"""Writing outputs without ever losing the previous one (docs/design.md, "Writes").

Every file the package writes goes: temp file in the target folder -> write -> verify -> atomic rename.
A failure anywhere leaves the previous file untouched and no temp file behind, and raises `OutputError`
naming the file. GDAL logs some write failures (a full disk, a file-size limit) instead of raising;
`gdal_errors_raise` turns those into exceptions and the read-back check catches what it misses.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .errors import OutputCollision, OutputError



TEMP_MARK = ".lulc-tmp-"  # temp files are named .<name>.lulc-tmp-<pid>.<suffix>; stale ones are removed on the next write


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_path(path: Path) -> Path:
    """The temporary file a write of `path` goes to first.

    Parameters
    ----------
    path : Path
        The target file.

    Returns
    -------
    Path
        ``.<stem>.lulc-tmp-<pid><suffix>`` in the same folder: same suffix, so drivers pick the right format.
    """
    return path.with_name(f".{path.stem}{TEMP_MARK}{os.getpid()}{path.suffix}")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to another user
        return True
    return True


def remove_stale_temps(path: Path) -> None:
    """Remove the temporary files that an interrupted earlier write of `path` left beside it.

    Those of a process that still runs are another write in progress and stay.

    Parameters
    ----------
    path : Path
        The target file whose leftovers are removed.
    """
    for stale in path.parent.glob(f".{path.stem}{TEMP_MARK}*{path.suffix}"):
        pid = re.match(r"\d+", stale.name[len(f".{path.stem}{TEMP_MARK}"):])
        if pid and int(pid.group()) != os.getpid() and _running(int(pid.group())):
            continue
        with contextlib.suppress(OSError):
            stale.unlink()


def make_folder(folder: str | os.PathLike, output: str | os.PathLike | None = None) -> Path:
    """Create a folder and its parents if missing.

    Parameters
    ----------
    folder : str or os.PathLike
        The folder.
    output : str or os.PathLike, optional
        The output the folder is for, named in the error (default: the folder).

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    OutputError
        When a file is in the way or the file system refuses.
    """
    folder = Path(folder)
    what = f"{output}: cannot create the folder {folder}" if output is not None else f"{folder}: cannot create the folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(f"{what}: a file of that name is in the way") from None
    except OSError as err:
        raise OutputError(f"{what}: {err.strerror or err}") from None
    return folder


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, verify: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Write a file so that a failure never leaves a half-written or lost one (a context manager).

    When the block ends without error, `verify(tmp)` runs (it raises on a bad file), the file gets ordinary
    permissions and is moved onto `path` in one step. On any error the temporary file is removed and `path` keeps
    its previous content.

    Parameters
    ----------
    path : str or os.PathLike
        The target file; its folder is created if missing.
    verify : callable, optional
        Called with the temporary path after the block; raises if the file is not right.

    Yields
    ------
    Path
        The temporary path beside `path` to write to.

    Raises
    ------
    OutputError
        For an I/O error, naming `path`, or when the block wrote nothing. Other exceptions (bad input found while
        writing) pass through unchanged.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder, expected a file name")
    make_folder(path.parent, path)
    remove_stale_temps(path)
    tmp = temp_path(path)
    try:
        yield tmp
        if not tmp.exists():
            raise OutputError(f"{path}: nothing was written")
        if verify is not None:
            verify(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as err:
        raise OutputError(f"{path}: could not write: {err.strerror or err}") from err
    finally:
        if tmp.exists():
            with contextlib.suppress(OSError):
                tmp.unlink()


class _ErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


# How libtiff and GDAL's default handler start an error line ("_tiffSeekProc: File too large", "ERROR 1: ...").
_C_ERROR_LINE = re.compile(r"^(?:ERROR \d+:|_?tiff\w*:)", re.IGNORECASE)


@contextlib.contextmanager
def _stderr_lines() -> Iterator[list[str]]:
    """Collect what C code (libtiff) prints on file descriptor 2 inside the block, passing all but error lines
    on to the real stderr as they come (progress bars stay live); a pipe, not a file, so that a file-size limit or a
    full disk cannot swallow the message."""
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    saved = os.dup(2)
    chunks: list[bytes] = []

    def passed_on(segments: list[bytes]) -> None:
        # error lines are held back: they come once, as the OutputError's one line
        kept = b"".join(seg for seg in segments if not _C_ERROR_LINE.match(seg.decode(errors="replace")))
        if kept:
            with contextlib.suppress(OSError):
                os.write(saved, kept)

    def tee() -> None:
        pending = b""
        for chunk in iter(lambda: os.read(read_end, 1 << 16), b""):
            chunks.append(chunk)
            *finished, pending = re.split(rb"(?<=[\r\n])", pending + chunk)
            passed_on(finished)
        passed_on([pending])

    reader = threading.Thread(target=tee, daemon=True)
    reader.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    lines: list[str] = []
    try:
        yield lines
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the last write end of the pipe: the reader sees its end
        reader.join()
        os.close(saved)
        os.close(read_end)
        lines.extend(line for line in b"".join(chunks).decode(errors="replace").splitlines() if line.strip())


@contextlib.contextmanager
def gdal_errors_raise(path: str | os.PathLike) -> Iterator[None]:
    """Turn errors that GDAL reports without raising into an exception (a context manager).

    rasterio logs some of GDAL's errors instead of raising them, and libtiff prints its I/O errors
    ("_tiffSeekProc: File too large") straight to stderr. Both are collected; the first becomes the one-line
    message. GDAL also signals harmless failures, which rasterio logs at INFO; those are left alone, and the
    read-back check of `rasters.write_class_map` catches any damage they might hide.

    Parameters
    ----------
    path : str or os.PathLike
        The file being written, named in the error.

    Yields
    ------
    None
        The block in which GDAL writes.

    Raises
    ------
    OutputError
        If GDAL reported an error inside the block.
    """
    collector = _ErrorCollector()
    logger = logging.getLogger("rasterio._env")
    logger.addHandler(collector)
    try:
        with _stderr_lines() as printed:
            yield
    finally:
        logger.removeHandler(collector)
    errors = [line for line in printed if _C_ERROR_LINE.match(line) and "warning" not in line.lower()]
    errors += collector.messages
    if errors:
        raise OutputError(f"{path}: could not write: {errors[0].rstrip('.')}")


def refuse_collisions(inputs: Iterable[str | os.PathLike | None], outputs: Iterable[str | os.PathLike | None]) -> None:
    """Check, before any work, that no output overwrites an input or another output.

    Parameters
    ----------
    inputs : iterable of str or os.PathLike or None
        The command's input files (None entries are skipped).
    outputs : iterable of str or os.PathLike or None
        Its output files (None entries are skipped).

    Raises
    ------
    OutputCollision
        If an output is also an input, or two outputs are one file.
    """
    def key(p):
        return os.path.realpath(os.path.abspath(os.fspath(p)))

    seen_inputs = {key(p): p for p in inputs if p is not None}
    seen_outputs: dict[str, object] = {}
    for out in (p for p in outputs if p is not None):
        k = key(out)
        if k in seen_inputs:
            raise OutputCollision(f"{out}: the output would overwrite the input {seen_inputs[k]}")
        if k in seen_outputs:
            raise OutputCollision(f"{out}: two outputs name the same file")
        seen_outputs[k] = out


