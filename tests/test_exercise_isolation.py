"""The kernel isolates graded code: submissions that first switch the audit hook off.

Each cheat below disables the hook the way a determined student would (the hook lives in the
student's own interpreter) and proves it is off by importing ctypes, which the hook refuses.
What stops it then is the kernel: namespaces, a root of its own, no privileges. The class is
graded through both routes: "auto" (as root here: namespaces, then an unprivileged uid) and
"user" (a user namespace, as an instructor without root gets).
"""

import ctypes
import json
import os
import platform
import re
import shutil
import site
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import pytest

import mlp
from mlp import exercise
from mlp.exercise import isolation

SOURCE = Path(mlp.__file__).resolve().parent
ITEMS = ["Sigmoid.backward", "Tanh.backward"]
MARK = f"mlp{os.getpid() % 100000}"  # the name an orphan would carry (15 characters at most)

pytestmark = pytest.mark.skipif(
    isolation.unavailable() is not None,
    reason=f"the kernel refuses namespaces here: {isolation.unavailable()}")

# the hook's closure holds a list that, when not empty, makes it return at once
HOOK_OFF = """
    import gc
    for fn in gc.get_objects():
        if getattr(fn, "__name__", "") == "hook" and getattr(fn, "__closure__", None):
            for cell in fn.__closure__:
                if isinstance(cell.cell_contents, list):
                    cell.cell_contents.append(1)
    import ctypes  # refused while the hook is on
"""


def replace_stub(folder, item, body):
    """The student's code in place of one stub (as in test_exercise_grading)."""
    path = folder / "mlp" / "activations.py"
    text = path.read_text()
    start = text.index(f"# TODO {item}:")
    line_start = text.rindex("\n", 0, start) + 1
    indent = text[line_start:start]
    end = text.index("\n", text.index("raise NotImplementedError", start)) + 1
    code = textwrap.dedent(HOOK_OFF) + textwrap.dedent(body)
    lines = "".join(f"{indent}{line}\n" for line in code.strip("\n").splitlines())
    path.write_text(text[:line_start] + lines + text[end:])


def solve(folder, item):
    [region] = [r for r in exercise.find_regions(SOURCE) if r.item == item and not r.forward]
    lines = (SOURCE / region.file).read_text().splitlines()[region.begin + 1:region.end]
    replace_stub(folder, item, "\n".join(lines))


def digest(folder):
    return {p: p.read_bytes() for p in sorted(Path(folder).rglob("*.py"))}


def comms():
    """The short name of every process running now."""
    names = []
    for entry in Path("/proc").iterdir():
        try:
            names.append((entry / "comm").read_text().strip())
        except OSError:
            continue
    return names


