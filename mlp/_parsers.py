"""The two CSV parsers behind :func:`mlp.tables.read_table`, each returning the columns of
a file's data rows: float64 where every cell that is not empty is a number, else every cell's
stripped text (:func:`text_or_numbers`, one rule for both).

Both read the same bytes, the ones :func:`mlp.tables.read_table` checked, never the file
again, and give the same columns for every file, whatever its size: pandas' C parser reads
them as in-memory files (no compression, no path to interpret), a large file cut at line
starts into pieces parsed in threads; numpy's reads numbers straight to float64 and only the
text columns as strings. Either refuses a ragged row with its line named, and lets
UnicodeDecodeError through for the caller to name the line of."""

from __future__ import annotations

import io
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._lines import Lines, blank_space_lines, pieces, split_fields
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


#: Bytes of a file parsed as one piece by pandas; a larger file is cut into pieces at line
#: starts, parsed in threads (pandas' tokenizer releases the GIL).
PIECE_BYTES = 4 << 20
#: The most threads that parse pieces at once.
MAX_THREADS = 4


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class _Piece:
    """A piece of bytes as a file that pandas reads: each ``read`` copies only what it asks
    for (an ``io.BytesIO`` would first copy the whole piece)."""

    def __init__(self, view):
        self.view, self.at = view, 0

    def read(self, size=-1):
        end = len(self.view) if size is None or size < 0 else self.at + size
        out = self.view[self.at:end].tobytes()
        self.at += len(out)
        return out


def _read_piece(piece, n, text, only=None, skip=0):
    """A DataFrame of the rows of one piece of CSV bytes (a memoryview), after ``skip``
    lines: columns 0..n-1, those in ``text`` as strings; ``only``: just these columns."""
    import pandas as pd

    return pd.read_csv(_Piece(piece), header=None, names=range(n), usecols=only,
                       skiprows=skip,
                       dtype={j: str for j in text}, compression=None, encoding="utf-8",
                       skip_blank_lines=True, keep_default_na=False, na_values=[""],
                       low_memory=False)


def text_or_numbers(text: np.ndarray) -> np.ndarray:
    """A column's stripped cells as float64 when every cell that is not empty is a number
    as Python's ``float`` reads it (an empty cell is then NaN), else the cells as they are.

    This is what decides a column's type, for both parsers and whatever the file's size:
    one text cell makes the whole column text, each cell exactly as the file writes it
    (``01``, ``1`` and ``1.0`` are then three different labels)."""
    try:
        return np.where(text == "", "nan", text).astype(np.float64)
    except ValueError:
        return text


def _column_text(parts) -> np.ndarray:
    """The stripped cells of a column's string pieces (pandas Series, NaN for empty)."""
    import pandas as pd

    column = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return column.fillna("").str.strip().to_numpy(dtype=str)


def gather(columns, out):
    """Write ``columns`` (k arrays of shape (N,)) into ``out`` (N, k), in blocks of rows that
    stay in cache: writing whole columns would stride through all of ``out``."""
    for start in range(0, len(out), 2**12):
        block = out[start:start + 2**12]
        for k, column in enumerate(columns):
            block[:, k] = column[start:start + 2**12]


def _gather_piece(frame, numbers, all_numeric, out):
    """Write the columns ``numbers`` of a piece's DataFrame into ``out`` (rows, len(numbers))."""
    if not numbers:
        return
    if all_numeric:  # one block: its rows, without a Series per column
        values = frame.to_numpy(np.float64)
        first = numbers[0]
        contiguous = numbers == list(range(first, first + len(numbers)))
        out[...] = values[:, first:first + len(numbers)] if contiguous else values[:, numbers]
    else:
        gather([frame.iloc[:, j].to_numpy(np.float64) for j in numbers], out)


def _run(pool, task, items):
    return list(pool.map(task, items)) if pool is not None else [task(i) for i in items]


def columns_pandas(path, data, names, skip, header, keep, apart=()):
    """The columns as pandas reads the bytes ``data``.

    ``data`` (CRLF made LF, no byte-order mark) names a ragged line; ``skip`` lines come
    before the data, the last of them the header when ``header``; the columns in ``keep``
    (indices) stay text. Pandas guesses a type for each piece of a file apart; here a column
    is numbers only when it is numbers in every piece, and otherwise every piece's cells are
    read again as the file's text (see :func:`text_or_numbers`). The columns of numbers are
    the columns of one C-ordered matrix (N, number of them), filled piece by piece, but for
    those in ``apart`` (indices), each an array of its own.
    """
    n = len(names)
    start = _data_start(data, skip)
    cuts = pieces(data, start, PIECE_BYTES)
    bounds = list(zip(cuts[:-1], cuts[1:], strict=True))
    if any(len(_first_row(data, a, b)) > n for a, b in bounds):
        # pandas would make the extra fields of a piece's first row its index, silently
        raise Lines(data, skip).ragged_error(path, n) or ValueError(
            f"{path}: a row has more than {n} fields")
    threads = min(MAX_THREADS, _cores(), len(bounds))
    if threads < 2:
        return _columns_of_pieces(None, path, data, names, skip, (keep, apart), bounds)
    with ThreadPoolExecutor(threads) as pool:
        return _columns_of_pieces(pool, path, data, names, skip, (keep, apart), bounds)


