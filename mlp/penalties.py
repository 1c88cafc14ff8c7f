"""Penalties on the parameters, added to a loss: the lectures' L2 regulariser γ·Σ‖W‖².

A loss measures the network's output against the targets; a penalty measures the weights
alone. ``mlp.losses.L2Penalty`` is this class too.
"""

from __future__ import annotations

import numpy as np

__all__ = ["L2Penalty"]


class L2Penalty:
    """The regulariser γ·Σ‖W‖² added to the loss, over the weight matrices only.

    Biases (and BatchNorm's γ, β, PReLU's slope) are left out: penalising an offset does not
    limit the model's capacity, it only biases the fit. Parameters are recognised by their
    ``decay`` flag.

    Used beside a loss: ``L = loss.forward(...) + penalty.forward(params)``, and after
    ``model.backward`` a call to ``penalty.backward(params)`` adds ∂/∂W = 2γ·W to each
    weight's gradient.

    With plain SGD this is the same as the optimizer's ``weight_decay = 2γ``. With Adam it is
    not: the penalty's gradient passes through Adam's per-parameter scaling, while Adam's
    (decoupled) weight decay shrinks the weights directly.

    Parameters
    ----------
    gamma : float ≥ 0
    """

    def __init__(self, gamma):
        try:
            gamma = float(gamma)
        except (TypeError, ValueError):
            raise TypeError(f"L2Penalty: gamma must be a number, got {gamma!r}") from None
        if not gamma >= 0 or not np.isfinite(gamma):
            raise ValueError(f"L2Penalty: gamma must be a finite number ≥ 0, got {gamma!r}")
        self.gamma = gamma

    def forward(self, params) -> float:
        """γ·Σ‖W‖² over the parameters whose ``decay`` flag is set.

        Parameters
        ----------
        params : iterable of Parameter
            Usually ``model.parameters()``.
        """
        return self.gamma * sum(float(np.vdot(p.value, p.value)) for p in params if p.decay)

    def backward(self, params) -> None:
        """Add ∂(γ‖W‖²)/∂W = 2γ·W to the gradient of every weight, in place."""
        scale = 2.0 * self.gamma
        if scale:
            for p in params:
                if p.decay:
                    p.grad += scale * p.value

    def __repr__(self):
        return f"L2Penalty(gamma={self.gamma:g})"