def _cheats(root, skeleton, reference, port, zipped):
    """name -> (folder, the code of its Tanh.backward). Each reports what it reached."""
    others = root / "honest"
    copies = [reference / "activations.py", SOURCE / "activations.py", others / "mlp",
              zipped, reference.parent, SOURCE.parent, root]
    environments = sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)})
    return {
        "steal": f"""
            import importlib.util
            for path in {[str(reference / "activations.py"), str(SOURCE / "activations.py")]!r}:
                try:
                    spec = importlib.util.spec_from_file_location("mlp.stolen", path)
                    stolen = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(stolen)
                    return stolen.Tanh.backward(self, dY, input_grad)
                except OSError as exc:
                    error = exc
            raise error
        """,
        "snoop": f"""
            import os
            found = []
            for path in {[str(p) for p in copies]!r}:
                try:
                    if os.path.isdir(path):
                        # the interpreter's own environment has to be there (a venv may
                        # sit inside the checkout): anything else must not
                        names = [n for n in os.listdir(path)
                                 if not any(env == os.path.join(path, n) or
                                            env.startswith(os.path.join(path, n) + os.sep)
                                            for env in {environments!r})]
                        found.append(names)
                    else:
                        found.append(open(path, "rb").read(10))
                except OSError:
                    pass
            raise RuntimeError(f"found {{[f for f in found if f]}}")
        """,
        "installed": """
            import os, re, sys
            covered, seen = [], 0
            for folder in sys.path[1:]:  # sys.path[0] is the host package's folder
                for name in os.listdir(folder) if os.path.isdir(folder) else []:
                    if re.fullmatch(r"mlp([-_.].*)?|__editable__.*mlp.*", name):
                        seen += 1
                        path = os.path.join(folder, name)
                        if os.listdir(path) if os.path.isdir(path) else os.path.getsize(path):
                            covered.append(path)
            raise RuntimeError(f"installed {covered} of {seen}")
        """,
        "keyring": f"""
            keyctl = {isolation._KEYCTL.get(platform.machine(), -1)}
            raise RuntimeError(f"keyring {{ctypes.CDLL(None).syscall(keyctl, 0, -3, 0)}}")
        """,
        "forge": """
            import glob, json, os
            line = json.dumps({"result": None, "output": "", "ended": "exit status 0"})
            forged = 0
            for fd in glob.glob("/proc/[0-9]*/fd/*"):
                if fd.startswith(("/proc/self/", f"/proc/{os.getpid()}/")):
                    continue
                try:
                    # pipes only: the grader's channel is one, and should the isolation ever
                    # fail, reopening other processes' files for writing would truncate them
                    if not os.readlink(fd).startswith("pipe:"):
                        continue
                    with open(fd, "w") as f:
                        f.write(line + "\\n")
                    forged += 1
                except OSError:
                    pass
            raise RuntimeError(f"forged {forged} from {os.getppid()}")
        """,
        "orphan": f"""
            import os, time
            for _ in range(3):
                try:
                    if os.fork() == 0:
                        os.setsid()
                        if os.fork() == 0:
                            ctypes.CDLL(None).prctl(15, b"{MARK}", 0, 0, 0)  # PR_SET_NAME
                            time.sleep(60)
                        os._exit(0)
                except OSError:
                    pass
            raise RuntimeError("left orphans behind")
        """,
        "killer": """
            import os, signal, time
            killed, pidfd = set(), getattr(os, "pidfd_open", None)
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                for pid in range(2, 4096):
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed.add(pid)
                    except OSError:
                        pass
                for entry in os.listdir("/proc"):
                    if entry.isdigit() and int(entry) > 1:
                        try:
                            os.readlink(f"/proc/{entry}/cwd")
                            fd = pidfd(int(entry))
                            signal.pidfd_send_signal(fd, signal.SIGKILL)
                            killed.add(int(entry))
                        except OSError:
                            pass
            raise RuntimeError(f"killed {sorted(killed)}")
        """,
        "network": f"""
            import socket
            reached = []
            for family, address in ((socket.AF_INET, ("127.0.0.1", {port})),
                                    (socket.AF_UNIX, "\\0{MARK}")):
                try:
                    with socket.socket(family) as s:
                        s.settimeout(1)
                        s.connect(address)
                        s.sendall(b"stolen")
                        reached.append(address)
                except OSError as exc:
                    pass
            raise RuntimeError(f"reached {{reached}}")
        """,
        "writes": f"""
            import os, sqlite3
            wrote = []
            for path in {[str(reference / "activations.py"), str(others / "mlp" / "x.py"),
                          "/x", "/tmp/x", str(SOURCE / "x.py")]!r}:
                try:
                    with open(path, "a") as f:
                        f.write("# changed")
                    wrote.append(path)
                except OSError:
                    pass
            try:
                sqlite3.connect({str(others / "mlp" / "db.sqlite")!r}).execute("create table t(x)")
                wrote.append("sqlite")
            except sqlite3.Error:
                pass
            raise RuntimeError(f"wrote {{wrote}}")
        """,
        "scratch": """
            import os
            total = 0
            try:
                for i in range(64):
                    with open(f"part{i}", "wb") as f:
                        f.write(bytes(512 << 10))
                    total += 512 << 10
            except OSError as exc:
                raise RuntimeError(f"{total >> 20} MB then {exc.strerror}") from None
            raise RuntimeError(f"{total >> 20} MB")
        """,
        "garbage": """
            import os
            os.write(3, (60000).to_bytes(4, "little") + b"[" * 60000)  # too deep
            os._exit(0)
        """,
        "huge": """
            import numpy as np
            return np.ones(10 ** 7)
        """,
        "sleeper": """
            import time
            time.sleep(30)
        """,
    }


@pytest.fixture(scope="module", params=["auto", "user"])
def graded(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"isolation-{request.param}")
    reference = root / "instructor" / "mlp"
    shutil.copytree(SOURCE, reference, ignore=shutil.ignore_patterns("__pycache__"))
    zipped = root / "class.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        z.write(reference / "activations.py", "mlp/activations.py")
    exercise.make(root / "hw", only=ITEMS, source=reference)
    students = root / "students"
    folders = {}
    for name in ["honest", "untouched", "steal", "snoop", "installed", "keyring", "forge",
                 "orphan", "killer", "network", "writes", "scratch", "garbage", "huge",
                 "sleeper"]:
        folders[name] = students / name
        shutil.copytree(root / "hw", folders[name])
    for item in ITEMS:
        solve(folders["honest"], item)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(f"\0{MARK}")
    unix.listen()
    unix.setblocking(False)
    cheats = _cheats(students, root / "hw", reference, listener.getsockname()[1], zipped)
    for name, code in cheats.items():
        replace_stub(folders[name], "Tanh.backward", code)
    before = {p: digest(p) for p in (reference, folders["honest"])}
    with exercise.Grader(root / "hw", source=reference, time_limit=4.0, workers=2,
                         isolation=request.param) as grader:
        names = list(folders)
        results = dict(zip(names, grader.grade_many([folders[n] for n in names]),
                           strict=True))
    connections = []
    for server in (listener, unix):
        try:
            connections.append(server.accept())
        except BlockingIOError:
            pass
        server.close()
    return ({n: {r["name"]: r for r in rs} for n, rs in results.items()}, folders,
            {"before": before, "connections": connections,
             "after": {p: digest(p) for p in before}})


