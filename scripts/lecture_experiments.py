"""The lectures' experiments, reproduced with numbers (run through scripts/lecture_examples.py).

Each experiment is a function returning its numbers, and has a ``plot_*`` function drawing its
figure; tests/test_lecture_examples.py asserts the numbers.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog
from sklearn.preprocessing import StandardScaler

import mlp
from mlp.base import Parameter
from mlp.datasets import load_iris
from mlp.diagnostics import SATURATION
from mlp.io import write_atomic
from mlp.plotting import region_colors, require_matplotlib


def _save(fig, path, plt):
    fig.tight_layout()
    try:
        write_atomic(path, lambda f: fig.savefig(f, format="png"))
    finally:
        plt.close(fig)


def _weight_grad_norms(model, X, y):
    """‖dW‖ of every Linear layer after one forward and backward pass of the batch."""
    loss = mlp.SoftmaxCrossEntropyLoss()
    loss.forward(model.forward(X), y)
    model.backward(loss.backward())
    return [float(np.linalg.norm(layer.grads["W"])) for layer in model
            if isinstance(layer, mlp.Linear)]


# -- vanishing gradients ---------------------------------------------------------------------


def vanishing_gradients(depth=10, width=64, n=256, seed=0):
    """Per-layer ‖dW‖ at initialisation of a ``depth``-layer sigmoid network (lecun_normal,
    the lectures' "Xavier") and of the same network with ReLU and He initialisation.

    Backward through a sigmoid layer multiplies by Wᵀ and by σ′ ≤ ¼, so with weights that keep
    the variance (‖W‖ ≈ 1 per unit) the gradient shrinks by about ¼ per layer; ReLU's
    σ′ ∈ {0, 1} with He's doubled variance keeps it level.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, width))
    y = rng.integers(0, 10, n)
    norms = {}
    for activation, init in (("sigmoid", "lecun_normal"), ("relu", "he_normal")):
        layers = []
        for _ in range(depth):
            layers += [mlp.Linear(width, width, init=init, rng=rng),
                       mlp.get_activation(activation)]
        model = mlp.Sequential(*layers, mlp.Linear(width, 10, init=init, rng=rng))
        norms[activation] = _weight_grad_norms(model, X, y)[:depth]  # the hidden layers
    ratio = {name: values[0] / values[-1] for name, values in norms.items()}
    # the geometric mean of the factor by which ‖dW‖ changes from one layer to the one below
    shrink = {name: float(r ** (1 / (depth - 1))) for name, r in ratio.items()}
    return {"norms": norms, "first_to_last": ratio, "shrink_per_layer": shrink}


def plot_vanishing_gradients(result, path):
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for name, label in (("sigmoid", "sigmoid, lecun_normal"), ("relu", "ReLU, he_normal")):
        values = result["norms"][name]
        ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
    ax.set(yscale="log", xlabel="hidden layer (1 = next to the input)", ylabel="‖dW‖",
           title="gradient norm per layer at initialisation")
    ax.legend()
    _save(fig, path, plt)


# -- initialisation --------------------------------------------------------------------------


def _iris():
    data = load_iris()
    return StandardScaler().fit_transform(data.X), data.y


def initialisation(epochs=200, seed=0):
    """What the initial weights decide.

    - ``constant``: every hidden unit computes the same value and gets the same gradient,
      so the columns of the first layer's W stay equal through training;
    - ``zeros`` (with tanh): the weights get no gradient at all and stay 0;
    - random (glorot_uniform): the units differ and the network learns;
    - a sigmoid layer with 100 standardised inputs: the fraction of saturated units
      (|q| > 4) for each initialiser.
    """
    X, y = _iris()
    out = {"trained": {}}
    for init in ("constant", "zeros", "glorot_uniform"):
        rng = np.random.default_rng(seed)
        model = mlp.Sequential(mlp.Linear(4, 8, init=init, rng=rng), mlp.Tanh(),
                               mlp.Linear(8, 3, init=init, rng=rng))
        W0 = model[0].params["W"].copy()
        mlp.fit(model, mlp.SoftmaxCrossEntropyLoss(), mlp.SGD(model.parameters(), lr=0.1),
                X, y, epochs=epochs, batch_size="full", shuffle=False)
        W = model[0].params["W"]
        out["trained"][init] = {
            "column_spread": float(np.max(np.abs(W - W[:, :1]))),
            "moved": float(np.max(np.abs(W - W0))),
            "accuracy": float(np.mean(model.forward(X).argmax(axis=1) == y)),
            "W": W.copy(),
        }
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((512, 100))
    out["saturated"] = {}
    for init in ("normal", "lecun_normal", "glorot_normal", "he_normal", "std_normal"):
        q = mlp.Linear(100, 100, init=init, rng=rng).forward(Z)
        out["saturated"][init] = float(np.mean(np.abs(q) > SATURATION))
    return out


def plot_initialisation(result, path):
    plt = require_matplotlib()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    constant, random = result["trained"]["constant"], result["trained"]["glorot_uniform"]
    width = constant["W"].shape[1]
    for j in range(width):
        left.plot(range(4), random["W"][:, j], color="C0", alpha=0.6,
                  label="glorot_uniform" if j == 0 else None)
        left.plot(range(4), constant["W"][:, j], color="C3", lw=2,
                  label=f"constant ({width} units on one line)" if j == 0 else None)
    left.set(xticks=range(4), xlabel="input feature", ylabel="weight into hidden unit",
             title="first-layer weights after training")
    left.legend(fontsize="small")
    names = list(result["saturated"])
    right.bar(names, [100 * result["saturated"][k] for k in names], color="C1")
    right.set(ylabel="% of units with |q| > 4", title="saturated sigmoid units, 100 inputs")
    right.tick_params(axis="x", labelrotation=20)
    _save(fig, path, plt)


# -- why nonlinearity: XOR -------------------------------------------------------------------

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


def _linearly_separable(X, y):
    """Whether some (w, b) has (2y − 1)(w·x + b) ≥ 1 for every row: a linear program."""
    signs = 2.0 * y - 1.0
    A = -signs[:, None] * np.column_stack([X, np.ones(len(X))])
    result = linprog(np.zeros(3), A_ub=A, b_ub=-np.ones(len(X)), bounds=[(None, None)] * 3)
    return result.status == 0


def _train_xor(hidden_activation, seed):
    rng = np.random.default_rng(seed)
    model = mlp.Sequential(mlp.Linear(2, 8, rng=rng), mlp.get_activation(hidden_activation),
                           mlp.Linear(8, 2, rng=rng))
    mlp.fit(model, mlp.SoftmaxCrossEntropyLoss(), mlp.Adam(model.parameters(), lr=0.05),
            XOR_X, XOR_Y, epochs=500, batch_size="full", shuffle=False)
    return model, int(np.sum(model.forward(XOR_X).argmax(axis=1) == XOR_Y))


def xor(seeds=range(5)):
    """XOR needs a hidden nonlinearity.

    - No line separates the four points (a linear program is infeasible), while every three
      of them can be separated: a linear classifier gets at most 3 of 4.
    - Linear–Identity–Linear is the single linear map X·W₁W₂ + (b₁W₂ + b₂), so trained it
      also gets at most 3; with ReLU it gets all 4.
    - The hand-set ReLU network W = [[1, 1], [1, 1]], c = [0, −1], w = [1, −2] computes XOR.
    """
    subsets = [np.delete(np.arange(4), k) for k in range(4)]
    linear_models = [_train_xor("identity", s) for s in seeds]
    relu_models = [_train_xor("relu", s) for s in seeds]
    model = linear_models[0][0]
    W1, b1 = model[0].params["W"], model[0].params["b"]
    W2, b2 = model[2].params["W"], model[2].params["b"]
    collapsed = XOR_X @ (W1 @ W2) + (b1 @ W2 + b2)
    hand = mlp.Sequential(
        mlp.Linear(2, 2, init=lambda s, r: np.array([[1.0, 1.0], [1.0, 1.0]]), rng=0),
        mlp.ReLU(), mlp.Linear(2, 1, bias=False, init=lambda s, r: np.array([[1.0], [-2.0]])))
    hand[0].params["b"][:] = [0.0, -1.0]
    return {
        "separable_all_four": _linearly_separable(XOR_X, XOR_Y),
        "separable_every_three": all(_linearly_separable(XOR_X[s], XOR_Y[s]) for s in subsets),
        "linear_correct": [c for _, c in linear_models],
        "relu_correct": [c for _, c in relu_models],
        "collapse_error": float(np.max(np.abs(model.forward(XOR_X) - collapsed))),
        "hand_set_output": hand.forward(XOR_X)[:, 0],
        "models": {"Linear–Identity–Linear": model, "Linear–ReLU–Linear": relu_models[0][0]},
    }


def plot_xor(result, path):
    plt = require_matplotlib()
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), dpi=100)
    g0, g1 = np.meshgrid(np.linspace(-0.5, 1.5, 200), np.linspace(-0.5, 1.5, 200))
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    for ax, (name, model) in zip(axes, result["models"].items(), strict=True):
        regions = model.forward(grid).argmax(axis=1).reshape(g0.shape)
        ax.contourf(g0, g1, regions, levels=[-0.5, 0.5, 1.5], cmap=region_colors(2))
        correct = int(np.sum(model.forward(XOR_X).argmax(axis=1) == XOR_Y))
        for k in (0, 1):
            ax.scatter(*XOR_X[XOR_Y == k].T, s=80, color=f"C{k}", edgecolors="k",
                       label=f"XOR = {k}")
        ax.set(xlabel="x₁", ylabel="x₂", title=f"{name}: {correct} of 4")
        ax.legend(fontsize="small", loc="center")
    _save(fig, path, plt)


