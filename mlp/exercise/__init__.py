"""Course exercises: make a student skeleton of the library, grade it honestly, verify it.

The derivations in the library's source are marked with comment lines::

    # BEGIN SOLUTION: dX = dY ⊙ Y ⊙ (1 − Y)
    ...the code a student is to write...
    # END SOLUTION

(``# BEGIN SOLUTION (forward): ...`` marks a forward pass, stubbed only on request). The text
after the colon is the hint. Each marked function is one *item*, named ``Class.method``.

- :mod:`.markers` finds the regions; :func:`make` writes the student folder, each selected
  region replaced by ``raise NotImplementedError(<hint>)``.
- :mod:`.probes` runs an item on fixed inputs and returns its raw arrays; :mod:`.checks`
  judges them against the reference's (:mod:`.hints` says what went wrong), on the grader's
  hidden inputs, or on a student's machine against reference values stored by ``make``.
- :mod:`.grading` grades submissions: every item in a fork of a sandbox process
  (:mod:`.sandbox`) with limits, on the student's skeleton (no exercised item's solution);
  the answer is read as hostile data (:mod:`.answers`) and judged outside.
  :mod:`.manifest` reads the instructor's ``exercise.json`` (of this version or an earlier
  one); :mod:`.submissions` finds and reads what students handed in; :mod:`.classroom` grades a
  class, :mod:`.reports` writes the gradebook, the feedback and Gradescope's JSON,
  :mod:`.gradescope` the autograder bundle.
- :func:`verify` confirms that each item's full solution passes and its stub fails.
"""


import importlib

from .checks import ITEMS, check_item, judge
from .grading import Grader, exercise_items, grade, load_package
from .make import make
from .markers import MarkerError, Region, find_regions
from .reports import format_results, gradebook_csv, results_json
from .submissions import Rejected, collect_submissions
from .verify import verify

__all__ = ["ITEMS", "Grader", "MarkerError", "Region", "Rejected", "check_item",
           "collect_submissions", "exercise_items", "find_regions", "format_results", "grade",
           "grade_class", "gradebook_csv", "judge", "load_package", "make", "make_bundle",
           "results_json", "verify"]

# imported on first use: they write files through mlp.io, which loads the whole library, and
# a student's own tests (which import this package for its checks) load only what each needs
_LATER = {"grade_class": "classroom", "make_bundle": "gradescope"}


def __getattr__(name):
    if name not in _LATER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LATER[name]}", __name__), name)
    globals()[name] = value
    return value
