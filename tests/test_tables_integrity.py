"""What the CSV reader checked is what it parses: one private copy of the file's bytes, read by
either parser to the same columns, never the path again; messages quote at most a line of data."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from mlp import _lines, tables
from mlp.datasets import load_csv, load_features
from mlp.tables import read_table

ROWS = b"a,b,y\n" + b"1.5,2.5,0\n3,4,1\n" * 50
MANY = b"a,b,y\n" + b"1.5,2.5,0\n3,4,1\n" * 5000


@pytest.fixture(params=[True, False], ids=["pandas", "numpy"])
def reader(request, monkeypatch):
    monkeypatch.setattr(tables, "USE_PANDAS", request.param)
    return request.param


def cells(path):
    table = read_table(path)
    return table.names, [column.tolist() for column in table.columns]


def both_paths(path, monkeypatch):
    """The table as pandas reads it and as numpy's parser reads it."""
    out = []
    for use in (True, False):
        monkeypatch.setattr(tables, "USE_PANDAS", use)
        try:
            out.append(cells(path))
        except ValueError as exc:
            out.append(("refused", str(exc)))
    return out


# -- a file that changes while it is read --------------------------------------------------

def test_a_file_shrinking_during_the_read_is_refused_in_one_line(tmp_path, reader, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_bytes(MANY)
    real = os.fstat
    calls = []

    def fstat_then_truncate(fd):
        # another program truncates the file between its size being taken and the read
        result = real(fd)
        if not calls:
            os.truncate(path, 100)
        calls.append(fd)
        return result

    monkeypatch.setattr(_lines.os, "fstat", fstat_then_truncate)
    with pytest.raises(ValueError, match=r"^\S*t\.csv changed while being read") as info:
        load_csv(path)
    assert "\n" not in str(info.value)
    assert "NUL" not in str(info.value)


@pytest.mark.parametrize("size", [0, 100, 4096])
def test_a_file_truncated_after_it_was_read_is_parsed_as_it_was_checked(tmp_path, reader,
                                                                         monkeypatch, size):
    path = tmp_path / "t.csv"
    path.write_bytes(MANY)
    real = tables.file_bytes

    def read_then_truncate(name, **options):
        data = real(name, **options)
        os.truncate(name, size)
        return data

    monkeypatch.setattr(tables, "file_bytes", read_then_truncate)
    data = load_csv(path)
    assert data.X.shape == (10_000, 2)
    np.testing.assert_array_equal(data.X[:2], [[1.5, 2.5], [3, 4]])
    np.testing.assert_array_equal(data.y[:4], [0, 1, 0, 1])


def test_file_bytes_is_a_private_copy(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(ROWS)
    data = _lines.file_bytes(path)
    path.write_bytes(b"changed")
    assert type(data) is bytes
    assert data == ROWS


# -- the path is a name, never a compression, a URL or a home folder ------------------------

@pytest.mark.parametrize("name", ["big.csv.gz", "big.csv.zip", "big.csv.bz2", "big.csv.xz",
                                  "big.csv.zst", "big.tar", "big.csv.tar.gz"])
def test_a_plain_text_file_is_read_whatever_its_name_ends_with(tmp_path, reader, name):
    path = tmp_path / name
    path.write_bytes(ROWS)
    data = load_csv(path)
    assert data.X.shape == (100, 2)
    assert data.feature_names == ["a", "b"]
    np.testing.assert_array_equal(data.X[-1], [3, 4])


def test_a_compressed_file_is_refused_naming_it_not_decompressed(tmp_path, reader):
    import gzip

    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(ROWS))
    with pytest.raises(ValueError, match=r"t\.csv\.gz, line \d+: (contains a NUL byte|not UTF-8)"):
        load_csv(path)


def test_a_tilde_and_a_url_like_name_are_the_files_they_name(tmp_path, reader, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "big.csv").write_bytes(b"a,y\n9,9\n9,9\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "~").mkdir()
    (tmp_path / "~" / "big.csv").write_bytes(ROWS)
    assert load_csv("~/big.csv").X.shape == (100, 2)
    (tmp_path / "http:" / "host").mkdir(parents=True)
    (tmp_path / "http:" / "host" / "t.csv").write_bytes(ROWS)
    assert load_csv("http://host/t.csv").X.shape == (100, 2)
    (tmp_path / "[ab].csv").write_bytes(ROWS)
    assert load_csv("[ab].csv").X.shape == (100, 2)


# -- both parsers give the same columns; quoted text is never rewritten ---------------------

TRICKY = {
    "cr_in_quotes": b'a,y\n1,"x\ry"\n2,"z"\n',
    "crlf_in_quotes_cr_ends": b'a,y\r1,"x\r\ny"\r2,"z"\r',
    "spaces_line_in_quotes": b'a,y\n1,"p\n   \nq"\n2,r\n',
    "spaces_line_outside": b'a,y\n1,p\n   \n\t\n2,"q\n \n"\n',
    "doubled_quotes": b'a,y\r\n1,"say ""hi""\r\nthere"\r\n2,"""",\r\n'[:-3] + b"\r\n",
    "quote_inside_a_field": b'a,y\r1,12" pipe\r2,"x\ry"\r3,ab"c\r',
    "closed_quote_then_text": b'a,y\r\n1,"ab"cd\r\n2,"e\rf"gh\r\n',
    "bom_crlf_quoted_comma": b'\xef\xbb\xbfa,y\r\n1,"x, y"\r\n2," z "\r\n',
    "blank_lines_and_cr": b'\n\ra,y\r\n\r\n1,"u\r"\r\r2,v\r\n',
    "numbers_quoted": b'a,y\n"1",0\n"2.5","1"\r\n',
    "label_with_newline_only": b'a,y\n1,"\n"\n2,w\n',
    "number_of_many_digits": b"a,y\n" + b"1" * 5000 + b",0\n" + b"2." + b"5" * 5000 + b",1\n",
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_both_parsers_read_the_same_cells(tmp_path, monkeypatch, name):
    path = tmp_path / "t.csv"
    path.write_bytes(TRICKY[name])
    by_pandas, by_numpy = both_paths(path, monkeypatch)
    assert by_pandas[0] != "refused", by_pandas
    assert by_pandas == by_numpy


@pytest.mark.parametrize(("name", "labels"), [
    ("cr_in_quotes", ["x\ry", "z"]),
    ("crlf_in_quotes_cr_ends", ["x\r\ny", "z"]),
    ("spaces_line_in_quotes", ["p\n   \nq", "r"]),
    ("quote_inside_a_field", ['12" pipe', "x\ry", 'ab"c']),
    ("closed_quote_then_text", ["abcd", "e\rfgh"]),
    ("blank_lines_and_cr", ["u", "v"]),
])
def test_quoted_text_is_kept_as_written(tmp_path, reader, name, labels):
    path = tmp_path / "t.csv"
    path.write_bytes(TRICKY[name])
    assert cells(path)[1][1] == labels


def test_labels_do_not_depend_on_which_parser_the_size_chooses(tmp_path, monkeypatch):
    small = b'a,y\n1,"x\ry"\n2,"p\n  \nq"\n'
    path = tmp_path / "t.csv"
    path.write_bytes(small + b'3,"x\ry"\n' * 300_000)  # past PANDAS_FROM_BYTES
    monkeypatch.setattr(tables, "USE_PANDAS", None)
    big = load_csv(path)
    path.write_bytes(small)
    assert big.classes == ["p\n  \nq", "x\ry"] == load_csv(path).classes


# -- a message quotes at most a line of the data -------------------------------------------

HUGE = "x" * 3_000_000


@pytest.mark.parametrize(("text", "call", "pattern"), [
    (f"a,b,y\n1,{HUGE},0\n", load_csv,
     r"column 'b': expected a number, got 'x{80}'\.\.\. \(3,000,000 characters\)$"),
    (f"a,{HUGE},y\n1,2,0\n", lambda p: load_csv(p, target="nope"),
     r"no column named 'nope' for the target; columns are \['a', 'x{80}'\.\.\. "
     r"\(3,000,000 characters\), 'y'\]"),
    (f"a,{HUGE},y\n1,w,0\n", load_csv, "expected a number, got 'w'"),
    (f"a,b,{HUGE}\n1,2,\n", load_csv, r"the target column 'x{80}'\.\.\. \(3,000,000 char"),
    (f"a,{HUGE},{HUGE}\n1,2,0\n", load_csv, r"the column name 'x{80}'\.\.\. \(3,000,000 char"),
    ("a,b,y\n" + "1,2,3\n" * 3 + f'"{HUGE}",2\n', load_csv, "line 5"),
    (",".join(f"c{j}" for j in range(30_000)) + "\n" + ",".join(["1"] * 30_000) + "\n",
     lambda p: load_features(p, ["nope"]), "missing feature columns"),
])
def test_a_message_quotes_at_most_80_characters_of_the_data(tmp_path, reader, text, call,
                                                            pattern):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=pattern) as info:
        call(path)
    message = str(info.value)
    assert len(message) < 400, message[:500]
    assert "\n" not in message, message[:500]
    assert "x" * 81 not in message


# -- through the command line: one line naming the file, exit 2 -----------------------------

def run_train(use_pandas, path, patch=""):
    code = ("import sys, os\nimport mlp.tables as T, mlp._lines as L\n"
            f"T.USE_PANDAS = {use_pandas}\n"
            f"{patch}\nfrom mlp.cli import main\n"
            f"sys.exit(main(['train', '--data', {str(path)!r}, '--epochs', '1', '--quiet']))\n")
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, timeout=300)


SHRINK = ("real = os.fstat\n"
          "def fstat(fd, seen=[]):\n"
          "    s = real(fd)\n"
          "    if not seen: seen.append(os.truncate(sys.argv[1], 100))\n"
          "    return s\n"
          "L.os.fstat = fstat\n")


@pytest.mark.parametrize("use_pandas", [True, False], ids=["pandas", "numpy"])
@pytest.mark.parametrize(("name", "content", "patch", "message"), [
    ("shrinks.csv", MANY, SHRINK, r"shrinks\.csv changed while being read"),
    ("huge.csv", f"a,b,y\n1,{HUGE},0\n2,3,1\n".encode(), "",
     r"huge\.csv, line 2, column 'b': expected a number, got 'x{80}'\.\.\. "
     r"\(3,000,000 characters\)$"),
])
def test_the_command_line_says_what_is_wrong_in_one_line(tmp_path, use_pandas, name, content,
                                                         patch, message):
    path = tmp_path / name
    path.write_bytes(content)
    result = run_train(use_pandas, path, patch)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert len(lines[0]) < 400
    assert str(tmp_path) in lines[0]
    assert re.search(message, lines[0]), lines[0]
    assert "NUL" not in lines[0]


@pytest.mark.parametrize("use_pandas", [True, False], ids=["pandas", "numpy"])
def test_the_command_line_trains_on_a_plain_file_named_like_an_archive(tmp_path, use_pandas):
    path = tmp_path / "big.csv.zip"
    path.write_bytes(ROWS)
    result = run_train(use_pandas, path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""


# -- model files are file content too ------------------------------------------------------

def _model_with(tmp_path, change, extra=None):
    import json

    import mlp
    from mlp.io import save

    save(mlp.Sequential(mlp.Linear(2, 2, rng=0), mlp.GELU()), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as archive:
        arrays = dict(archive)
    config = json.loads(arrays["__config__"].tobytes())
    change(config)
    arrays["__config__"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays, **(extra or {}))
    return tmp_path / "bad.npz"


@pytest.mark.parametrize(("change", "extra", "pattern"), [
    (lambda c: c["model"]["layers"][0].update(type=HUGE), None,
     r"unknown layer type 'x{80}'\.\.\. \(3,000,000 characters\)"),
    (lambda c: c["model"]["layers"][0].update({HUGE: 1}), None,
     r"unexpected keyword argument 'x+\.\.\. \(\d+ characters\)"),
    (lambda c: c["model"]["layers"][1].update(approximate=HUGE), None, r"invalid GELU"),
    (lambda c: c.update(format_version=HUGE), None, r"invalid format version \(the string"),
    (lambda c: None, {HUGE[:60_000]: np.zeros(1)}, r"unexpected member 'x{80}'\.\.\."),
])
def test_a_model_file_message_quotes_at_most_a_line_of_it(tmp_path, change, extra, pattern):
    from mlp.io import ModelFileError, load

    path = _model_with(tmp_path, change, extra)
    with pytest.raises(ModelFileError, match=pattern) as info:
        load(path)
    message = str(info.value)
    assert len(message) < 500, message[:600]
    assert "x" * 201 not in message, message[:600]
