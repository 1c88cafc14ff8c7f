"""Dropout, BatchNorm1d, Residual, train/eval modes and the L2 penalty."""

import numpy as np
import pytest
from sklearn.datasets import make_moons

import mlp
from mlp.gradcheck import check_layer, check_model, numerical_gradient
from mlp.losses import L2Penalty
from mlp.trainer import fit

# -- Dropout ---------------------------------------------------------------------------


def test_dropout_eval_is_exactly_the_identity(rng):
    X = rng.normal(size=(50, 7))
    layer = mlp.Dropout(0.5, rng=0).eval()
    np.testing.assert_array_equal(layer.forward(X), X)
    np.testing.assert_array_equal(layer.backward(X), X)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_drops_a_fraction_p_and_keeps_the_mean(p):
    n = 1000 * 400
    Y = mlp.Dropout(p, rng=1).forward(np.ones((1000, 400)))
    zeros = np.mean(Y == 0)
    assert abs(zeros - p) < 5 * np.sqrt(p * (1 - p) / n)
    # kept units are scaled by 1/(1 - p): Var(Y) = p/(1 - p) for an input of ones
    assert abs(Y.mean() - 1.0) < 5 * np.sqrt(p / (1 - p) / n)
    values = np.unique(Y)
    assert values[0] == 0.0
    assert values[1:] == pytest.approx([1 / (1 - p)])


def test_dropout_backward_uses_the_same_mask(rng):
    layer = mlp.Dropout(0.4, rng=2)
    X = rng.normal(size=(20, 6))
    Y = layer.forward(X)
    dY = rng.normal(size=(20, 6))
    dX = layer.backward(dY)
    dropped = Y == 0
    assert np.all(dX[dropped] == 0)
    np.testing.assert_allclose(dX[~dropped], dY[~dropped] / 0.6)


def test_dropout_same_seed_same_mask_new_mask_each_forward():
    X = np.ones((30, 30))
    a, b = mlp.Dropout(0.5, rng=7), mlp.Dropout(0.5, rng=7)
    first = a.forward(X)
    np.testing.assert_array_equal(first, b.forward(X))
    assert not np.array_equal(first, a.forward(X))


def test_dropout_gradient_check_with_mask_held(rng):
    layer = mlp.Dropout(0.3, rng=3)
    report = check_layer(layer, rng.normal(size=(6, 5)), rng=0)
    assert report.max_error <= 1e-7, str(report)
    assert layer.freeze_mask is False  # the check puts things back


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\)"):
        mlp.Dropout(p)


# -- BatchNorm1d -----------------------------------------------------------------------


def test_batchnorm_gradient_check_training_and_eval(rng):
    layer = mlp.BatchNorm1d(5)
    layer.params["gamma"][:] = rng.normal(size=5)
    layer.params["beta"][:] = rng.normal(size=5)
    X = rng.normal(2.0, 3.0, size=(8, 5))
    report = check_layer(layer, X, rng=0)
    assert {c.name for c in report.checks} == {"dX", "gamma", "beta"}
    assert report.max_error <= 1e-7, str(report)
    layer.buffers["running_var"][:] = 4.0
    assert check_layer(layer.eval(), X, rng=0).max_error <= 1e-7


def test_batchnorm_normalises_each_feature(rng):
    X = rng.normal([1.0, -5.0, 100.0], [0.1, 2.0, 30.0], size=(64, 3))
    Y = mlp.BatchNorm1d(3).forward(X)
    np.testing.assert_allclose(Y.mean(axis=0), 0.0, atol=1e-12)
    var = X.var(axis=0)
    np.testing.assert_allclose(Y.var(axis=0), var / (var + 1e-5), rtol=1e-12)


def test_batchnorm_running_statistics_converge(rng):
    layer = mlp.BatchNorm1d(2, momentum=0.1)
    for _ in range(300):
        layer.forward(rng.normal([3.0, -1.0], [2.0, 0.5], size=(128, 2)))
    np.testing.assert_allclose(layer.buffers["running_mean"], [3.0, -1.0], atol=0.1)
    np.testing.assert_allclose(layer.buffers["running_var"], [4.0, 0.25], rtol=0.05)


