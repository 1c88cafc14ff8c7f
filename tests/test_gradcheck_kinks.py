"""Gradient checks at kinks: correct code never fails there, a wrong slope still does."""

import numpy as np
import pytest

import mlp
from mlp.cli import main
from mlp.gradcheck import check_layer, check_model

ON_THE_KINK = np.array([[0.0, 1e-9, -1e-9, -1.0, 2.0]])


def test_relu_at_and_next_to_zero_passes():
    report = check_layer(mlp.ReLU(), np.array([[0.0, 1e-9, -1.0, 2.0]]))
    assert report.ok, str(report)
    assert report.max_error < 1e-9
    assert report["dX"].one_sided == 2  # 0 and 1e-9; -1 and 2 keep the central difference
    assert report["dX"].tol == 1e-7


@pytest.mark.parametrize(
    "layer", [mlp.ReLU(), mlp.LeakyReLU(0.1), mlp.PReLU(0.25), mlp.PReLU(0.3, n_features=5),
              mlp.ELU(alpha=0.5)], ids=repr)
def test_every_kinked_activation_passes_on_its_kink(layer):
    report = check_layer(layer, ON_THE_KINK.copy(), rng=0)
    assert report.ok, str(report)
    assert report["dX"].one_sided == 3
    assert report.max_error < 1e-8


@pytest.mark.parametrize("samples", [80, 100, 105])
def test_cli_gradcheck_on_iris_with_relu_passes(samples, capsys):
    # with this split and these sizes a hidden bias moves some pre-activation across 0 within ±h
    assert main(["gradcheck", "--data", "iris", "--samples", str(samples), "--seed", "33"]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out
    assert "1 entry of 0.b put a unit on both sides of a kink" in out


def zero_row_network(bias=0.0, relu=mlp.ReLU):
    model = mlp.Sequential(mlp.Linear(3, 4, rng=0), relu(), mlp.Linear(4, 2, rng=1))
    model[0].params["b"][:] = bias
    model[2].params["b"][:] = 0.0
    X = np.random.default_rng(0).normal(size=(5, 3))
    X[0] = 0.0  # the hidden pre-activations of this row are exactly the bias
    return model, X, np.array([0, 1, 0, 1, 1])


def test_model_with_pre_activations_exactly_zero_passes():
    model, X, y = zero_row_network()
    report = check_model(model, mlp.SoftmaxCrossEntropyLoss(), X, y)
    assert report.ok, str(report)
    assert report.max_error < 1e-8
    assert report["0.b"].one_sided == 4
    assert not report["0.W"].kink  # moving W does not move the zero row's units


class WrongSideReLU(mlp.ReLU):
    """Takes the slope of the inactive side for units just above the kink."""

    def backward(self, dY, input_grad=True):
        return dY * (self._cached(dY, self._Y) > 1e-6)


class HalfSlopeReLU(mlp.ReLU):
    """σ′(0) = ½: the slope of neither side."""

    def backward(self, dY, input_grad=True):
        X = self._cached(dY, self._X)
        return dY * np.where(X > 0, 1.0, np.where(X == 0, 0.5, 0.0))


class SwappedLeakyReLU(mlp.LeakyReLU):
    def backward(self, dY, input_grad=True):
        return dY * np.where(self._X > 0, self.alpha, 1.0)


@pytest.mark.parametrize("layer", [WrongSideReLU(), HalfSlopeReLU(), SwappedLeakyReLU(0.1)],
                         ids=lambda layer: type(layer).__name__)
def test_a_wrong_slope_at_the_kink_fails(layer):
    X = np.array([[0.0, 1e-9]]) if isinstance(layer, HalfSlopeReLU) else np.array([[1e-9]])
    report = check_layer(layer, X, rng=0)
    assert not report.ok
    assert report["dX"].one_sided == X.size  # every entry sits at the kink
    assert report.max_error > 0.3


def test_a_wrong_slope_at_the_kink_fails_in_a_model():
    # the zero row's units sit 1e-9 above the kink: the right slope there is 1
    model, X, y = zero_row_network(bias=1e-9, relu=WrongSideReLU)
    report = check_model(model, mlp.SoftmaxCrossEntropyLoss(), X, y)
    assert not report["0.b"].ok
    assert report["0.b"].one_sided == 4
    assert report["0.b"].max_error > 0.05
    model, X, y = zero_row_network(bias=1e-9)
    assert check_model(model, mlp.SoftmaxCrossEntropyLoss(), X, y).ok


def test_entries_crossing_kinks_both_ways_are_left_out_and_counted():
    # q = ±1e-9: moving the bias up crosses one unit, moving it down the other
    ones = mlp.Sequential(mlp.Linear(1, 1, init=lambda s, r: np.ones(s)), mlp.ReLU(),
                          mlp.Linear(1, 1, init=lambda s, r: np.ones(s)))
    ones[0].params["b"][:] = 0.0
    report = check_model(ones, mlp.MSELoss(), np.array([[1e-9], [-1e-9], [1.0]]), np.zeros(3))
    assert report["0.b"].left_out == 1
    assert report["0.W"].left_out == 0
    assert "1 entry of 0.b left out" in str(report)
    assert report.ok, str(report)
