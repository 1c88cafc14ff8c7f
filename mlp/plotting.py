"""Training figures: loss and score curves, and a decision boundary for 2-feature data.

matplotlib is an optional dependency (``pip install matplotlib``, or in a checkout of this
project ``pip install -e '.[plot]'``); :func:`require_matplotlib`
says so in one line when it is missing.
"""

from __future__ import annotations

import numpy as np

from .io import write_atomic

__all__ = ["plot_gradient_flow", "plot_training", "region_colors", "require_matplotlib"]


def require_matplotlib():
    """Import matplotlib with a file-only backend, or raise ImportError (an
    :class:`mlp._optional.OptionalPackageError`) naming the extra, or the error of an installed
    matplotlib that fails to import."""
    from ._optional import import_optional

    matplotlib = import_optional("matplotlib", needed_for="plotting", extra="plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def region_colors(n_classes):
    """A colormap of light tints of the default point colours, class k on tint k."""
    from matplotlib.colors import ListedColormap, to_rgb

    cycle = [f"C{k % 10}" for k in range(n_classes)]
    return ListedColormap([tuple(0.35 * np.array(to_rgb(c)) + 0.65) for c in cycle])


def plot_training(path, curves, *, metric="accuracy", boundary=None, dpi=100):
    """Write a PNG with the training curves and, optionally, a decision boundary.

    Parameters
    ----------
    path : str or Path
    curves : dict of str to list of float
        ``"loss"``, ``"val_loss"``, ``"train_score"``, ``"val_score"`` and ``"lr"`` (the
        learning rate, in a panel of its own) per epoch; missing or empty entries are left
        out.
    metric : str, default "accuracy"
        Name of the score, for the axis label.
    boundary : tuple (predict, X, y, feature_names, class_names), optional
        For 2-feature classification: ``predict(points) -> class index``, the (scaled)
        points and their class indices; the regions each class wins are shaded.
    dpi : int, default 100
    """
    plt = require_matplotlib()
    with_lr = bool(curves.get("lr"))
    panels = 2 + with_lr + (boundary is not None)
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4), dpi=dpi)
    epochs = np.arange(1, len(curves.get("loss", [])) + 1)

    ax = axes[0]
    for key, label in (("loss", "training"), ("val_loss", "validation")):
        if curves.get(key):
            ax.plot(epochs[:len(curves[key])], curves[key], label=label)
    ax.set(xlabel="epoch", ylabel="loss", title="loss")
    ax.legend()

    ax = axes[1]
    for key, label in (("train_score", "training"), ("val_score", "validation")):
        if curves.get(key):
            ax.plot(epochs[:len(curves[key])], curves[key], label=label)
    ax.set(xlabel="epoch", ylabel=metric, title=metric)
    if ax.lines:
        ax.legend()

    if with_lr:
        ax = axes[2]
        ax.plot(epochs[:len(curves["lr"])], curves["lr"])
        ax.set(xlabel="epoch", ylabel="learning rate", title="learning rate")

    if boundary is not None:
        predict, X, y, feature_names, class_names = boundary
        ax = axes[-1]
        pad = 0.5
        x0 = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 300)
        x1 = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 300)
        grid0, grid1 = np.meshgrid(x0, x1)
        regions = predict(np.column_stack([grid0.ravel(), grid1.ravel()]))
        n_classes = len(class_names)
        ax.contourf(grid0, grid1, regions.reshape(grid0.shape), levels=np.arange(n_classes + 1)
                    - 0.5, cmap=region_colors(n_classes))
        for k, name in enumerate(class_names):
            mask = y == k
            ax.scatter(X[mask, 0], X[mask, 1], s=12, label=str(name), edgecolors="k",
                       linewidths=0.3)
        ax.set(xlabel=feature_names[0], ylabel=feature_names[1], title="decision regions")
        ax.legend(fontsize="small")

    return _save(fig, path, plt)


def _save(fig, path, plt):
    fig.tight_layout()
    try:
        return write_atomic(path, lambda f: fig.savefig(f, format="png"))
    finally:
        plt.close(fig)


def plot_gradient_flow(path, rows, *, dpi=100):
    """Write a PNG of the per-layer gradient norms: across depth, and across training.

    Parameters
    ----------
    path : str or Path
    rows : list of dict
        :class:`mlp.diagnostics.Diagnostics` rows (``history.diagnostics``); the layers with
        weights (a ``grad_norm``) are drawn.
    dpi : int, default 100
    """
    plt = require_matplotlib()
    rows = [r for r in rows if r.get("grad_norm") is not None]
    if not rows:
        raise ValueError("plot_gradient_flow: no gradient norms recorded")
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    steps = sorted({r["step"] for r in rows})
    norm = {(r["step"], r["layer"]): r["grad_norm"] for r in rows}
    fig, (depth, time) = plt.subplots(1, 2, figsize=(11, 4), dpi=dpi)
    shown = steps if len(steps) <= 6 else [steps[round(i)] for i in
                                              np.linspace(0, len(steps) - 1, 6)]
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(shown)))
    for step, color in zip(shown, colors, strict=True):
        depth.plot(range(len(layers)), [norm.get((step, name), np.nan) for name in layers],
                   marker="o", color=color, label=f"step {step}")
    depth.set_xticks(range(len(layers)))
    depth.set_xticklabels([name.split(":")[0] for name in layers])
    depth.set(yscale="log", xlabel="layer (input → output)", ylabel="‖dW‖",
              title="gradient norm across depth")
    depth.legend(fontsize="small")
    for name in layers:
        time.plot(steps, [norm.get((step, name), np.nan) for step in steps], label=name)
    time.set(yscale="log", xlabel="step", ylabel="‖dW‖", title="gradient norm during training")
    time.legend(fontsize="small")
    return _save(fig, path, plt)
