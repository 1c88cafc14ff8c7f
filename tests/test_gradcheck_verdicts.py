"""The checker's verdicts both ways: a small mistake is caught where f curves sharply, correct
code passes however sharply f curves, and a function that is not deterministic is refused."""

import numpy as np
import pytest
from sklearn.datasets import load_wine

import mlp
from mlp.cli import main
from mlp.gradcheck import check_grad_flat, check_layer, check_loss, check_model

LOSS = mlp.SoftmaxCrossEntropyLoss()
WINE = load_wine(return_X_y=True)
ROWS = np.random.default_rng(0).permutation(len(WINE[1]))[:32]


def wine_times(scale):
    """32 rows of the wine data with every feature times ``scale``: proline reaches 1680·scale."""
    return WINE[0][ROWS] * scale, WINE[1][ROWS]


def off_in_row(row, factor):
    class RowOff(mlp.Linear):
        """dW wrong by ``factor`` in one row (one input feature) only."""

        def backward(self, dY, input_grad=True):
            dX = super().backward(dY, input_grad)
            self.grads["W"][row] *= factor
            return dX

    return RowOff


def sigmoid_net(first=mlp.Linear):
    return mlp.Sequential(first(13, 16, rng=7), mlp.Sigmoid(), mlp.Linear(16, 3, rng=8))


def test_a_small_mistake_where_f_curves_sharply_fails():
    # wine × 30: proline's weights have D(h) off by 0.4 % (truncation), a mistake of 0.2 % there
    # hid in a band proportional to that error
    X, y = wine_times(30)
    wrong = sigmoid_net(off_in_row(12, 1.002))
    report = check_model(wrong, LOSS, X, y)
    assert not report["0.W"].ok, str(report)
    assert report["0.W"].where[0] == 12
    assert report["0.W"].max_error > 9e-4  # 0.002 / 2.002
    assert check_grad_flat(sigmoid_net(off_in_row(12, 1.002)), LOSS, X, y) > 9e-4
    # the same network, right: passes both
    assert check_model(sigmoid_net(), LOSS, X, y).ok
    assert check_grad_flat(sigmoid_net(), LOSS, X, y) == 0.0


def tanh_net(first=mlp.Linear):
    return mlp.Sequential(first(13, 16, rng=3), mlp.Tanh(), mlp.Linear(16, 3, rng=4))


def test_correct_code_passes_where_the_truncation_error_is_several_percent():
    # wine × 10: 0.W (12, 9) is −7.18606e-05, D(h) −7.27698e-05 (1.3 % off)
    X, y = wine_times(10)
    report = check_model(tanh_net(), LOSS, X, y)
    assert report.ok, str(report)
    assert report["0.W"].by_extrapolation >= 1
    assert report["0.W"].max_error <= 1e-6, str(report)  # against Ridders' value
    assert check_grad_flat(tanh_net(), LOSS, X, y) == 0.0
    # and a mistake of 1e-5 in that row is caught, a hundredth of D(h)'s error
    wrong = check_model(tanh_net(off_in_row(12, 1 + 1e-5)), LOSS, X, y)
    assert not wrong["0.W"].ok, str(wrong)
    assert wrong["0.W"].where[0] == 12
    assert check_grad_flat(tanh_net(off_in_row(12, 1 + 1e-5)), LOSS, X, y) > 4e-6


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory):
    X, y = WINE
    folder = tmp_path_factory.mktemp("wine")
    paths = {}
    for scale in (100, 1000):
        paths[scale] = folder / f"wine{scale}.csv"
        np.savetxt(paths[scale], np.column_stack([X * scale, y]), delimiter=",",
                   header=",".join([f"f{i}" for i in range(13)] + ["target"]), comments="")
    return paths


@pytest.mark.parametrize(("scale", "activation", "seed"), [
    (100, "tanh", 0), (100, "tanh", 3), (100, "tanh", 4), (100, "sigmoid", 0),
    (100, "sigmoid", 3), (100, "sigmoid", 4), (100, "sigmoid", 5), (100, "sigmoid", 11),
    (1000, "tanh", 3), (1000, "sigmoid", 3)])
