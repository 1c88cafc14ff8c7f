"""Optimizers: SGD (with momentum or Nesterov's), RMSProp and Adam.

Each is an update rule: ``_update(g)`` turns the flat gradient g of every parameter into the
flat step Δθ. Laying the parameters end to end, weight decay, the step count and the state a
checkpoint keeps are the base class's, :class:`mlp.optimizer.Optimizer`.

Notation: θ a parameter, g = ∂L/∂θ its gradient, ε the learning rate ``lr``, t the step count.

Learning-rate schedules, which change ``optimizer.lr`` as training goes on, are in
:mod:`mlp.schedules`.
"""

from __future__ import annotations

import math

import numpy as np

from ._text import shown_value
from .optimizer import Optimizer, _check

__all__ = ["Optimizer", "SGD", "RMSProp", "Adam"]


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
        if not isinstance(nesterov, (bool, np.bool_)):  # a saved state's "yes" is no switch
            raise TypeError(f"SGD: nesterov must be True or False, got {shown_value(nesterov)}")
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
