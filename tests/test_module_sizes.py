"""The house rule on size: no module of the library runs past ~400 lines.

A module that grows past that holds two ideas and is split along them (DESIGN.md); 420 lines
leaves room for a docstring's worth of slack, not for a third idea.
"""

from pathlib import Path

import pytest

import mlp

LIMIT = 420
ROOT = Path(mlp.__file__).resolve().parent
MODULES = sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def lines(path):
    return len(path.read_text(encoding="utf-8").splitlines())


def test_every_module_of_the_library_is_counted(tmp_path):
    names = {p.relative_to(ROOT).as_posix() for p in MODULES}
    assert {"__init__.py", "activations.py", "autodiff.py", "gradcheck.py", "cli/__init__.py",
            "exercise/make.py"} <= names
    sample = tmp_path / "sample.py"
    sample.write_text("a = 1\n\n# why\nb = 2\n", encoding="utf-8")
    assert lines(sample) == 4


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_module_is_longer_than_the_limit(path):
    name = path.relative_to(ROOT).as_posix()
    assert lines(path) <= LIMIT, (
        f"mlp/{name} has {lines(path)} lines, more than {LIMIT}: split it along its ideas")
