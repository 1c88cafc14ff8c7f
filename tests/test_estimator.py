"""MLPClassifier and MLPRegressor: scikit-learn conventions, targets, options, errors."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlp
from mlp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris_raw():
    return load_iris(return_X_y=True)


# -- scikit-learn machinery ------------------------------------------------------------


def test_pipeline_grid_search_cross_val_clone_pickle(iris_raw):
    X, y = iris_raw
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,),
                                                         max_iter=300, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() >= 0.9

    grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=3, n_jobs=2)
    grid.fit(X, y)
    assert grid.best_score_ >= 0.9
    assert grid.best_params_["mlpclassifier__alpha"] in (1e-4, 1e-2)

    fitted = pipe.fit(X, y)
    copy = clone(fitted)
    assert not hasattr(copy[-1], "model_")
    assert copy.get_params()["mlpclassifier__hidden_layer_sizes"] == (16,)

    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))


def test_same_random_state_same_coefs(iris_raw):
    X, y = iris_raw
    a = MLPClassifier(hidden_layer_sizes=(8, 8), max_iter=20, random_state=3).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(8, 8), max_iter=20, random_state=3).fit(X, y)
    for Wa, Wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        np.testing.assert_array_equal(Wa, Wb)
    c = MLPClassifier(hidden_layer_sizes=(8, 8), max_iter=20, random_state=4).fit(X, y)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


def test_fitted_attributes_have_scikit_learn_shapes(iris_raw):
    X, y = iris_raw
    clf = MLPClassifier(hidden_layer_sizes=(10, 5), max_iter=15, random_state=0).fit(X, y)
    assert [W.shape for W in clf.coefs_] == [(4, 10), (10, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(10,), (5,), (3,)]
    assert clf.n_layers_ == 4
    assert clf.n_outputs_ == 3
    assert clf.out_activation_ == "softmax"
    assert clf.n_features_in_ == 4
    assert clf.n_iter_ == 15
    assert len(clf.loss_curve_) == 15
    assert clf.loss_ == clf.loss_curve_[-1]
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.t_ == 15 * 150
    assert clf.validation_scores_ is None
    assert isinstance(clf.model_, mlp.Sequential)
    assert clf.coefs_[0] is clf.model_[0].params["W"]
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)


def test_convergence_warning_when_max_iter_is_reached(iris_raw):
    X, y = iris_raw
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(5\) reached"):
        MLPClassifier(max_iter=5, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        MLPClassifier(solver="lbfgs", max_iter=3, random_state=0).fit(X, y)


def test_training_stops_when_the_loss_stops_improving(iris_raw):
    X, y = iris_raw
    clf = MLPClassifier(hidden_layer_sizes=(8,), tol=1e-1, n_iter_no_change=3,
                        random_state=0).fit(StandardScaler().fit_transform(X), y)
    # each epoch must improve the loss by 0.1: that holds for a few epochs at most
    assert clf.n_iter_ < 20
    assert len(clf.loss_curve_) == clf.n_iter_


# -- targets -----------------------------------------------------------------------------


def test_binary_string_labels_use_one_sigmoid_output():
    X, y = make_classification(200, n_features=5, random_state=0)
    labels = np.where(y == 1, "spam", "ham")
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["ham", "spam"]
    assert clf.out_activation_ == "logistic"
    assert clf.coefs_[-1].shape == (16, 1)
    proba = clf.predict_proba(X)
    assert proba.shape == (200, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10)
    assert set(clf.predict(X)) <= {"ham", "spam"}
    assert clf.score(X, labels) > 0.9


def test_multiclass_integer_labels_keep_their_values(iris_raw):
    X, y = iris_raw
    y = y * 10 + 5
    clf = MLPClassifier(max_iter=300, random_state=0).fit(StandardScaler().fit_transform(X), y)
    np.testing.assert_array_equal(clf.classes_, [5, 15, 25])
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


def test_multilabel_indicator_targets():
    X, Y = make_multilabel_classification(300, n_features=8, n_classes=4, random_state=0)
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=400, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic"
    assert clf.n_outputs_ == 4
    pred = clf.predict(X)
    assert pred.shape == (300, 4)
    assert set(np.unique(pred)) <= {0, 1}
    assert clf.predict_proba(X).shape == (300, 4)
    # scikit-learn's MLPClassifier with the same settings gets 0.848 of the labels right
    assert np.mean(pred == Y) > 0.83


def test_regressor_multi_output_and_1d(iris_raw):
    X, _ = iris_raw
    Y = np.column_stack([X[:, 0] + X[:, 1], X[:, 2] - X[:, 3]])
    reg = MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0).fit(
        X, Y)
    assert reg.predict(X).shape == (150, 2)
    assert reg.score(X, Y) > 0.95
    reg1 = MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0).fit(
        X, Y[:, 0])
    assert reg1.predict(X).shape == (150,)
    assert reg1.out_activation_ == "identity"


def test_float32_input_is_trained_in_float32(iris_raw):
    X, y = iris_raw
    clf = MLPClassifier(max_iter=20, random_state=0).fit(X.astype(np.float32), y)
    assert all(W.dtype == np.float32 for W in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32
    clf64 = MLPClassifier(max_iter=20, random_state=0).fit(X, y)
    assert clf64.coefs_[0].dtype == np.float64


# -- beyond scikit-learn -----------------------------------------------------------------


def test_activation_per_layer_dropout_and_batch_norm(iris_raw):
    X, y = iris_raw
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier(hidden_layer_sizes=(16, 16), activation=["gelu", "leaky_relu"],
                        dropout=[0.1, 0.0], batch_norm=True, max_iter=200,
                        learning_rate_init=0.01, random_state=0).fit(X, y)
    kinds = [type(layer).__name__ for layer in clf.model_]
    assert kinds == ["Linear", "BatchNorm1d", "GELU", "Dropout", "Linear", "BatchNorm1d",
                     "LeakyReLU", "Linear"]
    assert clf.score(X, y) > 0.95
    # prediction is deterministic: dropout is off and BatchNorm uses running statistics
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_allclose(clf.predict_proba(X[:1]), clf.predict_proba(X)[:1], rtol=1e-12)


def test_class_weight_balanced_recovers_the_minority_class():
    X, y = make_classification(600, n_features=4, weights=[0.95, 0.05], class_sep=0.5,
                               random_state=1)
    plain = MLPClassifier(hidden_layer_sizes=(8,), max_iter=200, random_state=0).fit(X, y)
    balanced = MLPClassifier(hidden_layer_sizes=(8,), max_iter=200, class_weight="balanced",
                             random_state=0).fit(X, y)

    def minority_recall(clf):
        return np.mean(clf.predict(X)[y == 1] == 1)

    assert minority_recall(balanced) > minority_recall(plain) + 0.2


def _objectives_at_the_same_weights(clf, data_a, data_b, rng):
    """The lbfgs objective (value, gradient) on two data sets at the same random weights."""
    objective_a, theta = clf._lbfgs_objective(*data_a)
    objective_b, _ = clf._lbfgs_objective(*data_b)
    theta = theta + rng.normal(scale=0.1, size=theta.shape)
    return objective_a(theta), objective_b(theta)


# What sample weights mean is asserted on the objective at the same weights, where it is exact;
# comparing two fits after many L-BFGS iterations would compare round-off grown by the
# optimisation, which differs between BLAS kernels.
def test_sample_weight_zero_is_the_same_as_leaving_rows_out(iris_raw):
    X, y = iris_raw
    w = np.ones(150)
    w[::2] = 0
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", alpha=0.1, max_iter=5,
                        random_state=0).fit(X, y, sample_weight=w)
    # five iterations from the same start, too few for round-off to grow, stay together
    subset = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", alpha=0.1, max_iter=5,
                           random_state=0).fit(X[1::2], y[1::2])
    np.testing.assert_allclose(clf.predict_proba(X), subset.predict_proba(X), atol=1e-7)

    y_enc = clf._encode_for_loss(y)
    rng = np.random.default_rng(0)
    for _ in range(3):
        (value_w, grad_w), (value_s, grad_s) = _objectives_at_the_same_weights(
            clf, (X, y_enc, w), (X[1::2], y_enc[1::2], None), rng)
        assert value_w == pytest.approx(value_s, rel=1e-12)
        np.testing.assert_allclose(grad_w, grad_s, rtol=1e-10, atol=1e-12 * np.abs(grad_s).max())


def test_sample_weight_equals_repetition_lbfgs(iris_raw):
    X, y = iris_raw
    w = np.random.default_rng(0).integers(1, 4, size=150)
    clf = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", alpha=0.1, max_iter=5,
                        random_state=0).fit(X, y, sample_weight=w)
    repeated = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", alpha=0.1, max_iter=5,
                             random_state=0).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(clf.predict_proba(X), repeated.predict_proba(X), atol=1e-7)

    y_enc = clf._encode_for_loss(y)
    rng = np.random.default_rng(1)
    for _ in range(3):
        (value_w, grad_w), (value_r, grad_r) = _objectives_at_the_same_weights(
            clf, (X, y_enc, w.astype(float)),
            (np.repeat(X, w, axis=0), np.repeat(y_enc, w), None), rng)
        assert value_w == pytest.approx(value_r, rel=1e-12)
        np.testing.assert_allclose(grad_w, grad_r, rtol=1e-10, atol=1e-12 * np.abs(grad_r).max())


def test_validation_data_and_early_stopping_restore_the_best_epoch(iris_raw):
    X, y = iris_raw
    X = StandardScaler().fit_transform(X)
    rng = np.random.default_rng(0)
    order = rng.permutation(150)
    train, val = order[:100], order[100:]
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=100, random_state=0)
    clf.fit(X[train], y[train], validation_data=(X[val], y[val]))
    assert len(clf.validation_scores_) == clf.n_iter_ == 100
    assert clf.best_validation_score_ == max(clf.validation_scores_)

    es = MLPClassifier(hidden_layer_sizes=(16,), max_iter=500, early_stopping=True,
                       n_iter_no_change=5, random_state=0)
    es.fit(X[train], y[train], validation_data=(X[val], y[val]))
    assert es.n_iter_ < 500
    assert es.best_loss_ is None
    # the kept weights are those of the best epoch, not the last
    assert es.score(X[val], y[val]) == pytest.approx(es.best_validation_score_)

    internal = MLPClassifier(early_stopping=True, validation_fraction=0.2, random_state=0)
    internal.fit(X, y)
    assert internal.validation_scores_ is not None
    assert internal.t_ == internal.n_iter_ * 120  # 20% held out


def test_partial_fit_and_warm_start(iris_raw):
    X, y = iris_raw
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert clf.n_outputs_ == 3
    for _ in range(30):
        clf.partial_fit(X, y)
    # scikit-learn's counts: n_iter_ is the epochs of the latest call, t_ every sample seen
    assert clf.n_iter_ == 1
    assert len(clf.loss_curve_) == 31
    assert clf.t_ == 100 + 30 * 150
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    with pytest.raises(ValueError, match="classes not in `self.classes_`"):
        clf.partial_fit(X[:3], [0, 1, 7])

    warm = MLPClassifier(hidden_layer_sizes=(16,), max_iter=10, warm_start=True,
                         random_state=0).fit(X, y)
    W = warm.coefs_[0].copy()
    warm.fit(X, y)
    assert warm.n_iter_ == 10
    assert len(warm.loss_curve_) == 20
    assert warm.t_ == 20 * 150
    assert not np.array_equal(W, warm.coefs_[0])

    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as info:
        MLPClassifier(solver="lbfgs").partial_fit(X, y, classes=[0, 1, 2])
    assert "only available for stochastic optimizers" in str(info.value.__cause__)


def test_sgd_learning_rate_schedules(iris_raw):
    X, y = iris_raw
    X = StandardScaler().fit_transform(X)
    inv = MLPClassifier(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5,
                        max_iter=3, random_state=0).fit(X, y)
    assert inv._optimizer.lr == pytest.approx(0.5 / (3 * 150 + 1) ** 0.5)
    adaptive = MLPClassifier(solver="sgd", learning_rate="adaptive", learning_rate_init=0.1,
                             n_iter_no_change=2, tol=0.5, max_iter=12,
                             random_state=0).fit(X, y)
    # tol=0.5 cannot be met: after the first epoch, every third epoch without improvement
    # (epochs 4, 7 and 10) divides the rate by 5 instead of stopping
    assert adaptive._optimizer.lr == pytest.approx(0.1 / 5**3)
    assert adaptive.n_iter_ == 12


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alpha": -1}, r"The 'alpha' parameter of MLPClassifier must be a float in the range "
                        r"\[0.0, inf\). Got -1 instead."),
        ({"hidden_layer_sizes": (10, 0)}, "hidden_layer_sizes must be > 0"),
        ({"hidden_layer_sizes": (10, -3)}, "hidden_layer_sizes must be > 0"),
        ({"activation": "swish"}, "The 'activation' parameter of MLPClassifier must be a str "
                                  "among"),
        ({"activation": ["relu", "tanh"]}, "activation has 2 entries but there are 1 hidden"),
        ({"solver": "newton"}, "The 'solver' parameter"),
        ({"learning_rate_init": 0}, "learning_rate_init"),
        ({"max_iter": 0}, "The 'max_iter' parameter"),
        ({"batch_size": 0}, "The 'batch_size' parameter"),
        ({"dropout": 1.0}, "The 'dropout' parameter"),
        ({"momentum": 1.5}, "The 'momentum' parameter"),
        ({"validation_fraction": 1.0}, "The 'validation_fraction' parameter"),
        ({"solver": "lbfgs", "dropout": 0.2}, "dropout is not supported with solver='lbfgs'"),
        ({"class_weight": "some"}, "The 'class_weight' parameter"),
    ],
)
def test_bad_hyperparameters(iris_raw, params, message):
    X, y = iris_raw
    with pytest.raises(ValueError, match=message):
        MLPClassifier(**params).fit(X, y)


def test_bad_data(iris_raw):
    X, y = iris_raw
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MLPClassifier().fit(bad, y)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        MLPRegressor().fit(bad, X[:, 0])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MLPClassifier().fit(X, y[:-1])
    clf = MLPClassifier(max_iter=5).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="only one class"):
        MLPClassifier().fit(X, np.zeros(150))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\), expected \(150,\)"):
        MLPClassifier().fit(X, y, sample_weight=[1, 2, 3])


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_verbose_prints_scikit_learns_lines_to_the_current_stdout(iris_raw, solver):
    import contextlib
    import io

    X, y = iris_raw
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # swapped after mlp was imported
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=7, solver=solver, verbose=True,
                            random_state=0).fit(X, y)
    lines = out.getvalue().splitlines()
    assert len(lines) == clf.n_iter_ == len(clf.loss_curve_) == 7
    assert lines[0] == f"Iteration 1, loss = {clf.loss_curve_[0]:.8f}"
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    assert quiet.getvalue() == ""


def test_verbose_prints_validation_scores_with_early_stopping(iris_raw):
    import contextlib
    import io

    X, y = iris_raw
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, early_stopping=True,
                            verbose=True, random_state=0).fit(X, y)
    lines = out.getvalue().splitlines()
    assert lines[1::2] == [f"Validation score: {v:f}" for v in clf.validation_scores_]
    assert len(lines) == 2 * clf.n_iter_ == 8
