"""The README's Python examples run as written, and its numbers are what the code prints."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 3
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["report"].ok
    assert namespace["report"].max_error < 1e-6
    assert "Total params: 131" in capsys.readouterr().out


def test_readme_iris_accuracies_are_what_mlp_train_prints(capsys):
    # "prints the training and held-out accuracy (0.99 and 0.98 with the default seed)"
    claim = re.search(r"held-out accuracy \((\d\.\d\d) and (\d\.\d\d) with the default seed\)",
                      README.read_text(encoding="utf-8"))
    assert claim, "the README no longer states the iris accuracies"
    from mlp.cli import main

    assert main(["train", "--data", "iris"]) == 0
    out = capsys.readouterr().out
    train = float(re.search(r"^train accuracy: ([\d.]+)$", out, re.M).group(1))
    test = float(re.search(r"^test accuracy: ([\d.]+)$", out, re.M).group(1))
    # 105 training and 45 test rows: another CPU's round-off may move one row either way;
    # the README rounds to two decimals
    assert train == pytest.approx(float(claim.group(1)), abs=1 / 105 + 0.005)
    assert test == pytest.approx(float(claim.group(2)), abs=1 / 45 + 0.005)
