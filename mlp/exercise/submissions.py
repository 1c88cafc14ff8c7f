"""Finding and reading submissions: folders, zips, LMS exports and loose files, all untrusted.

A submission costs only itself. One that cannot be read (not a zip, too large, no Python
modules, a link into the reference) becomes a :class:`Rejected` carrying the reason; the
grader scores it 0 on every item with that reason, and the class goes on.

Paths are resolved before anything is read: a submission, its ``mlp/`` folder and each of its
files must not be, hold or lie inside a *protected* folder (the reference, the installed
package with the grader's own files, the grader's work folder), and an entry of a class folder
must not lead outside it. A hard link to a protected file is refused like a symbolic one.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .._text import shown

MAX_ENTRIES, MAX_UNZIPPED = 2000, 50 << 20
MAX_BYTES = 20 << 20
_JUNK = ("__MACOSX", "__pycache__", ".")


@dataclass(frozen=True)
class Rejected:
    """A submission that cannot be graded, and why (shown to the student)."""

    reason: str


#: bytes of a student id in UTF-8 (it names the student's feedback file)
MAX_ID = 100


def readable(text) -> str:
    """``text`` with what no UTF-8 file can hold (the undecodable bytes of a file name, kept
    by Python as lone surrogates) written as escapes: ``ev\\xffe``."""
    text = str(text)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no byte gave
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def student_id(name, taken) -> str:
    """A student id made of ``name`` that can name a file: letters, digits and ``.@+-_``
    (anything else, undecodable bytes included, becomes ``_``), at most :data:`MAX_ID`
    bytes, not starting with a dot, and not in ``taken`` (``-2``, ``-3``, ... added)."""
    student = re.sub(r"[^\w.@+-]", "_", readable(name)).lstrip(".") or "student"
    unique, n = _cut(student, MAX_ID), 1
    while unique in taken:
        n += 1
        unique = f"{_cut(student, MAX_ID - 1 - len(str(n)))}-{n}"
    return unique


def _cut(text, size):
    """The longest start of ``text`` that holds at most ``size`` bytes in UTF-8."""
    while len(text.encode("utf-8")) > size:
        text = text[:-1]
    return text


def _inside(path, root):
    return path == root or root in path.parents


def refuse_protected(path, protected, what):
    """Raise ValueError when the resolved ``path`` is, holds or lies inside a protected root."""
    real = Path(os.path.realpath(path))
    for root in protected:
        root = Path(os.path.realpath(root))
        if _inside(real, root) or _inside(root, real):
            raise ValueError(f"{what} leads into the reference or the grader's own files: "
                             "not graded")
    return real


def extract_zip(path, destination) -> Path:
    """Unpack an uploaded zip safely: no absolute or ``..`` paths, no links, bounded size.

    Raises
    ------
    ValueError
        For a file that is not a zip, an entry escaping ``destination``, or more than 2000
        entries or 50 MB unpacked.
    """
    destination = Path(destination)
    name = Path(path).name
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"{name}: not a zip file ({exc})") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES or sum(e.file_size for e in entries) > MAX_UNZIPPED:
            raise ValueError(f"{name}: more than {MAX_ENTRIES} files or "
                             f"{MAX_UNZIPPED >> 20} MB unpacked")
        written = 0
        for entry in entries:
            parts = PurePosixPath(entry.filename.replace("\\", "/"))
            if parts.is_absolute() or ".." in parts.parts or ":" in entry.filename:
                raise ValueError(f"{name}: entry {shown(entry.filename)} points outside the "
                                 "archive")
            if stat.S_ISLNK(entry.external_attr >> 16) or entry.is_dir():
                continue
            target = destination.joinpath(*parts.parts)
            try:  # a damaged, encrypted or oddly named entry: anything may fail here
                with archive.open(entry) as src:
                    data = src.read(MAX_UNZIPPED + 1 - written)
                written += len(data)
                if written > MAX_UNZIPPED:
                    raise ValueError(f"more than {MAX_UNZIPPED >> 20} MB unpacked")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            except Exception as exc:  # noqa: BLE001
                raise ValueError(f"{name}: entry {shown(entry.filename)} cannot be unpacked "
                                 f"({exc})") from None
    return destination


def _visible(folder):
    try:
        return [p for p in sorted(folder.iterdir()) if not p.name.startswith(_JUNK)]
    except OSError:
        return []


def find_package(folder, modules, workdir, depth=2) -> Path:
    """The folder holding the submission's modules: ``mlp/``, or where the student put them.

    Looked for in order: ``folder/mlp``; the library's module files (``modules``, such as
    ``activations.py``) loose in ``folder``; the one subfolder (``depth`` levels down) that
    holds either; a zip file alone in ``folder``, unpacked into ``workdir``.

    Raises
    ------
    ValueError
        When no such folder is found, or several are.
    """
    folder = Path(folder)
    if (folder / "mlp").is_dir() or (folder / "mlp").is_symlink():
        return folder / "mlp"
    entries = _visible(folder)
    if any(p.name in modules and p.is_file() for p in entries):
        return folder
    found = []
    if depth:
        for sub in entries:
            if sub.is_dir() and not sub.is_symlink():
                try:
                    found.append(find_package(sub, modules, workdir, depth - 1))
                except ValueError:
                    continue
    zips = [p for p in entries if p.suffix.lower() == ".zip" and p.is_file()
            and not p.is_symlink()]
    if not found and len(zips) == 1 and workdir is not None:
        # unpacked once: the zip's own zips are not opened
        return find_package(extract_zip(zips[0], workdir), modules, None, depth)
    if len(found) == 1:
        return found[0]
    if found:
        where = ", ".join(str(p.relative_to(folder)) for p in found)
        raise ValueError(f"the submission holds several copies of the library ({where}): "
                         "submit one")
    some = ", ".join(sorted(modules)[:3])
    raise ValueError(f"no mlp/ folder and none of the library's files ({some}, ...) found in "
                     "the submission, at the top or one folder down")


def private_copy(package, destination, names, protected=(), protected_files=frozenset()):
    """Copy the submitted modules ``names`` (``activations.py``) from ``package``, checked.

    Only the modules that define exercised items are read: the grader loads nothing else of
    the submission. A module that is missing is left out (its items say so). A symbolic link
    is followed when it stays inside the submission, otherwise the submission is refused; so
    is a hard link to a protected file (``protected_files`` holds their ``(st_dev, st_ino)``).

    Raises
    ------
    ValueError
        When the package is or leads into a protected folder, a module is not a regular file
        or they hold more than 20 MB.
    """
    package = Path(package)
    shown = "mlp/" if package.name == "mlp" else "the submission"
    if package.is_symlink():
        raise ValueError(f"{shown} is a symbolic link: submit the files themselves")
    real = refuse_protected(package, protected, shown)
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    size = 0
    for name in sorted(set(names)):
        path = real / name
        if not os.path.lexists(path):
            continue
        if path.is_symlink():
            target = refuse_protected(path, protected, f"mlp/{name}")
            if not _inside(target, real):
                raise ValueError(f"mlp/{name} is a symbolic link leading outside the "
                                 "submission: not graded")
        try:
            info = os.stat(path)
        except OSError:
            continue  # a dangling link: as if missing
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"mlp/{name} is not a regular file: not graded")
        if (info.st_dev, info.st_ino) in protected_files:
            raise ValueError(f"mlp/{name} is a hard link to the reference's file: not graded")
        size += info.st_size
        if size > MAX_BYTES:
            raise ValueError(f"the submitted modules hold more than {MAX_BYTES >> 20} MB")
        with open(path, "rb") as src:
            (destination / name).write_bytes(src.read(MAX_BYTES))
    return destination


def file_identities(roots) -> frozenset:
    """``(st_dev, st_ino)`` of every regular file under ``roots``, to recognise hard links."""
    found = set()
    for root in roots:
        for path in Path(root).rglob("*"):
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found.add((info.st_dev, info.st_ino))
    return frozenset(found)


def collect_submissions(paths, workdir) -> dict[str, Path | Rejected]:
    """Student id -> that student's folder, or :class:`Rejected` with the reason.

    Each path is a submission folder, a zip file, or a folder of those (an LMS export); a
    folder that holds ``mlp/`` or the library's files (itself, or the one folder it holds) is
    one submission. Zips are unpacked into ``workdir``; a bad one is rejected, not fatal. An
    entry of a folder of submissions that is a link leading outside it is rejected. The id is
    the folder or zip name, made unique.

    Raises
    ------
    ValueError
        For a path that does not exist or is neither a folder nor a zip file, or when no
        submission is found (mistakes of the instructor's, not of a student's).
    """
    found = {}
    modules = _module_names()

    def add(name, entry):
        found[student_id(name, found)] = entry

    def unpack(path):
        try:
            return extract_zip(path, Path(workdir) / f"{len(found)}")
        except ValueError as exc:
            return Rejected(str(exc))

    def is_submission(folder):
        """The library's files in ``folder``, or in the one folder it holds (a folder of
        students holds several entries, or zips)."""
        entries = _visible(folder)
        if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
            folder = entries[0]
        try:
            find_package(folder, modules, None, depth=0)
        except (ValueError, OSError):
            return False
        return True

    for path in map(Path, paths):
        if path.is_file() and path.suffix.lower() == ".zip":
            add(path.stem, unpack(path))
        elif path.is_dir() and (path / "mlp").is_symlink() or is_submission(path):
            add(path.name, path)
        elif path.is_dir():
            top = Path(os.path.realpath(path))
            for child in _visible(path):
                if child.is_symlink() and not _inside(Path(os.path.realpath(child)), top):
                    add(child.stem, Rejected(f"{child.name} is a symbolic link leading "
                                             "outside the class folder: not graded"))
                elif child.is_file() and child.suffix.lower() == ".zip":
                    add(child.stem, unpack(child))
                elif child.is_dir():
                    add(child.name, child)
                else:  # a pipe, a device, a loose file: said, not skipped in silence
                    add(child.stem, Rejected(f"{readable(child.name)} is neither a folder "
                                             "nor a zip file: not graded"))
        else:
            raise ValueError(f"{path}: not a submission folder, a zip file or a folder of them")
    if not found:
        raise ValueError("no submissions found")
    return found


def one_submission(path, workdir) -> Path | Rejected:
    """``path`` as one submission: a folder as it is, a zip unpacked into ``workdir`` (or
    :class:`Rejected` when it cannot be).

    Raises
    ------
    ValueError
        When ``path`` is neither a folder nor a file.
    """
    path = Path(path)
    if path.is_dir():
        return path
    if not path.is_file():
        raise ValueError(f"{path}: no such submission folder or zip file")
    try:
        return extract_zip(path, Path(workdir) / "submission")
    except ValueError as exc:
        return Rejected(str(exc))


def _module_names():
    """The library's own module files, by which loose submitted files are recognised."""
    return frozenset(p.name for p in Path(__file__).resolve().parent.parent.glob("*.py")
                     if p.name != "__init__.py")
