"""§1: BLAS threads on a 2-core machine, idle and with one CPU-bound process running.

* break-even: training steps of an h-h-h-10 network at batch 200 (float64 and float32),
  timed with 1 and with 2 BLAS threads in turns, idle and beside a busy loop; the speed-up of
  the second thread against the largest product m·k·n = 200·h·h. The break-even is the
  smallest size from which 2 threads are at least 10% faster at every larger size measured.
* busy vs idle: digits (1797 x 64), MLPClassifier 64-64-10, Adam, batch 200, 30 epochs, with
  the library's default ``n_threads`` (the policy of :mod:`mlp.threads`), with 2 threads forced,
  and scikit-learn's, each timed idle and then beside a busy loop in every round. Target: the
  default's busy time <= 1.2x its idle time (median over rounds of the per-round ratio).

Both run outside ``--threads``: they set the thread counts themselves.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import mlp
from mlp.threads import BREAK_EVEN, choose_threads
from mlp.trainer import Trainer

from ..candidates import build_ours
from ..registry import Target, Workload, register
from ..timing import round_robin

#: The busy loop: on Linux it asks to be killed when its parent dies (prctl's
#: PR_SET_PDEATHSIG = 1), then checks that the parent is still the one that started it, so no
#: way of ending the benchmark (SIGKILL included) leaves it spinning.
BUSY = """
import ctypes, os, signal, sys
if sys.platform == "linux":
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    if os.getppid() != int(sys.argv[1]):
        sys.exit()
while True:
    pass
