"""The truncation error of finite differences: correct code passes where f curves sharply
(unscaled inputs of size 1000), and a wrong gradient is still reported there."""

import numpy as np
import pytest
from sklearn.datasets import load_wine
from test_gradcheck_kinks import SwappedLeakyReLU
from test_gradcheck_mistakes import (
    AccumulatingLinear,
    Float32Tanh,
    InPlaceReLU,
    MaskReLU,
    NoReturnTanh,
    OverwritingReLU,
    TransposedTanh,
    UncachedReLU,
)
from test_gradcheck_noise import BiasOff, DoubleW, NoMeanTerm, NoVarianceTerm, SignFlippedRow

import mlp
from mlp.activations import HIDDEN_ACTIVATIONS
from mlp.autodiff import exp
from mlp.cli import main
from mlp.finite_differences import KinkWatch, differences
from mlp.gradcheck import check_function, check_grad_flat, check_layer, check_loss, check_model
from mlp.roundoff import beyond_truncation

LOSS = mlp.SoftmaxCrossEntropyLoss()


@pytest.fixture(scope="module")
def raw_wine():
    """32 rows of the wine data as they are: features up to about 1700."""
    X, y = load_wine(return_X_y=True)
    rows = np.random.default_rng(0).permutation(len(X))[:32]
    return X[rows], y[rows]


def network(seed, activation=mlp.Tanh, first=mlp.Linear, hidden=mlp.Linear):
    return mlp.Sequential(first(13, 16, rng=seed), activation(), hidden(16, 3, rng=seed + 1))


@pytest.mark.parametrize(("activation", "seed"), [
    *((activation, seed) for activation in sorted(HIDDEN_ACTIVATIONS) for seed in (0, 2)),
    ("relu", 31), ("leaky_relu", 31)])
