"""The callback base class, and what several callbacks share: weights copied and put back,
and a logged number watched for improvement."""

from __future__ import annotations

import math

import numpy as np

from .._checks import checked_number

__all__ = ["Callback"]


class Callback:
    """Base class of the callbacks: every hook does nothing.

    Attributes
    ----------
    trainer : Trainer or None
        Set by the trainer the callback is given to (:meth:`set_trainer`).
    changes_at_epoch_end : bool
        Whether its :meth:`state_dict` changes in ``on_epoch_end`` (a schedule's step, a
        count of epochs): then a :class:`~mlp.callbacks.ModelCheckpoint` must come after it.
        False for records kept during the steps alone (diagnostics).
    """

    trainer = None
    changes_at_epoch_end = True

    def set_trainer(self, trainer) -> None:
        """Attach to ``trainer``; called by :class:`~mlp.trainer.Trainer` when built."""
        self.trainer = trainer

    @property
    def model(self):
        """The model being trained."""
        return self.trainer.model

    @property
    def optimizer(self):
        """The optimizer taking the steps."""
        return self.trainer.optimizer

    @property
    def history(self):
        """The trainer's :class:`~mlp.trainer.History`."""
        return self.trainer.history

    def on_train_begin(self, logs=None):
        """Before the first epoch of a ``fit`` call."""

    def on_epoch_begin(self, epoch, logs=None):
        """Before epoch ``epoch`` (0-based, counting all ``fit`` calls)."""

    def on_batch_begin(self, batch, logs=None):
        """Before the forward pass of minibatch ``batch`` (0-based within the epoch)."""

    def on_gradients(self, batch, logs=None):
        """After backward filled every gradient of minibatch ``batch``, before the step; a
        callback may change the gradients here, in place."""

    def on_batch_end(self, batch, logs=None):
        """After the optimizer step of minibatch ``batch``; gradients are still in place."""

    def on_epoch_end(self, epoch, logs=None):
        """After epoch ``epoch`` and its validation; return True to stop training."""

    def on_train_end(self, logs=None):
        """After the last epoch (also after an interruption)."""

    def state_dict(self):
        """What a resumed run needs of this callback, for a checkpoint; None when nothing.

        A dict of JSON values (numbers, strings, lists, dicts, None), and of weight copies as
        :meth:`~mlp.base.Layer.copy_weights` returns them, which a checkpoint stores as arrays
        checked against the network.
        """
        return None

    def load_state_dict(self, state) -> None:
        """Continue from :meth:`state_dict`'s dict; called when a checkpoint is restored and
        again after ``on_train_begin`` of the resumed ``fit`` (whose reset it undoes).
        ValueError or TypeError for a state this callback never writes."""

    def __repr__(self):
        return f"{type(self).__name__}()"



def global_norm(arrays):
    """‖g‖ over several arrays at once: the square root of the sum of all their squares."""
    return math.sqrt(sum(float(np.vdot(a, a)) for a in arrays))


def saved_count(owner, state, key):
    """``state[key]`` as a count (an integer ≥ 0), ValueError otherwise."""
    return checked_number(state.get(key), f"{owner}: the saved {key}", low=0, integer=True)


def saved_number(owner, state, key):
    """``state[key]`` as a float or None (NaN and infinity allowed), ValueError otherwise."""
    return checked_number(state.get(key), f"{owner}: the saved {key}", finite=False, nan=True,
                          optional=True)


class _Monitor:
    """Which number to watch after each epoch, which way is better, and by how much."""

    def __init__(self, owner, monitor, mode, min_delta):
        if not isinstance(monitor, str):
            raise TypeError(f"{owner}: monitor must be the name of a logged number, "
                            f"got {monitor!r}")
        if mode == "auto":
            mode = "max" if monitor.endswith(("score", "accuracy")) else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"{owner}: mode must be 'min', 'max' or 'auto', got {mode!r}")
        given = min_delta
        try:
            min_delta = float(min_delta)
        except (TypeError, ValueError):
            min_delta = math.nan  # refused just below, by name
        if isinstance(given, bool) or not (math.isfinite(min_delta) and min_delta >= 0):
            raise ValueError(f"{owner}: min_delta must be a finite number >= 0, "
                             f"got {given!r}")
        self.owner, self.monitor, self.mode, self.min_delta = owner, monitor, mode, min_delta
        self.best = None

    def value(self, logs):
        if self.monitor not in logs:
            raise ValueError(f"{self.owner}: {self.monitor!r} is not among the numbers logged "
                             f"after an epoch ({', '.join(sorted(logs))}); validation numbers "
                             "need validation data")
        return float(logs[self.monitor])

    def improved(self, value):
        """Whether ``value`` beats the best by more than min_delta (NaN never does)."""
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class CallbackCaller:
    """How a training loop calls its callbacks: the hooks, the verdicts after an epoch, and
    :meth:`stop`. Mixed into :class:`~mlp.trainer.Trainer`, which holds ``callbacks`` (Callback
    objects and plain functions ``f(epoch, history)``), ``history`` and ``stop_training``.
    """

    def stop(self, reason="callback", message=None):
        """End training after the current step, saying why (see :attr:`History.stop_reason`)."""
        self.stop_training = True
        self.history.stop_reason, self.history.stop_message = reason, message

    def _hooks(self, name):
        """The callbacks' methods for hook ``name``, leaving out the base class's (no-ops).

        Looked up at each call, not once per epoch: a callback may set a hook on itself (or
        on its class) in the middle of an epoch, and it must be called from then on.
        """
        noop = getattr(Callback, name)
        return [getattr(c, name) for c in self.callbacks if isinstance(c, Callback) and (
            getattr(type(c), name) is not noop or name in getattr(c, "__dict__", ()))]

    def _hook(self, name, *args):
        for callback in self.callbacks:
            if isinstance(callback, Callback):
                getattr(callback, name)(*args)

    def _epoch_end(self, epoch):
        """Each callback's verdict (True: stop) after epoch ``epoch``.

        The callbacks share one ``logs`` dict, in order: a number one adds (a training
        score, say) is seen by those after it, and kept in ``history.metrics``.
        """
        history = self.history
        logs = {"loss": history.loss[-1]}
        if history.val_loss:
            logs["val_loss"] = history.val_loss[-1]
        if history.val_score:
            logs["val_score"] = history.val_score[-1]
        logs["lr"], logs["time"] = history.lr[-1], history.time[-1]
        known = set(logs)
        verdicts = [callback.on_epoch_end(epoch, logs) if isinstance(callback, Callback)
                    else callback(epoch, history) for callback in self.callbacks]
        for key in logs.keys() - known:
            history.metrics.setdefault(key, []).append(logs[key])
        return verdicts
