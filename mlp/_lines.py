"""A text file's bytes and where its data rows are, for messages that name the line.

The bytes of a regular file are mapped, not read, so a file of a hundred megabytes is scanned
(for NUL bytes, line ends, its header) without a copy. The line of a data row is found from one
vectorised pass over the line ends, made only when a message needs it, so naming a bad row
near the end of a million-line file costs no Python loop over the lines before it. Lines are
counted as ``\\n``-separated, as they are numbered in an editor; a quoted field that holds a line
break is not followed (a message then names the line where the row starts to differ).
"""

from __future__ import annotations

import csv
import mmap

import numpy as np

# what bytes.strip() removes: a line made of these holds no row
_WHITESPACE = np.frombuffer(b" \t\n\r\x0b\x0c", dtype=np.uint8)
# the line ends are searched in pieces of this many bytes, so no file-sized mask is made
_PIECE = 1 << 24


def file_bytes(path):
    """The bytes of file ``path``: a read-only map for a regular file, else read (empty, a pipe).

    Raises
    ------
    ValueError
        ``cannot read data.csv: No such file or directory``, for any error of the system.
    """
    try:
        with open(path, "rb") as f:
            try:
                return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                return f.read()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None


def _line_ends(data) -> np.ndarray:
    buf = np.frombuffer(data, dtype=np.uint8)
    pieces = [np.flatnonzero(buf[start:start + _PIECE] == ord("\n")) + start
              for start in range(0, len(buf), _PIECE)]
    return np.concatenate(pieces) if pieces else np.empty(0, dtype=np.intp)


class Lines:
    """The data rows of a CSV file's bytes: row ``i`` (0-based) is the i-th non-blank line
    after the first ``skip`` lines.

    Parameters
    ----------
    data : bytes or mmap
        The file's bytes, CRLF line ends already made ``\\n``.
    skip : int
        The lines before the data (blank lines and the header row).
    """

    def __init__(self, data, skip):
        self.data, self.skip = data, skip
        self._index = None

    def _rows(self):
        """(line numbers, start offsets, end offsets) of the data rows, made once."""
        if self._index is None:
            ends = _line_ends(self.data)
            starts = np.concatenate(([0], ends + 1))
            ends = np.append(ends, len(self.data))
            keep = np.arange(len(starts)) >= self.skip
            # only a line that is empty or starts with white space can be blank
            first = np.frombuffer(self.data, dtype=np.uint8)[np.minimum(starts, len(self.data) - 1)]
            maybe = np.flatnonzero(keep & ((ends == starts) | np.isin(first, _WHITESPACE)))
            for i in maybe:
                keep[i] = bool(self.data[starts[i]:ends[i]].strip())
            rows = np.flatnonzero(keep)
            self._index = (rows + 1, starts[rows], ends[rows])
        return self._index

    def line(self, row) -> int:
        """The file's line number (from 1) of data row ``row``."""
        numbers = self._rows()[0]
        return int(numbers[row]) if row < len(numbers) else row + self.skip + 1

    def fields(self, row) -> list:
        """The raw fields of data row ``row``, as the csv module splits them."""
        _, starts, ends = self._rows()
        if row >= len(starts):
            return []
        text = self.data[starts[row]:ends[row]].decode("utf-8", "replace")
        return next(csv.reader([text]), [])

    def field_counts(self) -> np.ndarray:
        """The number of fields of each data row: its commas outside quotes, plus one.

        One vectorised pass: a comma after an odd number of quote characters is inside a
        quoted field (a doubled quote inside a field counts twice, so it changes nothing)."""
        _, starts, ends = self._rows()
        buf = np.frombuffer(self.data, dtype=np.uint8)
        counts = np.ones(len(starts), dtype=np.intp)
        quotes_before = 0
        for start in range(0, len(buf), _PIECE):
            piece = buf[start:start + _PIECE]
            commas = np.flatnonzero(piece == ord(","))
            quotes = np.flatnonzero(piece == ord('"'))
            if len(quotes):
                inside = (np.searchsorted(quotes, commas) + quotes_before) % 2 == 1
                commas = commas[~inside]
            quotes_before += len(quotes)
            commas += start
            counts += np.searchsorted(commas, ends) - np.searchsorted(commas, starts)
        return counts

    def ragged(self, rows, n):
        """The first of ``rows`` (in file order) that has not ``n`` fields, as (line number,
        fields), or None."""
        numbers, starts, ends = self._rows()
        for row in rows:
            text = self.data[starts[row]:ends[row]]
            # without quotes, the fields are what the commas separate
            count = text.count(b",") + 1 if b'"' not in text else len(self.fields(row))
            if count != n:
                return int(numbers[row]), count
        return None

    def ragged_error(self, path, n, rows=None):
        """ValueError naming the first ragged row among ``rows`` (default all), or None."""
        if rows is None:
            rows = range(len(self._rows()[0]))
        found = self.ragged(rows, n)
        if found is None:
            return None
        return ValueError(f"{path}, line {found[0]}: expected {n} fields, got {found[1]}")
