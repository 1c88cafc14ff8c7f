"""Optimizers: the first steps against values worked out by hand, validation, schedules."""

import math

import numpy as np
import pytest

import mlp
from mlp.base import Parameter
from mlp.optim import SGD, Adam, RMSProp

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
    layer.forward(np.ones((4, 3), dtype=np.float32))
    layer.backward(np.ones((4, 2), dtype=np.float32))
    for opt in [SGD(layer.parameters(), momentum=0.9, nesterov=True),
                RMSProp(layer.parameters()), Adam(layer.parameters(), weight_decay=0.01)]:
        W = layer.params["W"]  # (the first optimizer moves it into a flat vector, see pack)
        before = W.copy()
        opt.step()
        assert layer.params["W"] is W
        assert W.dtype == np.float32
        assert not np.array_equal(W, before)


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


# -- flat storage ---------------------------------------------------------------------------


def small_model(seed=0, dtype=np.float64):
    return mlp.Sequential([mlp.Linear(4, 5, rng=seed, dtype=dtype), mlp.Tanh(),
                           mlp.Linear(5, 3, rng=seed + 1, dtype=dtype)])


def train_steps(model, opt, steps=4):
    rng = np.random.default_rng(7)
    loss = mlp.SoftmaxCrossEntropyLoss()
    for _ in range(steps):
        X, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
        loss.forward(model.forward(X.astype(model.layers[0].dtype)), y)
        model.backward(loss.backward(), input_grad=False)
        opt.step()


def test_optimizer_packs_the_parameters_into_one_vector_without_changing_them():
    model = small_model()
    X = np.random.default_rng(1).standard_normal((3, 4))
    before = model.forward(X)
    Adam(model.parameters())
    params = model.parameters()
    theta, g = mlp.base.pack(params)
    assert theta.size == g.size == model.n_params() == 4 * 5 + 5 + 5 * 3 + 3
    offset = 0
    for p in params:  # each tensor is its stretch of the two vectors, in order
        assert np.shares_memory(p.value, theta)
        assert np.shares_memory(p.grad, g)
        np.testing.assert_array_equal(theta[offset:offset + p.value.size], p.value.ravel())
        offset += p.value.size
    np.testing.assert_array_equal(model.forward(X), before)
    # a second optimizer finds them packed and leaves them where they are, even when it
    # takes them in another order (moving them would strand the first optimizer)
    W = model.layers[0].params["W"]
    assert SGD(model.parameters())._theta is not None
    assert SGD(model.parameters()[::-1])._theta is None
    assert SGD(model.layers[2].parameters())._theta is not None  # a stretch of the vector
    assert model.layers[0].params["W"] is W


@pytest.mark.parametrize("build", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda ps: RMSProp(ps, lr=0.01, weight_decay=0.01),
    lambda ps: Adam(ps, lr=0.01, weight_decay=0.01),
])
def test_packed_and_gathered_steps_are_the_same(build):
    packed, gathered = small_model(), small_model()
    # Parameters that belong to no layer cannot be moved: that optimizer gathers instead
    loose = [Parameter(p.name, p.value, p.grad, p.decay) for p in gathered.parameters()]
    opt_packed, opt_gathered = build(packed.parameters()), build(loose)
    assert opt_packed._theta is not None
    assert opt_gathered._theta is None
    train_steps(packed, opt_packed)
    train_steps(gathered, opt_gathered)
    for a, b in zip(packed.parameters(), gathered.parameters(), strict=True):
        np.testing.assert_array_equal(a.value, b.value)
        np.testing.assert_array_equal(a.grad, b.grad)  # coupled decay left the grads alone


def test_pickled_model_and_optimizer_go_on_training_like_the_original():
    import pickle

    model = small_model()
    opt = Adam(model.parameters(), lr=0.05)
    train_steps(model, opt)
    model2, opt2 = pickle.loads(pickle.dumps((model, opt)))
    assert opt2._theta is not None  # laid end to end again, so it trains at full speed
    before = [p.value.copy() for p in model2.parameters()]
    train_steps(model, opt)
    train_steps(model2, opt2)
    for a, b, start in zip(model.parameters(), model2.parameters(), before, strict=True):
        assert not np.array_equal(b.value, start)
        np.testing.assert_array_equal(a.value, b.value)


def test_pickled_optimizer_that_could_not_pack_still_gathers_and_trains():
    import pickle

    mixed = mlp.Sequential([mlp.Linear(2, 2, rng=0, dtype=np.float32),
                            mlp.Linear(2, 2, rng=0, dtype=np.float64)])
    model2, opt2 = pickle.loads(pickle.dumps((mixed, SGD(mixed.parameters(), lr=0.5))))
    assert opt2._theta is None
    model2.forward(np.ones((1, 2), dtype=np.float32))
    model2.backward(np.ones((1, 2)))
    before = model2.layers[1].params["W"].copy()
    opt2.step()
    np.testing.assert_allclose(model2.layers[1].params["W"],
                               before - 0.5 * model2.layers[1].grads["W"], rtol=1e-15)


class RebindingLinear(mlp.Linear):
    def backward(self, dY, input_grad=True):
        self.grads["W"] = self._X.T @ dY  # a new array: the optimizer holds the old one
        self.grads["b"][...] = dY.sum(axis=0)
        return dY @ self.params["W"].T if input_grad else None


def test_replaced_arrays_are_a_clear_error_not_a_silent_no_op():
    model = mlp.Sequential([RebindingLinear(4, 3, rng=0)])
    opt = SGD(model.parameters(), lr=0.1)
    model.forward(np.ones((2, 4)))
    model.backward(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"RebindingLinear: grads\['W'\] \(0.W\) was replaced"):
        opt.step()

    model = small_model()
    opt = Adam(model.parameters())
    model.layers[2].params["b"] = np.zeros(3)  # instead of params["b"][...] = 0
    with pytest.raises(RuntimeError, match=r"params\['b'\] \(2.b\) was replaced .* in place"):
        opt.step()
    opt = Adam(model.parameters())  # an optimizer built afterwards takes the new array
    train_steps(model, opt, steps=1)
    assert not np.array_equal(model.layers[2].params["b"], np.zeros(3))


def test_tied_or_mixed_parameters_stay_where_they_are():
    W = np.ones((2, 2))
    tied = [Parameter("a", W, np.zeros((2, 2))), Parameter("b", W, np.zeros((2, 2)))]
    assert mlp.base.pack(tied) is None
    mixed = mlp.Sequential([mlp.Linear(2, 2, rng=0, dtype=np.float32),
                            mlp.Linear(2, 2, rng=0, dtype=np.float64)])
    W32 = mixed.layers[0].params["W"]
    opt = SGD(mixed.parameters(), lr=0.5)
    assert mixed.layers[0].params["W"] is W32
    assert opt._theta is None
    mixed.forward(np.ones((1, 2), dtype=np.float32))
    mixed.backward(np.ones((1, 2)))
    before = W32.copy()
    opt.step()
    assert W32.dtype == np.float32
    assert not np.array_equal(W32, before)


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
