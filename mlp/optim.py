"""Optimizers: SGD (with momentum or Nesterov's), RMSProp and Adam.

An optimizer is built once from ``model.parameters()`` and its ``step()`` is called after every
``backward``. It reads each parameter's ``grad`` (refreshed in place by backward) and updates
``value`` in place, so the layers see the new weights without any copying.

The update rules work on all parameters at once. When it is built, the optimizer lays the
parameters end to end in one flat vector θ and their gradients in another, g (see
:func:`mlp.base.pack`; each layer keeps views of them, so for the layers nothing changes).
``step()`` hands g to the rule (``_update``), which turns it into the flat step Δθ, and then
updates θ += Δθ. One vector operation per formula, whatever the number of layers: a small
network pays a dozen numpy calls per step rather than a dozen per tensor, and a large one
reads its gradients where backward wrote them. (Parameters that cannot be packed, such as
a model with mixed dtypes, are gathered into g on every step instead; the results are the
same.)

Notation: θ a parameter, g = ∂L/∂θ its gradient, ε the learning rate ``lr``, t the step count.

Learning-rate schedules, which change ``optimizer.lr`` as training goes on, are in
:mod:`mlp.schedules`.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Parameter, pack

__all__ = ["Optimizer", "SGD", "RMSProp", "Adam"]


def _check(owner, name, value, low, high=math.inf, *, low_open=False, high_open=True):
    """Return ``value`` as a Python float after checking it lies in the given interval."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}") from None
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if not math.isfinite(value) or too_low or too_high:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{owner}: {name} must be in {interval}, got {value!r}")
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
        # A pickle stores views as separate arrays, so the flat vectors are not pickled ...
        state = self.__dict__.copy()
        state["_theta"] = state["_g"] = None
        return state

    def __setstate__(self, state):
        # ... and the loaded parameters are laid end to end again: the copy trains like the
        # original, at the same speed
        self.__dict__.update(state)
        self._theta, self._g = pack(self.params) or (None, None)

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
            raise TypeError(f"{name}: cannot load the state of a {state.get('type')!r} optimizer")
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
            raise ValueError(f"{name}: t must be a non-negative integer, got {t!r}")
        settings = dict(state.get("hyperparameters", {}))
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


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum and Nesterov momentum.

    Without momentum: ``θ ← θ − ε·g``.

    With momentum α, the velocity v accumulates past gradients:
    ``v ← α·v − ε·g``, ``θ ← θ + v``.

    With Nesterov momentum the gradient is, in effect, taken at the look-ahead point θ + α·v;
    written in terms of the look-ahead parameters, the update becomes
    ``v ← α·v − ε·g``, ``θ ← θ + α·v − ε·g``.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float, default 0.01
    momentum : float in [0, 1), default 0
    nesterov : bool, default False
        Requires ``momentum > 0``.
    weight_decay : float, default 0
        L2 penalty: ``g ← g + λ·θ`` for weights.
    """

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        self._configure(momentum=momentum, nesterov=nesterov)
        self.velocity = self._zeros()

    state_vectors = ("velocity",)

    def _configure(self, momentum=0.0, nesterov=False):
        momentum = _check("SGD", "momentum", momentum, 0.0, 1.0)
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0, got momentum=0.0")
        self.momentum, self.nesterov = momentum, bool(nesterov)

    def _rule_settings(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, g):
        """Δθ = −εg; with momentum v ← αv − εg and Δθ = v (Nesterov: Δθ = αv − εg).

        Parameters
        ----------
        g : ndarray of shape (n_params,)
            Every gradient, flattened into one vector.

        Returns
        -------
        delta : ndarray of shape (n_params,)
        """
        # BEGIN SOLUTION: return Δθ = −εg; momentum: v ← αv − εg, Δθ = v; Nesterov: Δθ = αv − εg
        lr, mu, delta = self.lr, self.momentum, self._scratch
        np.multiply(g, -lr, out=delta)  # −εg
        if mu == 0:
            return delta
        v = self.velocity
        v *= mu
        v += delta
        if not self.nesterov:
            return v
        delta += mu * v
        return delta
        # END SOLUTION


class RMSProp(Optimizer):
    """RMSProp: divide the step by a running root-mean-square of recent gradients.

    ``s ← ρ·s + (1 − ρ)·g²``, ``θ ← θ − ε·g / (√s + δ)``.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float, default 1e-3
    rho : float in [0, 1), default 0.9
        Decay of the running average.
    eps : float, default 1e-8
        δ, keeps the division finite.
    weight_decay : float, default 0
        L2 penalty: ``g ← g + λ·θ`` for weights.
    """

    def __init__(self, params, lr=1e-3, rho=0.9, eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        self._configure(rho=rho, eps=eps)
        self.square_avg = self._zeros()

    state_vectors = ("square_avg",)

    def _configure(self, rho=0.9, eps=1e-8):
        self.rho = _check("RMSProp", "rho", rho, 0.0, 1.0)
        self.eps = _check("RMSProp", "eps", eps, 0.0, low_open=True)

    def _rule_settings(self):
        return {"rho": self.rho, "eps": self.eps}

    def _update(self, g):
        """s ← ρs + (1 − ρ)g², Δθ = −εg/(√s + δ).

        Parameters
        ----------
        g : ndarray of shape (n_params,)
            Every gradient, flattened into one vector.

        Returns
        -------
        delta : ndarray of shape (n_params,)
        """
        # BEGIN SOLUTION: s ← ρs + (1 − ρ)g² in place; return Δθ = −ε·g/(√s + δ)
        s, tmp = self.square_avg, self._scratch
        s *= self.rho
        np.square(g, out=tmp)
        tmp *= 1.0 - self.rho
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        tmp *= -self.lr
        return tmp
        # END SOLUTION


class Adam(Optimizer):
    """Adam: momentum on the gradient and RMSProp-style scaling, both bias-corrected.

    ``m ← β₁·m + (1 − β₁)·g``, ``v ← β₂·v + (1 − β₂)·g²``,
    ``m̂ = m / (1 − β₁ᵗ)``, ``v̂ = v / (1 − β₂ᵗ)``, ``θ ← θ − ε·m̂ / (√v̂ + δ)``.

    The corrections undo the bias towards 0 of averages that start at 0.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float, default 1e-3
    beta1, beta2 : float in [0, 1), defaults 0.9 and 0.999
    eps : float, default 1e-8
        δ, keeps the division finite.
    weight_decay : float, default 0
        *Decoupled* weight decay (as in AdamW): ``θ ← θ − ε·λ·θ`` for weights, applied
        beside the Adam step. Unlike with SGD this is not the same as an L2 term in the
        loss, whose gradient Adam would rescale; for that, add the L2 penalty to the loss.
    """

    _coupled_decay = False

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        self._configure(beta1=beta1, beta2=beta2, eps=eps)
        # m and v are kept as weighted sums, m = (1 − β₁)·m_sum and v = (1 − β₂)·v_sum:
        # the same numbers, two fewer passes over the parameters per step (see _update)
        self.m_sum = self._zeros()
        self.v_sum = self._zeros()

    state_vectors = ("m_sum", "v_sum")

    def _configure(self, beta1=0.9, beta2=0.999, eps=1e-8):
        self.beta1 = _check("Adam", "beta1", beta1, 0.0, 1.0)
        self.beta2 = _check("Adam", "beta2", beta2, 0.0, 1.0)
        self.eps = _check("Adam", "eps", eps, 0.0, low_open=True)

    def _rule_settings(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def step(self):
        # Everything that depends only on t is computed once per step, as Python floats.
        # m_sum = Σₖ β₁ᵏ·g₍ₜ₋ₖ₎ has total weight w₁ = Σ_{k<t} β₁ᵏ = (1 − β₁ᵗ)/(1 − β₁), so the
        # bias-corrected m̂ = m/(1 − β₁ᵗ) is simply m_sum/w₁, and likewise v̂ = v_sum/w₂.
        # Then ε·m̂/(√v̂ + δ) = (ε√w₂/w₁)·m_sum/(√v_sum + δ√w₂): one scale, one shift.
        t = self.t + 1
        w1 = (1.0 - self.beta1**t) / (1.0 - self.beta1)
        w2 = (1.0 - self.beta2**t) / (1.0 - self.beta2)
        self._step_size = self.lr * math.sqrt(w2) / w1
        self._eps_hat = self.eps * math.sqrt(w2)
        super().step()

    def _update(self, g):
        """m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², Δθ = −ε·m̂/(√v̂ + δ).

        Kept as weighted sums, the moments need no (1 − β) factor: m_sum ← β₁·m_sum + g and
        v_sum ← β₂·v_sum + g². ``step()`` has set ``self._step_size`` = ε√w₂/w₁ and
        ``self._eps_hat`` = δ√w₂, so that Δθ = −step_size·m_sum/(√v_sum + eps_hat).

        Parameters
        ----------
        g : ndarray of shape (n_params,)
            Every gradient, flattened into one vector.

        Returns
        -------
        delta : ndarray of shape (n_params,)
        """
        # BEGIN SOLUTION: update m_sum, v_sum in place; Δθ = −step_size·m_sum/(√v_sum + eps_hat)
        m, v, tmp = self.m_sum, self.v_sum, self._scratch
        m *= self.beta1
        m += g
        np.square(g, out=tmp)
        v *= self.beta2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += self._eps_hat
        np.divide(m, tmp, out=tmp)
        tmp *= -self._step_size
        return tmp
        # END SOLUTION
