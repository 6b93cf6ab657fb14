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
import stat
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


_NOT_FILES = ((stat.S_ISDIR, "folder"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
              (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"))


def _in_the_way(folder: Path) -> str:
    """What blocks creating `folder`: "a file", or the kind of the first non-folder on its path (a device...)."""
    for part in [*reversed(folder.parents), folder]:
        if part.exists() and not part.is_dir():
            mode = os.stat(part).st_mode
            return next((f"a {name}" for test, name in _NOT_FILES if test(mode)), "a file")
    return "a file"


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
        raise OutputError(f"{what}: {_in_the_way(folder)} of that name is in the way") from None
    except OSError as err:
        raise OutputError(f"{what}: {err.strerror or err}") from None
    return folder


def refuse_non_file(path: str | os.PathLike) -> None:
    """Check that `path` is a regular file (or a link to one) or does not exist yet.

    A rename would replace a folder's name, a device node such as /dev/null or a FIFO with a file.

    Parameters
    ----------
    path : str or os.PathLike
        An output's path.

    Raises
    ------
    OutputCollision
        If `path` is a folder, a device, a FIFO or a socket.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:  # missing, or a dangling link: the rename makes a file there
        return
    kind = next((name for test, name in _NOT_FILES if test(mode)), None)
    if kind is not None:
        raise OutputCollision(f"{path}: is a {kind}, not a regular file; refusing to replace it (name a file)")


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike, verify: Callable[[Path], None] | None = None,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> Iterator[Path]:
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
    inputs : iterable of str or os.PathLike or None
        The files the writer reads, which `path` must not be.

    Yields
    ------
    Path
        The temporary path beside `path` to write to.

    Raises
    ------
    OutputCollision
        Before anything is written, if `path` is one of `inputs` or names something that is not a regular file
        (a folder, a device, a FIFO); the second check is repeated just before the rename.
    OutputError
        For an I/O error, naming `path`, or when the block wrote nothing. Other exceptions (bad input found while
        writing, a lost Dask cluster) pass through unchanged.
    """
    path = Path(path)
    refuse_collisions(inputs, [path])
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
        refuse_non_file(path)
        os.replace(tmp, path)
    except (TimeoutError, ConnectionError):  # OSErrors of a network, not of the file
        raise
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


def _probe_write(folder: Path) -> str | None:
    """The operating system's reason why `folder` takes no more data (a full disk, a file-size limit, no
    permission), found by writing 1 MiB there; None when that works."""
    probe = folder / f".probe{TEMP_MARK}{os.getpid()}"
    try:
        with open(probe, "wb") as handle:
            handle.write(bytes(1 << 20))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as err:
        return err.strerror or str(err)
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return None


_DRIVER_DETAIL = re.compile(r"sqlite3_\w+\(.*\) failed: ", re.DOTALL)  # GeoPackage errors quote whole SQL statements


@contextlib.contextmanager
def driver_errors(path: str | os.PathLike) -> Iterator[None]:
    """Report a vector driver's failure inside the block as one short line (a context manager).

    pyogrio raises its own types, whose messages quote whole SQL statements; the line gives the operating
    system's reason where one is found (a full disk, a file-size limit), else the driver's words cut short.

    Parameters
    ----------
    path : str or os.PathLike
        The output being written.

    Yields
    ------
    None

    Raises
    ------
    OutputError
        Naming `path`, for any driver failure in the block.
    """
    try:
        yield
    except (OSError, OutputError, OutputCollision):
        raise
    except Exception as err:
        reason = _probe_write(Path(path).parent)
        if reason is None:
            reason = " ".join(_DRIVER_DETAIL.sub("", str(err)).split())[:120] or type(err).__name__
        raise OutputError(f"{path}: could not write: {reason}") from err


def refuse_collisions(inputs: Iterable[str | os.PathLike | None], outputs: Iterable[str | os.PathLike | None]) -> None:
    """Check, before any work, that no output overwrites an input or another output, or is not a regular file.

    Parameters
    ----------
    inputs : iterable of str or os.PathLike or None
        The command's input files (None entries are skipped).
    outputs : iterable of str or os.PathLike or None
        Its output files (None entries are skipped).

    Raises
    ------
    OutputCollision
        If an output is also an input, two outputs are one file, or an output names something that is not a
        regular file (`refuse_non_file`).
    """
    def key(p):
        return os.path.realpath(os.path.abspath(os.fspath(p)))

    seen_inputs = {key(p): p for p in inputs if p is not None}
    seen_outputs: dict[str, object] = {}
    for out in (p for p in outputs if p is not None):
        refuse_non_file(out)
        k = key(out)
        if k in seen_inputs:
            raise OutputCollision(f"{out}: the output would overwrite the input {seen_inputs[k]}")
        if k in seen_outputs:
            raise OutputCollision(f"{out}: two outputs name the same file")
        seen_outputs[k] = out


