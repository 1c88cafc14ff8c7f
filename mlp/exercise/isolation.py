"""Kernel isolation for graded code: namespaces, a root of its own, no privileges (Linux).

The grading sandbox (:mod:`.sandbox`) forks a process per item that calls :func:`unshare`
and forks again; the grandchild is process 1 of a new pid namespace, so when it exits the
kernel kills every process left in it. The grandchild then calls :func:`enter`, which builds
a new root on a tmpfs holding only read-only bind mounts of what the item needs (the Python
installation, the host package, the student's files) and a size-capped scratch tmpfs, pivots
into it, and :func:`drop_privileges`. None of this depends on the submitted code cooperating:
the reference, other submissions and the grader's files are not in its view of the file
system, its pid namespace holds only its own processes (no ``/proc/<ppid>``, no signals to
anything outside), its network namespace only a loopback that is down, and it holds no
capability and cannot gain one.

Two routes: as root, plain namespaces, then an unprivileged uid of its own; otherwise (or
``user=True``, which tests the route on a root machine, or root without CAP_SYS_ADMIN, as in
a container: see :func:`route`) a user namespace in which the process is root without any
capability outside and drops every capability inside.

Run as a script (``python -I isolation.py [user]``), it tries the whole sequence once and
prints why it failed (exit status 1), or nothing (exit status 0): see :func:`unavailable`.

Everything here is stdlib only: the sandbox loads this file by path, never through ``mlp``.
"""

import ctypes
import errno
import functools
import glob
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_CHILD_SUBREAPER, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 36, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_CAP_VERSION_3 = 0x20080522
# the flags a bind mount inherits from its source and that a user namespace may not clear
_LOCKED = {os.ST_RDONLY: MS_RDONLY, os.ST_NOSUID: MS_NOSUID, os.ST_NODEV: MS_NODEV,
           os.ST_NOEXEC: MS_NOEXEC, 1024: 1024, 2048: 2048, 4096: 1 << 21}  # *ATIME
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
_KEYCTL = {"x86_64": 250, "aarch64": 219, "riscv64": 219, "ppc64le": 271, "s390x": 280}
KEYCTL_JOIN_SESSION_KEYRING = 1
SYSTEM = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/etc/ld.so.cache")
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom")
# an installed or editable `mlp` (distribution mlp-backprop) beside numpy
_PACKAGE_NAMES = re.compile(r"^(mlp([-_.].*)?|__editable__.*mlp.*)$")
UID_BASE = 200000

_libc = None


class Unavailable(OSError):
    """The kernel refuses the namespaces that isolation needs."""


class UnisolatedWarning(UserWarning):
    """Submitted code is graded without the kernel's isolation."""


def _call(name, *args):
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if getattr(_libc, name)(*args) == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _mount(source, target, fstype=None, flags=0, data=None):
    _call("mount", *(None if s is None else os.fsencode(s) for s in (source, target, fstype)),
          ctypes.c_ulong(flags), None if data is None else data.encode())


def become_subreaper():
    """Orphans of this process's children (even in a new session) become its children."""
    try:
        _call("prctl", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the kill of each child's process tree below still applies


def unshare(user):
    """Move this process into new mount, ipc, uts, net (and user) namespaces; its next child
    is process 1 of a new pid namespace. In a user namespace this process is uid 0 there."""
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    _call("unshare", flags | (CLONE_NEWUSER if user else 0))
    if user:
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"),
                           ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done here shows outside


def _make_path(root, path, is_dir=True):
    """``path`` inside ``root`` as it resolves outside: folders, and symbolic links on the way
    (``/lib -> usr/lib``). Folders made here are world-readable, whatever they are outside."""
    current = "/"
    parts = path.strip("/").split("/")
    for i, part in enumerate(parts):
        current = os.path.join(current, part)
        inside = root + current
        if os.path.islink(current):
            if not os.path.lexists(inside):
                os.symlink(os.readlink(current), inside)
            current = os.path.realpath(current)
            _make_path(root, current, is_dir or i < len(parts) - 1)
        elif not os.path.lexists(inside):
            if is_dir or i < len(parts) - 1:
                os.mkdir(inside, 0o755)
            else:
                os.close(os.open(inside, os.O_CREAT | os.O_WRONLY, 0o644))


def _bind(source, target, extra=MS_NOSUID | MS_NODEV):
    """A read-only bind mount, keeping the flags of the source's mount."""
    locked = os.statvfs(source).f_flag
    flags = extra | sum(ms for st, ms in _LOCKED.items() if locked & st)
    _mount(source, target, None, MS_BIND)
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | flags)


