"""A text file's bytes and where its data rows are, for messages that name the line.

The bytes of a file are read once into a private copy, and everything after (the checks, the
parser, the messages) works on that copy: a file that another program shortens or rewrites
meanwhile cannot change what was checked, nor crash the process as a shortened memory map
would (SIGBUS). A change of size while the bytes are read is refused in one line.

Line ends are made ``\\n`` outside quoted fields only (CRLF and a CR alone end a line, as for
pandas); text inside quotes is never rewritten. The line of a data row is found from one
vectorised pass over the line ends, made only when a message needs it, so naming a bad row
near the end of a million-line file costs no Python loop over the lines before it. Lines are
counted as ``\\n``-separated, as they are numbered in an editor; a quoted field that holds a line
break is not followed (a message then names the line where the row starts to differ).
"""

from __future__ import annotations

import os
import re
import stat

import numpy as np

# what bytes.strip() removes: a line made of these holds no row
_WHITESPACE = np.frombuffer(b" \t\n\r\x0b\x0c", dtype=np.uint8)
# the line ends are searched in pieces of this many bytes, so no file-sized mask is made
_PIECE = 1 << 24


def file_bytes(path):
    """The bytes of file ``path``, read once into memory (a private copy).

    Raises
    ------
    ValueError
        ``cannot read data.csv: No such file or directory``, for any error of the system;
        ``data.csv changed while being read`` when its size or time of change differ before
        and after the read (another program was writing it).
    """
    try:
        # unbuffered: readall() sizes one buffer from the file's size and reads into it
        with open(path, "rb", buffering=0) as f:
            before = os.fstat(f.fileno())
            data = f.read()
            after = os.fstat(f.fileno())
    except MemoryError:
        raise ValueError(f"cannot read {path}: not enough memory for its "
                         f"{before.st_size:,} bytes") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISREG(before.st_mode) and (
            len(data) != before.st_size or after.st_size != before.st_size
            or after.st_mtime_ns != before.st_mtime_ns):
        raise ValueError(f"{path} changed while being read (another program is writing it?): "
                         "read it again once it is complete")
    return data


# bytes after which a quote opens a quoted field: the start of a field
_FIELD_START = np.frombuffer(b",\n\r", dtype=np.uint8)
_SPACES_LINE = re.compile(rb"\n[ \t\x0b\x0c]+(?=\n|\Z)")
# one field at a field's start: quoted (a doubled quote is one; text after the closing quote
# is kept, as pandas and numpy keep it), or plain up to the next comma
_FIELD = re.compile(r'"((?:[^"]+|"")*)"?([^,]*)|([^,]*)')


def split_fields(line: str) -> list:
    """The fields of one line of CSV text, as pandas and numpy split them (no limit on a
    field's length, unlike the csv module's). An empty line has no fields."""
    if not line:
        return []
    fields, pos = [], 0
    while True:
        match = _FIELD.match(line, pos)
        plain = match.group(3)
        fields.append(plain if plain is not None else
                      match.group(1).replace('""', '"') + match.group(2))
        pos = match.end()
        if pos >= len(line):
            return fields
        pos += 1  # the comma


