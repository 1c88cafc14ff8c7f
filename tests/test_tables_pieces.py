"""A column's type and cells do not depend on how the file is cut into pieces, nor on which
parser reads it: a large file is parsed by pandas in pieces, each typed apart, and an odd cell
far down the file (in a late piece) must give the same columns as numpy's parser gives."""

import numpy as np
import pytest

from mlp import _parsers, tables
from mlp.datasets import load_csv
from mlp.tables import read_table

ROWS = 60_000  # 6 bytes a row: 360 kB, six pieces of 64 kB
EARLY, MIDDLE, LATE = 3, ROWS // 2, ROWS - 5  # data rows; the header is line 1


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(_parsers, "PIECE_BYTES", 1 << 16)


def write(tmp_path, edits, rows=ROWS):
    """A file ``a,y`` of ``rows`` rows ``0.5,1``, with the rows in ``edits`` replaced."""
    lines = ["0.5,1"] * rows
    for row, text in edits.items():
        lines[row] = text
    path = tmp_path / "t.csv"
    path.write_text("a,y\n" + "\n".join(lines) + "\n")
    return path


def read_by_both(path, monkeypatch):
    """The columns as each parser reads them (the same kind and cells), or their messages."""
    out = []
    for use in (True, False):
        monkeypatch.setattr(tables, "USE_PANDAS", use)
        try:
            out.append(read_table(path).columns)
        except ValueError as exc:
            out.append(str(exc))
    by_pandas, by_numpy = out
    if isinstance(by_pandas, str) or isinstance(by_numpy, str):
        assert by_pandas == by_numpy
        return by_pandas
    assert [c.dtype.kind for c in by_pandas] == [c.dtype.kind for c in by_numpy]
    for p, q in zip(by_pandas, by_numpy, strict=True):
        np.testing.assert_array_equal(p, q)
    return by_pandas


def expected_labels(edits, rows=ROWS):
    y = np.full(rows, "1", dtype=object)
    for row, text in edits.items():
        y[row] = text.split(",", 1)[1]
    return y.astype(str)


@pytest.mark.parametrize("edits", [
    {EARLY: "0.5,01", MIDDLE: "0.5,1.0", LATE: "0.5,cat"},
    {EARLY: "0.5,cat", MIDDLE: "0.5,01", LATE: "0.5,1.0"},
    {EARLY: "0.5,True", MIDDLE: "0.5,TRUE", LATE: "0.5,no"},
    {EARLY: "0.5,True", MIDDLE: "0.5,false", LATE: "0.5,FALSE"},
    {EARLY: "0.5,1e0", LATE: "0.5, x "},
], ids=["numbers-then-text", "text-then-numbers", "booleans", "only-booleans", "spaces"])
def test_labels_are_the_files_text_in_every_piece(tmp_path, monkeypatch, small_pieces, edits):
    path = write(tmp_path, edits)
    a, y = read_by_both(path, monkeypatch)
    np.testing.assert_array_equal(a, np.full(ROWS, 0.5))
    labels = np.char.strip(expected_labels(edits))
    assert y.dtype.kind == "U"
    np.testing.assert_array_equal(y, labels)
    for use in (True, False):
        monkeypatch.setattr(tables, "USE_PANDAS", use)
        data = load_csv(path)
        assert data.classes == sorted(set(labels))
        assert [data.classes[k] for k in data.y[[EARLY, MIDDLE, LATE]]] == \
            list(labels[[EARLY, MIDDLE, LATE]])


def test_a_column_of_numbers_written_differently_is_numbers(tmp_path, monkeypatch,
                                                            small_pieces):
    path = write(tmp_path, {EARLY: "0.5,01", MIDDLE: "0.5,1.0", LATE: '0.5,"1e0"'})
    a, y = read_by_both(path, monkeypatch)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, np.ones(ROWS))


@pytest.mark.parametrize(("text", "kind", "message"), [
    ("abc,1", "U", "column 'a': expected a number, got 'abc'"),
    (",1", "f", "column 'a': empty cell"),
    ("  ,1", "f", "column 'a': empty cell"),
    ("nan,1", "f", "column 'a': NaN or infinity in the data"),
    ("1_000,1", "f", None),
    ('"2.5",1', "f", None),
    ('" 2.5 ",1', "f", None),
    ("True,1", "U", "column 'a': expected a number, got 'True'"),
    ("1" * 300 + ",1", "f", None),
], ids=["text", "empty", "spaces", "nan", "underscore", "quoted", "quoted-spaces", "boolean",
        "many-digits"])
def test_a_late_odd_feature_cell_gives_one_answer(tmp_path, monkeypatch, small_pieces, text,
                                                  kind, message):
    path = write(tmp_path, {LATE: text})
    a, y = read_by_both(path, monkeypatch)
    assert a.dtype.kind == kind
    cell = text.rsplit(",", 1)[0].strip().strip('"').strip()
    if kind == "U":  # one text cell: every cell is the file's text
        assert a[0] == "0.5"
        assert a[LATE] == cell
    elif cell not in ("", "nan"):
        assert a[LATE] == float(cell)
        np.testing.assert_array_equal(np.delete(a, LATE), 0.5)
    for use in (True, False):
        monkeypatch.setattr(tables, "USE_PANDAS", use)
        if message is None:
            assert load_csv(path).X[LATE, 0] == float(cell)
            continue
        with pytest.raises(ValueError, match=rf"t.csv, line {LATE + 2}, {message}"):
            load_csv(path)


