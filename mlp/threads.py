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
otherwise as many threads as there are cores not busy with other processes (a reading at
most :data:`BUSY_READING_SECONDS` old) or with other trainings of this process. A limit the
caller set is never overridden: ``OMP_NUM_THREADS``, or the variable of the BLAS actually
loaded (``OPENBLAS_NUM_THREADS`` for OpenBLAS, ``MKL_NUM_THREADS`` for MKL, …; another
BLAS's variable limits nothing, and neither does a value the BLAS ignores, such as ``0``) in
the environment, or an enclosing ``threadpoolctl.threadpool_limits`` that left the BLAS with
a count other than its default (the count it starts with: for OpenBLAS the processors it
found, up to the maximum it was built for; one the same as the default cannot be told apart
from none: pass an explicit count then). An explicit count (``threads=N``) is honoured up to
the cores the process may run on (its affinity mask and cgroup CPU quota).

The count is the process's: trainings that overlap in several Python threads share it (the
smallest any of them chose), and the count from before the first comes back after the last.

The thread count changes the order in which a product sums, so results differ between counts
by round-off (about 1e-16 relative per product in float64, 1e-7 in float32); for the same
result bit for bit, give the same explicit count.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import os
import sys
import threading
import time
from typing import NamedTuple

import numpy as np

from ._machine import (
    ENVIRONMENT_VARIABLES,
    blas_default,
    busy_cores,
    environment_limit,
    read_count,
    setting,
)
from ._machine import cores as _cores

__all__ = ["BREAK_EVEN", "BUSY_READING_SECONDS", "ENVIRONMENT_VARIABLES", "Decision",
           "blas_threads", "busy_cores", "caller_limit", "check_threads", "choose_threads",
           "largest_product", "threads_during_fit"]

#: m·k·n of the largest per-batch matrix product from which a second BLAS thread pays on an
#: idle machine (measured: 2-core AMD EPYC, OpenBLAS 0.3.31, float64 and float32 training
#: steps; a 64-64-10 network at batch 200 (819 200) gains nothing, 128-wide layers (3.3e6)
#: gain 1.2-1.4x).
BREAK_EVEN = 2_000_000

#: Seconds for which one reading of the busy cores serves every fit that starts: a reading
#: takes about 5 ms (three samples 2 ms apart), as long as a partial_fit of 100 rows of a
#: 784-256-10 network, so reading it at every call doubled such calls; reused for half a
#: second it costs at most 1% of any stream of fits.
BUSY_READING_SECONDS = 0.5

# True inside a limit chosen here: an inner training run (an estimator's Trainer) keeps it
_CHOSEN = contextvars.ContextVar("mlp_blas_threads_chosen", default=False)
_CONTROLLER = None
_READING = (-math.inf, 0)  # (_clock() when taken, busy cores)
_clock = time.monotonic

# The trainings running now that set a count, by thread: a stack each (a nested one on top).
# The BLAS count is the process's, so they share it: the first saves the counts (_BEFORE),
# the last puts them back, and in between the smallest count any of them chose applies.
_LOCK = threading.RLock()
_RUNS: dict[int, list[int]] = {}
_BEFORE: dict[str, int] = {}


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
    with _LOCK:
        if _CONTROLLER is None:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER = ThreadpoolController()
        return _CONTROLLER


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


def _blas_libraries():
    return [library for library in _controller().lib_controllers if library.user_api == "blas"]


def _counts_before(libraries):
    """Each library's count as the caller left it: saved while trainings here run."""
    with _LOCK:
        if _BEFORE:
            return [_BEFORE.get(library.filepath, library.num_threads) for library in libraries]
        return [library.num_threads for library in libraries]


