"""Callbacks that set the learning rate: a schedule, or a cut when progress stalls."""

from __future__ import annotations

from ..optim import _check
from ..schedules import LRSchedule
from .base import Callback, _Monitor, saved_count, saved_number
from .training import _patience

__all__ = ["LRScheduler", "ReduceLROnPlateau"]


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
        self.cooldown = _patience("ReduceLROnPlateau", cooldown, "cooldown")
        self.reductions = []

    def on_train_begin(self, logs=None):
        self._watch.best, self.reductions = None, []
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

    def state_dict(self):
        return {"best": self._watch.best, "wait": getattr(self, "wait", 0),
                "cooling": getattr(self, "_cooling", 0),
                "reductions": [[epoch, lr] for epoch, lr in self.reductions]}

    def load_state_dict(self, state):
        owner = "ReduceLROnPlateau"
        reductions = state.get("reductions")
        if not isinstance(reductions, list) or not all(
                isinstance(r, list) and len(r) == 2 for r in reductions):
            raise ValueError(f"{owner}: the saved reductions must be a list of [epoch, lr]")
        self.reductions = [(saved_count(owner, {"epoch": e}, "epoch"),
                            saved_number(owner, {"lr": lr}, "lr")) for e, lr in reductions]
        self._watch.best = saved_number(owner, state, "best")
        self.wait = saved_count(owner, state, "wait")
        self._cooling = saved_count(owner, state, "cooling")


class LRScheduler(Callback):
    """Advance a learning-rate schedule (:mod:`mlp.schedules`) every epoch or every step.

    Parameters
    ----------
    schedule : LRSchedule, or callable ``optimizer -> LRSchedule``
        A schedule built on the trainer's optimizer; or a function that builds one, called
        when training begins on the optimizer of the trainer that fits (once, then again only
        for another optimizer). A function is the way to give a schedule to an estimator,
        whose optimizer is made by ``fit``, e.g. ``functools.partial(CosineAnnealing, T=50)``
        (a partial of a schedule class pickles with the fitted estimator; a lambda does not).
    per : {"epoch", "step", "sample"}, default "epoch"
        What the schedule's count t counts: epochs, optimizer steps, or samples seen (t
        advanced by the epoch's number of samples at the end of each epoch, as
        scikit-learn's "invscaling" counts).

    Raises
    ------
    TypeError
        For a schedule that is neither; when training starts, for a function whose result is
        not a schedule.
    ValueError
        When training starts and a schedule given as such drives another optimizer.
    """

    def __init__(self, schedule, per="epoch"):
        if not isinstance(schedule, LRSchedule) and not callable(schedule):
            raise TypeError(f"LRScheduler: expected a schedule of mlp.schedules or a function "
                            f"building one, got {type(schedule).__name__}")
        if per not in ("epoch", "step", "sample"):
            raise ValueError(f"LRScheduler: per must be 'epoch', 'step' or 'sample', "
                             f"got {per!r}")
        self.per = per
        self.build = None if isinstance(schedule, LRSchedule) else schedule
        self.schedule = schedule if self.build is None else None

    def on_train_begin(self, logs=None):
        if self.build is not None and (self.schedule is None
                                       or self.schedule.optimizer is not self.optimizer):
            schedule = self.build(self.optimizer)
            if not isinstance(schedule, LRSchedule):
                raise TypeError(f"LRScheduler: the schedule function returned a "
                                f"{type(schedule).__name__}, not a schedule of mlp.schedules")
            self.schedule = schedule
        if self.schedule.optimizer is not self.optimizer:
            raise ValueError("LRScheduler: the schedule was built on another optimizer than "
                             "the trainer's (give a function that builds it, e.g. "
                             "functools.partial(CosineAnnealing, T=50), to have it built on "
                             "the trainer's)")

    def on_epoch_begin(self, epoch, logs=None):
        self._seen = self.trainer.samples_seen

    def on_batch_end(self, batch, logs=None):
        if self.per == "step":
            self.schedule.step()

    def on_epoch_end(self, epoch, logs=None):
        if self.per == "epoch":
            self.schedule.step()
        elif self.per == "sample":
            # step() advances t by one: the epoch's other samples first
            self.schedule.t += self.trainer.samples_seen - self._seen - 1
            self.schedule.step()
        return False

    def __repr__(self):
        return f"LRScheduler({self.schedule or self.build!r}, per={self.per!r})"

    def state_dict(self):
        return None if self.schedule is None else {"schedule": self.schedule.state_dict()}

    def load_state_dict(self, state):
        schedule = state.get("schedule")
        if not isinstance(schedule, dict):
            raise ValueError("LRScheduler: the saved schedule must be an object")
        if self.schedule is not None:  # a function's schedule: again once it is built
            self.schedule.load_state_dict(schedule)