@pytest.mark.parametrize(("text", "message"), [
    ("0.5,1,2", "expected 2 fields, got 3"),
    ("0.5,1,2,3", "expected 2 fields, got 4"),
    ("0.5", "expected 2 fields, got 1"),
], ids=["long", "longer", "short"])
@pytest.mark.parametrize("row", [0, 1 << 14, LATE], ids=["first", "piece-start", "late"])
def test_a_ragged_row_in_any_piece_is_named(tmp_path, monkeypatch, small_pieces, text,
                                            message, row):
    # 4 bytes of each 6-byte row: row 2**14 starts near, not at, a piece; the first rows of
    # every piece are checked, so a long one cannot become pandas' index
    path = write(tmp_path, {row: text})
    found = read_by_both(path, monkeypatch)
    assert found == f"{path}, line {row + 2}: {message}"


def test_a_long_first_row_of_a_small_file_is_not_an_index(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,3,4\n5,6,7\n")
    assert read_by_both(path, monkeypatch) == f"{path}, line 2: expected 3 fields, got 4"


@pytest.mark.parametrize("where", [EARLY, LATE])
def test_an_unclosed_quote_is_refused_by_both(tmp_path, monkeypatch, small_pieces, where):
    path = write(tmp_path, {where: '0.5,"open'})
    found = read_by_both(path, monkeypatch)
    assert found == f"{path}, line {where + 2}: a quote opens a field that is never closed"


def test_pieces_are_cut_at_line_starts_outside_quotes():
    from mlp._lines import pieces

    data = b'a,y\n' + b'1,"x\ny\nz"\n' * 100
    cuts = pieces(data, 4, 7)
    assert cuts[0] == 4
    assert cuts[-1] == len(data)
    assert all(data[cut - 1:cut] == b"\n" and data[cut:cut + 2] == b'1,' for cut in cuts[1:-1])
    assert len(cuts) == 101


def test_quoted_line_breaks_across_pieces(tmp_path, monkeypatch, small_pieces):
    lines = ['a,y'] + [f'{i},"x\n{i}"' for i in range(30_000)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    a, y = read_by_both(path, monkeypatch)
    np.testing.assert_array_equal(a, np.arange(30_000.0))
    assert y[29_999] == "x\n29999"


def test_pandas_own_piece_size(tmp_path, monkeypatch):
    """A file over two pieces of the size pandas really uses, the odd label in the last."""
    rows = (_parsers.PIECE_BYTES * 2) // 6 + 1000
    edits = {EARLY: "0.5,01", rows - 3: "0.5,cat"}
    path = write(tmp_path, edits, rows=rows)
    monkeypatch.setattr(tables, "USE_PANDAS", True)
    y = read_table(path).columns[1]
    np.testing.assert_array_equal(y, expected_labels(edits, rows))


CELLS = ["1", "01", "1.0", " 2.5 ", '"3"', "", "  ", "nan", "-inf", "-0.5e3", "1_000", "True",
         "false", "cat", '"x, y"', '"a""b"', "\u0661", "\u00a01", "9" * 25,
         "-9223372036854775809", "18446744073709551616", '" "', "1e999"]


@pytest.mark.parametrize("seed", range(40))
def test_random_files_of_odd_cells_read_the_same_by_both(tmp_path, monkeypatch, seed):
    rng = np.random.default_rng(seed)
    monkeypatch.setattr(_parsers, "PIECE_BYTES", int(rng.integers(8, 64)))
    n = int(rng.integers(1, 4))
    # each column draws from a few kinds of cell, so some columns are all numbers
    vocab = [rng.choice(CELLS, size=int(rng.integers(1, 4))) for _ in range(n)]
    rows = [",".join(rng.choice(v) for v in vocab) for _ in range(int(rng.integers(1, 60)))]
    path = tmp_path / "t.csv"
    path.write_text(",".join(f"c{j}" for j in range(n)) + "\n" + "\n".join(rows) + "\n")
    read_by_both(path, monkeypatch)


def test_pandas_is_never_given_the_path(tmp_path, monkeypatch):
    """pandas maps a file it reads by path in parallel; a program that truncates the file
    meanwhile would kill the process (SIGBUS): it parses the checked bytes only."""
    import pandas as pd

    given = []
    real = pd.read_csv

    def read_csv(source, *args, **kwargs):
        given.append(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pd, "read_csv", read_csv)
    monkeypatch.setattr(tables, "USE_PANDAS", True)
    path = write(tmp_path, {LATE: "0.5,cat"})
    assert read_table(path).columns[1][LATE] == "cat"
    assert given
    assert not any(isinstance(source, (str, bytes)) or hasattr(source, "__fspath__")
                   for source in given)
