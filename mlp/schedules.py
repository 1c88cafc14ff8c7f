"""Learning-rate schedules: ε as a function of the step count t.

A schedule is built on an optimizer, whose ``lr`` at that moment is the initial rate ε₀; each
``step()`` advances t by one and writes ε_t into ``optimizer.lr``. Call it once per epoch or
once per minibatch, as the schedule is meant (or let :class:`mlp.callbacks.LRScheduler` call
it). ``lr_at(t)`` gives the rate at any t without changing anything.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import MAX_COUNT
from ._text import shown_value
from .optim import Optimizer, _check

__all__ = [
    "LRSchedule", "ConstantLR", "StepDecay", "InverseScaling", "ExponentialDecay",
    "CosineAnnealing", "LinearWarmup",
]


class LRSchedule:
    """Base class of schedules: ``step()`` advances the count t and sets ``optimizer.lr``.

    Parameters
    ----------
    optimizer : Optimizer
        Its ``lr`` at construction is the initial rate ε₀.

    Raises
    ------
    TypeError
        When ``optimizer`` is not an :class:`~mlp.optim.Optimizer`.
    """

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.t = 0

    def lr_at(self, t: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self) -> float:
        """Advance by one and return the new learning rate."""
        self.t += 1
        self.optimizer.lr = float(self.lr_at(self.t))
        return self.optimizer.lr

    def state_dict(self) -> dict:
        """The schedule's position: ``{"type", "t", "base_lr"}`` (``optimizer.lr`` is the
        optimizer's own state)."""
        return {"type": type(self).__name__, "t": self.t, "base_lr": self.base_lr}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a :meth:`state_dict`; TypeError for another schedule's, ValueError for
        a t that is not an integer ≥ 0 or an ε₀ that is not positive and finite."""
        name, t = type(self).__name__, state.get("t")
        if state.get("type") != name:
            raise TypeError(f"{name}: cannot load the state of a {shown_value(state.get('type'))} "
                            "schedule")
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) \
                or not 0 <= t <= MAX_COUNT:  # a larger t overflows β**t
            raise ValueError(f"{name}: t must be a non-negative integer, got {shown_value(t)}")
        self.base_lr = _check(name, "base_lr", state.get("base_lr"), 0.0, low_open=True)
        self.t = int(t)

    def __repr__(self):
        return f"{type(self).__name__}(base_lr={self.base_lr:g}, t={self.t})"


def _steps(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {shown_value(value)}")
    return int(value)


class ConstantLR(LRSchedule):
    """ε_t = ε₀."""

    def lr_at(self, t):
        return self.base_lr


class StepDecay(LRSchedule):
    """ε_t = ε₀ · γ^⌊t / step_size⌋: multiply by γ every ``step_size`` steps."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        super().__init__(optimizer)
        self.step_size = _steps("StepDecay", "step_size", step_size)
        self.gamma = _check("StepDecay", "gamma", gamma, 0.0, 1.0, low_open=True,
                            high_open=False)

    def lr_at(self, t):
        return self.base_lr * self.gamma ** (t // self.step_size)


class InverseScaling(LRSchedule):
    """ε_t = ε₀ / (t + 1)^power_t (scikit-learn's "invscaling", counted from t = 0)."""

    def __init__(self, optimizer, power_t=0.5):
        super().__init__(optimizer)
        self.power_t = _check("InverseScaling", "power_t", power_t, 0.0)

    def lr_at(self, t):
        return self.base_lr / (t + 1) ** self.power_t


class ExponentialDecay(LRSchedule):
    """ε_t = ε₀ · γᵗ."""

    def __init__(self, optimizer, gamma=0.95):
        super().__init__(optimizer)
        self.gamma = _check("ExponentialDecay", "gamma", gamma, 0.0, 1.0, low_open=True,
                            high_open=False)

    def lr_at(self, t):
        return self.base_lr * self.gamma**t


class CosineAnnealing(LRSchedule):
    """ε_t = ε_min + (ε₀ − ε_min)·(1 + cos(π t / T)) / 2 for t ≤ T, then ε_min.

    Half a cosine from ε₀ down to ε_min over ``T`` steps (Loshchilov and Hutter, "SGDR:
    stochastic gradient descent with warm restarts", ICLR 2017, eq. 5, without restarts).

    Parameters
    ----------
    optimizer : Optimizer
    T : int
        Steps from ε₀ to ε_min, ≥ 1.
    eta_min : float
        The final rate, 0 ≤ ε_min ≤ ε₀.
    """

    def __init__(self, optimizer, T, eta_min=0.0):
        super().__init__(optimizer)
        self.T = _steps("CosineAnnealing", "T", T)
        self.eta_min = _check("CosineAnnealing", "eta_min", eta_min, 0.0, self.base_lr,
                              high_open=False)

    def lr_at(self, t):
        if t >= self.T:
            return self.eta_min
        return self.eta_min + (self.base_lr - self.eta_min) * 0.5 * (1.0 + math.cos(
            math.pi * t / self.T))


class LinearWarmup(LRSchedule):
    """ε_t = ε₀ · (t + 1) / (W + 1) for t < W, then ε₀ or the schedule ``after``.

    A linear ramp over the first W steps, which keeps the first updates small while the
    optimizer's running statistics (Adam's moments, BatchNorm's batch statistics) are still
    poor estimates (Goyal et al., "Accurate, large minibatch SGD", 2017, §2.2). The rate is
    set at construction already, so the very first step is taken at ε₀ / (W + 1).

    Parameters
    ----------
    optimizer : Optimizer
    warmup_steps : int
        W ≥ 1.
    after : LRSchedule, optional
        Built on the same optimizer; from t = W on, ε_t = ``after.lr_at(t − W)``.

    Raises
    ------
    ValueError
        When ``after`` drives another optimizer.
    """

    def __init__(self, optimizer, warmup_steps, after=None):
        super().__init__(optimizer)
        self.warmup_steps = _steps("LinearWarmup", "warmup_steps", warmup_steps)
        if after is not None and (not isinstance(after, LRSchedule)
                                  or after.optimizer is not optimizer):
            raise ValueError("LinearWarmup: after must be a schedule built on the same "
                             f"optimizer, got {after!r}")
        self.after = after
        optimizer.lr = float(self.lr_at(0))

    def lr_at(self, t):
        if t < self.warmup_steps:
            return self.base_lr * (t + 1) / (self.warmup_steps + 1)
        if self.after is None:
            return self.base_lr
        return self.after.lr_at(t - self.warmup_steps)

    def step(self):
        if self.after is not None:
            self.after.t = max(self.t + 1 - self.warmup_steps, 0)
        return super().step()

    def load_state_dict(self, state):
        super().load_state_dict(state)
        if self.after is not None:
            self.after.t = max(self.t - self.warmup_steps, 0)
