"""Benchmark mlp against scikit-learn's MLP and PyTorch, as ratios measured in one run.

    python scripts/bench.py [--threads 1] [--repeats 5] [--json out.json] [--quick] [--check]

Every candidate is timed round-robin within one process (the order rotating from round to
round), so the machine's mood affects all of them alike; the report is medians with min-max,
and ratios (ours / theirs). A ratio is the median over the rounds of the ratio within each
round: the candidates of one round run back to back, so a slow minute of the shared machine
slows both sides of that round's ratio, where it would move one median and not the other.
(The ratio of the medians is in the JSON beside it.) PyTorch is included when it can be
imported. ``--check`` exits with status 1 when a target is missed.

Workloads
  1. make_classification(60000 x 784, 10 classes), 784-256-256-10 ReLU, Adam, batch 256,
     one epoch, float32 (and float64 for mlp); plus the GEMM-only floor and the same step as
     a plain numpy loop (no layers, no checks), for reference
  2. the same with batch 64
  3. Iris 4-16-3, batch 16, 200 epochs: per-call overhead
  4. prediction latency of the workload-1 network, 1 and 10,000 samples ("mlp" is the
     Sequential's forward pass and a softmax; "mlp estimator" is MLPClassifier.predict_proba,
     which keeps every check scikit-learn's makes: its own target row)
  5. peak memory while training workload 1, against the size of the data
  6. digits 64-64-10, Adam, 50 epochs, batch 32, 5 seeds: test accuracy
  7. MNIST-1D (Greydanus & Kobak 2020) with the paper's MLP, 40-100-100-10, Adam at 1e-2,
     batch 100, 150 epochs, 5 seeds: mean test accuracy and wall time per training run
     (when the optional package mnist1d is installed)
  8. reading a CSV of 1,000,000 rows x 20 numbers (features and a numeric target) with
     the command line's checked reader, against pandas.read_csv alone
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import mlp
from mlp.datasets import MNIST1D_TRAIN, load_iris, load_mnist1d
from mlp.trainer import Trainer

try:
    import torch
except ImportError:  # PyTorch is optional
    torch = None


def mnist1d_installed():
    import importlib.util

    return importlib.util.find_spec("mnist1d") is not None


# -- candidates -----------------------------------------------------------------------------------


def build_ours(sizes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [mlp.Linear(n_in, n_out, rng=rng, dtype=dtype), mlp.ReLU()]
    return mlp.Sequential(layers[:-1])


class Ours:
    """One epoch of the library's own training loop."""

    def __init__(self, sizes, X, y, batch, dtype):
        self.X, self.y = X.astype(dtype), y
        self.model = build_ours(sizes, dtype)
        self.trainer = Trainer(self.model, mlp.SoftmaxCrossEntropyLoss(),
                               mlp.Adam(self.model.parameters(), lr=1e-3), batch_size=batch,
                               rng=0)

    def epoch(self):
        self.trainer.run_epoch(self.X, self.y)


class Sklearn:
    """One epoch of scikit-learn's MLPClassifier through partial_fit."""

    def __init__(self, sizes, X, y, batch):
        self.X, self.y = X.astype(np.float32), y
        self.model = SklearnMLP(hidden_layer_sizes=tuple(sizes[1:-1]), batch_size=batch,
                                alpha=0.0, learning_rate_init=1e-3, solver="adam",
                                random_state=0)
        self.model.partial_fit(self.X[:batch], self.y[:batch], classes=np.unique(y))

    def epoch(self):
        self.model.partial_fit(self.X, self.y)


class Torch:
    """One epoch of a plain PyTorch loop: nn.Sequential, Adam, cross-entropy."""

    def __init__(self, sizes, X, y, batch, lr=1e-3, seed=0):
        torch.manual_seed(seed)
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*layers[:-1])
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.loss = torch.nn.CrossEntropyLoss()
        self.X = torch.from_numpy(X.astype(np.float32))
        self.y = torch.from_numpy(y.astype(np.int64))
        self.batch = batch

    def epoch(self):
        order = torch.randperm(len(self.X))
        X, y = self.X[order], self.y[order]
        for start in range(0, len(X), self.batch):
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss(self.model(X[start:start + self.batch]), y[start:start + self.batch])
            loss.backward()
            self.opt.step()


