"""Writing files: complete or absent, with the permissions the user expects.

:func:`write_atomic` writes a regular file through a temporary file in the same folder and
renames it into place, so a reader never sees half a file and an interrupted write leaves the
old one. A new file gets the mode the umask allows (like ``open``), an existing one keeps
its mode; a symbolic link keeps pointing where it pointed and its target is replaced;
a device or FIFO (``/dev/null``, ``/dev/stdout``) is written to, never replaced; ``-`` is
standard output. Temporary files are named ``.NAME.PID.XXXX.mlp-tmp``: removed on every exit
path Python can run, and by the next write to the same name when a killed process left one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".mlp-tmp"


def _names_folder(path) -> bool:
    """Whether a path's text says it is a folder: it ends in ``/``, ``/.`` or ``/..`` (or is
    ``.`` or ``..``), so writing a file there would write another name than the one given."""
    text = os.fspath(path)
    return text.endswith(("/", "/.", "/..")) or text in (".", "..")


def _refuse_folder_name(path) -> None:
    if _names_folder(path):
        raise ValueError(f"cannot write {path}: it names a folder (a file is expected)")


def _umask() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # read it by setting it, and put it back at once
    os.umask(mask)
    return mask


def _destination(path):
    """(where the bytes go, its stat or None, its folder or None when written through).

    A device, FIFO or socket (also behind a link, like ``/dev/stdout``) is written through;
    a link to a regular file, or a dangling one, leads to its final target.
    """
    _refuse_folder_name(path)
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise ValueError(f"cannot write {path}: {exc.strerror or exc}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise ValueError(f"cannot write {path}: it is a directory")
    if st is not None and not stat.S_ISREG(st.st_mode):
        return path, st, None
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"cannot write {path}: no such directory {folder}")
    return target, st, folder


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISSOCK, "a socket"))


def file_kind(mode) -> str:
    """What ``stat``'s ``st_mode`` says a path is, in words: "a directory", "a socket", ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _existing(path):
    """``path``'s stat, or None when nothing is there; a dangling link is refused."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise ValueError(f"cannot write {path}: it is a symbolic link to "
                             f"{os.readlink(path)}, which does not exist (name the file "
                             "itself)") from None
        return None
    except OSError as exc:  # a parent that is a file, a loop of links, no permission
        raise ValueError(f"cannot write {path}: {exc.strerror or exc}") from None


def _probe(folder, name, path) -> None:
    """Create and remove a temporary file in ``folder``: only this shows that a rename into it
    will work (a read-only mount, a full inode table, root's rights are all seen)."""
    if not folder.is_dir():
        what = "no such directory" if not folder.exists() else "not a directory:"
        raise ValueError(f"cannot write {path}: {what} {folder}")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}.", suffix=TEMP_SUFFIX,
                                     dir=folder)
    except OSError as exc:
        raise ValueError(f"cannot write {path}: {exc.strerror or exc} (in {folder})") from None
    os.close(fd)
    os.unlink(probe)


def check_writable(path) -> None:
    """Raise ValueError unless ``path`` can be written now as an output file.

    Checked before any long work starts, by the rule of :func:`write_atomic`'s outputs: a
    file is written to a temporary file beside it and renamed into place, so ``path`` must
    be a regular file (or a link to one) or a new name, in an existing folder where files
    can be created. A directory, device (``/dev/full``, ``/dev/null``), FIFO or socket is
    refused, and so is a dangling symbolic link (where it points is seldom what was meant)
    and a name that says it is a folder (``out/``, ``out/.``). ``-`` (standard output) is
    accepted.

    Raises
    ------
    ValueError
        Naming the path and what is wrong with it.
    """
    if str(path) == "-":
        return
    _refuse_folder_name(path)
    st = _existing(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise ValueError(f"cannot write {path}: it is {file_kind(st.st_mode)}; an output must be "
                         "a regular file or a new name")
    if st is not None and not os.access(path, os.W_OK):
        raise ValueError(f"cannot write {path}: permission denied")
    target = Path(os.path.realpath(path))
    _probe(target.parent, target.name, path)


def check_writable_folder(path) -> None:
    """Raise ValueError unless ``path`` can be used now as an output folder.

    ``path`` must be a folder where files can be created, or a new name in an existing
    folder where it can be created; anything else (a file, device, FIFO, socket, dangling
    link, a missing parent) is refused.
    """
    st = _existing(path)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise ValueError(f"cannot write into {path}: it is "
                         f"{file_kind(st.st_mode)}"
                         ", not a directory")
    target = Path(os.path.realpath(path))
    if st is not None:
        _probe(target, "folder", path)
    else:
        _probe(target.parent, target.name, path)


def _remove_stale(folder, name) -> None:
    """Remove temporary files of ``name`` left by processes that no longer exist."""
    for stale in folder.glob(f".{name}.*{TEMP_SUFFIX}"):
        pid = stale.name[len(name) + 2:].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                stale.unlink()
        except OSError:
            pass  # alive, or another user's: not ours to remove


def _write(f, content) -> None:
    if callable(content):
        content(f)
    else:
        f.write(content.encode("utf-8") if isinstance(content, str) else content)
    f.flush()


def write_atomic(path, content) -> Path:
    """Write a file so that it is either complete or absent: temporary file, then rename.

    Parameters
    ----------
    path : str or Path
        ``-`` writes to standard output; a device or FIFO is written to in place; a symbolic
        link's target is replaced.
    content : str, bytes or callable
        Text (written as UTF-8), bytes, or a function that writes to the binary file object
        it is given.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        When the path is or names a directory (``out/``), or its folder does not exist.
    OSError
        When the folder cannot be written.
    """
    if str(path) == "-":
        _write(sys.stdout.buffer, content)
        return Path(path)
    target, st, folder = _destination(path)
    if folder is None:
        with open(target, "wb") as f:
            _write(f, content)
        return Path(path)
    _remove_stale(folder, target.name)
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=TEMP_SUFFIX,
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(fd, mode)
            if st is not None and (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                with contextlib.suppress(OSError):  # only root may give a file away
                    os.fchown(fd, st.st_uid, st.st_gid)
            _write(f, content)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        # never leave a half-written temporary file behind, not even on Ctrl-C
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(path)
