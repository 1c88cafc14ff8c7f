"""A student's usual mistakes in forward/backward: each answered with a sentence."""

import numpy as np
import pytest

import mlp
from mlp.gradcheck import SHAPES, check_layer, check_layer_shapes, check_model

X65 = np.random.default_rng(3).normal(0.0, 2.0, size=(6, 5))


class NoReturnTanh(mlp.Tanh):
    def backward(self, dY, input_grad=True):
        dY * (1 - self._Y**2)  # the result is computed, but not returned


class TransposedTanh(mlp.Tanh):
    def backward(self, dY, input_grad=True):
        return (dY * (1 - self._Y**2)).T


class InPlaceReLU(mlp.ReLU):
    def backward(self, dY, input_grad=True):
        dY[self._Y <= 0] = 0.0  # overwrites the caller's gradient
        return dY


class AccumulatingLinear(mlp.Linear):
    def backward(self, dY, input_grad=True):
        self.grads["W"] += self._X.T @ dY
        self.grads["b"] += dY.sum(axis=0)
        return dY @ self.params["W"].T


class Float32Tanh(mlp.Tanh):
    def backward(self, dY, input_grad=True):
        return (dY * (1 - self._Y**2)).astype(np.float32)


class UncachedReLU(mlp.ReLU):
    def forward(self, X):
        return np.maximum(X, 0)  # self._Y is never stored


class FirstCallOnlyReLU(mlp.ReLU):
    def forward(self, X):
        if self._Y is None:  # caches the first input only
            self._Y = np.maximum(X, 0)
        return np.maximum(X, 0)


class MaskReLU(mlp.base.Layer):
    def forward(self, X):
        return np.maximum(X, 0)

    def backward(self, dY, input_grad=True):
        return dY * self.mask  # forward never set self.mask


class OverwritingReLU(mlp.ReLU):
    def forward(self, X):
        self._Y = np.maximum(X, 0, out=X)
        return self._Y


def sentence(report):
    assert not report.ok
    return " | ".join(report.problems)


def test_backward_returning_none():
    report = check_layer(NoReturnTanh(), X65, rng=0)
    assert "NoReturnTanh(): backward returned None; it must return dX of shape (6, 5)" \
        in sentence(report)
    assert "problem: NoReturnTanh(): backward returned None" in str(report)
    assert report["dX"].max_error == 1.0


def test_backward_returning_none_inside_a_model():
    model = mlp.Sequential(mlp.Linear(5, 4, rng=0), NoReturnTanh(), mlp.Linear(4, 2, rng=1))
    report = check_model(model, mlp.SoftmaxCrossEntropyLoss(), X65, np.arange(6) % 2)
    assert sentence(report) == \
        "1: NoReturnTanh(): backward returned None; it must return dX of shape (6, 4)"
    assert str(report).endswith("FAILED: max relative error 0.00e+00")


def test_backward_returning_the_transpose():
    report = check_layer(TransposedTanh(), X65, rng=0)
    assert ("TransposedTanh(): backward returned dX of shape (5, 6); it must return dX of "
            "shape (6, 5), the shape of its input X") in sentence(report)
    model = mlp.Sequential(mlp.Linear(5, 4, rng=0), TransposedTanh(), mlp.Linear(4, 2, rng=1))
    report = check_model(model, mlp.SoftmaxCrossEntropyLoss(), X65, np.arange(6) % 2)
    assert "1: TransposedTanh(): backward returned dX of shape (4, 6); it must return dX " \
           "of shape (6, 4)" in sentence(report)


def test_backward_writing_into_dY():
    report = check_layer(InPlaceReLU(), X65, rng=0)
    assert report["dX"].ok  # the numbers are right...
    assert "InPlaceReLU(): backward wrote into dY in place, corrupting the gradient its " \
           "caller passed in" in sentence(report)  # ...but the caller's dY is gone


def test_backward_accumulating_gradients():
    report = check_layer(AccumulatingLinear(5, 3, rng=0), X65, rng=0)
    assert report["W"].ok  # the first call, from zero gradients, is right
    problems = sentence(report)
    assert "backward adds into the gradient of W instead of overwriting it: a second call " \
           "with the same dY doubled it; write grads['W'][...] = ..., not +=" in problems
    assert "gradient of b instead of overwriting it" in problems
    assert len(report.problems) == 2  # and nothing else
    model = mlp.Sequential(mlp.Linear(5, 4, rng=0), mlp.Tanh(), AccumulatingLinear(4, 2, rng=1))
    report = check_model(model, mlp.SoftmaxCrossEntropyLoss(), X65, np.arange(6) % 2)
    assert "backward adds into the gradient of 2.W" in sentence(report)


