"""The project's promises about itself: packaging, environment and notebook conventions."""

import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirement_name(requirement):
    return re.split(r"[<>=!~ \[;@]", requirement, maxsplit=1)[0].strip().lower()


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = _pyproject()["project"]
    pip_names = {_requirement_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    text = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    # conda packages are the two-space "  - name" entries; the pip sub-list only installs the project itself
    listed = {_requirement_name(n) for n in re.findall(r"^  - ([A-Za-z0-9_.\-]+)", text, re.M)} - {"python", "pip"}
    conda_names = {CONDA_NAMES.get(n, n) for n in listed}
    assert conda_names == pip_names


def test_console_script_points_at_the_cli():
    from lulc_helpers import cli

    assert _pyproject()["project"]["scripts"]["lulc"] == "lulc_helpers.cli:main"
    assert callable(cli.main)


def test_notebooks_exist_and_are_numbered():
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_conventions(path):
    notebook = json.loads(path.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "outputs must be stripped"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one code cell tagged 'parameters'"
    mock = tagged[0]["metadata"].get("nbmake", {}).get("mock", {})
    assert mock.get("QUICK") is True, "the parameters cell must set QUICK through nbmake's mock metadata"
    assert "QUICK = False" in "".join(tagged[0]["source"])
    first = "".join(notebook["cells"][0]["source"])
    assert first.startswith(f"# {path.name[:2]} · ")
    repository = _pyproject()["project"]["urls"]["Repository"].removeprefix("https://github.com/")
    assert f"colab.research.google.com/github/{repository}/blob/main/notebooks/{path.name}" in first
