"""scikit-learn's public behaviour of its MLP, matched: scikit-learn is the oracle where it can be.

Comparisons with ``sklearn.neural_network`` assert outcomes (warnings, exceptions, counts,
probabilities at the same weights), never long optimisation trajectories.
"""

import copy
import inspect
import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.preprocessing import StandardScaler

from mlp import MLPClassifier, MLPRegressor

quiet = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def both(cls_ours, cls_sklearn, **params):
    return cls_ours(**params), cls_sklearn(**params)


# -- partial_fit, n_iter_, warm_start ----------------------------------------------------------

def test_partial_fit_takes_scikit_learns_argument_order(iris):
    X, y = iris
    ours = list(inspect.signature(MLPClassifier.partial_fit).parameters)
    assert ours == list(inspect.signature(SkClassifier.partial_fit).parameters)
    assert ours[3:] == ["sample_weight", "classes"]
    w = np.where(y == 0, 0.0, 1.0)
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(X, y, w, [0, 1, 2])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])


@quiet
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_n_iter_counts_the_latest_call_like_scikit_learn(iris, solver):
    X, y = iris
    params = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=10, warm_start=True,
                  tol=0.0, random_state=0)
    for est in both(MLPClassifier, SkClassifier, **params):
        counts = [est.fit(X, y).n_iter_ for _ in range(3)]
        assert counts == [10, 10, 10], type(est)
        if solver != "lbfgs":
            assert est.t_ == 30 * len(X)
    if solver == "lbfgs":
        return
    for est in both(MLPClassifier, SkClassifier, hidden_layer_sizes=(8,), solver=solver,
                    random_state=0):
        for _ in range(6):
            est.partial_fit(X, y, classes=[0, 1, 2])
        assert est.n_iter_ == 1, type(est)
        assert est.t_ == 6 * len(X), type(est)


def test_partial_fit_lowers_the_adaptive_rate_on_a_plateau_like_scikit_learn(iris):
    X, y = iris
    # tol=10: no epoch improves enough, so every call after the first counts as a plateau
    ours, theirs = both(MLPClassifier, SkClassifier, hidden_layer_sizes=(4,), solver="sgd",
                        learning_rate="adaptive", learning_rate_init=0.1, tol=10.0,
                        n_iter_no_change=2, random_state=0)
    rates = []
    for _ in range(8):
        ours.partial_fit(X, y, classes=[0, 1, 2])
        theirs.partial_fit(X, y, classes=[0, 1, 2])
        rates.append((ours._optimizer.lr, theirs._optimizer.learning_rate))
    assert [a for a, _ in rates] == pytest.approx([b for _, b in rates], rel=1e-12)
    assert rates[-1][0] == pytest.approx(0.1 / 25)


def test_warm_start_with_other_classes_is_refused_like_scikit_learn(iris):
    X, y = iris
    for est in both(MLPClassifier, SkClassifier, hidden_layer_sizes=(8,), max_iter=3,
                    warm_start=True, random_state=0):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
            with pytest.raises(ValueError, match=r"warm_start can only be used where `y` has "
                               r"the same classes.*Previously got \[0 1 2\], `y` has \[0 1\]"):
                est.fit(X[y < 2], y[y < 2])


@pytest.mark.parametrize("cls", [MLPClassifier, SkClassifier])
def test_n_iter_no_change_inf_never_stops_and_warns_at_max_iter(iris, cls):
    X, y = iris
    est = cls(hidden_layer_sizes=(4,), max_iter=15, n_iter_no_change=np.inf, tol=10.0,
              warm_start=True, random_state=0)
    for _ in range(2):  # under warm start too
        with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(15\) reached"):
            est.fit(X, y)
        assert est.n_iter_ == 15


@pytest.mark.parametrize("cls", [MLPClassifier, SkClassifier])
def test_lbfgs_warns_when_max_fun_is_reached(iris, cls):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge") as record:
        cls(hidden_layer_sizes=(8,), solver="lbfgs", max_fun=5, random_state=0).fit(X, y)
    assert "EVALUATIONS EXCEEDS LIMIT" in str(record[0].message)


# -- early stopping edge cases ---------------------------------------------------------------

@pytest.mark.parametrize("cls", [MLPClassifier, SkClassifier])
def test_early_stopping_split_that_cannot_be_stratified(iris, cls):
    X, y = iris
    rows = np.r_[0:40, 50]  # class 1 has a single sample
    with pytest.raises(ValueError, match="least populated class"):
        cls(hidden_layer_sizes=(4,), early_stopping=True, random_state=0).fit(X[rows], y[rows])


def test_early_stopping_split_that_cannot_be_stratified_multiclass(iris):
    X, y = iris
    rows = np.r_[0:40, 50:90, 100]
    with pytest.raises(ValueError, match="least populated class"):
        MLPClassifier(hidden_layer_sizes=(4,), early_stopping=True).fit(X[rows], y[rows])


@pytest.mark.parametrize("cls", [MLPRegressor, SkRegressor])
def test_a_validation_set_too_small_to_score_is_refused(cls):
    X, y = make_regression(10, 3, random_state=0)
    with pytest.raises(ValueError, match="The validation set is too small"):
        cls(hidden_layer_sizes=(4,), early_stopping=True).fit(X, y)


def test_a_validation_split_of_zero_weight_is_refused(iris):
    X, y = iris
    w = np.zeros(len(X))
    w[[0, 50, 100]] = 1.0  # the split (fixed by random_state) leaves these three in training
    clf = MLPClassifier(hidden_layer_sizes=(4,), early_stopping=True, random_state=0)
    with pytest.raises(ValueError, match="validation set has weight zero"):
        clf.fit(X, y, sample_weight=w)


