"""Gradients that are zero, or below the round-off of finite differences, pass when right;
a mistake larger than that round-off fails, however small the true gradient."""

import subprocess
import sys

import numpy as np
import pytest

import mlp
from mlp.gradcheck import check_grad_flat, check_layer, check_loss, check_model
from mlp.roundoff import EPS, NOISE_FACTOR

SEEDS = range(20)


def linear_bn(seed, n_out=3, norm=mlp.BatchNorm1d):
    return mlp.Sequential(mlp.Linear(5, 6, rng=seed), norm(6), mlp.ReLU(),
                          mlp.Linear(6, n_out, rng=seed + 100))


def data(seed, N=8, K=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, 5)), rng.integers(0, K, N)


@pytest.mark.parametrize("offset", [0.0, 100.0], ids=["centred", "offset-100"])
def test_bias_before_batch_norm_passes_for_every_seed(offset):
    # BN subtracts the batch mean, so the bias before it has gradient 0: the numeric one is
    # round-off (larger when BN subtracts a large mean), and correct code must pass
    loss = mlp.SoftmaxCrossEntropyLoss()
    for seed in SEEDS:
        X, y = data(seed)
        model = linear_bn(seed)
        report = check_model(model, loss, X + offset, y, input_grad=True)
        assert report.ok, f"seed {seed}\n{report}"
        model.forward(X + offset)
        loss.forward(model.forward(X + offset), y)
        model.backward(loss.backward())
        assert np.abs(model[0].grads["b"]).max() < 1e-12  # truly zero: a test of nothing else
        # scipy's forward differences see BN's own round-off, which is measured for them too
        assert check_grad_flat(model, loss, X + offset, y) == 0.0
        assert check_layer(model[:2], X + offset, rng=seed).ok


def test_bias_before_batch_norm_reported_as_at_the_floor():
    X, y = data(0)
    report = check_model(linear_bn(0), mlp.SoftmaxCrossEntropyLoss(), X, y)
    assert report["0.b"].ok
    assert report["0.b"].at_floor >= 1
    assert report["0.b"].max_error <= 1e-6  # entries at the floor are not relative errors
    assert "of 0.b agreed within the round-off of finite differences" in str(report)


class BiasOff(mlp.Linear):
    """A bias gradient wrong by 1e-3 where the true one is 0."""

    def backward(self, dY, input_grad=True):
        dX = super().backward(dY, input_grad)
        self.grads["b"][...] += 1e-3
        return dX


class DoubleW(mlp.Linear):
    def backward(self, dY, input_grad=True):
        dX = super().backward(dY, input_grad)
        self.grads["W"][...] *= 2.0
        return dX


class NoMeanTerm(mlp.BatchNorm1d):
    """dX without the path through μ (the − Σ_n dX̂ term)."""

    def backward(self, dY, input_grad=True):
        super().backward(dY, input_grad=False)
        dX_hat = dY * self.params["gamma"]
        X_hat = self._X_hat
        return self._inv_std * (dX_hat - X_hat * (dX_hat * X_hat).mean(axis=0))


class NoVarianceTerm(mlp.BatchNorm1d):
    """dX without the path through σ² (the − X̂ ⊙ Σ_n(dX̂ ⊙ X̂) term)."""

    def backward(self, dY, input_grad=True):
        super().backward(dY, input_grad=False)
        dX_hat = dY * self.params["gamma"]
        return self._inv_std * (dX_hat - dX_hat.mean(axis=0))


@pytest.mark.parametrize(("first", "norm", "wrong"), [
    (BiasOff, mlp.BatchNorm1d, "0.b"),
    (DoubleW, mlp.BatchNorm1d, "0.W"),
    (mlp.Linear, NoMeanTerm, "0.b"),
    (mlp.Linear, NoVarianceTerm, "0.W"),
], ids=["bias-off-by-1e-3", "factor-2", "missing-mean-term", "missing-variance-term"])
def test_mistakes_before_batch_norm_still_fail(first, norm, wrong):
    loss = mlp.SoftmaxCrossEntropyLoss()
    for seed in range(5):
        X, y = data(seed)
        model = mlp.Sequential(first(5, 6, rng=seed), norm(6), mlp.ReLU(),
                               mlp.Linear(6, 3, rng=seed + 100))
        report = check_model(model, loss, X, y)
        assert not report.ok, f"seed {seed}\n{report}"
        assert not report[wrong].ok, f"seed {seed}\n{report}"
        assert report[wrong].max_error > 1e-3
        assert report["3.W"].ok
        assert check_grad_flat(model, loss, X, y) > 1e-3