def outermost(paths):
    """``paths`` without those inside another of them, sorted."""
    kept = []
    for path in sorted(set(paths)):
        if not any(path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def environment(paths):
    """The folders of the Python installation an item needs, read-only: the existing
    ``paths`` (``sys.path``), but no source checkout holding an ``mlp`` (a site-packages
    holding one is kept: :func:`installed_copies` covers it), and the system's libraries.
    Returns ``(binds, links)``: real paths, and the paths that reach them through links."""
    binds, links = [], []
    for path in [*paths, *SYSTEM]:
        if not path or not os.path.exists(path):
            continue
        real = os.path.realpath(path)
        if os.path.exists(os.path.join(path, "mlp")) and not real.endswith("-packages"):
            continue
        binds.append(real)
        if real != os.path.abspath(path):
            links.append(os.path.abspath(path))
    return outermost(binds), links


def installed_copies(binds):
    """Any installed or editable ``mlp`` in the site-packages inside ``binds``."""
    found = []
    for bind in binds:
        for folder in [bind, *glob.glob(os.path.join(bind, "*-packages")),
                       *glob.glob(os.path.join(bind, "python3*", "*-packages"))]:
            try:
                names = os.listdir(folder)
            except OSError:  # a file, or not readable
                continue
            found += [os.path.join(folder, n) for n in names if _PACKAGE_NAMES.match(n)]
    return found


def enter(root, binds, links, hidden, scratch, scratch_bytes, owner=0):
    """Make ``root`` (an empty folder) the root: the ``binds`` read-only at their own paths,
    ``hidden`` paths inside them covered by empty ones, a few devices, a fresh ``/proc``,
    and ``scratch`` a tmpfs of ``scratch_bytes`` owned by ``owner``. Then chdir to scratch.
    Runs as process 1 of the new pid namespace, with every privilege still held."""
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=755")
    os.close(os.open(root + "/.empty", os.O_CREAT | os.O_WRONLY, 0o444))
    for path in binds:
        _make_path(root, path, os.path.isdir(path))
        _bind(path, root + path)
    for path in links:
        _make_path(root, path)
    for path in hidden:  # inside a bind: covered by an empty folder or file
        real = os.path.realpath(path)
        if os.path.lexists(real) and any(real.startswith(b.rstrip("/") + "/") for b in binds):
            if os.path.isdir(real):
                _mount("tmpfs", root + real, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV,
                       "size=4k,nr_inodes=1,mode=555")
            else:
                _bind(root + "/.empty", root + real)
    for path in DEVICES:
        if os.path.exists(path):
            _make_path(root, path, False)
            _bind(path, root + path, MS_NOSUID)
    _make_path(root, scratch)
    _mount("tmpfs", root + scratch, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={scratch_bytes},nr_inodes=128,mode=700,uid={owner},gid={owner}")
    os.mkdir(root + "/proc", 0o555)
    try:
        # read-only: a uid that is root outside could otherwise write to /proc/sys
        _mount("proc", root + "/proc", "proc", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        pass  # a kernel that keeps /proc masked: the item runs without one
    os.mkdir(root + "/.old")
    syscall = _PIVOT_ROOT.get(platform.machine())
    if syscall is None:
        raise OSError(f"pivot_root: unknown syscall number on {platform.machine()}")
    _call("syscall", syscall, os.fsencode(root), os.fsencode(root + "/.old"))
    os.chdir("/")
    _call("umount2", b"/.old", MNT_DETACH)  # the old root is gone, not merely out of sight
    os.rmdir("/.old")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(scratch)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_privileges(uid=None):
    """Give up every privilege for good: the capability bounding set and ambient set are
    emptied, then (as real root, ``uid`` given) every id becomes ``uid`` and the groups
    none, or (in a user namespace) every capability is dropped; the session keyring is a new
    one; no-new-privileges last, so that nothing executed later regains any. Raises OSError
    if a step fails."""
    for cap in range(64):
        try:
            _call("prctl", PR_CAPBSET_DROP, cap, 0, 0, 0)
        except OSError:
            break  # past the last capability this kernel knows
    _call("prctl", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    try:  # the kernel keyring is not namespaced: a session keyring of its own, and empty
        _call("syscall", _KEYCTL[platform.machine()], KEYCTL_JOIN_SESSION_KEYRING, None)
    except (KeyError, OSError) as exc:
        if getattr(exc, "errno", None) != errno.ENOSYS and not isinstance(exc, KeyError):
            raise
    header, data = _CapHeader(_CAP_VERSION_3, 0), (_CapData * 2)()
    _call("capset", ctypes.byref(header), data)
    _call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _call("capget", ctypes.byref(header), data)
    if any(d.effective or d.permitted or d.inheritable for d in data):
        raise OSError("capabilities remain after dropping them")


def _try(user):
    """The whole sequence once, in a child and grandchild; raises OSError for a failure."""
    root, scratch = tempfile.mkdtemp(prefix="mlp-isolation-"), "/scratch"
    binds, links = environment(sys.path)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            unshare(user)
            grandchild = os.fork()
            if grandchild == 0:
                enter(root, binds, links, [], scratch, 1 << 20, 0 if user else UID_BASE)
                drop_privileges(None if user else UID_BASE)
                open(os.__file__, "rb").close()  # the Python installation is readable
                os._exit(0)
            _, status = os.waitpid(grandchild, 0)
            os._exit(os.waitstatus_to_exitcode(status))
        except BaseException as exc:  # report, whatever failed
            os.write(write, str(exc).encode()[:500])
            os._exit(1)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        message = f.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    os.rmdir(root)
    if status:
        raise OSError(message or f"the isolated process ended with status {status}")


@functools.cache
def unavailable(user=False):
    """Why items cannot be isolated on this machine, or None when they can (tried once in a
    fresh interpreter, so the calling process stays as it was)."""
    command = [sys.executable, "-I", os.path.abspath(__file__)] + (["user"] if user else [])
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the isolation check did not run: {exc}"
    if done.returncode == 0:
        return None
    return done.stdout.strip() or done.stderr.strip()[-300:] or "the isolation check failed"


def route(mode="auto"):
    """The first route the kernel allows: ``("root", None)`` (as root, plain namespaces),
    else ``("user", None)`` (a user namespace; the only one tried for ``mode="user"`` or
    without root), else ``(None, why)``. Root without CAP_SYS_ADMIN (a container's default)
    is refused the first and usually allowed the second."""
    tried = ["user"] if mode == "user" or os.geteuid() != 0 else ["root", "user"]
    reasons = []
    for name in tried:
        reason = unavailable(user=name == "user")
        if reason is None:
            return name, None
        if reason not in reasons:
            reasons.append(reason)
    return None, "; ".join(reasons)


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


def children(pid=None):
    """The children of ``pid`` (default this process)."""
    pid = pid or os.getpid()
    try:
        with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
            return [int(p) for p in f.read().split()]
    except OSError:  # a kernel without the list: walk the whole process table
        return [p for p in _descendants(pid) if p]


def kill_descendants():
    """SIGKILL every process below this one until none is left, and reap them. As a
    subreaper, nothing lives below this process without being one of its children."""
    for _ in range(1000):
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if not pid:
                break
        alive = children()
        if not alive:
            return
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.002)


if __name__ == "__main__":
    try:
        _try(user="user" in sys.argv[1:])
    except OSError as exc:
        print(exc)
        sys.exit(1)
