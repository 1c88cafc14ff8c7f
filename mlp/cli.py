"""The ``mlp`` command: train, predict, gradcheck and summary.

Every user error ends in one line on stderr and exit status 2; a failed gradient check exits
with 1; Ctrl-C during training stops it cleanly (the best model so far is kept and, with
``--save``, saved) and exits with 130.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

from . import __version__
from .activations import HIDDEN_ACTIVATIONS, get_activation
from .datasets import BUILTIN, load_dataset, load_features
from .gradcheck import check_model
from .init import INITIALIZERS
from .io import ModelFileError, load, save, write_atomic
from .layers import BatchNorm1d, Dropout, Linear
from .losses import MSELoss, SoftmaxCrossEntropyLoss
from .optim import SGD, Adam, RMSProp
from .sequential import Sequential
from .trainer import Trainer

__all__ = ["main", "build_parser"]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam")


class UsageError(Exception):
    """A mistake in the command line or its inputs: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (the usage is behind --help)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# -- argument types ---------------------------------------------------------------------------


def _number(text, kind, ok, expected):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _positive_int(text):
    return _number(text, int, lambda v: v >= 1, "a positive integer")


def _positive_float(text):
    return _number(text, float, lambda v: v > 0 and math.isfinite(v), "a positive number")


def _non_negative_float(text):
    return _number(text, float, lambda v: v >= 0 and math.isfinite(v), "a number ≥ 0")


def _fraction(text):
    return _number(text, float, lambda v: 0 <= v < 1, "a number in [0, 1)")


def _batch_size(text):
    if text == "full":
        return 0
    return _number(text, int, lambda v: v >= 0, "a non-negative integer or 'full'")


# -- the parser -------------------------------------------------------------------------------


def _add_data_options(parser):
    group = parser.add_argument_group("data")
    group.add_argument("--data", default="iris", metavar="NAME|CSV",
                       help=f"built-in dataset ({', '.join(BUILTIN)}) or the path of a CSV "
                            "file with a header row (default: iris)")
    group.add_argument("--target", default=None, metavar="COLUMN",
                       help="target column of a CSV file, by name or index (default: last)")
    group.add_argument("--task", "--output", dest="task",
                       choices=("auto", "classification", "regression"),
                       default="auto",
                       help="auto (default): classification for a categorical target or one "
                            "with few whole-number values, else regression")
    scale = group.add_mutually_exclusive_group()
    scale.add_argument("--standardize", dest="scale", action="store_const", const="standard",
                       help="scale each feature to mean 0, variance 1 (default)")
    scale.add_argument("--minmax", dest="scale", action="store_const", const="minmax",
                       help="scale each feature to [0, 1]")
    scale.add_argument("--no-scale", dest="scale", action="store_const", const="none",
                       help="use the features as they are")
    parser.set_defaults(scale="standard")
    group.add_argument("--test-fraction", type=_fraction, default=0.3,
                       help="held out for the final test score (default: 0.3)")
    group.add_argument("--val-fraction", type=_fraction, default=0.0,
                       help="of the rest, held out for validation (default: 0, or 0.1 with "
                            "--early-stopping)")
    group.add_argument("--seed", type=int, default=0,
                       help="seed of every random choice: split, weights, shuffling "
                            "(default: 0)")


def _add_model_options(parser):
    group = parser.add_argument_group("model")
    group.add_argument("--hidden", type=_positive_int, nargs="*", default=[16], metavar="N",
                       help="hidden layer widths (default: 16); none for a linear model")
    group.add_argument("--activation", nargs="+", default=["relu"], metavar="NAME",
                       help="hidden activation, one for all or one per hidden layer: "
                            f"{', '.join(HIDDEN_ACTIVATIONS)} (default: relu)")
    group.add_argument("--init", default="glorot_uniform", choices=sorted(INITIALIZERS),
                       help="weight initialiser (default: glorot_uniform)")
    group.add_argument("--dropout", type=_fraction, default=0.0, metavar="P",
                       help="dropout probability after each hidden layer (default: 0)")
    group.add_argument("--batch-norm", action="store_true",
                       help="batch normalisation after each hidden Linear layer")