# -- optimizers on a surface -----------------------------------------------------------------


def saddle(p):
    """f(x, y) = x² + y⁴/4 − y²/2: a saddle at 0, minima f = −¼ at (0, ±1)."""
    x, y = p
    return x**2 + y**4 / 4 - y**2 / 2, np.array([2 * x, y**3 - y])


def ravine(p):
    """f(x, y) = (0.1·x² + 10·y²)/2: a valley 10 times narrower across than along."""
    x, y = p
    return (0.1 * x**2 + 10 * y**2) / 2, np.array([0.1 * x, 10 * y])


SURFACES = {
    "saddle": (saddle, (1.5, 1e-6), [(0.0, 1.0), (0.0, -1.0)]),
    "ravine": (ravine, (-9.0, 0.9), [(0.0, 0.0)]),
}

OPTIMIZERS = {
    "SGD": lambda ps: mlp.SGD(ps, lr=0.1),
    "momentum": lambda ps: mlp.SGD(ps, lr=0.1, momentum=0.9),
    "Nesterov": lambda ps: mlp.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "RMSProp": lambda ps: mlp.RMSProp(ps, lr=0.05),
    "Adam": lambda ps: mlp.Adam(ps, lr=0.05),
}


def _descend(f, make, start, steps):
    p = Parameter("xy", np.array(start, dtype=np.float64), np.zeros(2))
    optimizer = make([p])
    path = [p.value.copy()]
    for _ in range(steps):
        p.grad[...] = f(p.value)[1]
        optimizer.step()
        path.append(p.value.copy())
    return np.array(path)


