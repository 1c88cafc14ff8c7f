"""What a submission's process hands back is hostile, and so are its paths; no solution leaks."""

import base64
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_exercise_grading import replace_stub, solve

import mlp
from mlp import exercise
from mlp.exercise import answers, probes

SOURCE = Path(mlp.__file__).resolve().parent
ITEMS = ["Dropout.backward", "Linear.backward", "Tanh.backward"]


def packed(array):
    array = np.asarray(array, dtype="<f8")
    return {"shape": list(array.shape), "data": base64.b64encode(array.tobytes()).decode()}


@pytest.fixture(scope="module")
def want():
    return probes.run("Linear.backward", mlp, None, seed=1)


def answer_of(arrays):
    return {"result": json.dumps({"arrays": arrays}), "output": "", "ended": "exit status 0"}


def test_the_reference_answer_passes_through_the_channel(want):
    assert answers.verdict("Linear.backward", answer_of(probes.encode(want)), want, 2) == (
        True, "ok")


@pytest.mark.parametrize(("result", "message"), [
    ("[" * 200_000, "something unreadable (not JSON, or nested too deep)"),
    ('{"arrays": {"x": 1}}', "something unreadable (not the probe's arrays)"),
    ('{"arrays": [], "error": "x"}', "something unreadable (not an answer)"),
    ('{"arrays": {"train: dX": {"shape": [true], "data": ""}}}', "(train: dX: not a shape)"),
    ('{"arrays": {"train: dX": {"shape": [100000, 100000], "data": ""}}}',
     "(train: dX: too large)"),
    ('{"arrays": {"train: dX": {"shape": [3], "data": "AAAA"}}}',
     "(train: dX: 3 bytes for shape (3,))"),
    ('{"arrays": {"train: dX": {"shape": [1], "data": "!!!!"}}}', "(train: dX: not base64 data)"),
    ('{"error": ["not", "text"]}', "failed"),
    ("x" * (answers.MAX_RESULT + 1), "(too large)"),
])
def test_a_hostile_answer_is_that_items_zero_with_a_reason(want, result, message):
    passed, output = answers.verdict("Linear.backward", {"result": result, "output": "",
                                                         "ended": "exit status 0"}, want, 2)
    assert not passed
    assert output.endswith(message), output


def test_empty_and_misshapen_entries_are_judged_not_crashed(want):
    arrays = probes.encode(want)
    empty = {**arrays, "train: in place W": packed(np.zeros(0)),
             "train: dX": packed(np.zeros(0))}
    passed, output = answers.verdict("Linear.backward", answer_of(empty), want, 2)
    assert not passed
    assert "train: dX differs from the reference: shape (0,), expected (" in output
    assert "replaced the gradient array of W" in output
    nan = {**arrays, "train: dX": packed(np.full(want["train: dX"].shape, np.nan))}
    assert answers.verdict("Linear.backward", answer_of(nan), want, 2) == (
        False, "train: dX differs from the reference: contains NaN or infinity")
    moved = {**arrays, "train: X": packed(want["train: X"][:1])}
    assert answers.verdict("Linear.backward", answer_of(moved), want, 2) == (
        False, "changed its input (X) in place")


def test_an_error_and_the_output_shown_are_one_capped_line(want):
    long = {"result": json.dumps({"error": "a\nb" + "c" * 10_000}), "output": "",
            "ended": "exit status 0"}
    passed, output = answers.verdict("Linear.backward", long, want, 2)
    assert not passed
    assert output.startswith("a b")
    assert len(output) == 500
    silent = {"result": None, "output": "x" * 100 + "\n" + "y" * 4000, "ended": "exit status 3"}
    output = answers.verdict("Linear.backward", silent, want, 2)[1]
    assert output.startswith("the item's process ended without a result (exit status 3) yyy")
    assert len(output) == answers.MAX_SHOWN


