"""Reverse and forward mode: against each other, finite differences and the layers' backward."""

import math

import numpy as np
import pytest

import mlp
from mlp import autodiff as ad
from mlp.autodiff import Dual, Var

# -- random compositions -----------------------------------------------------------------

UNARY = [
    ad.exp, ad.sin, ad.cos, ad.tanh, ad.sigmoid, ad.relu,
    lambda a: ad.log(1 + a * a),          # log of something positive
    lambda a: ad.sqrt(2 + ad.sin(a)),     # sqrt of something positive
    lambda a: a**3, lambda a: -a, lambda a: 2.0 ** ad.tanh(a),
]
BINARY = [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
    lambda a, b: a / (1.5 + ad.sin(b)),   # the denominator stays away from 0
    lambda a, b: ad.maximum(a, b), lambda a, b: 0.5 - a, lambda a, b: 3.0 * b,
    lambda a, b: ad.exp(ad.tanh(a)) ** ad.cos(b),
]


def random_function(rng, n_inputs=3, depth=5):
    """A random expression of the inputs built from every supported operation."""
    plan = []
    for _ in range(depth):
        available = n_inputs + len(plan)
        if rng.random() < 0.5:
            plan.append(("u", int(rng.integers(len(UNARY))), int(rng.integers(available))))
        else:
            plan.append(("b", int(rng.integers(len(BINARY))), int(rng.integers(available)),
                         int(rng.integers(available))))

    def f(*args):
        values = list(args)
        for step in plan:
            if step[0] == "u":
                values.append(UNARY[step[1]](values[step[2]]))
            else:
                values.append(BINARY[step[1]](values[step[2]], values[step[3]]))
        # sum everything so that every input and intermediate matters
        total = values[0]
        for v in values[1:]:
            total = total + v
        return total

    return f


@pytest.mark.parametrize("seed", range(40))
def test_modes_agree_with_each_other_and_finite_differences(seed):
    rng = np.random.default_rng(seed)
    f = random_function(rng)
    point = rng.uniform(-1.5, 1.5, size=3)
    value, reverse = ad.value_and_grad(f)(*point)
    assert value == pytest.approx(float(f(*point)), rel=1e-12)
    forward = [ad.derivative(f, wrt=i)(*point) for i in range(3)]
    h = 1e-6
    for i in range(3):
        up, down = point.copy(), point.copy()
        up[i] += h
        down[i] -= h
        numeric = (float(f(*up)) - float(f(*down))) / (2 * h)
        assert forward[i] == pytest.approx(reverse[i], rel=1e-12, abs=1e-12)
        # relu and max have kinks; a kink between the two probes is too unlikely to matter
        assert reverse[i] == pytest.approx(numeric, rel=1e-5, abs=1e-6)


def test_gradients_add_at_branches():
    x = Var(3.0, name="x")
    y = x * x + x  # x feeds three paths
    y.backward()
    assert x.grad == 2 * 3.0 + 1
    # backward twice gives the same result, not twice the result
    y.backward()
    assert x.grad == 7.0


def test_each_primitive_derivative():
    for name, x in [("exp", 0.3), ("log", 2.0), ("sin", 0.7), ("cos", 0.7), ("tanh", 0.4),
                    ("sigmoid", -0.8), ("relu", 1.2), ("relu", -1.2), ("sqrt", 3.0),
                    ("erf", 0.5)]:
        f, _ = ad.PRIMITIVES[name]
        exact = ad.grad(lambda a, n=name: getattr(ad, n)(a))(x)[0]
        numeric = (f(x + 1e-6) - f(x - 1e-6)) / 2e-6
        assert exact == pytest.approx(numeric, rel=1e-7, abs=1e-9), name


def test_graph_listing_and_dot():
    x, y, z = Var(-2.0, name="x"), Var(5.0, name="y"), Var(-4.0, name="z")
    f = (x + y) * z
    f.backward()
    lines = f.graph().splitlines()
    assert len(lines) == 5
    assert lines[0].split() == ["x", "=", "input", "value", "-2", "grad", "-4"]
    assert "value -12" in lines[-1]
    assert "grad +1" in lines[-1]
    dot = f.to_dot()
    assert dot.startswith("digraph {")
    assert dot.count("->") == 4
    assert 'label="z\\n-4 | grad 3"' in dot