class NumpyLoop:
    """The same training step as one plain numpy loop: no layers, no checks, float32.

    Flat parameter and gradient vectors as the library's optimizer keeps them, a minibatch
    gathered per step, ReLU, fused softmax cross-entropy and Adam with weighted-sum moments:
    what numpy alone costs, so ``mlp / numpy loop`` is the price of the library's structure
    and input checks, and ``sklearn / numpy loop`` the ratio numpy allows at all.
    """

    def __init__(self, sizes, X, y, batch):
        model = build_ours(sizes, np.float32)  # the library's initial weights
        tensors = [p.value for p in model.parameters()]
        self.theta = np.concatenate([t.ravel() for t in tensors])
        self.g = np.zeros_like(self.theta)
        self.m, self.v, self.tmp = (np.zeros_like(self.theta) for _ in range(3))
        self.params, self.grads, offset = [], [], 0
        for t in tensors:
            part = slice(offset, offset + t.size)
            self.params.append(self.theta[part].reshape(t.shape))
            self.grads.append(self.g[part].reshape(t.shape))
            offset += t.size
        self.X, self.y, self.batch = X.astype(np.float32), y, batch
        self.rng = np.random.default_rng(0)
        self.t = 0

    def epoch(self):
        X, y = self.X, self.y
        W1, b1, W2, b2, W3, b3 = self.params
        gW1, gb1, gW2, gb2, gW3, gb3 = self.grads
        order = self.rng.permutation(len(X))
        for start in range(0, len(X), self.batch):
            rows = order[start:start + self.batch]
            x, labels = X[rows], y[rows]
            n = len(labels)
            z1 = x @ W1
            z1 += b1
            h1 = np.maximum(z1, 0)
            z2 = h1 @ W2
            z2 += b2
            h2 = np.maximum(z2, 0)
            u = h2 @ W3
            u += b3
            u -= u.max(axis=1, keepdims=True)
            p = np.exp(u)
            p /= p.sum(axis=1, keepdims=True)
            index = (np.arange(n), labels)
            _ = float(-np.log(p[index]).sum()) / n  # the loss, as the library reports it
            p[index] -= 1
            p *= 1.0 / n
            np.matmul(h2.T, p, out=gW3)
            np.add.reduce(p, axis=0, out=gb3)
            d2 = (p @ W3.T) * (h2 > 0)
            np.matmul(h1.T, d2, out=gW2)
            np.add.reduce(d2, axis=0, out=gb2)
            d1 = (d2 @ W2.T) * (h1 > 0)
            np.matmul(x.T, d1, out=gW1)
            np.add.reduce(d1, axis=0, out=gb1)
            self.adam_step()

    def adam_step(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.t += 1
        w1 = (1 - beta1**self.t) / (1 - beta1)
        w2 = (1 - beta2**self.t) / (1 - beta2)
        m, v, tmp, g = self.m, self.v, self.tmp, self.g
        m *= beta1
        m += g
        np.square(g, out=tmp)
        v *= beta2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += eps * w2**0.5
        np.divide(m, tmp, out=tmp)
        tmp *= -lr * w2**0.5 / w1
        self.theta += tmp


class GemmFloor:
    """The matrix products of a training step and nothing else: forward 3, backward 5."""

    def __init__(self, sizes, X, batch):
        rng = np.random.default_rng(0)
        self.W = [rng.normal(0, 0.05, size=(a, b)).astype(np.float32)
                  for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        self.X = X.astype(np.float32)
        self.batch = batch

    def epoch(self):
        W1, W2, W3 = self.W
        for start in range(0, len(self.X), self.batch):
            x = self.X[start:start + self.batch]
            h1 = x @ W1
            h2 = h1 @ W2
            out = h2 @ W3
            _ = h2.T @ out
            d2 = out @ W3.T
            _ = h1.T @ d2
            d1 = d2 @ W2.T
            _ = x.T @ d1


def round_robin(candidates, repeats, warmup=True):
    """Time each candidate's ``epoch`` in turn, ``repeats`` times; a warm-up epoch first.

    The order rotates by one place every round, so that no candidate always runs first or
    always after the same other one (what ran before can leave the caches and the memory
    allocator in a state that helps or hurts the next).
    """
    if warmup:
        for c in candidates.values():
            c.epoch()
    names = list(candidates)
    times = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            candidates[name].epoch()
            times[name].append(time.perf_counter() - start)
    return {name: {"median": statistics.median(t), "min": min(t), "max": max(t), "times": t}
            for name, t in times.items()}


# -- workloads --------------------------------------------------------------------------------


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


class Repeat:
    """``calls`` calls of ``f`` as one timed unit."""

    def __init__(self, f, calls):
        self.f, self.calls = f, calls

    def epoch(self):
        for _ in range(self.calls):
            self.f()


def workload_latency(X, y, repeats):
    sizes = [X.shape[1], 256, 256, 10]
    ours = build_ours(sizes, np.float32).eval()
    sk = Sklearn(sizes, X[:2000], y[:2000], 256).model
    # the estimator validates its input as scikit-learn's does: shown beside, for fairness
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = mlp.MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=1,
                                      random_state=0).fit(X[:2000], y[:2000])
    one, many = X[:1].astype(np.float32), X[:10000].astype(np.float32)
    result = {}
    for label, batch, calls in (("1 sample", one, 2000), ("10000 samples", many, 5)):
        def ours_predict(batch=batch):
            output = ours.forward(batch)
            P = np.exp(output - output.max(axis=1, keepdims=True))
            return P / P.sum(axis=1, keepdims=True)

        funcs = {"mlp": ours_predict,
                 "mlp estimator": lambda batch=batch: estimator.predict_proba(batch),
                 "sklearn": lambda batch=batch: sk.predict_proba(batch)}
        if torch is not None:
            net = Torch(sizes, X[:10], y[:10], 1).model.eval()
            tensor = torch.from_numpy(batch)

            def torch_predict(net=net, tensor=tensor):
                with torch.no_grad():
                    return torch.softmax(net(tensor), dim=1)

            funcs["torch"] = torch_predict

        timed = round_robin({k: Repeat(f, calls) for k, f in funcs.items()}, repeats)
        result[label] = {k: {s: t[s] / calls for s in ("median", "min", "max")}
                         | {"times": [x / calls for x in t["times"]]}
                         for k, t in timed.items()}
    return result


def workload_memory(X, y, batch):
    sizes = [X.shape[1], 256, 256, 10]
    X32 = X.astype(np.float32)
    ours = Ours(sizes, X32, y, batch, np.float32)
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    ours.epoch()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return {"data_bytes": int(X32.nbytes + y.nbytes), "peak_extra_bytes": int(peak),
            "copies_of_data": peak / (X32.nbytes + y.nbytes)}


def workload_accuracy(seeds, epochs):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    params = {"hidden_layer_sizes": (64, 64), "batch_size": 32, "max_iter": epochs,
              "solver": "adam"}
    scores = {"mlp": [], "sklearn": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in seeds:
            scores["mlp"].append(mlp.MLPClassifier(random_state=seed, **params)
                                 .fit(X_train, y_train).score(X_test, y_test))
            scores["sklearn"].append(SklearnMLP(random_state=seed, **params)
                                     .fit(X_train, y_train).score(X_test, y_test))
    return {k: float(np.mean(v)) for k, v in scores.items()}


class FromScratch:
    """Each ``epoch`` call is a whole training run from a new seed; the test scores are kept."""

    def __init__(self, train_and_score):
        self.train_and_score, self.scores = train_and_score, []

    def epoch(self):
        self.scores.append(self.train_and_score(len(self.scores)))


def workload_mnist1d(seeds, epochs):
    """MNIST-1D with the paper's MLP: 40-100-100-10 ReLU, Adam at 1e-2, batch 100, no penalty.

    Every candidate trains ``epochs`` epochs from scratch once per seed (float64 for mlp and
    scikit-learn, float32 for PyTorch), in the rotating order; the paper's split (4000 / 1000).
    """
    data = load_mnist1d()
    X_train, y_train = data.X[:MNIST1D_TRAIN], data.y[:MNIST1D_TRAIN]
    X_test, y_test = data.X[MNIST1D_TRAIN:], data.y[MNIST1D_TRAIN:]
    # the same settings for both estimators; no early stop, every epoch runs
    params = {"hidden_layer_sizes": (100, 100), "solver": "adam", "batch_size": 100,
              "learning_rate_init": 1e-2, "alpha": 0.0, "max_iter": epochs, "tol": 0.0,
              "n_iter_no_change": epochs + 1}

    def estimator(cls):
        def train_and_score(seed):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                return cls(random_state=seed, **params).fit(X_train, y_train).score(X_test,
                                                                                    y_test)
        return train_and_score

    candidates = {"mlp": FromScratch(estimator(mlp.MLPClassifier)),
                  "sklearn": FromScratch(estimator(SklearnMLP))}
    if torch is not None:
        def train_and_score_torch(seed):
            net = Torch([40, 100, 100, 10], X_train, y_train, 100, lr=1e-2, seed=seed)
            for _ in range(epochs):
                net.epoch()
            with torch.no_grad():
                logits = net.model(torch.from_numpy(X_test.astype(np.float32)))
            return float(np.mean(logits.argmax(dim=1).numpy() == y_test))

        candidates["torch"] = FromScratch(train_and_score_torch)
    result = round_robin(candidates, len(seeds), warmup=False)
    for name, candidate in candidates.items():
        result[name]["accuracy"] = float(np.mean(candidate.scores))
        result[name]["accuracies"] = candidate.scores
    return result


# -- report -------------------------------------------------------------------------------------


def workload_csv(rows, repeats):
    import os
    import shutil
    import tempfile

    import pandas

    from mlp import tables
    from mlp.datasets import load_csv

    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "table.csv")
    values = np.random.default_rng(0).normal(size=(rows, 20))
    np.savetxt(path, values, delimiter=",", fmt="%.8g", comments="",
               header=",".join(f"c{j}" for j in range(20)))

    class Read:
        def __init__(self, read):
            self.epoch = read

    def ours(use_pandas):
        def read():
            tables.USE_PANDAS = use_pandas
            load_csv(path)
        return read

    candidates = {"mlp": Read(ours(True)), "pandas": Read(lambda: pandas.read_csv(path)),
                  "mlp numpy": Read(ours(False))}
    try:
        return round_robin(candidates, repeats)
    finally:
        tables.USE_PANDAS = True
        shutil.rmtree(folder)


def ratio(a, b):
    return a / b if b else float("nan")


def paired_ratio(workload, a, b):
    """The median over rounds of time(a) / time(b), each pair timed in the same round."""
    pairs = zip(workload[a]["times"], workload[b]["times"], strict=True)
    return statistics.median(ratio(x, y) for x, y in pairs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS / torch threads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small data, one repeat: a smoke run")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if torch is not None:
        torch.set_num_threads(args.threads)
    n = 3000 if args.quick else 60000
    repeats = 1 if args.quick else args.repeats

    X, y = make_classification(n_samples=n, n_features=784, n_informative=100, n_classes=10,
                               random_state=0)
    X = X.astype(np.float32)
    results = {"threads": args.threads, "quick": args.quick, "n_samples": n,
               "torch": None if torch is None else torch.__version__,
               "numpy": np.__version__}
    with threadpool_limits(args.threads):
        results["workload 1 (batch 256)"] = workload_epochs(X, y, 256, repeats)
        if args.threads == 1 and not args.quick:
            with threadpool_limits(2):
                if torch is not None:
                    torch.set_num_threads(2)
                results["workload 1 (batch 256, 2 threads)"] = workload_epochs(
                    X, y, 256, max(1, repeats // 2), with_f64=False)
                if torch is not None:
                    torch.set_num_threads(1)
        results["workload 2 (batch 64)"] = workload_epochs(X, y, 64, repeats, with_f64=False)
        results["workload 3 (iris)"] = workload_iris(repeats, 20 if args.quick else 200)
        results["workload 4 (latency)"] = workload_latency(X, y, repeats)
        results["workload 5 (memory)"] = workload_memory(X, y, 256)
        results["workload 6 (accuracy)"] = workload_accuracy(range(1 if args.quick else 5),
                                                             5 if args.quick else 50)
        if mnist1d_installed():
            results["workload 7 (mnist1d)"] = workload_mnist1d(range(1 if args.quick else 5),
                                                               2 if args.quick else 150)
        results["workload 8 (csv)"] = workload_csv(20_000 if args.quick else 1_000_000,
                                                   min(repeats, 3))

    w1, w2 = results["workload 1 (batch 256)"], results["workload 2 (batch 64)"]
    w3, w4 = results["workload 3 (iris)"], results["workload 4 (latency)"]
    # (target, workload, numerator, denominator, comparison, goal); samples/s ratios are
    # their time over ours
    timed = [
        ("W1 float32 samples/s >= 1.4x sklearn", w1, "sklearn", "mlp float32", ">=", 1.4),
        ("W1 float32 samples/s >= 1.2x torch", w1, "torch", "mlp float32", ">=", 1.2),
        ("W1 epoch <= 1.4x GEMM floor", w1, "mlp float32", "gemm floor", "<=", 1.4),
        ("W2 float32 samples/s >= 1.8x sklearn", w2, "sklearn", "mlp float32", ">=", 1.8),
        ("W2 float32 samples/s >= 1.4x torch", w2, "torch", "mlp float32", ">=", 1.4),
        ("W3 wall time <= 0.4x sklearn", w3, "mlp", "sklearn", "<=", 0.4),
        ("W8 reading a CSV <= 2x pandas.read_csv", results["workload 8 (csv)"], "mlp", "pandas",
         "<=", 2.0),
    ]
    targets, of_medians = [], {}
    for label, workload, a, b, op, goal in timed:
        if a in workload and b in workload:  # torch may be missing
            targets.append((label, paired_ratio(workload, a, b), op, goal))
            of_medians[label] = ratio(workload[a]["median"], workload[b]["median"])
    targets += [
        ("W4 1-sample latency <= 0.3x sklearn", ratio(
            w4["1 sample"]["mlp"]["median"], w4["1 sample"]["sklearn"]["median"]), "<=", 0.3),
        ("W4 1-sample estimator predict_proba <= 0.3x sklearn",
         paired_ratio(w4["1 sample"], "mlp estimator", "sklearn"), "<=", 0.3),
        ("W5 at most one extra copy of the data",
         results["workload 5 (memory)"]["copies_of_data"], "<=", 1.05),
        ("W6 accuracy >= sklearn - 0.5 points",
         100 * (results["workload 6 (accuracy)"]["mlp"]
                - results["workload 6 (accuracy)"]["sklearn"]), ">=", -0.5),
    ]
    w7 = results.get("workload 7 (mnist1d)")
    if w7 is not None:
        targets += [
            ("W7 MNIST-1D accuracy >= sklearn - 1 point",
             100 * (w7["mlp"]["accuracy"] - w7["sklearn"]["accuracy"]), ">=", -1.0),
            ("W7 MNIST-1D wall time <= 0.6x sklearn", paired_ratio(w7, "mlp", "sklearn"), "<=",
             0.6),
        ]
        of_medians[targets[-1][0]] = ratio(w7["mlp"]["median"], w7["sklearn"]["median"])

    print(f"mlp benchmark: {args.threads} thread(s), {repeats} repeat(s), n = {n}"
          + ("" if torch is not None else " (PyTorch not installed: skipped)"))
    for key in [k for k in results if k.startswith("workload") and k[9] in "1238"]:
        print(f"\n{key}: seconds (median, min-max)")
        for name, t in results[key].items():
            print(f"  {name:<12} {t['median']:8.4f}  ({t['min']:.4f}-{t['max']:.4f})")
    print("\nworkload 4 (latency): seconds per call (median)")
    for label, per in w4.items():
        print(f"  {label:<14} " + "  ".join(f"{k} {v['median'] * 1e3:.3f} ms"
                                           for k, v in per.items()))
    mem = results["workload 5 (memory)"]
    print(f"\nworkload 5 (memory): data {mem['data_bytes'] / 1e6:.1f} MB, peak extra "
          f"{mem['peak_extra_bytes'] / 1e6:.1f} MB ({mem['copies_of_data']:.2f} copies)")
    acc = results["workload 6 (accuracy)"]
    print(f"workload 6 (accuracy): mlp {acc['mlp']:.4f}, sklearn {acc['sklearn']:.4f}")
    if w7 is None:
        print("workload 7 (mnist1d): skipped, the optional package mnist1d is not installed")
    else:
        print(f"workload 7 (mnist1d, {len(w7['mlp']['times'])} seeds): mean test accuracy, "
              "seconds per training run (median)")
        for name, t in w7.items():
            print(f"  {name:<12} {t['accuracy']:.4f}  {t['median']:8.3f}")

    print("\ntargets (timings: median of the per-round ratios; ratio of the medians after it)")
    missed = 0
    results["targets"] = []
    for label, value, op, goal in targets:
        ok = value >= goal if op == ">=" else value <= goal
        missed += not ok
        entry = {"target": label, "value": value, "pass": bool(ok)}
        line = f"  {'PASS' if ok else 'FAIL'}  {label:<42} {value:7.3f}"
        if label in of_medians:
            entry["ratio_of_medians"] = of_medians[label]
            line += f"  ({of_medians[label]:.3f})"
        results["targets"].append(entry)
        print(line)
    # the same step as a plain numpy loop: what numpy allows, and what the library adds to it
    print("\nfor reference, the plain numpy loop (not targets)")
    results["reference"] = []
    for name, workload in (("W1", w1), ("W2", w2)):
        for label, a, b in ((f"{name} sklearn / numpy loop (samples/s)", "sklearn", "numpy loop"),
                            (f"{name} mlp float32 / numpy loop (time)", "mlp float32",
                             "numpy loop")):
            value = paired_ratio(workload, a, b)
            results["reference"].append({"ratio": label, "value": value})
            print(f"        {label:<42} {value:7.3f}")
    if args.json:
        from mlp.io import write_atomic

        write_atomic(args.json, json.dumps(results, indent=2) + "\n")
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