def caller_limit():
    """Why the caller's thread limit stands, or None when the caller set none.

    A limit is a variable in the environment that the loaded BLAS reads as a count (a value
    it ignores, such as ``0``, limits nothing), or a BLAS count other than the library's own
    default (an enclosing ``threadpool_limits``; while other trainings of this process run,
    the count from before they began).
    """
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if sys.platform != "darwin" and read_count("OMP_NUM_THREADS", omp, "openblas") and \
            read_count("OMP_NUM_THREADS", omp, "mkl"):
        # a limit to every BLAS but Apple's: which one is loaded need not be found (finding
        # it imports threadpoolctl, which `mlp train` otherwise does without)
        return f"{setting('OMP_NUM_THREADS', omp)} set in the environment"
    libraries = _blas_libraries()
    if not libraries:
        return "no BLAS library found whose threads could be set"
    variable = environment_limit(libraries)
    if variable is not None:
        return f"{variable} set in the environment"
    limited = {count for library, count in zip(libraries, _counts_before(libraries), strict=True)
               if count != blas_default(library)}
    if limited:
        return f"a thread limit set by the caller ({', '.join(map(str, sorted(limited)))})"
    return None


def _busy_now():
    """:func:`busy_cores`, read at most once per :data:`BUSY_READING_SECONDS`."""
    global _READING
    taken, busy = _READING
    if _clock() - taken >= BUSY_READING_SECONDS:
        busy = busy_cores()
        _READING = (_clock(), busy)
    return busy


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
    cores = _cores()
    if cores == 1:
        return Decision(1, "one core available")
    with _LOCK:  # Python threads of this process training now hold a core each
        training = sum(1 for thread in _RUNS if thread != threading.get_ident())
    busy = min(cores, _busy_now() + training)
    return Decision(max(1, cores - busy),
                    f"the largest product (m·k·n = {size:,}) is above the break-even; {busy} "
                    f"of {cores} cores busy with other work")


def _set_counts(limits):
    """Set BLAS counts (threadpoolctl ``limits``) from this thread; hold ``_LOCK``.

    threadpoolctl lets only one thread at a time change OpenBLAS's process-wide pool and
    silently ignores the others; every change here is made under one lock, so this thread
    takes that role for the call and gives it up at once, whichever thread had it.
    """
    import threadpoolctl

    release = getattr(getattr(threadpoolctl, "OpenBLASController", None),
                      "clear_controlling_thread", None)
    if release is not None:
        release(force=True)
    try:
        _controller().limit(limits=limits)
    finally:
        if release is not None:
            release(force=True)


def _share_count():
    """Apply the smallest count of the trainings running, or the saved counts if none."""
    global _BEFORE
    if _RUNS:
        count = min(stack[-1] for stack in _RUNS.values())
        _set_counts({library.filepath: count for library in _blas_libraries()})
    else:
        _set_counts(_BEFORE)
        _BEFORE = {}


@contextlib.contextmanager
def blas_threads(threads=None, *, model=None, batch_size=None):
    """Within the block, BLAS uses the thread count :func:`choose_threads` decides.

    The BLAS count is the whole process's. Blocks may overlap in several Python threads
    (fits in a thread pool): the first to begin saves the counts, the last to end puts them
    back (also after an exception), and while several run, the smallest count any of them
    chose applies, since the threads already share the cores. A training run inside another
    one's block in the same thread (an estimator's solver, a Trainer it builds) keeps the
    outer block's count unless it asks for an explicit one.

    Yields
    ------
    Decision
    """
    global _BEFORE
    thread = threading.get_ident()
    with _LOCK:  # the decision reads the counts that the trainings running here change
        decision = choose_threads(threads, model=model, batch_size=batch_size)
        if decision.threads is None:
            thread = None
        else:
            if not _RUNS:
                _BEFORE = {library.filepath: library.num_threads
                           for library in _blas_libraries()}
            _RUNS.setdefault(thread, []).append(decision.threads)
    if thread is None:
        yield decision
        return
    token = _CHOSEN.set(True)
    try:
        with _LOCK:
            _share_count()
        yield decision
    finally:
        _CHOSEN.reset(token)
        with _LOCK:
            _RUNS[thread].pop()
            if not _RUNS[thread]:
                del _RUNS[thread]
            _share_count()


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