class SignFlippedRow(mlp.Linear):
    """The gradient of the weights of feature 0 with the wrong sign."""

    def backward(self, dY, input_grad=True):
        dX = super().backward(dY, input_grad)
        self.grads["W"][0] *= -1.0
        return dX


def test_wrong_sign_of_a_tiny_gradient_above_the_floor_fails():
    # feature 0 is 1e-3 times the others: its weights' gradients are 1e-3 of the rest or
    # less, yet far above the finite differences' round-off
    loss = mlp.SoftmaxCrossEntropyLoss()
    for seed in range(5):
        X, y = data(seed)
        X[:, 0] *= 1e-3
        right = mlp.Sequential(mlp.Linear(5, 6, rng=seed), mlp.Tanh(),
                               mlp.Linear(6, 3, rng=seed + 100))
        report = check_model(right, loss, X, y)
        assert report.ok, str(report)
        loss.forward(right.forward(X), y)
        right.backward(loss.backward())
        tiny = np.abs(right[0].grads["W"][0])
        band = NOISE_FACTOR * EPS * 10 / 1e-5  # |f| < 10 here
        assert tiny.max() < 1e-2 * np.abs(right[0].grads["W"][1:]).max()
        assert tiny.min() > 10 * band
        wrong = mlp.Sequential(SignFlippedRow(5, 6, rng=seed), mlp.Tanh(),
                               mlp.Linear(6, 3, rng=seed + 100))
        report = check_model(wrong, loss, X, y)
        assert not report["0.W"].ok, str(report)
        assert report["0.W"].where[0] == 0, str(report)
        assert report["0.W"].max_error > 0.9  # a wrong sign: relative error 1
        assert check_layer(SignFlippedRow(5, 6, rng=seed), X, rng=seed)["W"].max_error > 0.9


def test_other_zero_gradients_pass():
    loss = mlp.SoftmaxCrossEntropyLoss()
    for seed in range(5):
        X, y = data(seed)
        # a dead ReLU unit: its weights have gradient 0
        dead = mlp.Sequential(mlp.Linear(5, 6, rng=seed), mlp.ReLU(),
                              mlp.Linear(6, 3, rng=seed + 100))
        dead[0].params["b"][:2] = -100.0
        report = check_model(dead, loss, X, y)
        assert report.ok, str(report)
        # an input column of zeros: its weights have gradient 0
        X0 = X.copy()
        X0[:, 1] = 0.0
        assert check_model(linear_bn(seed), loss, X0, y).ok
        # a unit dropped by Dropout (the mask held still during the check)
        drop = mlp.Sequential(mlp.Linear(5, 6, rng=seed), mlp.Dropout(0.5, rng=seed),
                              mlp.Tanh(), mlp.Linear(6, 3, rng=seed + 100))
        assert check_model(drop, loss, X, y).ok


def test_flat_losses_pass():
    for seed in SEEDS:
        X, _ = data(seed)
        # a regression fitted exactly: the loss is at its minimum, every gradient is 0
        model = mlp.Sequential(mlp.Linear(5, 6, rng=seed), mlp.Tanh(),
                               mlp.Linear(6, 2, rng=seed + 100))
        target = model.forward(X).copy()
        report = check_model(model, mlp.MSELoss(), X, target)
        assert report.ok, str(report)
        assert check_grad_flat(model, mlp.MSELoss(), X, target) == 0.0
        # confident logits: entries of softmax − onehot near 1e-12 and smaller
        rng = np.random.default_rng(seed)
        logits, labels = 40 * rng.normal(size=(6, 3)), rng.integers(0, 3, 6)
        assert check_loss(mlp.SoftmaxCrossEntropyLoss(), logits, labels).ok


class SlightlyWrongCE(mlp.SoftmaxCrossEntropyLoss):
    def backward(self):
        return super().backward() + 1e-7


def test_a_small_mistake_in_a_flat_loss_fails():
    rng = np.random.default_rng(0)
    logits, labels = 40 * rng.normal(size=(6, 3)), rng.integers(0, 3, 6)
    report = check_loss(SlightlyWrongCE(), logits, labels)
    assert not report["d_output"].ok, str(report)


def test_cli_gradcheck_passes_on_saturated_units():
    # unscaled pixels (0..16) saturate tanh: many gradients at the round-off floor
    result = subprocess.run(
        [sys.executable, "-m", "mlp", "gradcheck", "--data", "digits", "--no-scale",
         "--activation", "tanh"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED" in result.stdout
    assert "agreed within the round-off of finite differences" in result.stdout
