"""Shared input: the data options, and loading, splitting and scaling the data.

``train`` and ``gradcheck`` read their data the same way, so that ``mlp gradcheck`` checks
exactly the model ``mlp train`` would train.
"""

from __future__ import annotations

import math

import numpy as np

from ..datasets import BUILTIN, load_dataset
from .common import UsageError, fraction


def add_data_options(parser):
    group = parser.add_argument_group("data")
    group.add_argument("--data", default="iris", metavar="NAME|FILE",
                       help=f"built-in dataset ({', '.join(BUILTIN)}), a CSV file, or a .npz "
                            "file of arrays X and y (or a .npy matrix, target last) "
                            "(default: iris)")
    group.add_argument("--target", default=None, metavar="COLUMN",
                       help="target column of a file, by name or index (default: last)")
    group.add_argument("--no-header", dest="header", action="store_false",
                       help="the CSV file has no header row: its columns are x0, x1, ...")
    group.add_argument("--drop", nargs="+", default=[], metavar="COLUMN",
                       help="columns of the CSV file that are not features (by name or index)")
    group.add_argument("--id", default=None, metavar="COLUMN",
                       help="an ID column of the CSV file: not a feature")
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
    group.add_argument("--test-fraction", type=fraction, default=0.3,
                       help="held out for the final test score (default: 0.3)")
    group.add_argument("--val-fraction", type=fraction, default=0.0,
                       help="of the rest, held out for validation (default: 0, or 0.1 with "
                            "--early-stopping)")
    group.add_argument("--seed", type=int, default=0,
                       help="seed of every random choice: split, weights, shuffling "
                            "(default: 0)")


def prepare(args):
    """Load, split and scale the data as ``train`` and ``gradcheck`` both do."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    rng = np.random.default_rng(args.seed)
    drop = [*args.drop, *([args.id] if args.id is not None else [])]
    data = load_dataset(args.data, target=args.target, rng=rng, header=args.header, drop=drop)
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
    # each part must hold at least one row per class (two rows to score a regression)
    need = len(classes) if task == "classification" else 2

    def split(X, y, fraction, flag, part):
        if fraction == 0:
            return X, None, y, None
        n_part = math.ceil(fraction * len(X))  # as scikit-learn rounds a test fraction
        for rows, what in ((n_part, part), (len(X) - n_part, "training")):
            if rows < need:
                raise UsageError(
                    f"{flag} {fraction:g} of {len(X)} rows leaves {rows} {what} "
                    f"row{'s' if rows != 1 else ''} for "
                    + (f"{need} classes" if task == "classification" else "a score")
                    + f": use more data or change {flag} (0 for no {part} set)")
        ok = stratify and np.bincount(y).min() >= 2
        seed = int(rng.integers(2**31))
        return train_test_split(X, y, test_size=fraction, random_state=seed,
                                stratify=y if ok else None)

    X_train, X_test, y_train, y_test = split(data.X, y, args.test_fraction, "--test-fraction",
                                             "test")
    val_fraction = args.val_fraction
    if getattr(args, "early_stopping", None) and val_fraction == 0:
        val_fraction = 0.1
    X_train, X_val, y_train, y_val = split(X_train, y_train, val_fraction, "--val-fraction",
                                           "validation")

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


def targets_for_loss(task, y, preprocessing):
    if task == "classification":
        return y
    return (y - preprocessing["y_mean"]) / preprocessing["y_scale"]