def test_batchnorm_eval_normalises_one_sample_with_running_statistics():
    layer = mlp.BatchNorm1d(2)
    layer.buffers["running_mean"][:] = [1.0, 2.0]
    layer.buffers["running_var"][:] = [4.0, 9.0]
    layer.params["gamma"][:] = [2.0, 1.0]
    layer.params["beta"][:] = [0.0, 1.0]
    Y = layer.eval().forward(np.array([[3.0, 2.0]]))
    np.testing.assert_allclose(Y, [[2.0 * 2.0 / np.sqrt(4 + 1e-5), 1.0]])


def test_batchnorm_errors():
    with pytest.raises(ValueError, match="needs a batch of at least 2 samples"):
        mlp.BatchNorm1d(3).forward(np.ones((1, 3)))
    with pytest.raises(ValueError, match="expected input with 3 features"):
        mlp.BatchNorm1d(3).forward(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"momentum must be in \(0, 1\]"):
        mlp.BatchNorm1d(3, momentum=0)


# -- Residual --------------------------------------------------------------------------


def test_residual_adds_the_skip_path_and_checks(rng):
    block = mlp.Residual(mlp.Linear(4, 4, rng=0), mlp.Tanh())
    X = rng.normal(size=(6, 4))
    W, b = block[0].params["W"], block[0].params["b"]
    np.testing.assert_allclose(block.forward(X), X + np.tanh(X @ W + b))
    report = check_layer(block, X, rng=1)
    assert {c.name for c in report.checks} == {"dX", "0.W", "0.b"}
    assert report.max_error <= 1e-7, str(report)


def test_residual_gradients_add_at_the_branch(rng):
    block = mlp.Residual(mlp.Linear(3, 3, rng=0))
    block.forward(rng.normal(size=(2, 3)))
    dY = rng.normal(size=(2, 3))
    np.testing.assert_allclose(block.backward(dY), dY + dY @ block[0].params["W"].T)


def test_residual_rejects_a_width_change():
    with pytest.raises(ValueError, match="map 4 features to 8"):
        mlp.Residual(mlp.Linear(4, 8))
    with pytest.raises(ValueError, match="map 4 features to 5"):
        mlp.Residual(mlp.Linear(4, 8), mlp.ReLU(), mlp.Linear(8, 5))
    with pytest.raises(ValueError, match="at least one inner layer"):
        mlp.Residual()


def test_parameters_and_modes_reach_inside_blocks():
    model = mlp.Sequential(
        mlp.Linear(3, 4), mlp.BatchNorm1d(4),
        mlp.Residual(mlp.Linear(4, 4), mlp.Dropout(0.2), mlp.ReLU()), mlp.Linear(4, 2),
    )
    assert [p.name for p in model.parameters()] == [
        "0.W", "0.b", "1.gamma", "1.beta", "2.0.W", "2.0.b", "3.W", "3.b"]
    assert [name for name, _ in model.named_buffers()] == ["1.running_mean", "1.running_var"]
    everything = [model, *model, *model[2]]
    assert model.eval() is model
    assert not any(layer.training for layer in everything)
    assert model.train() is model
    assert all(layer.training for layer in everything)


def test_whole_model_check_with_every_kind_of_layer(rng):
    model = mlp.Sequential(
        mlp.Linear(4, 8, rng=0, bias=False), mlp.BatchNorm1d(8), mlp.ReLU(),
        mlp.Dropout(0.3, rng=1), mlp.Residual(mlp.Linear(8, 8, rng=2), mlp.Tanh()),
        mlp.Linear(8, 3, rng=3),
    )
    X = rng.normal(size=(16, 4))
    before = model[1].buffers["running_mean"].copy()
    report = check_model(model, mlp.SoftmaxCrossEntropyLoss(), X, rng.integers(0, 3, 16))
    assert report.max_error <= 1e-6, str(report)
    np.testing.assert_array_equal(model[1].buffers["running_mean"], before)


# -- L2 penalty ------------------------------------------------------------------------


