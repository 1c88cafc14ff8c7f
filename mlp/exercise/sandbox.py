"""The grading sandbox: a warmed-up process that runs each item of a submission in a fork.

Started by the grader as a script (``python -I sandbox.py CONFIG``), never as part of ``mlp``:
this process imports numpy and the probes, never the reference solution. For each job line on
stdin it forks a child that

- limits itself with kernel resource limits (CPU time, address space, file size, processes),
  redirects its output into a pipe this process caps, and installs an audit hook that refuses
  to start processes, send signals, load C libraries, raise the limits, write outside its own
  scratch folder or read the reference, the grader's files and other submissions;
- imports the *host* package (the student's skeleton: no exercised item's solution) as ``mlp``,
  then the submitted module that defines the item, and runs the item's probe;
- writes the raw arrays to a pipe it did not choose and exits.

This process answers with one JSON line (the child's raw result or how it ended) and then kills
every descendant of its own (it is a child subreaper, so processes that started a new session
are found too). The verdict is given by the grader, which never runs submitted code.
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

FORBIDDEN = frozenset({
    "os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system",
    "os.startfile", "subprocess.Popen", "pty.spawn", "os.kill", "os.killpg",
    "signal.pthread_kill", "resource.setrlimit", "resource.prlimit", "ctypes.dlopen",
    "ctypes.dlsym", "ctypes.dlsym/handle", "os.symlink", "os.link", "sys.remote_exec",
})
FORBIDDEN_IMPORTS = frozenset({"_posixsubprocess", "ctypes", "_ctypes"})
PATH_EVENTS = {"os.remove": 1, "os.rmdir": 1, "os.rename": 2, "os.mkdir": 1, "os.chmod": 1,
               "os.chown": 1, "os.truncate": 1, "os.utime": 1, "shutil.rmtree": 1,
               "os.chflags": 1, "os.lchflags": 1, "os.setxattr": 1, "os.removexattr": 1}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
MAX_RESULT = 4 << 20
MAX_OUTPUT = 4096
MAX_WRITES = 64
RESULT_FD = 3


class Refused(Exception):
    """The submission cannot be graded on this item (missing, or its module does not import)."""


def _under(path, roots):
    return any(path == root or path.startswith(root + os.sep) for root in roots)


def _depth(path, roots):
    """The length of the longest of ``roots`` that contains ``path``; -1 for none."""
    return max((len(root) for root in roots if path == root or path.startswith(root + os.sep)),
               default=-1)


def install_guard(scratch, readable, unreadable):
    """Refuse, from inside the child, what a submission has no business doing.

    The hook runs before the operation; an exception stops it. Limits that need no
    cooperation (CPU, memory, files, processes) are set as resource limits besides.
    """
    own = {str(os.getpid()), "self", "thread-self"}
    busy, written = [], []

    def real(path):
        return os.path.realpath(os.fsdecode(path))

    def refuse(what):
        raise PermissionError(f"not allowed while grading: {what}")

    def check_read(path):
        target = real(path)
        parts = target.split(os.sep)
        if len(parts) > 2 and parts[1] == "proc" and parts[2].isdigit() and parts[2] not in own:
            refuse(f"reading {target}")
        # the innermost root decides: the Python environment may sit inside a protected
        # checkout (a venv in it), and a protected package inside the environment
        if _depth(target, unreadable) > _depth(target, readable):
            refuse(f"reading {target}")

    def hook(event, args):
        if busy:
            return
        if event in FORBIDDEN:
            refuse(event)
        if event == "import" and args[0] in FORBIDDEN_IMPORTS:
            refuse(f"import {args[0]}")
        if event != "open" and event not in PATH_EVENTS:
            return
        busy.append(1)
        try:
            if event == "open":
                path, mode, flags = args
                if path is None or isinstance(path, int):
                    return
                writing = bool(flags & _WRITE_FLAGS) if mode is None else any(
                    c in mode for c in "wax+")
                if mode is None and not os.path.isabs(os.fsdecode(path)):
                    refuse("os.open with a relative path")
                if writing and not _under(real(path), (scratch,)):
                    refuse(f"writing {real(path)}")
                if writing:  # each file is capped by RLIMIT_FSIZE; their number here
                    written.append(1)
                    if len(written) > MAX_WRITES:
                        refuse(f"writing more than {MAX_WRITES} files")
                check_read(path)
            else:
                for path in args[:PATH_EVENTS[event]]:
                    if not isinstance(path, int) and not _under(real(path), (scratch,)):
                        refuse(f"{event} {real(path)}")
        finally:
            busy.pop()

    sys.addaudithook(hook)


def _refused_fork_exec(*args, **kwargs):
    raise PermissionError("not allowed while grading: starting a process")


def _take_away_fork_exec():
    """``_posixsubprocess.fork_exec`` starts processes without an audit event (multiprocessing
    calls it directly): replace it, and the guard refuses to import the module afresh."""
    module = sys.modules.get("_posixsubprocess")
    if module is not None:
        module.fork_exec = _refused_fork_exec


def _limit(job):
    cpu = max(1, int(job["time_limit"] + 0.999))
    limits = [(resource.RLIMIT_CPU, cpu, cpu + 1), (resource.RLIMIT_CORE, 0, 0),
              (resource.RLIMIT_FSIZE, job["file_limit"], job["file_limit"]),
              (resource.RLIMIT_NPROC, 0, 0), (resource.RLIMIT_NOFILE, 64, 64)]
    if job["memory_limit"]:
        limits.append((resource.RLIMIT_AS, job["memory_limit"], job["memory_limit"]))
    for which, soft, hard in limits:
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass  # a limit the platform lacks


def _import_paths(host):
    """sys.path and sys.meta_path on which ``mlp`` can only be the host package."""
    sys.path[:] = [host] + [p for p in sys.path if p and not os.path.exists(
        os.path.join(p, "mlp"))]
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


def _child(job, probes):
    """Runs in the fork: never returns."""
    status = {}
    try:
        _limit(job)
        _take_away_fork_exec()
        os.chdir(job["scratch"])
        _import_paths(job["host"])
        install_guard(os.path.realpath(job["scratch"]),
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
    finally:
        os._exit(0)


def _fork(job, probes):
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
            _child(job, probes)
        finally:
            os._exit(70)
    for fd in (result_w, output_w):
        os.close(fd)
    return pid, result_r, output_r


def _collect(pid, result_r, output_r, wall):
    """Read the child's result and (capped) output until it exits or the time is up."""
    deadline = time.monotonic() + wall
    result, output, status = bytearray(), bytearray(), None
    open_fds = [result_r, output_r]
    while status is None:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, bytes(output), "timeout"
        ready, _, _ = select.select(open_fds, [], [], min(left, 0.05))
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.remove(fd)
            elif fd == result_r and len(result) <= MAX_RESULT:
                result += chunk
            elif fd == output_r:  # read all, keep the start: the child never blocks on it
                output += chunk[:max(0, MAX_OUTPUT - len(output))]
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            status = code
    if result_r in open_fds:  # what the child wrote just before it ended
        os.set_blocking(result_r, False)
        try:
            while len(result) <= MAX_RESULT and (chunk := os.read(result_r, 65536)):
                result += chunk
        except BlockingIOError:
            pass
    if len(result) > MAX_RESULT:
        return None, bytes(output), "result too large"
    return bytes(result), bytes(output), _describe(status)


