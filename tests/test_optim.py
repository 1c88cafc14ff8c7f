"""Optimizers: the first steps against values worked out by hand, validation, schedules."""

import math

import numpy as np
import pytest

import mlp
from mlp.base import Parameter
from mlp.optim import SGD, Adam, ExponentialDecay, InverseScaling, RMSProp, StepDecay

G = [0.5, -1.0]


def param(value=(1.0, -2.0), grad=G, decay=True):
    return Parameter("w", np.array(value, dtype=float), np.array(grad, dtype=float), decay)


def test_sgd_step():
    p = param()
    SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.value, [1 - 0.1 * 0.5, -2 + 0.1 * 1.0], rtol=1e-15)


def test_momentum_steps():
    p = param()
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.step()  # v = -0.1·g = [-0.05, 0.1]
    np.testing.assert_allclose(p.value, [0.95, -1.9], rtol=1e-15)
    opt.step()  # v = 0.9·[-0.05, 0.1] - 0.1·g = [-0.095, 0.19]
    np.testing.assert_allclose(p.value, [0.855, -1.71], rtol=1e-14)


def test_nesterov_steps():
    p = param()
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    opt.step()  # v = [-0.05, 0.1]; θ += 0.9·v - 0.1·g = [-0.095, 0.19]
    np.testing.assert_allclose(p.value, [0.905, -1.81], rtol=1e-14)
    opt.step()  # v = [-0.095, 0.19]; θ += [-0.0855 - 0.05, 0.171 + 0.1]
    np.testing.assert_allclose(p.value, [0.7695, -1.539], rtol=1e-14)


def test_rmsprop_steps():
    p = param()
    opt = RMSProp([p], lr=0.01, rho=0.9, eps=1e-8)
    opt.step()  # s = 0.1·g² = [0.025, 0.1]
    step1 = [0.01 * 0.5 / (math.sqrt(0.025) + 1e-8), 0.01 * -1.0 / (math.sqrt(0.1) + 1e-8)]
    np.testing.assert_allclose(p.value, [1 - step1[0], -2 - step1[1]], rtol=1e-14)
    opt.step()  # s = 0.9·0.025 + 0.1·0.25 = 0.0475 and 0.9·0.1 + 0.1·1 = 0.19
    step2 = [0.01 * 0.5 / (math.sqrt(0.0475) + 1e-8), 0.01 * -1.0 / (math.sqrt(0.19) + 1e-8)]
    np.testing.assert_allclose(p.value, [1 - step1[0] - step2[0], -2 - step1[1] - step2[1]],
                               rtol=1e-14)