def _columns_of_pieces(pool, path, data, names, skip, kinds, bounds):
    import pandas as pd

    (keep, apart), n, view = kinds, len(names), memoryview(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            frames = _run(pool, lambda b: _read_piece(view[b[0]:b[1]], n, keep), bounds)
    except pd.errors.ParserError as exc:
        error = exc
        if len(bounds) > 1:
            try:  # the parser's own message counts lines from the start of the file
                _read_piece(view, n, keep, skip=skip)
            except pd.errors.ParserError as whole:
                error = whole
        raise _parse_error(path, data, n, skip, error) from None
    except pd.errors.EmptyDataError:
        return []
    read = [(bound, frame) for bound, frame in zip(bounds, frames, strict=True) if len(frame)]
    if not read:
        return []
    dtypes = [list(frame.dtypes) for _, frame in read]
    numeric = [j not in keep and all(types[j].kind in "iuf" for types in dtypes)
               for j in range(n)]
    for ((a, b), frame), types in zip(read, dtypes, strict=True):
        exact = [j for j in range(n) if not numeric[j] and j not in keep
                 and not isinstance(types[j], pd.StringDtype)]
        if exact:  # the numbers or booleans of this piece, as the file writes them
            again = _read_piece(view[a:b], n, exact, exact)
            for j in exact:
                frame[j] = again[j]
    numbers = [j for j in range(n) if numeric[j] and j not in apart]
    ends = np.cumsum([len(frame) for _, frame in read])
    matrix = np.empty((ends[-1], len(numbers)), dtype=np.float64)
    _run(pool, lambda k: _gather_piece(read[k][1], numbers, all(numeric),
                                       matrix[ends[k] - len(read[k][1]):ends[k]]),
         range(len(read)))
    columns = []
    for j in range(n):
        if numeric[j]:
            columns.append(matrix[:, numbers.index(j)] if j not in apart else np.concatenate(
                [frame.iloc[:, j].to_numpy(np.float64) for _, frame in read]))
            continue
        text = _column_text([frame.iloc[:, j] for _, frame in read])
        columns.append(text if j in keep else text_or_numbers(text))
    return columns


def _loadtxt(data, dtype, **options):
    with warnings.catch_warnings():
        # text is read in pieces of a set number of rows, and numpy warns that a blank line
        # is not counted among them: blank lines are skipped on purpose
        warnings.filterwarnings("ignore", "Input line", UserWarning)
        return np.loadtxt(io.BytesIO(data), dtype=dtype, **options)


def _data_start(data, skip) -> int:
    """The offset of the line after the first ``skip`` lines."""
    start = 0
    for _ in range(skip):
        start = data.find(b"\n", start) + 1 or len(data)
    return start


def _first_row(data, start, end=None) -> list:
    """The stripped cells of the first non-blank line in ``data[start:end]`` ([] if none)."""
    found = _NOT_SPACE.search(data, start, len(data) if end is None else end)
    if found is None:
        return []
    start = data.rfind(b"\n", 0, found.start()) + 1
    end = data.find(b"\n", start)
    text = data[start:len(data) if end < 0 else end].decode("utf-8", "replace")
    return [cell.strip() for cell in split_fields(text)]


def _numbers_and_text(data, skip, n, text, keep, options):
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
        cell_text = np.char.strip(cells[:, k])
        columns[j] = cell_text if j in keep else text_or_numbers(cell_text)
    return columns


def columns_numpy(path, data, names, skip, header, keep):
    """The columns as numpy's parser reads ``data``; arguments as for :func:`columns_pandas`."""
    options = {"delimiter": ",", "quotechar": '"', "skiprows": skip, "ndmin": 2,
               "encoding": "utf-8", "comments": None}
    data = blank_space_lines(data)  # a line of spaces is blank, as pandas and Lines see it
    first = _first_row(data, _data_start(data, skip))
    text = [j for j, cell in enumerate(first) if j in keep or not is_number(cell)]
    if len(first) == len(names) and 0 < len(text) < len(names):
        # labels beside numbers: the numbers need not pass through Python strings
        columns = _numbers_and_text(data, skip, len(names), text, keep, options)
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
        columns.append(cell_text if j in keep else text_or_numbers(cell_text))
    return columns

