"""The instructor's ``exercise.json``: which items count, their points and visibility, and
the file each item is graded from, read as what it meant when ``make`` wrote it.

A manifest is read from the instructor's side only (a submission's own is never read). Every
version of ``make`` writes ``"format": "mlp-exercise", "version": 1``; what changed is where
the items live:

- since the piecewise-linear activations (Identity, ReLU, LeakyReLU, PReLU) moved from
  ``activations.py`` to ``activations_piecewise.py``, ``make`` names each item's file
  (``"file": "mlp/activations_piecewise.py"``);
- a manifest without files was written before: every item lived where it lives now, except
  those of a module split off since (:data:`SPLIT_FROM`), which lived in the module they came
  from. Its students' skeletons have their ReLU in ``activations.py``, and that is where the
  grader reads it. The classes moved unchanged (the same methods and cache), so an item
  written in the old skeleton runs on the current host as it ran on the old one.

An item said to live in any other file cannot be graded soundly: the whole grading is refused
up front, naming the item and the file, never scored 0 item by item.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .._text import shown, shown_value
from .checks import ITEMS
from .markers import find_regions

#: Gradescope's visibilities of a test; ``make --hidden`` marks items ``after_published``
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
#: Modules split off since manifests named no files: an item now in the key lived in the value.
SPLIT_FROM = {"activations_piecewise.py": "activations.py"}
_FILE = re.compile(r"mlp/([A-Za-z_]\w*\.py)")


def reference_dir(source=None) -> Path:
    """The instructor's package: ``source``, or the installed ``mlp``."""
    if source is not None:
        return Path(source).resolve()
    return Path(__file__).resolve().parent.parent


def read_manifest(exercise) -> list[tuple[str, object, str, object]]:
    """``(name, points, visibility, file)`` of each item of an exercise folder's
    ``exercise.json`` (or of that file); ``file`` is None where the manifest names none.
    ValueError for a file that is not a manifest or a visibility it cannot have."""
    path = Path(exercise)
    path = path / "exercise.json" if path.is_dir() else path
    try:
        items = json.loads(path.read_text(encoding="utf-8"))["items"]
        entries = [(e["name"], e["points"], e.get("visibility", "visible"), e.get("file"))
                   for e in items]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a valid exercise manifest "
                         f"({shown(exc, limit=200, quote=False)})") from None
    for name, _, visibility, _ in entries:
        if visibility not in VISIBILITIES:
            raise ValueError(f"exercise item {shown_value(name)}: visibility must be one of "
                             f"{', '.join(VISIBILITIES)}, got {shown_value(visibility)}")
    return entries


def exercise_items(exercise=None, source=None) -> list[tuple[str, int]]:
    """``(item, points)`` from the instructor's side, never from a student's folder.

    Parameters
    ----------
    exercise : path, list of str or None
        The instructor's exercise folder or its ``exercise.json`` (as ``make`` wrote it), or
        item names (points from the table), or None for every item ``make`` stubs by default.
    source : path, optional
        The reference package; default the installed ``mlp``.

    Raises
    ------
    ValueError
        For a manifest that is not valid, an unknown item, an item listed twice, or an item
        said to live in a file that cannot be graded soundly (see :func:`item_files`).
    """
    if exercise is None:
        regions = find_regions(reference_dir(source))
        names = sorted({r.item for r in regions if not r.forward})
        return [(name, ITEMS[name]) for name in names if name in ITEMS]
    if isinstance(exercise, (list, tuple)):
        entries = [(name, ITEMS.get(name)) for name in exercise]
    else:
        entries = [(name, points) for name, points, _, _ in read_manifest(exercise)]
    names = [name for name, _ in entries]
    for name, points in entries:
        if not isinstance(name, str) or name not in ITEMS:
            raise ValueError(f"unknown exercise item {shown_value(name)}")
        if names.count(name) > 1:
            raise ValueError(f"exercise item {name!r} is listed twice")
        if isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= 1000:
            raise ValueError(f"exercise item {name!r}: points must be an integer in "
                             f"[0, 1000], got {shown_value(points)}")
    if not isinstance(exercise, (list, tuple)):
        item_files(exercise, find_regions(reference_dir(source)))
    return entries


def item_visibility(exercise=None) -> dict[str, str]:
    """Item -> its visibility in Gradescope's results (``visible`` unless the instructor's
    manifest says otherwise: ``hidden``, ``after_due_date`` or ``after_published``)."""
    if exercise is None or isinstance(exercise, (list, tuple)):
        return {}
    return {name: visibility for name, _, visibility, _ in read_manifest(exercise)}


def item_files(exercise, regions) -> dict[str, str]:
    """Item -> the module of the student's package it is graded from (``activations.py``),
    as the skeleton the students were given has it.

    ``regions`` are the reference's marked regions (where each item lives now). Items of a
    list, or of no exercise, live where the reference has them.

    Raises
    ------
    ValueError
        When the manifest says an item lives in a file where no version of the library had
        it: the exercise was made by another version of mlp and must be made again.
    """
    now = {r.item: r.file for r in regions}
    if exercise is None or isinstance(exercise, (list, tuple)):
        return now
    files = {}
    for name, _, _, file in read_manifest(exercise):
        if name not in now:
            continue  # not an item of this reference: exercise_items says so
        before = SPLIT_FROM.get(now[name], now[name])
        if file is None:
            files[name] = before
            continue
        match = _FILE.fullmatch(file) if isinstance(file, str) else None
        if match is None or match.group(1) not in (now[name], before):
            raise ValueError(
                f"exercise item {name} is said to live in {shown_value(file)}, where this "
                f"version of mlp never had it (it is in mlp/{now[name]}): the exercise was "
                "made by another version of mlp; re-run `mlp exercise make` and give the "
                "students its skeleton")
        files[name] = match.group(1)
    return files
