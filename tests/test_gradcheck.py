"""Whole-model gradient checks on Iris, and the checker itself."""

import numpy as np
import pytest

import mlp
from mlp.gradcheck import check_grad_flat, check_model, numerical_gradient

HIDDEN = ["relu", "leaky_relu", "prelu", "elu", "gelu", "sigmoid", "tanh", "softplus",
          "identity"]


@pytest.mark.parametrize("activation", HIDDEN)
def test_iris_network_gradients(iris, make_net, activation):
    X, y = iris
    model = make_net(activation)
    loss = mlp.SoftmaxCrossEntropyLoss()
    report = check_model(model, loss, X, y)
    assert [c.name for c in report.checks] == [p.name for p in model.parameters()]
    assert report.max_error <= 1e-6, str(report)
    assert check_grad_flat(model, loss, X, y) <= 1e-6


def test_iris_modular_softmax_and_nll(iris, make_net):
    X, y = iris
    model = make_net("sigmoid").append(mlp.Softmax())
    assert check_model(model, mlp.NLLLoss(), X, y).max_error <= 1e-6
    assert check_grad_flat(model, mlp.NLLLoss(), X, y) <= 1e-6


@pytest.mark.parametrize(
    ("loss", "n_out", "target"),
    [
        (mlp.MSELoss(), 1, lambda X, y: X[:, 0]),
        (mlp.BCEWithLogitsLoss(), 1, lambda X, y: (y == 2).astype(float)),
        (mlp.BCEWithLogitsLoss(), 3, lambda X, y: np.eye(3)[y]),
    ],
    ids=["regression", "binary", "multilabel"],
)
def test_iris_other_losses(iris, make_net, loss, n_out, target):
    X, y = iris
    model = make_net("tanh", n_out=n_out)
    assert check_model(model, loss, X, target(X, y)).max_error <= 1e-6
    assert check_grad_flat(model, loss, X, target(X, y)) <= 1e-6


def test_check_model_input_gradient_and_parameters_restored(iris, make_net):
    X, y = iris
    model = make_net("tanh")
    before = [p.value.copy() for p in model.parameters()]
    report = check_model(model, mlp.SoftmaxCrossEntropyLoss(), X[:20], y[:20], input_grad=True)
    assert report.checks[0].name == "dX"
    assert report.ok, str(report)
    check_grad_flat(model, mlp.SoftmaxCrossEntropyLoss(), X, y)
    for p, value in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.value, value)


def test_check_model_catches_a_transposed_gradient(iris, make_net):
    class TransposedLinear(mlp.Linear):
        def backward(self, dY, input_grad=True):
            dX = super().backward(dY, input_grad)
            self.grads["W"][...] = (dY.T @ self._X).T * 0.5  # a wrong factor
            return dX

    X, y = iris
    model = make_net("tanh")
    model.layers[2] = TransposedLinear(16, 3, rng=0)
    report = check_model(model, mlp.SoftmaxCrossEntropyLoss(), X, y)
    assert not report.ok
    assert not report["2.W"].ok
    assert report["2.W"].max_error > 0.3
    assert report["0.W"].ok
    assert check_grad_flat(model, mlp.SoftmaxCrossEntropyLoss(), X, y) > 0.1


class RebindingLinear(mlp.Linear):
    """Right numbers, wrong place: puts new arrays into grads instead of filling them."""

    def backward(self, dY, input_grad=True):
        self.grads["W"] = self._X.T @ dY
        self.grads["b"] = dY.sum(axis=0)
        return dY @ self.params["W"].T if input_grad else None


def test_gradients_not_written_in_place_fail_the_checks(iris, make_net):
    X, y = iris
    report = mlp.check_layer(RebindingLinear(4, 3, rng=0), X[:5])
    assert report["W"].ok  # the numbers are right...
    assert report["b"].ok
    assert not report.ok  # ...but an optimizer would never see them
    assert len(report.problems) == 2
    assert "replaced the gradient array of W" in report.problems[0]
    assert "problem: backward replaced" in str(report)
    assert mlp.check_layer(mlp.Linear(4, 3, rng=0), X[:5]).problems == []

    model = make_net("tanh")
    model.layers[2] = RebindingLinear(16, 3, rng=0)
    report = check_model(model, mlp.SoftmaxCrossEntropyLoss(), X, y)
    assert report["2.W"].ok
    assert not report.ok
    assert [p.split(" instead")[0] for p in report.problems] == [
        "backward replaced the gradient array of 2.W",
        "backward replaced the gradient array of 2.b"]


def test_kink_in_a_model_is_reported():
    model = mlp.Sequential(mlp.Linear(1, 1, init=lambda s, r: np.ones(s)), mlp.ReLU(),
                           mlp.Linear(1, 1, init=lambda s, r: np.ones(s)))
    X = np.array([[1e-6], [1.0]])  # the first pre-activation sits on ReLU's kink
    report = check_model(model, mlp.MSELoss(), X, np.zeros(2))
    assert report["0.b"].kink  # b moves q by ±h, across the kink...
    assert not report["0.W"].kink  # ...W by ±h·1e-6, not across it
    assert "kinks straddled in 1: ReLU()" in str(report)
    assert report.ok, str(report)


def test_numerical_gradient_restores_and_is_second_order():
    x = np.array([[0.5, -1.0], [2.0, 3.0]])
    original = x.copy()
    grad = numerical_gradient(lambda v: np.sum(v**3), x)
    np.testing.assert_allclose(grad, 3 * original**2, rtol=1e-9)
    np.testing.assert_array_equal(x, original)


def test_float32_model_is_refused(iris):
    X, y = iris
    model = mlp.Sequential(mlp.Linear(4, 3, dtype=np.float32))
    with pytest.raises(TypeError, match="float64"):
        check_model(model, mlp.SoftmaxCrossEntropyLoss(), X, y)
    with pytest.raises(TypeError, match="float64"):
        check_grad_flat(mlp.Sequential(mlp.Linear(4, 3)), mlp.SoftmaxCrossEntropyLoss(),
                        X.astype(np.float32), y)
