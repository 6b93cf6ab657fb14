"""The parser of every command and `main`, where the error policy lives: exit 0 on success, 1 for a run-time
failure (I/O, a missing device or service), 2 for bad input (a data file, an option, colliding paths), each with
one line on stderr naming the file or option; a traceback only with --debug or LULC_DEBUG=1. SIGTERM and Ctrl-C
remove unfinished outputs and exit 128 + the signal."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import traceback

from .. import __version__, errors
from .accuracy import add_accuracy, add_area, add_sample
from .classify import add_classify, add_predict
from .fetch import add_fetch
from .options import one_line
from .screen import add_screen
from .train import add_train


DEBUG_ENV = "LULC_DEBUG"


COMMANDS = [add_fetch, add_train, add_predict, add_classify, add_accuracy, add_screen, add_sample, add_area]


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (the usage is one --help away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of the `lulc` command and every subcommand, as `main` uses it and the CLI reference shows it.

    Every subcommand also takes --debug, and sets `handler` (the function that runs it) and `flags` (option
    name by parameter name, so that an error naming `clean_radius` is shown as --clean-radius).

    Returns
    -------
    argparse.ArgumentParser
        The parser; its errors are one line on stderr and exit 2.
    """
    parser = _Parser(prog="lulc", description="Mining-aware land-cover classification (lulc-mining).")
    parser.add_argument("--version", action="version", version=f"lulc-mining {__version__}")
    debug_help = f"show the traceback of an error (or set {DEBUG_ENV}=1)"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    for subparser in subparsers.choices.values():  # `lulc --debug CMD` and `lulc CMD --debug` alike
        subparser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
        # the package names a parameter as in Python (clean_radius); the message names the option instead
        flags = {a.dest: a.option_strings[0] for a in subparser._actions if a.option_strings}
        subparser.set_defaults(flags=flags)
    return parser


# Exit codes by exception type, the first match along the exception's class hierarchy wins.
BAD_INPUT, RUNTIME_FAILURE = 2, 1


EXIT_CODES: dict[type, int] = {
    errors.OutputCollision: BAD_INPUT,
    errors.DataError: BAD_INPUT,
    errors.OptionError: BAD_INPUT,
    errors.UnknownClassError: BAD_INPUT,
    errors.OutputError: RUNTIME_FAILURE,
    errors.Unavailable: RUNTIME_FAILURE,
    OSError: RUNTIME_FAILURE,
    MemoryError: RUNTIME_FAILURE,
}


class Interrupted(BaseException):
    """SIGTERM arrived; raised like KeyboardInterrupt so that every `finally` removes its temp files.

    `main` installs the handler that raises it (in the main thread only) and turns it into exit code 143.
    """


def _raise_interrupted(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    """Run one `lulc` command with the error policy of the module docstring.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after `lulc` (default: `sys.argv[1:]`).

    Returns
    -------
    int
        The exit code: the command's own when it finishes (0; `lulc fetch` gives 1 when a file FAILED), 1 for
        a run-time failure or an unexpected error, 2 for bad input (`EXIT_CODES`), 128 + the signal number
        when interrupted by SIGINT or SIGTERM. An error is one line on stderr (a traceback as well with --debug
        or LULC_DEBUG=1).

    Raises
    ------
    SystemExit
        From argparse, for --help and --version (code 0) and for arguments it refuses (code 2).
    """
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    in_main_thread = threading.current_thread() is threading.main_thread()  # only it may set signal handlers
    previous = signal.signal(signal.SIGTERM, _raise_interrupted) if in_main_thread else None
    try:
        with _gdal_messages_logged():
            return args.handler(args)
    except (KeyboardInterrupt, Interrupted) as stop:
        signum = signal.SIGINT if isinstance(stop, KeyboardInterrupt) else signal.SIGTERM
        print(f"lulc {args.command}: interrupted ({signum.name}); unfinished outputs removed", file=sys.stderr)
        return 128 + signum
    except Exception as err:
        code = next((EXIT_CODES[c] for c in type(err).__mro__ if c in EXIT_CODES), None)
        if debug:
            traceback.print_exc()
        if code is None:  # a bug, not a fault of the input or the machine
            print(f"lulc {args.command}: error: unexpected {type(err).__name__}: {one_line(err)}"
                  f"{'' if debug else ' (rerun with --debug for the traceback)'}", file=sys.stderr)
            return RUNTIME_FAILURE
        message = one_line(err)
        first, _, rest = message.partition(" ")
        if isinstance(err, errors.OptionError) and first in args.flags:
            message = f"{args.flags[first]} {rest}"
        print(f"lulc {args.command}: error: {message}", file=sys.stderr)
        return code
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _gdal_messages_logged():
    """GDAL's warnings and errors go to rasterio's logger, not printed on stderr by GDAL's own handler (a damaged
    TIFF would add a "Warning 1: ..." line before ours); the failures they explain still raise."""
    import logging

    import rasterio

    logger = logging.getLogger("rasterio")
    quiet = logging.NullHandler()
    logger.addHandler(quiet)
    try:
        with rasterio.Env():
            yield
    finally:
        logger.removeHandler(quiet)