def test_l2_penalty_value_and_gradient_cover_weights_only(rng):
    model = mlp.Sequential(mlp.Linear(3, 4, rng=0), mlp.Tanh(), mlp.Linear(4, 2, rng=1))
    for p in model.parameters():
        p.value[...] = rng.normal(size=p.value.shape)
        p.grad[...] = 0.0
    penalty = L2Penalty(0.3)
    params = model.parameters()
    W1, W2 = model[0].params["W"], model[2].params["W"]
    assert penalty.forward(params) == pytest.approx(0.3 * (np.sum(W1**2) + np.sum(W2**2)))
    penalty.backward(params)
    numeric = numerical_gradient(lambda _: penalty.forward(params), W1)
    np.testing.assert_allclose(model[0].grads["W"], numeric, rtol=1e-8)
    np.testing.assert_array_equal(model[0].grads["b"], 0.0)


def _train(iris, optimizer, l2=0.0, weight_decay=0.0):
    X, y = iris
    model = mlp.Sequential(mlp.Linear(4, 8, rng=0), mlp.Tanh(), mlp.Linear(8, 3, rng=1))
    opt = optimizer(model.parameters(), lr=0.05, weight_decay=weight_decay)
    fit(model, mlp.SoftmaxCrossEntropyLoss(), opt, X, y, epochs=5, rng=0, l2=l2)
    return np.concatenate([p.value.ravel() for p in model.parameters()])


def test_l2_penalty_equals_sgd_weight_decay_but_not_adams(iris):
    # γ‖W‖² has gradient 2γW: SGD's weight_decay λ = 2γ is the same update
    np.testing.assert_allclose(_train(iris, mlp.SGD, l2=0.05),
                               _train(iris, mlp.SGD, weight_decay=0.1), rtol=1e-10)
    # Adam rescales the penalty's gradient but not its own decoupled decay
    with_l2 = _train(iris, mlp.Adam, l2=0.05)
    decayed = _train(iris, mlp.Adam, weight_decay=0.1)
    assert np.max(np.abs(with_l2 - decayed)) > 1e-3


def test_l2_penalty_shrinks_the_weights(iris):
    plain = _train(iris, mlp.SGD)
    shrunk = _train(iris, mlp.SGD, l2=0.05)
    assert np.linalg.norm(shrunk) < 0.9 * np.linalg.norm(plain)


def test_l2_penalty_rejects_bad_gamma():
    with pytest.raises(ValueError, match="gamma must be a finite number"):
        L2Penalty(-1)


# -- depth -----------------------------------------------------------------------------


def _deep(kind, rng):
    """Six sigmoid hidden layers of 16 units: plain, with BatchNorm, or as residual blocks."""
    layers = [mlp.Linear(2, 16, rng=rng), mlp.Sigmoid()]
    for _ in range(5):
        if kind == "plain":
            layers += [mlp.Linear(16, 16, rng=rng), mlp.Sigmoid()]
        elif kind == "batchnorm":
            layers += [mlp.Linear(16, 16, rng=rng), mlp.BatchNorm1d(16), mlp.Sigmoid()]
        else:
            layers.append(mlp.Residual(mlp.Linear(16, 16, rng=rng), mlp.Sigmoid()))
    return mlp.Sequential(*layers, mlp.Linear(16, 2, rng=rng))


def test_batchnorm_and_residual_blocks_rescue_a_deep_sigmoid_network():
    """Compare the training loss after 30 epochs of SGD with momentum on two moons.

    The plain six-layer sigmoid network is still at chance (cross-entropy ≈ ln 2 = 0.693):
    its gradients vanish on the way down. The same depth with BatchNorm after every hidden
    Linear, or with every hidden layer as a residual block, gets below half of that.
    """
    X, y = make_moons(200, noise=0.15, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    final = {}
    for kind in ["plain", "batchnorm", "residual"]:
        model = _deep(kind, np.random.default_rng(0))
        opt = mlp.SGD(model.parameters(), lr=0.1, momentum=0.9)
        history = fit(model, mlp.SoftmaxCrossEntropyLoss(), opt, X, y, epochs=30,
                      batch_size=32, rng=0)
        final[kind] = history.loss[-1]
    assert final["plain"] > 0.65
    assert final["batchnorm"] < 0.5 * final["plain"]
    assert final["residual"] < 0.5 * final["plain"]
