"""The grader grades the student's class as the student wrote it: its helper methods, the
values its own forward caches and zero-argument super() count, as in the student's own tests."""

import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import mlp
from mlp import exercise
from mlp.cli import main
from mlp.exercise import probes
from mlp.exercise.checks import judge
from mlp.exercise.hints import compare
from mlp.exercise.make import DERIVERS

ITEMS = ["Linear.backward", "Sigmoid.backward", "Tanh.backward"]


def rewrite(folder, old, new):
    path = folder / "mlp" / "activations.py"
    text = path.read_text()
    assert text.count(old) == 1, old
    body, _, method = new.strip("\n").partition("\n\n")  # a method after the body
    path.write_text(text.replace(old, textwrap.indent(body, " " * 8) + "\n" + (
        f"\n{method}\n" if method else "")))


def test_helpers_own_cache_and_super_score_full_at_grader_and_locally(tmp_path):
    folder = tmp_path / "hw"
    exercise.make(folder, only=ITEMS)
    # Tanh: the student's forward caches under a name of its own; backward calls a helper
    rewrite(folder, "        self._Y = np.tanh(X)\n        return self._Y\n", """
self._tanh = np.tanh(X)
return self._tanh
""")
    rewrite(folder, "        # TODO Tanh.backward: dX = dY ⊙ (1 − Y²)\n"
            "        raise NotImplementedError('Tanh.backward: dX = dY ⊙ (1 − Y²)')\n", """
return dY * self._local_slope(self._tanh)

    def _local_slope(self, Y):
        return 1 - Y * Y
""")
    # Sigmoid: zero-argument super() reaches the base class's helper
    rewrite(folder, "        # TODO Sigmoid.backward: dX = dY ⊙ Y ⊙ (1 − Y)\n"
            "        raise NotImplementedError('Sigmoid.backward: dX = dY ⊙ Y ⊙ (1 − Y)')\n",
            """
Y = super()._cached(dY, self._Y)
return dY * Y * (1 - Y)
""")
    results = {r["name"]: r for r in exercise.grade(folder, exercise=folder, time_limit=5,
                                                    workers=1)}
    assert {n: (r["score"], r["output"]) for n, r in results.items()} == {
        "Linear.backward": (0, "not implemented"), "Sigmoid.backward": (1, "ok"),
        "Tanh.backward": (1, "ok")}
    env = {**os.environ, "PYTHONPATH": str(folder), "COLUMNS": "400"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-rf"], cwd=folder, env=env, capture_output=True, text=True,
                         timeout=300)
    assert "1 failed, 2 passed" in run.stdout or "2 passed, 1 failed" in run.stdout, (
        run.stdout + run.stderr)
    assert "::test_item[Linear.backward] - Failed: not implemented\n" in run.stdout


