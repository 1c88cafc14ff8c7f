"""CSV and array files as people have them: read fast, refused with the line and column named."""

import numpy as np
import pytest

from mlp import tables
from mlp.datasets import load_csv, load_dataset, load_features


@pytest.fixture(params=[True, False], ids=["pandas", "numpy"])
def reader(request, monkeypatch):
    """Every case is read by both parsers: pandas when installed, numpy's otherwise."""
    monkeypatch.setattr(tables, "USE_PANDAS", request.param)
    return request.param


def write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path, reader):
    path = write(tmp_path, "\ufeffsl,sw,species\n1,2,a\n3,4,b\n")
    data = load_csv(path, target="species")
    assert data.feature_names == ["sl", "sw"]
    X, _ = load_features(path, ["sl", "sw"])
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    assert load_csv(path, target="sl", drop=["species"]).target_name == "sl"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,y\n1,2,x\n3,4,\n5,6,y\n7,8,\n",
         r"the target column 'y' is empty on line\(s\) 3, 5"),
        ("a,b,y\n1,2,0\n3,4,\n5,6,1\n", r"the target column 'y' is empty on line\(s\) 3"),
        ("a,b,y\n1,2,x\n3,4,y\x00z\n", r"line 3: contains a NUL byte"),
        ("1.0,2.0,0\n3,4,1\n", r"the first row \(1.0, 2.0, 0\) looks like data, not column "
                               r"names: add a header row, or pass --no-header"),
        ("5.1,3.5,setosa\n4,5,virginica\n", r"the first row \(5.1, 3.5, setosa\) looks like "
                                             r"data"),
        ("a,a,y\n1,2,0\n3,4,1\n", r"the column name 'a' appears twice"),
        ("a,,y\n1,2,0\n3,4,1\n", r"column 2 has no name"),
        ("a,b\n1,x\n", r"line 2, column 'a': expected a number, got 'x'|"
                       r"line 2, column 'b': expected a number, got 'x'"),
        ("a,b,c\n1,2,3\n4,5\n", r"line 3: expected 3 fields, got 2"),
        ("a,b,c\n1,,3\n4,5,6\n", r"line 2, column 'b': empty cell"),
        ("a,b,c\n1,2,3\n4,5,6,7\n", r"line 3: expected 3 fields, got 4"),
        ("a,b\n", r"at least one data row"),
        ("a,b\nnan,1\n", r"line 2, column 'a': NaN or infinity"),
        ("a,b,y\n1,inf,0\n2,3,1\n", r"line 2, column 'b': NaN or infinity"),
        (b"a,b,y\n1,2,\xff\n", r"line 2: not UTF-8 text"),
    ],
)
def test_messy_files_are_refused_naming_the_line(tmp_path, reader, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=message):
        load_csv(path, target="a" if text == "a,b\n1,x\n" else None)


def test_no_header_names_the_columns_by_position(tmp_path, reader):
    path = write(tmp_path, "1.0,2.0,0\n3,4,1\n\n5,6,1\n")
    data = load_csv(path, header=False)
    assert data.feature_names == ["x0", "x1"]
    assert data.target_name == "x2"
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(data.y, [0, 1, 1])


def test_columns_can_be_dropped_and_an_id_column_returned(tmp_path, reader):
    path = write(tmp_path, 'id,a,when,y\n007,1.5,"Mon, 1",x\n18, 2.5 ,Tue,y\n')
    data = load_csv(path, drop=["id", "when"])
    assert data.feature_names == ["a"]
    np.testing.assert_array_equal(data.X, [[1.5], [2.5]])
    assert data.classes == ["x", "y"]
    X, ids = load_features(path, ["a"], id_column="id")
    assert list(ids) == ["007", "18"]  # as written, not as numbers
    with pytest.raises(ValueError, match="no column named 'zz' to drop"):
        load_csv(path, drop=["zz"])
    with pytest.raises(ValueError, match="the target column 'y' cannot also be dropped"):
        load_csv(path, drop=["y"])


def test_labels_are_stripped_and_numbers_read_exactly(tmp_path, reader):
    path = write(tmp_path, "a,b,y\n0.1,1e-3, cat\n-2,3.5,dog \n")
    data = load_csv(path)
    assert data.classes == ["cat", "dog"]
    np.testing.assert_array_equal(data.X, [[0.1, 1e-3], [-2, 3.5]])


