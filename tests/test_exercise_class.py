"""Grading a class end to end: an LMS export, the gradebook, feedback, Gradescope's bundle."""

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_exercise_grading import append, replace_stub, solve

from mlp import exercise
from mlp.cli import main

ITEMS = ["Sigmoid.backward", "Tanh.backward"]


def zip_folder(folder, target, prefix):
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{prefix}/{path.relative_to(folder).as_posix()}")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    hw = root / "hw"
    exercise.make(hw, only=ITEMS)
    export = root / "export"
    export.mkdir()
    for name in ("alice", "bob", "carol", "dave"):
        shutil.copytree(hw, root / name)
    for item in ITEMS:
        solve(root / "alice", item)  # correct
    solve(root / "bob", "Tanh.backward")  # partial
    append(root / "carol", "activations.py", "raise RuntimeError('crash')\n")  # crashing
    replace_stub(root / "dave", "Tanh.backward", """
        import importlib
        return importlib.import_module("mlp").Tanh.backward(self, dY, input_grad)
    """)  # cheating
    (root / "dave" / "exercise.json").write_text(json.dumps(
        {"items": [{"name": "Tanh.backward", "points": 100}]}))
    shutil.move(root / "alice", export / "alice")
    shutil.move(root / "carol", export / "carol")
    zip_folder(root / "bob", export / "bob.zip", "hw")  # an LMS zip nests the folder
    zip_folder(root / "dave", export / "dave.zip", "dave/hw")
    return root, hw, export


def test_class_gradebook_feedback_and_json(course, capsys):
    root, hw, export = course
    out = root / "grades"
    assert main(["exercise", "grade", str(export), "--exercise", str(hw), "--out", str(out),
                 "--time-limit", "5"]) == 0
    printed = capsys.readouterr().out
    assert "alice: 2/2" in printed
    assert "bob: 1/2" in printed
    with open(out / "gradebook.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["student", *ITEMS, "total", "max"],
                    ["alice", "1", "1", "2", "2"],
                    ["bob", "0", "1", "1", "2"],
                    ["carol", "0", "0", "0", "2"],
                    ["dave", "0", "0", "0", "2"]]
    carol = (out / "feedback" / "carol.txt").read_text()
    assert "mlp/activations.py, line" in carol
    assert "RuntimeError: crash" in carol
    assert "total: 0/2" in carol
    bob = (out / "feedback" / "bob.txt").read_text()
    assert "Sigmoid.backward   0/1    not implemented" in bob
    everyone = json.loads((out / "results.json").read_text())
    assert {s: r["score"] for s, r in everyone["students"].items()} == {
        "alice": 2, "bob": 1, "carol": 0, "dave": 0}
    assert everyone["students"]["dave"]["max_score"] == 2


def test_gradescope_bundle_runs_on_a_fake_autograder(course, tmp_path):
    root, hw, export = course
    bundle = tmp_path / "autograder.zip"
    assert main(["exercise", "gradescope", str(bundle), "--exercise", str(hw),
                 "--time-limit", "5"]) == 0
    fake = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        assert {"setup.sh", "run_autograder", "exercise.json",
                "reference/pyproject.toml", "reference/mlp/__init__.py"} <= names
        assert (archive.getinfo("run_autograder").external_attr >> 16) & 0o111
        archive.extractall(fake / "source")
    setup = (fake / "source" / "setup.sh").read_text()
    assert "pip install --no-cache-dir ./reference\nrm -rf ./reference\n" in setup
    with zipfile.ZipFile(export / "bob.zip") as archive:
        archive.extractall(fake / "submission")  # Gradescope unpacks an uploaded zip
    env = {**os.environ, "AUTOGRADER_ROOT": str(fake),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(["bash", str(fake / "source" / "run_autograder")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    results = json.loads((fake / "results" / "results.json").read_text())
    assert results == {
        "score": 1, "max_score": 2,
        "tests": [{"name": "Sigmoid.backward", "score": 0, "max_score": 1,
                   "output": "not implemented", "visibility": "visible"},
                  {"name": "Tanh.backward", "score": 1, "max_score": 1, "output": "ok",
                   "visibility": "visible"}]}


def test_unsafe_zips_are_refused(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../outside.py", "x = 1\n")
    with pytest.raises(ValueError, match="points outside the archive"):
        exercise.collect_submissions([evil], tmp_path / "work")
    assert not (tmp_path / "outside.py").exists()
    (tmp_path / "not.zip").write_text("plain text")
    with pytest.raises(ValueError, match="not a zip file"):
        exercise.collect_submissions([tmp_path / "not.zip"], tmp_path / "work")


def test_kink_convention_is_named_only_where_q_is_zero():
    from mlp.exercise.hints import diagnose

    X = np.array([[0.0, 1.0], [-1.0, 0.0]])
    want = np.where(X > 0, 1.0, 0.0)
    assert "differs only where q = 0" in diagnose(np.where(X >= 0, 1.0, 0.0), want, X=X)
    assert "q = 0" not in diagnose(np.ones_like(X), want, X=X)
