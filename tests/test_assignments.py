"""The write-it-yourself exercises as nbgrader grades them, in the instructor's notebooks and in the student release.

Each exercise is a solution cell (nbgrader `solution`, the region between `### BEGIN SOLUTION` and `### END
SOLUTION`) followed by a check cell (nbgrader `grade`, with points) that calls `exercises.check`. Here the
notebook's setup cells, the solution (or a stub, or a wrong answer) and the check run in one namespace, as Run All
would run them, with grading on (LULC_GRADING=1, as nbgrader's NBGRADER_EXECUTION) or off.
"""

import contextlib
import importlib.util
import io
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from lulc_helpers import exercises

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# One plausible wrong answer per exercise, by the grade_id of its solution cell.
WRONG_ANSWERS = {
    "01_index_from_stored": '''
def index_from_stored(first, second, date):
    a, b = (np.where(np.asarray(band) > 0, np.asarray(band, dtype=float) / 10000, np.nan) for band in (first, second))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a - b) / (a + b)  # the offset is not removed
''',
    "02_balanced_weights": '''
def balanced_weights(counts):
    counts = np.asarray(counts, dtype=float).copy()
    counts[0] = 0
    weights = np.zeros_like(counts)
    present = counts > 0
    weights[present] = counts.sum() / (10 * counts[present])  # K = all ten classes, not those present
    return weights
''',
    "06_quarry_areas": '''
from scipy import ndimage


def quarry_areas(classified, min_area_ha):
    patches, count = ndimage.label(classified.values == scheme.QUARRY)  # 4-connected: corner neighbours split
    x_m, y_m = classified.rio.resolution()
    areas = np.bincount(patches.ravel(), minlength=count + 1)[1:] * abs(x_m * y_m) / 10_000
    return np.sort(areas[areas >= min_area_ha])[::-1]
''',
    "07_stratified_area": '''
def stratified_area(counts, mapped_areas):
    n = np.asarray(counts, dtype=float)
    mapped = np.asarray(mapped_areas, dtype=float)
    total = mapped.sum()
    stratum_points = n.sum(axis=1, keepdims=True)
    p = np.divide(mapped[:, None] / total * n, stratum_points, out=np.zeros_like(n), where=stratum_points > 0)
    terms = np.divide(mapped[:, None] / total * p - p**2, stratum_points - 1, out=np.zeros_like(n), where=stratum_points > 1)
    return total * p.sum(axis=0), total * np.sqrt(terms.sum(axis=0))  # the standard error, not the 95% half-width
''',
    "03_focal_loss": '''
def focal_loss(logits, codes, gamma=2.0, weight=None):
    labelled = codes != 0
    if not labelled.any():
        return logits.sum() * 0.0
    log_p = torch.log_softmax(logits, dim=1).movedim(1, -1)[labelled]
    target = codes[labelled].long()
    log_pt = log_p.gather(1, (target - 1).unsqueeze(1)).squeeze(1)
    w = torch.ones_like(log_pt) if weight is None else torch.as_tensor(weight, dtype=torch.float32)[target]
    return (-w * (1 - log_pt.exp()) ** gamma * log_pt).mean()  # divided by the pixel count, not the weights' sum
''',
    "04_forest_map": '''
from sklearn.ensemble import RandomForestClassifier


def forest_map(points, values, seed):
    forest = RandomForestClassifier(n_estimators=classical.RF_TREES, random_state=seed)
    forest.fit(points[list(rasters.BANDS)].to_numpy(), points["label"].to_numpy())
    pixels = np.nan_to_num(values.reshape(len(rasters.BANDS), -1).T)  # no-data pixels classified as if dark
    return forest.predict(pixels).reshape(values.shape[1:]).astype(np.uint8)
''',
    "05_pa_ua_f1": '''
def pa_ua_f1(matrix, reading="standard"):
    m = np.asarray(matrix, dtype=float)
    if reading == "paper":
        m = m.T
    hits, rows, columns = np.diag(m), m.sum(axis=1), m.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits / rows, hits / columns, 2 * hits / (rows + columns)  # PA and UA swapped
''',
    "08_raster_blocks": '''
def raster_blocks(height, width, size):
    return [((r, r + size), (c, c + size)) for r in range(0, height, size) for c in range(0, width, size)]  # edges not clipped
''',
}


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def exercise_cells(notebook) -> list[tuple[int, int]]:
    """(solution cell, check cell) index pairs: each solution cell and the graded cell that follows it."""
    pairs = []
    for i, cell in enumerate(notebook.cells):
        if _nbgrader(cell).get("solution") and cell.cell_type == "code":
            check = next(j for j in range(i + 1, len(notebook.cells)) if _nbgrader(notebook.cells[j]).get("grade"))
            pairs.append((i, check))
    return pairs


