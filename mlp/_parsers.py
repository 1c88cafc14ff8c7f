"""The two CSV parsers behind :func:`mlp.tables.read_table`, each returning the columns of
a file's data rows (float64 where every cell is a number, else the stripped text).

Both read the same bytes, the ones :func:`mlp.tables.read_table` checked, and give the same
columns for every file: pandas' C parser reads them as an in-memory file (no compression,
no path to interpret), or, for a file whose bytes needed no change (no byte-order mark, no
CR), the file itself by its absolute path, which pandas parses in several threads when the
machine has cores to spare (1.8x faster on 2 cores for a 1,000,000-row file); numpy's reads
numbers straight to float64 and only the text columns as strings. Either refuses a ragged row
with its line named, and lets UnicodeDecodeError through for the caller to name the line of."""

from __future__ import annotations

import io
import os
import re
import warnings

import numpy as np

from ._lines import Lines, blank_space_lines, same_file, split_fields
from ._text import shown

_NOT_SPACE = re.compile(rb"\S")


def is_number(text) -> bool:
    """Whether Python reads ``text`` as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_error(path, data, n, skip, exc):
    """A parser's error as one message: the first ragged line when there is one, else the
    parser's own last line."""
    ragged = Lines(data, skip).ragged_error(path, n)
    # the parser's line may quote a cell of any length
    line = shown(str(exc).strip().splitlines()[-1], limit=160, quote=False)
    return ragged or ValueError(f"{path}: {line}")


def columns_pandas(path, data, names, skip, header, keep, unchanged=None):
    """The columns as pandas reads the bytes ``data``.

    ``data`` (CRLF made LF, no byte-order mark) names a ragged line; ``skip`` lines come
    before the data, the last of them the header when ``header``; the columns in ``keep``
    (indices) stay text. ``unchanged``, when given, is the ``os.stat`` of the file that
    ``data`` is byte for byte: pandas then reads the file itself (in parallel), and when the
    file is no longer the same afterwards, ``data`` after all.
    """
    import pandas as pd

    options = {"compression": None, "header": 0 if header else None, "skip_blank_lines": True,
               "keep_default_na": False, "na_values": [""], "encoding": "utf-8",
               "dtype": {j: str for j in keep}}
    frame = None
    try:
        with warnings.catch_warnings():
            # a column of mixed cells comes back as text, which is checked below
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            if unchanged is not None:
                try:
                    # by its absolute path: no part of the name is a home folder or a URL
                    frame = pd.read_csv(os.path.abspath(path), **options)
                except (OSError, UnicodeDecodeError, pd.errors.ParserError,
                        pd.errors.EmptyDataError):
                    pass  # the bytes say what is wrong (below)
                if not same_file(path, unchanged):
                    frame = None  # another program wrote it meanwhile: the bytes checked
            if frame is None:
                frame = pd.read_csv(io.BytesIO(data), **options)
    except pd.errors.ParserError as exc:
        raise _parse_error(path, data, len(names), skip, exc) from None
    except pd.errors.EmptyDataError:
        return []
    columns = []
    for j in range(len(names)):
        column = frame.iloc[:, j]
        if j in keep:
            columns.append(column.fillna("").str.strip().to_numpy(dtype=str))
        elif column.dtype.kind in "iufb":
            columns.append(column.to_numpy(dtype=np.float64))
        else:
            text = column.astype(str).str.strip()
            text[column.isna()] = ""
            numbers = pd.to_numeric(text, errors="coerce")
            # a column of numbers with empty or "nan" cells stays numeric: numbers() names them
            not_number = numbers.isna() & (text != "") & (text.str.lower() != "nan")
            odd = text[not_number]
            if len(odd) and is_number(odd.iloc[0]) and all(map(is_number, odd)):
                # numbers pandas gives up on (thousands of digits) read as numpy reads them
                numbers[not_number] = odd.map(float)
                not_number[:] = False
            if not not_number.any():
                columns.append(numbers.to_numpy(dtype=np.float64))
            else:
                columns.append(text.to_numpy(dtype=str))
    return columns


