"""The book's build steps that need no browser: quick values, widget modules, the JavaScript copies' checks, and
the book of the notebooks' quick runs built without a single Sphinx warning."""

import html as html_module
import json
import re

import nbformat
import pytest

from tests.quick_runs import NOTEBOOKS, quick_book
from tools import book


def _notebook(parameters: str, mock: dict):
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata = {"tags": ["parameters"], "nbmake": {"mock": mock}}
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 00 · x"), cell])


def test_quick_values_are_applied_after_the_parameters_as_nbmake_does():
    notebook = _notebook("QUICK = False\nN_BOOT = 1000\n", {"QUICK": True, "N_BOOT": 50})
    changed = book.with_values(notebook, {**book.quick_values(notebook), "RATIOS": [1, 10], "NAME": "a'b"})
    namespace = {}
    exec(changed.cells[1].source, namespace)  # the cell as the kernel runs it
    assert (namespace["QUICK"], namespace["N_BOOT"], namespace["RATIOS"], namespace["NAME"]) == (True, 50, [1, 10], "a'b")


def test_a_notebook_without_parameters_cell_is_refused(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(notebook, tmp_path / "07_x.ipynb")
    with pytest.raises(book.BookError, match="07_x.ipynb: no code cell tagged 'parameters'"):
        book.execute(tmp_path / "07_x.ipynb", tmp_path / "out", quick=True)
    assert not (tmp_path / "out" / "07_x.ipynb").exists()


def test_widget_modules_are_those_html_manager_does_not_carry(tmp_path):
    def model(module, version):
        return {"model_module": module, "model_module_version": version, "state": {"_view_module": module,
                                                                                    "_view_module_version": version}}
    state = {"a": model("@jupyter-widgets/controls", "2.0.0"), "b": model("jupyter-leaflet", "^0.20"),
             "c": model("@jupyter-widgets/base", "2.0.0"), "d": model("anywidget", "~0.9.*")}
    notebook = _notebook("QUICK = False", {"QUICK": True})
    notebook.metadata["widgets"] = {book.WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(notebook))
    assert book.widget_modules([path]) == {("jupyter-leaflet", "^0.20"), ("anywidget", "~0.9.*")}


def test_a_tarball_that_is_not_the_registrys_is_removed_and_refused(tmp_path):
    tarball = book.cached_tarball("requirejs", tmp_path)
    tarball.write_bytes(b"not the package")
    with pytest.raises(book.BookError, match="is not the registry's"):
        book.fetch_tarball("requirejs", tmp_path)
    assert not tarball.exists()


def test_missing_executed_notebooks_are_named(tmp_path):
    with pytest.raises(book.BookError, match=r"04_gee_classifiers.ipynb.*make run"):
        book.build([tmp_path / "04_gee_classifiers.ipynb"], tmp_path / "out")


def test_run_notebook_applies_quick_values_and_keeps_widget_state(tmp_path):
    notebook = _notebook("QUICK = False\nVALUE = 1\n", {"QUICK": True})
    notebook.cells.append(nbformat.v4.new_code_cell("import ipywidgets\nipywidgets.IntSlider(value=VALUE * (7 if QUICK else 1))"))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "00_x.ipynb")
    executed = book.run_notebook(tmp_path / "00_x.ipynb", quick=True, changes={"VALUE": 2}, timeout=120)
    models = executed.metadata["widgets"][book.WIDGET_STATE]["state"].values()
    assert [m["state"]["value"] for m in models if m["model_name"] == "IntSliderModel"] == [14]


def _text(page) -> str:
    """What a reader sees of an HTML page: the tags dropped, the entities decoded."""
    return html_module.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


@pytest.mark.slow
def test_the_book_builds_without_a_warning():
    """`-W`: an unresolved reference, a broken link between pages, a docstring Sphinx cannot parse or an output
    it cannot render fails here. The book is the one the browser test opens: every notebook's quick run."""
    html = quick_book()
    assert all((html / f"{path.stem}.html").is_file() for path in NOTEBOOKS)
    cli_page = _text(html / "reference" / "cli.html")
    for command in ("fetch", "accuracy", "screen", "classify", "train", "predict", "sample", "area"):
        assert f"lulc {command} [-h]" in cli_page
    assert "--exclude-predicted" in cli_page and "--val-fraction" in cli_page.split("lulc train [-h]")[1]
    api = html / "reference" / "api"
    assert "stratified_estimates" in (api / "lulc_helpers.metrics.html").read_text()
    assert (api / "lulc_helpers.cli.html").is_file()


def test_the_class_table_of_the_conventions_page_is_the_scheme():
    from lulc_helpers import scheme

    text = (book.ROOT / "book" / "reference" / "conventions.md").read_text()
    rows = re.findall(r"^\| (\d+) \| ([^|]+?) \|$", text, re.M)
    assert [(int(code), name) for code, name in rows] == [(c.id, c.name) for c in scheme.CLASSES]


def test_a_finished_progress_bar_reads_as_finished_in_the_saved_notebook(tmp_path):
    """The bars of `progress.progress_bar` (training, streaming): the output's text form, which a reader without the
    widgets sees, is the last state (160 of 160), as is the saved widget state the book draws."""
    notebook = _notebook("QUICK = False\n", {})
    notebook.cells.append(nbformat.v4.new_code_cell(
        "from lulc_helpers import progress\nfor _ in progress.progress_bar(range(160), desc='epochs'):\n    pass"))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "00_x.ipynb")
    executed = book.run_notebook(tmp_path / "00_x.ipynb", timeout=120)
    [output] = executed.cells[-1].outputs
    assert re.match(r"epochs: 100%\|#+\| 160/160 ", output.data["text/plain"]), output.data["text/plain"]
    models = executed.metadata["widgets"][book.WIDGET_STATE]["state"].values()
    assert [(m["state"]["value"], m["state"]["max"]) for m in models if m["model_name"] == "FloatProgressModel"] == [(160, 160)]
