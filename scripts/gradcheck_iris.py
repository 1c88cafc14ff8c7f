"""Check every gradient of a 4-16-3 network on Iris, for each hidden activation.

    python scripts/gradcheck_iris.py [--verbose]

Prints one line per activation with the largest relative error of `check_model` (every
parameter, central differences) and of `check_grad_flat` (scipy.optimize.check_grad on the
flattened parameter vector); exit status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from sklearn.preprocessing import StandardScaler

import mlp
from mlp.datasets import load_iris
from mlp.gradcheck import check_grad_flat, check_model

ACTIVATIONS = ["relu", "leaky_relu", "prelu", "elu", "gelu", "sigmoid", "tanh", "softplus",
               "identity"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print every report in full")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    data = load_iris()
    X = StandardScaler().fit_transform(data.X)
    failed = False
    print(f"{'activation':<12} {'check_model':>12} {'check_grad_flat':>16}")
    for name in ACTIVATIONS:
        rng = np.random.default_rng(args.seed)
        model = mlp.Sequential(mlp.Linear(4, 16, rng=rng), mlp.get_activation(name),
                               mlp.Linear(16, 3, rng=rng))
        loss = mlp.SoftmaxCrossEntropyLoss()
        report = check_model(model, loss, X, data.y)
        flat = check_grad_flat(model, loss, X, data.y)
        ok = report.ok and flat <= 1e-6
        failed |= not ok
        print(f"{name:<12} {report.max_error:>12.2e} {flat:>16.2e}  {'ok' if ok else 'FAIL'}")
        if args.verbose or not report.ok:
            print(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
