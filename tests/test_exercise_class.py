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
    # bad submissions cost only themselves: not a zip, too many entries, too large, escaping,
    # a link out of the class folder to the installed package's checkout
    (export / "erin.zip").write_text("plain text")
    with zipfile.ZipFile(export / "frank.zip", "w") as archive:
        for i in range(2001):
            archive.writestr(f"hw/mlp/f{i}.py", "")
    with zipfile.ZipFile(export / "gina.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("hw/mlp/activations.py", bytes(51 << 20))
    with zipfile.ZipFile(export / "hugo.zip", "w") as archive:
        archive.writestr("../outside.py", "x = 1\n")
    (export / "ivan").symlink_to(Path(exercise.__file__).resolve().parent.parent.parent)
    # the files loose, without their mlp/ folder
    (export / "judy").mkdir()
    for path in (root / "bob" / "mlp").glob("*.py"):
        shutil.copy(path, export / "judy" / path.name)
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
                    ["dave", "0", "0", "0", "2"],
                    *([name, "0", "0", "0", "2"] for name in ("erin", "frank", "gina", "hugo",
                                                              "ivan")),
                    ["judy", "0", "1", "1", "2"]]
    assert not (root / "outside.py").exists()
    assert not (export / "outside.py").exists()
    for name, reason in [
        ("erin", "erin.zip: not a zip file (File is not a zip file)"),
        ("frank", "frank.zip: more than 2000 files or 50 MB unpacked"),
        ("gina", "gina.zip: more than 2000 files or 50 MB unpacked"),
        ("hugo", "hugo.zip: entry '../outside.py' points outside the archive"),
        ("ivan", "ivan is a symbolic link leading outside the class folder: not graded"),
    ]:
        feedback = (out / "feedback" / f"{name}.txt").read_text()
        assert f"Tanh.backward      0/1    {reason}" in feedback, feedback
    carol = (out / "feedback" / "carol.txt").read_text()
    assert "mlp/activations.py, line" in carol
    assert "RuntimeError: crash" in carol
    assert "total: 0/2" in carol
    bob = (out / "feedback" / "bob.txt").read_text()
    assert "Sigmoid.backward   0/1    not implemented" in bob
    everyone = json.loads((out / "results.json").read_text())
    assert {s: r["score"] for s, r in everyone["students"].items()} == {
        "alice": 2, "bob": 1, "carol": 0, "dave": 0, "erin": 0, "frank": 0, "gina": 0,
        "hugo": 0, "ivan": 0, "judy": 1}
    assert everyone["students"]["erin"]["output"] == (
        "This submission could not be graded: erin.zip: not a zip file (File is not a zip "
        "file)")
    assert "output" not in everyone["students"]["carol"]
    assert everyone["students"]["dave"]["max_score"] == 2


@pytest.fixture(scope="module")
def bundle(course, tmp_path_factory):
    """The autograder bundle of an exercise whose Sigmoid.backward check is hidden."""
    root, _, _ = course
    hw = tmp_path_factory.mktemp("hidden") / "hw"
    exercise.make(hw, only=ITEMS, hidden=["Sigmoid.backward"])
    path = root / "autograder.zip"
    assert main(["exercise", "gradescope", str(path), "--exercise", str(hw),
                 "--time-limit", "5"]) == 0
    return path


