"""MNIST-1D through the optional ``mnist1d`` package: the data, and what loading it leaves alone."""

# The package draws from numpy's global generator: these tests use it on purpose, to show that
# loading the data leaves it alone.
# ruff: noqa: NPY002

import builtins
import random
import subprocess
import sys

import numpy as np
import pytest

from mlp.datasets import MNIST1D_TRAIN, load_dataset, load_mnist1d

mnist1d = pytest.importorskip("mnist1d")


@pytest.fixture(scope="module")
def data():
    return load_mnist1d()


def test_the_paper_s_data_and_split(data):
    from mnist1d.data import get_dataset_args, make_dataset

    assert data.X.shape == (5000, 40)
    assert data.X.dtype == np.float64
    np.testing.assert_array_equal(np.bincount(data.y), [500] * 10)
    assert data.classes == [str(k) for k in range(10)]
    # the package's own train / test split is the first 4000 rows and the last 1000
    state = np.random.get_state()
    reference = make_dataset(get_dataset_args())
    np.random.set_state(state)
    np.testing.assert_array_equal(data.X[:MNIST1D_TRAIN], reference["x"])
    np.testing.assert_array_equal(data.X[MNIST1D_TRAIN:], reference["x_test"])
    np.testing.assert_array_equal(data.y[MNIST1D_TRAIN:], reference["y_test"])
    # centred and scaled over the whole set
    assert abs(data.X.mean()) < 1e-12
    assert data.X.std() == pytest.approx(1.0, rel=1e-12)


def test_loading_leaves_the_global_random_state_alone():
    np.random.seed(123)
    random.seed(123)
    expected_numpy, expected_python = np.random.random(3), random.random()
    np.random.seed(123)
    random.seed(123)
    load_dataset("mnist1d")
    np.testing.assert_array_equal(np.random.random(3), expected_numpy)
    assert random.random() == expected_python


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_linear_and_nonlinear_models_part_as_the_paper_says(data):
    # the set exists to separate them: the paper reports 32% test accuracy for logistic
    # regression and 68% for an MLP; ten epochs of each already show the gap
    import mlp

    X_train, y_train = data.X[:MNIST1D_TRAIN], data.y[:MNIST1D_TRAIN]
    X_test, y_test = data.X[MNIST1D_TRAIN:], data.y[MNIST1D_TRAIN:]

    def accuracy(hidden):
        return mlp.MLPClassifier(hidden_layer_sizes=hidden, batch_size=100,
                                 learning_rate_init=1e-2, max_iter=10, n_iter_no_change=10,
                                 random_state=0).fit(X_train, y_train).score(X_test, y_test)

    linear, net = accuracy(()), accuracy((100, 100))
    assert 0.22 < linear < 0.40
    assert net > linear + 0.2


def test_a_missing_package_is_one_clear_sentence(monkeypatch):
    real_import = builtins.__import__

    def no_mnist1d(name, *args, **kwargs):
        if name.split(".")[0] == "mnist1d":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mnist1d)
    with pytest.raises(ValueError, match=r"optional package mnist1d: pip install mnist1d \(or, "
                                         r"in a checkout of this project, pip install -e "
                                         r"'\.\[mnist1d\]'\)"):
        load_mnist1d()


def test_command_line_trains_on_mnist1d(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mlp", "train", "--data", "mnist1d", "--hidden", "32",
         "--epochs", "5", "--batch-size", "100", "--lr", "0.01", "--test-fraction", "0.2",
         "--json", str(tmp_path / "metrics.json")],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    import json

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.3  # ten classes: chance is 0.1
