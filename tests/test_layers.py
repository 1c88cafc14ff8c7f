"""Linear and the activations: values, gradients (finite differences) and input checks."""

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import norm

import mlp
from mlp.gradcheck import check_layer

SHAPES = [(1, 3), (5, 4), (17, 8)]


def all_layers(n_in):
    """One instance of every layer, built for inputs with n_in features."""
    return [
        mlp.Linear(n_in, 3, rng=0),
        mlp.Linear(n_in, 2, bias=False, rng=1),
        mlp.ReLU(),
        mlp.LeakyReLU(0.1),
        mlp.PReLU(0.25),
        mlp.PReLU(0.1, n_features=n_in),
        mlp.ELU(),
        mlp.ELU(alpha=0.5),
        mlp.GELU(),
        mlp.GELU(approximate="tanh"),
        mlp.Sigmoid(),
        mlp.Tanh(),
        mlp.Softplus(),
        mlp.Identity(),
        mlp.Softmax(),
    ]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("index", range(len(all_layers(3))))
def test_every_layer_passes_gradient_check(index, shape):
    rng = np.random.default_rng(index * 31 + shape[0])
    layer = all_layers(shape[1])[index]
    X = rng.normal(0.0, 2.0, size=shape)
    report = check_layer(layer, X, rng=rng)
    names = {"dX", *layer.params}
    assert {c.name for c in report.checks} == names
    assert report.max_error <= 1e-7, str(report)
    assert report.ok
    assert report.problems == []


def test_kink_is_differenced_on_one_side():
    # an input a hair away from 0: the central difference would straddle ReLU's kink
    X = np.array([[3e-6, -1.0, 2.0]])
    report = check_layer(mlp.ReLU(), X, rng=0)
    assert report["dX"].kink
    assert report["dX"].one_sided == 1
    assert "1 entry of dX put a unit on both sides of a kink" in str(report)
    assert report["dX"].tol == 1e-7  # the other entries keep the strict tolerance
    assert report.max_error < 1e-9


def test_check_layer_catches_a_wrong_backward():
    class BadTanh(mlp.Tanh):
        def backward(self, dY, input_grad=True):
            return dY * (1 - self._Y)  # forgot to square

    report = check_layer(BadTanh(), np.random.default_rng(0).normal(size=(4, 3)), rng=0)
    assert not report.ok
    assert report.max_error > 1e-2
    assert "FAIL" in str(report)


def test_check_layer_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        check_layer(mlp.ReLU(), np.ones((2, 2), dtype=np.float32))
    with pytest.raises(TypeError, match="float64 parameters"):
        check_layer(mlp.Linear(2, 2, dtype=np.float32), np.ones((2, 2)))


# -- Linear ----------------------------------------------------------------------------


def test_linear_shapes_and_formula(rng):
    layer = mlp.Linear(4, 3, rng=rng)
    assert layer.params["W"].shape == (4, 3)
    assert layer.params["b"].shape == (3,)
    X = rng.normal(size=(5, 4))
    layer.params["b"][:] = [1.0, -2.0, 0.5]
    np.testing.assert_allclose(layer.forward(X), X @ layer.params["W"] + [1.0, -2.0, 0.5])
    dY = rng.normal(size=(5, 3))
    dX = layer.backward(dY)
    np.testing.assert_allclose(layer.grads["W"], X.T @ dY)
    np.testing.assert_allclose(layer.grads["b"], dY.sum(axis=0))
    np.testing.assert_allclose(dX, dY @ layer.params["W"].T)
    assert layer.backward(dY, input_grad=False) is None


def test_linear_gradients_are_written_into_the_same_arrays(rng):
    layer = mlp.Linear(3, 2, rng=rng)
    gW = layer.grads["W"]
    for _ in range(2):
        X = rng.normal(size=(4, 3))
        layer.forward(X)
        dY = rng.normal(size=(4, 2))
        layer.backward(dY)
        assert layer.grads["W"] is gW
        np.testing.assert_allclose(gW, X.T @ dY)


