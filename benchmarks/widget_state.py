"""How much widget state a saved notebook carries: executes a notebook in quick mode (its nbmake `mock` values)
with nbclient, stores the widget state as `jupyter nbconvert --execute` does, and prints its size per widget
model type. The saved state is what a static HTML export or the book ships to the browser; most of it is maps.

    python benchmarks/widget_state.py [notebooks/04_gee_classifiers.ipynb] [--save executed.ipynb]

Data and outputs as in the test suite: set LULC_DATA_MIRROR (or LULC_DATA_DIR); figures and runs go to
temporary folders.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def quick(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with each `mock` value of nbmake appended to its cell, as nbmake runs it."""
    for cell in notebook.cells:
        mock = cell.metadata.get("nbmake", {}).get("mock", {})
        if mock:
            cell.source += "\n" + "\n".join(f"{name} = {value!r}" for name, value in mock.items())
    return notebook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?", default="notebooks/04_gee_classifiers.ipynb")
    parser.add_argument("--save", help="write the executed notebook here")
    args = parser.parse_args()
    path = Path(args.notebook).resolve()
    for variable in ("LULC_FIGURES_DIR", "LULC_RUNS_DIR"):
        os.environ.setdefault(variable, tempfile.mkdtemp(prefix="lulc-widget-state-"))
    os.environ.setdefault("MPLBACKEND", "Agg")
    notebook = quick(nbformat.read(path, as_version=4))
    start = time.perf_counter()
    NotebookClient(notebook, timeout=1200, store_widget_state=True, resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    if args.save:
        nbformat.write(notebook, args.save)
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {})
    sizes, counts = collections.Counter(), collections.Counter()
    for model in state.get("state", {}).values():
        kind = model["state"].get("_anywidget_id", model["model_name"])
        sizes[kind] += len(json.dumps(model))
        counts[kind] += 1
    print(f"{path.name}, quick mode, executed in {seconds:.0f} s: widget state {len(json.dumps(state)) / 1e6:.3f} MB, "
          f"{sum(counts.values())} models")
    for kind, size in sizes.most_common(10):
        print(f"  {kind:45s} {counts[kind]:4d} models  {size / 1e6:.3f} MB")


if __name__ == "__main__":
    main()
