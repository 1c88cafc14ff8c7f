"""Small datasets and CSV loading."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "BUILTIN", "Dataset", "DATA_DIR", "MNIST1D_TRAIN", "load_csv", "load_dataset",
    "load_features", "load_iris", "load_mnist1d", "read_table",
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


def read_table(path):
    """Read a CSV file with a header row: (header, rows), every row as long as the header.

    Raises
    ------
    ValueError
        For a missing or unreadable file, an empty table or ragged rows, naming the line.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [row for row in csv.reader(f) if row and any(cell.strip() for cell in row)]
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a UTF-8 text file") from None
    except csv.Error as exc:
        raise ValueError(f"{path} is not valid CSV: {exc}") from None
    if len(rows) < 2:
        raise ValueError(f"{path}: expected a header row and at least one data row")
    header = [name.strip() for name in rows[0]]
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {lineno}: expected {len(header)} fields, got {len(row)}"
            )
    return header, rows[1:]


def _numbers(path, header, rows, columns):
    """The given columns as a float64 matrix, with errors that name the line and column."""
    X = np.empty((len(rows), len(columns)), dtype=np.float64)
    for i, row in enumerate(rows):
        for k, j in enumerate(columns):
            try:
                X[i, k] = float(row[j])
            except ValueError:
                raise ValueError(
                    f"{path}, line {i + 2}, column {header[j]!r}: expected a number, "
                    f"got {row[j]!r}"
                ) from None
    if not np.isfinite(X).all():
        i, k = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(
            f"{path}, line {i + 2}, column {header[columns[k]]!r}: NaN or infinity in the data"
        )
    return X


def load_features(path, feature_names=None) -> np.ndarray:
    """The feature matrix of a CSV file, for prediction.

    Parameters
    ----------
    path : str or Path
    feature_names : list of str, optional
        Take these columns, in this order (other columns, such as a target, are ignored);
        by default every column.

    Returns
    -------
    ndarray of float64, shape (N, len(feature_names))
    """
    header, rows = read_table(path)
    if feature_names is None:
        columns = list(range(len(header)))
    else:
        missing = [name for name in feature_names if name not in header]
        if missing:
            raise ValueError(f"{path}: missing feature columns {missing}; the file has {header}")
        columns = [header.index(name) for name in feature_names]
    return _numbers(path, header, rows, columns)


def load_csv(path, target=None) -> Dataset:
    """Read a CSV file with a header row into features and a target.

    Parameters
    ----------
    path : str or Path
    target : str or int, optional
        The target column, by name or index; the last column by default. A target column
        that is not entirely numeric is treated as class labels.

    Raises
    ------
    ValueError
        For a missing file, an empty table, ragged rows, a missing target column or a
        non-numeric feature, naming the file, row and column.
    """
    header, rows = read_table(path)
    if len(header) < 2:
        raise ValueError(f"{path}: expected at least two columns (features and a target)")

    if target is None:
        t = len(header) - 1
    elif isinstance(target, int) or (isinstance(target, str) and target.lstrip("-").isdigit()
                                     and target not in header):
        t = int(target)
        if not -len(header) <= t < len(header):
            raise ValueError(f"{path}: no column {t}; the file has {len(header)} columns")
        t %= len(header)
    elif target in header:
        t = header.index(target)
    else:
        raise ValueError(f"{path}: no column named {target!r}; columns are {header}")

    feature_idx = [j for j in range(len(header)) if j != t]
    X = _numbers(path, header, rows, feature_idx)

    raw = [row[t].strip() for row in rows]
    try:
        values = np.array([float(v) for v in raw])
        numeric = True
    except ValueError:
        numeric = False
    if numeric:
        if not np.isfinite(values).all():
            raise ValueError(
                f"{path}: the target column {header[t]!r} contains NaN or infinity"
            )
        y, classes = values, None
    else:
        classes = sorted(set(raw))
        index = {label: k for k, label in enumerate(classes)}
        y = np.array([index[v] for v in raw], dtype=np.intp)
    return Dataset(X, y, [header[j] for j in feature_idx], header[t], classes)


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
    bunch = loader()
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
    ValueError
        When the ``mnist1d`` package is not installed, saying how to install it.

    Notes
    -----
    The generator seeds numpy's and Python's global random state; both are put back as they
    were, so loading the data changes no other random stream.
    """
    import random

    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise ValueError("the mnist1d data needs the optional package mnist1d: "
                         "pip install 'mlp[mnist1d]'") from None
    # the package draws from the global generators; they are put back as they were
    numpy_state, python_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        data = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)
    X = np.concatenate([data["x"], data["x_test"]]).astype(np.float64)
    y = np.concatenate([data["y"], data["y_test"]]).astype(np.intp)
    return Dataset(X, y, [f"x{i}" for i in range(X.shape[1])], "digit",
                   [str(k) for k in range(10)])


def _builtin():
    from sklearn import datasets

    return {
        "iris": lambda rng: load_iris(),
        "wine": lambda rng: _from_sklearn(datasets.load_wine, True),
        "breast_cancer": lambda rng: _from_sklearn(datasets.load_breast_cancer, True),
        "digits": lambda rng: _from_sklearn(datasets.load_digits, True),
        "diabetes": lambda rng: _from_sklearn(datasets.load_diabetes, False),
        "xor": _xor,
        "moons": _moons,
        "mnist1d": lambda rng: load_mnist1d(),
    }


#: The names :func:`load_dataset` knows besides CSV paths.
BUILTIN = ("iris", "wine", "breast_cancer", "digits", "diabetes", "xor", "moons", "mnist1d")


def load_dataset(name, *, target=None, rng=None) -> Dataset:
    """A built-in dataset by name, or a CSV file by path.

    Parameters
    ----------
    name : str
        One of :data:`BUILTIN` (iris is read from ``data/iris.csv``; wine, breast_cancer,
        digits and diabetes come with scikit-learn; xor and moons are generated from ``rng``;
        mnist1d needs the optional package of that name, see :func:`load_mnist1d`),
        or the path of a CSV file with a header row.
    target : str or int, optional
        The target column of a CSV file (default: the last one).
    rng : numpy.random.Generator, optional
        Used by the generated sets.
    """
    if name in BUILTIN:
        if target is not None:
            raise ValueError(f"a target column applies to a CSV file, not to the built-in "
                             f"{name!r} data")
        from .base import as_generator

        return _builtin()[name](as_generator(rng))
    if not Path(name).suffix and not Path(name).exists():
        raise ValueError(
            f"unknown dataset {name!r}: expected one of {', '.join(BUILTIN)} or a CSV file"
        )
    return load_csv(name, target=target)
