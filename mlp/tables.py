"""Tables from files, read fast and checked: CSV with or without a header row, .npy and .npz.

A large CSV file is read by pandas when it is installed, a small one (or any without pandas)
by numpy's parser (never as Python lists of cells); both give the same columns. A column is
numbers when every cell that is not empty is a number as Python's ``float`` reads it, else
every cell is kept as the file writes it (stripped): one rule for the whole file, whatever
its size and however a parser cuts it up. What people's files really hold is handled or
refused with the line and column named: a UTF-8 byte-order mark is dropped; NUL bytes, an
unclosed quote, repeated column names, empty cells and ragged rows are refused; a first row
with numbers wherever the data has numbers is refused as a header unless ``header=False``
says there is none (the columns are then named ``x0``, ``x1``, ...)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

import numpy as np

from ._lines import Lines, file_bytes, plain_line_ends, split_fields, unclosed_quote
from ._parsers import columns_numpy, columns_pandas, gather, is_number
from ._text import shown, shown_list

__all__ = ["Table", "column_index", "read_arrays", "read_table"]

_BOM = b"\xef\xbb\xbf"
_NOT_SPACE = re.compile(rb"\S")


@dataclass
class Table:
    """Named columns of a file.

    Attributes
    ----------
    path : str
    names : list of str
    columns : list of ndarray of shape (N,)
        float64 where every cell of the column that is not empty is a number as Python's
        ``float`` reads it (an empty cell is NaN), else every cell as str, stripped, as the
        file writes it: a label ``01`` stays ``01``, a different class from ``1``.
    lines : mlp._lines.Lines
        Where each row is in the file, for messages.
    """

    path: str
    names: list
    columns: list
    lines: Lines

    def __len__(self):
        return len(self.columns[0]) if self.columns else 0

    def index(self, name):
        return self.names.index(name)

    def line(self, row) -> int:
        """The file's line number of data row ``row`` (0-based), skipping blank lines."""
        return self.lines.line(row)

    def fields(self, row) -> list:
        """The raw fields of data row ``row`` (for messages)."""
        return self.lines.fields(row)

    def numbers(self, indices) -> np.ndarray:
        """The given columns as a float64 matrix (N, len(indices)), or ValueError naming the cell.

        C-ordered; when the columns are all of the parser's own matrix, in order, that matrix
        itself (no copy: it shares memory with the columns).

        Raises
        ------
        ValueError
            ``data.csv, line 7, column 'b': expected a number, got 'x'``; also for an empty
            cell, a short row, NaN or infinity.
        """
        columns = [self.columns[j] for j in indices]
        if any(column.dtype.kind != "f" for column in columns):
            self._refuse(indices)
        run = _one_matrix(columns)
        if run is not None:
            matrix, first = run
            X = matrix[:, first:first + len(indices)]
            X = matrix if X.shape == matrix.shape else np.ascontiguousarray(X)
        else:
            X = np.empty((len(self), len(indices)), dtype=np.float64)
            gather(columns, X)
        if not np.isfinite(X).all():
            self._refuse(indices)
        return X

    def _refuse(self, indices):
        """Raise for the first column, in the order given, that is not all finite numbers."""
        for j in indices:
            column = self.columns[j]
            if column.dtype.kind != "f":
                bad = _first_non_number(column)
                if not column[bad]:
                    raise self._empty(bad, j)
                raise ValueError(f"{self._where(bad, j)}: expected a number, got "
                                 f"{shown(column[bad])}")
            finite = np.isfinite(column)
            if not finite.all():
                bad = int(np.argmin(finite))
                if np.isnan(column[bad]) and self.is_empty(bad, j):
                    raise self._empty(bad, j)
                raise ValueError(f"{self._where(bad, j)}: NaN or infinity in the data")
        raise RuntimeError("no cell to refuse")  # pragma: no cover - called on a bad cell

    def _where(self, row, j):
        return f"{self.path}, line {self.line(row)}, column {shown(self.names[j])}"

    def is_empty(self, row, j):
        """Whether cell (row, j) was empty or missing (a short row) in the file."""
        fields = self.fields(row)
        return len(fields) != len(self.names) or not fields[j].strip()

    def _empty(self, row, j):
        fields = self.fields(row)
        if len(fields) != len(self.names):
            return ValueError(f"{self.path}, line {self.line(row)}: expected "
                              f"{len(self.names)} fields, got {len(fields)}")
        return ValueError(self._where(row, j) + ": empty cell")


