"""The truncation error of finite differences: correct code passes where f curves sharply
(unscaled inputs of size 1000), judged against Ridders' extrapolation, and a wrong gradient is
still reported there."""

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
from mlp.extrapolation import EXTRAPOLATION_CAP, beyond_extrapolation, ridders
from mlp.finite_differences import KinkWatch, differences
from mlp.gradcheck import check_function, check_grad_flat, check_layer, check_loss, check_model
from mlp.roundoff import NOISE_FACTOR

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


def test_cli_report_says_which_entries_passed_by_extrapolation(capsys):
    assert main(["gradcheck", "--data", "wine", "--no-scale", "--activation", "tanh"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("0.W"))
    assert row.endswith("ok (1 by extrapolation)"), out
    assert ("note: 1 entry of 0.W agreed with the derivative extrapolated to step 0 by "
            "Ridders' method (Numerical Recipes §5.7), within its error estimate, but not with "
            "the difference at h = 1e-05") in out


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
    assert report["0.W"].by_extrapolation >= 1
    assert report["0.W"].max_error <= report["0.W"].tol  # against R, not the far-off D(h)
    row = str(report).splitlines()[2]
    assert row.startswith("0.W"), str(report)
    assert row.endswith(f"ok ({report['0.W'].at_floor} within round-off; "
                        f"{report['0.W'].by_extrapolation} by extrapolation)"), row


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
        # check_grad_flat reports the worst entry's relative error: the mistake's, none
        # swallowed as truncation
        assert check_grad_flat(make(seed), LOSS, X, y) > 4e-4, f"seed {seed}"


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
    assert report["grad"].by_extrapolation == 1
    assert report["grad"].max_error < 1e-9  # against Ridders' value, not the far-off D(h)

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


def test_the_tableau_stays_on_the_base_points_piece():
    # x = 1.5h: the ±h probes stay on ReLU's positive piece, and so do the shrinking steps of
    # the tableau; x = 0.5h is differenced one-sidedly, forward, and so is its tableau
    h = 1e-5
    X = np.array([[1.5 * h, 0.5 * h, -0.5 * h]])
    layer = mlp.ReLU()
    watch = KinkWatch(layer)
    estimate = differences(X, h, lambda: layer.forward(X).copy(),
                           lambda a, b: float(np.sum(a - b)), watch)
    value, error, _ = estimate.extrapolate(np.ones(X.shape, bool), estimate.noise)
    np.testing.assert_allclose(value, [[1.0, 1.0, 0.0]], rtol=1e-9, atol=1e-9)
    assert np.all(error <= 1e-9)
    report = check_layer(SteepReLU(), X[:, :2], rng=0)
    assert not report["dX"].ok, str(report)
    assert report["dX"].by_extrapolation == 0


def test_a_probe_off_the_piece_ends_the_tableau():
    # a stencil that leaves the piece at its third step: R from the first two steps only
    calls = []

    def stencil(step):
        calls.append(step)
        return None if len(calls) == 3 else 2.0 + 1e-3 * step**2

    value, error, _ = ridders(stencil, 1e-2)
    assert len(calls) == 3
    assert value == pytest.approx(2.0, abs=1e-12)
    value, error, _ = ridders(lambda step: None, 1e-2)
    assert np.isnan(value)
    assert error == np.inf


def test_a_start_too_small_to_see_f_change_is_not_taken():
    # the tableau from h is far off (E above the cap): starts from h/10, h/100, h/1000 are
    # tried; at h/1000 the stencil returns exact zeros (f no longer changes), E = 0, which
    # must not win over a start whose E is small next to its round-off
    def stencil(step):
        if step > 5e-6:
            return 1.0 + 1e4 * step  # not in the range of the expansion
        return 1.0 if step > 5e-8 else 0.0

    value, error, rounding = ridders(stencil, 1e-5, noise=1e-12)
    assert value == pytest.approx(1.0, rel=1e-12)
    assert rounding == pytest.approx(1e-11)  # the start h/10


def test_rule_against_the_extrapolated_value():
    # f = exp(300 x) at 0.01: D(h) is off by (300 h)² / 6 = 1.5e-6 relative; Ridders' value
    # is within 1e-9 of f′, and so is its error estimate
    x, s, h = 0.01, 300.0, 1e-5
    f_prime = s * np.exp(s * x)
    value, error, _ = ridders(lambda step: (np.exp(s * (x + step)) - np.exp(s * (x - step)))
                              / (2 * step), h)
    assert abs(value - f_prime) <= 1e-9 * f_prime
    assert error <= 1e-9 * f_prime
    assert beyond_extrapolation(f_prime, value, error, 0.0, 1e-7) <= 1.0
    # a mistake of 1e-5, four times the tolerance, far below D(h)'s truncation error: caught
    assert beyond_extrapolation(f_prime * (1 + 1e-5), value, error, 0.0, 1e-6) > 1.0
    # within the band 2E (plus round-off), and not beyond it
    assert beyond_extrapolation(2.0 + 1.9e-9, 2.0, 1e-9, 0.0, 1e-12) <= 1.0
    assert beyond_extrapolation(2.0 + 2.1e-9, 2.0, 1e-9, 0.0, 1e-12) > 1.0
    assert beyond_extrapolation(f_prime, np.nan, np.inf, 0.0, 1e-6) == np.inf
    # an estimate beyond the cap and beyond round-off is not trusted at all
    assert beyond_extrapolation(2.0, 2.0, 4 * EXTRAPOLATION_CAP, 0.0, 1e-6) == np.inf
    # beyond the cap but within round-off: the round-off rule's band alone, around R
    noise, tiny = 1e-9, 1e-3  # E = 5e-9 > EXTRAPOLATION_CAP·|R| = 1e-9
    assert beyond_extrapolation(tiny + 9 * noise, tiny, 5 * noise, noise, 1e-12) <= 1.0
    assert beyond_extrapolation(tiny + 11 * noise, tiny, 5 * noise, noise, 1e-12) > 1.0
    assert beyond_extrapolation(tiny, tiny, 11 * noise, noise, 1e-12) == np.inf
    # where E is nil the band is the round-off rule's, NOISE_FACTOR·n
    assert beyond_extrapolation(2.0 + (NOISE_FACTOR - 1) * noise, 2.0, 0.0, noise, 1e-12) <= 1
    assert beyond_extrapolation(2.0 + (NOISE_FACTOR + 1) * noise, 2.0, 0.0, noise, 1e-12) > 1


def test_no_widening_of_the_round_off_band(raw_wine):
    # entries of a gradient wrong by 1e-3 that sit near the round-off floor, where f has no
    # curvature to speak of (T ≈ 0): the round-off rule alone decides them
    X, y = raw_wine
    report = check_model(network(4, first=OffW), LOSS, X, y)
    assert report["0.W"].by_extrapolation == 0, str(report)


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
    assert report["d_output"].by_extrapolation == 12
    assert report.max_error < 1e-9  # against Ridders' value: the plain test failed them all
    assert "12 entries of d_output agreed with the derivative extrapolated" in str(report)
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
    assert report["dX"].by_extrapolation == 12
    assert report.max_error < 1e-9  # against Ridders' value: (s·h)² / 6 = 1.5e-6 failed them
    assert not check_layer(SharpLayer(mistake=1e-4), X, rng=0).ok