@pytest.mark.parametrize("step", ["grade", "gradescope"])
def test_items_and_points_come_only_from_the_instructor(tmp_path, capsys, step):
    """Without --exercise, nothing is graded or written: a submission's own manifest (or
    the items it was handed solved) never counts."""
    folder = tmp_path / "hw"
    exercise.make(folder, only=["Tanh.backward"])
    target = str(folder) if step == "grade" else str(tmp_path / "ag.zip")
    assert main(["exercise", step, target]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"mlp exercise {step}: error: --exercise HW is required" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hw"]


def test_every_entry_of_a_class_gets_a_row_and_odd_names_are_made_safe(tmp_path, capsys):
    """A zip with a file and a folder of one name, an undecodable or very long zip name, a
    pipe named like a zip and a folder without the library: each costs only itself and
    gets its row, its feedback file and its reason."""
    hw = tmp_path / "hw"
    exercise.make(hw, only=["Tanh.backward"])
    solved = (hw / "mlp" / "activations.py").read_text().replace(
        "        raise NotImplementedError('Tanh.backward: dX = dY ⊙ (1 − Y²)')\n",
        "        return dY * (1 - self._Y ** 2)\n")
    klass = tmp_path / "class"
    shutil.copytree(hw, klass / "alice")
    (klass / "bob").mkdir()
    (klass / "bob" / "notes.txt").write_text("nothing here\n")
    for name in (os.fsdecode(b"ev\xffe"), "b" * 240):
        with zipfile.ZipFile(klass / f"{name}.zip", "w") as archive:
            archive.writestr("mlp/activations.py", solved)
    with zipfile.ZipFile(klass / "clash.zip", "w") as archive:
        archive.writestr("mlp", "x")
        archive.writestr("mlp/activations.py", solved)
    os.mkfifo(klass / "pipe.zip")
    out = tmp_path / "grades"
    assert main(["exercise", "grade", str(klass), "--exercise", str(hw), "--out", str(out),
                 "--time-limit", "5", "--workers", "1"]) == 0
    capsys.readouterr()
    rows = {row["student"]: row for row in csv.DictReader(
        (out / "gradebook.csv").read_text(encoding="utf-8").splitlines())}
    assert {s: row["total"] for s, row in rows.items()} == {
        "alice": "0", "bob": "0", "clash": "0", "pipe": "0", "ev_xffe": "1", "b" * 100: "1"}
    assert sorted(p.name for p in (out / "feedback").iterdir()) == sorted(
        f"{s}.txt" for s in rows)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    feedback = {s: (out / "feedback" / f"{s}.txt").read_text(encoding="utf-8")
                for s in rows}
    assert "entry 'mlp/activations.py' cannot be unpacked" in feedback["clash"]
    assert "pipe.zip is neither a folder nor a zip file: not graded" in feedback["pipe"]
    assert "no mlp/ folder and none of the library's files" in feedback["bob"]
    assert "not implemented" in feedback["alice"]
    assert set(results["students"]) == set(rows)


def test_float32_intermediates_are_named_as_such():
    """Y.astype(np.float32) in a Sigmoid backward: still wrong (the library promises float64),
    but the hint says why; an error far beyond float32's round-off is not called one."""
    rng = np.random.default_rng(0)
    X, dY = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    Y = 1 / (1 + np.exp(-X))
    Y32 = Y.astype(np.float32)
    want = dY * Y * (1 - Y)
    message = compare("train: dX", dY * Y32 * (1 - Y32), want)
    assert message.startswith("train: dX differs from the reference: agrees only to about 7 "
                              "significant digits (max difference ")
    assert message.endswith("compute in float64 (no float32 intermediates)")
    assert compare("train: dX", want + 1e-4, want) == (
        "train: dX differs from the reference: max difference 0.0001")


def test_no_tool_that_derives_the_exercised_gradients_is_shipped(tmp_path):
    """autodiff would derive Linear.backward for the student: it is neither in the student's
    package nor where the grader runs the submission; gradcheck still works there; the
    solution keeps it."""
    hw = tmp_path / "hw"
    exercise.make(hw, only=["Linear.backward"])
    autodiff = ["autodiff.py", "autodiff_forward.py", "autodiff_reverse.py", "autodiff_rules.py",
                "gradcheck_autodiff.py"]
    shipped = {p.name for p in (hw / "mlp").glob("*.py")}
    assert not shipped & {*autodiff, *DERIVERS}
    assert not [name for name in shipped if "autodiff" in name]
    exercise.make(tmp_path / "solution", solution=True)
    for name in autodiff:
        assert (tmp_path / "solution" / "mlp" / name).is_file(), name
    check = ("import numpy as np, mlp, mlp.gradcheck as g\n"
             "print(g.check_layer(mlp.Tanh(), np.random.default_rng(0).normal(size=(3, 2))"
             ").ok)\n")
    run = subprocess.run([sys.executable, "-c", check], cwd=hw, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(hw)})
    assert run.stdout == "True\n", run.stderr
    path = hw / "mlp" / "layers.py"
    text = path.read_text()
    stub = "raise NotImplementedError('Linear.backward"
    start = text.index(stub)
    path.write_text(text[:start] + "from .autodiff import value_and_grad  # noqa\n"
                    + text[text.index("\n", start):])
    [result] = exercise.grade(hw, exercise=hw, time_limit=5, workers=1)
    assert (result["score"], result["output"]) == (
        0, "raised ModuleNotFoundError: No module named 'mlp.autodiff'")


