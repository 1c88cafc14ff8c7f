"""Honest grading: real cheats, real processes. One grader grades every submission at once."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mlp
from mlp import exercise

SOURCE = Path(mlp.__file__).resolve().parent
ITEMS = ["Linear.backward", "Residual.backward", "Sigmoid.backward", "Tanh.backward"]
MARK = f"299.{os.getpid()}"  # a sleep a cheat would leave behind, unique to this test run


def replace_stub(folder, item, body):
    """Solve (or break) one stubbed item of a student folder, as a student would."""
    for path in (folder / "mlp").glob("*.py"):
        text = path.read_text()
        head = f"# TODO {item}:"
        if head in text:
            start = text.index(head)
            line_start = text.rindex("\n", 0, start) + 1
            indent = text[line_start:start]
            end = text.index("\n", text.index("raise NotImplementedError", start)) + 1
            code = "".join(f"{indent}{line}\n" for line in textwrap.dedent(body).strip(
                "\n").splitlines())
            path.write_text(text[:line_start] + code + text[end:])
            return
    raise AssertionError(f"no stub for {item}")


def solve(folder, item):
    """The honest, correct answer: the reference's own lines for the item."""
    [region] = [r for r in exercise.find_regions(SOURCE) if r.item == item and not r.forward]
    lines = (SOURCE / region.file).read_text().splitlines()[region.begin + 1:region.end]
    replace_stub(folder, item, "\n".join(lines))


def append(folder, module, code):
    path = folder / "mlp" / module
    path.write_text(path.read_text() + "\n" + textwrap.dedent(code))


def digest(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.py"))}


def command_lines():
    """The command line of every process running now, as one text."""
    lines = []
    for entry in Path("/proc").iterdir():
        try:
            lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, NotADirectoryError):
            continue
    return "\n".join(lines)


