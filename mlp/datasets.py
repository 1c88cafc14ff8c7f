"""Small datasets, and features and targets from CSV and array files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._text import shown, shown_list
from .tables import column_index, read_arrays, read_table

__all__ = [
    "BUILTIN", "Dataset", "DATA_DIR", "MNIST1D_TRAIN", "load_arrays", "load_csv",
    "load_dataset", "load_features", "load_iris", "load_mnist1d",
]

#: The ``data/`` folder of the project, beside the package in a source checkout.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass
class Dataset:
    """Features and targets read from a table.

    Attributes
    ----------
    X : ndarray of float64, shape (N, D)
    y : ndarray of shape (N,)
        Class indices 0..K−1 (int) when the target is categorical, else float values.
    feature_names : list of str
    target_name : str
    classes : list of str or None
        The class labels, in the order of the indices in ``y``; None for a numeric target.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list
    target_name: str
    classes: list | None


def _lines(table, rows, limit=5):
    shown = ", ".join(str(table.line(int(i))) for i in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def load_features(path, feature_names=None, *, header=True, id_column=None):
    """The feature matrix of a CSV, .npy or .npz file, for prediction.

    Parameters
    ----------
    path : str or Path
    feature_names : list of str, optional
        Take these columns, in this order (other columns, such as a target, are ignored);
        by default every column. Array files name their columns ``x0``, ``x1``, ...
    header : bool, default True
        Whether a CSV file's first line names its columns.
    id_column : str or int, optional
        Also return this column's values, as text, to label the predictions.

    Returns
    -------
    X : ndarray of float64, shape (N, len(feature_names))
    ids : ndarray of str, shape (N,), or None without ``id_column``
    """
    if Path(path).suffix in (".npy", ".npz"):
        if id_column is not None:
            raise ValueError(f"{path}: an ID column applies to a CSV file")
        X, _, names = read_arrays(path)
        if feature_names is None:
            return X, None
        if all(name in names for name in feature_names):  # a model trained on array files
            return X[:, [names.index(name) for name in feature_names]], None
        # an array's columns have no names: they are the model's features, in order, when
        # there are as many
        if X.shape[1] != len(feature_names):
            raise ValueError(f"{path}: X has {X.shape[1]} columns; the model takes "
                             f"{len(feature_names)} features: {shown_list(feature_names)}")
        return X, None
    # IDs are kept as written (007 stays 007), not read as numbers
    table = read_table(path, header=header, text=[] if id_column is None else [id_column])
    ids = None
    if id_column is not None:
        j = column_index(path, table.names, id_column, " for the ID")
        ids = table.columns[j]
    if feature_names is None:
        columns = list(range(len(table.names)))
    else:
        missing = [name for name in feature_names if name not in table.names]
        if missing:
            raise ValueError(f"{path}: missing feature columns {shown_list(missing)}; the file "
                             f"has {shown_list(table.names)}")
        columns = [table.index(name) for name in feature_names]
    if id_column is not None and j in columns:
        # the ID column, kept as text, is also a feature: its numbers for X
        try:
            numbers = ids.astype(np.float64)
        except ValueError:
            raise ValueError(f"{path}: the ID column {shown(table.names[j])} is also a feature "
                             "of the model, and holds text") from None
        table.columns = [*table.columns[:j], numbers, *table.columns[j + 1:]]
    return table.numbers(columns), ids


def _target(path, table, t):
    """The target column as (y, classes), refusing empty cells by line."""
    name, column = table.names[t], table.columns[t]
    if column.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(column))
        if len(bad):
            empty = [i for i in bad if table.is_empty(int(i), t)]
            what = "is empty" if len(empty) == len(bad) else "holds NaN, infinity or nothing"
            raise ValueError(f"{path}: the target column {shown(name)} {what} on line(s) "
                             f"{_lines(table, bad)}")
        return np.ascontiguousarray(column), None  # a column of the parser's matrix: its own
    empty = np.flatnonzero(column == "")
    if len(empty):
        raise ValueError(f"{path}: the target column {shown(name)} is empty on line(s) "
                         f"{_lines(table, empty)}")
    classes, y = np.unique(column, return_inverse=True)
    return y.astype(np.intp), [str(c) for c in classes]


