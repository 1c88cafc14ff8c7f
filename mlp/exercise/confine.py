"""What a graded item may still do once isolated: its environment, and no processes (Linux).

Two parts of the item's confinement that do not depend on the route :mod:`.isolation` took:

- :func:`item_environment`, the only environment variables the item sees: an explicit
  allowlist, nothing of the grader's (an instructor's tokens would reach the feedback);
- :func:`forbid_processes`, a seccomp filter (``seccomp(2)``, installed after
  no-new-privileges, inherited by every thread and kept across ``execve``) under which
  the item cannot fork, make namespaces or join any: as root in a user namespace the
  kernel exempts it from ``RLIMIT_NPROC``, and an unprivileged uid may still make user
  namespaces, each a wider surface of the kernel. Threads stay allowed.

Everything here is stdlib only: the sandbox loads this file by path, never through ``mlp``.
"""

import ctypes
import errno
import platform
import struct

THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
           "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
CLONE_THREAD = 0x00010000
# audit architecture, then the numbers of fork, vfork, clone, clone3, unshare and setns
# (None: the architecture has no such call)
_SYSCALLS = {"x86_64": (0xC000003E, (57, 58, 56, 435, 272, 308)),
             "aarch64": (0xC00000B7, (None, None, 220, 435, 97, 268))}
# classic BPF (linux/filter.h): load a word of seccomp_data, compare, return
_LOAD, _JEQ, _JSET, _JGE, _RET = 0x20, 0x15, 0x45, 0x35, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in seccomp_data (the low half of args[0])


def item_environment(scratch):
    """The whole environment of an item: a search path, a UTF-8 locale, one thread per
    library, and home and temporary files in its scratch folder."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "HOME": scratch, "TMPDIR": scratch, **{name: "1" for name in THREADS}}


def _filter(arch, numbers):
    """The filter's instructions ``(code, jump if true, jump if false, k)``: a call of
    another architecture fails with ENOSYS, fork, vfork, unshare and setns with EPERM,
    clone3 with ENOSYS (the C library then uses clone), clone unless it makes a thread."""
    fork, vfork, clone, clone3, unshare, setns = numbers
    # (code, label if true, label if false, k); None: the next instruction
    program = [(_LOAD, None, None, _ARCH), (_JEQ, None, "enosys", arch),
               (_LOAD, None, None, _NR), (_JGE, "enosys", None, 0x40000000),  # x32 calls
               *((_JEQ, "deny", None, n) for n in (fork, vfork, unshare, setns)
                 if n is not None),
               (_JEQ, "enosys", None, clone3), (_JEQ, None, "allow", clone),
               (_LOAD, None, None, _ARG0), (_JSET, "allow", "deny", CLONE_THREAD),
               ("allow", _RET, None, None, _ALLOW),
               ("deny", _RET, None, None, _ERRNO | errno.EPERM),
               ("enosys", _RET, None, None, _ERRNO | errno.ENOSYS)]
    labels = {ins[0]: i for i, ins in enumerate(program) if isinstance(ins[0], str)}
    program = [ins[1:] if isinstance(ins[0], str) else ins for ins in program]
    return [(code, *(0 if to is None else labels[to] - i - 1 for to in (t, f)), k)
            for i, (code, t, f, k) in enumerate(program)]


def forbid_processes():
    """Install the filter on this process (no-new-privileges must be set). Raises OSError
    if the kernel refuses it; does nothing on an architecture this module does not know."""
    known = _SYSCALLS.get(platform.machine())
    if known is None:
        return
    program = _filter(*known)
    code = b"".join(struct.pack("=HBBI", *ins) for ins in program)
    buffer = ctypes.create_string_buffer(code, len(code))

    class _Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = _Program(len(program), ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {errno.errorcode.get(err, err)}")
