"""The fitted network's evaluation-mode forward pass, for prediction, without the layers' caches.

Why this exists. A layer's ``forward`` keeps its input (and what it computed from it) for a
``backward`` that prediction never runs. Going through the layers, a prediction must therefore
take a lock (two threads would overwrite each other's caches) and clear every cache afterwards
(nothing of X may stay in the model or its pickle). For one sample of the 784-256-256-10
network those two cost 13 us, against 21 us for the three matrix-vector products themselves.

What it must equal. :func:`network_output` computes, for each layer kind it knows, the same
floating-point operations as that layer's ``forward`` in evaluation mode, in the same order and
on the same dtypes, so its result equals ``model.eval().forward(X)`` bit for bit. It reads the
weights from the layers at every call (a change of weights — fit, partial_fit, ``coefs_``
assigned, a model file loaded — is seen by the next prediction: there is nothing to invalidate)
and writes nothing anywhere, so any number of threads may call it at once. A layer of a kind not
listed here (by exact type: a subclass may compute something else) computes with its own
``forward``, one prediction at a time, and its cache is emptied afterwards.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from ..activations import Identity, ReLU, Sigmoid, Tanh
from ..layers import BatchNorm1d, Dropout, Linear
from ..special import expit

__all__ = ["network_output"]


def _linear(layer, X):
    """``Y = X·W + b`` as :meth:`mlp.Linear.forward` computes it (X may be CSR)."""
    Y = X @ layer.params["W"]
    if layer.bias:
        Y += layer.params["b"]
    return Y


def _batch_norm(layer, X):
    """``Y = γ ⊙ (X − μ)/√(σ² + ε) + β`` with the running statistics, as
    :meth:`mlp.BatchNorm1d.forward` computes it in evaluation mode."""
    inv_std = 1.0 / np.sqrt(layer.buffers["running_var"] + layer.eps)
    X_hat = (X - layer.buffers["running_mean"]) * inv_std
    return X_hat * layer.params["gamma"] + layer.params["beta"]


def _unchanged(layer, X):
    """Identity, and Dropout in evaluation mode: ``Y = X``."""
    return X


#: layer type -> its evaluation-mode forward as ``step(layer, X) -> Y``
_STEPS = {
    Linear: _linear,
    BatchNorm1d: _batch_norm,
    Dropout: _unchanged,
    Identity: _unchanged,
    ReLU: lambda layer, X: np.maximum(X, 0),  # the layer's row of zeros: the same values
    Tanh: lambda layer, X: np.tanh(X),
    Sigmoid: lambda layer, X: expit(X),
}


def network_output(model, X):
    """The output of ``model`` in evaluation mode for ``X``, leaving nothing of X in it.

    Parameters
    ----------
    model : mlp.Sequential
        The estimator's fitted network.
    X : ndarray or CSR matrix of shape (N, n_features_in)
        Already validated: finite floats of the fitted width.

    Returns
    -------
    ndarray of shape (N, n_out)
        Equal, bit for bit, to ``model.eval().forward(X)``.
    """
    steps = [_STEPS.get(type(layer)) for layer in model]
    if None not in steps:
        return _run(model, steps, X)
    # a layer of another kind computes with its own forward, which caches
    with _forward_lock(model):
        model.eval()
        try:
            return _run(model, steps, X)
        finally:
            model.clear_cache()


def _run(model, steps, X):
    for layer, step in zip(model, steps, strict=True):
        X = layer.forward(X) if step is None else step(layer, X)
    return X


# One lock per network, kept outside it (a lock cannot be pickled or copied) and outside the
# estimator (whose attributes scikit-learn expects predict to leave alone).
_FORWARD_LOCKS = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def _forward_lock(model):
    """The lock that lets one prediction at a time run through ``model``'s caching layers."""
    with _LOCKS_GUARD:
        return _FORWARD_LOCKS.setdefault(model, threading.Lock())