def column_index(path, names, name, what=""):
    """A column's index, by name, or by index when no column has that name.

    ``what`` completes the message for a missing name (``" to drop"``).
    """
    if isinstance(name, (int, np.integer)) or (
            isinstance(name, str) and name.lstrip("-").isdigit() and name not in names):
        j = int(name)
        if not -len(names) <= j < len(names):
            raise ValueError(f"{path}: no column {j}{what}; the file has {len(names)} columns")
        return j % len(names)
    if name in names:
        return names.index(name)
    raise ValueError(f"{path}: no column named {shown(name)}{what}; columns are "
                     f"{shown_list(names)}")


def _one_matrix(columns):
    """(matrix, first) when ``columns`` are the columns ``first``, ``first + 1``, ... of one
    C-ordered float64 matrix (as the parsers give them), else None."""
    base = columns[0].base
    if not (isinstance(base, np.ndarray) and base.ndim == 2 and base.dtype == np.float64
            and base.flags.c_contiguous and len(base) == len(columns[0])):
        return None
    first = (columns[0].ctypes.data - base.ctypes.data) // base.itemsize
    for k, column in enumerate(columns):
        if (column.base is not base or column.strides != base.strides[:1]
                or column.ctypes.data != base.ctypes.data + (first + k) * base.itemsize):
            return None
    return base, first


def _known(path, names, columns) -> set:
    """The indices of those of ``columns`` (names or indices) that the file has."""
    known = set()
    for name in columns:
        try:
            known.add(column_index(path, names, name))
        except ValueError:
            pass
    return known


def _first_non_number(strings) -> int:
    for i, text in enumerate(strings):
        try:
            float(text)
        except ValueError:
            return i
    return 0  # pragma: no cover - called only when some cell is not a number

def _header(path, data, header):
    """(column names, the number of lines before the data), from the first non-blank line."""
    start, skip = 0, 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if data[start:end].strip():
            break
        start, skip = end + 1, skip + 1
    else:
        raise ValueError(f"{path}: the file is empty")
    line = data[start:end]
    try:
        first = split_fields(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path}, line {skip + 1}: not UTF-8 text") from None
    names = [name.strip() for name in first]
    if not header:
        return [f"x{j}" for j in range(len(names))], skip
    seen = set()
    for j, name in enumerate(names):
        if not name:
            raise ValueError(f"{path}: column {j + 1} has no name in the header row")
        if name in seen:
            raise ValueError(f"{path}: the column name {shown(name)} appears twice in the header")
        seen.add(name)
    return names, skip + 1

#: Read with pandas when it is installed (True) or with numpy's parser (False). None: pandas
#: for a file of :data:`PANDAS_FROM_BYTES` or more, or once pandas is imported anyway; numpy
#: for a smaller file, which it parses in less time than pandas takes to import (0.2 s).
USE_PANDAS = None
PANDAS_FROM_BYTES = 2 << 20