def _add_training_options(parser):
    group = parser.add_argument_group("training")
    group.add_argument("--optimizer", default="adam", choices=OPTIMIZERS,
                       help="sgd, momentum (0.9), nesterov (0.9), rmsprop or adam (default)")
    group.add_argument("--lr", type=_positive_float, default=0.01,
                       help="learning rate (default: 0.01)")
    group.add_argument("--epochs", type=_positive_int, default=200,
                       help="passes over the training data (default: 200)")
    group.add_argument("--batch-size", type=_batch_size, default=16,
                       help="minibatch size; 0 or 'full' for full-batch gradient descent, "
                            "1 for per-example SGD (default: 16)")
    group.add_argument("--weight-decay", type=_non_negative_float, default=0.0,
                       help="the optimizer's weight decay (decoupled for adam)")
    group.add_argument("--l2", type=_non_negative_float, default=0.0, metavar="GAMMA",
                       help="add GAMMA·Σ‖W‖² to the loss (the weights, not the biases)")
    group.add_argument("--early-stopping", type=_positive_int, nargs="?", const=10,
                       default=None, metavar="PATIENCE",
                       help="stop when the validation score has not improved for PATIENCE "
                            "epochs (default 10) and keep the best epoch's weights")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mlp", description="Multilayer perceptrons with hand-derived gradients.")
    parser.add_argument("--version", action="version", version=f"mlp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    train = commands.add_parser(
        "train", help="train a network and report its scores",
        description="Train a network and report its accuracy (or R² for a numeric target).")
    _add_data_options(train)
    _add_model_options(train)
    _add_training_options(train)
    out = train.add_argument_group("output")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    out.add_argument("--verbose", action="store_true", help="print a line per epoch")
    out.add_argument("--save", metavar="MODEL.npz", help="write the trained model")
    out.add_argument("--plot", metavar="OUT.png",
                     help="write loss and score curves (and the decision regions for "
                          "2-feature data); needs matplotlib")
    out.add_argument("--json", metavar="METRICS.json", help="write the final metrics as JSON")
    train.set_defaults(run=run_train)

    predict = commands.add_parser(
        "predict", help="predict with a saved model",
        description="Predict the rows of a CSV file with a model saved by 'mlp train --save'.")
    predict.add_argument("--model", required=True, metavar="MODEL.npz")
    predict.add_argument("--data", required=True, metavar="CSV",
                         help="CSV file with the model's feature columns (others are ignored)")
    predict.add_argument("--out", metavar="PREDICTIONS.csv",
                         help="write the predictions here (default: standard output)")
    predict.add_argument("--proba", action="store_true",
                         help="class probabilities instead of labels")
    predict.set_defaults(run=run_predict)

    gradcheck = commands.add_parser(
        "gradcheck", help="check the gradients of the model 'train' would build",
        description="Build the model 'mlp train' would build with the same flags, in float64, "
                    "and compare every parameter gradient with central differences. Exit "
                    "status 1 when a gradient is off.")
    _add_data_options(gradcheck)
    _add_model_options(gradcheck)
    gradcheck.add_argument("--samples", type=_positive_int, default=32,
                           help="rows of the training data to check on (default: 32)")
    gradcheck.add_argument("--tol", type=_positive_float, default=1e-6,
                           help="largest relative error that passes (default: 1e-6)")
    gradcheck.set_defaults(run=run_gradcheck)

    summary = commands.add_parser("summary", help="describe a saved model",
                                  description="Print the layer table of a saved model.")
    summary.add_argument("--model", required=True, metavar="MODEL.npz")
    summary.set_defaults(run=run_summary)

    exercise = commands.add_parser(
        "exercise", help="make, grade and verify a backpropagation exercise",
        description="Turn the library into a course exercise: the student skeleton, the "
                    "grader and a check of the grading itself.")
    steps = exercise.add_subparsers(dest="step", metavar="STEP")
    steps.required = True
    make = steps.add_parser("make", help="write the student package",
                            description="Write a student copy of the library in which every "
                                        "marked derivation raises NotImplementedError.")
    make.add_argument("outdir", metavar="OUTDIR")
    make.add_argument("--only", nargs="+", metavar="NAME",
                      help="items (Linear.backward) or classes (Adam) to leave to the student")
    make.add_argument("--include-forward", action="store_true",
                      help="also remove the marked forward passes")
    make.add_argument("--solution", action="store_true",
                      help="remove nothing: the full solution without markers")
    make.set_defaults(run=run_exercise_make)
    grade = steps.add_parser("grade", help="grade a student folder",
                             description="Grade each item of a student folder in its own "
                                         "process, with a time limit.")
    grade.add_argument("directory", metavar="DIR")
    grade.add_argument("--json", metavar="RESULTS.json", help="write autograder results")
    grade.add_argument("--time-limit", type=_positive_float, default=60.0, metavar="SECONDS",
                       help="per item (default: 60)")
    grade.set_defaults(run=run_exercise_grade)
    verify = steps.add_parser("verify", help="check the exercise itself",
                              description="Check that the full solution scores 100%% and "
                                          "that each stub fails exactly its own item.")
    verify.add_argument("--source", metavar="DIR",
                        help="the package to verify (default: the installed mlp)")
    verify.set_defaults(run=run_exercise_verify)
    return parser