def test_backward_returning_float32_for_float64():
    report = check_layer(Float32Tanh(), X65, rng=0)
    assert "Float32Tanh(): backward returned dX of dtype float32 for float64 input; keep the " \
           "input's dtype" in sentence(report)


def test_forward_not_caching():
    report = check_layer(UncachedReLU(), X65, rng=0)
    assert "UncachedReLU(): forward ran, but backward found nothing cached" in sentence(report)
    assert "forward must store what backward reads" in sentence(report)
    report = check_layer(MaskReLU(), X65, rng=0)
    assert "MaskReLU(): backward could not read what forward should have cached " \
           "(AttributeError: 'MaskReLU' object has no attribute 'mask')" in sentence(report)
    model = mlp.Sequential(mlp.Linear(5, 4, rng=0), UncachedReLU(), mlp.Linear(4, 2, rng=1))
    report = check_model(model, mlp.SoftmaxCrossEntropyLoss(), X65, np.arange(6) % 2)
    assert sentence(report).startswith("1: UncachedReLU(): forward ran, but backward found")


def test_forward_caching_only_its_first_input():
    report = check_layer(FirstCallOnlyReLU(), X65, rng=0)
    assert "FirstCallOnlyReLU(): after a forward on a second input, backward still used an " \
           "earlier one" in sentence(report)


def test_forward_writing_into_its_input():
    report = check_layer(OverwritingReLU(), X65, rng=0)
    assert "OverwritingReLU(): forward wrote into its input X in place" in sentence(report)


@pytest.mark.parametrize("make", [
    lambda n: mlp.Linear(n, 3, rng=0), lambda n: mlp.Linear(n, 1, rng=0), lambda n: mlp.ReLU(),
    lambda n: mlp.PReLU(0.2, n_features=n), lambda n: mlp.Softmax(), lambda n: mlp.Tanh(),
    lambda n: mlp.BatchNorm1d(n).eval(),
    lambda n: mlp.Residual(mlp.Linear(n, n, rng=0), mlp.Tanh()),
], ids=["linear", "linear-to-1", "relu", "prelu", "softmax", "tanh", "batchnorm", "residual"])
def test_library_layers_pass_on_every_shape(make):
    report = check_layer_shapes(make, rng=0)
    assert report.ok, str(report)
    assert len([c for c in report.checks if c.name.startswith("dX")]) == len(SHAPES)
    assert report.problems == []


class RowSumBiasLinear(mlp.Linear):
    """db summed over the wrong axis: fits the shapes only when N = 1 or N = n_out."""

    def backward(self, dY, input_grad=True):
        self.grads["W"][...] = self._X.T @ dY
        self.grads["b"][...] = dY.sum(axis=1)
        return dY @ self.params["W"].T


class SqueezingReLU(mlp.ReLU):
    """Right for every shape except one feature, where squeeze turns (N, 1) into (N,)."""

    def backward(self, dY, input_grad=True):
        return dY * (self._Y.squeeze() > 0)


def test_a_formula_right_only_for_some_shapes_is_caught():
    report = check_layer_shapes(lambda n: RowSumBiasLinear(n, 4, rng=0), rng=0)
    assert not report["b on (1, 1)"].ok  # N = 1: broadcasts, wrong numbers
    assert report["b on (4, 4)"].max_error > 1e-2  # square: fits, wrong numbers
    assert any(p.startswith("on input (6, 5): RowSumBiasLinear") and "raised ValueError" in p
               for p in report.problems)
    assert report["W on (1, 4)"].ok
    assert "W on (6, 5)" not in [c.name for c in report.checks]  # backward raised there

    report = check_layer_shapes(lambda n: SqueezingReLU(), rng=0)
    assert report["dX on (6, 5)"].ok
    assert report["dX on (4, 4)"].ok
    assert "on input (5, 1): SqueezingReLU(): backward returned dX of shape (5, 5); it must " \
           "return dX of shape (5, 1)" in sentence(report)
