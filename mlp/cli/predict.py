"""``mlp predict``: predict the rows of a CSV file with a saved model."""

from __future__ import annotations

import sys

import numpy as np

from ..datasets import load_features
from ..io import write_atomic
from .common import UsageError, check_destination
from .network import load_model


def add_parser(commands):
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
    predict.set_defaults(run=run)


def _apply_scaling(X, preprocessing, path):
    if preprocessing.get("scale", "none") == "none":
        return X
    mean = np.asarray(preprocessing["mean"])
    factor = np.asarray(preprocessing["factor"])
    if mean.shape != (X.shape[1],):
        raise UsageError(f"the model's scaler expects {mean.size} features, got {X.shape[1]}")
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = (X - mean) * factor
    _refuse_overflow(scaled, path, "overflow in the model's feature scaling")
    return scaled


def _refuse_overflow(values, path, what):
    """Name the first row whose finite input became infinite, instead of a numpy warning."""
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        row = int(np.argmax(bad)) + 1
        raise UsageError(f"{path}, data row {row}: values too large for this model ({what})")


def run(args) -> int:
    if args.out:
        check_destination(args.out, "--out")
    model, metadata = load_model(args.model)
    features = metadata.get("feature_names")
    X = load_features(args.data, features)
    width = model.n_features_in
    if width is not None and X.shape[1] != width:
        raise UsageError(f"{args.data} has {X.shape[1]} feature columns; the model expects "
                         f"{width}")
    preprocessing = metadata.get("preprocessing", {})
    model.eval()
    with np.errstate(over="ignore", invalid="ignore"):
        output = model.forward(_apply_scaling(X, preprocessing, args.data))
    _refuse_overflow(output, args.data, "the network's output overflows")
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
