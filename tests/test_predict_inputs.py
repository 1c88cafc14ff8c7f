"""What `mlp predict` reads: an ID column that is also a feature, array files for a model
trained on a CSV, and messages about columns that stay short whatever the file's width."""

import subprocess
import sys

import numpy as np
import pytest

from mlp.datasets import load_features


def run(*args):
    return subprocess.run([sys.executable, "-m", "mlp", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def csv_model(tmp_path_factory):
    """A regressor trained on a CSV with columns id, a, b and target y; id is a feature."""
    folder = tmp_path_factory.mktemp("csvmodel")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    rows = [f"{i},{a:.6f},{b:.6f},{a - b:.6f}" for i, (a, b) in enumerate(X)]
    (folder / "train.csv").write_text("id,a,b,y\n" + "\n".join(rows) + "\n")
    model = folder / "m.npz"
    result = run("train", "--data", folder / "train.csv", "--target", "y", "--hidden", "4",
                 "--epochs", "3", "--quiet", "--save", model)
    assert result.returncode == 0, result.stderr
    return folder, model


def test_an_id_column_that_is_also_a_feature(csv_model, tmp_path):
    folder, model = csv_model
    (tmp_path / "new.csv").write_text("id,a,b\n007,0.5,0.25\n12,1.0,-1.0\n")
    result = run("predict", "--model", model, "--data", tmp_path / "new.csv", "--id", "id",
                 "--out", "-")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["007", "12"]  # as written
    X, ids = load_features(tmp_path / "new.csv", ["id", "a", "b"], id_column="id")
    np.testing.assert_array_equal(X, [[7.0, 0.5, 0.25], [12.0, 1.0, -1.0]])
    assert list(ids) == ["007", "12"]
    (tmp_path / "text.csv").write_text("id,a,b\nrow1,0.5,0.25\n")
    with pytest.raises(ValueError, match=r"the ID column 'id' is also a feature of the model, "
                                         r"and holds text"):
        load_features(tmp_path / "text.csv", ["id", "a", "b"], id_column="id")


def test_an_array_file_for_a_model_trained_on_a_csv(csv_model, tmp_path):
    folder, model = csv_model
    X = np.array([[7.0, 0.5, 0.25], [12.0, 1.0, -1.0]])
    np.save(tmp_path / "new.npy", X)
    (tmp_path / "new.csv").write_text("id,a,b\n7,0.5,0.25\n12,1.0,-1.0\n")
    from_array = run("predict", "--model", model, "--data", tmp_path / "new.npy", "--out", "-")
    from_csv = run("predict", "--model", model, "--data", tmp_path / "new.csv", "--out", "-")
    assert from_array.returncode == 0, from_array.stderr
    assert from_array.stdout == from_csv.stdout  # the columns taken in the model's order
    np.save(tmp_path / "narrow.npy", X[:, :2])
    result = run("predict", "--model", model, "--data", tmp_path / "narrow.npy")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"mlp predict: error: {tmp_path / 'narrow.npy'}: X has 2 columns; the model takes 3 "
        "features: ['id', 'a', 'b']"]


def test_missing_columns_are_named_briefly_however_wide_the_file(tmp_path):
    names = [f"c{j}" for j in range(20000)]
    (tmp_path / "wide.csv").write_text(",".join(names) + "\n" + ",".join(["1"] * 20000) + "\n")
    wanted = [f"f{j}" for j in range(500)]
    with pytest.raises(ValueError, match="missing feature columns") as error:
        load_features(tmp_path / "wide.csv", wanted)
    message = str(error.value)
    assert len(message) < 400
    assert "missing feature columns ['f0', 'f1'" in message
    assert "... (492 more)]" in message
    assert "the file has ['c0', 'c1'" in message
    assert "... (19,992 more)]" in message
