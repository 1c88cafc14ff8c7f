"""The ``mlp`` command.

``mlp train`` trains a network on a built-in dataset or a CSV file and reports its accuracy
(or R² for a regression target). Every user error ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import __version__
from .activations import ACTIVATIONS, get_activation
from .init import INITIALIZERS
from .layers import Linear
from .losses import MSELoss, SoftmaxCrossEntropyLoss
from .optim import SGD, Adam, RMSProp
from .sequential import Sequential
from .trainer import fit

__all__ = ["main"]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam")


class UsageError(Exception):
    """A mistake in the command line or its inputs: reported in one line, exit status 2."""


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _batch_size(text):
    if text == "full":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative integer or 'full', got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer or 'full', got {text!r}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlp", description="Multilayer perceptrons with hand-derived gradients."
    )
    parser.add_argument("--version", action="version", version=f"mlp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    train = commands.add_parser("train", help="train a network and report its accuracy",
                                description="Train a network and report its accuracy "
                                            "(or R² for a numeric target).")
    train.add_argument("--data", default="iris",
                       help="'iris' (default) or the path of a CSV file with a header row")
    train.add_argument("--target", default=None,
                       help="target column of a CSV file, by name or index (default: last)")
    train.add_argument("--hidden", type=_positive_int, nargs="*", default=[16], metavar="N",
                       help="hidden layer widths (default: 16)")
    train.add_argument("--activation", default="relu", choices=sorted(ACTIVATIONS),
                       help="hidden activation (default: relu)")
    train.add_argument("--init", default="glorot_uniform", choices=sorted(INITIALIZERS),
                       help="weight initialiser (default: glorot_uniform)")
    train.add_argument("--optimizer", default="adam", choices=OPTIMIZERS,
                       help="optimizer (default: adam)")
    train.add_argument("--lr", type=_positive_float, default=0.01,
                       help="learning rate (default: 0.01)")
    train.add_argument("--epochs", type=_positive_int, default=200,
                       help="passes over the training data (default: 200)")
    train.add_argument("--batch-size", type=_batch_size, default=16,
                       help="minibatch size; 0 or 'full' for full-batch gradient descent "
                            "(default: 16)")
    train.add_argument("--test-fraction", type=_fraction, default=0.3,
                       help="held-out fraction for the test score (default: 0.3)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.set_defaults(run=run_train)
    return parser


def _load(args):
    from .datasets import load_csv, load_iris

    if args.data == "iris":
        if args.target is not None:
            raise UsageError("--target applies to a CSV file, not to the built-in iris data")
        return load_iris()
    return load_csv(args.data, target=args.target)


def _optimizer(name, params, lr):
    if name == "adam":
        return Adam(params, lr=lr)
    if name == "rmsprop":
        return RMSProp(params, lr=lr)
    if name == "sgd":
        return SGD(params, lr=lr)
    return SGD(params, lr=lr, momentum=0.9, nesterov=(name == "nesterov"))


def run_train(args) -> int:
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    data = _load(args)
    classify = data.classes is not None
    rng = np.random.default_rng(args.seed)
    split_seed = int(rng.integers(2**31))
    if args.test_fraction > 0:
        stratify = data.y if classify and np.bincount(data.y).min() >= 2 else None
        X_train, X_test, y_train, y_test = train_test_split(
            data.X, data.y, test_size=args.test_fraction, random_state=split_seed,
            stratify=stratify)
    else:
        X_train, y_train, X_test, y_test = data.X, data.y, None, None
    scaler = StandardScaler().fit(X_train)
    X_train = scaler.transform(X_train)

    n_out = len(data.classes) if classify else 1
    widths = [X_train.shape[1], *args.hidden]
    layers = []
    for n_in, n_out_hidden in zip(widths[:-1], widths[1:], strict=True):
        layers += [Linear(n_in, n_out_hidden, init=args.init, rng=rng),
                   get_activation(args.activation)]
    layers.append(Linear(widths[-1], n_out, init=args.init, rng=rng))
    model = Sequential(layers)
    loss = SoftmaxCrossEntropyLoss() if classify else MSELoss()
    optimizer = _optimizer(args.optimizer, model.parameters(), args.lr)

    start = time.perf_counter()
    history = fit(model, loss, optimizer, X_train, y_train, epochs=args.epochs,
                  batch_size=args.batch_size, rng=rng)
    elapsed = time.perf_counter() - start

    model.eval()

    def score(X, y):
        output = model.forward(X)
        if classify:
            return float(np.mean(output.argmax(axis=1) == y))
        return float(r2_score(y, output[:, 0]))

    metric = "accuracy" if classify else "R²"
    name = args.data if args.data == "iris" else data.target_name
    print(f"{name}: {len(data.X)} samples, {data.X.shape[1]} features, "
          f"{f'{n_out} classes' if classify else 'numeric target'}")
    print(f"model: {' -> '.join(str(w) for w in widths + [n_out])}, {args.activation}, "
          f"{args.optimizer} lr={args.lr:g}, {args.epochs} epochs in {elapsed:.2f}s")
    print(f"final training loss: {history.loss[-1]:.4f}")
    print(f"train {metric}: {score(X_train, y_train):.4f}")
    if X_test is not None:
        print(f"test {metric}: {score(scaler.transform(X_test), y_test):.4f}")
    return 0


def main(argv=None) -> int:
    """Run the ``mlp`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (UsageError, ValueError) as exc:
        print(f"mlp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mlp {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
