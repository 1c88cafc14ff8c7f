"""Sample weights, minibatches, statistics and validation curves of the estimators.

The objective is Σ sᵢℓᵢ / Σ sᵢ + α/(2 Σ sᵢ)·Σ‖W‖² for every solver, per minibatch for the
stochastic ones; every quantity derived from data respects the weights.
"""

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_classification
from sklearn.ensemble import BaggingClassifier
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlp
from mlp import MLPClassifier, MLPRegressor
from mlp.estimator import fit_with_validation
from mlp.estimator._state import batchnorm_statistics

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _weights(est):
    return est.coefs_ + est.intercepts_


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_weights_of_four_with_alpha_eight_fit_like_no_weights_with_alpha_two(iris, solver):
    X, y = iris
    params = dict(hidden_layer_sizes=(8,), solver=solver, batch_size=40, max_iter=4,
                  random_state=0)
    weighted = MLPClassifier(alpha=8.0, **params).fit(X, y, sample_weight=np.full(len(X), 4.0))
    plain = MLPClassifier(alpha=2.0, **params).fit(X, y)
    # four epochs: equal objectives at every step, so equal weights up to round-off
    for a, b in zip(_weights(weighted), _weights(plain), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.loss_curve_, plain.loss_curve_, rtol=1e-9)


def test_the_epoch_loss_is_the_weighted_objective(iris):
    X, y = iris
    w = np.random.default_rng(0).uniform(0.5, 3.0, len(X))
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=1e-12,
                        alpha=0.5, batch_size=len(X), max_iter=1, shuffle=False,
                        random_state=0).fit(X, y, sample_weight=w)
    # one full batch and a step too small to matter: the loss is the objective at the weights
    penalty = 0.5 / (2 * w.sum()) * sum(float(np.sum(W**2)) for W in clf.coefs_)
    expected = log_loss(y, clf.predict_proba(X), sample_weight=w) + penalty
    assert clf.loss_curve_[0] == pytest.approx(expected, rel=1e-9)


def test_minibatches_of_zero_weight_are_skipped(iris):
    X, y = iris
    # 60 rows, every class among the first 20 (of weight zero) and among the other 40
    rows = np.r_[0:7, 50:57, 100:106, 7:20, 57:70, 106:120]
    X, y = X[rows], y[rows]
    w = np.r_[np.zeros(20), np.ones(40)]
    params = dict(hidden_layer_sizes=(8,), batch_size=10, shuffle=False, max_iter=5,
                  random_state=0)
    weighted = MLPClassifier(**params).fit(X, y, sample_weight=w)
    # the two all-zero batches take no step: the same as training on the other rows alone
    kept = MLPClassifier(**params).fit(X[20:], y[20:])
    assert weighted.n_iter_ == kept.n_iter_ == 5
    assert weighted._optimizer.t == kept._optimizer.t == 5 * 4
    np.testing.assert_allclose(weighted.loss_curve_, kept.loss_curve_, rtol=1e-10)


def test_bagging_gives_left_out_rows_weight_zero(iris):
    X, y = iris
    bag = BaggingClassifier(MLPClassifier(hidden_layer_sizes=(8,), batch_size=4, max_iter=30,
                                          random_state=0), n_estimators=3, random_state=0)
    assert bag.fit(X, y).score(X, y) > 0.8


@pytest.mark.parametrize(("n_rows", "batch_size"), [(201, "auto"), (145, 16), (2 * 16 + 1, 16)])
def test_batch_norm_never_trains_on_a_last_batch_of_one(n_rows, batch_size):
    X, y = make_classification(n_rows, 5, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(8,), batch_norm=True, batch_size=batch_size,
                        learning_rate_init=0.02, max_iter=20, random_state=0).fit(X, y)
    assert clf.n_iter_ == 20
    assert clf.t_ == 20 * n_rows  # the single row joined the batch before it
    assert clf.score(X, y) > 0.7