def optimizers_on_surfaces(steps=150, radius=1e-2):
    """Every optimizer from one start point on each surface, for ``steps`` steps.

    Near the saddle (y₀ = 1e-6) plain SGD's escape grows y by (1 + lr) per step and does not
    leave in time; in the ravine SGD's learning rate is held down by the steep direction and
    it crawls along the flat one, where momentum builds up speed.

    Returns
    -------
    dict
        Per surface: ``paths`` (each optimizer's (steps + 1, 2) trajectory), ``distance``
        (final distance to the nearest minimum) and ``reached`` (within ``radius``).
    """
    out = {}
    for name, (f, start, minima) in SURFACES.items():
        paths = {k: _descend(f, make, start, steps) for k, make in OPTIMIZERS.items()}
        distance = {k: float(min(np.hypot(*(path[-1] - np.array(m))) for m in minima))
                    for k, path in paths.items()}
        out[name] = {"paths": paths, "distance": distance,
                     "reached": sorted(k for k, d in distance.items() if d < radius)}
    return out


def plot_optimizers(result, path):
    plt = require_matplotlib()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), dpi=100)
    limits = {"saddle": ((-2, 2), (-1.6, 1.6)), "ravine": ((-10, 2), (-1.5, 1.5))}
    for ax, (name, surface) in zip(axes, result.items(), strict=True):
        f = SURFACES[name][0]
        (x0, x1), (y0, y1) = limits[name]
        gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
        ax.contour(gx, gy, f((gx, gy))[0], levels=30, cmap="Greys", linewidths=0.6)
        for k, trajectory in surface["paths"].items():
            # SGD wide and underneath: it shares its first stretch with the momentum methods
            wide = k == "SGD"
            ax.plot(trajectory[:, 0], trajectory[:, 1], lw=4 if wide else 1.2,
                    alpha=0.5 if wide else 1.0, zorder=1 if wide else 2, label=k)
        ax.plot(*SURFACES[name][1], "k*", ms=10)
        ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="x", ylabel="y",
               title=f"{name}: reached {', '.join(surface['reached']) or 'none'}")
        ax.legend(fontsize="small")
    _save(fig, path, plt)


# -- dropout ---------------------------------------------------------------------------------


