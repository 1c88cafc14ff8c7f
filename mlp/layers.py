"""Layers with parameters or structure: Linear (fully connected)."""

from __future__ import annotations

import numpy as np

from .base import Layer, as_generator, check_2d
from .init import get_initializer

__all__ = ["Linear"]


class Linear(Layer):
    """Fully connected layer ``Y = X·W + b``.

    Parameters
    ----------
    n_in, n_out : int
        Number of input and output features.
    bias : bool, default True
        Whether to learn a bias ``b``.
    init : str or callable, default "glorot_uniform"
        Weight initialiser: a name from :data:`mlp.init.INITIALIZERS` or a callable
        ``(shape, rng) -> array``.
    bias_init : float, default 0.0
        The constant the bias starts at.
    rng : None, int or numpy.random.Generator
        Source of randomness for the initial weights.
    dtype : numpy dtype, default float64

    Attributes
    ----------
    params : dict
        ``"W"`` of shape (n_in, n_out) and, with ``bias=True``, ``"b"`` of shape (n_out,).
    """

    decay_params = ("W",)

    def __init__(self, n_in, n_out, *, bias=True, init="glorot_uniform", bias_init=0.0,
                 rng=None, dtype=np.float64):
        super().__init__()
        for name, value in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Linear: {name} must be a positive integer, got {value!r}")
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.bias = bool(bias)
        self.init = init
        self._initializer = get_initializer(init)
        self.bias_init = float(bias_init)
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"Linear: dtype must be a floating type, got {self.dtype}")
        self.params["W"] = np.empty((self.n_in, self.n_out), dtype=self.dtype)
        if self.bias:
            self.params["b"] = np.empty(self.n_out, dtype=self.dtype)
        self._zero_grads()
        self.reset_parameters(rng)
        self._X = None

    def reset_parameters(self, rng=None) -> None:
        """Draw new weights from the initialiser and set the bias to ``bias_init``, in place."""
        shape = (self.n_in, self.n_out)
        W = np.asarray(self._initializer(shape, as_generator(rng)))
        if W.shape != shape:
            raise ValueError(
                f"{self!r}: the initialiser returned shape {W.shape}, expected {shape}"
            )
        self.params["W"][...] = W
        if self.bias:
            self.params["b"].fill(self.bias_init)

    def forward(self, X):
        """Compute ``Y = X·W + b``.

        Parameters
        ----------
        X : ndarray of shape (N, n_in)

        Returns
        -------
        Y : ndarray of shape (N, n_out)
        """
        X = check_2d(X, repr(self), self.n_in)
        self._X = X
        Y = X @ self.params["W"]
        if self.bias:
            Y += self.params["b"]
        return Y

    def backward(self, dY, input_grad=True):
        """Back-propagate through ``Y = X·W + b``.

        With Z the layer input (``X`` here) and dY = ∂L/∂Y arriving from above, every
        output ``Y[n, j] = Σ_i Z[n, i]·W[i, j] + b[j]`` is linear in each parameter, so

        - ``dW = Zᵀ·dY``: ∂L/∂W[i, j] = Σ_n Z[n, i]·dY[n, j], summed over the batch;
        - ``db = Σ_n dY[n, :]``: the bias touches every row once;
        - ``dZ = dY·Wᵀ``: each input feeds every output through ``W``.

        The σ′ of the lectures' ``dZ = dY·Wᵀ ⊙ σ′(q)`` belongs to the activation layer
        below, which multiplies it in its own backward.

        Parameters
        ----------
        dY : ndarray of shape (N, n_out)
        input_grad : bool, default True
            When False, ``dX`` is not computed (it costs a third of the work) and None is
            returned; used for the first layer of a network.

        Returns
        -------
        dX : ndarray of shape (N, n_in), or None
        """
        X = self._X
        if X is None:
            raise self._not_ready()
        self._check_dY(dY, (X.shape[0], self.n_out))
        W = self.params["W"]
        np.matmul(X.T, dY, out=self.grads["W"])
        if self.bias:
            np.sum(dY, axis=0, out=self.grads["b"])
        return dY @ W.T if input_grad else None

    def output_width(self, n_in):
        return self.n_out

    def extra_repr(self):
        return f"{self.n_in} -> {self.n_out}" + ("" if self.bias else ", bias=False")