def test_an_explicit_validation_set_of_one_sample_is_refused(iris):
    X, y = iris
    with pytest.raises(ValueError, match="The validation set is too small"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(
            X, y, validation_data=(X[:1], y[:1]))


@pytest.mark.parametrize("classes", [(MLPClassifier, SkClassifier), (MLPRegressor, SkRegressor)])
def test_partial_fit_with_early_stopping_is_refused(iris, classes):
    X, y = iris
    for cls in classes:
        est = cls(hidden_layer_sizes=(4,), early_stopping=True, max_iter=5, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        kwargs = {"classes": [0, 1, 2]} if cls in (MLPClassifier, SkClassifier) else {}
        with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
            est.partial_fit(X, y, **kwargs)


# -- assignable weights --------------------------------------------------------------------------

@quiet
def test_assigned_scikit_learn_weights_predict_scikit_learns_probabilities(iris):
    X, y = iris
    sk = SkClassifier(hidden_layer_sizes=(7, 5), max_iter=300, random_state=0).fit(X, y)
    ours = MLPClassifier(hidden_layer_sizes=(7, 5), max_iter=1, random_state=1).fit(X, y)
    ours.coefs_ = sk.coefs_
    ours.intercepts_ = sk.intercepts_
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), rtol=1e-12)
    np.testing.assert_array_equal(ours.predict(X), sk.predict(X))


@quiet
def test_coefs_items_write_into_the_network_and_wrong_shapes_are_refused(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=3, random_state=0).fit(X, y)
    clf.coefs_[1] = np.zeros((6, 3))
    clf.intercepts_[1] = np.array([0.0, 5.0, 0.0])
    assert (clf.predict(X) == 1).all()
    np.testing.assert_array_equal(clf.coefs_[1], 0.0)
    with pytest.raises(ValueError, match=r"coefs_\[0\] must have shape \(4, 6\), got \(6, 4\)"):
        clf.coefs_ = [np.zeros((6, 4)), np.zeros((6, 3))]
    np.testing.assert_array_equal(clf.coefs_[1], 0.0)  # nothing written
    with pytest.raises(ValueError, match="coefs_ must be a list of 2 arrays"):
        clf.coefs_ = [np.zeros((4, 6))]
    with pytest.raises(ValueError, match=r"intercepts_\[1\] contains NaN"):
        clf.intercepts_[1] = [0.0, np.nan, 0.0]
    # training goes on from assigned weights
    clf.coefs_ = [np.full((4, 6), 0.1), np.full((6, 3), 0.1)]
    before = clf.coefs_[0].copy()
    clf.partial_fit(X, y)
    assert 0 < np.abs(clf.coefs_[0] - before).max() < 0.1


# -- non-finite weights ----------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("classes", [(MLPClassifier, SkClassifier), (MLPRegressor, SkRegressor)])
def test_input_that_overflows_is_refused_like_scikit_learn(solver, classes):
    X = np.full((30, 50), 1.79e308)
    y = np.arange(30) % 2
    # scikit-learn's lbfgs stops at once on the NaN objective and returns its initial weights
    for cls in classes if solver != "lbfgs" else classes[:1]:
        est = cls(hidden_layer_sizes=(8,), solver=solver, max_iter=5, random_state=0)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            # scikit-learn warns about the overflow on the way; mlp must not (see below)
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            with pytest.raises(ValueError, match="Solver produced non-finite parameter "
                               "weights. The input data may contain large values"):
                est.fit(X, y)
    # and without the filters above, nothing is printed before the error (a seed, because
    # with some initial weights the first layer's sums stay below overflow)
    with pytest.raises(ValueError, match="Solver produced non-finite"):
        classes[0](hidden_layer_sizes=(8,), solver=solver, max_iter=5, random_state=0).fit(X, y)


def test_a_diverging_run_with_early_stopping_keeps_the_best_finite_weights():
    X, y = make_regression(200, 5, noise=1.0, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(16,), solver="sgd", learning_rate_init=3.0,
                       early_stopping=True, max_iter=100, random_state=0).fit(X, y / y.std())
    scores = np.array(reg.validation_scores_)
    assert np.isnan(scores[-1])  # recorded, then training stopped
    assert len(scores) == reg.n_iter_ < 100
    assert reg.best_validation_score_ == np.nanmax(scores)
    assert all(np.isfinite(W).all() for W in reg.coefs_)
    assert np.isfinite(reg.predict(X)).all()


# -- copies keep training exactly like the original ---------------------------------------

def _joblib_copy(est):
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


def _cloudpickle_copy(est):
    cloudpickle = pytest.importorskip("cloudpickle")
    return pickle.loads(cloudpickle.dumps(est))


@quiet
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("make_copy", [
    _joblib_copy, lambda est: pickle.loads(pickle.dumps(est)), copy.deepcopy, _cloudpickle_copy,
], ids=["joblib", "pickle", "deepcopy", "cloudpickle"])
def test_a_copy_keeps_training_exactly_like_the_original(iris, solver, make_copy):
    X, y = iris
    original = MLPClassifier(hidden_layer_sizes=(8,), solver=solver, batch_norm=True,
                             batch_size=32, max_iter=4, random_state=0).fit(X, y)
    copied = make_copy(original)
    for est in (original, copied):
        est.partial_fit(X, y)
        est.partial_fit(X[:70], y[:70])
    for a, b in zip(original.coefs_ + original.intercepts_, copied.coefs_ + copied.intercepts_,
                    strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(original.predict_proba(X), copied.predict_proba(X))
    # the copy's optimizer updates its network in one flat vector, as the original's does
    assert copied._optimizer._theta is not None
    assert np.shares_memory(copied._optimizer._theta, copied.model_[0].params["W"])
