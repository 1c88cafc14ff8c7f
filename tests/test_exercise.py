"""The exercise kit: the skeleton, the grader and the check of the grading."""

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import mlp
from mlp import exercise
from mlp.cli import main

SOURCE = Path(mlp.__file__).resolve().parent


def replace_stub(folder, item, body):
    """Solve (or break) one stubbed item of a student folder, as a student would."""
    for path in (folder / "mlp").glob("*.py"):
        text = path.read_text()
        pattern = re.compile(
            rf"^( *)# TODO {re.escape(item)}:.*\n\1raise NotImplementedError\(.*\)\n",
            re.MULTILINE)
        match = pattern.search(text)
        if match:
            indent = match.group(1)
            code = "".join(f"{indent}{line}\n" for line in body.strip("\n").splitlines())
            path.write_text(text[:match.start()] + code + text[match.end():])
            return
    raise AssertionError(f"no stub for {item}")


def by_name(results):
    return {r["name"]: r for r in results}


@pytest.fixture(scope="module")
def skeleton(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exercise") / "skeleton"
    exercise.make(folder, include_forward=True)
    return folder


def test_every_marked_function_raises_and_the_rest_works(skeleton):
    regions = exercise.find_regions(SOURCE)
    items = sorted({r.item for r in regions})
    assert len(items) >= 25
    student = exercise.load_package(skeleton / "mlp")
    for item in items:
        ok, message = exercise.check_item(item, student, mlp)
        assert not ok
        assert message == "not implemented", (item, message)
    # untouched parts work: layers' constructors, gradient checks, datasets, autodiff
    X = np.random.default_rng(0).normal(size=(4, 3))
    layer = student.Linear(3, 2, rng=0)
    assert layer.params["W"].shape == (3, 2)
    grad = student.gradcheck.numerical_gradient(lambda v: float(np.sum(v**2)), X.copy())
    np.testing.assert_allclose(grad, 2 * X, rtol=1e-8)
    assert student.ELU().forward(X).shape == (4, 3)
    assert len(importlib_datasets(student).load_iris().X) == 150
    manifest = json.loads((skeleton / "exercise.json").read_text())
    assert {e["name"] for e in manifest["items"]} == set(items)
    assert "NotImplementedError" in (skeleton / "README.md").read_text()
    assert not any(re.search(r"#\s*(BEGIN|END) SOLUTION", p.read_text())
                   for p in (skeleton / "mlp").glob("*.py") if p.name != "exercise.py")


def importlib_datasets(package):
    import importlib

    return importlib.import_module(f"{package.__name__}.datasets")


def test_skeleton_builds_as_a_package(skeleton, tmp_path):
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                             str(tmp_path), str(skeleton)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.glob("mlp_exercise-*.whl"))


def test_no_solution_markers_visible_at_runtime():
    for name in ["activations", "layers", "losses", "optim", "base", "sequential",
                 "gradcheck", "trainer", "estimator", "io", "cli", "autodiff"]:
        module = __import__(f"mlp.{name}", fromlist=["_"])
        texts = [module.__doc__ or ""]
        for _, obj in inspect.getmembers(module):
            if isinstance(obj, (type, types.FunctionType)):
                texts.append(obj.__doc__ or "")
                for _, member in inspect.getmembers(obj, inspect.isfunction):
                    texts.append(member.__doc__ or "")
                    texts.extend(c for c in member.__code__.co_consts if isinstance(c, str))
        assert not any("SOLUTION" in text for text in texts), name


def test_grade_skeleton_solution_and_one_solved_item(skeleton, tmp_path):
    solution = tmp_path / "solution"
    exercise.make(solution, solution=True, include_forward=True)
    one = tmp_path / "one"
    shutil.copytree(skeleton, one)
    replace_stub(one, "Tanh.backward", """
Y = self._cached(dY, self._Y)
return dY * (1.0 - Y**2)
""")
    with exercise.Grader(skeleton, time_limit=10) as grader:
        untouched, full, results = grader.grade_many([skeleton, solution, one])
    assert len(untouched) >= 25
    assert all(r["score"] == 0 for r in untouched)
    assert all(r["score"] == r["max_score"] for r in full), [r for r in full if not r["score"]]
    results = by_name(results)
    # the forward passes are exercised too: Tanh.backward's check runs the student's forward
    assert results["Tanh.backward"]["score"] == 0
    assert results["Tanh.backward"]["output"] == (
        "not implemented: the check runs Tanh.forward first, which is not implemented yet")
    replace_stub(one, "Tanh.forward", "self._Y = Y = np.tanh(X)\nreturn Y")
    with exercise.Grader(["Tanh.forward", "Tanh.backward", "Sigmoid.backward"],
                         time_limit=10) as grader:
        [results] = grader.grade_many([one])
    assert {r["name"]: r["score"] for r in results} == {
        "Tanh.forward": 1, "Tanh.backward": 1, "Sigmoid.backward": 0}