def _describe(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        reasons = {signal.SIGXCPU: " (the CPU time limit)", signal.SIGKILL: "",
                   signal.SIGXFSZ: " (the file size limit)"}
        return f"killed by {signal.Signals(sig).name}{reasons.get(sig, '')}"
    return f"exit status {os.WEXITSTATUS(status)}"


def _descendants(root):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _children():
    """This process's children: as a subreaper, nothing lives below it without one of them."""
    try:
        with open(f"/proc/self/task/{os.getpid()}/children", "rb") as f:
            return [int(pid) for pid in f.read().split()]
    except OSError:  # a kernel without the list: walk the whole process table
        return _descendants(os.getpid())


def kill_descendants():
    """SIGKILL every process below this one until none is left, and reap them."""
    for _ in range(1000):
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if not pid:
                break
        alive = _children()
        if not alive:
            return
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.002)


def _become_subreaper():
    """Orphans of the children (even in a new session) become ours, so none escapes."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass  # not Linux: the process-group kill below still applies


def main():
    config = json.loads(sys.argv[1])
    import numpy  # noqa: F401  (warm: every child starts with numpy loaded)

    for name in config.get("preload", []):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    spec = importlib.util.spec_from_file_location("_mlp_probes", config["probes"])
    probes = importlib.util.module_from_spec(spec)
    sys.modules["_mlp_probes"] = probes
    spec.loader.exec_module(probes)
    _become_subreaper()
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    for line in sys.stdin:
        job = json.loads(line)
        pid, result_r, output_r = _fork(job, probes)
        try:
            result, output, how = _collect(pid, result_r, output_r, job["wall_limit"])
        finally:
            os.close(result_r)
            os.close(output_r)
            kill_descendants()
        channel.write(json.dumps({"result": None if result is None else result.decode(
            "utf-8", "replace"), "output": output.decode("utf-8", "replace"), "ended": how})
            + "\n")
        channel.flush()


if __name__ == "__main__":
    main()
