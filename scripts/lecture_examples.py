"""Reproduce, with numbers, the worked examples and the experiments of the lectures.

    python scripts/lecture_examples.py [--plot DIR] [--only NAME ...]

Each example is a function returning its numbers (the tests in tests/test_lecture_examples.py
check them against the digits the slides print); the experiments (vanishing gradients,
initialisation, XOR, optimizers on a surface, dropout) live in lecture_experiments.py beside
this file. ``main`` prints them all and, with ``--plot DIR``, draws one figure per experiment
(and the Iris decision regions) into DIR.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import check_grad

import mlp
from mlp.autodiff import Var, cos, derivative, grad, log, sigmoid, sin
from mlp.datasets import load_iris
from mlp.trainer import fit


def _load_experiments():
    path = Path(__file__).with_name("lecture_experiments.py")
    spec = importlib.util.spec_from_file_location("lecture_experiments", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


experiments = _load_experiments()


def computational_graph():
    """f(x, y, z) = (x + y)·z at (−2, 5, −4): q = x + y = 3, f = −12."""
    x, y, z = Var(-2.0, name="x"), Var(5.0, name="y"), Var(-4.0, name="z")
    q = x + y
    q.name = "q"
    f = q * z
    f.name = "f"
    f.backward()
    return {"q": q.value, "f": f.value, "df/dq": q.grad, "df/dx": x.grad, "df/dy": y.grad,
            "df/dz": z.grad, "graph": f.graph()}


def sigmoid_neuron(eta=0.001):
    """f(w, x) = σ(w₀ + w₁x₁ + w₂x₂) at w = (−3, 2, −3), observing (x₁, x₂, y) = (−1, −2, 1).

    The loss is the cross-entropy −y·log f − (1 − y)·log(1 − f); its gradient is
    (f − y)·(1, x₁, x₂), and one gradient-descent step with η = 0.001 follows.
    """
    x1, x2, y = -1.0, -2.0, 1.0
    w = [-3.0, 2.0, -3.0]

    def neuron(w0, w1, w2):
        return sigmoid(w0 + w1 * x1 + w2 * x2)

    def loss(w0, w1, w2):
        f = neuron(w0, w1, w2)
        return -y * log(f) - (1 - y) * log(1 - f)

    gradient = grad(loss)(*w)
    stepped = [wi - eta * gi for wi, gi in zip(w, gradient, strict=True)]
    return {"f": neuron(*w), "gradient": gradient, "w_new": stepped,
            "f_new": neuron(*stepped)}


def squared_error(w=0.5, x=2.0, y=3.0):
    """L = ½(y − wx)², broken into a₁ = w·x, a₂ = y − a₁, L = ½a₂²; ∂L/∂w = −(y − wx)·x."""
    W = Var(w, name="w")
    a1 = W * x
    a2 = y - a1
    L = 0.5 * a2**2
    L.backward()
    forward_mode = derivative(lambda w_: 0.5 * (y - w_ * x) ** 2)(w)
    return {"L": L.value, "dL/dw": W.grad, "dL/dw forward": forward_mode}


def sin_cos(w0=0.5, w1=2.0, x=1.5):
    """y₁ = sin(w₁x + w₀), y₂ = cos(w₁x + w₀): ∂y₁/∂w₁ and ∂y₂/∂w₁ in one forward pass,
    and each again by a reverse pass of its own."""
    forward = derivative(lambda a, b, c: (sin(b * c + a), cos(b * c + a)), wrt=1)(w0, w1, x)
    reverse = (grad(lambda a, b, c: sin(b * c + a))(w0, w1, x)[1],
               grad(lambda a, b, c: cos(b * c + a))(w0, w1, x)[1])
    return {"y1": math.sin(w1 * x + w0), "y2": math.cos(w1 * x + w0),
            "forward": forward, "reverse": reverse}


def four_three_one():
    """Forward pass of the 4-3-1 sigmoid network, x = [1, −1, 3, −2], W⁽²⁾ = [−1, 1, −1].

    The slide's W⁽¹⁾ lost minus signs when the notes were extracted (its rows do not give the
    printed I⁽¹⁾), so the pass starts from the printed pre-activations I⁽¹⁾ = [4, 0.5, 1].
    """
    I1 = np.array([4.0, 0.5, 1.0])
    W2 = np.array([[-1.0], [1.0], [-1.0]])  # (3, 1): rows are the 3 hidden units
    sigmoid_layer = mlp.Sigmoid()
    O1 = sigmoid_layer.forward(I1.reshape(1, -1))
    output = mlp.Linear(3, 1, bias=False, init=lambda shape, rng: W2)
    I2 = output.forward(O1)
    O2 = sigmoid_layer.forward(I2)
    return {"I1": I1, "O1": O1[0], "I2": float(I2[0, 0]), "O2": float(O2[0, 0])}


# -- the two-layer Iris model -----------------------------------------------------------------


def _iris_design():
    """Petal length and width, standardised, plus a column of ones for the bias: (150, 3)."""
    from sklearn.preprocessing import StandardScaler

    data = load_iris()
    X = StandardScaler().fit_transform(data.X[:, 2:4])
    return np.column_stack([X, np.ones(len(X))]), data.y, data


def lecture_cost(X, Y, W, V):
    """Mean softmax cross-entropy of the model ŷ = softmax(σ(X·V)·W)."""
    U = mlp.Sigmoid().forward(X @ V) @ W
    return mlp.SoftmaxCrossEntropyLoss().forward(U, Y)


def lecture_gradients(X, Y, W, V):
    """The lecture's hand-written gradients, in matrix form.

    With Z = σ(X·V), Ŷ = softmax(Z·W) and N rows:
    dW = Zᵀ·(Ŷ − Y)/N and dV = Xᵀ·((Ŷ − Y)·Wᵀ ⊙ Z ⊙ (1 − Z))/N.
    """
    N = len(X)
    Z = 1.0 / (1.0 + np.exp(-(X @ V)))
    U = Z @ W
    P = np.exp(U - U.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    dY = P - Y
    dW = Z.T @ dY / N
    dZ = dY @ W.T
    dV = X.T @ (dZ * Z * (1 - Z)) / N
    return dW, dV


def iris_two_layer(iterations=5000, lr=0.5, seed=0):
    """D = 2 features + 1 bias, M = 16 logistic hidden units, C = 3 softmax outputs, trained
    by full-batch gradient descent from the lectures' small random start N(0, 0.01²)."""
    X, y, data = _iris_design()
    Y = np.eye(3)[y]
    rng = np.random.default_rng(seed)
    model = mlp.Sequential(
        mlp.Linear(3, 16, bias=False, init="normal", rng=rng),   # V, shape (D, M)
        mlp.Sigmoid(),
        mlp.Linear(16, 3, bias=False, init="normal", rng=rng),   # W, shape (M, C)
    )
    V, W = model[0].params["W"], model[2].params["W"]
    loss = mlp.SoftmaxCrossEntropyLoss()

    # 1. the layer-by-layer backward equals the lecture's matrix formulas
    loss.forward(model.forward(X), Y)
    model.backward(loss.backward())
    dW, dV = lecture_gradients(X, Y, W, V)
    agreement = max(np.abs(model[2].grads["W"] - dW).max(), np.abs(model[0].grads["W"] - dV).max())

    # 2. scipy's check_grad on the hand-written gradient of the flattened (W, V)
    def cost(theta):
        return lecture_cost(X, Y, theta[:48].reshape(16, 3), theta[48:].reshape(3, 16))

    def gradient(theta):
        dW_, dV_ = lecture_gradients(X, Y, theta[:48].reshape(16, 3), theta[48:].reshape(3, 16))
        return np.concatenate([dW_.ravel(), dV_.ravel()])

    theta = np.concatenate([W.ravel(), V.ravel()])
    check = check_grad(cost, gradient, theta) / np.linalg.norm(gradient(theta))

    # 3. full-batch gradient descent
    history = fit(model, loss, mlp.SGD(model.parameters(), lr=lr), X, y,
                              epochs=iterations, batch_size="full", shuffle=False)
    accuracy = float(np.mean(model.forward(X).argmax(axis=1) == y))
    return {"model": model, "X": X, "y": y, "classes": data.classes,
            "backward_vs_lecture": float(agreement), "check_grad": float(check),
            "loss_start": history.loss[0], "loss_end": history.loss[-1], "accuracy": accuracy}


