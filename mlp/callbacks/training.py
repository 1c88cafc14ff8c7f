"""Callbacks that steer training: stopping, learning rates, gradient clipping."""

from __future__ import annotations

import math

import numpy as np

from ..optim import _check
from ..schedules import LRSchedule
from .base import Callback, _Monitor, global_norm

__all__ = ["EarlyStopping", "GradientClipping", "LRScheduler", "ReduceLROnPlateau",
           "TerminateOnNaN"]


def _patience(owner, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{owner}: patience must be a non-negative integer, got {value!r}")
    return int(value)


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
    patience : int, default 10
        Training stops after this many epochs in a row without improvement (0 or 1: at
        the first such epoch).
    min_delta : float, default 0
        The smallest change that counts as an improvement.
    restore_best : bool, default True
        At the end of training (stopped here or not), put back the weights and buffers of
        the best epoch.

    Attributes
    ----------
    best : float or None
    best_epoch, stopped_epoch : int or None
        Counted as the trainer counts epochs (from 0, across ``fit`` calls).

    Raises
    ------
    ValueError
        At the end of an epoch whose logs lack ``monitor``.
    """

    def __init__(self, monitor="val_loss", mode="auto", patience=10, min_delta=0.0,
                 restore_best=True):
        self._watch = _Monitor("EarlyStopping", monitor, mode, min_delta)
        self.patience = _patience("EarlyStopping", patience)
        self.restore_best = bool(restore_best)
        self.best = self.best_epoch = self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self._watch.best = self.best = self.best_epoch = self.stopped_epoch = None
        self.wait = 0
        self._best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = self._watch.value(logs)
        if self._watch.improved(value):
            self._watch.best = self.best = value
            self.best_epoch, self.wait = epoch, 0
            if self.restore_best:
                self._best_weights = self.model.copy_weights()
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def on_train_end(self, logs=None):
        if self.restore_best and self._best_weights is not None:
            self.model.set_weights(self._best_weights)

    def __repr__(self):
        w = self._watch
        return (f"EarlyStopping(monitor={w.monitor!r}, mode={w.mode!r}, "
                f"patience={self.patience}, min_delta={w.min_delta:g}, "
                f"restore_best={self.restore_best})")


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when a logged number stops improving.

    After ``patience`` epochs in a row without an improvement of more than ``min_delta``,
    ε ← max(factor·ε, min_lr); then ``cooldown`` epochs pass before the count starts again.

    Parameters
    ----------
    monitor : str, default "val_loss"
    factor : float, default 0.1
        In (0, 1).
    patience : int, default 10
    min_delta : float, default 1e-4
    min_lr : float, default 0
    cooldown : int, default 0
    mode : {"auto", "min", "max"}, default "auto"

    Attributes
    ----------
    reductions : list of (int, float)
        The epochs at which the rate was lowered, and the new rate.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, min_delta=1e-4,
                 min_lr=0.0, cooldown=0, mode="auto"):
        self._watch = _Monitor("ReduceLROnPlateau", monitor, mode, min_delta)
        self.factor = _check("ReduceLROnPlateau", "factor", factor, 0.0, 1.0, low_open=True)
        self.min_lr = _check("ReduceLROnPlateau", "min_lr", min_lr, 0.0)
        self.patience = _patience("ReduceLROnPlateau", patience)
        self.cooldown = _patience("ReduceLROnPlateau", cooldown)
        self.reductions = []

    def on_train_begin(self, logs=None):
        self._watch.best = None
        self.wait = self._cooling = 0

    def on_epoch_end(self, epoch, logs=None):
        value = self._watch.value(logs)
        if self._watch.improved(value):
            self._watch.best, self.wait = value, 0
            return False
        if self._cooling > 0:
            self._cooling -= 1
            return False
        self.wait += 1
        if self.wait >= self.patience:
            lr = max(self.optimizer.lr * self.factor, self.min_lr)
            if lr < self.optimizer.lr:
                self.optimizer.lr = lr
                self.reductions.append((epoch, lr))
            self.wait, self._cooling = 0, self.cooldown
        return False


class LRScheduler(Callback):
    """Advance a learning-rate schedule (:mod:`mlp.schedules`) every epoch or every step.

    Parameters
    ----------
    schedule : LRSchedule
        Built on the trainer's optimizer.
    per : {"epoch", "step"}, default "epoch"

    Raises
    ------
    ValueError
        When training starts and the schedule drives another optimizer.
    """

    def __init__(self, schedule, per="epoch"):
        if not isinstance(schedule, LRSchedule):
            raise TypeError(f"LRScheduler: expected a schedule of mlp.schedules, "
                            f"got {type(schedule).__name__}")
        if per not in ("epoch", "step"):
            raise ValueError(f"LRScheduler: per must be 'epoch' or 'step', got {per!r}")
        self.schedule, self.per = schedule, per

    def on_train_begin(self, logs=None):
        if self.schedule.optimizer is not self.optimizer:
            raise ValueError("LRScheduler: the schedule was built on another optimizer than "
                             "the trainer's")

    def on_batch_end(self, batch, logs=None):
        if self.per == "step":
            self.schedule.step()

    def on_epoch_end(self, epoch, logs=None):
        if self.per == "epoch":
            self.schedule.step()
        return False


class GradientClipping(Callback):
    """Rescale all gradients together so that their global norm is at most ``max_norm``.

    g ← g · min(1, max_norm / ‖g‖), with ‖g‖ the Euclidean norm over every parameter's
    gradient at once: the direction of the step is kept, only its length is capped (Pascanu,
    Mikolov and Bengio, "On the difficulty of training recurrent neural networks", 2013).
    Runs after backward and before the optimizer's step.

    Attributes
    ----------
    norms : list of float
        ‖g‖ before clipping, one per step.
    """

    def __init__(self, max_norm):
        self.max_norm = _check("GradientClipping", "max_norm", max_norm, 0.0, low_open=True)
        self.norms = []

    def on_gradients(self, batch, logs=None):
        grads = [p.grad for p in self.model.parameters()]
        norm = global_norm(grads)
        self.norms.append(norm)
        if norm > self.max_norm:
            scale = self.max_norm / norm
            for g in grads:
                g *= scale


class TerminateOnNaN(Callback):
    """Stop at the first step whose loss or new weights are not finite; keep the last finite
    weights.

    Before every step the weights are copied (one pass over the parameters); when the batch's
    loss or the weights after the step hold NaN or infinity, training stops and the copy is
    put back, so the model is left at the last weights that were finite.

    Attributes
    ----------
    stopped_at : tuple (epoch, batch) or None
    message : str or None
        Why training stopped.
    """

    def __init__(self):
        self.stopped_at = self.message = None

    def on_train_begin(self, logs=None):
        self.stopped_at = self.message = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_begin(self, batch, logs=None):
        self._last = self.model.copy_weights()

    def on_batch_end(self, batch, logs=None):
        loss = float(logs.get("loss", 0.0))
        finite = math.isfinite(loss) and all(np.isfinite(p.value).all()
                                             for p in self.model.parameters())
        if not finite:
            self.model.set_weights(self._last)
            self.stopped_at = (self._epoch, batch)
            self.message = (f"training stopped: a non-finite loss or weights at epoch "
                            f"{self._epoch}, batch {batch} (loss {loss}); the weights are "
                            "those before that step")
            self.trainer.stop_training = True