def test_jvp_and_derivative_with_several_outputs():
    values, tangents = ad.jvp(lambda a, b: (a * b, a + b), (2.0, 3.0), (1.0, 0.0))
    assert values == (6.0, 5.0)
    assert tangents == (3.0, 1.0)
    assert ad.derivative(lambda a, b: a**b, wrt=1)(2.0, 3.0) == pytest.approx(8 * math.log(2))


def test_deep_graph_does_not_hit_the_recursion_limit():
    x = Var(1.0)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**5000)


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (lambda: ad.log(Var(0.0)), ValueError, "log of a non-positive value 0.0"),
        (lambda: ad.log(Dual(-1.0, 1.0)), ValueError, "log of a non-positive value -1.0"),
        (lambda: ad.log(-2), ValueError, "non-positive"),
        (lambda: Var(1.0) + "a", TypeError, r"unsupported operand type\(s\) for \+: 'Var' and "
                                            "'str'"),
        (lambda: [1] * Dual(1.0), TypeError, "can't multiply sequence|unsupported operand"),
        (lambda: Var(1.0) * Dual(2.0), TypeError, "cannot mix reverse mode"),
        (lambda: ad.exp("x"), TypeError, r"exp\(\) takes a number, a Var or a Dual"),
        (lambda: Var([1, 2]), TypeError, "Var holds a real number"),
        (lambda: ad.sqrt(Var(-1.0)), ValueError, "sqrt of a negative value"),
        (lambda: Var(-2.0) ** 0.5, ValueError, "negative number to a fractional power"),
    ],
)
def test_bad_input(action, error, message):
    with pytest.raises(error, match=message):
        action()


# -- the oracle: every layer's backward against the graph ---------------------------------------


def var_array(values):
    out = np.empty(values.shape, dtype=object)
    for ix in np.ndindex(values.shape):
        out[ix] = Var(float(values[ix]))
    return out


def graph_layer(layer, H, P):
    """Apply ``layer`` to the rows H (object array of Vars) with parameter Vars P."""
    N, D = H.shape
    if isinstance(layer, mlp.Linear):
        out = H @ P["W"]
        return out + P["b"] if "b" in P else out
    if isinstance(layer, mlp.Residual):
        return H + graph_sequence(layer.inner, H, P)
    if isinstance(layer, mlp.BatchNorm1d):
        out = np.empty_like(H)
        for j in range(D):
            column = H[:, j]
            mean = sum(column) / N
            var = sum((h - mean) ** 2 for h in column) / N
            for n in range(N):
                out[n, j] = P["gamma"][j] * (column[n] - mean) / ad.sqrt(var + layer.eps) \
                    + P["beta"][j]
        return out
    if isinstance(layer, mlp.Softmax):
        out = np.empty_like(H)
        for n in range(N):
            m = max(h.value for h in H[n])  # a constant shift: the softmax does not change
            e = [ad.exp(h - m) for h in H[n]]
            total = sum(e)
            out[n] = [v / total for v in e]
        return out
    c = math.sqrt(2 / math.pi)
    elementwise = {
        mlp.ReLU: ad.relu,
        mlp.LeakyReLU: lambda h: ad.maximum(h, layer.alpha * h) if layer.alpha < 1 else h,
        mlp.ELU: lambda h: h if h.value > 0 else layer.alpha * (ad.exp(h) - 1),
        mlp.Sigmoid: ad.sigmoid,
        mlp.Tanh: ad.tanh,
        mlp.Softplus: lambda h: ad.log(1 + ad.exp(h)),
        mlp.Identity: lambda h: h,
        mlp.GELU: (lambda h: 0.5 * h * (1 + ad.erf(h / math.sqrt(2))))
        if getattr(layer, "approximate", "none") == "none" else
        (lambda h: 0.5 * h * (1 + ad.tanh(c * (h + 0.044715 * h**3)))),
    }
    if isinstance(layer, mlp.PReLU):
        alpha = P["alpha"]
        out = np.empty_like(H)
        for n, j in np.ndindex(H.shape):
            a = alpha[0] if alpha.size == 1 else alpha[j]
            out[n, j] = ad.relu(H[n, j]) + a * (H[n, j] - ad.relu(H[n, j]))
        return out
    return np.vectorize(elementwise[type(layer)], otypes=[object])(H)


