"""The grading sandbox: a warmed-up process that runs each item of a submission in a fork.

Started by the grader as a script (``python -I sandbox.py CONFIG``), never as part of ``mlp``:
this process imports numpy and the probes, never the reference solution, and reads nothing
else: for each job it forks a short-lived runner that reads the job line on stdin, forks the
item, forwards its answer and exits, so that no item is forked from a process holding another
submission's job, answer or output (a process can read its own memory). The runner's child
(see :mod:`.isolation`) enters new namespaces and forks the item's process, process 1 of a new
pid namespace. That process

- sees a root of its own: the Python installation, the host package and this submission's
  files, all read-only, and a small scratch tmpfs; no network; nothing of other processes;
- gives up every privilege, cannot fork nor make or join namespaces (:mod:`.confine`), sees
  only an allowlist of environment variables, limits itself with kernel resource limits (CPU
  time, address space, file size, processes, ...), redirects its output into a pipe the
  runner caps, and installs an audit hook as a second line of defence (the only one with
  ``"isolation": "none"``): no processes, signals, C libraries, writes outside scratch or
  reads of the reference, the grader's files and other submissions;
- imports the *host* package (the student's skeleton: no exercised item's solution) as ``mlp``,
  then the submitted module that defines the item, and runs the item's probe;
- writes the raw arrays to a pipe it did not choose and exits; when it ends, the kernel
  ends every process it started.

The runner reads at most a bounded answer per job and answers with one JSON line (the answer,
which the grader reads as hostile data, or how the item ended); it then kills every descendant
of its own, as this process does after it (both are child subreapers). The verdict is given by
the grader, which never runs submitted code.
"""

import importlib.machinery
import importlib.util
import json
import os
import resource
import select
import signal
import sys
import time
import traceback

import numpy  # noqa: F401  (warm: every item starts with numpy loaded)

MAX_RESULT = 8 << 20  # bytes of an item's answer read (the grader reads as many: answers.py)
MAX_OUTPUT = 4096
RESULT_FD = 3
IDLE_LIMIT = 2.0  # seconds asleep without using CPU: the item waits for nothing that comes
SCRATCH_BYTES = 16 << 20
STOP = 3  # a runner's exit status: the grader closed the sandbox's input


class Refused(Exception):
    """The submission cannot be graded on this item (missing, or its module does not import)."""


