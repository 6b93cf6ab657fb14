"""The `lulc` command line: one subcommand per step of the workflow.

Each subcommand is an `add_<name>(subparsers)` function in the module of its group (`fetch`, `train`,
`classify` for predict and classify, `accuracy` for accuracy, sample and area, `screen`) that registers its
parser and sets `handler`; `app` builds the parser and holds `main`, where the error policy lives. Shared
argument types are in `options`. Nothing else in the package imports this one.
"""

from .app import build_parser, main

__all__ = ["build_parser", "main"]
