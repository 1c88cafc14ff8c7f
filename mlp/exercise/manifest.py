"""The instructor's ``exercise.json``: which items count, their points and visibility, and
the file each item is graded from, read as what it meant when ``make`` wrote it.

A manifest is read from the instructor's side only (a submission's own is never read). Every
version of ``make`` writes ``"format": "mlp-exercise", "version": 1``; what changed is where
the items live:

- since the piecewise-linear activations (Identity, ReLU, LeakyReLU, PReLU) moved from
  ``activations.py`` to ``activations_piecewise.py``, ``make`` names each item's file
  (``"file": "mlp/activations_piecewise.py"``);
- a manifest without files was written before. The skeleton ``make`` wrote beside it (the
  instructor's folder) says where each item is: the module whose stub names it. Without it,
  an item lived where it lives now, except those of the classes that moved
  (:data:`FORMER_FILES`): its students' ReLU is in ``activations.py``, and that is where the
  grader reads it. The classes moved unchanged (the same methods and cache), so an item
  written in an old skeleton runs on the current host as it ran on the old one.

An item said to live where no version had it, or one whose place a manifest without files
cannot tell (Residual was in ``layers.py`` in the first versions, in ``sequential.py``
after), cannot be graded soundly: the whole grading is refused up front, in one line that
says what to do, never scored 0 item by item.
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
#: The classes whose items lived elsewhere in the versions whose manifests name no file:
#: every module each lived in then.
FORMER_FILES = {"Identity": ("activations.py",), "ReLU": ("activations.py",),
                "LeakyReLU": ("activations.py",), "PReLU": ("activations.py",),
                "Residual": ("layers.py", "sequential.py")}
_FILE = re.compile(r"mlp/([A-Za-z_]\w*\.py)")
_STUB = re.compile(r"^[ \t]*# TODO (\S+):", re.MULTILINE)  # as make stubs an item


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


def _skeleton_files(exercise) -> dict[str, str]:
    """Item -> the module of the skeleton beside the manifest (``mlp/`` of the folder
    ``make`` wrote) that stubs it; {} where there is none."""
    folder = Path(exercise)
    folder = folder if folder.is_dir() else folder.parent
    found = {}
    for path in sorted((folder / "mlp").glob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for item in _STUB.findall(text):
            found.setdefault(item, path.name)
    return found


def item_files(exercise, regions) -> dict[str, str]:
    """Item -> the module of the student's package it is graded from (``activations.py``),
    as the skeleton the students were given has it.

    ``regions`` are the reference's marked regions (where each item lives now). Items of a
    list, or of no exercise, live where the reference has them.

    Raises
    ------
    ValueError
        When the manifest places an item where no version of the library had it, or names no
        file for an item whose place changed more than once and no skeleton beside it says
        where it is: the exercise must be made again (or graded with the folder make wrote).
    """
    now = {r.item: r.file for r in regions}
    if exercise is None or isinstance(exercise, (list, tuple)):
        return now
    files, skeleton = {}, None
    for name, _, _, file in read_manifest(exercise):
        if name not in now:
            continue  # not an item of this reference: exercise_items says so
        former = FORMER_FILES.get(name.split(".")[0], (now[name],))
        if file is None:
            skeleton = _skeleton_files(exercise) if skeleton is None else skeleton
            file = skeleton.get(name) and f"mlp/{skeleton[name]}"
        if file is None and len(former) > 1:
            raise ValueError(
                f"exercise.json names no file for {name}, which earlier versions of mlp kept in "
                f"{' or '.join(f'mlp/{f}' for f in former)}, and no skeleton beside it says "
                "which: grade with the folder `mlp exercise make` wrote, or re-run `mlp "
                "exercise make` and give the students its skeleton")
        match = _FILE.fullmatch(file) if isinstance(file, str) else None
        if file is not None and (match is None or match.group(1) not in (now[name], *former)):
            raise ValueError(
                f"exercise item {name} is said to live in {shown_value(file)}, where no "
                f"version of mlp had it (this one has it in mlp/{now[name]}): the exercise was "
                "made by another version of mlp; re-run `mlp exercise make` and give the "
                "students its skeleton")
        files[name] = former[0] if file is None else match.group(1)
    return files
