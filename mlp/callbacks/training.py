"""Callbacks that steer training: stopping and gradient clipping (learning rates: rates.py)."""

from __future__ import annotations

import math

import numpy as np

from .._text import shown_value
from ..optim import _check
from .base import Callback, _Monitor, global_norm, saved_count, saved_number

__all__ = ["Convergence", "EarlyStopping", "GradientClipping", "TerminateOnNaN"]


def _patience(owner, value, name="patience"):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{owner}: {name} must be a non-negative integer, got {value!r}")
    return int(value)


def _baseline(owner, value):
    """A number to beat (infinity allowed: nothing set yet), never NaN."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or math.isnan(number):
        raise ValueError(f"{owner}: baseline must be a number (not NaN) or None, got {value!r}")
    return number


def _restore_when(owner, value):
    if value is True or value is False or (isinstance(value, str) and value == "on_interrupt"):
        return value
    raise ValueError(f"{owner}: restore_best must be True, False or 'on_interrupt', "
                     f"got {value!r}")


class EarlyStopping(Callback):
    """Stop when a logged number has stopped improving; keep the best epoch's weights.

    Parameters
    ----------
    monitor : str, default "val_loss"
        A number of the epoch's logs: ``"loss"``, ``"val_loss"``, ``"val_score"``, ``"lr"``
        or any a callback adds.
    mode : {"auto", "min", "max"}, default "auto"
        Whether lower or higher is better; "auto" takes "max" for names ending in "score"
        or "accuracy", else "min".
    patience : int or None, default 10
        Training stops after this many epochs in a row without improvement (0 or 1: at
        the first such epoch); None never stops (the callback then only keeps the best
        weights).
    min_delta : float, default 0
        The smallest change that counts as an improvement.
    restore_best : bool or "on_interrupt", default True
        True: at the end of training (stopped here or not), put back the weights and
        buffers of the best epoch. "on_interrupt": only when training was interrupted
        (Ctrl-C) or its network's output became non-finite; otherwise the last epoch's
        weights stay. False: never.
    baseline : float, optional
        The value to beat: epochs count as improvements only once they do better than it.

    Attributes
    ----------
    best : float or None
    best_epoch, stopped_epoch : int or None
        Counted as the trainer counts epochs (from 0, across ``fit`` calls).
    wait : int
        Epochs in a row without improvement so far.

    Raises
    ------
    ValueError
        At the end of an epoch whose logs lack ``monitor``.
    """

    reason = "early stopping"

    def __init__(self, monitor="val_loss", mode="auto", patience=10, min_delta=0.0,
                 restore_best=True, baseline=None):
        name = type(self).__name__
        self._watch = _Monitor(name, monitor, mode, min_delta)
        self.patience = None if patience is None else _patience(name, patience)
        self.restore_best = _restore_when(name, restore_best)
        self.baseline = None if baseline is None else _baseline(name, baseline)
        self.best = self.best_epoch = self.stopped_epoch = None
        self.wait = 0

    @property
    def monitor(self):
        return self._watch.monitor

    def on_train_begin(self, logs=None):
        self._watch.best = self.baseline
        self.best = self.best_epoch = self.stopped_epoch = None
        self.wait = 0
        self._best_weights = None

    def _counts(self, value):
        """Whether ``value`` counts as an improvement (resets the wait)."""
        return self._watch.improved(value)

    def _is_best(self, value, counts):
        """Whether ``value`` becomes the best, whose weights are kept."""
        return counts

    def _stalled(self):
        """Whether the wait has run out."""
        return self.patience is not None and self.wait >= self.patience

    def on_epoch_end(self, epoch, logs=None):
        value = self._watch.value(logs)
        counts = self._counts(value)
        if self._is_best(value, counts):
            self._watch.best = self.best = value
            self.best_epoch = epoch
            if self.restore_best:
                self._best_weights = self.model.copy_weights()
        self.wait = 0 if counts else self.wait + 1
        if not self._stalled():
            return False
        if self._go_on():
            self.wait = 0
            return False
        self.stopped_epoch = epoch
        history = self.history
        history.stop_reason = self.reason
        history.stop_message = (f"no improvement of {self.monitor} for {self.wait} epochs "
                                f"(best {self.best:.6g} at epoch {self.best_epoch + 1})"
                                if self.best_epoch is not None else
                                f"no improvement of {self.monitor} for {self.wait} epochs")
        return True

    def _go_on(self):
        """Asked when the wait runs out: True continues training (the wait restarts)."""
        return False

    def on_train_end(self, logs=None):
        history = self.history
        failed = history.interrupted or history.diverged
        if self._best_weights is not None and (self.restore_best is True or failed):
            self.model.set_weights(self._best_weights)
            history.kept_epoch = self.best_epoch

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch,
                "wait": getattr(self, "wait", 0), "weights": getattr(self, "_best_weights", None)}

    def load_state_dict(self, state):
        owner = type(self).__name__
        self._watch.best = self.best = saved_number(owner, state, "best")
        epoch = state.get("best_epoch")
        self.best_epoch = None if epoch is None else saved_count(owner, state, "best_epoch")
        self.wait = saved_count(owner, state, "wait")
        weights = state.get("weights")
        if weights is not None and not (
                isinstance(weights, tuple) and len(weights) == 2 and all(
                    isinstance(part, list) and all(isinstance(a, np.ndarray) for a in part)
                    for part in weights)):
            raise ValueError(f"{owner}: the saved weights must be a copy of the network's "
                             f"weights or null, got {shown_value(weights)}")
        self._best_weights = weights

    def __repr__(self):
        w = self._watch
        return (f"{type(self).__name__}(monitor={w.monitor!r}, mode={w.mode!r}, "
                f"patience={self.patience}, min_delta={w.min_delta:g}, "
                f"restore_best={self.restore_best!r})")


class Convergence(EarlyStopping):
    """scikit-learn's stopping rule for its MLP, as an :class:`EarlyStopping`.

    After each epoch the monitored number is compared with the best so far: it counts as
    an improvement when it beats the best by at least ``tol`` (≥, so with ``tol=0`` a tie
    counts), and it becomes the best whenever it is strictly better. After more than
    ``n_iter_no_change`` epochs in a row without improvement training has converged and
    stops — unless ``on_plateau(trainer)`` returns True (e.g. after lowering the learning
    rate, scikit-learn's "adaptive" rate), which restarts the count.

    Parameters
    ----------
    monitor : str, default "loss"
    mode : {"auto", "min", "max"}, default "auto"
    n_iter_no_change : int, float("inf") or None, default 10
        None or infinity never stops.
    tol : float, default 1e-4
    restore_best : bool or "on_interrupt", default False
        As for :class:`EarlyStopping`; scikit-learn restores with ``early_stopping=True``.
    baseline : float, optional
        The best value of earlier training (scikit-learn's ``best_loss_`` under
        ``warm_start`` and ``partial_fit``).
    wait : int, default 0
        Epochs without improvement carried over from earlier training.
    on_plateau : callable, optional
        ``on_plateau(trainer) -> bool``.
    """

    reason = "converged"

    def __init__(self, monitor="loss", mode="auto", n_iter_no_change=10, tol=1e-4,
                 restore_best=False, baseline=None, wait=0, on_plateau=None):
        patience = n_iter_no_change
        if patience is not None and patience == math.inf:
            patience = None
        super().__init__(monitor, mode, None, tol, restore_best, baseline)
        self.n_iter_no_change = None if patience is None else _patience(
            "Convergence", patience, "n_iter_no_change")
        self.initial_wait = _patience("Convergence", wait, "wait")
        self.on_plateau = on_plateau

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.wait = self.initial_wait

    def _counts(self, value):
        best, tol = self._watch.best, self._watch.min_delta
        if math.isnan(value):
            return False
        if best is None:
            return True
        return value <= best - tol if self._watch.mode == "min" else value >= best + tol

    def _is_best(self, value, counts):
        best = self._watch.best
        if math.isnan(value):
            return False
        if best is None:
            return True
        return value < best if self._watch.mode == "min" else value > best

    def _stalled(self):
        return self.n_iter_no_change is not None and self.wait > self.n_iter_no_change

    def _go_on(self):
        return self.on_plateau is not None and bool(self.on_plateau(self.trainer))

    def on_epoch_end(self, epoch, logs=None):
        stop = super().on_epoch_end(epoch, logs)
        if stop:
            self.history.converged = True
        return stop


class GradientClipping(Callback):
    """Rescale all gradients together so that their global norm is at most ``max_norm``.

    g ← g · min(1, max_norm / ‖g‖), with ‖g‖ the Euclidean norm over every parameter's
    gradient at once: the direction of the step is kept, only its length is capped (Pascanu,
    Mikolov and Bengio, "On the difficulty of training recurrent neural networks", 2013).
    Runs after backward and before the optimizer's step.

    Attributes
    ----------
    norms : list of float
        ‖g‖ before clipping, one per step; the largest of each epoch is also logged, as
        ``grad_norm``.
    """

    def __init__(self, max_norm):
        self.max_norm = _check("GradientClipping", "max_norm", max_norm, 0.0, low_open=True)
        self.norms = []

    def on_epoch_begin(self, epoch, logs=None):
        self._first = len(self.norms)

    def on_epoch_end(self, epoch, logs=None):
        if len(self.norms) > self._first:
            logs["grad_norm"] = max(self.norms[self._first:])
        return False

    def on_gradients(self, batch, logs=None):
        grads = [p.grad for p in self.model.parameters()]
        norm = global_norm(grads)
        self.norms.append(norm)
        if norm > self.max_norm:
            scale = self.max_norm / norm
            for g in grads:
                g *= scale

    def state_dict(self):
        # one number per step: a vector, which a checkpoint stores as an array
        return {"norms": np.array(self.norms, dtype=np.float64)}

    def load_state_dict(self, state):
        norms = state.get("norms")
        if not isinstance(norms, np.ndarray) or norms.ndim != 1 or norms.dtype != np.float64 \
                or bool(np.any(norms < 0)):
            raise ValueError("GradientClipping: the saved norms must be a vector of numbers "
                             f"≥ 0, got {type(norms).__name__}")
        self.norms = norms.tolist()


class TerminateOnNaN(Callback):
    """Stop at the first step whose loss or new weights are not finite; keep the last finite
    weights.

    Before every step the weights are copied (one pass over the parameters); when the batch's
    loss or the weights after the step hold NaN or infinity, training stops and the copy is
    put back, so the model is left at the last weights that were finite. When instead the
    network's output overflows in a forward pass (the trainer then stops as diverged), the
    weights of the step before are put back, whose output was finite, and the trainer
    returns rather than raising.

    Attributes
    ----------
    stopped_at : tuple (epoch, batch) or None
        Counted from 0, as the trainer counts.
    message : str or None
        Why training stopped, in words (epochs and batches numbered from 1, as printed).
    """

    def __init__(self):
        self.stopped_at = self.message = None

    def on_train_begin(self, logs=None):
        self.stopped_at = self.message = None
        self._epoch, self._batch = 0, 0
        # the weights at the start of this batch and of the one before: when the network's
        # output overflows in a forward pass, the weights of that batch are already lost
        self._last = self._before = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_begin(self, batch, logs=None):
        self._before, self._last = self._last, self.model.copy_weights()
        self._batch = batch

    def on_train_end(self, logs=None):
        history = self.history
        if history.diverged and self.stopped_at is None and self._before is not None:
            self.model.set_weights(self._before)
            self.stopped_at = (self._epoch, self._batch)
            self.message = (f"training stopped: the network's output became non-finite at "
                            f"epoch {self._epoch + 1}, batch {self._batch + 1}; the weights are "
                            "those before the step that led there")
            history.kept_epoch = self._epoch

    def on_batch_end(self, batch, logs=None):
        loss = float(logs.get("loss", 0.0))
        finite = math.isfinite(loss) and all(np.isfinite(p.value).all()
                                             for p in self.model.parameters())
        if not finite:
            self.model.set_weights(self._last)
            self.stopped_at = (self._epoch, batch)
            self.message = (f"training stopped: a non-finite loss or weights at epoch "
                            f"{self._epoch + 1}, batch {batch + 1} (loss {loss}); the "
                            "weights are those before that step")
            self.trainer.stop("non-finite", f"a non-finite loss or weights at epoch "
                                            f"{self._epoch + 1}, batch {batch + 1}; the "
                                            "weights are those before that step")