def plot_iris(result, path):
    """The decision regions of the trained Iris model, as in the lectures' figure."""
    from mlp.io import write_atomic
    from mlp.plotting import region_colors, require_matplotlib

    plt = require_matplotlib()
    X, y, model = result["X"], result["y"], result["model"]
    g0, g1 = np.meshgrid(np.linspace(-2.2, 2.2, 300), np.linspace(-2.2, 2.2, 300))
    grid = np.column_stack([g0.ravel(), g1.ravel(), np.ones(g0.size)])
    regions = model.forward(grid).argmax(axis=1).reshape(g0.shape)
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    ax.contourf(g0, g1, regions, levels=[-0.5, 0.5, 1.5, 2.5], cmap=region_colors(3))
    for k, name in enumerate(result["classes"]):
        ax.scatter(X[y == k, 0], X[y == k, 1], s=12, label=name, edgecolors="k", linewidths=0.3)
    ax.set(xlabel="petal length (standardised)", ylabel="petal width (standardised)",
           title="Iris, 2-16-3 logistic network")
    ax.legend(fontsize="small")
    fig.tight_layout()
    write_atomic(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)


# -- worked numbers of the lectures -----------------------------------------------------------


def cross_entropy_quarter():
    """Cross-entropy of ŷ = [¼, ¼, ½] when the second class is the right one: −ln ¼ = ln 4.

    Computed from the probabilities (NLLLoss) and from logits whose softmax they are.
    """
    probabilities = np.array([[0.25, 0.25, 0.5]])
    target = np.array([1])
    return {"nll": mlp.NLLLoss().forward(probabilities, target),
            "from_logits": mlp.SoftmaxCrossEntropyLoss().forward(np.log(probabilities), target)}