def read_table(path, *, header=True, text=(), apart=()) -> Table:
    """Read a CSV file into named columns.

    Parameters
    ----------
    path : str or Path
    header : bool, default True
        Whether the first non-blank line names the columns. A first line with numbers in
        every numeric column is refused (it is data); without a header the columns are named
        ``x0``, ``x1``, ...
    text : sequence of str or int
        Columns kept as their text even when they hold numbers (an ID such as ``007``),
        by name or index.
    apart : sequence of str or int
        Columns, by name or index, that a large file's parser keeps out of the one matrix
        it reads the other columns of numbers into (a target, dropped columns), so that
        :meth:`Table.numbers` of the others is that matrix, without a copy. Names that are
        no column are ignored: only a hint.

    Returns
    -------
    Table
        A column is float64 when every cell of it that is not empty is a number as Python's
        ``float`` reads it (``01``, `` 1.0 ``, ``"2"``, ``1e3``, ``nan``; an empty cell is
        NaN), else every cell's text, stripped (``True`` and ``TRUE`` are two labels). The
        rule holds for the whole column, whichever parser reads it and in however many
        pieces: pandas' per-piece guesses are not kept.

    Raises
    ------
    ValueError
        For a missing or unreadable file, NUL bytes, a file that is not UTF-8, a quote that
        opens a field never closed, repeated or empty column names, a numeric header row,
        ragged rows or no data, naming the line.
    """
    path = str(path)
    data = file_bytes(path)
    if data[:len(_BOM)] == _BOM:
        data = data[len(_BOM):]
    nul = data.find(b"\0")
    if nul >= 0:
        lineno = data[:nul].count(b"\n") + 1
        raise ValueError(f"{path}, line {lineno}: contains a NUL byte (is it a text file?)")
    # CRLF or CR alone ends a line, as for pandas; inside quotes a CR is text
    data = plain_line_ends(data)
    unclosed = unclosed_quote(data)
    if unclosed is not None:
        lineno = data[:unclosed].count(b"\n") + 1
        raise ValueError(f"{path}, line {lineno}: a quote opens a field that is never closed")
    names, skip = _header(path, data, header)
    start = 0
    for _ in range(skip):
        start = data.find(b"\n", start) + 1 or len(data)
    if not _NOT_SPACE.search(data, start):
        raise ValueError(f"{path}: expected a header row and at least one data row")
    use_pandas = USE_PANDAS
    if use_pandas is None:
        use_pandas = len(data) >= PANDAS_FROM_BYTES or "pandas" in sys.modules
    read = columns_numpy
    if use_pandas:
        try:
            import pandas  # noqa: F401
            read = columns_pandas
        except ImportError:
            pass
    try:
        keep = {column_index(path, names, c) for c in text}
        # both parsers read these bytes, the ones checked, never the file again
        extra = {"apart": _known(path, names, apart)} if read is columns_pandas else {}
        columns = read(path, data, names, skip, header, keep, **extra)
    except UnicodeDecodeError:
        try:
            data[:].decode("utf-8")
        except UnicodeDecodeError as exc:
            lineno = data[:exc.start].count(b"\n") + 1
            raise ValueError(f"{path}, line {lineno}: not UTF-8 text") from None
        raise  # pragma: no cover - the parser and Python agree on UTF-8
    if not columns or not len(columns[0]):
        raise ValueError(f"{path}: expected a header row and at least one data row")
    numeric = [j for j, column in enumerate(columns) if column.dtype.kind == "f"]
    if header and numeric and all(is_number(names[j]) for j in numeric):
        # a "header" with numbers wherever the data has numbers is the first data row
        raise ValueError(f"{path}: the first row "
                         f"({', '.join(shown(name, quote=False) for name in names[:4])}"
                         f"{', ...' if len(names) > 4 else ''}) looks like data, not column "
                         "names: add a header row, or pass --no-header")
    # a short row reads as empty cells at its end: name it as the ragged row it is
    last = columns[-1]
    short = np.flatnonzero(np.isnan(last) if last.dtype.kind == "f" else last == "")
    lines = Lines(data, skip)
    if len(short):
        ragged = lines.ragged_error(path, len(names), short)
        if ragged is not None:
            raise ragged
    return Table(path, names, columns, lines)


def read_arrays(path):
    """(X, y, feature names) of an ``.npz`` file holding ``X`` (and ``y``), or of an ``.npy``
    file holding X (y is then None)."""
    path = str(path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            arrays = {"X": loaded}
        else:
            with loaded:
                arrays = {name: loaded[name] for name in loaded.files}
    except (OSError, ValueError, EOFError) as exc:
        text = "it holds pickled objects" if "pickle" in str(exc) else str(exc)
        raise ValueError(f"cannot read {path}: {text}") from None
    extra = sorted(set(arrays) - {"X", "y"})
    if "X" not in arrays or extra:
        raise ValueError(f"{path}: expected arrays named X and y, got {sorted(arrays)}")
    X, y = arrays["X"], arrays.get("y")
    if X.ndim != 2 or X.dtype.kind not in "biuf" or not X.size:
        raise ValueError(f"{path}: X must be a non-empty 2-D array of numbers, got shape "
                         f"{X.shape} and dtype {X.dtype}")
    X = X.astype(np.float64)
    if not np.isfinite(X).all():
        row = int(np.argmax(~np.isfinite(X).all(axis=1)))
        raise ValueError(f"{path}: X row {row}: NaN or infinity in the data")
    if y is not None and (y.shape != (len(X),) or y.dtype.kind not in "biufU"):
        raise ValueError(f"{path}: y must be a 1-D array of numbers or labels with one "
                         f"entry per row of X ({len(X)}), got shape {y.shape} and dtype "
                         f"{y.dtype}")
    return X, y, [f"x{j}" for j in range(X.shape[1])]
