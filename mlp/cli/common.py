"""What every subcommand shares: the one-line usage error, argument types, output checks."""

from __future__ import annotations

import argparse
import math
import os

from .._text import shown


class UsageError(Exception):
    """A mistake in the command line or its inputs: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (the usage is behind --help)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# -- argument types ---------------------------------------------------------------------------


def _number(text, kind, ok, expected):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {shown(text)}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {shown(text)}")
    return value


def positive_int(text):
    return _number(text, int, lambda v: v >= 1, "a positive integer")


def positive_float(text):
    return _number(text, float, lambda v: v > 0 and math.isfinite(v), "a positive number")


def non_negative_float(text):
    return _number(text, float, lambda v: v >= 0 and math.isfinite(v), "a number ≥ 0")


def fraction(text):
    return _number(text, float, lambda v: 0 <= v < 1, "a number in [0, 1)")


def batch_size(text):
    if text == "full":
        return 0
    return _number(text, int, lambda v: v >= 0, "a non-negative integer or 'full'")


def non_negative_int(text):
    return _number(text, int, lambda v: v >= 0, "a non-negative integer")


def path_arg(text):
    """The type of every path argument, input or output: an empty or all-space name is
    refused (it would write nothing, or standard output, or read the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path")
    return text


def threads(text):
    if text == "auto":
        return text
    return _number(text, int, lambda v: v >= 1, "a positive integer or 'auto'")


# -- inputs -----------------------------------------------------------------------------------


def check_source(path, flag, *, folder=False):
    """Refuse an input that is no file to read, in one line, before anything is read.

    A device (``/dev/zero`` streams without end, ``/dev/tty`` waits for a keyboard) or a
    socket is refused, and a directory unless ``folder``; a FIFO is read (``<(command)``).
    A path that does not exist is left to the reader, which names it.
    """
    import stat

    from ..io.files import file_kind  # here: mlp.io loads numpy

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or (folder and stat.S_ISDIR(mode)):
        return
    raise UsageError(f"{flag}: cannot read {path}: it is {file_kind(mode)}, not a "
                     f"{'file or folder' if folder else 'file'}")


# -- outputs ----------------------------------------------------------------------------------


def _identity(path):
    """What makes two names one file: the device and inode of an existing file, else the
    path with links and ``..`` resolved."""
    key = os.path.realpath(path)
    try:
        info = os.stat(key)
        return info.st_dev, info.st_ino
    except OSError:  # not there yet: its resolved path is its name
        return key


def _inside(path, folder) -> bool:
    """Whether ``path`` (resolved; it need not exist) lies below ``folder``."""
    real, top = os.path.realpath(path), os.path.realpath(folder)
    return real != top and os.path.commonpath([real, top]) == top


def check_distinct(outputs, inputs=()):
    """Refuse two outputs that are one file, and an output that is one of the inputs (it
    would be overwritten before, or while, it is read): the same path after resolving links,
    or two names of one existing file. An output inside an input folder (a submission, an
    exercise) is refused too: what grading reads is never written. ``outputs``, ``inputs``:
    (flag, path or None) pairs; ``-`` (standard output) is no file."""
    seen, read = {}, {}
    for flag, path in inputs:
        if path and path != "-":
            read.setdefault(_identity(path), flag)
    for flag, path in outputs:
        if not path or path == "-":
            continue
        key = _identity(path)
        if key in read:
            raise UsageError(f"{flag} names the file of {read[key]} ({path}): writing it "
                             "would destroy the input; choose another output")
        if key in seen and seen[key] != flag:
            raise UsageError(f"{seen[key]} and {flag} name the same file ({path}); each "
                             "output needs a file of its own")
        seen[key] = flag
    for source, path in inputs:
        if path and path != "-" and os.path.isdir(path):
            for flag, out in outputs:
                if out and out != "-" and _inside(out, path):
                    raise UsageError(f"{flag}: {out} is inside the input {source} ({path}); "
                                     "an output may not write into an input: name another "
                                     "place")


def _standard_stream(path):
    """"standard output" or "standard error" when ``path`` names the file this process's
    stdout or stderr writes to (``/dev/stdout`` while stdout goes to a file), else None."""
    key = _identity(path)
    for fd, name in ((1, "standard output"), (2, "standard error")):
        try:
            info = os.fstat(fd)
        except OSError:  # closed
            continue
        if key == (info.st_dev, info.st_ino):
            return name
    return None


def check_destination(path, flag, *, folder=False, stdout=False):
    """Refuse an output that cannot be written, before any long work starts.

    Every output option of every subcommand comes here: a file output must be a regular file
    or a new name in an existing folder that can be written, and not a name that says it is
    a folder (``out/``); a ``folder`` output a folder, or a new name in such a folder.
    Devices, FIFOs, sockets and dangling links are refused (see :func:`mlp.io.check_writable`).
    ``-`` means standard output only where ``stdout`` (a text output meant to be read there);
    the file this process's standard output or error already writes to (``/dev/stdout``
    when it goes to a file) is refused: the rename would replace the file under the stream.
    Empty names are refused by the :func:`path_arg` argument type.
    """
    from ..io import check_writable, check_writable_folder  # here: mlp.io loads numpy

    if str(path) == "-" and not stdout:
        raise UsageError(f"{flag}: cannot write to standard output ('-'), which only text "
                         "outputs meant to be read there may use; name a "
                         f"{'folder' if folder else 'file'}")
    try:
        (check_writable_folder if folder else check_writable)(path)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None
    stream = None if str(path) == "-" else _standard_stream(path)
    if stream is not None:
        hint = "use '-' for standard output" if stdout and stream == "standard output" \
            else "name a file of its own"
        raise UsageError(f"{flag}: cannot write {path}: it is this command's {stream}, which "
                         f"an output would replace; {hint}")
