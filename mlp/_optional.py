"""Optional packages: importing one, and saying which of two things went wrong.

A package that is not installed needs ``pip install``; a package that is installed but fails
to import (a dependency of its own missing or broken, a bad environment variable such as
``MPLBACKEND``) needs something else entirely, and the advice to install it would be wrong.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

from ._text import shown

__all__ = ["OptionalPackageError", "import_optional", "installed"]


class OptionalPackageError(ImportError, ValueError):
    """An optional package is missing or fails to import.

    An ImportError, as Python says it; a ValueError too, so that the command line reports it
    as a problem of its input and environment (one line, exit status 2).
    """


def installed(package: str) -> bool:
    """Whether ``package`` (a top-level name) can be found, without importing it."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a broken entry in sys.modules or on the path
        return False


def _reason(exc: BaseException) -> str:
    """The error's first line, capped to a line's worth, with its type; the environment
    variable that set matplotlib's backend when that is what failed."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {shown(lines[0], quote=False)}" if lines else \
        type(exc).__name__
    backend = os.environ.get("MPLBACKEND")
    if backend is not None and "backend" in str(exc).lower():
        text += f" (the environment variable MPLBACKEND is {shown(backend)})"
    return text


def import_optional(module: str, *, package: str | None = None, needed_for: str,
                    extra: str | None = None):
    """Import ``module`` of an optional package, or raise one sentence saying what is wrong.

    Parameters
    ----------
    module : str
        What to import, e.g. ``"mnist1d.data"``.
    package : str, optional
        The name to install (by default the top-level name of ``module``).
    needed_for : str
        What needs it, as the sentence begins: ``"the mnist1d data"``.
    extra : str, optional
        This project's extra that installs it (``pip install -e '.[EXTRA]'``), if any.

    Returns
    -------
    module

    Raises
    ------
    OptionalPackageError
        Not installed: how to install it. Installed but failing to import (any exception
        while importing, such as a missing dependency of its own or a ValueError from its
        configuration): that it is installed, and the error, in one line.
    """
    top = module.split(".")[0]
    package = package or top
    if not installed(top):
        checkout = "" if extra is None else \
            f" (or, in a checkout of this project, pip install -e '.[{extra}]')"
        raise OptionalPackageError(f"{needed_for} needs the optional package {package}: "
                                   f"pip install {package}{checkout}")
    try:
        return importlib.import_module(module)
    except Exception as exc:
        raise OptionalPackageError(
            f"{needed_for} needs the optional package {package}, which is installed but fails "
            f"to import: {_reason(exc)}") from exc
