"""The audit hook a graded item installs in itself: a second line of defence.

The decisive protection is the kernel's (:mod:`.isolation`); this hook runs inside the
submitted code's interpreter, which can disable it, so it guards nothing on its own. What it
adds: a clear message (``not allowed while grading: ...``) for what a submission has no
business doing, and, when grading runs without isolation (``--no-isolation``), the only
barrier there is. Loaded by path by the sandbox, never through ``mlp``.
"""

import os
import sys

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
MAX_WRITES = 64


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

    _take_away_fork_exec()
    for name in FORBIDDEN_IMPORTS:  # imported by the sandbox itself: importing anew is refused
        sys.modules.pop(name, None)
    sys.addaudithook(hook)


def _refused_fork_exec(*args, **kwargs):
    raise PermissionError("not allowed while grading: starting a process")


def _take_away_fork_exec():
    """``_posixsubprocess.fork_exec`` starts processes without an audit event (multiprocessing
    calls it directly): replace it, and the guard refuses to import the module afresh."""
    module = sys.modules.get("_posixsubprocess")
    if module is not None:
        module.fork_exec = _refused_fork_exec