def _first_batch_norm_input(clf, X):
    linear = clf.model_[0]
    return X @ linear.params["W"] + linear.params["b"]


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_batch_norm_statistics_are_weighted_and_describe_the_final_weights(iris, solver):
    X, y = iris
    w = np.random.default_rng(1).integers(0, 4, len(X)).astype(float)
    clf = MLPClassifier(hidden_layer_sizes=(6,), batch_norm=True, solver=solver, max_iter=20,
                        random_state=0).fit(X, y, sample_weight=w)
    H = _first_batch_norm_input(clf, X)
    mean = np.average(H, axis=0, weights=w)
    var = np.average((H - mean) ** 2, axis=0, weights=w)
    norm = clf.model_[1]
    np.testing.assert_allclose(norm.buffers["running_mean"], mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(norm.buffers["running_var"], var, rtol=1e-10)


def test_batch_norm_statistics_pool_over_partial_fit_calls(iris):
    X, y = iris
    # one BatchNorm: a later one's input would depend on the first's statistics
    model = mlp.Sequential(mlp.Linear(4, 5, rng=0), mlp.BatchNorm1d(5), mlp.ReLU(),
                           mlp.Linear(5, 2, rng=1))
    w = np.random.default_rng(2).uniform(0, 2, len(X))
    seen = batchnorm_statistics(model, X[:60], w[:60])
    seen = batchnorm_statistics(model, X[60:], w[60:], seen)
    pooled = [b.copy() for _, b in model.named_buffers()]
    assert seen == pytest.approx(w.sum())
    batchnorm_statistics(model, X, w)
    for a, (_, b) in zip(pooled, model.named_buffers(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_validation_scores_and_losses_are_weighted(iris):
    X, y = iris
    X_val, y_val = X[::3], y[::3].copy()
    w_val = np.ones(len(y_val))
    y_val[:5] = (y_val[:5] + 1) % 3  # wrong labels, of weight zero
    w_val[:5] = 0.0
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=6, random_state=0)
    clf.fit(X, y, validation_data=(X_val, y_val, w_val))
    assert len(clf.validation_scores_) == len(clf.validation_loss_curve_) == clf.n_iter_ == 6
    assert clf.validation_scores_[-1] == clf.score(X_val[5:], y_val[5:])
    penalty = clf.alpha / (2 * w_val.sum()) * sum(float(np.sum(W**2)) for W in clf.coefs_)
    expected = log_loss(y_val[5:], clf.predict_proba(X_val[5:])) + penalty
    assert clf.validation_loss_curve_[-1] == pytest.approx(expected, rel=1e-9)


def test_validation_loss_curve_is_none_without_validation_and_grows_with_warm_start(iris):
    X, y = iris
    clf = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, y)
    assert clf.validation_loss_curve_ is None
    es = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, early_stopping=True,
                      warm_start=True, random_state=0)
    es.fit(X, y)
    es.fit(X, y)
    assert len(es.validation_loss_curve_) == len(es.validation_scores_) == 6
    assert all(v > 0 for v in es.validation_loss_curve_)


def test_momentum_of_one_is_refused_by_the_estimators_own_check(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"The 'momentum' parameter of MLPClassifier must be a "
                       r"float in the range \[0\.0, 1\.0\)\. Got 1\.0 instead\."):
        MLPClassifier(solver="sgd", momentum=1.0).fit(X, y)
    clf = MLPClassifier(hidden_layer_sizes=(4,), solver="sgd", momentum=0.999, max_iter=2)
    assert clf.fit(X, y).n_iter_ == 2


# -- validation data inside a Pipeline ------------------------------------------------------

def _scaled_problem():
    X, y = make_classification(600, 8, n_informative=5, random_state=3)
    X = X * np.array([1e3, 1e-3, 1, 50, 1e2, 1, 1e-2, 7]) + 40.0  # scale matters
    return X[:400], y[:400], X[400:], y[400:]


def test_fit_with_validation_scores_the_transformed_validation_set():
    X, y, X_val, y_val = _scaled_problem()
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,),
                                                         early_stopping=True, max_iter=60,
                                                         random_state=0))
    assert fit_with_validation(pipe, X, y, (X_val, y_val)) is pipe
    clf = pipe[-1]
    # early stopping kept the best epoch: its score is the pipeline's real validation score
    assert clf.best_validation_score_ == pipe.score(X_val, y_val)
    assert pipe.score(X_val, y_val) > 0.75
    # the naive route hands the network unscaled data: its scores are of another input
    naive = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,),
                                                          early_stopping=True, max_iter=60,
                                                          random_state=0))
    naive.fit(X, y, mlpclassifier__validation_data=(X_val, y_val))
    assert naive[-1].best_validation_score_ < naive.score(X_val, y_val) - 0.1
    assert naive.score(X_val, y_val) < pipe.score(X_val, y_val) - 0.1  # stopped on a wrong cue


def test_fit_with_validation_refuses_what_is_not_a_pipeline():
    X, y, X_val, y_val = _scaled_problem()
    with pytest.raises(TypeError, match="expected a Pipeline"):
        fit_with_validation(MLPClassifier(), X, y, (X_val, y_val))
    with pytest.raises(ValueError, match=r"validation_data must be a tuple \(X_val, y_val\)"):
        fit_with_validation(make_pipeline(MLPClassifier()), X, y, X_val)


@pytest.mark.parametrize(("n_samples", "batch_size", "incremental"),
                         [(20, 1, False), (1, "auto", True), (1, 1, True)])
def test_batch_norm_with_minibatches_of_one_sample_is_refused_by_name(n_samples, batch_size,
                                                                     incremental):
    X = np.random.default_rng(0).normal(size=(n_samples, 3))
    y = np.arange(n_samples) % 2
    clf = MLPClassifier(batch_norm=True, batch_size=batch_size, max_iter=2)
    train = (lambda: clf.partial_fit(X, y, classes=[0, 1])) if incremental else \
        (lambda: clf.fit(X, y))
    with pytest.raises(ValueError, match=r"batch_norm=True needs minibatches of at least 2 "
                                         r"samples, got 1 \(batch_size="):
        train()