def _setup(notebook) -> str:
    """The code cells before the parameters cell (install guard and imports), as plain Python."""
    end = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
    cells = [c.source for c in notebook.cells[:end] if c.cell_type == "code"]
    return TransformerManager().transform_cell("\n".join(cells))


def run(notebook, solution: str, check: str, grading: bool, monkeypatch) -> tuple[BaseException | None, str]:
    """Run setup, `solution` and `check`; (the check's exception or None, what it printed)."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv(exercises.GRADING_ENV, "1" if grading else "0")
    namespace: dict = {}
    exec(_setup(notebook), namespace)
    exec(solution, namespace)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        try:
            exec(check, namespace)
        except AssertionError as error:
            return error, printed.getvalue()
    return None, printed.getvalue()


SOURCES = {path.name: nbformat.read(path, as_version=4) for path in NOTEBOOKS}
CASES = [pytest.param(name, solution, check, id=_nbgrader(nb.cells[solution])["grade_id"])
         for name, nb in SOURCES.items() for solution, check in exercise_cells(nb)]


def _grade_id(name, solution) -> str:
    return _nbgrader(SOURCES[name].cells[solution])["grade_id"]


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location("assignments", ROOT / "tools" / "assignments.py")
    assignments = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(assignments)
    return assignments.build(tmp_path_factory.mktemp("course"), NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_has_a_graded_exercise(path):
    notebook = SOURCES[path.name]
    pairs = exercise_cells(notebook)
    assert pairs, "at least one write-it-yourself exercise"
    for solution, check in pairs:
        assert "### BEGIN SOLUTION" in notebook.cells[solution].source
        assert _nbgrader(notebook.cells[check])["points"] > 0
        assert "exercises.check(" in notebook.cells[check].source


@pytest.mark.parametrize("name, solution, check", CASES)
def test_the_solution_passes_its_check(name, solution, check, monkeypatch):
    notebook = SOURCES[name]
    error, printed = run(notebook, notebook.cells[solution].source, notebook.cells[check].source, True, monkeypatch)
    assert error is None, printed
    assert printed.count("\n") == 1 and ": passed (" in printed


def test_the_release_holds_no_solution(release):
    for name, notebook in SOURCES.items():
        released = (release / name).read_text()
        assert "BEGIN SOLUTION" not in released and "END SOLUTION" not in released, name
        for solution, _ in exercise_cells(notebook):
            region = notebook.cells[solution].source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
            for line in filter(None, (line.strip() for line in region.splitlines())):
                assert line not in released, f"{name}: solution line in the release: {line}"


@pytest.mark.parametrize("name, solution, check", CASES)
def test_every_check_fails_on_the_release_stub(name, solution, check, release, monkeypatch):
    released = nbformat.read(release / name, as_version=4)
    stub, released_check = released.cells[solution].source, released.cells[check].source
    assert "raise NotImplementedError()" in stub
    assert released_check == SOURCES[name].cells[check].source, "the check is released unchanged"
    error, printed = run(released, stub, released_check, True, monkeypatch)
    assert isinstance(error, AssertionError) and "not yet written" in str(error)
    # Run All with the stub: one line, no error, the notebook goes on
    error, printed = run(released, stub, released_check, False, monkeypatch)
    assert error is None and printed.count("\n") == 1 and "not yet written" in printed


def test_every_exercise_has_a_wrong_answer():
    assert set(WRONG_ANSWERS) == {_grade_id(name, solution) for name, solution, _ in (c.values for c in CASES)}


@pytest.mark.parametrize("name, solution, check", CASES)
def test_a_plausible_wrong_answer_fails(name, solution, check, monkeypatch):
    notebook = SOURCES[name]
    wrong = WRONG_ANSWERS[_grade_id(name, solution)]
    error, printed = run(notebook, wrong, notebook.cells[check].source, True, monkeypatch)
    assert isinstance(error, AssertionError) and ": differs on " in str(error) and "Hint: " in str(error)
    error, printed = run(notebook, wrong, notebook.cells[check].source, False, monkeypatch)
    assert error is None and ": differs on " in printed, "interactive runs print the verdict and go on"
