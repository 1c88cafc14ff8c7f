"""MLPRegressor(loss="poisson"): the log link, against scikit-learn's Poisson models."""

import inspect
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import PoissonRegressor
from sklearn.metrics import mean_poisson_deviance
from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor

import mlp
import mlp.io


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = rng.poisson(np.exp(X @ np.array([0.5, -0.3, 0.2]) + 0.3)).astype(float)
    return X, y


def curvature(X, mu, alpha):
    """The smallest eigenvalue of the objective's Hessian at the solution: Xᵀdiag(μ)X/n plus
    the penalty on the weights (not the intercept)."""
    X1 = np.column_stack([X, np.ones(len(X))])
    H = X1.T @ (mu[:, None] * X1) / len(X) + alpha * np.diag([1.0] * X.shape[1] + [0.0])
    return np.linalg.eigvalsh(H)[0]


def test_no_hidden_layer_poisson_is_the_glm_of_poisson_regressor_and_sklearns_mlp(counts):
    X, y = counts
    n, alpha = len(y), 0.01
    # PoissonRegressor: mean half deviance + (α/2)‖w‖²; the MLP: mean half deviance +
    # α_MLP/(2n)‖W‖², the same objective for α_MLP = n·α
    glm = PoissonRegressor(alpha=alpha, tol=1e-12, max_iter=1000).fit(X, y)
    params = {"loss": "poisson", "hidden_layer_sizes": (), "solver": "lbfgs",
              "alpha": n * alpha, "tol": 1e-10, "max_iter": 1000, "random_state": 0}
    ours = mlp.MLPRegressor(**params).fit(X, y)
    theirs = SklearnMLPRegressor(**params).fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"

    # the objective is strongly convex: a point whose gradient is g lies within |g|/λ_min of
    # the minimum. The tolerance is what the three solvers' final gradients allow.
    objective, _ = ours._lbfgs_objective(X, y, None)
    solutions = {
        "mlp": np.r_[ours.coefs_[0].ravel(), ours.intercepts_[0]],
        "sklearn MLP": np.r_[theirs.coefs_[0].ravel(), theirs.intercepts_[0]],
        "PoissonRegressor": np.r_[glm.coef_, glm.intercept_],
    }
    distance = {k: np.linalg.norm(objective(w)[1]) for k, w in solutions.items()}
    lam = curvature(X, glm.predict(X), alpha)
    for name in ("sklearn MLP", "PoissonRegressor"):
        bound = 1.5 * (distance["mlp"] + distance[name]) / lam
        gap = np.linalg.norm(solutions["mlp"] - solutions[name])
        assert gap <= max(bound, 1e-9), (name, gap, bound)
    assert distance["mlp"] < 1e-4  # converged, so the comparison is a tight one
    np.testing.assert_allclose(ours.predict(X), glm.predict(X), rtol=1e-5)


def test_poisson_network_predicts_positive_means_as_well_as_sklearns(counts):
    X, y = counts
    rng = np.random.default_rng(1)
    X_test = rng.normal(size=(400, 3))
    y_test = rng.poisson(np.exp(X_test @ np.array([0.5, -0.3, 0.2]) + 0.3))
    params = {"loss": "poisson", "hidden_layer_sizes": (8,), "max_iter": 300,
              "learning_rate_init": 0.01, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = mlp.MLPRegressor(**params).fit(X, y)
        theirs = SklearnMLPRegressor(**params).fit(X, y)
    prediction = ours.predict(X_test)
    assert prediction.shape == (400,)
    assert np.all(prediction > 0)
    np.testing.assert_allclose(prediction, np.exp(ours.model_.eval().forward(X_test)[:, 0]))
    # the training loss is half the mean deviance on the training data (+ a small penalty)
    assert ours.loss_ == pytest.approx(mean_poisson_deviance(y, ours.predict(X)) / 2,
                                       rel=0.05)
    baseline = mean_poisson_deviance(y_test, np.full(400, y.mean()))
    deviance = mean_poisson_deviance(y_test, prediction)
    assert deviance < 0.8 * baseline
    assert deviance <= 1.1 * mean_poisson_deviance(y_test, theirs.predict(X_test))


def test_poisson_network_gradient_passes_the_check(counts):
    X, y = counts
    model = mlp.Sequential(mlp.Linear(3, 5, rng=0), mlp.Tanh(), mlp.Linear(5, 1, rng=1))
    assert mlp.check_model(model, mlp.PoissonLoss(), X[:20], y[:20]).ok


def test_poisson_refuses_negative_targets_and_unknown_losses(counts):
    X, y = counts
    with pytest.raises(ValueError, match="targets must be non-negative"):
        mlp.MLPRegressor(loss="poisson", max_iter=5).fit(X, y - 1)
    with pytest.raises(ValueError, match=r"The 'loss' parameter of MLPRegressor must be a str "
                                         r"among \{'poisson', 'squared_error'\}"):
        mlp.MLPRegressor(loss="absolute_error").fit(X, y)


def test_loss_is_the_first_parameter_as_in_scikit_learn():
    ours = list(inspect.signature(mlp.MLPRegressor).parameters)
    theirs = list(inspect.signature(SklearnMLPRegressor).parameters)
    assert ours[:3] == theirs[:3] == ["loss", "hidden_layer_sizes", "activation"]
    assert mlp.MLPRegressor().loss == "squared_error"


def test_poisson_regressor_round_trips_through_a_model_file(counts, tmp_path):
    X, y = counts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = mlp.MLPRegressor(loss="poisson", hidden_layer_sizes=(4,), max_iter=5,
                                  random_state=0).fit(X, y)
    mlp.io.save(fitted, tmp_path / "poisson.npz")
    loaded = mlp.io.load(tmp_path / "poisson.npz")
    assert (loaded.loss, loaded.out_activation_) == ("poisson", "exp")
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