def checkerboard(n, rng, flip=0.15):
    """n points uniform on [−1.5, 1.5]², labelled by a 3 × 3 checkerboard, a fraction
    ``flip`` of the labels flipped; returns X, the noisy labels and the clean ones."""
    X = rng.uniform(-1.5, 1.5, size=(n, 2))
    clean = (np.floor(X[:, 0] + 1.5).astype(int) + np.floor(X[:, 1] + 1.5).astype(int)) % 2
    return X, np.where(rng.random(n) < flip, 1 - clean, clean), clean


def dropout(ps=(0.0, 0.2, 0.5, 0.8), width=64, epochs=500, seed=0):
    """Train and test accuracy of a 2-64-64-2 ReLU network with dropout p after each hidden
    layer, trained on 150 checkerboard points with 15% of the labels flipped and tested on
    2000 clean ones: without dropout the network learns the noise, a bit of dropout
    generalises better, too much cannot even fit the checkerboard."""
    rng = np.random.default_rng(seed)
    X_train, y_train, _ = checkerboard(150, rng)
    X_test, _, y_test = checkerboard(2000, rng)
    out = {}
    for p in ps:
        rng = np.random.default_rng(seed)
        layers = []
        for n_in in (2, width):
            layers += [mlp.Linear(n_in, width, init="he_normal", rng=rng), mlp.ReLU()]
            if p:
                layers.append(mlp.Dropout(p, rng=rng))
        model = mlp.Sequential(*layers, mlp.Linear(width, 2, rng=rng))
        mlp.fit(model, mlp.SoftmaxCrossEntropyLoss(), mlp.Adam(model.parameters(), lr=1e-2),
                X_train, y_train, epochs=epochs, batch_size="full", rng=seed)
        model.eval()
        out[p] = {"train": float(np.mean(model.forward(X_train).argmax(1) == y_train)),
                  "test": float(np.mean(model.forward(X_test).argmax(1) == y_test))}
    return out


def plot_dropout(result, path):
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ps = list(result)
    x = np.arange(len(ps))
    ax.bar(x - 0.2, [result[p]["train"] for p in ps], 0.4, label="train")
    ax.bar(x + 0.2, [result[p]["test"] for p in ps], 0.4, label="test")
    ax.set(xticks=x, xticklabels=[f"p = {p:g}" for p in ps], ylim=(0.5, 1.02),
           ylabel="accuracy", title="dropout on a noisy checkerboard: none, a bit, too much")
    ax.legend()
    _save(fig, path, plt)


EXPERIMENTS = {
    "vanishing_gradients": (vanishing_gradients, plot_vanishing_gradients),
    "initialisation": (initialisation, plot_initialisation),
    "xor": (xor, plot_xor),
    "optimizers": (optimizers_on_surfaces, plot_optimizers),
    "dropout": (dropout, plot_dropout),
}


def describe(name, r) -> str:
    """The experiment's numbers in a few lines of text."""
    if name == "vanishing_gradients":
        return "\n".join(
            f"  {k:<8} ‖dW‖ layer 1..10: {' '.join(f'{v:.1e}' for v in r['norms'][k])}; "
            f"first/last {r['first_to_last'][k]:.1e}, x{r['shrink_per_layer'][k]:.2f} per layer"
            for k in ("sigmoid", "relu"))
    if name == "initialisation":
        lines = [f"  {k:<15} weights moved {t['moved']:.2f}, column spread "
                 f"{t['column_spread']:.1e}, Iris accuracy {t['accuracy']:.3f}"
                 for k, t in r["trained"].items()]
        lines.append("  saturated sigmoid units (|q| > 4, 100 inputs): " + ", ".join(
            f"{k} {v:.0%}" for k, v in r["saturated"].items()))
        return "\n".join(lines)
    if name == "xor":
        return (f"  linearly separable: all four {r['separable_all_four']}, every three "
                f"{r['separable_every_three']}\n"
                f"  correct of 4 over 5 seeds: Linear-Identity-Linear {r['linear_correct']}, "
                f"Linear-ReLU-Linear {r['relu_correct']}\n"
                f"  Linear-Identity-Linear vs X·W1W2 + (b1W2 + b2): {r['collapse_error']:.1e}\n"
                f"  hand-set W = [[1, 1], [1, 1]], c = [0, -1], w = [1, -2]: "
                f"{r['hand_set_output'].tolist()}")
    if name == "optimizers":
        return "\n".join(
            f"  {surface}: distance to the minimum after the budget: " + ", ".join(
                f"{k} {d:.1e}" for k, d in r[surface]["distance"].items())
            + f"; reached: {', '.join(r[surface]['reached'])}" for surface in r)
    return "\n".join(f"  p = {p:g}: train {v['train']:.3f}, test {v['test']:.3f}"
                     for p, v in r.items())