def _submissions(root, instructor, reference):
    """name -> folder, each a copy of the instructor's folder changed as a student would."""
    folders = {}

    def new(name):
        folders[name] = root / name
        shutil.copytree(instructor, folders[name])
        return folders[name]

    new("untouched")
    honest = new("honest")
    for item in ITEMS:
        solve(honest, item)
    # 1. calling the reference: through `import mlp`, a path, sys.path, a symbolic link
    folder = new("import_mlp")
    for item in ITEMS:
        cls, method = item.split(".")
        replace_stub(folder, item, f"""
            import importlib
            return getattr(importlib.import_module("mlp"), {cls!r}).{method}(self, dY, input_grad)
        """)
    folder = new("by_path")
    replace_stub(folder, "Tanh.backward", f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            "mlp.stolen", {str(reference / "activations.py")!r})
        stolen = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(stolen)
        return stolen.Tanh.backward(self, dY, input_grad)
    """)
    folder = new("sys_path")
    replace_stub(folder, "Tanh.backward", f"""
        import sys
        sys.path.insert(0, {str(reference.parent)!r})
        for name in [n for n in sys.modules if n == "mlp" or n.startswith("mlp.")]:
            del sys.modules[name]
        import mlp
        return mlp.Tanh.backward(self, dY, input_grad)
    """)
    folder = new("symlink")
    shutil.rmtree(folder / "mlp")
    (folder / "mlp").symlink_to(reference, target_is_directory=True)
    # 2. forging the verdict
    append(new("patch_main"), "activations.py", """
        import sys
        sys.modules["__main__"].check_item = lambda *a: (True, "ok")
        sys.modules["__main__"].judge = lambda *a: (True, "ok")
    """)
    append(new("exit_early"), "activations.py", """
        import json, os
        print(json.dumps({"ok": True, "message": "ok"}))
        print(json.dumps({"result": "{}", "output": "", "ended": "exit status 0"}))
        os._exit(0)
    """)
    append(new("atexit"), "activations.py", """
        import atexit, json
        atexit.register(lambda: print(json.dumps({"ok": True, "message": "ok"})))
    """)
    # 3. changing the rules
    folder = new("rules")
    (folder / "exercise.json").write_text(json.dumps({"format": "mlp-exercise", "version": 1,
        "items": [{"name": "Tanh.backward", "points": 100, "hint": ""}] * 3}))
    # 4. damaging others: the reference, a sibling's folder, the grader's own host package
    append(new("damage"), "activations.py", f"""
        import os, shutil
        from pathlib import Path
        for attempt in (
            lambda: open({str(reference / "activations.py")!r}, "a").write("# changed"),
            lambda: shutil.rmtree({str(root / "honest" / "mlp")!r}),
            lambda: os.remove({str(root / "untouched" / "mlp" / "layers.py")!r}),
            lambda: open(Path(__import__("mlp").__file__).parent / "activations.py",
                         "a").write("# changed"),
        ):
            try:
                attempt()
            except OSError:
                pass
    """)
    # 5. escaping the limits: processes in a new session, output, CPU, memory, files
    folder = new("processes")
    escape = f"touch {root / 'escaped'}; setsid sleep {MARK} &"  # outside the audit hook
    replace_stub(folder, "Tanh.backward", f"""
        import os, subprocess, sys
        from multiprocessing.util import spawnv_passfds
        for start in (
            lambda: subprocess.Popen(["sh", "-c", {escape!r}], start_new_session=True).wait(),
            lambda: os.fork() or (os.setsid(), os.execvp("sh", ["sh", "-c", {escape!r}])),
            lambda: os.system("sh -c '{escape}'"),
            lambda: os.waitpid(spawnv_passfds(b"/bin/sh", [b"sh", b"-c", {escape.encode()!r}],
                                              []), 0),
            lambda: (sys.modules.pop("_posixsubprocess"), __import__("_posixsubprocess")),
            lambda: __import__("ctypes").CDLL(None).fork(),
        ):
            try:
                start()
            except Exception:
                pass
        Y = self._cached(dY, self._Y)
        return dY * (1 - Y * Y)
    """)
    folder = new("limits")
    append(folder, "activations.py", 'print("x" * (16 << 20))\n')
    solve(folder, "Tanh.backward")
    replace_stub(folder, "Sigmoid.backward", "while True:\n    pass")
    replace_stub(folder, "Linear.backward", """
        import numpy as np
        return np.ones(1 << 30)
    """)
    replace_stub(folder, "Residual.backward", """
        with open("big", "wb") as f:
            f.write(bytes(4 << 20))
        return dY
    """)
    replace_stub(new("many_files"), "Tanh.backward", """
        for i in range(100):
            with open(f"file{i}", "w") as f:
                f.write("x")
        Y = self._cached(dY, self._Y)
        return dY * (1 - Y * Y)
    """)
    # a stray line costs only its own module's items
    folder = new("stray")
    for item in ITEMS:
        solve(folder, item)
    append(folder, "sequential.py", "print(debug_helper(3))\n")
    # the grader's verdict on Residual does not depend on the student's Linear and Tanh
    solve(new("residual_only"), "Residual.backward")
    return folders


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    reference = root / "instructor" / "mlp"  # a private copy of the reference, for damaging
    shutil.copytree(SOURCE, reference, ignore=shutil.ignore_patterns("__pycache__"))
    instructor = root / "hw"
    exercise.make(instructor, only=ITEMS, source=reference)
    folders = _submissions(root / "students", instructor, reference)
    before = digest(reference)
    with exercise.Grader(instructor, source=reference, time_limit=2.0, workers=2) as grader:
        names = list(folders)
        results = dict(zip(names, grader.grade_many([folders[n] for n in names]),
                           strict=True))
        again = grader.grade_many([folders["honest"], folders["untouched"]])
    assert digest(reference) == before
    return {name: {r["name"]: r for r in rs} for name, rs in results.items()}, again, folders


def scores(results):
    return {name: r["score"] for name, r in results.items()}


def test_honest_submission_scores_full_and_untouched_scores_nothing(graded):
    results, _, _ = graded
    assert scores(results["honest"]) == {"Linear.backward": 3, "Residual.backward": 1,
                                         "Sigmoid.backward": 1, "Tanh.backward": 1}
    assert set(scores(results["untouched"]).values()) == {0}
    assert {r["output"] for r in results["untouched"].values()} == {"not implemented"}


@pytest.mark.parametrize("cheat", ["import_mlp", "by_path", "sys_path", "symlink"])
def test_calling_the_reference_scores_nothing(graded, cheat):
    results, _, _ = graded
    touched = ITEMS if cheat in ("import_mlp", "symlink") else ["Tanh.backward"]
    assert all(results[cheat][item]["score"] == 0 for item in touched), results[cheat]
    if cheat == "symlink":
        assert "symbolic link" in results[cheat]["Tanh.backward"]["output"]
    if cheat == "by_path":
        assert "not allowed while grading: reading" in results[cheat]["Tanh.backward"]["output"]
    if cheat == "sys_path":  # the reference's folder is not there: `mlp` is the host
        assert results[cheat]["Tanh.backward"]["output"] == "not implemented"


@pytest.mark.parametrize("cheat", ["patch_main", "exit_early", "atexit", "rules"])
def test_forged_verdicts_and_rules_score_nothing(graded, cheat):
    results, _, _ = graded
    assert set(scores(results[cheat])) == set(ITEMS)  # the instructor's items, not theirs
    assert set(scores(results[cheat]).values()) == {0}, results[cheat]


def test_one_submission_cannot_change_another(graded):
    results, again, folders = graded
    assert scores(results["damage"]) == dict.fromkeys(ITEMS, 0)
    assert (folders["honest"] / "mlp" / "activations.py").exists()
    assert (folders["untouched"] / "mlp" / "layers.py").exists()
    honest, untouched = again
    assert sum(r["score"] for r in honest) == 6
    assert sum(r["score"] for r in untouched) == 0


def test_no_process_survives_and_limits_hold(graded):
    results, _, folders = graded
    assert MARK not in command_lines()
    assert results["processes"]["Tanh.backward"]["score"] == 1  # the refusals were caught
    assert not (folders["processes"].parent / "escaped").exists()
    limits = results["limits"]
    assert limits["Tanh.backward"]["score"] == 1  # 16 MB of output, capped and ignored
    assert limits["Sigmoid.backward"]["score"] == 0
    assert "time limit" in limits["Sigmoid.backward"]["output"]
    assert limits["Linear.backward"]["score"] == 0
    assert limits["Linear.backward"]["output"].startswith("raised MemoryError")
    assert limits["Residual.backward"]["score"] == 0
    assert "File too large" in limits["Residual.backward"]["output"]
    assert results["many_files"]["Tanh.backward"]["output"] == (
        "raised PermissionError: not allowed while grading: writing more than 64 files")


def test_stray_line_costs_only_its_module_and_names_the_line(graded):
    results, _, folders = graded
    stray = results["stray"]
    lines = (folders["stray"] / "mlp" / "sequential.py").read_text().splitlines()
    line = lines.index("print(debug_helper(3))") + 1
    assert stray["Residual.backward"]["score"] == 0
    assert stray["Residual.backward"]["output"].startswith(
        f"mlp/sequential.py, line {line}: NameError: name 'debug_helper' is not defined")
    assert scores(stray) == {"Linear.backward": 3, "Residual.backward": 0,
                             "Sigmoid.backward": 1, "Tanh.backward": 1}
    assert scores(results["residual_only"]) == {"Linear.backward": 0, "Residual.backward": 1,
                                                "Sigmoid.backward": 0, "Tanh.backward": 0}


def test_killing_every_descendant_finds_new_sessions(tmp_path):
    """The sandbox is a child subreaper: a grandchild in its own session is still killed."""
    script = tmp_path / "reaper.py"
    script.write_text(textwrap.dedent(f"""
        import importlib.util, subprocess, sys
        spec = importlib.util.spec_from_file_location(
            "isolation", {str(SOURCE / "exercise" / "isolation.py")!r})
        isolation = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(isolation)
        isolation.become_subreaper()
        subprocess.run(["sh", "-c", "setsid sleep {MARK}1 & setsid sleep {MARK}1 &"])
        print(len(isolation._descendants(__import__("os").getpid())))
        isolation.kill_descendants()
        print(len(isolation._descendants(__import__("os").getpid())))
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.split() == ["2", "0"], out.stderr
    assert f"{MARK}1" not in command_lines()
    assert os.getpid()  # the test process itself was not touched
