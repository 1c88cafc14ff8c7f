"""Shared input: the data options, and loading, splitting and scaling the data.

``train`` and ``gradcheck`` read their data the same way, so that ``mlp gradcheck`` checks
exactly the model ``mlp train`` would train.
"""

from __future__ import annotations

import math

import numpy as np

from .._text import shown
from ..datasets import BUILTIN, load_dataset
from .common import UsageError, check_source, fraction, non_negative_int, path_arg


def add_data_options(parser):
    group = parser.add_argument_group("data")
    group.add_argument("--data", default="iris", type=path_arg, metavar="NAME|FILE",
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
    group.add_argument("--val-fraction", type=fraction, default=None,
                       help="of the rest, held out for validation (default: 0, or 0.1 with "
                            "--early-stopping)")
    group.add_argument("--seed", type=non_negative_int, default=0,
                       help="seed of every random choice: split, weights, shuffling "
                            "(default: 0)")


def check_column_options(args, *, builtin=True):
    """Refuse, naming them, the column options given for data they do not apply to: all of
    them for a built-in set (its target and features are fixed; ``builtin``: the command
    takes those names), ``--drop``, ``--id`` and ``--no-header`` for an array file (its
    columns have no header and no text). ``args`` need not have ``target`` and ``drop``."""
    given = [flag for flag, on in (("--target", getattr(args, "target", None) is not None),
                                   ("--drop", bool(getattr(args, "drop", ()))),
                                   ("--id", args.id is not None),
                                   ("--no-header", not args.header)) if on]
    if builtin and args.data in BUILTIN and given:
        files = "a data file (CSV, .npy or .npz)" if given == ["--target"] else "a CSV file"
        raise UsageError(f"{' and '.join(given)}: only for {files}, not for the built-in "
                         f"{args.data!r} data, whose target and features are fixed")
    given = [flag for flag in given if flag != "--target"]
    if args.data.endswith((".npy", ".npz")) and given:
        raise UsageError(f"{' and '.join(given)}: only for a CSV file, not for the array file "
                         f"{shown(args.data)}")


def _numeric_labels(classes):
    """The class labels as numbers (the digits' 0..9), or None when one is not a number."""
    try:
        values = np.array([float(label) for label in classes])
    except ValueError:
        return None
    return values if np.isfinite(values).all() else None


def prepare(args):
    """Load, split and scale the data as ``train`` and ``gradcheck`` both do."""
    check_column_options(args)
    if args.data not in BUILTIN:
        check_source(args.data, "--data")
    rng = np.random.default_rng(args.seed)
    data = load_dataset(args.data, target=args.target, rng=rng, header=args.header,
                        drop=args.drop, id_column=args.id)
    task = args.task
    if task == "auto":
        whole = data.classes is None and np.all(data.y == np.round(data.y))
        few = data.classes is None and len(np.unique(data.y)) <= 20
        task = "classification" if data.classes is not None or (whole and few) else \
            "regression"
    classes = data.classes
    y = data.y
    if task == "regression" and classes is not None:
        # labels that are numbers (digits, 0/1) regress as numbers, as scikit-learn would
        values = _numeric_labels(classes)
        if values is None:
            raise UsageError(f"--task regression: the target {shown(data.target_name)} holds "
                             f"class labels that are not numbers ({shown(classes[0])}, ...); "
                             "use --task classification")
        classes, y = None, values[y]
    if task == "classification" and classes is None:
        values, y = np.unique(data.y, return_inverse=True)
        classes = [f"{v:g}" for v in values]
    if task == "classification":
        present = np.unique(y)
        if len(present) < 2:
            raise UsageError(f"the target {shown(data.target_name)} has a single class "
                             f"({shown(classes[present[0]])}): there is nothing to learn")

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
        rest, held_out = split_rows(y, n_part, rng,
                                    stratify=stratify and np.bincount(y).min() >= 2)
        return X[rest], X[held_out], y[rest], y[held_out]

    X_train, X_test, y_train, y_test = split(data.X, y, args.test_fraction, "--test-fraction",
                                             "test")
    val_fraction, early = args.val_fraction, getattr(args, "early_stopping", None)
    if val_fraction is None:
        val_fraction = 0.1 if early else 0.0
    elif early and val_fraction == 0:
        raise UsageError("--early-stopping needs a validation set, which --val-fraction 0 "
                         "leaves empty (leave it out for 0.1)")
    args.val_fraction = val_fraction  # as a checkpoint keeps it
    X_train, X_val, y_train, y_val = split(X_train, y_train, val_fraction, "--val-fraction",
                                           "validation")

    preprocessing = {"scale": args.scale}
    if args.scale == "standard":
        _check_squares(X_train, data.feature_names, "standardize",
                       "use --minmax or --no-scale, or divide the column by a power of ten")
    if task == "regression":
        _check_squares(y_train[:, None], [data.target_name], "regress on",
                       "divide the target by a power of ten")
    if args.scale != "none":
        center, factor = scaling(X_train, args.scale)
        X_train, X_val, X_test = (None if X is None else (X - center) * factor
                                  for X in (X_train, X_val, X_test))
        preprocessing.update(mean=center.tolist(), factor=factor.tolist())
    if task == "regression":
        # train on a standardised target; predictions are mapped back
        preprocessing["y_mean"] = float(y_train.mean())
        preprocessing["y_scale"] = float(y_train.std()) or 1.0
    return {
        "data": data, "task": task, "classes": classes, "rng": rng,
        "train": (X_train, y_train), "val": (X_val, y_val), "test": (X_test, y_test),
        "preprocessing": preprocessing,
    }


def _check_squares(X, names, what, hint):
    """Refuse columns whose variance cannot be computed: N squared deviations of values up
    to ``|x|`` sum to at most 4·N·|x|², which must stay below the largest float."""
    if len(X) == 0:
        return
    limit = math.sqrt(np.finfo(X.dtype).max / (4 * len(X)))
    size = np.abs(X).max(axis=0)
    if np.all(size <= limit):
        return
    j = int(np.argmax(size > limit))
    raise UsageError(f"the column {shown(names[j])} holds values as large as {size[j]:.3g}, too "
                     f"large to {what} ({len(X)} rows: their squares overflow above "
                     f"{limit:.3g}); {hint}")


def targets_for_loss(task, y, preprocessing):
    if task == "classification":
        return y
    return (y - preprocessing["y_mean"]) / preprocessing["y_scale"]


# scikit-learn's train_test_split and scalers would do the next two, but importing
# scikit-learn takes several times as long as training a network on a small dataset


def split_rows(y, n_part, rng, *, stratify):
    """Row indices ``(rest, part)``: ``n_part`` rows drawn at random for a held-out part.

    Parameters
    ----------
    y : ndarray of int, shape (N,)
        Class indices; with ``stratify``, every class 0..K−1 has at least two rows.
    n_part : int
        Rows in the part, ``K <= n_part <= N - K`` when stratified.
    rng : numpy.random.Generator
    stratify : bool
        Keep each class's share in both parts: class k of c_k rows gives
        c_k·n_part/N rows rounded down, the rows left over going to the largest remainders
        (ties drawn at random), and every class at least one row in each part.

    Returns
    -------
    rest, part : ndarray of int, shapes (N − n_part,) and (n_part,), each in random order
    """
    if not stratify:
        order = rng.permutation(len(y))
        return order[n_part:], order[:n_part]
    counts = np.bincount(y)
    share = counts * (n_part / len(y))
    take = np.clip(np.floor(share).astype(int), 1, counts - 1)
    while (left := n_part - int(take.sum())) != 0:
        step = 1 if left > 0 else -1
        room = take < counts - 1 if step > 0 else take > 1
        owed = (share - take) * step
        order = np.lexsort((rng.random(len(counts)), -owed))  # most owed first
        take[order[room[order]][:abs(left)]] += step
    rest, part = [], []
    for rows, k in zip(np.split(np.argsort(y, kind="stable"), np.cumsum(counts)[:-1]), take,
                       strict=True):
        rows = rng.permutation(rows)
        part.append(rows[:k])
        rest.append(rows[k:])
    return rng.permutation(np.concatenate(rest)), rng.permutation(np.concatenate(part))


def scaling(X, kind):
    """``(center, factor)`` such that ``(X − center)·factor`` is each feature scaled.

    ``kind`` "standard": mean 0 and variance 1 (center the mean, factor 1/σ); "minmax": onto
    [0, 1] (center the minimum, factor 1/(max − min)). A feature whose spread is at round-off
    level of its size is constant: it is only shifted (factor 1). Arrays of shape (D,).
    """
    if kind == "standard":
        center, spread = X.mean(axis=0), X.std(axis=0)
    else:
        center, spread = X.min(axis=0), np.ptp(X, axis=0)
    constant = spread <= 10 * np.finfo(X.dtype).eps * np.abs(X).max(axis=0)
    return center, 1 / np.where(constant, 1.0, spread)
