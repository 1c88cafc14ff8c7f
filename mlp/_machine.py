"""What the machine and the caller say about BLAS threads, for :mod:`mlp.threads`.

* the cores this process may run on: its affinity mask, and a cgroup CPU quota if one is set;
* how many of them other processes keep busy right now;
* the count each BLAS library starts with when nobody limits it (its *default*), which is
  not always the core count: OpenBLAS stops at the maximum it was built for (64 threads in
  numpy's wheels), MKL starts one thread per physical core, BLIS one thread;
* the variables by which a caller limits the threads, read as the library reads them: a value
  the library ignores (``0``, ``-1``, ``abc``) limits nothing.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import math
import os
import re
import statistics
import time

#: The variables by which a caller limits BLAS and OpenMP threads for a whole process.
ENVIRONMENT_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                         "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "GOTO_NUM_THREADS")

# which of them each BLAS reads (threadpoolctl's internal_api names), the one that wins first;
# a variable of a BLAS that is not loaded limits nothing
_READ_BY = {"openblas": ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"),
            "mkl": ("MKL_NUM_THREADS", "OMP_NUM_THREADS"),
            "blis": ("BLIS_NUM_THREADS", "OMP_NUM_THREADS"),
            "accelerate": ("VECLIB_MAXIMUM_THREADS",)}


def cores():
    """The cores this process may run on: its affinity mask, within its cgroup CPU quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    quota = cgroup_quota()
    return max(1, min(count, quota)) if quota is not None else count


def cgroup_quota(root="/sys/fs/cgroup"):
    """CPUs the cgroup's quota allows (rounded up), or None without a quota (Linux only).

    Read from ``root``: ``cpu.max`` (cgroup v2: ``"max 100000"`` or ``"200000 100000"``),
    else ``cpu/cpu.cfs_quota_us`` and ``cpu/cpu.cfs_period_us`` (v1: quota -1 for none).
    """
    try:
        with open(os.path.join(root, "cpu.max")) as f:
            quota, period = f.read().split()[:2]
    except (OSError, ValueError):
        try:
            with open(os.path.join(root, "cpu", "cpu.cfs_quota_us")) as f:
                quota = f.read().strip()
            with open(os.path.join(root, "cpu", "cpu.cfs_period_us")) as f:
                period = f.read().strip()
        except OSError:
            return None
    try:
        quota, period = int(quota), int(period)
    except ValueError:  # "max": no quota
        return None
    return math.ceil(quota / period) if quota > 0 and period > 0 else None


