"""The data options (--data, --target, --drop, --id, --no-header, --task) for built-in sets,
CSV files and array files: every refusal is one line naming the option that was given, before
any training; a regression on class labels that are numbers (the digits) is trained."""

import re

import numpy as np
import pytest

from mlp.cli import main
from mlp.datasets import load_iris

FIXED = "whose target and features are fixed"


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = load_iris()
    with open("iris.csv", "w") as f:
        f.write("id,sepal_length,sepal_width,petal_length,petal_width,species\n")
        for i, (row, k) in enumerate(zip(data.X, data.y, strict=True)):
            f.write(f"r{i}," + ",".join(f"{v:g}" for v in row) + f",{data.classes[k]}\n")
    np.savez("iris.npz", X=data.X, y=np.array(data.classes)[data.y])
    np.save("iris.npy", np.column_stack([data.X, data.y]))
    return tmp_path


REFUSED = [
    # built-in sets: each option that names a column of a file, named as given
    (["--data", "iris", "--id", "species"],
     f"--id: only for a CSV file, not for the built-in 'iris' data, {FIXED}"),
    (["--data", "iris", "--target", "species"],
     "--target: only for a data file (CSV, .npy or .npz), not for the built-in 'iris' data, "
     f"{FIXED}"),
    (["--data", "digits", "--drop", "pixel_0_0"],
     f"--drop: only for a CSV file, not for the built-in 'digits' data, {FIXED}"),
    (["--data", "wine", "--no-header"],
     f"--no-header: only for a CSV file, not for the built-in 'wine' data, {FIXED}"),
    (["--data", "xor", "--target", "x1", "--id", "x2"],
     f"--target and --id: only for a CSV file, not for the built-in 'xor' data, {FIXED}"),
    # array files: no header, no text, no ID
    (["--data", "iris.npz", "--id", "0"],
     "--id: only for a CSV file, not for the array file 'iris.npz'"),
    (["--data", "iris.npy", "--drop", "0"],
     "--drop: only for a CSV file, not for the array file 'iris.npy'"),
    (["--data", "iris.npy", "--no-header"],
     "--no-header: only for a CSV file, not for the array file 'iris.npy'"),
    (["--data", "iris.npz", "--target", "0"],
     "iris.npz: the target is the array y; --target applies to one matrix"),
    (["--data", "iris.npy", "--target", "9"], "iris.npy: no column 9 for the target; the file "
                                              "has 5 columns"),
    # CSV files: the column each option names
    (["--data", "iris.csv", "--target", "nope"],
     "iris.csv: no column named 'nope' for the target; columns are ['id', "),
    (["--data", "iris.csv", "--target", "9"],
     "iris.csv: no column 9 for the target; the file has 6 columns"),
    (["--data", "iris.csv", "--id", "nope"],
     "iris.csv: no column named 'nope' for the ID; columns are ['id', "),
    (["--data", "iris.csv", "--drop", "nope"],
     "iris.csv: no column named 'nope' to drop; columns are ['id', "),
    (["--data", "iris.csv", "--id", "species"],
     "iris.csv: the ID column 'species' is the target column: a column cannot be both"),
    (["--data", "iris.csv", "--id", "0", "--target", "id"],
     "iris.csv: the ID column 'id' is the target column: a column cannot be both"),
    (["--data", "iris.csv", "--drop", "species", "--id", "id"],
     "iris.csv: the target column 'species' cannot also be dropped"),
    # --task regression on labels that are not numbers
    (["--data", "iris", "--task", "regression"],
     "--task regression: the target 'species' holds class labels that are not numbers "
     "('setosa', ...); use --task classification"),
    (["--data", "wine", "--task", "regression"],
     "--task regression: the target 'target' holds class labels that are not numbers "
     "('class_0', ...); use --task classification"),
    (["--data", "iris.csv", "--id", "id", "--task", "regression"],
     "--task regression: the target 'species' holds class labels that are not numbers "
     "('setosa', ...); use --task classification"),
]


@pytest.mark.parametrize(("argv", "message"), REFUSED)
@pytest.mark.parametrize("command", ["train", "gradcheck"])
def test_a_data_option_that_does_not_apply_is_named(files, capsys, command, argv, message):
    assert main([command, *argv, "--epochs", "1"] if command == "train" else
                [command, *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"mlp {command}: error: {message}")


@pytest.mark.parametrize("argv", [["--data", "iris.csv", "--id", "id"],
                                  ["--data", "iris.csv", "--id", "0", "--drop", "sepal_width"],
                                  ["--data", "iris.csv", "--target", "species", "--drop", "id"]])
def test_the_options_that_apply_train(files, capsys, argv):
    assert main(["train", *argv, "--epochs", "50"]) == 0
    out = capsys.readouterr().out
    features = 3 if "sepal_width" in argv else 4
    assert f"(150 samples, {features} features, 3 classes)" in out


def test_digit_labels_can_be_regressed_as_numbers(capsys):
    # the digits' classes are the numbers 0..9: regression on them is sound, as scikit-learn's
    # MLPRegressor would do it
    assert main(["train", "--data", "digits", "--task", "regression", "--epochs", "30",
                 "--hidden", "32"]) == 0
    out = capsys.readouterr().out
    assert "numeric target" in out
    r2 = float(re.search(r"^test R²: ([-\d.]+)$", out, re.M).group(1))
    assert r2 > 0.5  # the labels are learnt as numbers, far above predicting their mean


@pytest.mark.parametrize(("argv", "message"), [
    (["--data", "iris.npz", "--id", "0"],
     "--id: only for a CSV file, not for the array file 'iris.npz'"),
    (["--data", "iris.npy", "--no-header"],
     "--no-header: only for a CSV file, not for the array file 'iris.npy'"),
])
def test_predict_names_the_option_given(files, capsys, argv, message):
    assert main(["train", "--data", "iris.npz", "--epochs", "1", "--quiet", "--save",
                 "m.npz"]) == 0
    capsys.readouterr()
    assert main(["predict", "--model", "m.npz", *argv]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"mlp predict: error: {message}")