def _loadtxt(data, dtype, **options):
    with warnings.catch_warnings():
        # text is read in pieces of a set number of rows, and numpy warns that a blank line
        # is not counted among them: blank lines are skipped on purpose
        warnings.filterwarnings("ignore", "Input line", UserWarning)
        return np.loadtxt(io.BytesIO(data), dtype=dtype, **options)


def _first_row(data, skip) -> list:
    """The stripped cells of the first non-blank line after ``skip`` lines."""
    start = 0
    for _ in range(skip):
        start = data.find(b"\n", start) + 1 or len(data)
    start = data.rfind(b"\n", 0, _NOT_SPACE.search(data, start).start()) + 1
    end = data.find(b"\n", start)
    text = data[start:len(data) if end < 0 else end].decode("utf-8", "replace")
    return [cell.strip() for cell in split_fields(text)]


def _numbers_and_text(data, skip, n, text, options):
    """The columns read in two passes, numbers straight to float64 and only ``text`` as str;
    None when a column of numbers holds something else or a row is ragged (the caller then
    reads every cell as text, to name it)."""
    numbers = [j for j in range(n) if j not in text]
    try:
        X = _loadtxt(data, np.float64, usecols=numbers, **options)
        cells = _loadtxt(data, str, usecols=text, **options)
    except UnicodeDecodeError:
        raise
    except ValueError:
        return None
    counts = Lines(data, skip).field_counts()  # usecols lets a long row through
    if len(counts) != len(X) or (counts != n).any():
        return None
    columns = [None] * n
    for k, j in enumerate(numbers):
        columns[j] = X[:, k]
    for k, j in enumerate(text):
        columns[j] = np.char.strip(cells[:, k])
    return columns


def columns_numpy(path, data, names, skip, header, keep):
    """The columns as numpy's parser reads ``data``; arguments as for :func:`columns_pandas`."""
    options = {"delimiter": ",", "quotechar": '"', "skiprows": skip, "ndmin": 2,
               "encoding": "utf-8", "comments": None}
    data = blank_space_lines(data)  # a line of spaces is blank, as pandas and Lines see it
    first = _first_row(data, skip)
    text = [j for j, cell in enumerate(first) if j in keep or not is_number(cell)]
    if len(first) == len(names) and 0 < len(text) < len(names):
        # labels beside numbers: the numbers need not pass through Python strings
        columns = _numbers_and_text(data, skip, len(names), text, options)
        if columns is not None:
            return columns
    try:  # all numbers: numpy's C parser straight to float64
        if text:
            raise ValueError("some columns hold text")
        cells = _loadtxt(data, np.float64, **options)
    except UnicodeDecodeError:
        raise
    except ValueError:  # labels, empty cells or ragged rows: read text, then convert
        try:
            cells = _loadtxt(data, str, **options)
        except UnicodeDecodeError:
            raise
        except ValueError as exc:
            raise _parse_error(path, data, len(names), skip, exc) from None
    if not cells.size:
        return []
    if cells.shape[1] != len(names):
        raise ValueError(f"{path}, line {skip + 1}: expected {len(names)} fields, got "
                         f"{cells.shape[1]}")
    if cells.dtype == np.float64:
        return [cells[:, j] for j in range(cells.shape[1])]
    columns = []
    for j in range(cells.shape[1]):
        cell_text = np.char.strip(cells[:, j])
        try:
            if j in keep:
                raise ValueError
            columns.append(cell_text.astype(np.float64))
        except ValueError:
            columns.append(cell_text)
    return columns


#: Read with pandas when it is installed (True) or with numpy's parser (False). None: pandas
#: for a file of :data:`PANDAS_FROM_BYTES` or more, or once pandas is imported anyway; numpy
#: for a smaller file, which it parses in less time than pandas takes to import (0.2 s).
