"""The shipped Iris file and the CSV reader."""

import numpy as np
import pytest

from mlp.datasets import load_csv, load_iris


def test_iris_file():
    data = load_iris()
    assert data.X.shape == (150, 4)
    assert data.classes == ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(np.bincount(data.y), [50, 50, 50])
    assert data.feature_names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    # Fisher's published values for samples 1 and 150
    np.testing.assert_array_equal(data.X[0], [5.1, 3.5, 1.4, 0.2])
    np.testing.assert_array_equal(data.X[-1], [5.9, 3.0, 5.1, 1.8])


def test_iris_file_matches_scikit_learns_copy():
    from sklearn.datasets import load_iris as sklearn_iris

    ours, theirs = load_iris(), sklearn_iris()
    np.testing.assert_array_equal(ours.X, theirs.data)
    np.testing.assert_array_equal(ours.y, theirs.target)


def test_csv_numeric_target_and_target_choice(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,0.5\n3,4,1.5\n")
    data = load_csv(path)
    assert data.classes is None
    np.testing.assert_array_equal(data.y, [0.5, 1.5])
    data = load_csv(path, target="a")
    assert data.feature_names == ["b", "y"]
    np.testing.assert_array_equal(data.y, [1.0, 3.0])
    assert load_csv(path, target="0").target_name == "a"


@pytest.mark.parametrize(
    ("text", "target", "message"),
    [
        ("a,b\n1,x\n", "a", r"line 2, column 'b': expected a number, got 'x'"),
        ("a,b,c\n1,2\n", None, "line 2: expected 3 fields, got 2"),
        ("a,b\n", None, "at least one data row"),
        ("a,b,y\n1,2,x\n3,4,\n", None, r"the target column 'y' is empty on line\(s\) 3"),
        ("a,b\n1,2\n", "z", "no column named 'z'"),
        ("a\n1\n", None, "at least two columns"),
        ("a,b\nnan,1\n", None, "NaN or infinity"),
    ],
)
def test_csv_errors(tmp_path, text, target, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_csv(path, target=target)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read .*nope.csv"):
        load_csv(tmp_path / "nope.csv")