def output(results, name):
    return results[name]["Tanh.backward"]["output"]


def test_honest_full_untouched_nothing(graded):
    results, _, _ = graded
    assert {r["score"] for r in results["honest"].values()} == {1}
    assert {r["output"] for r in results["untouched"].values()} == {"not implemented"}


def test_hook_was_off_and_the_reference_is_not_there(graded):
    results, _, _ = graded
    for name in ("steal", "snoop", "forge", "network", "writes"):
        assert "not allowed while grading" not in output(results, name)
    assert results["steal"]["Tanh.backward"]["score"] == 0
    assert output(results, "steal").startswith("raised FileNotFoundError")
    assert output(results, "snoop") == "raised RuntimeError: found []"
    # an installed or editable mlp beside numpy is there, but empty
    installed = isolation.installed_copies(site.getsitepackages())
    assert output(results, "installed") == f"raised RuntimeError: installed [] of {len(installed)}"


def test_no_forging_into_the_grader(graded):
    results, _, _ = graded
    assert output(results, "forge") == "raised RuntimeError: forged 0 from 0"
    assert {r["score"] for r in results["honest"].values()} == {1}


def test_the_session_keyring_is_the_items_own(graded):
    results, _, _ = graded
    keyctl = isolation._KEYCTL.get(platform.machine(), -1)
    own = ctypes.CDLL(None).syscall(keyctl, 0, -3, 0)  # KEYCTL_GET_KEYRING_ID, the session's
    assert re.fullmatch(r"raised RuntimeError: keyring \d+", output(results, "keyring"))
    assert output(results, "keyring") != f"raised RuntimeError: keyring {own}"


def test_no_process_outlives_its_item(graded):
    results, _, _ = graded
    assert output(results, "orphan") == "raised RuntimeError: left orphans behind"
    assert MARK not in comms()


def test_classmates_cannot_be_killed(graded):
    results, _, _ = graded
    assert output(results, "killer") == "raised RuntimeError: killed []"
    for name in ("honest", "untouched"):  # graded alongside, by the other sandbox
        assert "sandbox" not in str(results[name])


def test_no_network(graded):
    results, _, extra = graded
    assert output(results, "network") == "raised RuntimeError: reached []"
    assert extra["connections"] == []


def test_writes_stay_in_scratch_and_scratch_is_capped(graded):
    results, _, extra = graded
    assert output(results, "writes") == "raised RuntimeError: wrote []"
    assert extra["after"] == extra["before"]
    assert re.fullmatch(r"raised RuntimeError: 1[56] MB then No space left on device",
                        output(results, "scratch"))


def test_bad_results_cost_only_their_item(graded):
    results, _, _ = graded
    assert output(results, "garbage").startswith("the item's process returned something "
                                                 "unreadable")
    assert output(results, "huge").startswith("the answer was too large: ")
    assert output(results, "sleeper") == "stopped after sleeping 2 s without computing"
    for name in ("garbage", "huge", "sleeper"):
        assert results[name]["Sigmoid.backward"]["output"] == "not implemented"


def test_command_line_refuses_in_one_line_or_warns_without_isolation(tmp_path, capsys,
                                                                    monkeypatch):
    from mlp.cli import main

    exercise.make(tmp_path / "hw", only=["Tanh.backward"])
    command = ["exercise", "grade", str(tmp_path / "hw"), "--exercise", str(tmp_path / "hw")]
    assert main([*command, "--no-isolation"]) == 0
    out, err = capsys.readouterr()
    assert err == ("mlp exercise grade: warning: grading without isolation (--no-isolation): "
                   "submitted code can read the reference and other submissions\n")
    assert "not implemented" in out
    monkeypatch.setattr(isolation, "unavailable", lambda user=False: "unshare: EPERM")
    assert main(command) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", "mlp exercise grade: error: submitted code cannot be isolated "
                          "here (unshare: EPERM): grade where Linux allows user namespaces, "
                          "or pass --no-isolation to grade without (unsafe)\n")


