"""Grading a class: find the submissions, grade them all in parallel, write the gradebook."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..io import write_atomic
from .grading import Grader
from .reports import class_json, feedback_text, gradebook_csv
from .submissions import collect_submissions, student_id


def grade_class(paths, outdir, *, exercise=None, **options) -> dict[str, list[dict]]:
    """Grade every submission under ``paths`` and write the class's files into ``outdir``.

    See :func:`collect_submissions` for what a path may be and :func:`grade_students` for
    what is written. ``options`` go to :class:`Grader`.

    Returns
    -------
    dict
        Student id to that student's results.
    """
    with tempfile.TemporaryDirectory(prefix="mlp-class-") as workdir:
        return grade_students(collect_submissions(paths, workdir), outdir, exercise=exercise,
                              **options)


def grade_students(students, outdir, *, exercise=None, **options) -> dict[str, list[dict]]:
    """Grade ``students`` (id -> folder, or a :class:`.submissions.Rejected` that scores 0
    with its reason) in parallel and write the class's files.

    Writes ``gradebook.csv`` (one row per student: id, each item's points, total, max),
    ``feedback/<student>.txt`` (the table with the hints) and ``results.json`` (everyone's
    results in Gradescope's format) into ``outdir``, each file atomically. An id that
    cannot name a file is made one (see :func:`.submissions.student_id`): the returned
    dict is keyed by the ids used.
    """
    safe = {}
    for name, entry in students.items():  # ids name files: escaped, capped, unique
        safe[student_id(name, safe)] = entry
    students = safe
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "feedback").mkdir(exist_ok=True)
    with Grader(exercise, **options) as grader:
        graded = dict(zip(students, grader.grade_many(list(students.values())), strict=True))
    write_atomic(outdir / "gradebook.csv", gradebook_csv(graded))
    for student, results in graded.items():
        write_atomic(outdir / "feedback" / f"{student}.txt", feedback_text(student, results))
    write_atomic(outdir / "results.json", json.dumps(class_json(graded), indent=2) + "\n")
    return graded
