"""Grading a class: find the submissions, grade them all in parallel, write the gradebook."""

from __future__ import annotations

import json
import re
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from ..io import write_atomic
from .grading import Grader
from .reports import class_json, feedback_text, gradebook_csv

MAX_ENTRIES, MAX_UNZIPPED = 2000, 50 << 20


def _package_root(folder, depth=2):
    """The folder holding ``mlp/`` at or below ``folder`` (LMS zips nest one level or two)."""
    if (folder / "mlp").exists() or (folder / "mlp").is_symlink():
        return folder
    if depth:
        inner = [p for p in sorted(folder.iterdir()) if p.is_dir() and not p.is_symlink()
                 and not p.name.startswith(("__MACOSX", "."))]
        if len(inner) == 1:
            return _package_root(inner[0], depth - 1)
    return folder


def extract_zip(path, destination) -> Path:
    """Unpack an uploaded zip safely: no absolute or ``..`` paths, no links, bounded size.

    Raises
    ------
    ValueError
        For a file that is not a zip, an entry escaping ``destination``, or more than 2000
        entries or 50 MB unpacked.
    """
    destination = Path(destination)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path}: not a zip file ({exc})") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES or sum(e.file_size for e in entries) > MAX_UNZIPPED:
            raise ValueError(f"{path}: more than {MAX_ENTRIES} files or "
                             f"{MAX_UNZIPPED >> 20} MB unpacked")
        for entry in entries:
            name = PurePosixPath(entry.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts:
                raise ValueError(f"{path}: entry {entry.filename!r} points outside the archive")
            if stat.S_ISLNK(entry.external_attr >> 16) or entry.is_dir():
                continue
            target = destination.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(entry) as src:
                target.write_bytes(src.read(MAX_UNZIPPED + 1)[:MAX_UNZIPPED])
    return destination


def collect_submissions(paths, workdir) -> dict[str, Path]:
    """Student id -> folder holding that student's ``mlp/``.

    Each path is a submission folder, a zip file, or a folder of those (an LMS export).
    Zips are unpacked into ``workdir``. The id is the folder or zip name, made unique.
    """
    found = {}

    def add(name, folder):
        student = re.sub(r"[^\w.@+-]", "_", name) or "student"
        unique, n = student, 1
        while unique in found:
            n += 1
            unique = f"{student}-{n}"
        found[unique] = folder

    def visit(path, top):
        path = Path(path)
        if path.is_file() and path.suffix.lower() == ".zip":
            add(path.stem, _package_root(extract_zip(path, Path(workdir) / f"{len(found)}")))
        elif path.is_dir() and (top is False or (_package_root(path) / "mlp").exists()
                                or (path / "mlp").is_symlink()):
            add(path.name, _package_root(path))
        elif path.is_dir() and top:
            for child in sorted(path.iterdir()):
                if child.is_dir() or child.suffix.lower() == ".zip":
                    visit(child, False)
        else:
            raise ValueError(f"{path}: not a submission folder, a zip file or a folder of them")

    for path in paths:
        visit(path, True)
    if not found:
        raise ValueError("no submissions found")
    return found


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
    """Grade ``students`` (id -> folder) in parallel and write the class's files.

    Writes ``gradebook.csv`` (one row per student: id, each item's points, total, max),
    ``feedback/<student>.txt`` (the table with the hints) and ``results.json`` (everyone's
    results in Gradescope's format) into ``outdir``, each file atomically.
    """
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
