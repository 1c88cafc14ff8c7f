"""How many BLAS threads training uses: more than one only where a second thread pays.

OpenBLAS starts one thread per core and splits every large enough matrix product across
them. Two things decide whether that helps a training run:

* the size of the products. A Linear layer of a network trained in batches of B multiplies
  (B, n_in) by (n_in, n_out) forward and twice more of that size backward, m·k·n = B·n_in·n_out
  multiply-adds each. Below :data:`BREAK_EVEN` (measured on a 2-core machine, see the
  README's performance section and ``scripts/bench.py``) the threads' hand-over costs more
  than the second core gives back, and one thread is as fast or faster.
* the other work on the machine. A second thread that has to wait for a core held by another
  CPU-bound process makes every product wait for it: with one such process running on a
  2-core machine, 2 threads made training of mid-sized networks 2–8× *slower* than 1.

So "auto" gives one thread to networks whose largest product is below the break-even, and
otherwise as many threads as there are cores not busy with other processes right now. A
limit the caller set is never overridden: ``OMP_NUM_THREADS``, or the variable of the BLAS
actually loaded (``OPENBLAS_NUM_THREADS`` for OpenBLAS, ``MKL_NUM_THREADS`` for MKL, …; another
BLAS's variable limits nothing) in the environment, or an enclosing
``threadpoolctl.threadpool_limits`` that left the BLAS with a count other than its default
(one the same as the default cannot be told apart from none: pass an explicit count then).
An explicit count (``threads=N``) is honoured up to the cores the process may run on.

The thread count changes the order in which a product sums, so results differ between counts
by round-off (about 1e-16 relative per product in float64, 1e-7 in float32); for the same
result bit for bit, give the same explicit count.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import glob
import os
import statistics
import time
from typing import NamedTuple

import numpy as np

__all__ = ["BREAK_EVEN", "ENVIRONMENT_VARIABLES", "Decision", "blas_threads", "busy_cores",
           "check_threads", "choose_threads", "largest_product", "threads_during_fit"]

#: m·k·n of the largest per-batch matrix product from which a second BLAS thread pays on an
#: idle machine (measured: 2-core AMD EPYC, OpenBLAS 0.3.31, float64 and float32 training
#: steps; a 64-64-10 network at batch 200 (819 200) gains nothing, 128-wide layers (3.3e6)
#: gain 1.2-1.4x).
BREAK_EVEN = 2_000_000

#: The variables by which a caller limits BLAS and OpenMP threads for a whole process.
ENVIRONMENT_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                         "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "GOTO_NUM_THREADS")

# which of them each BLAS reads (threadpoolctl's internal_api names); OMP_NUM_THREADS is read
# by all of them: a variable of a BLAS that is not loaded limits nothing
_READ_BY = {"openblas": ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS"),
            "mkl": ("MKL_NUM_THREADS",), "blis": ("BLIS_NUM_THREADS",),
            "accelerate": ("VECLIB_MAXIMUM_THREADS",)}

# True inside a limit chosen here: an inner training run (an estimator's Trainer) keeps it
_CHOSEN = contextvars.ContextVar("mlp_blas_threads_chosen", default=False)
_CONTROLLER = None


class Decision(NamedTuple):
    """What :func:`choose_threads` decided and why.

    Attributes
    ----------
    threads : int or None
        The BLAS thread count to use while training; None leaves the count as it is.
    reason : str
        One line for a user: why this count.
    """

    threads: int | None
    reason: str


def check_threads(threads, name="threads"):
    """``threads`` checked: None or "auto" (both returned as None), or a positive int.

    Raises
    ------
    ValueError
        For anything else, naming ``name``.
    """
    if threads is None or (isinstance(threads, str) and threads == "auto"):
        return None
    if isinstance(threads, (int, np.integer)) and not isinstance(threads, bool) and threads >= 1:
        return int(threads)
    raise ValueError(f"{name} must be a positive integer, 'auto' or None, got {threads!r}")


def _controller():
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def _cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def largest_product(model, batch_size):
    """m·k·n of the largest matrix product of one training step: max of B·n_in·n_out.

    Parameters
    ----------
    model : Layer
        Its Linear layers (``n_in``, ``n_out``), nested ones included, are counted.
    batch_size : int
        Rows per batch B.

    Returns
    -------
    int
        0 for a model without Linear layers.
    """
    sizes, stack = [0], [model]
    while stack:
        layer = stack.pop()
        if hasattr(layer, "n_in") and hasattr(layer, "n_out"):
            sizes.append(int(batch_size) * int(layer.n_in) * int(layer.n_out))
        stack.extend(layer.children())
    return max(sizes)


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
    show it). Elsewhere, the one-minute load average less one (this process).
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
    return max(0, min(_cores(), round(others)))


def caller_limit():
    """Why the caller's thread limit stands, or None when the caller set none."""
    given = [name for name in ENVIRONMENT_VARIABLES if os.environ.get(name, "").strip()]
    if "OMP_NUM_THREADS" in given:  # read by every BLAS: no need to load threadpoolctl
        return f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} set in the environment"
    loaded = [info for info in _controller().info() if info["user_api"] == "blas"]
    read = {name for info in loaded
            for name in _READ_BY.get(info["internal_api"], ENVIRONMENT_VARIABLES)}
    for name in given:
        if name in read:
            return f"{name}={os.environ[name]} set in the environment"
    counts = {info["num_threads"] for info in loaded}
    if not counts:
        return "no BLAS library found whose threads could be set"
    if counts != {_cores()}:
        return f"a thread limit set by the caller ({', '.join(map(str, sorted(counts)))})"
    return None