def test_adam_steps():
    p = param()
    opt = Adam([p], lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    opt.step()
    # t = 1: m̂ = g and v̂ = g², so the step is lr·g/(|g| + eps): lr times the sign of g
    expected = [1 - 0.1 * 0.5 / (0.5 + 1e-8), -2 + 0.1 * 1.0 / (1.0 + 1e-8)]
    np.testing.assert_allclose(p.value, expected, rtol=1e-14)
    p.grad[:] = [1.0, 0.0]
    opt.step()
    # t = 2, first entry: m = 0.9·0.05 + 0.1·1 = 0.145, v = 0.999·0.00025 + 0.001·1
    m_hat = 0.145 / (1 - 0.9**2)
    v_hat = (0.999 * 0.00025 + 0.001) / (1 - 0.999**2)
    expected[0] -= 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    # second entry: m = 0.9·(-0.1), v = 0.999·0.001
    m_hat = -0.09 / (1 - 0.9**2)
    v_hat = 0.999 * 0.001 / (1 - 0.999**2)
    expected[1] -= 0.1 * m_hat / (math.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(p.value, expected, rtol=1e-13)


def test_weight_decay_is_l2_for_sgd_and_decoupled_for_adam():
    w, b = param(decay=True), param(decay=False)
    SGD([w, b], lr=0.1, weight_decay=0.1).step()
    # g + λθ = [0.5 + 0.1, -1 - 0.2]
    np.testing.assert_allclose(w.value, [1 - 0.1 * 0.6, -2 + 0.1 * 1.2], rtol=1e-15)
    np.testing.assert_allclose(b.value, [0.95, -1.9], rtol=1e-15)  # biases are not decayed

    w = param()
    Adam([w], lr=0.1, weight_decay=0.1).step()
    # θ·(1 - lr·λ), then the Adam step of ±lr, untouched by the decay
    np.testing.assert_allclose(w.value, [0.99 - 0.1, -1.98 + 0.1], rtol=1e-7)


def test_updates_are_in_place_and_float32_stays_float32():
    layer = mlp.Linear(3, 2, rng=0, dtype=np.float32)
    W = layer.params["W"]
    layer.forward(np.ones((4, 3), dtype=np.float32))
    layer.backward(np.ones((4, 2), dtype=np.float32))
    for opt in [SGD(layer.parameters(), momentum=0.9, nesterov=True),
                RMSProp(layer.parameters()), Adam(layer.parameters(), weight_decay=0.01)]:
        opt.step()
        assert layer.params["W"] is W
        assert W.dtype == np.float32


def test_optimizer_sees_every_new_backward():
    layer = mlp.Linear(2, 1, rng=0)
    opt = SGD(layer.parameters(), lr=1.0)
    before = layer.params["W"].copy()
    for _ in range(2):
        X = np.array([[1.0, 2.0]])
        layer.forward(X)
        layer.backward(np.array([[1.0]]))
        opt.step()
    np.testing.assert_allclose(layer.params["W"], before - 2 * np.array([[1.0], [2.0]]))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda p: SGD(p, lr=-1), r"SGD: lr must be in \(0.0, inf\), got -1.0"),
        (lambda p: SGD(p, lr=0), r"lr must be in \(0.0, inf\), got 0.0"),
        (lambda p: SGD(p, momentum=1.0), r"momentum must be in \[0.0, 1.0\), got 1.0"),
        (lambda p: SGD(p, nesterov=True), "nesterov=True needs momentum > 0"),
        (lambda p: SGD(p, weight_decay=-0.1), "weight_decay must be in"),
        (lambda p: RMSProp(p, rho=1.5), "rho must be in"),
        (lambda p: RMSProp(p, eps=0), r"eps must be in \(0.0, inf\)"),
        (lambda p: Adam(p, beta1=1.0), "beta1 must be in"),
        (lambda p: Adam(p, beta2=-0.1), "beta2 must be in"),
        (lambda p: Adam(p, lr=float("nan")), "lr must be in"),
        (lambda p: Adam([]), "got no parameters"),
    ],
)
def test_bad_hyperparameters(build, message):
    with pytest.raises(ValueError, match=message):
        build([param()])


def test_parameters_must_be_parameters():
    with pytest.raises(TypeError, match="expected Parameter objects"):
        SGD([np.zeros(3)])


def test_schedules():
    opt = SGD([param()], lr=0.1)
    sched = StepDecay(opt, step_size=2, gamma=0.5)
    assert [sched.step() for _ in range(4)] == pytest.approx([0.1, 0.05, 0.05, 0.025])
    assert opt.lr == pytest.approx(0.025)

    opt = SGD([param()], lr=0.1)
    sched = InverseScaling(opt, power_t=0.5)
    assert [sched.step() for _ in range(3)] == pytest.approx([0.1 / 2**0.5, 0.1 / 3**0.5, 0.05])

    opt = SGD([param()], lr=0.1)
    sched = ExponentialDecay(opt, gamma=0.9)
    assert [sched.step() for _ in range(2)] == pytest.approx([0.09, 0.081])
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        StepDecay(opt, step_size=0)
    with pytest.raises(ValueError, match="gamma must be in"):
        ExponentialDecay(opt, gamma=1.5)