def _sibling(name):
    """A module of this folder, loaded by path: this script never imports ``mlp``."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_mlp_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


isolation, guard, confine = _sibling("isolation"), _sibling("guard"), _sibling("confine")
probes = None  # loaded by path from the grader's copy of the library (see _prepare)
_setup = {"isolate": False}


def _limit(job):
    """Kernel resource limits; lowering them needs no privilege, raising them is refused."""
    cpu = max(1, int(job["time_limit"] + 0.999))
    limits = [(resource.RLIMIT_CPU, cpu, cpu + 1), (resource.RLIMIT_CORE, 0, 0),
              (resource.RLIMIT_FSIZE, job["file_limit"], job["file_limit"]),
              (resource.RLIMIT_NPROC, 0, 0), (resource.RLIMIT_NOFILE, 64, 64),
              (resource.RLIMIT_MEMLOCK, 0, 0), (resource.RLIMIT_MSGQUEUE, 0, 0),
              (resource.RLIMIT_RTPRIO, 0, 0)]
    if job["memory_limit"]:
        limits.append((resource.RLIMIT_AS, job["memory_limit"], job["memory_limit"]))
    for which, soft, hard in limits:
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass  # a limit the platform lacks


def _import_paths(host):
    """sys.path and sys.meta_path on which ``mlp`` can only be the host package (an
    installed ``mlp`` that isolation covered is an empty folder, and its site-packages stays)."""
    sys.path[:] = [host] + [p for p in sys.path if p and not os.path.exists(
        os.path.join(p, "mlp", "__init__.py"))]
    standard = (importlib.machinery.BuiltinImporter, importlib.machinery.FrozenImporter,
                importlib.machinery.PathFinder)
    sys.meta_path[:] = [f for f in sys.meta_path if f in standard]
    sys.path_importer_cache.clear()
    sys.dont_write_bytecode = True


def _where(exc, filename):
    """'mlp/x.py, line N' of the deepest frame in the submitted file, if any."""
    line = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == filename:
            line = lineno
    return line


def _load_submitted(package, relative):
    """The submitted module ``relative`` (``activations.py``) inside the host package."""
    path = os.path.join(package, relative)
    if not os.path.isfile(path):
        raise Refused(f"mlp/{relative} is missing from the submission")
    parts = relative[:-3].split("/")
    name = ".".join(["mlp", *parts[:-1], f"_submitted_{parts[-1]}"])
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # anything a broken module does on import
        line = _where(exc, path)
        where = f"mlp/{relative}" + (f", line {line}" if line else "")
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise Refused(f"{where}: {type(exc).__name__}: {first} (the module failed to "
                          "import, so its items cannot be graded)") from None
    return module


def _child(job):
    """Runs in the item's process: never returns."""
    status = {}
    try:
        _limit(job)
        os.chdir(job["scratch"])
        os.environ.clear()  # nothing of the grader's: an explicit allowlist
        os.environ.update(confine.item_environment(job["scratch"]))
        _import_paths(job["host"])
        guard.install_guard(os.path.realpath(job["scratch"]),
                            [os.path.realpath(p) for p in job["readable"]],
                            [os.path.realpath(p) for p in job["unreadable"]])
        import mlp as host  # the host: the skeleton, holding no exercised solution

        try:
            module = _load_submitted(job["package"], job["file"])
            cls_name, method = job["item"].split(".")
            cls = getattr(module, cls_name, None)
            if not isinstance(cls, type) or method not in cls.__dict__:
                raise Refused(f"{job['item']} is missing from mlp/{job['file']}")
            # the item's method, and the other exercised methods of its class the probe calls
            functions = {name: cls.__dict__[name] for name in [method, *job.get("methods", [])]
                         if name in cls.__dict__}
            arrays = probes.run(job["item"], host, functions, seed=job["seed"])
            status = {"arrays": probes.encode(arrays)}
        except Refused as exc:
            status = {"error": str(exc.args[0])}
        except BaseException as exc:  # the submitted code may raise anything
            status = {"error": probes.error_message(exc)}
        data = json.dumps(status).encode()
        for start in range(0, len(data), 65536):
            os.write(RESULT_FD, data[start:start + 65536])
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(0)


def _isolate(job):
    """In the fork: enter new namespaces and fork the item's process, which returns from
    here into its own root without privileges; this process waits for it and ends as it
    ended. Raises OSError when the kernel refuses."""
    isolation.unshare(_setup["user"])
    pid = os.fork()
    if pid:
        _, status, usage = os.wait4(pid, 0)
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        if sig == signal.SIGKILL and usage.ru_utime + usage.ru_stime >= job["time_limit"]:
            sig = signal.SIGXCPU  # process 1 of a pid namespace ignores SIGXCPU: the hard
            # CPU limit's SIGKILL ended it
        if sig is not None:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
        os._exit(os.waitstatus_to_exitcode(status))
    uid = None if _setup["user"] else _setup["uid"]
    binds = [*_setup["binds"], job["host"], job["package"]]
    isolation.enter(job["scratch"], isolation.outermost(binds), _setup["links"],
                    [*_setup["hidden"], *job["unreadable"]], job["scratch"],
                    job.get("scratch_limit", SCRATCH_BYTES), uid or 0)
    isolation.drop_privileges(uid)
    confine.forbid_processes()


def _fork(job):
    result_r, result_w = os.pipe()
    output_r, output_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(result_w, RESULT_FD)
            os.dup2(output_w, 1)
            os.dup2(output_w, 2)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.closerange(RESULT_FD + 1, 1 << 16)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            if _setup["isolate"]:
                try:
                    _isolate(job)
                except OSError as exc:
                    os.write(RESULT_FD, json.dumps({"error": f"the item could not be "
                                                             f"isolated: {exc}"}).encode())
                    os._exit(0)
            _child(job)
        finally:
            os._exit(70)
    for fd in (result_w, output_w):
        os.close(fd)
    return pid, result_r, output_r


