"""Prediction's fast path: a plain float array skips validate_data, and nothing else changes."""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier

import mlp
from mlp.estimator import _base


def fitted(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


@pytest.fixture(scope="module")
def pair(iris):
    X, y = iris
    params = {"hidden_layer_sizes": (8,), "max_iter": 5, "random_state": 0}
    return (fitted(mlp.MLPClassifier(**params), X, y),
            fitted(SklearnMLPClassifier(**params), X, y))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_plain_float_array_skips_validation_and_predicts_the_same(pair, iris, monkeypatch,
                                                                     dtype):
    ours, _ = pair
    X = iris[0][:7].astype(dtype)
    reg = fitted(mlp.MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0),
                 iris[0], iris[0][:, 0])
    # a list goes through validate_data, to the same array
    slow = {n: ours.predict_proba(X[:n].tolist()) for n in (1, 7)}
    slow_reg = reg.predict(X.tolist())

    def refuse(*args, **kwargs):
        raise AssertionError("validate_data called for a plain float array")

    monkeypatch.setattr(_base, "validate_data", refuse)
    for n in (1, 7):
        np.testing.assert_array_equal(ours.predict_proba(X[:n]), slow[n])
        np.testing.assert_array_equal(ours.predict(X[:n]),
                                      ours.classes_[slow[n].argmax(axis=1)])
    np.testing.assert_array_equal(reg.predict(X), slow_reg)


@pytest.mark.parametrize(
    "bad", [
        pytest.param(lambda X: np.where(np.arange(4) == 1, np.nan, X), id="nan"),
        pytest.param(lambda X: np.where(np.arange(4) == 2, np.inf, X), id="inf"),
        pytest.param(lambda X: X[:, :3], id="width"),
        pytest.param(lambda X: X[:0], id="empty"),
        pytest.param(lambda X: X[0], id="1-d"),
    ])
def test_bad_arrays_get_scikit_learns_errors(pair, iris, bad):
    ours, theirs = pair
    X = bad(iris[0][:2].copy())
    try:
        theirs.predict_proba(X)
    except ValueError as exc:
        message = str(exc).splitlines()[0]  # the same class name in both libraries
    else:
        pytest.fail("scikit-learn accepted the input")
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        ours.predict_proba(X)


def test_feature_name_warnings_are_kept(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    by_name = fitted(mlp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0),
                     frame, y)
    with pytest.warns(UserWarning, match="X does not have valid feature names, but "
                                         "MLPClassifier was fitted with feature names"):
        by_name.predict_proba(X[:1])
    plain = fitted(mlp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0),
                   X, y)
    with pytest.warns(UserWarning, match="X has feature names, but MLPClassifier was "
                                         "fitted without feature names"):
        plain.predict_proba(frame.iloc[:1])


def test_unfitted_estimator_is_refused_before_anything_else(iris):
    with pytest.raises(NotFittedError):
        mlp.MLPClassifier().predict_proba(iris[0][:1])


def _cached_arrays(model):
    """The private arrays the layers hold (what forward keeps for backward)."""
    layers = list(model) + [model]
    return [name for layer in layers for name, value in vars(layer).items()
            if name.startswith("_") and isinstance(value, np.ndarray)]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_fitted_model_keeps_no_rows_of_the_data_it_saw(iris, solver):
    import pickle

    X, y = iris
    clf = mlp.MLPClassifier(hidden_layer_sizes=(16,), solver=solver, max_iter=3,
                            shuffle=False, random_state=0).fit(X, y)
    assert _cached_arrays(clf.model_) == []  # not the last training batch
    size = len(pickle.dumps(clf))
    big = np.random.default_rng(0).normal(size=(50000, 4))
    clf.predict_proba(big)
    assert _cached_arrays(clf.model_) == []  # nor the rows it predicted
    assert len(pickle.dumps(clf)) == size
    if solver == "adam":  # and training goes on from there
        assert clf.partial_fit(X, y).n_iter_ == 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_predictions_from_many_threads_are_those_of_one(iris):
    from concurrent.futures import ThreadPoolExecutor

    X, y = iris
    clf = mlp.MLPClassifier(hidden_layer_sizes=(64, 64), batch_norm=True, dropout=0.5,
                            max_iter=5, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: clf.predict_proba(X), range(100)))
    assert all(np.array_equal(r, expected) for r in results)  # dropout off, statistics kept
    np.testing.assert_array_equal(clf.predict_proba(X), expected)