def test_unisolated_grading_warns_and_unavailable_isolation_refuses(tmp_path, monkeypatch):
    exercise.make(tmp_path / "hw", only=["Tanh.backward"])
    with pytest.warns(isolation.UnisolatedWarning, match="without isolation"):
        exercise.Grader(["Tanh.backward"], isolation="none").close()
    monkeypatch.setattr(isolation, "unavailable", lambda user=False: "unshare: EPERM")
    with pytest.raises(isolation.Unavailable, match=r"cannot be isolated here \(unshare: "
                       r"EPERM\).*--no-isolation"):
        exercise.Grader(["Tanh.backward"])


NOBODY = 65534
GRADE_AS_NOBODY = """
import json, sys
from mlp import exercise
hw, *folders = sys.argv[1:]
with exercise.Grader(hw, time_limit=4.0, workers=1) as grader:
    print(json.dumps(grader.grade_many(folders)))
"""


def _private_root_entries():
    """The folders under /root that the Python installation and the library need (shown to
    the unprivileged user through a mount namespace), or None when something they need is
    not readable by others outside /root either."""
    entries = set()
    for path in {os.path.realpath(sys.executable), sys.prefix, sys.base_prefix, str(SOURCE)}:
        path = os.path.realpath(path)
        if path.startswith("/root/"):
            entries.add("/root/" + path.split("/")[2])
        ancestors = [a for a in Path(path).parents if str(a) != "/root"]
        if any(not os.stat(a).st_mode & stat.S_IXOTH for a in ancestors if a.is_dir()):
            return None
    return sorted(entries)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv")
                    or _private_root_entries() is None,
                    reason="needs root, setpriv, and a Python installation others can read")
def test_an_unprivileged_instructor_grades_through_a_user_namespace():
    """Not a simulation: the grader itself runs as uid 65534. The Python installation may
    sit under a private /root: a mount namespace shows the test a world-readable /root
    holding the same folders, as an unprivileged user's own Python would be."""
    work = Path(tempfile.mkdtemp(prefix="mlp-nobody-"))
    try:
        work.chmod(0o755)
        exercise.make(work / "hw", only=ITEMS)
        folders = {name: work / name for name in ("honest", "steal", "whoami")}
        for folder in folders.values():
            shutil.copytree(work / "hw", folder)
        for item in ITEMS:
            solve(folders["honest"], item)
        cheats = _cheats(work, work / "hw", SOURCE, 0, work / "none.zip")
        replace_stub(folders["steal"], "Tanh.backward", cheats["steal"])
        replace_stub(folders["whoami"], "Tanh.backward", """
            raise RuntimeError(open("/proc/self/uid_map").read().split())
        """)
        fake_root = work / "root"
        fake_root.mkdir()
        setup = ["true"]
        for entry in _private_root_entries():
            (fake_root / Path(entry).name).mkdir()
            setup.append(f"mount --bind {entry} {fake_root / Path(entry).name}")
        if len(setup) > 1:
            setup.append(f"mount --rbind {fake_root} /root")
        setup = " && ".join(setup)
        command = (f"{setup} && exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups "
                   f"{sys.executable} -c '{GRADE_AS_NOBODY}' {work / 'hw'} "
                   + " ".join(str(f) for f in folders.values()))
        done = subprocess.run(["unshare", "-m", "sh", "-c", command], capture_output=True,
                              text=True, timeout=300, cwd=work, env={**os.environ,
                              "HOME": str(work), "TMPDIR": "/tmp"})
        assert done.returncode == 0, done.stderr[-2000:]
        results = [{r["name"]: r for r in rs} for rs in json.loads(done.stdout)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    honest, steal, whoami = results
    assert {r["score"] for r in honest.values()} == {1}
    assert steal["Tanh.backward"]["score"] == 0
    assert steal["Tanh.backward"]["output"].startswith("raised FileNotFoundError")
    assert whoami["Tanh.backward"]["output"] == f"raised RuntimeError: ['0', '{NOBODY}', '1']"


def test_an_installed_mlp_is_covered_and_a_checkout_never_shown(tmp_path):
    """A site-packages holding an installed mlp is mounted (numpy and the rest are beside it)
    with the mlp covered; a source checkout on sys.path is not mounted at all."""
    site_packages = tmp_path / "venv" / "site-packages"
    checkout = tmp_path / "checkout"
    for folder in (site_packages / "mlp", site_packages / "numpy", checkout / "mlp",
                   site_packages / "mlp_backprop-0.1.0.dist-info"):
        folder.mkdir(parents=True)
    binds, links = isolation.environment([str(site_packages), str(checkout)])
    assert str(site_packages) in binds
    assert str(checkout) not in binds
    assert sorted(isolation.installed_copies([str(site_packages)])) == [
        str(site_packages / "mlp"), str(site_packages / "mlp_backprop-0.1.0.dist-info")]
