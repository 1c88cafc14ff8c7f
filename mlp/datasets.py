"""Small datasets and CSV loading."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Dataset", "DATA_DIR", "load_csv", "load_iris"]

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
    if len(header) < 2:
        raise ValueError(f"{path}: expected at least two columns (features and a target)")
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {lineno}: expected {len(header)} fields, got {len(row)}"
            )

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
    X = np.empty((len(rows) - 1, len(feature_idx)), dtype=np.float64)
    for i, row in enumerate(rows[1:]):
        for k, j in enumerate(feature_idx):
            try:
                X[i, k] = float(row[j])
            except ValueError:
                raise ValueError(
                    f"{path}, line {i + 2}, column {header[j]!r}: expected a number, "
                    f"got {row[j]!r}"
                ) from None
    if not np.isfinite(X).all():
        raise ValueError(f"{path}: the features contain NaN or infinity")

    raw = [row[t].strip() for row in rows[1:]]
    try:
        values = np.array([float(v) for v in raw])
        numeric = bool(np.isfinite(values).all())
    except ValueError:
        numeric = False
    if numeric:
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
