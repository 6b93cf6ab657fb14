"""`lulc fetch`: download and verify the paper's data."""

from __future__ import annotations

import sys
from pathlib import Path

from .. import data, errors, paths


def add_fetch(subparsers) -> None:
    """Register `lulc fetch`: download or copy the paper's data and verify every file.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What `argparse.ArgumentParser.add_subparsers` returned; the command's parser is added to it, with its
        `handler` set.
    """
    parser = subparsers.add_parser(
        "fetch",
        help="download and verify the paper's data",
        description="Download every file of bh-del/lulc_mining at its pinned commit (or copy it from a mirror "
        "folder), verify its git blob SHA-1, and print one line per file. Exits 1 if any file FAILED.",
    )
    parser.add_argument("--dest", help="where the data goes (default: data/ in the project, or $LULC_DATA_DIR)")
    parser.add_argument("--mirror", help=f"a local folder laid out like the repository (default: ${data.MIRROR_ENV})")
    parser.set_defaults(handler=_fetch)


def _fetch(args) -> int:
    if args.dest == "":  # an unset shell variable, most likely; not the default folder
        raise errors.OptionError("--dest '': an empty path; leave --dest out for the default data folder")
    dest = Path(args.dest) if args.dest else paths.data_dir()
    width = max(len(e.path) for e in data.manifest())

    def report(result: data.FetchResult) -> None:
        line = f"{result.status:<17} {result.path:<{width}}  {result.detail}".rstrip()
        print(line, file=sys.stdout if result.ok else sys.stderr, flush=True)

    results = data.fetch(dest, mirror=args.mirror, report=report)
    failed = [r for r in results if not r.ok]
    counts = {s: sum(r.status == s for r in results) for s in ("verified", "downloaded", "missing-optional", "FAILED")}
    print(f"{dest}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return 1 if failed else 0