def test_pandas_and_numpy_read_the_same_numbers(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(200, 5))
    path = tmp_path / "n.csv"
    np.savetxt(path, values, delimiter=",", header="a,b,c,d,e", comments="", fmt="%.17g")
    read = {}
    for use in (True, False):
        monkeypatch.setattr(tables, "USE_PANDAS", use)
        read[use] = load_features(path)[0]
    np.testing.assert_array_equal(read[True], values)
    np.testing.assert_array_equal(read[False], values)


def test_array_files(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = np.array(["a", "b", "c"])[rng.integers(3, size=30)]
    np.savez(tmp_path / "d.npz", X=X, y=y)
    data = load_dataset(str(tmp_path / "d.npz"))
    np.testing.assert_array_equal(data.X, X)
    assert data.classes == ["a", "b", "c"]
    assert [data.classes[k] for k in data.y] == list(y)
    np.save(tmp_path / "m.npy", np.column_stack([X, np.arange(30.0)]))
    data = load_dataset(str(tmp_path / "m.npy"))
    np.testing.assert_array_equal(data.y, np.arange(30.0))
    assert data.feature_names == ["x0", "x1", "x2"]
    np.testing.assert_array_equal(load_features(tmp_path / "m.npy", ["x0", "x2"])[0],
                                  X[:, [0, 2]])
    np.savez(tmp_path / "bad.npz", X=X, y=y[:5])
    with pytest.raises(ValueError, match=r"y must be a 1-D array .* one entry per row of X"):
        load_dataset(str(tmp_path / "bad.npz"))
    np.savez(tmp_path / "other.npz", features=X)
    with pytest.raises(ValueError, match=r"expected arrays named X and y, got \['features'\]"):
        load_dataset(str(tmp_path / "other.npz"))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled"):
        load_dataset(str(tmp_path / "obj.npy"))


def test_a_text_column_before_numeric_ones(tmp_path, reader):
    path = write(tmp_path, "y,a,b\ncat,1,2\ndog,3,4\n")
    data = load_csv(path, target="y")
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4]])
    assert data.classes == ["cat", "dog"]


def test_crlf_line_ends_and_a_byte_order_mark_without_a_header(tmp_path, reader):
    path = write(tmp_path, b"\xef\xbb\xbf1.5,2,a\r\n3,4,b\r\n\r\n5,6.25,a\r\n")
    data = load_csv(path, header=False)
    np.testing.assert_array_equal(data.X, [[1.5, 2], [3, 4], [5, 6.25]])
    assert data.classes == ["a", "b"]
    np.testing.assert_array_equal(data.y, [0, 1, 0])
    with pytest.raises(ValueError, match=r"t.csv, line 3, column 'b': expected a number, got "
                                         r"'z'"):
        load_csv(write(tmp_path, b"\xef\xbb\xbfa,b,y\r\n1,2,3\r\n4,z,6\r\n"))


# Large enough (over 5 MiB of data) for pandas to split the file among threads, whose pieces
# are parsed and typed apart: a bad cell far down the file is in a later piece.
LARGE_ROWS = 40_000


@pytest.fixture(scope="module")
def large_lines():
    values = np.random.default_rng(0).normal(size=(LARGE_ROWS, 8))
    head = ",".join(f"c{j}" for j in range(7)) + ",y"
    return [head] + [",".join(f"{v:.17g}" for v in row) for row in values]


def test_a_large_file_reads_as_numpys_loadtxt_bit_for_bit(tmp_path, reader, large_lines):
    path = write(tmp_path, "\n".join(large_lines) + "\n")
    assert path.stat().st_size > 6 << 20
    data = load_csv(path)
    expected = np.loadtxt(path, delimiter=",", skiprows=1)
    assert data.X.flags.c_contiguous
    np.testing.assert_array_equal(data.X, expected[:, :7])
    np.testing.assert_array_equal(data.y, expected[:, 7])
    assert data.classes is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda row: "abc," + row.split(",", 1)[1], r"column 'c0': expected a number, got 'abc'"),
        (lambda row: " ," + row.split(",", 1)[1], r"column 'c0': empty cell"),
        (lambda row: row.rsplit(",", 1)[0], r": expected 8 fields, got 7"),
        (lambda row: row + ",1", r": expected 8 fields, got 9"),
        (lambda row: "nan," + row.split(",", 1)[1], r"column 'c0': NaN or infinity"),
        (lambda row: "1,-inf," + row.split(",", 2)[2], r"column 'c1': NaN or infinity"),
        (lambda row: row.rsplit(",", 1)[0] + ",", r"the target column 'y' is empty on line"),
        (lambda row: row + "\0", r": contains a NUL byte"),
    ],
)
def test_a_bad_row_far_down_a_large_file_is_named(tmp_path, large_lines, edit, message,
                                                  monkeypatch):
    monkeypatch.setattr(tables, "USE_PANDAS", True)
    lines = list(large_lines)
    row = LARGE_ROWS - 7
    lines[row] = edit(lines[row])  # the header is line 1 and lines[0]: this is line row + 1
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=message) as info:
        load_csv(path)
    assert str(info.value).startswith(str(path))
    assert f"line {row + 1}" in str(info.value) or f"line(s) {row + 1}" in str(info.value)


