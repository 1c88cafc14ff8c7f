"""Activation layers.

An activation applies ``Y = σ(X)`` to every entry of its input ``X`` (the pre-activation
``q = Z·W + b`` of the lectures). Its backward is the ``⊙ σ′(q)`` factor of
``dZ = dY·Wᵀ ⊙ σ′(q)``: it receives ``dY = ∂L/∂Y`` and returns ``dX = dY ⊙ σ′(X)``.
Softmax is the exception: each output depends on the whole row, so its backward is a
Jacobian-vector product.

Every backward reuses what forward cached (the input or, where σ′ is cheaper to write in terms
of it, the output) instead of recomputing it.

This module holds the smooth and saturating activations (ELU, GELU, Sigmoid, Tanh, Softplus,
Softmax) and the registry :func:`get_activation`; the piecewise-linear ones (Identity, ReLU,
LeakyReLU, PReLU) are in :mod:`mlp.activations_piecewise`, and every activation is importable
from here. Their shared base, :class:`~mlp.base.Activation`, is in :mod:`mlp.base`.
"""

from __future__ import annotations

import math

import numpy as np

from ._text import shown_value
from .activations_piecewise import Identity, LeakyReLU, PReLU, ReLU
from .base import Activation, Layer, check_2d, finite_number
from .special import erfc, expit

__all__ = [
    "ELU", "GELU", "Identity", "LeakyReLU", "PReLU", "ReLU", "Sigmoid", "Softmax", "Softplus",
    "Tanh", "ACTIVATIONS", "HIDDEN_ACTIVATIONS", "get_activation",
]


class ELU(Activation):
    """Exponential linear unit: ``Y = X`` for X > 0 and ``alpha·(exp(X) − 1)`` otherwise.

    Parameters
    ----------
    alpha : float, default 1.0
        The value ``-alpha`` the output approaches for very negative inputs.
    """

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = finite_number(alpha, "ELU", "alpha")

    #: The left derivative at 0 is alpha, the right one 1. For alpha = 1 the slope is
    #: continuous but the curvature jumps (1 to 0): a central difference straddling 0 is then
    #: off by O(h) instead of O(h²), which no estimate of its truncation error foresees, so
    #: gradient checks treat 0 as a kink for every alpha.
    kinks = (0.0,)

    def forward(self, X):
        """X, Y : ndarray of shape (N, D)."""
        X = self._cache_input(X)
        # exp only of the non-positive part, so large inputs cannot overflow
        self._Y = np.where(X > 0, X, self.alpha * np.expm1(np.minimum(X, 0)))
        return self._Y

    def backward(self, dY, input_grad=True):
        """σ′(q) = 1 for q > 0 and α·eᑫ = Y + α otherwise: ``dX = dY ⊙ σ′(q)``.

        Parameters
        ----------
        dY : ndarray of shape (N, D)

        Returns
        -------
        dX : ndarray of shape (N, D)
        """
        # BEGIN SOLUTION: dX = dY ⊙ (1 where q > 0, else Y + alpha)
        X = self._cached(dY, self._X)
        return dY * np.where(X > 0, 1, self._Y + self.alpha)
        # END SOLUTION

    def config(self):
        return {"alpha": self.alpha}

    def extra_repr(self):
        return f"alpha={self.alpha}"


_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


class GELU(Activation):
    """Gaussian error linear unit ``Y = X·Φ(X)``, Φ the standard normal CDF.

    Parameters
    ----------
    approximate : {"none", "tanh"}, default "none"
        ``"none"`` uses the exact, erf-based Φ; ``"tanh"`` the approximation
        ``Φ(x) ≈ ½(1 + tanh(√(2/π)(x + 0.044715x³)))``.
    """

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(
                f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}"
            )
        self.approximate = approximate

    def forward(self, X):
        """X, Y : ndarray of shape (N, D)."""
        X = self._cache_input(X)
        if self.approximate == "tanh":
            # ½(1 + tanh(u)) = sigmoid(2u), which keeps its precision for very negative u
            self._S = expit(2 * _SQRT_2_OVER_PI * (X + _GELU_C * X**3))
            return X * self._S
        # Φ(x) = ½·erfc(−x/√2); the form ½(1 + erf(x/√2)) cancels and loses its relative
        # precision in the left tail
        self._Phi = 0.5 * erfc(-X / _SQRT_2)
        return X * self._Phi

    def backward(self, dY, input_grad=True):
        """σ(q) = q·Φ(q), so σ′(q) = Φ(q) + q·φ(q), φ the standard normal density.

        With the tanh form, u = √(2/π)(q + c·q³) and s = ½(1 + tanh u) = sigmoid(2u), so
        σ = q·s and σ′(q) = s + q·2s(1 − s)·√(2/π)(1 + 3c·q²).

        Parameters
        ----------
        dY : ndarray of shape (N, D)

        Returns
        -------
        dX : ndarray of shape (N, D)
        """
        # BEGIN SOLUTION: dX = dY ⊙ (Φ(q) + q·φ(q)); the tanh form as in the docstring
        X = self._cached(dY, self._X)
        if self.approximate == "tanh":
            S = self._S
            du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_C * X**2)
            return dY * (S + 2 * X * S * (1 - S) * du)
        phi = _INV_SQRT_2PI * np.exp(-0.5 * X * X)
        return dY * (self._Phi + X * phi)
        # END SOLUTION

    def config(self):
        return {"approximate": self.approximate}

    def extra_repr(self):
        return "" if self.approximate == "none" else "approximate='tanh'"