def _running_threads(path):
    """How many threads listed under ``path`` (a /proc/…/task glob) are running now."""
    count = 0
    for stat in glob.glob(path):
        try:
            with open(stat, "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # the thread ended meanwhile
        count += state == b"R"
    return count


def busy_cores(samples=3, interval=0.002):
    """Cores busy with other processes right now (an estimate, 0 up to the core count).

    On Linux, the number of runnable threads of the whole machine (``/proc/loadavg``) less
    this process's own, median of ``samples`` readings ``interval`` seconds apart: a
    CPU-bound process counts as soon as it runs (the load average would take a minute to
    show it). Elsewhere, the one-minute load average less one (this process). One call takes
    about 5 ms; :mod:`mlp.threads` reuses a reading for a while.
    """
    readings = []
    for i in range(samples):
        try:
            with open("/proc/loadavg", "rb") as f:
                running = int(f.read().split()[3].split(b"/")[0])
        except (OSError, IndexError, ValueError):
            break
        readings.append(running - _running_threads("/proc/self/task/*/stat"))
        if i + 1 < samples:
            time.sleep(interval)
    if readings:
        others = statistics.median(readings)
    else:
        try:
            others = os.getloadavg()[0] - 1
        except (AttributeError, OSError):
            others = 0
    return max(0, min(cores(), round(others)))


# -- the count a library starts with -----------------------------------------------------


def _openblas_call(library, name, restype=ctypes.c_int):
    """Call OpenBLAS's ``name()`` under the symbol affixes its builds use; None if absent."""
    for prefix in ("", "scipy_"):
        for suffix in ("", "64_", "_64"):
            function = getattr(library.dynlib, f"{prefix}{name}{suffix}", None)
            if function is not None:
                function.restype = restype
                return function()
    return None


@functools.lru_cache(maxsize=1)
def physical_cores():
    """Physical cores among those this process may run on (Linux topology), else None.

    Read once: the topology does not change while the process runs.
    """
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return None
    found = set()
    for cpu in allowed:
        topology = f"/sys/devices/system/cpu/cpu{cpu}/topology/"
        try:
            with open(topology + "physical_package_id") as f, open(topology + "core_id") as g:
                found.add((f.read().strip(), g.read().strip()))
        except OSError:
            return None
    return len(found) or None


def blas_default(library):
    """The thread count ``library`` (a threadpoolctl controller) starts with, unlimited.

    OpenBLAS says it: the processors it found when it loaded (its affinity mask), up to the
    ``MAX_THREADS`` it was built with (on OpenMP threads, the OpenMP runtime's count, one
    per processor, is the one read). MKL starts one thread per physical core, BLIS one
    thread; other libraries one per core.
    """
    api = library.internal_api
    if api == "openblas":
        procs = _openblas_call(library, "openblas_get_num_procs")
        procs = procs if procs and procs > 0 else cores()
        if getattr(library, "threading_layer", None) == "openmp":
            return procs
        config = _openblas_call(library, "openblas_get_config", ctypes.c_char_p) or b""
        most = re.search(rb"MAX_THREADS=([0-9]+)", config)
        return min(procs, int(most.group(1))) if most else procs
    if api == "mkl":
        return physical_cores() or cores()
    if api == "blis":
        return 1
    return cores()


# -- the caller's variables ----------------------------------------------------------------


def read_count(name, value, internal_api):
    """The thread count the variable ``name=value`` sets for a BLAS, 0 when it sets none.

    OpenBLAS reads its variables and ``OMP_NUM_THREADS`` with C's ``atoi`` and ignores a
    result below 1: ``" 2"``, ``"2,1"`` and ``"2abc"`` give 2; ``"0"``, ``"-1"`` and ``"abc"``
    nothing. An OpenMP runtime reads ``OMP_NUM_THREADS`` as a list of positive counts, one
    per nesting level (the first is the BLAS's), and ignores any other value; the other
    libraries' own variables take one positive integer.
    """
    if internal_api == "openblas":
        digits = re.match(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", value)
        count = int(digits.group(1)) if digits else 0
    elif name == "OMP_NUM_THREADS":
        levels = value.split(",")
        valid = all(re.fullmatch(r"\s*\+?[0-9]+\s*", level, re.ASCII) for level in levels)
        count = int(levels[0]) if valid and min(map(int, levels)) > 0 else 0
    else:
        digits = re.fullmatch(r"\s*\+?([0-9]+)\s*", value, re.ASCII)
        count = int(digits.group(1)) if digits else 0
    return max(count, 0)


def environment_limit(libraries, environ=None):
    """``"NAME=value"`` of the first variable that limits one of ``libraries``, else None.

    ``libraries`` are threadpoolctl's controllers of the loaded BLAS libraries.
    """
    environ = os.environ if environ is None else environ
    for library in libraries:
        for name in _READ_BY.get(library.internal_api, ENVIRONMENT_VARIABLES):
            value = environ.get(name)
            if value is not None and read_count(name, value, library.internal_api) > 0:
                return setting(name, value)
    return None


def setting(name, value):
    """``NAME=value`` for a message, the value stripped and cut to 20 characters."""
    shown = value.strip()
    return f"{name}={shown if len(shown) <= 20 else shown[:19] + '…'}"
