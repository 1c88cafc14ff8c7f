"""The piecewise-linear activations: Identity, ReLU, LeakyReLU and PReLU.

Each is linear on either side of 0 (Identity on the whole line), so its σ′ is a constant on
each side (1, 0 or the slope α) and its backward a mask: ``dX = dY ⊙ σ′(q)`` reads which side
each entry was on off what forward cached. At 0 the derivative of the other three does not
exist: they declare ``kinks = (0.0,)``, where the gradient checks difference one side only.
The smooth and saturating activations are in :mod:`mlp.activations`, which also exports
these four.
"""

from __future__ import annotations

import numpy as np

from .base import Activation, check_2d, finite_number

__all__ = ["Identity", "LeakyReLU", "PReLU", "ReLU"]


class Identity(Activation):
    """``Y = X``: the output activation of a regression network."""

    def forward(self, X):
        """Return ``X`` unchanged; X, Y : ndarray of shape (N, D)."""
        return self._cache_input(X)

    def backward(self, dY, input_grad=True):
        """σ(x) = x, so σ′ = 1 and ``dX = dY``.

        Parameters
        ----------
        dY : ndarray of shape (N, D)

        Returns
        -------
        dX : ndarray of shape (N, D)
        """
        # BEGIN SOLUTION: σ′ = 1, so dX = dY
        self._cached(dY, self._X)
        return dY
        # END SOLUTION


class ReLU(Activation):
    """Rectified linear unit ``Y = max(0, X)``."""

    kinks = (0.0,)
    _zeros = None  # a row of D zeros, kept for the next batch

    def forward(self, X):
        """X, Y : ndarray of shape (N, D)."""
        # BEGIN SOLUTION (forward): Y = max(0, X); cache what backward needs
        X = self._cache_input(X)
        self._Y = np.maximum(X, self._zero_row(X))
        return self._Y
        # END SOLUTION

    def _zero_row(self, X):
        """0 as a row of X.shape[1] zeros: numpy's maximum runs its vector loop along each
        row then, where against the scalar 0 it goes element by element (2.5x slower)."""
        if self._zeros is None or self._zeros.shape[0] != X.shape[1] \
                or self._zeros.dtype != X.dtype:
            self._zeros = np.zeros(X.shape[1], dtype=X.dtype)
        return self._zeros

    def backward(self, dY, input_grad=True):
        """σ(q) = max(0, q), so σ′(q) = 1 where q > 0 and 0 elsewhere: ``dX = dY ⊙ [q > 0]``.

        The mask is read off the cached output (Y > 0 exactly where q > 0). At q = 0 the
        derivative does not exist; 0 is used, as everywhere.

        Parameters
        ----------
        dY : ndarray of shape (N, D)

        Returns
        -------
        dX : ndarray of shape (N, D)
        """
        # BEGIN SOLUTION: dX = dY ⊙ [q > 0], read off the cached output Y
        Y = self._cached(dY, self._Y)
        return dY * (Y > 0)
        # END SOLUTION


class LeakyReLU(Activation):
    """``Y = X`` for X > 0 and ``alpha·X`` otherwise, so negative units keep a small gradient.

    Parameters
    ----------
    alpha : float, default 0.01
        The slope for negative inputs.
    """

    kinks = (0.0,)

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = finite_number(alpha, "LeakyReLU", "alpha")

    def forward(self, X):
        """X, Y : ndarray of shape (N, D)."""
        X = self._cache_input(X)
        return np.where(X > 0, X, self.alpha * X)

    def backward(self, dY, input_grad=True):
        """σ′(q) = 1 for q > 0 and α otherwise: ``dX = dY ⊙ (1 if q > 0 else α)``.

        Parameters
        ----------
        dY : ndarray of shape (N, D)

        Returns
        -------
        dX : ndarray of shape (N, D)
        """
        # BEGIN SOLUTION: dX = dY ⊙ (1 where q > 0, else alpha)
        X = self._cached(dY, self._X)
        return dY * np.where(X > 0, 1.0, self.alpha).astype(dY.dtype, copy=False)
        # END SOLUTION

    def config(self):
        return {"alpha": self.alpha}

    def extra_repr(self):
        return f"alpha={self.alpha}"


class PReLU(Activation):
    """Parametric ReLU: a leaky ReLU whose negative slope ``alpha`` is learned.

    Parameters
    ----------
    alpha : float, default 0.25
        Initial slope for negative inputs.
    n_features : int, optional
        Learn one slope per feature; by default a single slope is shared by all.
    dtype : numpy dtype, default float64

    Attributes
    ----------
    params : dict
        ``"alpha"`` of shape (1,) or (n_features,).
    """

    kinks = (0.0,)

    def __init__(self, alpha=0.25, n_features=None, *, dtype=np.float64):
        super().__init__()
        if n_features is not None and (
                isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer))
                or n_features < 1):
            raise ValueError(
                f"PReLU: n_features must be a positive integer or None, got {n_features!r}")
        self.n_features = None if n_features is None else int(n_features)
        self.alpha_init = finite_number(alpha, "PReLU", "alpha")
        size = 1 if self.n_features is None else self.n_features
        self.params["alpha"] = np.full(size, self.alpha_init, dtype=dtype)
        self._zero_grads()

    def reset_parameters(self, rng=None):
        """Set every slope back to its initial value, in place."""
        self.params["alpha"].fill(self.alpha_init)

    def forward(self, X):
        """``Y = max(0, X) + alpha ⊙ min(0, X)``; X, Y : ndarray of shape (N, D)."""
        width = None if self.n_features is None else self.n_features
        X = check_2d(X, self, width)
        self._X = X
        self._neg = np.minimum(X, 0)
        return np.maximum(X, 0) + self.params["alpha"] * self._neg

    def backward(self, dY, input_grad=True):
        """Back-propagate through ``Y = max(0, q) + α·min(0, q)``.

        - ``dα = Σ_n dY ⊙ min(0, q)``: α multiplies only the negative part; summed over
          the batch, and over the features too when one α is shared;
        - ``dX = dY ⊙ (1 if q > 0 else α)``, as for a leaky ReLU.

        Parameters
        ----------
        dY : ndarray of shape (N, D)

        Returns
        -------
        dX : ndarray of shape (N, D)
        """
        # BEGIN SOLUTION: grads['alpha'] = Σ_n dY ⊙ min(0, q); dX as for LeakyReLU
        X = self._cached(dY, self._X)
        alpha = self.params["alpha"]
        d_alpha = (dY * self._neg).sum(axis=0)
        self.grads["alpha"][...] = d_alpha.sum(keepdims=True) if alpha.size == 1 else d_alpha
        return dY * np.where(X > 0, 1, alpha).astype(dY.dtype, copy=False)
        # END SOLUTION

    def config(self):
        return {"alpha": self.alpha_init, "n_features": self.n_features,
                "dtype": self.params["alpha"].dtype.name}

    def extra_repr(self):
        width = "" if self.n_features is None else f", n_features={self.n_features}"
        return f"alpha={self.alpha_init}{width}"