def distinctive_solution_lines(items):
    """Code lines of the items' solutions that appear nowhere else in the reference."""
    text = "".join(p.read_text() for p in SOURCE.rglob("*.py"))
    lines = []
    for region in exercise.find_regions(SOURCE):
        if region.item in items:
            body = (SOURCE / region.file).read_text().splitlines()[region.begin + 1:region.end]
            lines += [line.strip() for line in body
                      if len(line.strip()) > 12 and text.count(line.strip()) == 1]
    return lines


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    reference = root / "instructor" / "mlp"  # on this file system, for hard links
    shutil.copytree(SOURCE, reference, ignore=shutil.ignore_patterns("__pycache__"))
    hw = root / "hw"
    exercise.make(hw, only=ITEMS, source=reference)
    students = root / "students"
    folders = {}

    def new(name):
        folders[name] = students / name
        shutil.copytree(hw, folders[name])
        return folders[name]

    honest = new("honest")
    for item in ITEMS:
        solve(honest, item)
    keys = list(probes.run("Linear.backward", mlp, None, seed=1))
    empty = json.dumps({"arrays": dict.fromkeys(keys, {"shape": [0], "data": ""})})
    for name, body in {
        "deep": 'import os\nos.write(3, b"[" * 200000)\nos._exit(0)',
        "empty": f"import os\nos.write(3, {empty.encode()!r})\nos._exit(0)",
        "huge": "import numpy as np\nreturn np.ones(10 ** 7)",
        "sleeper": "import time\ntime.sleep(60)",
    }.items():
        replace_stub(new(name), "Linear.backward" if name == "empty" else "Tanh.backward", body)
    # the process running submitted code holds no solution of an exercised item
    lines = distinctive_solution_lines(["Linear.backward", "Dropout.backward"])
    replace_stub(new("leak"), "Tanh.backward", f"""
        import inspect, mlp
        from pathlib import Path
        host = "".join(p.read_text() for p in Path(mlp.__file__).parent.rglob("*.py"))
        seen = [inspect.getsource(mlp.Linear.backward), inspect.getsource(mlp.Dropout.backward)]
        found = [line for line in {lines!r} if line in host or line in "".join(seen)]
        code = " ".join(" ".join(text.split('\"\"\"')[-1].split()) for text in seen)
        raise RuntimeError(f"found {{len(found)}} of {len(lines)}; {{code}}")
    """)
    # links: into the reference (symbolic, hard), the whole folder, and one inside (allowed)
    folder = new("file_link")
    (folder / "mlp" / "activations.py").unlink()
    (folder / "mlp" / "activations.py").symlink_to(reference / "activations.py")
    folder = new("hard_link")
    (folder / "mlp" / "activations.py").unlink()
    os.link(reference / "activations.py", folder / "mlp" / "activations.py")
    folder = new("inner_link")
    solve(folder, "Tanh.backward")
    (folder / "mlp" / "activations.py").rename(folder / "mlp" / "mine.py")
    (folder / "mlp" / "activations.py").symlink_to("mine.py")
    (students / "whole").symlink_to(reference.parent, target_is_directory=True)
    folders["whole"] = students / "whole"
    with exercise.Grader(hw, source=reference, time_limit=2.0, workers=2) as grader:
        results = grader.grade_many(list(folders.values()))
    return {name: {r["name"]: r for r in rs} for name, rs in zip(folders, results,
                                                                  strict=True)}, lines


def test_hostile_children_cost_only_their_item(graded):
    results, _ = graded
    assert {n: r["score"] for n, r in results["honest"].items()} == {
        "Dropout.backward": 1, "Linear.backward": 3, "Tanh.backward": 1}
    for name, item, message in [
        ("deep", "Tanh.backward", "unreadable (not JSON, or nested too deep)"),
        ("empty", "Linear.backward", "changed its input (X) in place"),
        ("huge", "Tanh.backward", "the answer was too large: train: dX has 10000000 numbers"),
        ("sleeper", "Tanh.backward", "stopped after sleeping 2 s without computing"),
    ]:
        assert results[name][item]["score"] == 0
        assert message in results[name][item]["output"], results[name][item]
        assert results[name]["Dropout.backward"]["output"] == "not implemented"


