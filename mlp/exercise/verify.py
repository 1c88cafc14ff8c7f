"""Check the exercise itself: every test discriminates exactly its own item."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .checks import ITEMS, check_item
from .grading import load_package
from .make import _source_dir, make
from .markers import MarkerError, find_regions

# -- verify -------------------------------------------------------------------------------


def verify(source=None, *, log=print) -> bool:
    """Check the exercise itself: markers pair up, every item has a grading test, the full
    solution scores everything, and stubbing any one item loses exactly that item.

    Returns
    -------
    bool
        True when everything holds; each problem is reported through ``log``.
    """
    source = _source_dir(source)
    try:
        regions = find_regions(source)
    except MarkerError as exc:
        log(f"markers: {exc}")
        return False
    items = sorted({r.item for r in regions})
    problems = [f"{item}: marked, but there is no grading test" for item in items
                if item not in ITEMS]
    problems += [f"{item}: has a grading test, but nothing is marked" for item in ITEMS
                 if item not in items]
    for p in problems:
        log(p)
    if problems:
        return False

    reference = load_package(source)
    ok = True
    with tempfile.TemporaryDirectory() as scratch:
        make(Path(scratch) / "solution", solution=True, include_forward=True, source=source)
        solution = load_package(Path(scratch) / "solution" / "mlp")
        for item in items:
            passed, message = check_item(item, solution, reference)
            if not passed:
                ok = False
                log(f"{item}: the full solution fails its own test: {message}")
        for i, stubbed in enumerate(items):
            folder = Path(scratch) / f"stub{i}"
            make(folder, only=[stubbed], include_forward=True, source=source)
            package = load_package(folder / "mlp")
            for item in items:
                passed, message = check_item(item, package, reference)
                if item == stubbed and passed:
                    ok = False
                    log(f"{item}: its test passes although the item is stubbed out")
                elif item != stubbed and not passed:
                    ok = False
                    log(f"{item}: fails when only {stubbed} is stubbed: {message}")
    log(f"{len(items)} items, {sum(ITEMS[i].points for i in items)} points: "
        + ("every test discriminates exactly its own item" if ok else "PROBLEMS FOUND"))
    return ok
