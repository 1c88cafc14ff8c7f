"""Grading a student folder: each item in its own process, with limits."""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .checks import check_item

# -- loading packages side by side --------------------------------------------------------

_loaded = 0


def load_package(package_dir, alias=None):
    """Import the package in ``package_dir`` under a fresh name, beside any other ``mlp``."""
    global _loaded
    _loaded += 1
    alias = alias or f"_mlp_exercise_{_loaded}"
    package_dir = Path(package_dir)
    spec = importlib.util.spec_from_file_location(
        alias, package_dir / "__init__.py", submodule_search_locations=[str(package_dir)])
    if spec is None:
        raise ValueError(f"{package_dir} is not a Python package")
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
        for name in ("gradcheck", "optim", "losses"):
            importlib.import_module(f"{alias}.{name}")
    except BaseException:
        for name in [n for n in sys.modules if n == alias or n.startswith(alias + ".")]:
            del sys.modules[name]
        raise
    return module


# -- grading -------------------------------------------------------------------------------


def _read_manifest(directory):
    directory = Path(directory)
    path = directory / "exercise.json"
    if not (directory / "mlp").is_dir() or not path.exists():
        raise ValueError(f"{directory} is not an exercise folder (no exercise.json and mlp/)")
    try:
        manifest = json.loads(path.read_text())
        return [(entry["name"], int(entry["points"])) for entry in manifest["items"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a valid exercise manifest ({exc})") from None


def _grade_in_subprocess(directory, item, time_limit):
    command = [sys.executable, "-m", "mlp.exercise", str(Path(directory).resolve()), item]
    with tempfile.TemporaryDirectory() as neutral:  # never import mlp from the student's folder
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=time_limit,
                                    cwd=neutral)
        except subprocess.TimeoutExpired:
            return False, f"time limit exceeded ({time_limit:g} s): an endless loop?"
    lines = result.stdout.strip().splitlines()
    try:
        outcome = json.loads(lines[-1])
        return bool(outcome["ok"]), str(outcome["message"])
    except (IndexError, ValueError, KeyError):
        error = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return False, f"the grader crashed: {error}"


def _limit_memory():
    """Cap the grading process's address space, so a runaway allocation fails fast."""
    try:
        import resource

        limit = 8 * 1024**3
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def grade(directory, *, time_limit=60.0, workers=None) -> list[dict]:
    """Grade every item of a student folder made by :func:`make`.

    Each item runs in a separate process with a time limit, so a student module that fails to
    import, crashes or loops forever costs only the affected items.

    Returns
    -------
    list of dict
        One per item: ``name``, ``score``, ``max_score``, ``output`` (a short message).
    """
    items = _read_manifest(directory)
    with ThreadPoolExecutor(max_workers=workers or 2) as pool:
        outcomes = list(pool.map(lambda entry: _grade_in_subprocess(directory, entry[0],
                                                                    time_limit), items))
    return [{"name": name, "score": points if ok else 0, "max_score": points, "output": message}
            for (name, points), (ok, message) in zip(items, outcomes, strict=True)]


def _grade_one(directory, item):
    """Child-process entry: grade one item against the installed reference, print JSON."""
    import mlp as reference

    try:
        student = load_package(Path(directory) / "mlp")
    except BaseException as exc:  # a broken submission: report it, do not crash
        line = str(exc).splitlines()[0] if str(exc) else ""
        return False, f"the package failed to import: {type(exc).__name__}: {line}"
    return check_item(item, student, reference)