"""


@contextlib.contextmanager
def busy_loop():
    """One CPU-bound process running for the duration of the block; it ends with the block,
    or with this process however it ends."""
    child = subprocess.Popen([sys.executable, "-c", BUSY, str(os.getpid())])
    try:
        time.sleep(0.3)  # started and spinning
        yield
    finally:
        child.kill()
        child.wait()


class Steps:
    """``steps`` training steps of an h-h-h-10 network under a BLAS thread count."""

    def __init__(self, width, dtype, threads, steps, batch=200):
        rng = np.random.default_rng(0)
        self.X = rng.normal(size=(steps * batch, width)).astype(dtype)
        self.y = rng.integers(0, 10, steps * batch)
        model = build_ours([width, width, width, 10], dtype)
        self.trainer = Trainer(model, mlp.SoftmaxCrossEntropyLoss(),
                               mlp.Adam(model.parameters(), lr=1e-3), batch_size=batch, rng=0)
        self.threads = threads

    def epoch(self):
        with threadpool_limits(self.threads, user_api="blas"):
            self.trainer.run_epoch(self.X, self.y)


def _speedups(width, dtype, steps, repeats):
    candidates = {n: Steps(width, dtype, n, steps) for n in (1, 2)}
    timed = round_robin(candidates, repeats)
    return statistics.median(a / b for a, b in zip(timed[1]["times"], timed[2]["times"],
                                                  strict=True))


def _break_even(rows, key):
    """The smallest product from which every larger one gains >= 10% from a second thread."""
    found = None
    for row in sorted(rows, key=lambda r: -r["product"]):
        if row[key] < 1.1:
            break
        found = row["product"]
    return found


def workload_break_even(context):
    widths = (32, 128) if context.quick else (32, 64, 96, 128, 192, 256, 384)
    steps, repeats = (3, 1) if context.quick else (20, context.repeats)
    result = {}
    for dtype in (np.float64, np.float32):
        rows = [{"width": w, "product": 200 * w * w} for w in widths]
        for phase in ("idle", "busy"):
            with busy_loop() if phase == "busy" else contextlib.nullcontext():
                for row in rows:
                    row[phase] = _speedups(row["width"], dtype, steps, repeats)
        result[np.dtype(dtype).name] = {"rows": rows, "break_even_idle": _break_even(rows, "idle"),
                                        "break_even_busy": _break_even(rows, "busy")}
    result["policy_break_even"] = BREAK_EVEN
    return result


def _break_even_report(result):
    lines = ["\n§1 break-even: speed-up of 2 BLAS threads over 1 (median), h-h-h-10 training "
             "steps at batch 200"]
    for dtype in ("float64", "float32"):
        part = result[dtype]
        lines.append(f"  {dtype}: " + ", ".join(
            f"h={r['width']} ({r['product']:.1e}) idle {r['idle']:.2f} busy {r['busy']:.2f}"
            for r in part["rows"]))
        lines.append(f"  {dtype} break-even m·k·n: idle {part['break_even_idle'] or 'none'}, "
                     f"busy {part['break_even_busy'] or 'none'} (mlp.threads.BREAK_EVEN = "
                     f"{result['policy_break_even']:,})")
    return lines


class Digits:
    """One fit of a 64-64-10 classifier on digits (batch 200, 30 epochs, no early stop)."""

    def __init__(self, cls, epochs, **params):
        X, y = load_digits(return_X_y=True)
        self.X, self.y = StandardScaler().fit_transform(X), y
        self.estimator = cls(hidden_layer_sizes=(64,), batch_size=200, max_iter=epochs, tol=0.0,
                             n_iter_no_change=epochs + 1, random_state=0, **params)

    def epoch(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.estimator.fit(self.X, self.y)


def workload_busy(context):
    epochs = 3 if context.quick else 30
    candidates = {"mlp": Digits(mlp.MLPClassifier, epochs),
                  "mlp 2 threads": Digits(mlp.MLPClassifier, epochs, n_threads=2),
                  "sklearn": Digits(SklearnMLP, epochs)}
    decision = choose_threads(None, model=mlp.Sequential(mlp.Linear(64, 64), mlp.ReLU(),
                                                         mlp.Linear(64, 10)), batch_size=200)
    rounds = 1 if context.quick else max(context.repeats, 5)
    idle = {name: [] for name in candidates}
    busy = {name: [] for name in candidates}
    for c in candidates.values():
        c.epoch()  # warm-up
    for _ in range(rounds):
        for phase, times in (("idle", idle), ("busy", busy)):
            with busy_loop() if phase == "busy" else contextlib.nullcontext():
                timed = round_robin(candidates, 1, warmup=False)
            for name in candidates:
                times[name].append(timed[name]["times"][0])
    result = {"decision": list(decision)}
    for name in candidates:
        result[name] = {"idle": statistics.median(idle[name]),
                        "busy": statistics.median(busy[name]),
                        "busy_over_idle": statistics.median(
                            b / a for a, b in zip(idle[name], busy[name], strict=True))}
    return result


def _busy_report(result):
    lines = [f"\n§1 busy vs idle: digits 64-64-10, batch 200, 30 epochs, seconds (median); "
             f"default threads: {result['decision'][0] or 'as set'} ({result['decision'][1]})"]
    for name, r in result.items():
        if name != "decision":
            lines.append(f"  {name:<14} idle {r['idle']:.3f}  busy {r['busy']:.3f}  "
                         f"busy/idle {r['busy_over_idle']:.2f}")
    return lines


def _break_even_references(result):
    """The speed-up of a second thread on each side of the policy's break-even, so that
    ``--runs N`` prints its median: the largest size measured below it, the smallest above."""
    rows = []
    for dtype in ("float64", "float32"):
        measured = result[dtype]["rows"]
        below = [r for r in measured if r["product"] < result["policy_break_even"]]
        above = [r for r in measured if r["product"] >= result["policy_break_even"]]
        for side in (below[-1:], above[:1]):
            for r in side:
                for phase in ("idle", "busy"):
                    label = f"§1 {dtype} speed-up of 2 threads, m·k·n {r['product']:.1e}"
                    rows.append((f"{label}, {phase}", r[phase]))
    return rows


register(Workload(key="§1 threads: break-even", order=1, run=workload_break_even,
                  report=_break_even_report, references=_break_even_references,
                  limited=False))

register(Workload(
    key="§1 threads: busy vs idle", order=2, run=workload_busy, report=_busy_report,
    targets=lambda r: [Target("§1 digits busy <= 1.2x idle (default threads)",
                              r["mlp"]["busy_over_idle"], "<=", 1.2)],
    references=lambda r: [("§1 digits busy / idle, 2 threads forced",
                           r["mlp 2 threads"]["busy_over_idle"]),
                          ("§1 digits busy / idle, scikit-learn", r["sklearn"]["busy_over_idle"])],
    limited=False))