def two_two_one(x=(0.5, -1.0), target=1.0):
    """The backprop lecture's 2-2-1 sigmoid network: z = σ(x·Wʰ), y = σ(z·W°), with the
    cross-entropy loss, so that ∂L/∂(output pre-activation) = y − y*. Its scalar formulas

        ∂L/∂w°₁₁ = (y − y*)·z₁,    ∂L/∂wʰ₂₂ = (y − y*)·w°₂₁·z₂(1 − z₂)·x₂

    are computed by hand and compared with the layers' backward. The weights are illustrative
    (the formulas hold for any); wʰᵢⱼ joins input i to hidden unit j, w°ⱼ₁ hidden unit j to
    the output, so in the (n_in, n_out) layout wʰ₂₂ = Wʰ[1, 1] and w°₂₁ = W°[1, 0].
    """
    Wh = np.array([[0.15, -0.3], [0.25, 0.4]])
    Wo = np.array([[0.6], [-0.45]])
    X = np.array([x], dtype=np.float64)
    z = 1 / (1 + np.exp(-(X @ Wh)[0]))
    y = float(1 / (1 + np.exp(-(z @ Wo)[0])))
    by_hand = {"w°11": (y - target) * z[0],
               "wʰ22": (y - target) * Wo[1, 0] * z[1] * (1 - z[1]) * x[1]}
    model = mlp.Sequential(mlp.Linear(2, 2, bias=False, init=lambda s, r: Wh),
                           mlp.Sigmoid(),
                           mlp.Linear(2, 1, bias=False, init=lambda s, r: Wo))
    loss = mlp.BCEWithLogitsLoss()
    loss.forward(model.forward(X), np.array([[target]]))
    model.backward(loss.backward())
    by_layers = {"w°11": float(model[2].grads["W"][0, 0]),
                 "wʰ22": float(model[0].grads["W"][1, 1])}
    return {"y": y, "by_hand": by_hand, "by_layers": by_layers}


def sigmoid_gate(sigma=0.47, upstream=-2.128):
    """The Chen notes' sigmoid-gate step as one ``Sigmoid.backward`` call: at σ = 0.47 the
    local derivative is σ(1 − σ) = 0.47·0.53 = 0.2491, and an upstream −2.128 becomes
    −2.128·0.2491 = −0.53.
    """
    # The network of that example lost its weights when the notes were extracted (only
    # ŷ = 0.4711 before the gradient step and 0.4714 after survive), so it is not rebuilt
    # here: only this gate step, whose numbers are all printed, is reproduced.
    gate = mlp.Sigmoid()
    out = gate.forward(np.array([[math.log(sigma / (1 - sigma))]]))
    dq = gate.backward(np.array([[upstream]]))
    return {"sigma": float(out[0, 0]), "local": sigma * (1 - sigma), "dq": float(dq[0, 0])}


