"""Write-it-yourself exercises: a learner's function checked against the package's own on generated cases.

`check(EXERCISE, learner_function)` runs both on every case of the exercise (edge cases included: empty
classes, a class absent from the map, no-data pixels), prints ONE line and returns the function the rest of
the notebook uses: the learner's when it passed, the package's otherwise. The line is one of

    <title>: passed (N generated cases)
    <title>: not yet written; the notebook goes on with the package's version
    <title>: differs on <case>: <what differs>. Hint: <hint>

A stub that raises NotImplementedError (nbgrader's `raise NotImplementedError()`) or returns None is "not yet
written". In an interactive run a check never raises, so Run All works with an empty stub. Under grading a
check that did not pass raises AssertionError, so nbgrader scores it 0: grading is on while nbgrader's
autograder or validator runs (both set NBGRADER_EXECUTION) or when LULC_GRADING=1.
"""

from .engine import DIFFERS, GRADING_ENV, NOT_WRITTEN, PASSED, Case, Exercise, check, grading, verdict  # noqa: F401
from .assessment import AREA_ESTIMATE, BLOCKS, PA_UA_F1, QUARRY_AREAS  # noqa: F401  (notebooks 05-08)
from .data_and_models import CLASS_WEIGHTS, FOCAL_LOSS, RANDOM_FOREST, SPECTRAL_INDEX  # noqa: F401  (notebooks 01-04)