def choose_threads(threads=None, *, model=None, batch_size=None):
    """The BLAS thread count for training ``model`` in batches of ``batch_size``.

    Parameters
    ----------
    threads : int, "auto" or None
        A positive count is used as given, up to the cores this process may run on (more
        are capped there); "auto" or None choose.
    model : Layer, optional
        The network; without it (or without ``batch_size``) "auto" leaves the count alone.
    batch_size : int, optional
        Rows per batch (the whole data set for full-batch training).

    Returns
    -------
    Decision
        ``threads`` None: keep the current count (the caller's limit, or one chosen by an
        enclosing training run).

    Raises
    ------
    ValueError
        When ``threads`` is neither a positive integer, "auto" nor None.
    """
    count = check_threads(threads)
    if count is not None:
        cores = _cores()
        if count > cores:  # more threads than cores only make them wait for each other
            return Decision(cores, f"{count} asked, capped at the {cores} cores available")
        return Decision(count, "as asked")
    if _CHOSEN.get():
        return Decision(None, "chosen by the enclosing training run")
    limit = caller_limit()
    if limit is not None:
        return Decision(None, limit)
    if model is None or batch_size is None:
        return Decision(None, "nothing to measure the products by")
    size = largest_product(model, batch_size)
    if size < BREAK_EVEN:
        return Decision(1, f"the largest product (m·k·n = {size:,}) is below the break-even "
                           f"of a second thread ({BREAK_EVEN:,})")
    cores, busy = _cores(), busy_cores()
    free = max(1, cores - busy)
    return Decision(free, f"the largest product (m·k·n = {size:,}) is above the break-even; "
                          f"{busy} of {cores} cores busy with other work")


@contextlib.contextmanager
def blas_threads(threads=None, *, model=None, batch_size=None):
    """Within the block, BLAS uses the thread count :func:`choose_threads` decides.

    The previous counts are restored on leaving, also after an exception. A training run
    inside another one's block (an estimator's solver, a Trainer it builds) keeps the outer
    block's count unless it asks for an explicit one.

    Yields
    ------
    Decision
    """
    decision = choose_threads(threads, model=model, batch_size=batch_size)
    if decision.threads is None:
        yield decision
        return
    token = _CHOSEN.set(True)
    try:
        with _controller().limit(limits=decision.threads, user_api="blas"):
            yield decision
    finally:
        _CHOSEN.reset(token)


def threads_during_fit(fit):
    """Decorate a trainer's ``fit(self, X, ...)`` to run inside :func:`blas_threads`.

    The trainer's ``threads``, ``model`` and ``batch_size`` (an int, or None, 0 or "full" for
    the whole of X) decide the count.
    """

    @functools.wraps(fit)
    def fit_with_threads(self, X, *args, **kwargs):
        try:
            n = X.shape[0] if hasattr(X, "shape") else len(X)
            batch = self.batch_size
            rows = n if batch in (None, 0, "full") else min(int(batch), n)
        except (TypeError, ValueError):
            rows = None  # not data: fit says what is wrong with it
        with blas_threads(self.threads, model=self.model, batch_size=rows):
            return fit(self, X, *args, **kwargs)

    return fit_with_threads
