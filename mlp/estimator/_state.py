"""The fitted network's state as the estimator shows and keeps it.

- ``coefs_`` / ``intercepts_``: lists whose arrays are the Linear layers' own, and whose
  assignment (the whole list, or one item) writes into the layers after checking shapes;
- the BatchNorm statistics used at prediction, computed from the weighted training data at the
  weights the fit returns;
- after a copy that rebuilt every array on its own, the optimizer joined to the layers again.
"""

from __future__ import annotations

import numpy as np

from .._text import shown_value
from ..layers import BatchNorm1d


def _write(target, value, what):
    """Copy ``value`` into ``target`` in place after checking shape and finiteness."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an array of numbers, got "
                         f"{shown_value(value)}") from None
    if array.shape != target.shape:
        raise ValueError(f"{what} must have shape {target.shape}, got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{what} contains NaN or infinity")
    return array


class LayerArrays(list):
    """The ``key`` array (``"W"`` or ``"b"``) of each Linear layer, in order.

    Item assignment writes into the layer: ``clf.coefs_[0] = W`` changes the network, as it
    does on scikit-learn's estimator, whose lists hold the arrays it predicts with.
    """

    def __init__(self, layers, key, name):
        super().__init__(layer.params[key] for layer in layers)
        self._layers, self._key, self._name = layers, key, name

    def __setitem__(self, index, value):
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"{self._name}: assign one array by its index, or the whole list")
        target = self._layers[index].params[self._key]
        target[...] = _write(target, value, f"{self._name}[{index}]")
        super().__setitem__(index, target)

    def __reduce__(self):
        # a copy is a plain list of arrays, not tied to any network
        return list, (list(self),)


def assign(layers, key, name, values):
    """``est.coefs_ = values``: every array checked first, then all written in place.

    Raises
    ------
    ValueError
        When ``values`` is not a list of one array per Linear layer of the right shape.
    """
    targets = [layer.params[key] for layer in layers]
    if isinstance(values, np.ndarray) or not hasattr(values, "__len__") \
            or len(values) != len(targets):
        raise ValueError(
            f"{name} must be a list of {len(targets)} arrays of shapes "
            f"{[t.shape for t in targets]}, got {type(values).__name__}"
            + (f" of length {len(values)}" if hasattr(values, "__len__") else "")
        )
    arrays = [_write(t, v, f"{name}[{i}]") for i, (t, v) in enumerate(zip(targets, values,
                                                                             strict=True))]
    for target, array in zip(targets, arrays, strict=True):
        target[...] = array


def batchnorm_statistics(model, X, sample_weight, seen=0.0):
    """Set each BatchNorm1d's running mean and variance from the weighted data X.

    Training normalises every batch by its own statistics and keeps running averages of
    them: unweighted, and describing the weights of earlier steps. At prediction the layer
    should instead normalise by the statistics of its input over the training data, weighted
    as the objective weights it (μ = Σ sᵢxᵢ / Σ sᵢ, σ² = Σ sᵢ(xᵢ − μ)² / Σ sᵢ), at the
    weights the fit returns. Walking the layers in eval mode, each BatchNorm's statistics
    are set before its output feeds the next layer.

    Parameters
    ----------
    model : Sequential
    X : ndarray of shape (N, n_features)
    sample_weight : ndarray of shape (N,) or None
    seen : float, default 0
        Total weight already summarised by the present statistics (earlier ``partial_fit``
        calls): the two are then pooled (Chan's formula) instead of replaced.

    Returns
    -------
    float
        The total weight the statistics now summarise.
    """
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    total = float(w.sum())
    layers = list(model)
    norms = [i for i, layer in enumerate(layers) if isinstance(layer, BatchNorm1d)]
    if not norms:
        return seen + total
    model.eval()
    H = X
    try:
        for layer in layers[:norms[-1] + 1]:
            if isinstance(layer, BatchNorm1d):
                mean = (w @ H) / total
                var = (w @ (H - mean) ** 2) / total
                if seen:
                    old_mean = layer.buffers["running_mean"]
                    old_var = layer.buffers["running_var"]
                    pooled = seen + total
                    var = (seen * old_var + total * var
                           + seen * total / pooled * (mean - old_mean) ** 2) / pooled
                    mean = (seen * old_mean + total * mean) / pooled
                layer.buffers["running_mean"][...] = mean
                layer.buffers["running_var"][...] = var
            H = layer.forward(H)
    finally:
        model.train()
    return seen + total


def relink(optimizer):
    """Join ``optimizer``'s parameters to the arrays the layers hold, in fresh memory.

    joblib stores every array on its own, so a loaded copy has the layers' arrays and the
    optimizer's parameters apart (and possibly read-only views of the file's buffer). Each
    parameter takes its layer's numbers in memory of its own, and the optimizer lays them end
    to end again, as it does when it is unpickled: the copy trains exactly like the original.
    """
    for p in optimizer.params:
        p.rebind(np.array(p.owner.params[p.key]), np.array(p.owner.grads[p.key]))
    optimizer.__setstate__(optimizer.__getstate__())
