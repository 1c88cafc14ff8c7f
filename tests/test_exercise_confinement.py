"""What an isolated item still holds and may still do: other submissions' data, the grader's
environment, processes and namespaces, and the route taken where root lacks CAP_SYS_ADMIN.

Each cheat switches the audit hook off first (``HOOK_OFF``, as in test_exercise_isolation), so
only the kernel and the sandbox's structure stand in its way. Both routes are graded.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from test_exercise_isolation import GRADE_AS_NOBODY, replace_stub, solve

from mlp import exercise
from mlp.exercise import confine, isolation

pytestmark = pytest.mark.skipif(
    isolation.unavailable() is not None,
    reason=f"the kernel refuses namespaces here: {isolation.unavailable()}")

# the answer of one student and a variable of the grader, in a form nobody's source holds
SECRET = "LEAKED<{}>"
PATTERN = r"LEAKED<([0-9a-f]{16})>"

CHEATS = {
    "first": """
        import os
        raise RuntimeError("LEAKED<%s>" % os.urandom(8).hex())
    """,
    # reads every writable page of its own memory, as a debugger would
    "scanner": f"""
        import re
        found, pattern = set(), re.compile(rb"{PATTERN}")
        with open("/proc/self/maps") as maps:
            regions = [line.split()[:2] for line in maps.read().splitlines()]
        for span, perms in regions:
            if not perms.startswith("rw"):
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            for at in range(start, end, 1 << 20):
                data = ctypes.string_at(at, min(end - at, (1 << 20) + 64))
                found.update(t.decode() for t in pattern.findall(data))
        raise RuntimeError(f"found {{sorted(found)}}")
    """,
    "environ": """
        import os
        raise RuntimeError(f"{sorted(os.environ)} {os.environ.get('HOME')} "
                           f"{os.environ.get('TMPDIR')}")
    """,
    "processes": """
        import os
        outcome = []
        try:
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            outcome.append("fork: done")
        except OSError as exc:
            outcome.append(f"fork: {exc.strerror}")
        libc = ctypes.CDLL(None, use_errno=True)
        for name, flag in (("user", 0x10000000), ("mount", 0x20000), ("net", 0x40000000)):
            done = libc.unshare(flag) == 0
            outcome.append(f"unshare {name}: " + ("done" if done else
                                                  os.strerror(ctypes.get_errno())))
        raise RuntimeError("; ".join(outcome))
    """,
}


@pytest.fixture(scope="module", params=["auto", "user"])
def graded(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"confinement-{request.param}")
    exercise.make(root / "hw", only=["Tanh.backward"])
    # the first student's folder name is a secret too: the grader knows all the class's
    folders = {name: root / (SECRET.format(os.urandom(8).hex()) if name == "first" else name)
               for name in CHEATS}
    for name, code in CHEATS.items():
        shutil.copytree(root / "hw", folders[name])
        replace_stub(folders[name], "Tanh.backward", code)
    token = SECRET.format(os.urandom(8).hex())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLP_GRADER_TOKEN", token)  # in the grader's environment only
        with exercise.Grader(root / "hw", time_limit=20.0, workers=1,
                             isolation=request.param) as grader:
            # one sandbox, one submission after the other: the first's answer comes first
            graded = grader.grade_many(list(folders.values()))
    results = {name: rs[0]["output"] for name, rs in zip(folders, graded, strict=True)}
    return results, token


def test_no_item_holds_another_submissions_answer_or_the_graders_environment(graded):
    results, token = graded
    first = results["first"]
    assert first.startswith("raised RuntimeError: LEAKED<")
    assert len(first) == 45
    assert results["scanner"] == "raised RuntimeError: found []", (first, token)


def test_the_environment_is_an_allowlist(graded):
    results, token = graded
    names, home, tmpdir = results["environ"].removeprefix("raised RuntimeError: ").rsplit(
        " ", 2)
    assert names == str(sorted(confine.item_environment("/scratch")))
    assert home == tmpdir
    assert home.startswith(tempfile.gettempdir())
    assert home != os.environ.get("HOME")
    assert "MLP_GRADER_TOKEN" not in names


def test_no_processes_and_no_namespaces(graded):
    results, _ = graded
    assert results["processes"] == (
        "raised RuntimeError: fork: Operation not permitted; unshare user: Operation not "
        "permitted; unshare mount: Operation not permitted; unshare net: Operation not "
        "permitted")


def test_root_tries_the_user_namespace_when_the_other_is_refused(monkeypatch):
    monkeypatch.setattr(isolation.os, "geteuid", lambda: 0)
    monkeypatch.setattr(isolation, "unavailable",
                        lambda user=False: None if user else "unshare: Operation not permitted")
    assert isolation.route("auto") == ("user", None)
    assert isolation.route("user") == ("user", None)
    monkeypatch.setattr(isolation, "unavailable", lambda user=False: f"no {user}")
    assert isolation.route("auto") == (None, "no False; no True")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv to drop CAP_SYS_ADMIN")
def test_root_without_cap_sys_admin_grades_through_a_user_namespace():
    """As in a container with the default capabilities: the plain namespaces are refused
    (EPERM), the user namespace is not."""
    work = Path(tempfile.mkdtemp(prefix="mlp-nocap-"))
    try:
        exercise.make(work / "hw", only=["Sigmoid.backward", "Tanh.backward"])
        folders = {name: work / name for name in ("honest", "whoami")}
        for folder in folders.values():
            shutil.copytree(work / "hw", folder)
        for item in ("Sigmoid.backward", "Tanh.backward"):
            solve(folders["honest"], item)
        replace_stub(folders["whoami"], "Tanh.backward", """
            raise RuntimeError(open("/proc/self/uid_map").read().split())
        """)
        done = subprocess.run(
            ["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin",
             sys.executable, "-c", GRADE_AS_NOBODY, str(work / "hw"),
             *(str(f) for f in folders.values())],
            capture_output=True, text=True, timeout=300, cwd=work)
        assert done.returncode == 0, done.stderr[-2000:]
        honest, whoami = ({r["name"]: r for r in rs} for rs in json.loads(done.stdout))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert {r["score"] for r in honest.values()} == {1}
    assert whoami["Tanh.backward"]["output"] == "raised RuntimeError: ['0', '0', '1']"


@pytest.mark.skipif(os.geteuid() != 0 or not (shutil.which("setpriv") and shutil.which("unshare")),
                    reason="needs root, setpriv and unshare to refuse both routes")
def test_gradescope_where_no_route_isolates_says_why_with_the_max_score(tmp_path):
    """Root without CAP_SYS_ADMIN in a user namespace that may make no other: the plain
    namespaces and a user namespace are both refused, and the student sees both reasons
    against the assignment's points."""
    exercise.make(tmp_path / "hw", only=["Sigmoid.backward", "Tanh.backward"])
    exercise.make_bundle(tmp_path / "autograder.zip", exercise=tmp_path / "hw")
    fake = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        archive.extractall(fake / "source")
    shutil.copytree(tmp_path / "hw" / "mlp", fake / "submission" / "mlp")
    env = {**os.environ, "AUTOGRADER_ROOT": str(fake),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    command = ("echo 0 > /proc/sys/user/max_user_namespaces && exec setpriv "
               "--inh-caps=-sys_admin --bounding-set=-sys_admin bash source/run_autograder")
    run = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c", command],
                         cwd=fake, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr[-2000:]
    results = json.loads((fake / "results" / "results.json").read_text())
    assert (results["score"], results["max_score"], results["tests"]) == (0, 2, [])
    assert results["output"] == (
        "The autograder could not grade this submission: mlp exercise grade: error: submitted "
        "code cannot be isolated here ([Errno 1] unshare: Operation not permitted; [Errno 28] "
        "unshare: No space left on device): grade where Linux allows user namespaces, or pass "
        "--no-isolation to grade without (unsafe)")