WRONG = [
    ("Linear.backward", """
self.grads["W"] = dY.T @ X
if self.bias:
    self.grads["b"][...] = dY.sum(axis=0)
return dY @ W.T
""", "gradient transposed"),
    ("Linear.backward", """
self.grads["W"] = X.T @ dY
if self.bias:
    self.grads["b"] = dY.sum(axis=0)
return dY @ W.T if input_grad else None
""", "replaced the gradient array of W"),
    ("MSELoss.backward", """
diff = self._cached()
return diff
""", "missing 1/N"),
    ("Sigmoid.backward", """
Y = self._cached(dY, self._Y)
return -dY * Y * (1 - Y)
""", "wrong sign"),
    ("ReLU.backward", """
Y = self._cached(dY, self._Y)
return dY * (Y >= 0)
""", "nonzero at "),
    ("ReLU.backward", """
Y = self._cached(dY, self._Y)
return dY * (Y > 0) * 0.5
""", "off by a constant factor 0.5"),
    ("Dropout.backward", """
return dY / (1 - self.p)
""", "the dropout mask was not applied"),
]


def test_wrong_answers_fail_with_a_hint_that_fits_the_evidence(tmp_path):
    items = sorted({item for item, _, _ in WRONG})
    folders = []
    for i, (item, body, _) in enumerate(WRONG):
        folders.append(tmp_path / f"wrong{i}")
        exercise.make(folders[-1], only=items)
        replace_stub(folders[-1], item, body)
    with exercise.Grader(items, time_limit=10) as grader:
        graded = grader.grade_many(folders)
    for (item, _, hint), results in zip(WRONG, graded, strict=True):
        result = by_name(results)[item]
        assert result["score"] == 0
        assert hint in result["output"], (item, result["output"])
        assert "constant factor 1 " not in result["output"] + " "
        assert "constant factor 0.6" not in result["output"]


def test_import_crash_and_endless_loop_are_contained(tmp_path):
    crash = tmp_path / "crash"
    exercise.make(crash, only=["Tanh.backward", "ReLU.backward", "Linear.backward"])
    loop = tmp_path / "loop"
    shutil.copytree(crash, loop)
    solve = """
Y = self._cached(dY, self._Y)
return dY * (Y > 0)
"""
    replace_stub(crash, "ReLU.backward", solve)
    path = crash / "mlp" / "activations.py"
    path.write_text(path.read_text() + "\nraise RuntimeError('boom')\n")
    line = len(path.read_text().splitlines())
    replace_stub(loop, "Tanh.backward", "while True:\n    pass")
    replace_stub(loop, "ReLU.backward", solve)
    with exercise.Grader(crash, time_limit=2) as grader:
        crashed, looped = map(by_name, grader.grade_many([crash, loop]))
    assert crashed["Tanh.backward"]["score"] == 0
    assert crashed["Tanh.backward"]["output"].startswith(
        f"mlp/activations.py, line {line}: RuntimeError: boom"), crashed["Tanh.backward"]
    # other modules: ReLU's (activations_piecewise.py, solved) and Linear's (layers.py)
    assert crashed["ReLU.backward"]["score"] == 1
    assert crashed["Linear.backward"]["output"] == "not implemented"
    assert looped["Tanh.backward"]["score"] == 0
    assert "time limit exceeded" in looped["Tanh.backward"]["output"]
    assert looped["ReLU.backward"]["score"] == 1


