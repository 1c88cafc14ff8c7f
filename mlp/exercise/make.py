"""Write a student package: the library with the selected solution regions stubbed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from . import probes
from .checks import ITEMS
from .grading import reference_package
from .markers import find_regions, rewrite

# -- make -----------------------------------------------------------------------------------


def _source_dir(source=None) -> Path:
    if source is not None:
        return Path(source)
    return Path(__file__).resolve().parent.parent


def _selected(regions, only, include_forward):
    items = sorted({r.item for r in regions})
    if only:
        unknown = [name for name in only
                   if not any(item == name or item.split(".")[0] == name for item in items)]
        if unknown:
            raise ValueError(f"unknown exercise items {unknown}; items are: {', '.join(items)}")
    chosen = []
    for r in regions:
        if r.forward and not include_forward and not (only and r.item in only):
            continue
        if only and not (r.item in only or r.item.split(".")[0] in only):
            continue
        chosen.append(r)
    return chosen


#: modules that derive gradients by themselves: left out of a package whose exercise asks
#: for a backward pass or an update rule, where they would do the student's work
DERIVERS = ("autodiff.py", "autodiff_forward.py", "autodiff_reverse.py", "autodiff_rules.py",
            "gradcheck_autodiff.py")


def write_package(package, source, regions, stubbed):
    """Write the library from ``source`` into the new folder ``package``, the ``stubbed``
    regions replaced by a raise and every other marker removed (the grader's host package is
    written so too: the student's skeleton). When a stubbed region is not a forward pass,
    the modules of :data:`DERIVERS` are left out."""
    package = Path(package)
    package.mkdir(parents=True)
    derived = any(not r.forward for r in stubbed)
    for path in sorted(source.glob("*.py")):
        if derived and path.name in DERIVERS:
            continue
        mine = [r for r in regions if r.file == path.name]
        text = path.read_text(encoding="utf-8")
        package.joinpath(path.name).write_text(rewrite(text, mine, set(stubbed)),
                                               encoding="utf-8")
    if (source / "py.typed").exists():
        shutil.copy(source / "py.typed", package / "py.typed")
    for sub in sorted(source.iterdir()):  # subpackages (the exercise kit itself) as they are
        if (sub / "__init__.py").is_file():
            shutil.copytree(sub, package / sub.name,
                            ignore=shutil.ignore_patterns("__pycache__"))
    return package


def make(outdir, *, only=None, include_forward=False, solution=False, source=None,
         hidden=None) -> dict:
    """Write a student package: the library with the selected solution regions stubbed.

    Parameters
    ----------
    outdir : str or Path
        Created; must not exist or be empty.
    only : list of str, optional
        Items (``"Linear.backward"``) or classes (``"Adam"``) to stub; default all backward
        passes, loss gradients and update rules.
    include_forward : bool, default False
        Also stub the marked forward passes.
    solution : bool, default False
        Stub nothing: the full solution, with the markers removed (for testing the grader).
    source : path, optional
        The package to copy; default the installed ``mlp``.
    hidden : list of str, optional
        Items whose check runs only at grading: the student's own tests leave them out (and
        hold no reference values for them), Gradescope shows them after the grades are
        published (``"visibility": "after_published"`` in ``exercise.json``, which may be
        edited to ``"hidden"``, never shown).

    Returns
    -------
    dict
        The manifest written to ``outdir/exercise.json``.
    """
    source = _source_dir(source)
    regions = find_regions(source)
    stubbed = [] if solution else _selected(regions, only, include_forward)
    outdir = Path(outdir)
    if outdir.exists() and any(outdir.iterdir()):
        raise ValueError(f"{outdir} exists and is not empty")
    write_package(outdir / "mlp", source, regions, stubbed)

    graded = sorted({r.item for r in stubbed}) if not solution else sorted(
        {r.item for r in _selected(regions, only, include_forward)})
    hidden = set(hidden or ())
    if hidden - set(graded):
        raise ValueError(f"hidden items {sorted(hidden - set(graded))} are not items of this "
                         f"exercise; items are: {', '.join(graded)}")
    manifest = {
        "format": "mlp-exercise", "version": 1,
        "items": [{"name": name, "points": ITEMS.get(name, 1),
                   "hint": next(r.hint for r in regions if r.item == name),
                   "file": f"mlp/{next(r.file for r in regions if r.item == name)}",
                   "visibility": "after_published" if name in hidden else "visible"}
                  for name in graded],
    }
    (outdir / "exercise.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (outdir / "pyproject.toml").write_text(_PYPROJECT)
    (outdir / "tests").mkdir()
    (outdir / "tests" / "test_exercises.py").write_text(_STUDENT_TESTS)
    reference = reference_package(source)
    expected = {name: probes.encode(probes.run(name, reference, None, seed=0))
                for name in graded if name not in hidden}
    (outdir / "tests" / "reference_values.json").write_text(json.dumps(expected) + "\n")
    (outdir / "README.md").write_text(_student_readme(manifest, solution))
    return manifest


_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "mlp-exercise"
version = "0.1.0"
description = "Backpropagation exercise: the mlp library with the derivations left to you"
requires-python = ">=3.10"
dependencies = ["numpy>=1.22", "scipy", "scikit-learn>=1.6", "tqdm"]

[project.optional-dependencies]
test = ["pytest>=7"]

[tool.setuptools.packages.find]
include = ["mlp*"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

_STUDENT_TESTS = '''\
\"\"\"Your own check of each exercise item: the grader's checks, on inputs you can see.

Run with `python -m pytest`. Each item runs your own classes on fixed inputs and compares the
numbers with the reference's (stored in reference_values.json), with the grader's hints. The
grader runs the same comparison on inputs you have not seen, each item with a time limit,
and the checks your instructor marked hidden (not run here).
\"\"\"

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
MANIFEST = json.loads((HERE.parent / "exercise.json").read_text())
TIME_LIMIT = float(os.environ.get("MLP_EXERCISE_TIME_LIMIT", 60))  # seconds per item

# Each item runs in a process of its own, stopped at the time limit even inside a long
# numpy call; your prints go to standard error, the verdict comes back on standard output.
CHILD = \"\"\"
import json, os, sys
import mlp
from mlp.exercise.checks import check_local
verdict = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
expected = json.loads(open(sys.argv[2], encoding="utf-8").read())[sys.argv[1]]
verdict.write("ready\\\\n")
verdict.flush()
verdict.write(json.dumps(check_local(sys.argv[1], mlp, expected)) + "\\\\n")
verdict.flush()
\"\"\"


def run_item(item):
    child = subprocess.Popen([sys.executable, "-c", CHILD, item,
                              str(HERE / "reference_values.json")],
                             cwd=HERE.parent, stdout=subprocess.PIPE, text=True)
    stopped = threading.Event()

    def stop():
        stopped.set()
        child.kill()

    try:
        child.stdout.readline()  # numpy imported: the time limit starts now
        timer = threading.Timer(TIME_LIMIT, stop)
        timer.start()
        line = child.stdout.readline()
        timer.cancel()
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    if stopped.is_set():
        return False, f"time limit exceeded ({TIME_LIMIT:g} s): an endless loop?"
    if not line:
        return False, "the check ended without a verdict: did the code end its process?"
    return tuple(json.loads(line))


@pytest.mark.parametrize("item", [entry["name"] for entry in MANIFEST["items"]
                                  if entry.get("visibility", "visible") == "visible"])
def test_item(item):
    ok, message = run_item(item)
    if not ok:
        pytest.fail(message, pytrace=False)
'''


def _student_readme(manifest, solution=False):
    rows = "\n".join(f"| `{e['name']}` | `{e['file']}` | {e['points']} | {e['hint']}"
                     + (" (checked at grading only)" if e["visibility"] != "visible" else "")
                     + " |" for e in manifest["items"])
    total = sum(e["points"] for e in manifest["items"])
    if solution:
        what = ("This folder holds the complete `mlp` library, every derivation in place: the "
                "solution of the exercise below, for testing the grader.")
    else:
        what = ("This folder holds the `mlp` library with the derivations removed. Each "
                "function below raises\n`NotImplementedError`; its docstring states what it "
                "computes, with the shapes, and a `TODO`\ncomment gives the formula to "
                "implement. Everything else in the library works.")
    return f"""\
# Backpropagation exercise

{what}

Work in a virtual environment of your own (installing this folder where another `mlp` is
installed would replace it):

```sh
python -m venv .venv && . .venv/bin/activate     # once (Windows: .venv\\Scripts\\activate)
pip install -e ".[test]"                         # once
python -m pytest                                 # check your work, with the grader's hints
```

A backward pass must return dX = dL/dX and write its parameter gradients into
`self.grads[...]` in place. Check one layer by hand with

```python
import numpy as np, mlp
print(mlp.check_layer(mlp.Tanh(), np.random.default_rng(0).normal(size=(4, 3))))
```

| item | in | points | what to compute |
|---|---|---|---|
{rows}

Total: {total} points. Submit this folder; it is graded item by item, each on its own, with a
time limit per item, on inputs your tests do not show: code that is right for the visible
inputs only will not pass. Each item is graded from the file named beside it. Changing
`exercise.json` or the tests changes nothing in grading.
"""