def test_cli_gradcheck_on_unscaled_wine_passes(activation, seed, capsys):
    # failed by truncation alone: seed 0 with tanh; seed 2 with elu, gelu, sigmoid, softplus
    # and tanh; seed 31 with relu (the softmax's curvature)
    code = main(["gradcheck", "--data", "wine", "--no-scale", "--activation", activation,
                 "--seed", str(seed)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[-1].startswith("PASSED")


def test_cli_report_says_which_entries_passed_by_truncation(capsys):
    assert main(["gradcheck", "--data", "wine", "--no-scale", "--activation", "tanh"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("0.W"))
    assert row.endswith("ok (1 within truncation estimate)"), out
    assert ("note: 1 entry of 0.W agreed within the truncation error of their finite "
            "difference at h = 1e-05 (|D(h) − D(2h)| / 3 by Richardson's rule") in out


@pytest.mark.parametrize("activation", [mlp.Tanh, mlp.Sigmoid, mlp.GELU, mlp.ELU, mlp.ReLU])
def test_python_checks_on_unscaled_wine_pass(raw_wine, activation):
    X, y = raw_wine
    for seed in range(4):
        report = check_model(network(seed, activation), LOSS, X, y)
        assert report.ok, f"seed {seed}\n{report}"
        assert check_grad_flat(network(seed, activation), LOSS, X, y) == 0.0, f"seed {seed}"


def test_truncation_is_what_passed_them(raw_wine):
    # the entry that failed before now passes by the new rule, not by round-off
    X, y = raw_wine
    report = check_model(network(2), LOSS, X, y)
    assert report["0.W"].by_truncation >= 1
    assert report["0.W"].max_error > report["0.W"].tol  # the plain difference is that far off
    assert report["0.W"].where[0] == 12  # proline, the largest feature (up to 1680)
    row = str(report).splitlines()[2]
    assert row.startswith("0.W"), str(report)
    assert row.endswith(f"ok ({report['0.W'].at_floor} within round-off; "
                        f"{report['0.W'].by_truncation} within truncation estimate)"), row


class OffTanh(mlp.Tanh):
    """σ′ wrong by one part in a thousand."""

    def backward(self, dY, input_grad=True):
        return super().backward(dY, input_grad) * (1 + 1e-3)


class OffW(mlp.Linear):
    """dW wrong by one part in a thousand."""

    def backward(self, dY, input_grad=True):
        dX = super().backward(dY, input_grad)
        self.grads["W"][...] *= 1 + 1e-3
        return dX


@pytest.mark.parametrize(("make", "wrong"), [
    (lambda seed: network(seed, first=OffW), "0.W"),
    (lambda seed: network(seed, OffTanh), "0.W"),
    (lambda seed: network(seed, first=DoubleW), "0.W"),
    (lambda seed: network(seed, first=BiasOff), "0.b"),
    (lambda seed: network(seed, first=SignFlippedRow), "0.W"),
], ids=["dW-off-1e-3", "tanh-off-1e-3", "factor-2", "bias-off-by-1e-3", "sign-of-a-row"])
def test_wrong_gradients_still_fail_on_unscaled_wine(raw_wine, make, wrong):
    X, y = raw_wine
    for seed in range(3):
        report = check_model(make(seed), LOSS, X, y)
        assert not report[wrong].ok, f"seed {seed}\n{report}"
        assert report[wrong].max_error > 4e-4, f"seed {seed}\n{report}"
        # check_grad_flat reports ‖g − g_true‖ / ‖g‖ over the entries it finds wrong: all of
        # the mistake must be there, none swallowed as truncation
        g, g_true = gradient(make(seed), X, y), gradient(network(seed), X, y)
        mistake = np.linalg.norm(g - g_true) / np.linalg.norm(g)
        assert check_grad_flat(make(seed), LOSS, X, y) >= 0.99 * mistake, f"seed {seed}"


def gradient(model, X, y):
    LOSS.forward(model.forward(X), y)
    model.backward(LOSS.backward())
    return np.concatenate([p.grad.ravel() for p in model.parameters()])


@pytest.mark.parametrize("layer", [NoReturnTanh, TransposedTanh, InPlaceReLU, Float32Tanh,
                                   UncachedReLU, MaskReLU, OverwritingReLU])
def test_layer_mistakes_still_fail_on_unscaled_wine(raw_wine, layer):
    X, y = raw_wine
    report = check_model(network(0, layer), LOSS, X, y)
    assert not report.ok
    assert report.problems[0].startswith(f"1: {layer.__name__}()"), str(report)


def test_wrong_slopes_of_a_leaky_relu_still_fail_on_unscaled_wine(raw_wine):
    X, y = raw_wine
    report = check_model(network(0, lambda: SwappedLeakyReLU(0.1)), LOSS, X, y)
    assert not report["0.W"].ok, str(report)
    assert report["0.W"].max_error > 0.5


@pytest.mark.parametrize(("norm", "wrong"), [(mlp.BatchNorm1d, None), (NoMeanTerm, "0.b"),
                                             (NoVarianceTerm, "0.W")])
def test_batch_norm_on_unscaled_wine(raw_wine, norm, wrong):
    X, y = raw_wine
    for seed in range(3):
        model = mlp.Sequential(mlp.Linear(13, 16, rng=seed), norm(16), mlp.Tanh(),
                               mlp.Linear(16, 3, rng=seed + 1))
        report = check_model(model, LOSS, X, y)
        if wrong is None:
            assert report.ok, f"seed {seed}\n{report}"
        else:
            assert not report[wrong].ok, f"seed {seed}\n{report}"
            assert report[wrong].max_error > 1e-3, f"seed {seed}\n{report}"


def test_accumulating_gradients_still_fail_on_unscaled_wine(raw_wine):
    X, y = raw_wine
    report = check_model(network(0, hidden=AccumulatingLinear), LOSS, X, y)
    assert "backward adds into the gradient of 2.W" in " | ".join(report.problems)


def test_sharp_smooth_function_in_autodiff_passes_and_a_mistake_fails():
    # f = exp(300 x): D(h) is off by (300 h)² / 6 = 1.5e-6 relative, above tol = 1e-7
    def f(x):
        return exp(300 * x)

    report = check_function(f, 0.01)
    assert report.ok, str(report)
    assert report["grad"].by_truncation == 1
    assert report["grad"].max_error > 5e-7  # |a − D(h)| / (|a| + |D(h)|)

    import mlp.gradcheck_autodiff as module

    def wrong(g):
        def value_and_wrong_grad(*args):
            value, grad = g(*args)
            return value, [v * (1 + 1e-4) for v in grad]
        return value_and_wrong_grad

    original = module.value_and_grad
    module.value_and_grad = lambda fn: wrong(original(fn))
    try:
        assert not check_function(f, 0.01).ok
    finally:
        module.value_and_grad = original


class SteepReLU(mlp.ReLU):
    """Slope 1.001 for positive inputs."""

    def backward(self, dY, input_grad=True):
        return super().backward(dY, input_grad) * 1.001


def test_a_kink_within_2h_leaves_the_strict_verdict():
    # x = 1.5h: the ±h probes stay on the positive piece, the ±2h ones do not
    h = 1e-5
    X = np.array([[1.5 * h, 1.0]])
    layer = mlp.ReLU()
    watch = KinkWatch(layer)
    estimate = differences(X, h, lambda: layer.forward(X).copy(),
                           lambda a, b: float(np.sum(a - b)), watch)
    coarse = estimate.coarse(np.ones(X.shape, bool))
    assert np.isnan(coarse[0, 0])  # no estimate across a kink
    assert coarse[0, 1] == pytest.approx(1.0, rel=1e-9)
    report = check_layer(SteepReLU(), X, rng=0)
    assert not report["dX"].ok, str(report)
    assert report["dX"].by_truncation == 0


def test_rule_against_the_extrapolated_value():
    # D(h) = f′ + c·h², D(2h) = f′ + 4c·h²: the extrapolation is f′ exactly
    f_prime, c_h2 = 2.0, 1e-5
    fine, coarse = f_prime + c_h2, f_prime + 4 * c_h2
    assert beyond_truncation(f_prime, fine, coarse, 0.0) == 0.0
    T = c_h2  # |D(h) − D(2h)| / 3
    assert beyond_truncation(f_prime + 0.4 * T, fine, coarse, 0.0) <= 1.0
    assert beyond_truncation(f_prime + 0.6 * T, fine, coarse, 0.0) > 1.0
    assert beyond_truncation(f_prime, fine, np.nan, 0.0) == np.inf
    # an estimate beyond 1 % of the difference is not trusted at all
    assert beyond_truncation(f_prime, 2.0, 2.0 + 0.07, 0.0) == np.inf
    # where T is nil the band is the round-off rule's, NOISE_FACTOR·n
    noise = 1e-9
    assert beyond_truncation(f_prime + 9 * noise, 2.0, 2.0, noise) <= 1.0
    assert beyond_truncation(f_prime + 11 * noise, 2.0, 2.0, noise) > 1.0


def test_no_widening_of_the_round_off_band(raw_wine):
    # entries of a gradient wrong by 1e-3 that sit near the round-off floor, where f has no
    # curvature to speak of (T ≈ 0): the round-off rule alone decides them
    X, y = raw_wine
    report = check_model(network(4, first=OffW), LOSS, X, y)
    assert report["0.W"].by_truncation == 0, str(report)


class SharpLoss(mlp.MSELoss):
    """ℓ_n = Σ_k exp(s·u_nk) / s: a loss whose curvature grows with s."""

    def __init__(self, s=300.0, mistake=0.0):
        super().__init__()
        self.s, self.mistake = s, mistake

    def per_sample(self, output, y):
        self._cache = output
        return np.exp(self.s * output).sum(axis=1) / self.s

    def backward(self):
        return np.exp(self.s * self._cache) * self._scale * (1 + self.mistake)


def test_check_loss_on_a_sharply_curved_loss():
    # (s·h)² / 6 = 1.5e-6 relative truncation, above tol = 1e-7
    output = np.random.default_rng(0).uniform(-0.01, 0.01, size=(4, 3))
    report = check_loss(SharpLoss(), output, np.zeros((4, 3)))
    assert report.ok, str(report)
    assert report["d_output"].by_truncation == 12
    assert report.max_error > 5e-7  # |a − D(h)| / (|a| + |D(h)|): the plain test fails
    assert "12 entries of d_output agreed within the truncation error" in str(report)
    assert not check_loss(SharpLoss(mistake=1e-4), output, np.zeros((4, 3))).ok


class SharpLayer(mlp.Tanh):
    """Y = exp(s·X) / s, whose curvature grows with s; ``mistake`` scales dX."""

    def __init__(self, s=300.0, mistake=0.0):
        super().__init__()
        self.s, self.mistake = s, mistake

    def forward(self, X):
        self._X = X
        return np.exp(self.s * X) / self.s

    def backward(self, dY, input_grad=True):
        return dY * np.exp(self.s * self._X) * (1 + self.mistake)


def test_check_layer_on_a_sharply_curved_layer():
    X = np.random.default_rng(0).uniform(-0.01, 0.01, size=(3, 4))
    report = check_layer(SharpLayer(), X, rng=0)
    assert report.ok, str(report)
    assert report["dX"].by_truncation == 12
    assert report.max_error > 5e-7  # (s·h)² / 6 = 1.5e-6, halved: |a − n| / (|a| + |n|)
    assert not check_layer(SharpLayer(mistake=1e-4), X, rng=0).ok
