"""Workloads 1-3: seconds per epoch of training, against scikit-learn, PyTorch and numpy.

1. make_classification(60000 x 784, 10 classes), 784-256-256-10 ReLU, Adam, batch 256, one
   epoch, float32 (and float64 for mlp); plus the GEMM-only floor and the same step as a plain
   numpy loop (no layers, no checks), for reference; with ``--threads 1`` also with 2 threads
2. the same with batch 64
3. Iris 4-16-3, batch 16, 200 epochs: per-call overhead
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import mlp
from mlp.datasets import load_iris
from mlp.trainer import Trainer

from ..candidates import GemmFloor, NumpyLoop, Ours, Sklearn, Torch, build_ours, torch
from ..registry import Target, Workload, register
from ..timing import paired_ratio, ratio, round_robin, timing_lines


def workload_epochs(X, y, batch, repeats, with_f64=True):
    sizes = [X.shape[1], 256, 256, 10]
    candidates = {"mlp float32": Ours(sizes, X, y, batch, np.float32)}
    if with_f64:
        candidates["mlp float64"] = Ours(sizes, X, y, batch, np.float64)
    candidates["sklearn"] = Sklearn(sizes, X, y, batch)
    if torch is not None:
        candidates["torch"] = Torch(sizes, X, y, batch)
    candidates["numpy loop"] = NumpyLoop(sizes, X, y, batch)
    candidates["gemm floor"] = GemmFloor(sizes, X, batch)
    return round_robin(candidates, repeats)


def workload_iris(repeats, epochs):
    data = load_iris()
    X = StandardScaler().fit_transform(data.X).astype(np.float32)
    y = data.y

    class OursIris:
        def epoch(self):
            model = build_ours([4, 16, 3], np.float32)
            Trainer(model, mlp.SoftmaxCrossEntropyLoss(), mlp.Adam(model.parameters(), lr=1e-2),
                    batch_size=16, rng=0).fit(X, y, epochs=epochs)

    class SklearnIris:
        def epoch(self):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                SklearnMLP(hidden_layer_sizes=(16,), batch_size=16, max_iter=epochs, alpha=0.0,
                           learning_rate_init=1e-2, tol=0.0, n_iter_no_change=epochs + 1,
                           random_state=0).fit(X, y)

    candidates = {"mlp": OursIris(), "sklearn": SklearnIris()}
    if torch is not None:
        class TorchIris:
            def epoch(self):
                t = Torch([4, 16, 3], X, y, 16)
                for _ in range(epochs):
                    t.epoch()

        candidates["torch"] = TorchIris()
    return round_robin(candidates, repeats)


def _two_threads(context):
    X, y = context.classification
    with threadpool_limits(2):
        if torch is not None:
            torch.set_num_threads(2)
        try:
            return workload_epochs(X, y, 256, max(1, context.repeats // 2), with_f64=False)
        finally:
            if torch is not None:
                torch.set_num_threads(context.threads)


def _timed_targets(rows):
    """Targets that are ratios of two candidates' times: paired, and the ratio of medians."""
    def targets(result):
        return [Target(label, paired_ratio(result, a, b), op, goal,
                       ratio(result[a]["median"], result[b]["median"]))
                for label, a, b, op, goal in rows if a in result and b in result]
    return targets


def _numpy_references(name):
    def references(result):
        return [(f"{name} sklearn / numpy loop (samples/s)",
                 paired_ratio(result, "sklearn", "numpy loop")),
                (f"{name} mlp float32 / numpy loop (time)",
                 paired_ratio(result, "mlp float32", "numpy loop"))]
    return references


# samples/s ratios are their time over ours
register(Workload(
    key="workload 1 (batch 256)", order=10,
    run=lambda c: workload_epochs(*c.classification, 256, c.repeats),
    targets=_timed_targets([
        ("W1 float32 samples/s >= 1.4x sklearn", "sklearn", "mlp float32", ">=", 1.4),
        ("W1 float32 samples/s >= 1.2x torch", "torch", "mlp float32", ">=", 1.2),
        ("W1 epoch <= 1.4x GEMM floor", "mlp float32", "gemm floor", "<=", 1.4)]),
    report=lambda r: timing_lines("workload 1 (batch 256)", r),
    references=_numpy_references("W1")))

register(Workload(
    key="workload 1 (batch 256, 2 threads)", order=11, run=_two_threads,
    report=lambda r: timing_lines("workload 1 (batch 256, 2 threads)", r),
    references=lambda r: [(f"W1 2 threads: {other} / mlp float32 (samples/s)",
                           paired_ratio(r, other, "mlp float32"))
                          for other in ("sklearn", "torch") if other in r],
    when=lambda c: c.threads == 1 and not c.quick))

register(Workload(
    key="workload 2 (batch 64)", order=20,
    run=lambda c: workload_epochs(*c.classification, 64, c.repeats, with_f64=False),
    targets=_timed_targets([
        ("W2 float32 samples/s >= 1.75x sklearn", "sklearn", "mlp float32", ">=", 1.75),
        ("W2 float32 samples/s >= 1.4x torch", "torch", "mlp float32", ">=", 1.4)]),
    report=lambda r: timing_lines("workload 2 (batch 64)", r),
    references=_numpy_references("W2")))

register(Workload(
    key="workload 3 (iris)", order=30,
    run=lambda c: workload_iris(c.repeats, 20 if c.quick else 200),
    targets=_timed_targets([("W3 wall time <= 0.4x sklearn", "mlp", "sklearn", "<=", 0.4)]),
    report=lambda r: timing_lines("workload 3 (iris)", r)))