def test_no_solution_of_an_exercised_item_reaches_the_students_process(graded):
    results, lines = graded
    assert len(lines) >= 3
    output = results["leak"]["Tanh.backward"]["output"]
    assert output.startswith(f"raised RuntimeError: found 0 of {len(lines)}; "), output
    assert "raise NotImplementedError('Linear.backward: " in output


@pytest.mark.parametrize(("name", "reason"), [
    ("file_link", "mlp/activations.py leads into the reference or the grader's own files"),
    ("hard_link", "mlp/activations.py is a hard link to the reference's file: not graded"),
    ("whole", "mlp/ leads into the reference or the grader's own files: not graded"),
])
def test_links_into_the_reference_are_refused(graded, name, reason):
    results, _ = graded
    assert {r["score"] for r in results[name].values()} == {0}
    assert {r["output"] for r in results[name].values()} == {results[name]["Tanh.backward"][
        "output"]}
    assert reason in results[name]["Tanh.backward"]["output"]
    assert results[name]["Tanh.backward"]["submission"]


def test_a_link_inside_the_submission_is_followed(graded):
    results, _ = graded
    assert results["inner_link"]["Tanh.backward"]["score"] == 1



def test_one_bad_submission_on_the_command_line(tmp_path, capsys):
    from mlp.cli import main

    hw = tmp_path / "hw"
    exercise.make(hw, only=["Tanh.backward"])
    capsys.readouterr()
    (tmp_path / "upload.zip").write_bytes(b"PK\x03\x04 not really")
    out = tmp_path / "results.json"
    assert main(["exercise", "grade", str(tmp_path / "upload.zip"), "--exercise", str(hw),
                 "--json", str(out)]) == 0
    assert "Tanh.backward   0/1    upload.zip: not a zip file" in capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["output"].startswith(
        "This submission could not be graded: upload.zip: not a zip file")
    assert main(["exercise", "grade", str(tmp_path / "nothing"), "--exercise", str(hw),
                 "--json", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"mlp exercise grade: error: {tmp_path / 'nothing'}: no such "
                            "submission folder or zip file\n")


def test_a_damaged_zip_costs_only_itself(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    with zipfile.ZipFile(export / "crc.zip", "w") as archive:  # stored: the bytes as written
        archive.writestr("hw/mlp/activations.py", "x = 1\n" * 100)
    data = bytearray((export / "crc.zip").read_bytes())
    data[data.index(b"x = 1")] = ord("y")
    (export / "crc.zip").write_bytes(bytes(data))
    with zipfile.ZipFile(export / "long.zip", "w") as archive:
        archive.writestr("hw/" + "a" * 300 + ".py", "x = 1\n")
    (export / "ok").mkdir()
    (export / "ok" / "activations.py").write_text("x = 1\n")
    found = exercise.collect_submissions([export], tmp_path / "work")
    assert found["ok"] == export / "ok"
    assert isinstance(found["crc"], exercise.Rejected)
    assert found["crc"].reason.startswith(
        "crc.zip: entry 'hw/mlp/activations.py' cannot be unpacked (Bad CRC-32")
    assert found["long"].reason.startswith("long.zip: entry 'hw/aaaa")
    assert "File name too long" in found["long"].reason


def test_feedback_keeps_the_hint_of_a_hidden_check_from_the_student():
    from mlp.exercise.reports import feedback_text

    results = [{"name": "Tanh.backward", "score": 0, "max_score": 1, "visibility": "hidden",
                "output": "train: dX differs from the reference: wrong sign?"},
               {"name": "ReLU.backward", "score": 0, "max_score": 1,
                "visibility": "after_published", "output": "not implemented"}]
    text = feedback_text("alice", results)
    assert "Tanh.backward   0/1    (a hidden check)" in text
    assert "wrong sign" not in text
    assert "ReLU.backward   0/1    not implemented" in text