# -- shared steps -----------------------------------------------------------------------------


def _prepare(args):
    """Load, split and scale the data as ``train`` and ``gradcheck`` both do."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    rng = np.random.default_rng(args.seed)
    data = load_dataset(args.data, target=args.target, rng=rng)
    task = args.task
    if task == "auto":
        whole = data.classes is None and np.all(data.y == np.round(data.y))
        few = data.classes is None and len(np.unique(data.y)) <= 20
        task = "classification" if data.classes is not None or (whole and few) else \
            "regression"
    if task == "regression" and data.classes is not None:
        raise UsageError(f"the target {data.target_name!r} is not numeric: it cannot be "
                         "regressed (use --task classification)")
    classes = data.classes
    y = data.y
    if task == "classification" and classes is None:
        values, y = np.unique(data.y, return_inverse=True)
        classes = [f"{v:g}" for v in values]
    if task == "classification":
        present = np.unique(y)
        if len(present) < 2:
            raise UsageError(f"the target {data.target_name!r} has a single class "
                             f"({classes[present[0]]!r}): there is nothing to learn")

    stratify = task == "classification"

    def split(X, y, fraction):
        if fraction == 0:
            return X, None, y, None
        ok = stratify and np.bincount(y).min() >= 2
        seed = int(rng.integers(2**31))
        return train_test_split(X, y, test_size=fraction, random_state=seed,
                                stratify=y if ok else None)

    try:
        X_train, X_test, y_train, y_test = split(data.X, y, args.test_fraction)
        val_fraction = args.val_fraction
        if getattr(args, "early_stopping", None) and val_fraction == 0:
            val_fraction = 0.1
        X_train, X_val, y_train, y_val = split(X_train, y_train, val_fraction)
    except ValueError as exc:
        raise UsageError(f"cannot split {len(data.X)} samples as asked: {exc}") from None

    preprocessing = {"scale": args.scale}
    if args.scale != "none":
        scaler = (StandardScaler() if args.scale == "standard" else MinMaxScaler()).fit(X_train)
        X_train = scaler.transform(X_train)
        X_val = None if X_val is None else scaler.transform(X_val)
        X_test = None if X_test is None else scaler.transform(X_test)
        if args.scale == "standard":
            preprocessing.update(mean=scaler.mean_.tolist(), factor=(1 / scaler.scale_).tolist())
        else:
            preprocessing.update(mean=(-scaler.min_ / scaler.scale_).tolist(),
                                 factor=scaler.scale_.tolist())
    if task == "regression":
        # train on a standardised target; predictions are mapped back
        preprocessing["y_mean"] = float(y_train.mean())
        preprocessing["y_scale"] = float(y_train.std()) or 1.0
    return {
        "data": data, "task": task, "classes": classes, "rng": rng,
        "train": (X_train, y_train), "val": (X_val, y_val), "test": (X_test, y_test),
        "preprocessing": preprocessing,
    }


def _activations(args):
    n_hidden = len(args.hidden)
    names = args.activation
    for name in names:
        if name not in HIDDEN_ACTIVATIONS:
            raise UsageError(f"unknown activation {name!r}; expected one of "
                             f"{', '.join(HIDDEN_ACTIVATIONS)}")
    if len(names) == 1:
        return names * n_hidden
    if len(names) != n_hidden:
        raise UsageError(f"--activation got {len(names)} names for {n_hidden} hidden layers; "
                         "give one for all or one per layer")
    return names


def _build_model(args, n_in, n_out, rng):
    layers = []
    for width, name in zip(args.hidden, _activations(args), strict=True):
        # BatchNorm subtracts the batch mean, which cancels a bias: leave it out
        layers.append(Linear(n_in, width, bias=not args.batch_norm, init=args.init, rng=rng))
        if args.batch_norm:
            layers.append(BatchNorm1d(width))
        layers.append(get_activation(name))
        if args.dropout > 0:
            layers.append(Dropout(args.dropout, rng=rng))
        n_in = width
    layers.append(Linear(n_in, n_out, init=args.init, rng=rng))
    return Sequential(layers)


def _targets_for_loss(task, y, preprocessing):
    if task == "classification":
        return y
    return (y - preprocessing["y_mean"]) / preprocessing["y_scale"]


def _optimizer(args, params):
    name, lr, decay = args.optimizer, args.lr, args.weight_decay
    if name == "adam":
        return Adam(params, lr=lr, weight_decay=decay)
    if name == "rmsprop":
        return RMSProp(params, lr=lr, weight_decay=decay)
    if name == "sgd":
        return SGD(params, lr=lr, weight_decay=decay)
    return SGD(params, lr=lr, momentum=0.9, nesterov=(name == "nesterov"), weight_decay=decay)


def _score(model, task, X, y_loss):
    """Accuracy, or R² (the same on the standardised target as on the original one)."""
    from sklearn.metrics import r2_score

    model.eval()
    output = model.forward(X)
    model.train()
    if task == "classification":
        return float(np.mean(output.argmax(axis=1) == y_loss))
    return float(r2_score(y_loss, output[:, 0]))


# -- train ------------------------------------------------------------------------------------


def _check_destination(path, flag):
    from pathlib import Path

    folder = Path(path).parent
    if str(folder) and not folder.is_dir():
        raise UsageError(f"{flag} {path}: no such directory {folder}")
    if Path(path).is_dir():
        raise UsageError(f"{flag} {path}: is a directory")


def run_train(args) -> int:
    # refuse unwritable destinations now, not after a long training run
    for flag, path in (("--save", args.save), ("--json", args.json), ("--plot", args.plot)):
        if path:
            _check_destination(path, flag)
    if args.plot:
        try:
            from .plotting import require_matplotlib

            require_matplotlib()
        except ImportError as exc:
            raise UsageError(f"--plot: {exc}") from None
    prep = _prepare(args)
    task, classes, rng = prep["task"], prep["classes"], prep["rng"]
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = prep["train"], prep["val"], \
        prep["test"]
    preprocessing = prep["preprocessing"]
    n_out = len(classes) if task == "classification" else 1
    model = _build_model(args, X_train.shape[1], n_out, rng)
    loss = SoftmaxCrossEntropyLoss() if task == "classification" else MSELoss()
    metric = "accuracy" if task == "classification" else "R²"

    def score(model_, X, y_loss):
        return _score(model_, task, X, y_loss)

    y_train, y_val, y_test = (None if y is None else _targets_for_loss(task, y, preprocessing)
                              for y in (y_train, y_val, y_test))

    curves = {"train_score": []}
    track_train = bool(args.plot or args.json or args.verbose)
    bar = _progress_bar(args)

    def end_of_epoch(epoch, history):
        if track_train:
            curves["train_score"].append(score(model, X_train, y_train))
        line = f"epoch {epoch + 1}/{args.epochs}  loss {history.loss[-1]:.4f}"
        if track_train:
            line += f"  train {metric} {curves['train_score'][-1]:.4f}"
        if history.val_score:
            line += f"  val {metric} {history.val_score[-1]:.4f}"
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(line.split("  ", 1)[1])
        if args.verbose:
            (bar.write if bar is not None else print)(line)
        return False

    validation = None if X_val is None else (X_val, y_val)
    trainer = Trainer(model, loss, _optimizer(args, model.parameters()),
                      batch_size=args.batch_size, rng=rng, l2=args.l2,
                      score=score if validation is not None else None,
                      early_stopping=args.early_stopping is not None,
                      n_iter_no_change=args.early_stopping, tol=1e-4, keep_best=True,
                      callbacks=[end_of_epoch])
    start = time.perf_counter()
    try:
        history = trainer.fit(X_train, y_train, epochs=args.epochs, validation_data=validation)
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - start
    model.eval()

    data = prep["data"]
    print(f"data: {args.data} ({len(data.X)} samples, {data.X.shape[1]} features, "
          + (f"{n_out} classes)" if task == "classification" else "numeric target)"))
    widths = [X_train.shape[1], *args.hidden, n_out]
    print(f"model: {' -> '.join(map(str, widths))}, {', '.join(_activations(args)) or 'linear'}"
          f", {args.optimizer} lr={args.lr:g}, {history.epochs} epochs in {elapsed:.2f}s")
    if history.interrupted:
        best = "" if history.best_epoch is None else f" (epoch {history.best_epoch + 1})"
        print(f"interrupted after {history.epochs} epochs: keeping the best model so far{best}",
              file=sys.stderr)
    metrics = {"task": task, "epochs": history.epochs, "seconds": round(elapsed, 3),
               "loss": history.loss[-1] if history.loss else None,
               "interrupted": history.interrupted}
    if history.loss:
        print(f"final training loss: {history.loss[-1]:.4f}")
    for name, (X, y) in (("train", (X_train, y_train)), ("val", (X_val, y_val)),
                         ("test", (X_test, y_test))):
        if X is not None:
            value = score(model, X, y)
            metrics[f"{name}_{'accuracy' if task == 'classification' else 'r2'}"] = value
            print(f"{name} {metric}: {value:.4f}")

    if args.save:
        metadata = {"task": task, "classes": classes, "feature_names": data.feature_names,
                    "target_name": data.target_name, "preprocessing": preprocessing,
                    "trained": {"data": args.data, "epochs": history.epochs, "seed": args.seed,
                                "optimizer": args.optimizer, "lr": args.lr},
                    "metrics": metrics}
        save(model, args.save, metadata=metadata)
        print(f"model saved to {args.save}")
    if args.json:
        write_atomic(args.json, json.dumps(metrics, indent=2) + "\n")
    if args.plot:
        from .plotting import plot_training

        curves.update(loss=history.loss, val_loss=history.val_loss,
                      val_score=history.val_score)
        boundary = None
        if task == "classification" and X_train.shape[1] == 2:
            def predict(points):
                return model.forward(points).argmax(axis=1)

            boundary = (predict, X_train, y_train, data.feature_names, classes)
        plot_training(args.plot, curves, metric=metric, boundary=boundary)
        print(f"figure saved to {args.plot}")
    return 130 if history.interrupted else 0


def _progress_bar(args):
    if args.quiet:
        return None
    from tqdm.auto import tqdm

    # disable=None: no bar when stderr is not a terminal (logs, pipes, tests)
    return tqdm(total=args.epochs, unit="epoch", file=sys.stderr, leave=False, disable=None,
                dynamic_ncols=True)


# -- predict ----------------------------------------------------------------------------------


def _load_model(path):
    model, metadata = load(path, with_metadata=True)
    if not isinstance(model, Sequential):
        raise UsageError(f"{path} holds a {type(model).__name__}; 'mlp predict' and "
                         "'mlp summary' read models saved by 'mlp train --save' or "
                         "mlp.io.save(sequential, ...)")
    return model, metadata


def _apply_scaling(X, preprocessing):
    if preprocessing.get("scale", "none") == "none":
        return X
    mean = np.asarray(preprocessing["mean"])
    factor = np.asarray(preprocessing["factor"])
    if mean.shape != (X.shape[1],):
        raise UsageError(f"the model's scaler expects {mean.size} features, got {X.shape[1]}")
    return (X - mean) * factor


def run_predict(args) -> int:
    if args.out:
        _check_destination(args.out, "--out")
    model, metadata = _load_model(args.model)
    features = metadata.get("feature_names")
    X = load_features(args.data, features)
    width = model.n_features_in
    if width is not None and X.shape[1] != width:
        raise UsageError(f"{args.data} has {X.shape[1]} feature columns; the model expects "
                         f"{width}")
    preprocessing = metadata.get("preprocessing", {})
    model.eval()
    output = model.forward(_apply_scaling(X, preprocessing))
    task = metadata.get("task", "classification" if output.shape[1] > 1 else "regression")
    classes = metadata.get("classes") or [str(k) for k in range(output.shape[1])]
    if task == "classification":
        shifted = output - output.max(axis=1, keepdims=True)
        P = np.exp(shifted)
        P /= P.sum(axis=1, keepdims=True)
        if args.proba:
            header = [f"p({name})" for name in classes]
            rows = [[f"{p:.6g}" for p in row] for row in P]
        else:
            header = ["prediction"]
            rows = [[classes[k]] for k in P.argmax(axis=1)]
    else:
        if args.proba:
            raise UsageError("--proba needs a classification model")
        y = output[:, 0] * preprocessing.get("y_scale", 1.0) + preprocessing.get("y_mean", 0.0)
        header = ["prediction"]
        rows = [[repr(float(v))] for v in y]
    import csv
    import io as text_io

    buffer = text_io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    if args.out:
        write_atomic(args.out, buffer.getvalue())
        print(f"{len(rows)} predictions written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(buffer.getvalue())
    return 0


# -- gradcheck --------------------------------------------------------------------------------


def run_gradcheck(args) -> int:
    prep = _prepare(args)
    X_train, y_train = prep["train"]
    n = min(args.samples, len(X_train))
    X, y = X_train[:n], y_train[:n]
    task = prep["task"]
    n_out = len(prep["classes"]) if task == "classification" else 1
    model = _build_model(args, X.shape[1], n_out, prep["rng"])
    loss = SoftmaxCrossEntropyLoss() if task == "classification" else MSELoss()
    report = check_model(model, loss, X, _targets_for_loss(task, y, prep["preprocessing"]),
                         tol=args.tol)
    print(report)
    return 0 if report.ok else 1


# -- summary ----------------------------------------------------------------------------------


def run_summary(args) -> int:
    model, metadata = _load_model(args.model)
    print(model.summary())
    if metadata:
        task = metadata.get("task")
        print(f"task: {task}")
        if metadata.get("feature_names"):
            print(f"features: {', '.join(metadata['feature_names'])}")
        if metadata.get("target_name"):
            print(f"target: {metadata['target_name']}")
        if metadata.get("classes"):
            print(f"classes: {', '.join(map(str, metadata['classes']))}")
        scale = metadata.get("preprocessing", {}).get("scale")
        if scale:
            print(f"scaling: {scale}")
        trained = metadata.get("trained")
        if trained:
            print("trained: " + ", ".join(f"{k}={v}" for k, v in trained.items()))
    return 0


# -- exercise ---------------------------------------------------------------------------------


def run_exercise_make(args) -> int:
    from .exercise import make

    manifest = make(args.outdir, only=args.only, include_forward=args.include_forward,
                    solution=args.solution)
    points = sum(item["points"] for item in manifest["items"])
    print(f"wrote {args.outdir}: {len(manifest['items'])} items, {points} points")
    for item in manifest["items"]:
        print(f"  {item['name']} ({item['points']})")
    return 0


def run_exercise_grade(args) -> int:
    from .exercise import format_results, grade, results_json

    if args.json:
        _check_destination(args.json, "--json")
    results = grade(args.directory, time_limit=args.time_limit)
    print(format_results(results))
    if args.json:
        write_atomic(args.json, json.dumps(results_json(results), indent=2) + "\n")
    return 0


def run_exercise_verify(args) -> int:
    from .exercise import verify

    return 0 if verify(args.source) else 1


# -- entry point ------------------------------------------------------------------------------


def main(argv=None) -> int:
    """Run the ``mlp`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:
        # the reader went away (`mlp predict ... | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (UsageError, ModelFileError, ValueError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        command = args.command + (f" {args.step}" if getattr(args, "step", None) else "")
        print(f"mlp {command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mlp {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