def _print_examples():
    g = computational_graph()
    print("f(x, y, z) = (x + y)·z at (-2, 5, -4)")
    print(g["graph"])
    print(f"  df/dx = {g['df/dx']:g}, df/dy = {g['df/dy']:g}, df/dz = {g['df/dz']:g}\n")

    n = sigmoid_neuron()
    print("sigmoid neuron, w = (-3, 2, -3), (x1, x2, y) = (-1, -2, 1)")
    print(f"  f = {n['f']:.4f}, dL/dw = [{', '.join(f'{v:.4f}' for v in n['gradient'])}]")
    print(f"  after one step (eta = 0.001): w = [{', '.join(f'{v:.5f}' for v in n['w_new'])}],"
          f" f = {n['f_new']:.4f}\n")

    s = squared_error()
    print(f"L = 1/2 (y - wx)^2 at w = 0.5, x = 2, y = 3: L = {s['L']:g}, dL/dw = "
          f"{s['dL/dw']:g} (reverse) = {s['dL/dw forward']:g} (forward)\n")

    sc = sin_cos()
    print("y1 = sin(w1 x + w0), y2 = cos(w1 x + w0) at w0 = 0.5, w1 = 2, x = 1.5")
    print(f"  forward mode, one pass: dy1/dw1 = {sc['forward'][0]:.6f}, "
          f"dy2/dw1 = {sc['forward'][1]:.6f}")
    print(f"  reverse mode, two passes: {sc['reverse'][0]:.6f}, {sc['reverse'][1]:.6f}\n")

    f = four_three_one()
    print("4-3-1 sigmoid network, forward pass")
    print(f"  I1 = {f['I1']}, O1 = {np.round(f['O1'], 2)}, I2 = {f['I2']:.2f}, "
          f"O2 = {f['O2']:.2f}\n")

    c = cross_entropy_quarter()
    print(f"cross-entropy of y^ = [1/4, 1/4, 1/2], second class: {c['nll']:.6f} "
          f"(ln 4 = {math.log(4):.6f})")
    t = two_two_one()
    print("2-2-1 sigmoid network: by the scalar formulas / by the layers")
    for k in t["by_hand"]:
        print(f"  dL/d{k} = {t['by_hand'][k]:+.10f} / {t['by_layers'][k]:+.10f}")
    gate = sigmoid_gate()
    print(f"sigmoid gate: sigma = {gate['sigma']:.2f}, sigma' = {gate['local']:.4f}, "
          f"upstream -2.128 -> {gate['dq']:.2f}\n")


def main(argv=None) -> int:
    names = ["examples", *experiments.EXPERIMENTS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", metavar="DIR", help="write the figures into DIR")
    parser.add_argument("--only", nargs="+", choices=names, metavar="NAME",
                        help=f"run only these: {', '.join(names)}")
    args = parser.parse_args(argv)
    chosen = args.only or names
    plot_dir = None
    if args.plot:
        plot_dir = Path(args.plot)
        try:
            from mlp.plotting import require_matplotlib

            require_matplotlib()
            plot_dir.mkdir(parents=True, exist_ok=True)
        except (ImportError, OSError) as exc:
            print(f"no figures: {exc}", file=sys.stderr)
            return 1

    if "examples" in chosen:
        _print_examples()
        r = iris_two_layer()
        print("Iris, 2 features + bias, 16 logistic hidden units, 3 softmax outputs")
        print(f"  layer backward vs lecture formulas: max difference "
              f"{r['backward_vs_lecture']:.1e}")
        print(f"  scipy check_grad, relative to |gradient|: {r['check_grad']:.1e}")
        print(f"  full-batch gradient descent: loss {r['loss_start']:.4f} -> "
              f"{r['loss_end']:.4f}, training accuracy {r['accuracy']:.3f}\n")
        if plot_dir is not None:
            plot_iris(r, plot_dir / "iris_boundary.png")
    for name, (run, plot) in experiments.EXPERIMENTS.items():
        if name not in chosen:
            continue
        result = run()
        print(name.replace("_", " "))
        print(experiments.describe(name, result) + "\n")
        if plot_dir is not None:
            plot(result, plot_dir / f"{name}.png")
    if plot_dir is not None:
        print(f"figures written to {plot_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