def load_csv(path, target=None, *, header=True, drop=(), id_column=None) -> Dataset:
    """Read a CSV file into features and a target.

    Parameters
    ----------
    path : str or Path
    target : str or int, optional
        The target column, by name or index; the last column by default. A target column
        that is not entirely numeric is treated as class labels.
    header : bool, default True
        Whether the first line names the columns (see :func:`mlp.tables.read_table`).
    drop : sequence of str or int
        Columns that are not features (an ID, a timestamp), by name or index.
    id_column : str or int, optional
        A column that labels the rows: not a feature, and not the target.

    Raises
    ------
    ValueError
        For a missing file, an empty table, ragged rows, a missing target, dropped or ID
        column, an empty target cell or a non-numeric feature, naming the file, line and
        column.
    """
    # the features, read into one matrix without the target and dropped columns: X is it
    table = read_table(path, header=header, apart=[-1 if target is None else target, *drop])
    names = table.names
    if len(names) < 2:
        raise ValueError(f"{path}: expected at least two columns (features and a target)")
    t = len(names) - 1 if target is None else column_index(path, names, target,
                                                             " for the target")
    dropped = {column_index(path, names, name, " to drop") for name in drop}
    if t in dropped:
        raise ValueError(f"{path}: the target column {shown(names[t])} cannot also be dropped")
    if id_column is not None:
        i = column_index(path, names, id_column, " for the ID")
        if i == t:
            raise ValueError(f"{path}: the ID column {shown(names[i])} is the target column: "
                             "a column cannot be both")
        dropped.add(i)
    feature_idx = [j for j in range(len(names)) if j != t and j not in dropped]
    if not feature_idx:
        raise ValueError(f"{path}: no feature columns are left")
    X = table.numbers(feature_idx)
    y, classes = _target(path, table, t)
    return Dataset(X, y, [names[j] for j in feature_idx], names[t], classes)


def load_arrays(path, target=None) -> Dataset:
    """Features and target of an ``.npz`` file (arrays ``X`` and ``y``) or an ``.npy`` matrix
    whose target is its last column (or column ``target``)."""
    X, y, names = read_arrays(path)
    if y is None:
        if X.shape[1] < 2:
            raise ValueError(f"{path}: expected at least two columns (features and a target)")
        t = X.shape[1] - 1 if target is None else column_index(path, names, target,
                                                                 " for the target")
        y, X = X[:, t], np.delete(X, t, axis=1)
        names = [f"x{j}" for j in range(X.shape[1])]
    elif target is not None:
        raise ValueError(f"{path}: the target is the array y; --target applies to one matrix")
    if y.dtype.kind == "U":
        classes, y = np.unique(y, return_inverse=True)
        return Dataset(X, y.astype(np.intp), names, "y", [str(c) for c in classes])
    y = y.astype(np.float64)
    if not np.isfinite(y).all():
        raise ValueError(f"{path}: the target contains NaN or infinity")
    return Dataset(X, y, names, "y", None)


def load_iris() -> Dataset:
    """Fisher's Iris data: 150 samples, 4 features, 3 classes (see ``data/README.md``)."""
    path = DATA_DIR / "iris.csv"
    if path.exists():
        return load_csv(path, target="species")
    # Installed without the source tree (not in editable mode): scikit-learn ships the same
    # 150 rows, in the same order.
    from sklearn.datasets import load_iris as sklearn_iris

    bunch = sklearn_iris()
    return Dataset(bunch.data.astype(np.float64), bunch.target.astype(np.intp),
                   ["sepal_length", "sepal_width", "petal_length", "petal_width"],
                   "species", [str(name) for name in bunch.target_names])


def _from_sklearn(loader, classify):
    from sklearn import datasets  # here: only these sets need scikit-learn, slow to import

    bunch = getattr(datasets, loader)()
    names = [str(name) for name in bunch.feature_names]
    if classify:
        classes = [str(name) for name in getattr(bunch, "target_names", np.unique(bunch.target))]
        return Dataset(bunch.data.astype(np.float64), bunch.target.astype(np.intp), names,
                       "target", classes)
    return Dataset(bunch.data.astype(np.float64), bunch.target.astype(np.float64), names,
                   "target", None)


