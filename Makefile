# make setup | data | run | lab | test | book | assignments   (see README.md and book/guide/installation.md)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# TORCH: what is installed for PyTorch, e.g. TORCH='torch --index-url https://download.pytorch.org/whl/cpu'.
TORCH  ?= torch
# uv installs what pip would, faster (a fresh setup: 42 s against 71-92 s with pip). --compile-bytecode, as pip
# does: where PYTHONDONTWRITEBYTECODE is set, every process would otherwise compile the packages' sources again
# (the test suite took 393 s instead of 268 s). uv does not read pip's configuration files; the folders of
# PIP_FIND_LINKS (local wheels) are passed on.
UV_INSTALL = $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python $(foreach folder,$(PIP_FIND_LINKS),--find-links $(folder))
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: setup data run lab test book assignments widget-js clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv

setup: $(BIN)/python
	$(UV_INSTALL) $(TORCH)
	$(UV_INSTALL) -e ".[test,lab]"

data: setup
	$(BIN)/lulc fetch

# The suite's main job: every notebook in full mode, figures written to figures/, executed notebooks (with
# their widget state, for `make book`) to build/executed/. Executed by tools/book.py rather than
# `jupyter nbconvert --execute`, whose Output-widget handling can stall a cell with a slider (see run_notebook).
run: data
	$(BIN)/python tools/book.py execute --timeout 0 --out build/executed $(NOTEBOOKS)
	@echo "Figures in figures/, executed notebooks in build/executed/"

lab: data
	$(BIN)/jupyter lab notebooks/

# The browser test needs the pages' JavaScript (npm packages, fetched once into build/widget-js/).
# -n auto: one pytest-xdist worker per core, the notebook runs started first and each executed once (conftest.py,
# tests/quick_runs.py), the book for the browser tests built once; --maxschedchunk 2 hands tests out two at a time
# (by default each worker gets a quarter of the suite at once, and one worker got every slow run).
# While developing, `pytest -m "not slow"` leaves out the notebook, exercise and browser runs.
test: setup
	@if command -v npm >/dev/null; then $(BIN)/python tools/book.py fetch-js >/dev/null; \
	else echo "npm not found: tests/test_browser.py will be skipped"; fi
	$(BIN)/python -m pytest -n auto --maxschedchunk 2 tests

widget-js: setup
	$(BIN)/python tools/book.py fetch-js

# The course book in build/book/html/, from the notebooks `make run` executed (build/executed/).
# `make book QUICK=1` first executes every notebook in quick mode (minutes, not the full run) into
# build/quick/, with its models and figures there too.
QUICK_ENV = LULC_RUNS_DIR=$(CURDIR)/build/quick/runs LULC_FIGURES_DIR=$(CURDIR)/build/quick/figures
book: widget-js $(if $(QUICK),data)
ifdef QUICK
	$(QUICK_ENV) $(BIN)/python tools/book.py execute --quick --out build/quick/executed $(NOTEBOOKS)
	$(BIN)/python tools/book.py build --executed build/quick/executed --out build/book
else
	$(BIN)/python tools/book.py build --executed build/executed --out build/book
endif

# The student release with nbgrader: solutions stripped, checks kept, in build/release/lulc-course/; the nbgrader
# course directory (source/ beside it) in build/nbgrader/. See tools/assignments.py.
assignments: setup
	$(BIN)/python tools/assignments.py --out build $(NOTEBOOKS)

clean:
	rm -rf build .pytest_cache