def test_cli_make_grade_json(tmp_path, capsys):
    folder = tmp_path / "ex"
    assert main(["exercise", "make", str(folder), "--only", "Adam", "Softmax.backward"]) == 0
    assert "2 items, 4 points" in capsys.readouterr().out
    assert main(["exercise", "make", str(tmp_path / "one"), "--only", "Tanh.backward"]) == 0
    assert "1 item, 1 point\n" in capsys.readouterr().out
    replace_stub(folder, "Softmax.backward", """
Y = self._cached(dY, self._Y)
return Y * (dY - (dY * Y).sum(axis=1, keepdims=True))
""")
    assert main(["exercise", "grade", str(folder), "--exercise", str(folder),
                 "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "total: 2/4" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["score"] == 2
    assert report["max_score"] == 4
    assert {t["name"]: t["score"] for t in report["tests"]} == {"Adam._update": 0,
                                                                "Softmax.backward": 2}
    assert main(["exercise", "make", str(folder)]) == 2  # not empty
    assert main(["exercise", "make", str(tmp_path / "x"), "--only", "Conv2d"]) == 2
    assert "unknown exercise items ['Conv2d']" in capsys.readouterr().err


def test_verify_passes_on_the_shipped_source(capsys):
    assert main(["exercise", "verify"]) == 0
    out = capsys.readouterr().out
    assert out == "21 items, 31 points: every test discriminates exactly its own item\n"


def test_verify_takes_an_exercise_folder_and_refuses_a_missing_source(tmp_path, capsys):
    hw = tmp_path / "hw1"
    exercise.make(hw, only=["Tanh.backward", "Adam"])
    capsys.readouterr()
    assert main(["exercise", "verify", str(hw)]) == 0
    assert capsys.readouterr().out.startswith("2 items, 3 points: every test discriminates")
    assert main(["exercise", "verify", "--source", str(tmp_path / "nodir")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"mlp exercise verify: error: --source {tmp_path / 'nodir'}: "
                            "no such directory\n")
    with pytest.raises(SystemExit):
        main(["exercise", "verify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "scores 100 percent" in text
    assert "%" not in text


def test_solution_readme_says_it_is_the_solution(tmp_path):
    exercise.make(tmp_path / "solution", solution=True)
    readme = (tmp_path / "solution" / "README.md").read_text()
    assert "every derivation in place" in readme
    assert "removed" not in readme
    exercise.make(tmp_path / "student")
    readme = (tmp_path / "student" / "README.md").read_text()
    assert "derivations removed" in readme
    assert "python -m venv .venv" in readme


def test_verify_fails_for_unbalanced_markers_and_blind_tests(tmp_path):
    unbalanced = tmp_path / "unbalanced"
    shutil.copytree(SOURCE, unbalanced, ignore=shutil.ignore_patterns("__pycache__"))
    path = unbalanced / "activations.py"
    lines = path.read_text().splitlines(keepends=True)
    first_end = next(i for i, line in enumerate(lines) if "# END SOLUTION" in line)
    path.write_text("".join(lines[:first_end] + lines[first_end + 1:]))
    log = []
    assert not exercise.verify(unbalanced, log=log.append)
    assert "inside the region opened at line" in log[0]
    assert main(["exercise", "verify", "--source", str(unbalanced)]) == 1

    blind = tmp_path / "blind"
    shutil.copytree(SOURCE, blind, ignore=shutil.ignore_patterns("__pycache__"))
    path = blind / "activations.py"
    text = path.read_text()
    marked = ("        # BEGIN SOLUTION: dX = dY ⊙ (1 − Y²)\n"
              "        Y = self._cached(dY, self._Y)\n"
              "        return dY * (1 - Y * Y)\n"
              "        # END SOLUTION\n")
    assert marked in text
    dead = ("        if dY is None:\n"
            "            # BEGIN SOLUTION: never reached\n"
            "            pass\n"
            "            # END SOLUTION\n"
            "        Y = self._cached(dY, self._Y)\n"
            "        return dY * (1 - Y * Y)\n")
    path.write_text(text.replace(marked, dead))
    log = []
    assert not exercise.verify(blind, log=log.append)
    assert "Tanh.backward: its test passes although the item is stubbed out" in log


def test_students_own_tests_agree_with_the_grader(tmp_path):
    """The student's pytest runs the grader's judgement on visible inputs, with its hints and
    a time limit; a correct Residual passes although the student's Linear is unfinished."""
    folder = tmp_path / "hw"
    exercise.make(folder, only=["Linear.backward", "Residual.backward", "Sigmoid.backward",
                                "Tanh.backward"])
    replace_stub(folder, "Residual.backward", """
dX = self.inner.backward(dY, input_grad=True)
return dY + dX if input_grad else None
""")
    replace_stub(folder, "Sigmoid.backward", """
Y = self._cached(dY, self._Y)
return -dY * Y * (1 - Y)
""")
    replace_stub(folder, "Tanh.backward", "while True:\n    pass")
    env = {**os.environ, "PYTHONPATH": str(folder), "MLP_EXERCISE_TIME_LIMIT": "2",
           "COLUMNS": "400"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-rf"], cwd=folder, env=env, capture_output=True, text=True,
                         timeout=300)
    assert "1 passed, 3 failed" in run.stdout or "3 failed, 1 passed" in run.stdout, (
        run.stdout + run.stderr)
    assert "::test_item[Linear.backward] - Failed: not implemented\n" in run.stdout
    assert ("::test_item[Sigmoid.backward] - Failed: train: dX differs from the reference: "
            "wrong sign?\n") in run.stdout
    assert "::test_item[Tanh.backward] - Failed: time limit exceeded (2 s)" in run.stdout
    results = by_name(exercise.grade(folder, exercise=folder, time_limit=2))
    assert {name: r["score"] for name, r in results.items()} == {
        "Linear.backward": 0, "Residual.backward": 1, "Sigmoid.backward": 0,
        "Tanh.backward": 0}
    assert "wrong sign?" in results["Sigmoid.backward"]["output"]


def test_items_of_two_activation_modules_are_made_graded_and_found_loose(tmp_path):
    """The activations live in two modules (ReLU in activations_piecewise.py, Tanh in
    activations.py): each stub is made in its own file, which the manifest, the student's
    README and ``make``'s listing name; the right answers score full marks whether they come
    in ``mlp/`` or as the two files loose; a submission without one of the files loses only
    that file's items, and is told which file is missing."""
    items = ["ReLU.backward", "Tanh.backward"]
    hw = tmp_path / "hw"
    manifest = exercise.make(hw, only=items)
    assert {e["name"]: e["file"] for e in manifest["items"]} == {
        "ReLU.backward": "mlp/activations_piecewise.py", "Tanh.backward": "mlp/activations.py"}
    assert "# TODO ReLU.backward" in (hw / "mlp" / "activations_piecewise.py").read_text()
    assert "# TODO Tanh.backward" in (hw / "mlp" / "activations.py").read_text()
    assert ("| `ReLU.backward` | `mlp/activations_piecewise.py` | 1 |"
            in (hw / "README.md").read_text())
    solved = tmp_path / "solved"
    shutil.copytree(hw, solved)
    replace_stub(solved, "ReLU.backward", "Y = self._cached(dY, self._Y)\nreturn dY * (Y > 0)")
    replace_stub(solved, "Tanh.backward",
                 "Y = self._cached(dY, self._Y)\nreturn dY * (1 - Y * Y)")
    loose, half = tmp_path / "loose", tmp_path / "half"
    for folder, names in ((loose, ["activations.py", "activations_piecewise.py"]),
                          (half, ["activations.py"])):
        folder.mkdir()
        for name in names:
            shutil.copy(solved / "mlp" / name, folder / name)
    with exercise.Grader(hw, time_limit=10) as grader:
        graded = [by_name(r) for r in grader.grade_many([hw, solved, loose, half])]
    scores = [[results[item]["score"] for item in items] for results in graded]
    assert scores == [[0, 0], [1, 1], [1, 1], [0, 1]]
    assert graded[3]["ReLU.backward"]["output"] == (
        "mlp/activations_piecewise.py is missing from the submission")


def test_make_lists_each_item_with_its_file(tmp_path, capsys):
    assert main(["exercise", "make", str(tmp_path / "hw"), "--only", "LeakyReLU.backward",
                 "GELU.backward"]) == 0
    out = capsys.readouterr().out
    assert "  GELU.backward (2) in mlp/activations.py\n" in out
    assert "  LeakyReLU.backward (1) in mlp/activations_piecewise.py\n" in out