def _xor(rng):
    """Points in [-1, 1]² labelled by the sign of x₁·x₂: the classic non-linearly-separable set."""
    X = rng.uniform(-1.0, 1.0, size=(400, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.intp)
    return Dataset(X, y, ["x1", "x2"], "xor", ["0", "1"])


def _moons(rng):
    from sklearn.datasets import make_moons

    X, y = make_moons(400, noise=0.2, random_state=int(rng.integers(2**31)))
    return Dataset(X, y.astype(np.intp), ["x1", "x2"], "moon", ["0", "1"])


#: How many of :func:`load_mnist1d`'s rows, counted from the first, form the paper's training set.
MNIST1D_TRAIN = 4000


def load_mnist1d() -> Dataset:
    """MNIST-1D: 5000 one-dimensional signals of 40 samples, ten classes (the digits' shapes).

    A small teaching set built to separate linear from non-linear models (Greydanus and
    Kobak, "Scaling down deep learning", 2020: about 32% test accuracy for logistic
    regression, 68% for an MLP). The optional package ``mnist1d`` generates it here, with the
    paper's default arguments and seed; nothing is downloaded.

    Returns
    -------
    Dataset
        ``X`` of shape (5000, 40), float64, centred and scaled to unit variance over the
        whole set; ``y`` of shape (5000,), the digit 0..9. The first :data:`MNIST1D_TRAIN`
        rows are the paper's training set, the last 1000 its test set.

    Raises
    ------
    mlp._optional.OptionalPackageError
        A ValueError (and an ImportError): when the ``mnist1d`` package is not installed,
        saying how to install it; when it is installed but fails to import, saying so with
        the error, in one line.

    Notes
    -----
    The generator seeds numpy's and Python's global random state; both are put back as they
    were, so loading the data changes no other random stream.
    """
    import random

    from ._optional import import_optional

    mnist1d = import_optional("mnist1d.data", needed_for="the mnist1d data", extra="mnist1d")
    # the package draws from the global generators; they are put back as they were
    numpy_state, python_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        data = mnist1d.make_dataset(mnist1d.get_dataset_args())
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)
    X = np.concatenate([data["x"], data["x_test"]]).astype(np.float64)
    y = np.concatenate([data["y"], data["y_test"]]).astype(np.intp)
    return Dataset(X, y, [f"x{i}" for i in range(X.shape[1])], "digit",
                   [str(k) for k in range(10)])


def _builtin():
    return {
        "iris": lambda rng: load_iris(),
        "wine": lambda rng: _from_sklearn("load_wine", True),
        "breast_cancer": lambda rng: _from_sklearn("load_breast_cancer", True),
        "digits": lambda rng: _from_sklearn("load_digits", True),
        "diabetes": lambda rng: _from_sklearn("load_diabetes", False),
        "xor": _xor,
        "moons": _moons,
        "mnist1d": lambda rng: load_mnist1d(),
    }


#: The names :func:`load_dataset` knows besides CSV paths.
BUILTIN = ("iris", "wine", "breast_cancer", "digits", "diabetes", "xor", "moons", "mnist1d")


def load_dataset(name, *, target=None, rng=None, header=True, drop=(),
                 id_column=None) -> Dataset:
    """A built-in dataset by name, or a CSV, .npy or .npz file by path.

    Parameters
    ----------
    name : str
        One of :data:`BUILTIN` (iris is read from ``data/iris.csv``; wine, breast_cancer,
        digits and diabetes come with scikit-learn; xor and moons are generated from ``rng``;
        mnist1d needs the optional package of that name, see :func:`load_mnist1d`),
        or the path of a CSV file (see :func:`load_csv`) or an array file (see
        :func:`load_arrays`).
    target : str or int, optional
        The target column of a file (default: the last one).
    rng : numpy.random.Generator, optional
        Used by the generated sets.
    header, drop, id_column
        For a CSV file: see :func:`load_csv`.

    Raises
    ------
    ValueError
        Besides the readers' errors: a column option given for data it does not apply to
        (any of them for a built-in set, ``drop``, ``id_column`` or ``header=False`` for an
        array file), naming the option.
    """
    if name in BUILTIN:
        given = [what for what, on in (("a target column", target is not None),
                                       ("dropped columns", bool(drop)),
                                       ("an ID column", id_column is not None),
                                       ("header=False", not header)) if on]
        if given:
            raise ValueError(f"{' and '.join(given)}: only for a file, not for the built-in "
                             f"{name!r} data")
        from .base import as_generator

        return _builtin()[name](as_generator(rng))
    if not Path(name).suffix and not Path(name).exists():
        raise ValueError(
            f"unknown dataset {shown(name)}: expected one of {', '.join(BUILTIN)} or a CSV file"
        )
    if Path(name).suffix in (".npy", ".npz"):
        given = [what for what, on in (("dropped columns", bool(drop)),
                                       ("an ID column", id_column is not None),
                                       ("header=False", not header)) if on]
        if given:
            raise ValueError(f"{name}: {' and '.join(given)}: only for a CSV file")
        return load_arrays(name, target=target)
    return load_csv(name, target=target, header=header, drop=drop, id_column=id_column)
