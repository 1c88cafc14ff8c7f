"""Workloads 6 and 7: test accuracy against scikit-learn (and PyTorch), and wall time.

6. digits 64-64-10, Adam, 50 epochs, batch 32, 5 seeds: test accuracy
7. MNIST-1D (Greydanus & Kobak 2020) with the paper's MLP, 40-100-100-10, Adam at 1e-2,
   batch 100, 150 epochs, 5 seeds: mean test accuracy and wall time per training run
   (when the optional package mnist1d is installed)
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.preprocessing import StandardScaler

import mlp

from ..candidates import Torch, mnist1d_problem, torch
from ..registry import Target, Workload, register
from ..timing import FromScratch, paired_ratio, ratio, round_robin


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


def workload_mnist1d(seeds, epochs):
    """MNIST-1D with the paper's MLP: 40-100-100-10 ReLU, Adam at 1e-2, batch 100, no penalty.

    Every candidate trains ``epochs`` epochs from scratch once per seed (float64 for mlp and
    scikit-learn, float32 for PyTorch), in the rotating order; the paper's split (4000 / 1000).
    """
    from mlp.datasets import MNIST1D_TRAIN, load_mnist1d

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


def _mnist1d_targets(result):
    return [Target("W7 MNIST-1D accuracy >= sklearn - 1 point",
                   100 * (result["mlp"]["accuracy"] - result["sklearn"]["accuracy"]), ">=",
                   -1.0),
            Target("W7 MNIST-1D wall time <= 0.6x sklearn",
                   paired_ratio(result, "mlp", "sklearn"), "<=", 0.6,
                   ratio(result["mlp"]["median"], result["sklearn"]["median"]))]


def _mnist1d_report(result):
    lines = [f"\nworkload 7 (mnist1d, {len(result['mlp']['times'])} seeds): mean test "
             "accuracy, seconds per training run (median)"]
    for name, t in result.items():
        lines.append(f"  {name:<12} {t['accuracy']:.4f}  {t['median']:8.3f}")
    return lines


register(Workload(
    key="workload 6 (accuracy)", order=60,
    run=lambda c: workload_accuracy(range(1 if c.quick else 5), 5 if c.quick else 50),
    targets=lambda r: [Target("W6 accuracy >= sklearn - 0.5 points",
                              100 * (r["mlp"] - r["sklearn"]), ">=", -0.5)],
    report=lambda r: [f"\nworkload 6 (accuracy): mlp {r['mlp']:.4f}, "
                      f"sklearn {r['sklearn']:.4f}"]))

register(Workload(
    key="workload 7 (mnist1d)", order=70,
    run=lambda c: workload_mnist1d(range(1 if c.quick else 5), 2 if c.quick else 150),
    targets=_mnist1d_targets, report=_mnist1d_report,
    unavailable=mnist1d_problem))
