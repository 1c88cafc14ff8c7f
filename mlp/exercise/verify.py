"""Check the exercise itself: every test discriminates exactly its own item."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .checks import ITEMS, check_item
from .grading import load_package
from .make import _source_dir, make
from .markers import MarkerError, find_regions

# -- verify -------------------------------------------------------------------------------


def verify(source=None, *, items=None, include_forward=False, log=print) -> bool:
    """Check the exercise itself, as the grader will run it.

    The markers pair up, every marked item has a grading test and every test a marked item;
    then for each item, on the grader's host package (the reference without that item):
    the full solution's function passes, and the stub fails.

    Parameters
    ----------
    source : path, optional
        The package to verify; default the installed ``mlp``.
    items : list of str, optional
        The items to check; default those ``make`` stubs (all, with ``include_forward``).
    log : callable
        Receives one line per problem, then the summary.

    Returns
    -------
    bool
        True when everything holds.

    Raises
    ------
    ValueError
        When ``source`` is not a Python package.
    """
    source = _source_dir(source)
    if not (source / "__init__.py").is_file():
        raise ValueError(f"{source} is not a Python package (no __init__.py)")
    try:
        regions = find_regions(source)
    except MarkerError as exc:
        log(f"markers: {exc}")
        return False
    marked = sorted({r.item for r in regions})
    problems = [f"{item}: marked, but there is no grading test" for item in marked
                if item not in ITEMS]
    problems += [f"{item}: has a grading test, but nothing is marked" for item in ITEMS
                 if item not in marked]
    for p in problems:
        log(p)
    if problems:
        return False
    if items is None:
        items = sorted({r.item for r in regions if include_forward or not r.forward})

    reference = load_package(source)
    ok = True
    with tempfile.TemporaryDirectory() as scratch:
        make(Path(scratch) / "solution", solution=True, include_forward=True, source=source)
        solution = load_package(Path(scratch) / "solution" / "mlp")
        for i, item in enumerate(items):
            make(Path(scratch) / f"host{i}", only=[item], include_forward=True, source=source)
            host = load_package(Path(scratch) / f"host{i}" / "mlp")
            passed, message = check_item(item, solution, host, reference)
            if not passed:
                ok = False
                log(f"{item}: the full solution fails its own test: {message}")
            if check_item(item, host, host, reference)[0]:
                ok = False
                log(f"{item}: its test passes although the item is stubbed out")
    points = sum(ITEMS[i] for i in items)
    log(f"{len(items)} item{'s' * (len(items) != 1)}, {points} point{'s' * (points != 1)}: "
        + ("every test discriminates exactly its own item" if ok else "PROBLEMS FOUND"))
    return ok