def _asleep(pid, seen):
    """Whether the item's process has slept without using CPU for IDLE_LIMIT seconds;
    ``seen`` keeps its last CPU ticks and since when they have not changed."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return False
    state, ticks, now = fields[0], int(fields[11]) + int(fields[12]), time.monotonic()
    if state not in (b"S", b"T", b"t") or seen.get("ticks") != ticks:
        seen.update(ticks=ticks, since=now)
    return now - seen["since"] >= IDLE_LIMIT


def _collect(pid, result_r, output_r, wall):
    """Read the child's result and (capped) output until it exits or the time is up.
    Returns ``(result bytes or None, output bytes, how it ended)``."""
    deadline = time.monotonic() + wall
    result, output, status, seen = bytearray(), bytearray(), None, {}
    open_fds = [result_r, output_r]
    limit = MAX_RESULT
    while status is None:
        left = deadline - time.monotonic()
        item = (isolation.children(pid) or [None])[0] if _setup["isolate"] else pid
        if left <= 0 or item is not None and _asleep(item, seen):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, bytes(output), "timeout" if left <= 0 else "asleep"
        ready, _, _ = select.select(open_fds, [], [], min(left, 0.05))
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.remove(fd)
            elif fd == result_r and len(result) <= limit:
                result += chunk
            elif fd == output_r:  # read all, keep the start: the child never blocks on it
                output += chunk[:max(0, MAX_OUTPUT - len(output))]
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            status = code
    if result_r in open_fds:  # what the child wrote just before it ended
        os.set_blocking(result_r, False)
        try:
            while len(result) <= limit and (chunk := os.read(result_r, 65536)):
                result += chunk
        except BlockingIOError:
            pass
    if len(result) > limit:
        return None, bytes(output), "result too large"
    return bytes(result), bytes(output), _describe(status)


def _describe(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        reasons = {signal.SIGXCPU: " (the CPU time limit)", signal.SIGKILL: "",
                   signal.SIGXFSZ: " (the file size limit)"}
        return f"killed by {signal.Signals(sig).name}{reasons.get(sig, '')}"
    return f"exit status {os.WEXITSTATUS(status)}"


def _answer(result, output, how):
    """The one line for the grader: the item's answer (JSON text, read by the grader as
    hostile data) or None, its output and how it ended."""
    if how == "asleep":
        result = json.dumps({"error": f"stopped after sleeping {IDLE_LIMIT:g} s without "
                                      "computing"}).encode()
    return json.dumps({"result": None if result is None else result.decode("utf-8", "replace"),
                       "output": output.decode("utf-8", "replace"), "ended": how})


def _prepare(config):
    """What every item of this sandbox shares: the isolation route and the environment."""
    global probes
    for name in config.get("preload", []):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    spec = importlib.util.spec_from_file_location("_mlp_probes", config["probes"])
    probes = importlib.util.module_from_spec(spec)
    sys.modules["_mlp_probes"] = probes
    spec.loader.exec_module(probes)
    mode = config.get("isolation", "auto")
    binds, links = isolation.environment(sys.path)
    user = mode == "user" or mode == "auto" and os.geteuid() != 0  # "root": the root route
    _setup.update(isolate=mode != "none", user=user,
                  binds=binds, links=links, hidden=isolation.installed_copies(binds),
                  uid=isolation.UID_BASE + os.getpid() % 100000)


def _read_line(fd):
    """One line from ``fd``, read byte by byte: the rest stays for the next runner."""
    line = bytearray()
    while not line.endswith(b"\n") and (byte := os.read(fd, 1)):
        line += byte
    return bytes(line)


def _serve(channel):
    """In a runner forked for one job: read the job, fork its item, answer, exit. Whatever
    this reads (the job, the item's answer and output) dies with it, so no item is ever
    forked from a process that held another submission's data."""
    line = _read_line(0)
    if not line:
        os._exit(STOP)
    isolation.become_subreaper()
    job = json.loads(line)
    pid, result_r, output_r = _fork(job)
    try:
        answer = _collect(pid, result_r, output_r, job["wall_limit"])
    finally:
        isolation.kill_descendants()
    channel.write(_answer(*answer) + "\n")
    channel.flush()
    os._exit(0)


def main():
    _prepare(json.loads(sys.argv[1]))
    isolation.become_subreaper()
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    while True:  # this process reads nothing but its configuration
        select.select([0], [], [])
        runner = os.fork()
        if runner == 0:
            try:
                _serve(channel)
            finally:
                os._exit(70)
        _, status = os.waitpid(runner, 0)
        isolation.kill_descendants()
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == STOP:
            break
        if status != 0:  # the runner failed before it answered
            channel.write(_answer(None, b"", f"the sandbox's runner ended: {_describe(status)}")
                          + "\n")
            channel.flush()


if __name__ == "__main__":
    main()