def test_cli_gradcheck_passes_on_wine_scaled_up(wine_csv, scale, activation, seed, capsys):
    # exited 1 with "max relative error 7.02e-02" (wine × 100, tanh, seed 0): the truncation
    # error of D(h) was above the 1 % that the rule against D(2h) trusted
    code = main(["gradcheck", "--data", str(wine_csv[scale]), "--no-scale", "--activation",
                 activation, "--seed", str(seed)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[-1].startswith("PASSED: max relative error "), out
    assert float(out.splitlines()[-1].split()[-1]) <= 1e-6


class Noisy(mlp.Identity):
    """Adds fresh noise of size ``scale`` on every call: not a function of its input."""

    def __init__(self, scale):
        super().__init__()
        self.scale, self.rng = scale, np.random.default_rng(1)

    def forward(self, X):
        return super().forward(X) + self.scale * self.rng.normal(size=np.shape(X))


class HalfW(mlp.Linear):
    def backward(self, dY, input_grad=True):
        dX = super().backward(dY, input_grad)
        self.grads["W"][...] *= 0.5
        return dX


def noisy_net(scale, first=HalfW):
    return mlp.Sequential(first(4, 8, rng=0), mlp.Tanh(), Noisy(scale), mlp.Linear(8, 3, rng=1))


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 4)), rng.integers(0, 3, 16)


@pytest.mark.parametrize("scale", [1e-9, 1e-6, 1e-3])
@pytest.mark.parametrize("first", [HalfW, mlp.Linear], ids=["halved-dW", "right"])
def test_a_function_that_is_not_deterministic_is_refused(small, scale, first):
    X, y = small
    with pytest.raises(ValueError, match=r"^check_grad_flat: f is not deterministic: two "
                                         r"evaluations at the same point differ by \d"):
        check_grad_flat(noisy_net(scale, first), LOSS, X, y)
    report = check_model(noisy_net(scale, first), LOSS, X, y)
    assert not report.ok
    assert not report["0.W"].ok, str(report)
    assert "f not deterministic" in str(report).splitlines()[2]
    assert any(p.startswith("f is not deterministic: two evaluations at the same point "
                            "differ by ") for p in report.problems), str(report)
    layer = check_layer(mlp.Sequential(mlp.Linear(4, 3, rng=0), Noisy(scale)), X, rng=0)
    assert not layer.ok
    assert "problem: f is not deterministic" in str(layer)


class NoisyLoss(mlp.SoftmaxCrossEntropyLoss):
    def __init__(self):
        super().__init__()
        self.rng = np.random.default_rng(2)

    def per_sample(self, output, y):
        return super().per_sample(output, y) + 1e-6 * self.rng.normal(size=len(output))


def test_check_loss_refuses_a_loss_that_is_not_deterministic(small):
    output = np.random.default_rng(3).normal(size=(4, 3))
    report = check_loss(NoisyLoss(), output, small[1][:4])
    assert not report.ok
    assert not report["d_output"].ok, str(report)
    assert "problem: f is not deterministic" in str(report)


class Rough(mlp.Identity):
    """Deterministic, but rough: adds ``scale``·sin(1e9·X), noise far beyond round-off."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, X):
        return super().forward(X) + self.scale * np.sin(1e9 * X)


@pytest.mark.parametrize("scale", [1e-9, 1e-6])
def test_noise_beyond_round_off_excuses_no_mistake(small, scale):
    # the measured "round-off" of such an f is capped at what round-off can be, so a halved
    # dW is reported, not swallowed by a band of noise
    X, y = small

    def net(first):
        return mlp.Sequential(first(4, 8, rng=0), mlp.Tanh(), Rough(scale),
                              mlp.Linear(8, 3, rng=1))

    assert check_grad_flat(net(HalfW), LOSS, X, y) > 0.3  # 0.5 / 1.5
    report = check_model(net(HalfW), LOSS, X, y)
    assert not report["0.W"].ok, str(report)


class SignFlippedW(mlp.Linear):
    def backward(self, dY, input_grad=True):
        dX = super().backward(dY, input_grad)
        self.grads["W"][...] *= -1
        return dX


@pytest.mark.parametrize(("first", "expected"), [
    (lambda *a, **k: off_in_row(slice(None), 1.003)(*a, **k), 0.003 / 2.003),
    (SignFlippedW, 1.0)], ids=["dW-times-1.003", "sign-flipped-W"])
def test_check_grad_flat_reports_the_worst_entry(first, expected):
    # was 0.0 and 2.1e-4: the norm over the whole gradient hid them. The worst entry may sit
    # near the round-off floor, where the reference value is a little off itself
    X, y = wine_times(30)
    assert check_grad_flat(sigmoid_net(first), LOSS, X, y) == pytest.approx(expected, rel=0.1)
