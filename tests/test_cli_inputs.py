"""Every input of every subcommand that is no file to read (a device streams without end, a
socket cannot be read) is refused in one line before anything is read; FIFOs are read. Data
too large to compute with is refused by column, not reported as a diverged training run."""

import socket

import numpy as np
import pytest

from mlp.cli import main

# (arguments with INPUT where the input goes, the flag named in the message, folder allowed)
INPUTS = [
    (["train", "--quiet", "--data", "INPUT"], "--data", False),
    (["gradcheck", "--data", "INPUT"], "--data", False),
    (["train", "--quiet", "--resume", "INPUT"], "--resume", False),
    (["predict", "--model", "INPUT", "--data", "d.csv"], "--model", False),
    (["predict", "--model", "m.npz", "--data", "INPUT"], "--data", False),
    (["exercise", "grade", "s", "--exercise", "INPUT"], "--exercise", True),
    (["exercise", "grade", "INPUT", "--exercise", "hw"], "SUBMISSION", True),
    (["exercise", "gradescope", "out.zip", "--exercise", "INPUT"], "--exercise", True),
    (["exercise", "verify", "INPUT"], "EXERCISE", True),
    (["exercise", "verify", "--source", "INPUT"], "--source", True),
]


@pytest.fixture
def sock(tmp_path):
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tmp_path / "sock"))
    yield tmp_path / "sock"
    s.close()


def _refused(capsys, monkeypatch, tmp_path, args, path):
    monkeypatch.chdir(tmp_path)
    status = main([str(path) if a == "INPUT" else a for a in args])
    captured = capsys.readouterr()
    assert status == 2
    assert len(captured.err.splitlines()) == 1, captured.err
    return captured.err.strip()


@pytest.mark.parametrize(("args", "flag", "folder"), INPUTS)
def test_devices_and_sockets_are_no_input(capsys, monkeypatch, tmp_path, sock, args, flag,
                                          folder):
    what = "file or folder" if folder else "file"
    err = _refused(capsys, monkeypatch, tmp_path, args, "/dev/zero")
    assert err.endswith(f"error: {flag}: cannot read /dev/zero: it is a character device, "
                        f"not a {what}"), err
    err = _refused(capsys, monkeypatch, tmp_path, args, sock)
    assert err.endswith(f"error: {flag}: cannot read {sock}: it is a socket, not a {what}"), err


@pytest.mark.parametrize(("args", "flag"), [(a, f) for a, f, folder in INPUTS if not folder])
def test_a_folder_is_no_input_file(capsys, monkeypatch, tmp_path, args, flag):
    (tmp_path / "folder").mkdir()
    err = _refused(capsys, monkeypatch, tmp_path, args, tmp_path / "folder")
    assert err.endswith(f"error: {flag}: cannot read {tmp_path / 'folder'}: it is a "
                        "directory, not a file"), err


def test_a_negative_seed_is_refused_by_name(capsys):
    with pytest.raises(SystemExit) as exited:  # argparse's exit, as for every flag
        main(["train", "--seed", "-1"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err == ("mlp train: error: argument --seed: expected a non-negative integer, got "
                   "'-1' (see 'mlp train --help')\n")


def _csv(path, big_feature, big_target):
    rng = np.random.default_rng(0)
    rows = ["a,b,y"]
    for i in range(40):
        a = rng.random() * (1e308 if big_feature else 1.0)
        y = rng.random() * 1e300 if big_target else i % 2
        rows.append(f"{a!r},{rng.random()!r},{y!r}")
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def test_values_too_large_to_standardize_are_refused_by_column(tmp_path, capsys):
    data = _csv(tmp_path / "big.csv", big_feature=True, big_target=False)
    assert main(["train", "--quiet", "--epochs", "1", "--data", data]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlp train: error: the column 'a' holds values as large as ")
    assert err.endswith("; use --minmax or --no-scale, or divide the column by a power of "
                        "ten\n")
    assert len(err.splitlines()) == 1
    assert main(["train", "--quiet", "--epochs", "1", "--data", data, "--minmax"]) == 0


def test_a_regression_target_too_large_to_scale_is_refused(tmp_path, capsys):
    data = _csv(tmp_path / "big.csv", big_feature=False, big_target=True)
    assert main(["train", "--quiet", "--epochs", "1", "--data", data, "--task",
                 "regression"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlp train: error: the column 'y' holds values as large as ")
    assert "too large to regress on" in err
    assert len(err.splitlines()) == 1
