"""The base of every optimizer: the parameters laid end to end in flat vectors, the step.

An optimizer is built once from ``model.parameters()`` and its ``step()`` is called after every
``backward``. It reads each parameter's ``grad`` (refreshed in place by backward) and updates
``value`` in place, so the layers see the new weights without any copying.

The update rules (:mod:`mlp.optim`) work on all parameters at once. When it is built, the
optimizer lays the parameters end to end in one flat vector θ and their gradients in another,
g (see :func:`mlp.base.pack`; each layer keeps views of them, so for the layers nothing
changes). ``step()`` hands g to the rule (``_update``), which turns it into the flat step Δθ,
and then updates θ += Δθ. One vector operation per formula, whatever the number of layers: a
small network pays a dozen numpy calls per step rather than a dozen per tensor, and a large one
reads its gradients where backward wrote them. (Parameters that cannot be packed, such as a
model with mixed dtypes, are gathered into g on every step instead; the results are the same.)

This module holds that machinery, weight decay, and the state a checkpoint keeps
(:meth:`Optimizer.state_dict`); a rule only supplies ``_update`` and its settings.

Notation: θ a parameter, g = ∂L/∂θ its gradient, ε the learning rate ``lr``, t the step count.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import MAX_COUNT
from ._text import shown_list, shown_value
from .base import Parameter, pack

__all__ = ["Optimizer"]


def _check(owner, name, value, low, high=math.inf, *, low_open=False, high_open=True):
    """Return ``value`` as a Python float after checking it lies in the given interval."""
    given = value
    try:
        value = float(value)
    except OverflowError:  # an integer past float's range: a number, out of range
        value = math.inf if given > 0 else -math.inf
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: {name} must be a number, got {shown_value(value)}") \
            from None
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if not math.isfinite(value) or too_low or too_high:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        shown = value if math.isfinite(value) else given  # 10**400 as it was written
        raise ValueError(f"{owner}: {name} must be in {interval}, got {shown_value(shown)}")
    return value


class Optimizer:
    """Base class: holds the parameters, the learning rate and the step count.

    Parameters
    ----------
    params : iterable of Parameter
        Usually ``model.parameters()``.
    lr : float
        Learning rate ε > 0.
    weight_decay : float
        Decay strength λ ≥ 0, applied to parameters whose ``decay`` flag is set (weights,
        not biases).

    Notes
    -----
    The first optimizer built on a model moves its parameters into one flat vector (same
    numbers; ``layer.params`` and ``layer.grads`` then hold views of it). An array taken out
    of ``layer.params`` *before* that is a stale copy: build the optimizer first, or read
    the weights through the layer. Later optimizers on the same model move nothing.
    """

    def __init__(self, params, lr, weight_decay=0.0):
        name = type(self).__name__
        self.params: list[Parameter] = list(params)
        for p in self.params:
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"{name}: expected Parameter objects from model.parameters(), "
                    f"got {type(p).__name__}"
                )
        if not self.params:
            raise ValueError(f"{name}: got no parameters to optimise")
        self.lr = _check(name, "lr", lr, 0.0, low_open=True)
        self.weight_decay = _check(name, "weight_decay", weight_decay, 0.0)
        self.t = 0
        # where each parameter sits in the flat vectors
        self._slices, offset = [], 0
        for p in self.params:
            self._slices.append(slice(offset, offset + p.value.size))
            offset += p.value.size
        self._size = offset
        self._dtype = np.result_type(*(p.value.dtype for p in self.params))
        # Move the parameters into one flat vector and their gradients into another, so that
        # a step reads the gradients where backward wrote them and updates all parameters with
        # one operation (see mlp.base.pack). When they cannot be moved, step() gathers.
        self._theta, self._g = pack(self.params) or (None, None)
        self._scratch = np.empty(self._size, dtype=self._dtype)
        self._gathered = None

    def __getstate__(self):
        # A pickle stores views as separate arrays, so the flat vectors are not pickled, nor
        # the scratch vectors, which hold the last step's gradient (−εg) ...
        state = self.__dict__.copy()
        state["_theta"] = state["_g"] = state["_scratch"] = state["_gathered"] = None
        return state

    def __setstate__(self, state):
        # ... and the loaded parameters are laid end to end again: the copy trains like the
        # original, at the same speed
        self.__dict__.update(state)
        self._theta, self._g = pack(self.params) or (None, None)
        self._scratch = np.empty(self._size, dtype=self._dtype)

    def _zeros(self):
        """A flat state vector (velocity, moments) for all parameters, initially 0."""
        return np.zeros(self._size, dtype=self._dtype)

    def step(self) -> None:
        """Update every parameter in place from its current gradient.

        Raises
        ------
        RuntimeError
            When a layer has put a new array in place of a parameter or gradient that this
            optimizer holds: its updates would go to the old array, or it would read a stale
            gradient (backward must write into ``grads[key]``, not replace it).
        """
        self._check_storage()
        self.t += 1
        g = self._flat_gradient()
        if self.weight_decay:
            for p, part in zip(self.params, self._slices, strict=True):
                if not p.decay:
                    continue
                if self._coupled_decay:
                    # the gradient of (λ/2)·‖θ‖² added to the loss
                    g[part] += self.weight_decay * p.value.reshape(-1)
                else:
                    # decoupled: shrink θ directly, beside the rule's step
                    p.value *= 1.0 - self.lr * self.weight_decay
        delta = self._update(g)
        if self._theta is not None:
            self._theta += delta
        else:
            for p, part in zip(self.params, self._slices, strict=True):
                p.value += delta[part].reshape(p.value.shape)

    def _check_storage(self):
        # identity checks only: this runs on every step
        for p in self.params:
            owner = p.owner
            if owner is not None and (owner.params.get(p.key) is not p.value
                                      or owner.grads.get(p.key) is not p.grad):
                kind = "params" if owner.params.get(p.key) is not p.value else "grads"
                raise RuntimeError(
                    f"{type(owner).__name__}: {kind}[{p.key!r}] ({p.name}) was replaced by a "
                    f"new array after {type(self).__name__} was built, so the optimizer would "
                    f"use the old one; write into the array in place ({kind}[{p.key!r}][...] = "
                    "..., or out=), or build the optimizer after"
                )

    def _flat_gradient(self):
        """All gradients as one vector: the packed gradients themselves when they may be used
        as they are, otherwise a copy gathered from the layers."""
        if self._g is not None and not (self.weight_decay and self._coupled_decay):
            return self._g
        # coupled decay adds λθ to the vector, which must not change the layers' gradients
        if self._gathered is None:
            self._gathered = np.empty(self._size, dtype=self._dtype)
        if self._g is not None:
            np.copyto(self._gathered, self._g)
        else:
            np.concatenate([p.grad.reshape(-1) for p in self.params], out=self._gathered)
        return self._gathered

    #: Whether weight decay is added to the gradient (L2) or applied to θ directly.
    _coupled_decay = True

    def _update(self, g):  # pragma: no cover - abstract
        """The update rule: the flat step Δθ (θ ← θ + Δθ) for the flat gradient g."""
        raise NotImplementedError

    def zero_grad(self) -> None:
        """Set every gradient to zero (backward overwrites them, so this is rarely needed)."""
        for p in self.params:
            p.grad.fill(0)

    def __repr__(self):
        return f"{type(self).__name__}(lr={self.lr:g}, {len(self.params)} tensors)"

    # -- state, for checkpoints ------------------------------------------------------------
    #: The rule's state vectors (velocity, moments), each of shape (n_params,).
    state_vectors: tuple[str, ...] = ()

    def hyperparameters(self) -> dict:
        """The constructor's arguments as they are now (``lr`` included), Python scalars."""
        return {"lr": self.lr, "weight_decay": self.weight_decay, **self._rule_settings()}

    def _rule_settings(self) -> dict:
        return {}

    def _configure(self) -> None:
        """Check and set the rule's own settings (momentum, β₁, ...), as the constructor does."""

    def state_dict(self) -> dict:
        """Everything a later step depends on: ``{"type", "t", "hyperparameters", "vectors"}``,
        the vectors (velocity, moments) copied, each of shape (n_params,)."""
        return {"type": type(self).__name__, "t": self.t,
                "hyperparameters": self.hyperparameters(),
                "vectors": {name: getattr(self, name).copy() for name in self.state_vectors}}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a :meth:`state_dict`: the next step is the one it would have taken.

        Raises
        ------
        TypeError
            For another optimizer's state, a setting that is not a number, or one unknown.
        ValueError
            For a setting out of range, a t that is not an integer ≥ 0, or state vectors that
            are missing, unknown, not of shape (n_params,) or not finite.
        """
        name, t = type(self).__name__, state.get("t")
        if state.get("type") != name:
            raise TypeError(f"{name}: cannot load the state of a {shown_value(state.get('type'))} "
                            "optimizer")
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) \
                or not 0 <= t <= MAX_COUNT:  # a larger t overflows β**t
            raise ValueError(f"{name}: t must be a non-negative integer, got {shown_value(t)}")
        settings = dict(state.get("hyperparameters", {}))
        unknown = set(settings) - {"lr", "weight_decay", *self._rule_settings()}
        if unknown:
            raise TypeError(f"{name}: unknown settings {shown_list(sorted(map(str, unknown)))}")
        lr = _check(name, "lr", settings.pop("lr", None), 0.0, low_open=True)
        weight_decay = _check(name, "weight_decay", settings.pop("weight_decay", None), 0.0)
        vectors = {key: np.asarray(value) for key, value in state.get("vectors", {}).items()}
        if set(vectors) != set(self.state_vectors) or not all(
                v.shape == (self._size,) and v.dtype.kind == "f" and np.isfinite(v).all()
                for v in vectors.values()):
            raise ValueError(f"{name}: the state vectors must be {list(self.state_vectors)}, "
                             f"each {self._size} finite numbers")
        self._configure(**settings)
        self.lr, self.weight_decay, self.t = lr, weight_decay, int(t)
        for key, value in vectors.items():
            getattr(self, key)[...] = value
