"""The checking machinery: run a learner's function and the package's on the same cases, and say in one line
how they compare (see the package's docstring)."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

GRADING_ENV = "LULC_GRADING"
PASSED, NOT_WRITTEN, DIFFERS = "passed", "not yet written", "differs"
UTM_CRS = "EPSG:32633"  # UTM 33N, the Strzegom scene's: metres, so generated rasters have areas in hectares


def grading() -> bool:
    """Whether the notebook runs under grading: a check then raises instead of printing only.

    Returns
    -------
    bool
        True under nbgrader's autograder or validator (NBGRADER_EXECUTION set), or with LULC_GRADING=1.
    """
    return bool(os.environ.get("NBGRADER_EXECUTION")) or os.environ.get(GRADING_ENV) == "1"


@dataclass(frozen=True)
class Case:
    """One generated case of an exercise: the learner's function and the package's are called with `args`;
    `description` names the case in the line a learner reads ("a class absent from the map")."""

    description: str
    args: tuple


@dataclass(frozen=True)
class Exercise:
    """What a learner writes (`title`), the package's version of it, the cases and the hint.

    `names` labels the parts of a tuple result (("PA", "UA", "F1")); `mistakes` pairs a known wrong version
    with what to tell a learner whose result matches it, a sharper hint than the general one.
    """

    title: str
    reference: Callable
    cases: Callable[[], list[Case]]
    hint: str
    names: Sequence[str] = ()
    mistakes: Sequence[tuple[Callable, str]] = ()
    rtol: float = 1e-6
    atol: float = 1e-9


def verdict(exercise: Exercise, learner: Callable) -> tuple[str, str]:
    """How `learner` does on every case of `exercise`, stopping at the first that differs.

    Parameters
    ----------
    exercise : Exercise
        The exercise, with the package's version and the generated cases.
    learner : callable
        The learner's function.

    Returns
    -------
    status : str
        PASSED, NOT_WRITTEN (the stub raises NotImplementedError or returns None) or DIFFERS.
    line : str
        The one line a learner reads: passed, not yet written, or what differs with a hint.
    """
    cases = exercise.cases()
    for case in cases:
        try:
            got = learner(*copy.deepcopy(case.args))
        except NotImplementedError:
            return NOT_WRITTEN, f"{exercise.title}: {NOT_WRITTEN}; the notebook goes on with the package's version"
        except Exception as error:  # noqa: BLE001  (any error of the learner's code is reported, not raised)
            return DIFFERS, f"{exercise.title}: differs on {case.description}: your function raised " \
                            f"{type(error).__name__}: {error}. Hint: {exercise.hint}"
        if got is None:
            return NOT_WRITTEN, f"{exercise.title}: {NOT_WRITTEN} (it returns None); " \
                                "the notebook goes on with the package's version"
        expected = exercise.reference(*copy.deepcopy(case.args))
        difference = _difference(got, expected, exercise)
        if difference:
            return DIFFERS, f"{exercise.title}: differs on {case.description}: {difference}. Hint: " \
                            f"{_hint(exercise, case, got)}"
    return PASSED, f"{exercise.title}: {PASSED} ({len(cases)} generated cases, edge cases included)"


def check(exercise: Exercise, learner: Callable) -> Callable:
    """Print the verdict's line and hand back the function the notebook goes on with.

    Parameters
    ----------
    exercise : Exercise
        The exercise.
    learner : callable
        The learner's function.

    Returns
    -------
    callable
        `learner` if it passed, else the package's version (so Run All works with an empty stub).

    Raises
    ------
    AssertionError
        Under grading (`grading()`), for anything but a pass, with the same line.
    """
    status, line = verdict(exercise, learner)
    print(line)
    if status != PASSED and grading():
        raise AssertionError(line)
    return learner if status == PASSED else exercise.reference


def _hint(exercise: Exercise, case: Case, got) -> str:
    for wrong, hint in exercise.mistakes:
        if not _difference(got, wrong(*copy.deepcopy(case.args)), exercise):
            return hint
    return exercise.hint


def _plain(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _difference(got, expected, exercise: Exercise) -> str | None:
    """What differs between the learner's result and the expected one, in words; None if they agree."""
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected {len(expected)} results ({', '.join(exercise.names)}), got {type(got).__name__}"
        names = exercise.names or [f"result {i + 1}" for i in range(len(expected))]
        for name, mine, theirs in zip(names, got, expected):
            difference = _array_difference(mine, theirs, exercise, name)
            if difference:
                return difference
        return None
    return _array_difference(got, expected, exercise, "the result")


def _array_difference(got, expected, exercise: Exercise, name: str) -> str | None:
    try:
        mine = _plain(got)
    except (TypeError, ValueError):
        return f"{name} is a {type(got).__name__}, not numbers"
    theirs = _plain(expected)
    if mine.shape != theirs.shape:
        return f"{name} has shape {mine.shape}, expected {theirs.shape}"
    nan_mine, nan_theirs = np.isnan(mine), np.isnan(theirs)
    close = np.isclose(mine, theirs, rtol=exercise.rtol, atol=exercise.atol) | (nan_mine & nan_theirs)
    if close.all():
        return None
    where = tuple(int(i) for i in np.argwhere(~close)[0])
    at = f"[{', '.join(map(str, where))}]" if where else ""
    wrong = int((~close).sum())
    also = f" ({wrong} values differ)" if wrong > 1 else ""
    return f"{name}{at} is {mine[where]:.6g}, expected {theirs[where]:.6g}{also}"
