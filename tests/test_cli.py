"""The minimal `mlp train` command."""

import re
import subprocess
import sys

from mlp.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "mlp", *args], capture_output=True, text=True,
                          timeout=120)


def test_train_on_iris_prints_accuracy(capsys):
    assert main(["train"]) == 0
    out = capsys.readouterr().out
    test_acc = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    train_acc = float(re.search(r"train accuracy: ([0-9.]+)", out).group(1))
    assert test_acc >= 0.9
    assert train_acc >= 0.95


def test_train_on_a_csv_with_a_numeric_target(tmp_path, capsys):
    rng = __import__("numpy").random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = X[:, 0] - 2 * X[:, 1]
    path = tmp_path / "lin.csv"
    path.write_text("u,v,t\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(X, y, strict=True)))
    assert main(["train", "--data", str(path), "--epochs", "50"]) == 0
    r2 = float(re.search(r"test R²: ([-0-9.]+)", capsys.readouterr().out).group(1))
    assert r2 > 0.95


def test_missing_file_is_one_line_and_exit_2(tmp_path):
    result = run("train", "--data", str(tmp_path / "missing.csv"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("mlp train: error: cannot read")
    assert "Traceback" not in result.stderr


def test_bad_flag_value_exit_2():
    result = run("train", "--lr", "-1")
    assert result.returncode == 2
    assert "expected a positive number, got '-1'" in result.stderr
    assert "Traceback" not in result.stderr
