"""``mlp predict``: predict the rows of a CSV file with a saved model."""

from __future__ import annotations

import sys
import warnings

import numpy as np

from ..datasets import load_features
from ..io import write_atomic
from ..sequential import Sequential
from .common import UsageError, check_destination, check_distinct, check_source, path_arg
from .data import check_column_options
from .network import load_model


def add_arguments(predict):
    predict.description = (
        "Predict the rows of a CSV or array file with a model saved by 'mlp train --save' or "
        "mlp.io.save (a network or a fitted estimator).")
    predict.add_argument("--model", required=True, type=path_arg, metavar="MODEL.npz")
    predict.add_argument("--data", required=True, type=path_arg, metavar="FILE",
                         help="CSV file with the model's feature columns (others are "
                              "ignored), or a .npz / .npy file of arrays")
    predict.add_argument("--no-header", dest="header", action="store_false",
                         help="the CSV file has no header row: its columns are x0, x1, ...")
    predict.add_argument("--id", default=None, metavar="COLUMN",
                         help="copy this column of the CSV file into the output, first")
    predict.add_argument("--out", type=path_arg, metavar="PREDICTIONS.csv",
                         help="write the predictions here ('-' or default: standard output)")
    predict.add_argument("--proba", action="store_true",
                         help="one column of probability per class, then the label")
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


def _network_outputs(model, metadata, args):
    """(header, rows) of a network saved by ``mlp train``: its scaling, then its layers."""
    X, ids = load_features(args.data, metadata.get("feature_names"), header=args.header,
                           id_column=args.id)
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
    if task == "regression":
        y = output[:, 0] * preprocessing.get("y_scale", 1.0) + preprocessing.get("y_mean", 0.0)
        return y, None, None, ids
    classes = metadata.get("classes") or [str(k) for k in range(output.shape[1])]
    P = np.exp(output - output.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return np.asarray(classes)[P.argmax(axis=1)], P, classes, ids


def _estimator_outputs(est, args):
    """(predictions, probabilities, classes, ids) of a fitted MLPClassifier / MLPRegressor."""
    names = list(est.feature_names_in_) if hasattr(est, "feature_names_in_") else None
    X, ids = load_features(args.data, names, header=args.header, id_column=args.id)
    if X.shape[1] != est.n_features_in_:
        raise UsageError(f"{args.data} has {X.shape[1]} feature columns; the model expects "
                         f"{est.n_features_in_}")
    if getattr(est, "_multilabel", False) or est.n_outputs_ > 1 and \
            not hasattr(est, "classes_"):
        raise UsageError("'mlp predict' writes one prediction per row; this model has "
                         f"{est.n_outputs_} outputs (use it from Python)")
    with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
        # the columns were picked by the names the estimator was fitted with
        warnings.filterwarnings("ignore", "X does not have valid feature names")
        predicted = est.predict(X)
        P = est.predict_proba(X) if args.proba and hasattr(est, "classes_") else None
    if not hasattr(est, "classes_"):
        _refuse_overflow(predicted[:, None], args.data, "the network's output overflows")
        return predicted, None, None, ids
    return predicted, P, [str(c) for c in est.classes_], ids


def run(args) -> int:
    if args.out:
        check_distinct((("--out", args.out),),
                       inputs=(("--data", args.data), ("--model", args.model)))
        check_destination(args.out, "--out", stdout=True)
    check_source(args.model, "--model")
    check_source(args.data, "--data")
    check_column_options(args, builtin=False)
    model, metadata = load_model(args.model)
    if isinstance(model, Sequential):
        predicted, P, classes, ids = _network_outputs(model, metadata, args)
    else:
        predicted, P, classes, ids = _estimator_outputs(model, args)
    if classes is None:
        if args.proba:
            raise UsageError("--proba needs a classification model")
        header, rows = ["prediction"], [[repr(float(v))] for v in predicted]
    elif args.proba:
        header = [*(f"p({name})" for name in classes), "prediction"]
        rows = [[*(f"{p:.6g}" for p in row), str(label)]
                for row, label in zip(P, predicted, strict=True)]
    else:
        header, rows = ["prediction"], [[str(label)] for label in predicted]
    if ids is not None:
        header = [str(args.id) if not str(args.id).lstrip("-").isdigit() else "id", *header]
        rows = [[key, *row] for key, row in zip(ids, rows, strict=True)]
    import csv
    import io as text_io

    buffer = text_io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    if args.out and args.out != "-":
        write_atomic(args.out, buffer.getvalue())
        print(f"{len(rows)} prediction{'s' if len(rows) != 1 else ''} written to {args.out}",
              file=sys.stderr)
    else:
        sys.stdout.write(buffer.getvalue())
    return 0
