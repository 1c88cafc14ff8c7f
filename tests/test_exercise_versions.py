"""An exercise made by an earlier version of mlp is graded from the files its skeleton has,
or refused up front in one line, never scored 0 item by item for correct work."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from test_exercise import by_name, replace_stub

from mlp import exercise
from mlp.cli import main
from mlp.exercise.manifest import item_files
from mlp.exercise.markers import find_regions

OLD = Path(__file__).parent / "data" / "made_before_the_split"
ITEMS = ["LeakyReLU.backward", "ReLU.backward", "ReLU.forward", "Tanh.backward",
         "Tanh.forward"]
# a student's own correct answers, written in the old skeleton's activations.py
ANSWERS = {
    "ReLU.forward": "X = self._cache_input(X)\nself._Y = np.maximum(X, 0.0)\nreturn self._Y",
    "ReLU.backward": "Y = self._cached(dY, self._Y)\nreturn dY * (Y > 0)",
    "LeakyReLU.backward": "X = self._cached(dY, self._X)\nreturn np.where(X > 0, dY, "
                          "self.alpha * dY)",
    "Tanh.forward": "self._Y = np.tanh(check_2d(X, self))\nreturn self._Y",
    "Tanh.backward": "Y = self._cached(dY, self._Y)\nreturn dY * (1 - Y * Y)",
}


def _old_exercise(root, answers):
    """The instructor's folder and a student's, as the old ``make`` wrote them, the student's
    stubs replaced by ``answers``."""
    hw, student = root / "hw", root / "student"
    hw.mkdir()
    shutil.copy(OLD / "exercise.json", hw / "exercise.json")
    (student / "mlp").mkdir(parents=True)
    shutil.copy(OLD / "activations.py.txt", student / "mlp" / "activations.py")
    for item, body in answers.items():
        replace_stub(student, item, body)
    return hw, student


def test_the_manifest_is_the_old_format():
    manifest = json.loads((OLD / "exercise.json").read_text())
    assert [e["name"] for e in manifest["items"]] == ITEMS
    assert not any("file" in e for e in manifest["items"])
    assert "class ReLU(Activation)" in (OLD / "activations.py.txt").read_text()


def test_an_exercise_made_before_the_split_is_graded_full_marks(tmp_path):
    hw, student = _old_exercise(tmp_path, ANSWERS)
    wrong = tmp_path / "wrong"
    shutil.copytree(student, wrong)
    text = (wrong / "mlp" / "activations.py").read_text()
    (wrong / "mlp" / "activations.py").write_text(
        text.replace("return dY * (Y > 0)", "return dY * (Y < 0)"))
    with exercise.Grader(hw, time_limit=10) as grader:
        assert grader.files["ReLU.backward"] == "activations.py"
        right, broken = (by_name(r) for r in grader.grade_many([student, wrong]))
    assert {name: r["score"] for name, r in right.items()} == dict.fromkeys(ITEMS, 1), right
    assert {name: r["score"] for name, r in broken.items()} == {
        **dict.fromkeys(ITEMS, 1), "ReLU.backward": 0}


def test_a_file_where_the_item_never_lived_refuses_the_grading_in_one_line(tmp_path, capsys):
    hw, student = _old_exercise(tmp_path, ANSWERS)
    manifest = json.loads((hw / "exercise.json").read_text())
    manifest["items"][1]["file"] = "mlp/layers.py"
    (hw / "exercise.json").write_text(json.dumps(manifest))
    message = (r"exercise item ReLU.backward is said to live in 'mlp/layers.py', where no "
               r"version of mlp had it \(this one has it in mlp/activations_piecewise.py\): "
               r"the exercise was made by another version of mlp; re-run `mlp exercise make`")
    with pytest.raises(ValueError, match=message):
        exercise.Grader(hw, time_limit=10)
    capsys.readouterr()
    assert main(["exercise", "grade", str(student), "--exercise", str(hw)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert "made by another version of mlp; re-run `mlp exercise make`" in err[0]


@pytest.mark.parametrize(("file", "expected"), [
    (None, "activations.py"),  # before files were named: where ReLU lived then
    ("mlp/activations.py", "activations.py"),  # named as it was then
    ("mlp/activations_piecewise.py", "activations_piecewise.py"),  # as make names it now
])
def test_each_item_is_read_from_the_file_the_manifest_meant(tmp_path, file, expected):
    entry = {"name": "ReLU.backward", "points": 1}
    tanh = {"name": "Tanh.backward", "points": 1}
    if file is not None:
        entry["file"], tanh["file"] = file, "mlp/activations.py"
    (tmp_path / "exercise.json").write_text(json.dumps({
        "format": "mlp-exercise", "version": 1, "items": [entry, tanh]}))
    regions = find_regions(Path(exercise.__file__).parent.parent)
    assert item_files(tmp_path, regions) == {"ReLU.backward": expected,
                                             "Tanh.backward": "activations.py"}


def test_the_gradescope_bundle_names_the_file_of_each_item(tmp_path):
    hw, _ = _old_exercise(tmp_path, {})
    new = tmp_path / "new"
    exercise.make(new, only=["ReLU.backward", "Tanh.backward"])
    for folder, relu in ((hw, "mlp/activations.py"), (new, "mlp/activations_piecewise.py")):
        bundle = exercise.make_bundle(tmp_path / f"{folder.name}.zip", exercise=folder)
        with zipfile.ZipFile(bundle) as archive:
            items = json.loads(archive.read("exercise.json"))["items"]
        files = {e["name"]: e["file"] for e in items}
        assert files["ReLU.backward"] == relu
        assert files["Tanh.backward"] == "mlp/activations.py"


def _manifest(folder, *names):
    folder.mkdir(exist_ok=True)
    (folder / "exercise.json").write_text(json.dumps({
        "format": "mlp-exercise", "version": 1,
        "items": [{"name": name, "points": 1} for name in names]}))
    return folder


def test_the_skeleton_beside_a_manifest_without_files_says_where_each_item_is(tmp_path):
    """Residual was in layers.py in the first versions, in sequential.py after: a manifest
    without files cannot tell which, the skeleton make wrote beside it can."""
    regions = find_regions(Path(exercise.__file__).parent.parent)
    hw = _manifest(tmp_path / "hw", "Residual.backward", "ReLU.backward")
    message = (r"exercise.json names no file for Residual.backward, which earlier versions of "
               r"mlp kept in mlp/layers.py or mlp/sequential.py, and no skeleton beside it says "
               r"which: grade with the folder `mlp exercise make` wrote")
    with pytest.raises(ValueError, match=message):
        item_files(hw, regions)
    with pytest.raises(ValueError, match=message):
        exercise.exercise_items(hw)
    (hw / "mlp").mkdir()
    stub = "        # TODO {}: the hint\n        raise NotImplementedError('{}: the hint')\n"
    (hw / "mlp" / "layers.py").write_text("class Residual:\n    def backward(self, dY):\n"
                                          + stub.format("Residual.backward", "Residual.backward"))
    shutil.copy(OLD / "activations.py.txt", hw / "mlp" / "activations.py")
    expected = {"Residual.backward": "layers.py", "ReLU.backward": "activations.py"}
    assert item_files(hw, regions) == expected
    assert item_files(hw / "exercise.json", regions) == expected
    (hw / "mlp" / "layers.py").rename(hw / "mlp" / "sequential.py")
    assert item_files(hw, regions)["Residual.backward"] == "sequential.py"
    (hw / "mlp" / "sequential.py").rename(hw / "mlp" / "losses.py")
    with pytest.raises(ValueError, match=r"said to live in 'mlp/losses.py', where no version"):
        item_files(hw, regions)
