"""Prediction without the layers' caches: the same numbers as the layers, bit for bit, always
from the current weights, from any number of threads, and nothing of X left behind."""

import copy
import pickle
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

import mlp
from mlp.activations import HIDDEN_ACTIVATIONS
from mlp.estimator import _inference

# the activations scikit-learn's MLP offers: these must never go through the layers
SKLEARN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")


def fitted(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def layers_output(estimator, X):
    """What the layers' own forward gives in evaluation mode (on a copy, so that the
    estimator's network keeps no cache of it)."""
    return copy.deepcopy(estimator.model_).eval().forward(X)


def targets(kind, y):
    if kind == "binary":
        return (y == 0).astype(int)
    if kind == "multilabel":
        return np.column_stack([y == 0, y == 1, y != 1]).astype(int)
    if kind == "regression":
        return np.column_stack([y, -2.0 * y])
    return y


def estimator_for(kind, **params):
    params = {"hidden_layer_sizes": (6, 5), "max_iter": 3, "random_state": 0} | params
    return (mlp.MLPRegressor if kind == "regression" else mlp.MLPClassifier)(**params)


@pytest.mark.parametrize("activation", [*HIDDEN_ACTIVATIONS, ["relu", "gelu"], ["elu", "tanh"]])
@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("extras", [{}, {"dropout": 0.3, "batch_norm": True}],
                         ids=["plain", "dropout+batch_norm"])
def test_the_output_is_the_layers_output_bit_for_bit(iris, activation, fit_dtype, extras):
    X, y = iris
    X = X * 3.0  # values well into every activation's curved part
    est = fitted(estimator_for("multiclass", activation=activation, **extras),
                 X.astype(fit_dtype), y)
    for predict_dtype in (np.float32, np.float64):
        for rows in (X[:1], X):
            batch = rows.astype(predict_dtype)
            expected = layers_output(est, batch)
            got = est._forward(batch)
            assert got.dtype == expected.dtype == np.result_type(fit_dtype, predict_dtype)
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("activation", SKLEARN_ACTIVATIONS)
def test_scikit_learns_activations_never_go_through_the_layers(iris, activation):
    X, y = iris
    est = fitted(estimator_for("multiclass", activation=activation, dropout=0.2,
                               batch_norm=True), X, y)
    expected = layers_output(est, X)
    with pytest.MonkeyPatch.context() as patch:
        for kind in _inference._STEPS:
            patch.setattr(kind, "forward", lambda self, X: 1 / 0)
        np.testing.assert_array_equal(est._forward(X), expected)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "regression"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_face_predicts_from_the_layers_output(iris, kind, dtype):
    X, y = iris
    X = X.astype(dtype)
    est = fitted(estimator_for(kind, activation="tanh"), X, targets(kind, y))
    U = layers_output(est, X)
    np.testing.assert_array_equal(est._forward(X), U)
    if kind == "regression":
        np.testing.assert_array_equal(est.predict(X), U)
        return
    P = 1 / (1 + np.exp(-U)) if kind != "multiclass" else \
        np.exp(U - U.max(axis=1, keepdims=True)) / np.exp(
            U - U.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)
    if kind == "binary":
        P = np.column_stack([1 - P[:, 0], P[:, 0]])
    proba = est.predict_proba(X)
    assert proba.dtype == dtype
    np.testing.assert_allclose(proba, P, rtol=10 * np.finfo(dtype).eps, atol=0)
    expected = (U > 0).astype(int) if kind == "multilabel" else est.classes_[
        (U[:, 0] > 0).astype(int) if kind == "binary" else U.argmax(axis=1)]
    np.testing.assert_array_equal(est.predict(X), expected)


def test_sparse_rows_give_the_layers_output(iris):
    X, y = iris
    est = fitted(estimator_for("multiclass"), X, y)
    X_sparse = sp.csr_matrix(np.where(np.abs(X) < 0.5, 0.0, X))
    np.testing.assert_array_equal(est._forward(X_sparse), layers_output(est, X_sparse))


# -- a change of weights is seen by the next prediction ------------------------------------

def test_assigned_weights_are_used_at_once(iris):
    X, y = iris
    est = fitted(estimator_for("multiclass"), X, y)
    before = est.predict_proba(X[:1])
    coefs = [np.ones_like(W) * 0.1 for W in est.coefs_]
    est.coefs_ = coefs  # the whole list
    after = est.predict_proba(X[:1])
    np.testing.assert_array_equal(est._forward(X[:1]), layers_output(est, X[:1]))
    assert not np.array_equal(after, before)
    est.intercepts_[-1] = np.arange(3.0)  # one item
    np.testing.assert_array_equal(est._forward(X[:1]), layers_output(est, X[:1]))
    assert not np.array_equal(est.predict_proba(X[:1]), after)
    est.coefs_[0][...] = 0.0  # in place, through the array given out
    np.testing.assert_array_equal(est._forward(X[:5]), np.tile(est._forward(X[:1]), (5, 1)))


@pytest.mark.parametrize("change", ["partial_fit", "warm_start", "set_params+fit"])
def test_training_after_a_prediction_is_seen_by_the_next_one(iris, change):
    X, y = iris
    est = fitted(estimator_for("multiclass", batch_norm=True), X, y)
    before = est.predict_proba(X)
    if change == "partial_fit":
        est.partial_fit(X, y)
    elif change == "warm_start":
        fitted(est.set_params(warm_start=True), X, y)
    else:
        fitted(est.set_params(hidden_layer_sizes=(7,)), X, y)
        assert est.coefs_[0].shape == (4, 7)
    after = est.predict_proba(X)
    assert np.abs(after - before).max() > 1e-6
    np.testing.assert_array_equal(est._forward(X), layers_output(est, X))


def test_a_loaded_model_file_predicts_as_the_estimator_saved(iris, tmp_path):
    X, y = iris
    est = fitted(estimator_for("multiclass", batch_norm=True, activation="gelu"), X, y)
    expected = est.predict_proba(X)
    mlp.io.save(est, tmp_path / "model.npz")
    np.testing.assert_array_equal(mlp.io.load(tmp_path / "model.npz").predict_proba(X),
                                  expected)


# -- threads and what stays behind ---------------------------------------------------------

def _cached_arrays(model):
    """The private arrays the layers hold (what forward keeps for backward)."""
    return [name for layer in [model, *model] for name, value in vars(layer).items()
            if name.startswith("_") and isinstance(value, np.ndarray)]


@pytest.mark.parametrize("activation", ["relu", "gelu"])  # the fast path; the layers' path
def test_threads_predicting_different_rows_each_get_their_own(iris, activation):
    X, y = iris
    est = fitted(estimator_for("multiclass", activation=activation, batch_norm=True,
                               dropout=0.5, hidden_layer_sizes=(64, 64)), X, y)
    expected = [est.predict_proba(X[i:i + 1]) for i in range(len(X))]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            got = list(pool.map(lambda i: est.predict_proba(X[i:i + 1]), range(len(X))))
            for i in range(len(X)):
                np.testing.assert_array_equal(got[i], expected[i])
    assert _cached_arrays(est.model_) == []


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_a_prediction_leaves_nothing_of_X_in_the_model_or_its_pickle(iris, activation):
    X, y = iris
    est = fitted(estimator_for("multiclass", activation=activation, batch_norm=True,
                               dropout=0.2), X, y)
    size = len(pickle.dumps(est))
    big = np.random.default_rng(0).normal(size=(20000, 4))
    est.predict_proba(big)
    est.predict(big.astype(np.float32).tolist())  # the validated path too
    assert _cached_arrays(est.model_) == []
    assert len(pickle.dumps(est)) == size
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict_proba(X),
                                  est.predict_proba(X))