def run_autograder(bundle, tmp_path, upload):
    """Unpack ``bundle`` into a fake autograder root, ``upload`` into its submission/, run."""
    fake = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        assert {"setup.sh", "run_autograder", "exercise.json",
                "reference/pyproject.toml", "reference/mlp/__init__.py"} <= names
        assert (archive.getinfo("run_autograder").external_attr >> 16) & 0o111
        archive.extractall(fake / "source")
    setup = (fake / "source" / "setup.sh").read_text()
    assert "pip install --no-cache-dir ./reference\nrm -rf ./reference\n" in setup
    (fake / "submission").mkdir()
    upload(fake / "submission")
    env = {**os.environ, "AUTOGRADER_ROOT": str(fake),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(["bash", str(fake / "source" / "run_autograder")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads((fake / "results" / "results.json").read_text())


BOB = {"score": 1, "max_score": 2,
       "tests": [{"name": "Sigmoid.backward", "score": 0, "max_score": 1,
                  "output": "not implemented", "visibility": "after_published"},
                 {"name": "Tanh.backward", "score": 1, "max_score": 1, "output": "ok",
                  "visibility": "visible"}]}


@pytest.mark.parametrize("layout", ["one folder down", "loose", "zip"])
def test_gradescope_bundle_finds_the_files_where_the_student_put_them(course, bundle, tmp_path,
                                                                    layout):
    root, _, export = course

    def upload(submission):
        if layout == "one folder down":  # Gradescope unpacks an uploaded zip
            with zipfile.ZipFile(export / "bob.zip") as archive:
                archive.extractall(submission)
        elif layout == "loose":
            for path in (root / "bob" / "mlp").glob("*.py"):
                shutil.copy(path, submission / path.name)
        else:
            shutil.copy(export / "bob.zip", submission / "homework.zip")

    assert run_autograder(bundle, tmp_path, upload) == BOB


def test_gradescope_says_why_a_submission_cannot_be_graded(bundle, tmp_path):
    def upload(submission):
        (submission / "notes.txt").write_text("I could not do it")

    results = run_autograder(bundle, tmp_path, upload)
    assert results["score"] == 0
    assert results["output"].startswith(
        "This submission could not be graded: no mlp/ folder and none of the library's "
        "files (")
    assert [t["score"] for t in results["tests"]] == [0, 0]
    assert [t["visibility"] for t in results["tests"]] == ["after_published", "visible"]


def test_hidden_checks_are_not_in_the_students_own_tests(bundle, tmp_path):
    hw = tmp_path / "hw"
    exercise.make(hw, only=ITEMS, hidden=["Sigmoid.backward"])
    expected = json.loads((hw / "tests" / "reference_values.json").read_text())
    assert set(expected) == {"Tanh.backward"}
    manifest = json.loads((hw / "exercise.json").read_text())
    assert [e["visibility"] for e in manifest["items"]] == ["after_published", "visible"]
    assert "(checked at grading only)" in (hw / "README.md").read_text()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                         cwd=hw, env={**os.environ, "PYTHONPATH": str(hw)},
                         capture_output=True, text=True, timeout=300)
    assert "1 failed" in run.stdout, run.stdout
    assert "passed" not in run.stdout
    assert "test_item[Tanh.backward]" in run.stdout
    assert "Sigmoid" not in run.stdout
    with pytest.raises(ValueError, match=r"hidden items \['Adam._update'\] are not items"):
        exercise.make(tmp_path / "bad", only=ITEMS, hidden=["Adam._update"])


def test_kink_convention_is_named_only_where_q_is_zero():
    from mlp.exercise.hints import diagnose

    X = np.array([[0.0, 1.0], [-1.0, 0.0]])
    want = np.where(X > 0, 1.0, 0.0)
    assert "differs only where q = 0" in diagnose(np.where(X >= 0, 1.0, 0.0), want, X=X)
    assert "q = 0" not in diagnose(np.ones_like(X), want, X=X)


def test_a_constant_factor_is_named_only_when_several_entries_show_it():
    from mlp.exercise.hints import diagnose

    want = np.array([[0.0, 2.0], [0.0, -1.0]])
    assert diagnose(0.5 * want, want) == "off by a constant factor 0.5"
    one = np.array([[0.0, 2.0], [0.0, 0.0]])
    assert diagnose(np.array([[0.0, 3.0], [0.0, 0.0]]), one) == "max difference 1"


def test_gradescope_output_says_why_the_autograder_itself_failed(bundle, tmp_path):
    fake = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(fake / "source")
    (fake / "source" / "exercise.json").write_text("{broken")
    (fake / "submission").mkdir()
    env = {**os.environ, "AUTOGRADER_ROOT": str(fake),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(["bash", str(fake / "source" / "run_autograder")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    results = json.loads((fake / "results" / "results.json").read_text())
    assert results["score"] == 0
    assert results["output"].startswith(
        "The autograder could not grade this submission: mlp exercise grade: error: ")
    assert "not a valid exercise manifest" in results["output"]
