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


def _with_extras(project, requirements):
    """The requirements with each of the project's own extras (`lulc-mining[book]`) replaced by its list."""
    expanded = []
    for requirement in requirements:
        if _requirement_name(requirement) == project["name"]:
            extras = re.search(r"\[(.*)\]", requirement)[1].split(",")
            expanded += _with_extras(project, [r for e in extras for r in project["optional-dependencies"][e.strip()]])
        else:
            expanded.append(requirement)
    return expanded


def test_runtime_dependencies_pin_no_exact_version():
    """`pip install` of the package (Colab's %pip) must keep the versions a runtime already has."""
    pinned = [r for r in _pyproject()["project"]["dependencies"] if re.search(r"===?", r.split(";")[0])]
    assert not pinned, f"exact pins in [project] dependencies: {pinned}"


def test_the_offline_earth_engine_version_is_pinned_for_the_tests_only():
    project = _pyproject()["project"]
    runtime = [r for r in project["dependencies"] if _requirement_name(r) == "earthengine-api"]
    tests = [r for r in _with_extras(project, project["optional-dependencies"]["test"])
             if _requirement_name(r) == "earthengine-api"]
    assert runtime and "==" not in runtime[0]
    assert tests == ["earthengine-api==1.7.50"]


def test_notebook_tools_are_extras_not_runtime_dependencies():
    project = _pyproject()["project"]
    runtime = {_requirement_name(r) for r in project["dependencies"]}
    assert not runtime & {"jupyterlab", "nbclient", "nbformat", "sphinx", "pytest"}
    assert "jupyterlab" in {_requirement_name(r) for r in project["optional-dependencies"]["lab"]}
    book = {_requirement_name(r) for r in project["optional-dependencies"]["book"]}
    assert {"nbclient", "nbformat", "sphinx", "sphinx-argparse"} <= book


def test_make_setup_installs_what_make_run_and_make_test_need():
    setup = re.search(r"^setup:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)[1]
    installed = re.search(r'-e "\.\[([a-z,]+)\]"', setup)[1].split(",")
    assert {"test", "lab"} <= set(installed)  # test brings book: nbclient for `make run`, sphinx for `make book`


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = _pyproject()["project"]
    extras = [r for e in project["optional-dependencies"].values() for r in e]
    pip_names = {_requirement_name(r) for r in _with_extras(project, project["dependencies"] + extras)}
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