@pytest.mark.parametrize(
    ("init", "std"),
    [
        ("normal", 0.01),
        ("std_normal", 1.0),
        ("lecun_normal", np.sqrt(1 / 200)),
        ("glorot_normal", np.sqrt(2 / 300)),
        ("glorot_uniform", np.sqrt(2 / 300)),
        ("he_normal", np.sqrt(2 / 200)),
        ("he_uniform", np.sqrt(2 / 200)),
    ],
)
def test_initialisers_have_the_documented_spread(init, std):
    W = mlp.Linear(200, 100, init=init, rng=0).params["W"]
    assert abs(W.mean()) < 4 * std / np.sqrt(W.size)
    assert W.std() == pytest.approx(std, rel=0.03)


def test_uniform_initialisers_respect_their_limits():
    W = mlp.Linear(200, 100, init="glorot_uniform", rng=0).params["W"]
    assert np.abs(W).max() <= np.sqrt(6 / 300)
    W = mlp.Linear(200, 100, init="he_uniform", rng=0).params["W"]
    assert np.abs(W).max() <= np.sqrt(6 / 200)


def test_callable_init_bias_init_and_dtype():
    layer = mlp.Linear(3, 2, init=lambda shape, rng: np.full(shape, 0.5), bias_init=0.1,
                       dtype=np.float32)
    assert layer.params["W"].dtype == np.float32
    np.testing.assert_array_equal(layer.params["W"], 0.5)
    np.testing.assert_allclose(layer.params["b"], 0.1)
    with pytest.raises(ValueError, match=r"returned shape \(2,\), expected \(3, 2\)"):
        mlp.Linear(3, 2, init=lambda shape, rng: np.zeros(2))
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        mlp.Linear(3, 2, init="xavier")


def test_same_seed_same_weights_and_reset():
    a = mlp.Linear(5, 4, rng=7)
    b = mlp.Linear(5, 4, rng=7)
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    W = a.params["W"]
    a.reset_parameters(rng=8)
    assert a.params["W"] is W  # in place: an optimizer holding W keeps working
    assert not np.array_equal(W, b.params["W"])


def test_float32_input_stays_float32():
    layer = mlp.Linear(3, 2, rng=0, dtype=np.float32)
    Y = layer.forward(np.ones((4, 3), dtype=np.float32))
    assert Y.dtype == np.float32
    for act in [mlp.ReLU(), mlp.LeakyReLU(), mlp.ELU(), mlp.GELU(), mlp.GELU("tanh"),
                mlp.Sigmoid(), mlp.Tanh(), mlp.Softplus(), mlp.Softmax(),
                mlp.PReLU(dtype=np.float32)]:
        out = act.forward(Y)
        assert out.dtype == np.float32, act
        assert act.backward(np.ones_like(out)).dtype == np.float32, act


def test_linear_input_errors():
    layer = mlp.Linear(4, 16)
    with pytest.raises(ValueError, match=r"Linear\(4 -> 16\) expected input with 4 features, "
                                         r"got shape \(10, 3\)"):
        layer.forward(np.ones((10, 3)))
    with pytest.raises(ValueError, match=r"expected a 2-D input of shape \(N, 4\), got shape "
                                         r"\(4,\).*reshape"):
        layer.forward(np.ones(4))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        mlp.Linear(4, 16).backward(np.ones((1, 16)))
    layer.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"expected dY of shape \(2, 16\)"):
        layer.backward(np.ones((2, 15)))
    with pytest.raises(ValueError, match="n_out must be a positive integer, got 0"):
        mlp.Linear(4, 0)


@pytest.mark.parametrize("layer", all_layers(3)[2:], ids=repr)
def test_activation_backward_before_forward(layer):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones((2, 3)))


# -- activation values -------------------------------------------------------------------

X_GRID = np.linspace(-6, 6, 25).reshape(5, 5)


