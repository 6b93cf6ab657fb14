# make setup | data | run | lab | test   (see README.md)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# TORCH: what pip installs for PyTorch, e.g. TORCH='torch --index-url https://download.pytorch.org/whl/cpu'.
TORCH  ?= torch
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: setup data run lab test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[test]"

data: setup
	$(BIN)/lulc fetch

# The suite's main job: every notebook in full mode, figures written to figures/.
run: data
	mkdir -p build/executed
	for nb in $(NOTEBOOKS); do \
	  echo "== $$nb"; \
	  (cd notebooks && ../$(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=-1 \
	    --output-dir ../build/executed $$(basename $$nb)) || exit 1; \
	done
	@echo "Figures in figures/, executed notebooks in build/executed/"

lab: data
	$(BIN)/jupyter lab notebooks/

test: setup
	$(BIN)/python -m pytest --nbmake --nbmake-timeout=1200 tests notebooks

clean:
	rm -rf build .pytest_cache
