"""Course exercises: make a student skeleton of the library, grade it, verify the grading.

The derivations in the library's source are marked with comment lines::

    # BEGIN SOLUTION: dX = dY ⊙ Y ⊙ (1 − Y)
    ...the code a student is to write...
    # END SOLUTION

(``# BEGIN SOLUTION (forward): ...`` marks a forward pass, stubbed only on request). The text
after the colon is the hint. Each marked function is one *item*, named ``Class.method``.

- :func:`make` copies the package, replacing each selected region by
  ``raise NotImplementedError(<hint>)`` and dropping the other markers.
- :func:`grade` tests each item of a student copy in its own process, with a time limit: the
  student's function is put into the reference class, so an item's test depends on that item
  alone; it is checked against finite differences and against the reference implementation.
- :func:`verify` confirms that the full solution scores 100% and that stubbing any one item
  costs exactly that item's points.
"""

from .checks import ITEMS, check_item, judge
from .grading import Grader, exercise_items, grade, load_package
from .make import make
from .markers import MarkerError, Region, find_regions
from .reports import format_results, results_json
from .verify import verify

__all__ = ["ITEMS", "Grader", "MarkerError", "Region", "check_item", "exercise_items",
           "find_regions", "format_results", "judge",
           "grade", "load_package", "make", "results_json", "verify"]