def _quoted(data):
    """(opens, closes): the positions of the quotes that open and close each quoted field, as
    pandas and numpy tokenize; an unclosed field closes at the end of the data.

    A quote opens a field only at a field's start; inside, a doubled quote is one quote
    character. When every quote pairs up that way (the usual file), the pairs are read in one
    vectorised pass; otherwise (a quote inside an unquoted field, ``12" pipe``) the quotes
    alone are walked in order."""
    buf = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(buf == ord('"'))
    if len(quotes) % 2 == 0:
        opens, closes = quotes[0::2], quotes[1::2]
        prev = buf[np.maximum(opens - 1, 0)]
        after = buf[np.minimum(closes + 1, len(buf) - 1)]
        escaped = np.zeros(len(opens), dtype=bool)  # "" inside a field: a close then an open
        escaped[1:] = opens[1:] == closes[:-1] + 1
        open_ok = (opens == 0) | np.isin(prev, _FIELD_START) | escaped
        close_ok = (closes == len(buf) - 1) | np.isin(after, _FIELD_START)
        close_ok[:-1] |= escaped[1:]
        if open_ok.all() and close_ok.all():
            return opens, closes
    opens, closes, inside, k = [], [], False, 0
    while k < len(quotes):
        p = quotes[k]
        if not inside:
            if p == 0 or buf[p - 1] in _FIELD_START:
                inside = True
                opens.append(p)
        elif k + 1 < len(quotes) and quotes[k + 1] == p + 1:
            k += 1  # a doubled quote inside the field
        else:
            inside = False
            closes.append(p)
        k += 1
    if inside:
        closes.append(len(buf))
    return np.array(opens, dtype=np.intp), np.array(closes, dtype=np.intp)


def unclosed_quote(data: bytes):
    """The offset of the quote that opens a field never closed (the rest of the file would
    be its text), or None."""
    if data.find(b'"') < 0:
        return None
    opens, closes = _quoted(data)
    return int(opens[-1]) if len(closes) and closes[-1] >= len(data) else None


def _outside_quotes(data, positions):
    """Which of ``positions`` (sorted byte offsets, not of quotes) lie outside quoted fields."""
    opens, closes = _quoted(data)
    k = np.searchsorted(opens, positions) - 1
    return (k < 0) | (positions > closes[np.maximum(k, 0)])


def plain_line_ends(data: bytes) -> bytes:
    """``data`` with CRLF and a CR alone made ``\\n``, outside quoted fields only."""
    if data.find(b"\r") < 0:
        return data
    if data.find(b'"') < 0:
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    buf = np.frombuffer(data, dtype=np.uint8)
    cr = np.flatnonzero(buf == ord("\r"))
    cr = cr[_outside_quotes(data, cr)]
    crlf = buf[np.minimum(cr + 1, len(buf) - 1)] == ord("\n")
    crlf &= cr + 1 < len(buf)
    out = buf.copy()
    out[cr[~crlf]] = ord("\n")
    return np.delete(out, cr[crlf]).tobytes()


def pieces(data: bytes, start: int, size: int) -> list:
    """Offsets that cut ``data[start:]`` into pieces of about ``size`` bytes, each cut at the
    start of a line outside quoted fields, so that every piece holds whole rows: ``[start,
    ..., len(data)]``."""
    cuts = [start]
    quoted = data.find(b'"', start) >= 0
    if quoted:
        opens, closes = _quoted(data)
    target = start + size
    while target < len(data):
        end = data.find(b"\n", target)
        if end < 0 or end + 1 >= len(data):
            break
        if quoted:
            k = int(np.searchsorted(opens, end)) - 1
            if k >= 0 and end < closes[k]:  # a line break inside a quoted field
                target = int(closes[k]) + 1
                continue
        cuts.append(end + 1)
        target = end + 1 + size
    cuts.append(len(data))
    return cuts


def blank_space_lines(data: bytes) -> bytes:
    """``data`` with each line of spaces or tabs outside quoted fields made empty, so that a
    parser that skips only empty lines skips it, as pandas and :class:`Lines` do."""
    found = [m.span() for m in _SPACES_LINE.finditer(data)]
    if not found:
        return data
    spans = np.array(found, dtype=np.intp)
    if data.find(b'"') >= 0:
        spans = spans[_outside_quotes(data, spans[:, 0])]
    pieces, last = [], 0
    for start, end in spans:
        pieces.append(data[last:start + 1])
        last = end
    pieces.append(data[last:])
    return b"".join(pieces)


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
    data : bytes
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
        """The raw fields of data row ``row``, as :func:`split_fields` splits them."""
        _, starts, ends = self._rows()
        if row >= len(starts):
            return []
        text = self.data[starts[row]:ends[row]].decode("utf-8", "replace")
        return split_fields(text)

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