def test_a_large_file_that_is_not_utf8_is_named_by_line(tmp_path, large_lines, reader):
    lines = list(large_lines)
    lines[-3] = lines[-3].rsplit(",", 1)[0] + ",X"
    text = ("\n".join(lines) + "\n").encode().replace(b",X\n", b",\xff\n")
    with pytest.raises(ValueError, match=rf"line {LARGE_ROWS - 1}: not UTF-8 text"):
        load_csv(write(tmp_path, text))


def test_a_short_row_among_empty_cells_of_a_dropped_column_is_named(tmp_path, reader):
    path = write(tmp_path, 'a,b,note\n1,2,"x, y"\n3,4,\n\n5,6\n7,8,\n')
    with pytest.raises(ValueError, match=r"t.csv, line 5: expected 3 fields, got 2"):
        load_csv(path, target="a", drop=["note"])
    path = write(tmp_path, 'a,b,note\n1,2,"x, y"\n3,4,\n\n5,6,\n')
    data = load_csv(path, target="a", drop=["note"])
    np.testing.assert_array_equal(data.X, [[2], [4], [6]])
    np.testing.assert_array_equal(data.y, [1, 3, 5])


def test_rows_are_named_by_their_line_past_blank_lines_and_line_ends(tmp_path, reader):
    path = write(tmp_path, b"\n\na,b\r\n1,2\r\n\r\n  \r\n3,x\r4,5")
    table = tables.read_table(path)
    assert [table.line(row) for row in range(3)] == [4, 7, 8]
    assert table.fields(2) == ["4", "5"]
    with pytest.raises(ValueError, match=r"t.csv, line 7, column 'b': expected a number, got "
                                         r"'x'"):
        table.numbers([0, 1])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (None, None),
        ('1.5,"x, ""y""",2.5,a,9', r"line 2501: expected 4 fields, got 5"),
        ('1.5,"x, y",2.5', r"line 2501: expected 4 fields, got 3"),
        ('1.5,"x, y",z,a', r"line 2501, column 'b': expected a number, got 'z'"),
        ('1.5,"x, y",,a', r"line 2501, column 'b': empty cell"),
    ],
)
def test_labels_beside_numbers_read_exactly_and_bad_rows_named(tmp_path, reader, row, message):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(3000, 2))
    labels = rng.choice(["cat", "dog"], size=3000)
    lines = ["a,name,b,label"] + [f'{x:.17g},"n{i}, ""q""",{z:.17g},{labels[i]}'
                                  for i, (x, z) in enumerate(values)]
    if row is not None:
        lines[2500] = row
    path = write(tmp_path, "\n".join(lines) + "\n")
    if message is not None:
        with pytest.raises(ValueError, match=rf"t.csv, {message}"):
            load_csv(path, drop=["name"])
        return
    data = load_csv(path, drop=["name"])
    np.testing.assert_array_equal(data.X, values)
    assert data.classes == ["cat", "dog"]
    assert [data.classes[k] for k in data.y] == list(labels)
    X, ids = load_features(path, ["b", "a"], id_column="name")
    np.testing.assert_array_equal(X, values[:, ::-1])
    assert ids[7] == 'n7, "q"'


def test_the_first_bad_column_in_order_is_named(tmp_path, reader):
    path = write(tmp_path, "a,b,c,y\n1,2,3,0\n4,nan,x,1\n5,6,7,0\ninf,8,9,1\n")
    with pytest.raises(ValueError, match=r"line 5, column 'a': NaN or infinity"):
        load_csv(path)
    with pytest.raises(ValueError, match=r"line 3, column 'b': NaN or infinity"):
        load_csv(path, drop=["a"])
    with pytest.raises(ValueError, match=r"line 3, column 'c': expected a number, got 'x'"):
        load_csv(path, drop=["a", "b"])
