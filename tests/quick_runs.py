"""Work shared by the whole test session, made once: every notebook executed in quick mode, and the book built
from those runs.

The notebook tests (tests/test_notebooks.py), the browser tests (the book) and checks of a single notebook's quick
run all read the same results. They are made in the folder the root conftest names in $LULC_TEST_EXECUTED before
any pytest-xdist worker starts: the first worker to ask makes a result, one that asks meanwhile waits for it (a
lock file per result), and a failure is not repeated: its error is raised again. Each notebook run gets models
(runs/) and figures folders of its own beside its executed copy.
"""

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import nbformat

from lulc_helpers import paths
from tools import book

FOLDER_ENV = "LULC_TEST_EXECUTED"
CELL_TIMEOUT_S = 1200  # a cell that hangs fails the suite, but a slow machine under load does not
NOTEBOOKS = sorted((book.ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WIDGET_JS = book.ROOT / "build" / "widget-js"  # where `make widget-js` leaves the pages' JavaScript


def _folder(name: str) -> Path:
    return Path(os.environ[FOLDER_ENV]) / name


def made_once(name: str, make: Callable[[Path], None]) -> Path:
    """The folder `name` of this session, filled by `make(folder)` the first time it is asked for."""
    folder = _folder(name)
    folder.mkdir(parents=True, exist_ok=True)
    done, failure = folder / "done", folder / "failure.txt"
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if failure.exists():
            raise book.BookError(failure.read_text())
        if not done.exists():
            try:
                make(folder)
            except Exception as err:
                failure.write_text(f"{type(err).__name__}: {err}")
                raise
            done.touch()
    return folder


def quick_run(source: Path) -> Path:
    """The executed copy of `source` (quick mode); raises BookError if a cell failed."""
    def execute(folder: Path) -> None:
        env = {paths.RUNS_DIR_ENV: str(folder / "runs"), paths.FIGURES_DIR_ENV: str(folder / "figures")}
        book.execute(source, folder, quick=True, timeout=CELL_TIMEOUT_S, env=env)

    return made_once(source.stem, execute) / source.name


def runs_dir(source: Path) -> Path:
    """The models folder of `source`'s quick run (absent if the run wrote none)."""
    return _folder(source.stem) / "runs"


def assert_ran_clean(notebook) -> None:
    """Every non-empty code cell of the executed `notebook` ran, in order, and none holds an error output."""
    code = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip()]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "every code cell ran, in order"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


def widget_js_fetched() -> bool:
    """Whether `make widget-js` has fetched the pages' JavaScript (npm packages) into WIDGET_JS."""
    return all(book.cached_tarball(package, WIDGET_JS).is_file() for package in book.NPM_PACKAGES)


def quick_book() -> Path:
    """The book (its html folder) built from every notebook's quick run as `make book QUICK=1` builds it, plus a
    page of notebook 05's imbalance slider alone (slider.html), with the pages' JavaScript when it has been
    fetched. Strict: a Sphinx warning fails the build."""
    def build(folder: Path) -> None:
        pages = [quick_run(path) for path in NOTEBOOKS]
        # notebook 05's slider is plots.imbalance_widget; a page of its own shows it with a known starting ratio
        slider = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_markdown_cell("# The imbalance slider"),
            nbformat.v4.new_code_cell("from lulc_helpers import plots\nplots.imbalance_widget([1, 10, 100])"),
        ])
        slider.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(slider, folder / "slider.ipynb")
        pages.append(book.execute(folder / "slider.ipynb", folder / "executed", timeout=CELL_TIMEOUT_S))
        fetched = widget_js_fetched()
        book.build(pages, folder / "out", cache=WIDGET_JS if fetched else None, strict=True, javascript=fetched)

    return made_once("book", build) / "out" / "html"
