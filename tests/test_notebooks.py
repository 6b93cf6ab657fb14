"""Every notebook of notebooks/ executed top to bottom in quick mode (the quick values in its parameters cell's
metadata), from a clean kernel: a cell that raises fails its notebook. The run is shared with the browser test
(tests/quick_runs.py)."""

import nbformat
import pytest

from tests.quick_runs import NOTEBOOKS, assert_ran_clean, quick_run


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_runs_top_to_bottom_in_quick_mode(path):
    notebook = nbformat.read(quick_run(path), as_version=4)
    assert_ran_clean(notebook)
