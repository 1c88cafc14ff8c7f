"""The training loop: epochs of shuffled minibatches, each a forward, a backward and a step."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .base import as_generator
from .losses import L2Penalty, Loss
from .optim import Optimizer

__all__ = ["History", "fit"]


@dataclass
class History:
    """What happened during training, one entry per epoch.

    Attributes
    ----------
    loss : list of float
        Mean training loss over the epoch's minibatches (weighted by their sizes), the L2
        penalty included.
    val_loss : list of float
        Loss on the validation data after each epoch, penalty included (empty without
        validation data).
    """

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.loss)


def _batch_size(batch_size, n_samples):
    if batch_size is None or batch_size == 0 or batch_size == "full":
        return n_samples
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 0:
        raise ValueError(
            f"batch_size must be a positive integer, 0 or 'full' (full batch), got {batch_size!r}"
        )
    return min(int(batch_size), n_samples)


def fit(model, loss, optimizer, X, y, *, epochs=100, batch_size=32, shuffle=True, rng=None,
        validation_data=None, l2=0.0, callbacks=()):
    """Train ``model`` by minibatch gradient descent.

    Every step runs ``model.forward`` on a batch, ``loss.forward`` and ``loss.backward``,
    ``model.backward`` (without the input gradient, which nobody needs), adds the L2
    penalty's gradient if there is one, and calls ``optimizer.step()``.

    Parameters
    ----------
    model : Sequential
    loss : Loss
    optimizer : Optimizer
        Built from ``model.parameters()``.
    X : ndarray of shape (N, n_in)
    y : ndarray of shape (N,) or (N, K)
        Targets as ``loss`` takes them.
    epochs : int, default 100
    batch_size : int, 0, None or "full", default 32
        0, None or "full" give full-batch gradient descent; 1 gives per-example SGD.
    shuffle : bool, default True
        Reorder the samples at the start of every epoch (one permutation per epoch).
    rng : None, int or numpy.random.Generator
        Source of the shuffling order.
    validation_data : tuple (X_val, y_val), optional
        Evaluated (in eval mode) after every epoch.
    l2 : float, default 0
        γ of the L2 penalty γ·Σ‖W‖² on the weights (not the biases), added to the loss of
        every batch; see :class:`mlp.losses.L2Penalty`.
    callbacks : iterable of callables
        Each is called as ``callback(epoch, history)`` after every epoch; returning True stops
        training.

    Returns
    -------
    History
    """
    if not isinstance(loss, Loss):
        raise TypeError(f"fit: loss must be a Loss, got {type(loss).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"fit: optimizer must be an Optimizer, got {type(optimizer).__name__}")
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y) or len(X) == 0:
        raise ValueError(
            f"fit: X must be 2-D with one row per target, got X of shape {X.shape} and y of "
            f"shape {y.shape}"
        )
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    n_samples = len(X)
    size = _batch_size(batch_size, n_samples)
    rng = as_generator(rng)
    params = model.parameters()
    penalty = L2Penalty(l2) if l2 else None
    history = History()

    for epoch in range(int(epochs)):
        model.train()
        if shuffle:
            # one gather per epoch; the batches below are then contiguous views
            order = rng.permutation(n_samples)
            X_epoch, y_epoch = X[order], y[order]
        else:
            X_epoch, y_epoch = X, y
        total = 0.0
        for start in range(0, n_samples, size):
            X_batch = X_epoch[start:start + size]
            y_batch = y_epoch[start:start + size]
            value = loss.forward(model.forward(X_batch), y_batch)
            model.backward(loss.backward(), input_grad=False)
            if penalty is not None:
                value += penalty.forward(params)
                penalty.backward(params)
            optimizer.step()
            total += value * len(X_batch)
        history.loss.append(total / n_samples)

        if validation_data is not None:
            X_val, y_val = validation_data
            model.eval()
            val = loss.forward(model.forward(X_val), y_val)
            history.val_loss.append(val + (penalty.forward(params) if penalty else 0.0))
            model.train()
        if any([callback(epoch, history) for callback in callbacks]):
            break
    return history