def graph_sequence(model, H, P, prefix=""):
    for i, layer in enumerate(model):
        own = {key[len(f"{prefix}{i}."):]: value for key, value in P.items()
               if key.startswith(f"{prefix}{i}.")}
        H = graph_layer(layer, H, own)
    return H


def graph_loss(loss, U, y):
    N = U.shape[0]
    if isinstance(loss, mlp.MSELoss):
        terms = [0.5 * sum((u - t) ** 2 for u, t in zip(U[n], y[n], strict=True)) for n in range(N)]
    elif isinstance(loss, mlp.BCEWithLogitsLoss):
        terms = [sum(ad.log(1 + ad.exp(u)) - t * u for u, t in zip(U[n], y[n], strict=True))
                 for n in range(N)]
    elif isinstance(loss, mlp.SoftmaxCrossEntropyLoss):
        terms = []
        for n in range(N):
            m = max(u.value for u in U[n])
            terms.append(m + ad.log(sum(ad.exp(u - m) for u in U[n])) - U[n, y[n]])
    else:  # NLLLoss on probabilities
        terms = [-ad.log(U[n, y[n]]) for n in range(N)]
    return sum(terms) / N


CASES = [
    (activation, loss)
    for activation in ["relu", "leaky_relu", "prelu", "elu", "gelu", "sigmoid", "tanh",
                       "softplus", "identity"]
    for loss in ["softmax_ce"]
] + [("tanh", "mse"), ("sigmoid", "bce"), ("relu", "bce_multilabel"), ("elu", "nll"),
     ("gelu_tanh", "softmax_ce"), ("batchnorm", "softmax_ce"), ("residual", "mse")]


@pytest.mark.parametrize(("hidden", "loss_name"), CASES)
def test_layer_gradients_equal_the_graphs(hidden, loss_name):
    rng = np.random.default_rng(abs(hash((hidden, loss_name))) % 2**32)
    n_out = 1 if loss_name in ("mse", "bce") else 3
    # before BatchNorm a bias has an exactly-zero gradient (the mean subtraction cancels it)
    layers = [mlp.Linear(3, 4, bias=hidden != "batchnorm", rng=rng)]
    if hidden == "batchnorm":
        layers += [mlp.BatchNorm1d(4), mlp.Tanh()]
    elif hidden == "residual":
        layers += [mlp.Residual(mlp.Linear(4, 4, rng=rng), mlp.Tanh())]
    elif hidden == "gelu_tanh":
        layers.append(mlp.GELU("tanh"))
    else:
        layers.append(mlp.get_activation(hidden))
    layers.append(mlp.Linear(4, n_out, rng=rng))
    if loss_name == "nll":
        layers.append(mlp.Softmax())
    model = mlp.Sequential(layers)
    for p in model.parameters():  # move away from the initial values (γ = 1, β = 0, ...)
        p.value[...] += rng.normal(0, 0.3, size=p.value.shape)

    X = rng.normal(size=(5, 3))
    y = {
        "mse": rng.normal(size=(5, 1)),
        "bce": rng.integers(0, 2, size=(5, 1)).astype(float),
        "bce_multilabel": rng.integers(0, 2, size=(5, 3)).astype(float),
    }.get(loss_name, rng.integers(0, 3, size=5))
    loss = {"mse": mlp.MSELoss(), "bce": mlp.BCEWithLogitsLoss(),
            "bce_multilabel": mlp.BCEWithLogitsLoss(), "nll": mlp.NLLLoss()}.get(
        loss_name, mlp.SoftmaxCrossEntropyLoss())

    value = loss.forward(model.forward(X), y)
    model.backward(loss.backward())

    P = {p.name: var_array(p.value) for p in model.parameters()}
    L = graph_loss(loss, graph_sequence(model, var_array(X), P), y)
    L.backward()
    assert L.value == pytest.approx(value, rel=1e-12)
    for p in model.parameters():
        from_graph = np.vectorize(lambda v: v.grad)(P[p.name])
        scale = np.abs(from_graph).max()
        assert np.abs(p.grad - from_graph).max() <= 1e-10 * scale, p.name