def test_student_folder_installs_whole_and_checks_each_item_apart(tmp_path):
    """The student's pyproject installs every subpackage (``mlp.cli``, ``mlp.exercise``); a
    stray line in sequential.py costs only its items in the student's own tests, named by
    file and line in the grader's words, and the other items are still checked."""
    tomllib = pytest.importorskip("tomllib")
    setuptools = pytest.importorskip("setuptools")
    hw = tmp_path / "hw"
    exercise.make(hw, only=["Tanh.backward", "Residual.backward"])
    config = tomllib.loads((hw / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = setuptools.find_packages(hw, **config["packages"]["find"])
    assert {"mlp", "mlp.cli", "mlp.exercise", "mlp.io"} <= set(found)
    path = hw / "mlp" / "sequential.py"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, "print(debug_helper(3))"]) + "\n")
    env = {**os.environ, "PYTHONPATH": str(hw), "COLUMNS": "400"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-rf"], cwd=hw, env=env, capture_output=True, text=True, timeout=300)
    assert "2 failed" in run.stdout, run.stdout + run.stderr
    assert "::test_item[Tanh.backward] - Failed: not implemented\n" in run.stdout
    assert (f"::test_item[Residual.backward] - Failed: mlp/sequential.py, line "
            f"{len(lines) + 1}: NameError: name 'debug_helper' is not defined (the module "
            "failed to import, so its items cannot be graded)\n") in run.stdout


def test_an_answer_cut_short_is_called_incomplete():
    """A forged answer with no arrays (os.write(3, ...); os._exit(0)) did not change any input:
    it is incomplete, and says so."""
    want = probes.run("Tanh.backward", mlp, None, seed=1)
    assert judge("Tanh.backward", {}, want) == (
        False, "the answer was incomplete (X did not come back): did the code end its "
        "process early?")
    changed = {**want, "train: X": want["train: X"] + 1.0}
    assert judge("Tanh.backward", changed, want) == (False, "changed its input (X) in place")
    assert judge("Tanh.backward", want, want) == (True, "ok")


def test_local_time_limit_stops_a_long_numpy_call(tmp_path):
    """The student's own test stops an item inside numpy's matrix products (its own process
    is killed), and a print in a correct item changes nothing."""
    hw = tmp_path / "hw"
    exercise.make(hw, only=["Tanh.backward", "Sigmoid.backward"])
    rewrite(hw, "        # TODO Tanh.backward: dX = dY ⊙ (1 − Y²)\n"
            "        raise NotImplementedError('Tanh.backward: dX = dY ⊙ (1 − Y²)')\n", """
A = np.ones((1500, 1500))
while True:
    A = A @ A / 1500
""")
    rewrite(hw, "        # TODO Sigmoid.backward: dX = dY ⊙ Y ⊙ (1 − Y)\n"
            "        raise NotImplementedError('Sigmoid.backward: dX = dY ⊙ Y ⊙ (1 − Y)')\n",
            """
print("debugging")
Y = self._cached(dY, self._Y)
return dY * Y * (1 - Y)
""")
    env = {**os.environ, "PYTHONPATH": str(hw), "COLUMNS": "400",
           "MLP_EXERCISE_TIME_LIMIT": "2"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-rf"], cwd=hw, env=env, capture_output=True, text=True, timeout=300)
    assert "1 failed, 1 passed" in run.stdout, run.stdout + run.stderr
    assert ("::test_item[Tanh.backward] - Failed: time limit exceeded (2 s): an endless "
            "loop?\n") in run.stdout