class Sigmoid(Activation):
    """Logistic function ``Y = 1 / (1 + exp(−X))``, computed without overflow."""

    def forward(self, X):
        """X, Y : ndarray of shape (N, D)."""
        # BEGIN SOLUTION (forward): Y = 1 / (1 + exp(−X)) without overflow; cache Y
        X = check_2d(X, self)
        self._Y = expit(X)
        return self._Y
        # END SOLUTION

    def backward(self, dY, input_grad=True):
        """σ′(q) = σ(q)(1 − σ(q)) = Y(1 − Y): ``dX = dY ⊙ Y ⊙ (1 − Y)``.

        Parameters
        ----------
        dY : ndarray of shape (N, D)

        Returns
        -------
        dX : ndarray of shape (N, D)
        """
        # BEGIN SOLUTION: dX = dY ⊙ Y ⊙ (1 − Y)
        Y = self._cached(dY, self._Y)
        return dY * Y * (1 - Y)
        # END SOLUTION


class Tanh(Activation):
    """Hyperbolic tangent ``Y = tanh(X)``."""

    def forward(self, X):
        """X, Y : ndarray of shape (N, D)."""
        # BEGIN SOLUTION (forward): Y = tanh(X); cache Y
        X = check_2d(X, self)
        self._Y = np.tanh(X)
        return self._Y
        # END SOLUTION

    def backward(self, dY, input_grad=True):
        """σ′(q) = 1 − tanh²(q) = 1 − Y²: ``dX = dY ⊙ (1 − Y²)``.

        Parameters
        ----------
        dY : ndarray of shape (N, D)

        Returns
        -------
        dX : ndarray of shape (N, D)
        """
        # BEGIN SOLUTION: dX = dY ⊙ (1 − Y²)
        Y = self._cached(dY, self._Y)
        return dY * (1 - Y * Y)
        # END SOLUTION


class Softplus(Activation):
    """``Y = log(1 + exp(X))``, a smooth ReLU, computed without overflow."""

    def forward(self, X):
        """X, Y : ndarray of shape (N, D)."""
        X = self._cache_input(X)
        return np.logaddexp(0, X)

    def backward(self, dY, input_grad=True):
        """σ′(q) = eᑫ / (1 + eᑫ), the logistic function: ``dX = dY ⊙ sigmoid(q)``.

        Parameters
        ----------
        dY : ndarray of shape (N, D)

        Returns
        -------
        dX : ndarray of shape (N, D)
        """
        # BEGIN SOLUTION: dX = dY ⊙ sigmoid(q)
        X = self._cached(dY, self._X)
        return dY * expit(X)
        # END SOLUTION


class Softmax(Activation):
    """Row-wise softmax ``Y[n, k] = exp(X[n, k]) / Σ_j exp(X[n, j])``.

    For classification, prefer a linear output with
    :class:`mlp.losses.SoftmaxCrossEntropyLoss`, which fuses the two and is both faster and
    more accurate; Softmax followed by :class:`mlp.losses.NLLLoss` is the modular form.
    """

    def forward(self, X):
        """X, Y : ndarray of shape (N, K); every row of Y sums to 1."""
        # BEGIN SOLUTION (forward): row-wise softmax, max-subtracted; cache Y
        X = check_2d(X, self)
        # subtracting the row maximum changes nothing mathematically and keeps exp ≤ 1
        E = np.exp(X - X.max(axis=1, keepdims=True))
        E /= E.sum(axis=1, keepdims=True)
        self._Y = E
        return E
        # END SOLUTION

    def backward(self, dY, input_grad=True):
        """Jacobian-vector product of the softmax.

        ∂Y[k]/∂X[j] = Y[k](δ_kj − Y[j]), so for each row

            dX[j] = Σ_k dY[k]·Y[k](δ_kj − Y[j]) = Y[j]·(dY[j] − Σ_k dY[k]·Y[k]),

        i.e. ``dX = Y ⊙ (dY − rowsum(dY ⊙ Y))``: O(K) per row, never the K×K Jacobian.

        Parameters
        ----------
        dY : ndarray of shape (N, K)

        Returns
        -------
        dX : ndarray of shape (N, K)
        """
        # BEGIN SOLUTION: dX = Y ⊙ (dY − rowsum(dY ⊙ Y)), without forming the K×K Jacobian
        Y = self._cached(dY, self._Y)
        return Y * (dY - (dY * Y).sum(axis=1, keepdims=True))
        # END SOLUTION


ACTIVATIONS = {
    "identity": Identity,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "prelu": PReLU,
    "elu": ELU,
    "gelu": GELU,
    "sigmoid": Sigmoid,
    "logistic": Sigmoid,
    "tanh": Tanh,
    "softplus": Softplus,
    "softmax": Softmax,
}


#: The activations a hidden layer may use (softmax normalises a whole row: not a hidden unit).
HIDDEN_ACTIVATIONS = tuple(sorted(name for name in ACTIVATIONS if name != "softmax"))


def get_activation(name, **kwargs) -> Layer:
    """Build the activation layer called ``name`` (e.g. ``"relu"``, ``"gelu"``).

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    try:
        cls = ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {shown_value(name)}; expected one of {sorted(ACTIVATIONS)}"
        ) from None
    return cls(**kwargs)