def test_activation_values():
    X = X_GRID
    np.testing.assert_array_equal(mlp.ReLU().forward(X), np.where(X > 0, X, 0))
    np.testing.assert_allclose(mlp.LeakyReLU(0.1).forward(X), np.where(X > 0, X, 0.1 * X))
    np.testing.assert_allclose(mlp.PReLU(0.3).forward(X), np.where(X > 0, X, 0.3 * X))
    np.testing.assert_allclose(mlp.ELU(2.0).forward(X), np.where(X > 0, X, 2 * (np.exp(X) - 1)))
    np.testing.assert_allclose(mlp.GELU().forward(X), X * norm.cdf(X), rtol=1e-12, atol=1e-15)
    # the tanh form approximates the exact GELU to about 1e-3
    np.testing.assert_allclose(mlp.GELU("tanh").forward(X), X * norm.cdf(X), atol=1e-3)
    np.testing.assert_allclose(mlp.Sigmoid().forward(X), 1 / (1 + np.exp(-X)), rtol=1e-14)
    np.testing.assert_allclose(mlp.Tanh().forward(X), np.tanh(X))
    np.testing.assert_allclose(mlp.Softplus().forward(X), np.log1p(np.exp(X)), rtol=1e-14)
    E = np.exp(X)
    np.testing.assert_allclose(mlp.Softmax().forward(X), E / E.sum(1, keepdims=True),
                               rtol=1e-13)


def test_extreme_inputs_do_not_overflow():
    X = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]])
    np.testing.assert_array_equal(mlp.Sigmoid().forward(X), expit(X))
    np.testing.assert_allclose(mlp.Softplus().forward(X), [[0, np.exp(-50), np.log(2), 50, 1000]])
    np.testing.assert_allclose(mlp.ELU().forward(X)[0, :2], [-1, -1])
    P = mlp.Softmax().forward(X)
    assert np.isfinite(P).all()
    assert P[0, -1] == 1.0


def test_softmax_backward_is_the_jacobian_vector_product(rng):
    X = rng.normal(size=(3, 4))
    dY = rng.normal(size=(3, 4))
    layer = mlp.Softmax()
    Y = layer.forward(X)
    dX = layer.backward(dY)
    for n in range(3):
        J = np.diag(Y[n]) - np.outer(Y[n], Y[n])  # ∂Y[k]/∂X[j], symmetric
        np.testing.assert_allclose(dX[n], J @ dY[n], rtol=1e-12, atol=1e-15)


def test_get_activation_and_repr():
    assert repr(mlp.get_activation("leaky_relu", alpha=0.2)) == "LeakyReLU(alpha=0.2)"
    assert repr(mlp.Linear(4, 3)) == "Linear(4 -> 3)"
    assert repr(mlp.Linear(4, 3, bias=False)) == "Linear(4 -> 3, bias=False)"
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        mlp.get_activation("swish")
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        mlp.GELU(approximate="fast")


def test_linear_bias_gradient_is_the_batch_sum_whatever_the_batch(rng):
    # db = 1ᵀ·dY is taken with a ones vector kept from one batch to the next: a batch of
    # another size or dtype must get its own
    layer = mlp.Linear(4, 3, rng=0)
    for N, dtype, rtol in ((5, np.float64, 1e-12), (2, np.float64, 1e-12),
                           (5, np.float32, 1e-6), (1, np.float64, 1e-12)):
        dY = rng.normal(size=(N, 3)).astype(dtype)
        layer.forward(rng.normal(size=(N, 4)))
        layer.backward(dY)
        np.testing.assert_allclose(layer.grads["b"], dY.sum(axis=0, dtype=np.float64),
                                   rtol=rtol)
    layer.clear_cache()  # the ones vector is rebuilt after the cache is dropped
    dY = rng.normal(size=(3, 3))
    layer.forward(rng.normal(size=(3, 4)))
    layer.backward(dY)
    np.testing.assert_allclose(layer.grads["b"], dY.sum(axis=0), rtol=1e-12)


def test_relu_is_the_maximum_with_zero_whatever_the_width_and_dtype(rng):
    # forward compares with a row of zeros kept for the next batch: another width or dtype
    # gets its own, an output the caller changes does not touch it, and NaN stays NaN
    relu = mlp.ReLU()
    for shape, dtype in (((4, 3), np.float64), ((2, 5), np.float64), ((3, 5), np.float32)):
        X = rng.normal(size=shape).astype(dtype)
        X[0, 0] = np.nan
        Y = relu.forward(X)
        assert Y.dtype == dtype
        np.testing.assert_array_equal(Y, np.maximum(X, 0))
        Y[...] = -1.0
    np.testing.assert_array_equal(relu.forward(-np.ones((2, 5))), np.zeros((2, 5)))
