"""Layers with parameters or state: Linear, Dropout, BatchNorm1d.

The containers (Sequential and Residual) live in :mod:`mlp.sequential`.
"""

from __future__ import annotations

import numpy as np

from .base import Layer, as_generator, check_2d, finite_number
from .init import get_initializer

__all__ = ["BatchNorm1d", "Dropout", "Linear"]


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
    _ones_vector = None  # 1 of db = 1ᵀ·dY, kept for the next batch of the same size

    def __init__(self, n_in, n_out, *, bias=True, init="glorot_uniform", bias_init=0.0,
                 rng=None, dtype=np.float64):
        super().__init__()
        for name, value in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Linear: {name} must be a positive integer, got {value!r}")
        self.n_in, self.n_out = int(n_in), int(n_out)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"Linear: bias must be True or False, got {bias!r}")
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
        X : ndarray or scipy sparse matrix/array of shape (N, n_in)
            A sparse X (CSR, CSC, COO, ...) is multiplied as it is, never densified: the
            product costs one multiply-add per stored value and output column.

        Returns
        -------
        Y : ndarray of shape (N, n_out)
        """
        # BEGIN SOLUTION (forward): Y = X·W + b; cache X
        X = check_2d(X, self, self.n_in, sparse=True)
        self._X = X
        Y = X @ self.params["W"]
        if self.bias:
            Y += self.params["b"]
        return Y
        # END SOLUTION

    def backward(self, dY, input_grad=True):
        """Back-propagate through ``Y = X·W + b``.

        With Z the layer input (``X`` here) and dY = ∂L/∂Y arriving from above, every
        output ``Y[n, j] = Σ_i Z[n, i]·W[i, j] + b[j]`` is linear in each parameter, so

        - ``dW = Zᵀ·dY``: ∂L/∂W[i, j] = Σ_n Z[n, i]·dY[n, j], summed over the batch;
        - ``db = Σ_n dY[n, :]``: the bias touches every row once;
        - ``dZ = dY·Wᵀ``: each input feeds every output through ``W``.

        The σ′ of the lectures' ``dZ = dY·Wᵀ ⊙ σ′(q)`` belongs to the activation layer
        below, which multiplies it in its own backward.

        With a sparse Z, ``Zᵀ·dY`` is a sparse–dense product (one multiply-add per stored
        value and output column) and Z is never densified. ``dZ`` is dense whatever Z is:
        a network asks its first layer, whose input is the data, not to compute it.

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
        # BEGIN SOLUTION: dW = Xᵀ·dY, db = Σ_n dY (in place); return dX = dY·Wᵀ
        if isinstance(X, np.ndarray):
            np.matmul(X.T, dY, out=self.grads["W"])
        else:  # sparse: scipy's product has no out=
            self.grads["W"][...] = X.T @ dY
        if self.bias:  # Σ_n dY[n, :] as 1ᵀ·dY: one BLAS call, twice as fast as a row sum
            np.matmul(self._ones(dY), dY, out=self.grads["b"])
        return dY @ W.T if input_grad else None
        # END SOLUTION

    def _ones(self, dY):
        """The vector 1 of N ones in dY's dtype (N = dY.shape[0])."""
        ones = self._ones_vector
        if ones is None or ones.shape[0] != dY.shape[0] or ones.dtype != dY.dtype:
            ones = self._ones_vector = np.ones(dY.shape[0], dtype=dY.dtype)
        return ones

    def output_width(self, n_in):
        return self.n_out

    def config(self):
        return {"n_in": self.n_in, "n_out": self.n_out, "bias": self.bias,
                "dtype": self.dtype.name}

    def extra_repr(self):
        return f"{self.n_in} -> {self.n_out}" + ("" if self.bias else ", bias=False")


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``p``.

    Training mode draws a fresh Bernoulli mask for every forward and scales the kept units by
    1/(1 − p), so each unit's expected output equals its input; evaluation mode is then the
    identity. The lectures' form keeps units with probability p_keep = 1 − p without scaling
    and multiplies the activations by p_keep at test time instead: the two give the same
    expected activations, but the inverted form leaves the trained network unchanged for
    prediction.

    Parameters
    ----------
    p : float in [0, 1), default 0.5
        Probability of dropping a unit.
    rng : None, int or numpy.random.Generator
        Source of the masks.

    Attributes
    ----------
    freeze_mask : bool
        When True, forward reuses the last mask instead of drawing a new one (for gradient
        checks, where the function must stay the same between evaluations).
    """

    def __init__(self, p=0.5, *, rng=None):
        super().__init__()
        try:
            p = float(p)
        except (TypeError, ValueError):
            raise TypeError(f"Dropout: p must be a number, got {p!r}") from None
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        self.p = p
        self.rng = as_generator(rng)
        self.freeze_mask = False
        self._mask = None
        self._shape = None

    def forward(self, X):
        """Y = X ⊙ M / (1 − p) in training, M[n, j] ~ Bernoulli(1 − p); Y = X in evaluation.

        Parameters
        ----------
        X : ndarray of shape (N, D)

        Returns
        -------
        Y : ndarray of shape (N, D)
        """
        X = check_2d(X, self)
        self._shape = X.shape
        if not self.training or self.p == 0.0:
            self._mask = None
            return X
        if not (self.freeze_mask and self._mask is not None and self._mask.shape == X.shape):
            keep = self.rng.random(X.shape) >= self.p
            # the scale is folded into the mask: one multiply forward, one backward
            self._mask = keep.astype(X.dtype) * (1.0 / (1.0 - self.p))
        return X * self._mask

    def backward(self, dY, input_grad=True):
        """Y = X ⊙ M', with M' = M / (1 − p) fixed during the step, so ∂Y/∂X = M'.

        ``dX = dY ⊙ M'``: a dropped unit passes no gradient back, a kept one passes it
        scaled by 1/(1 − p). In evaluation mode ``dX = dY``.

        Parameters
        ----------
        dY : ndarray of shape (N, D)

        Returns
        -------
        dX : ndarray of shape (N, D)
        """
        if self._shape is None:
            raise self._not_ready()
        self._check_dY(dY, self._shape)
        # BEGIN SOLUTION: dX = dY ⊙ mask (the identity in evaluation mode)
        if not input_grad:
            return None
        return dY if self._mask is None else dY * self._mask
        # END SOLUTION

    def config(self):
        return {"p": self.p}

    def extra_repr(self):
        return f"p={self.p}"


class BatchNorm1d(Layer):
    """Batch normalisation of each feature: ``Y = γ ⊙ (X − μ)/√(σ² + ε) + β``.

    In training mode μ and σ² are the mean and (biased) variance of the current batch, and
    running averages of both are kept; in evaluation mode the running averages are used, so
    a single sample can be normalised.

    Parameters
    ----------
    n_features : int
    eps : float, default 1e-5
        ε, added to the variance so the division stays finite.
    momentum : float in (0, 1], default 0.1
        Weight of the current batch in the running averages:
        ``running ← (1 − momentum)·running + momentum·batch``.
    dtype : numpy dtype, default float64

    Attributes
    ----------
    params : dict
        ``"gamma"`` (scale, starts at 1) and ``"beta"`` (shift, starts at 0), shape
        (n_features,).
    buffers : dict
        ``"running_mean"`` and ``"running_var"`` (unbiased batch variance), shape
        (n_features,).
    """

    _batch_attributes = ("_batch_stats",)  # whether the last batch used its own μ, σ²

    def __init__(self, n_features, *, eps=1e-5, momentum=0.1, dtype=np.float64):
        super().__init__()
        if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) \
                or n_features < 1:
            raise ValueError(
                f"BatchNorm1d: n_features must be a positive integer, got {n_features!r}"
            )
        self.n_in = int(n_features)
        self.eps = finite_number(eps, "BatchNorm1d", "eps")
        self.momentum = finite_number(momentum, "BatchNorm1d", "momentum")
        if not self.eps > 0:
            raise ValueError(f"BatchNorm1d: eps must be positive, got {eps!r}")
        if not 0.0 < self.momentum <= 1.0:
            raise ValueError(f"BatchNorm1d: momentum must be in (0, 1], got {momentum!r}")
        self.params["gamma"] = np.ones(self.n_in, dtype=dtype)
        self.params["beta"] = np.zeros(self.n_in, dtype=dtype)
        self.buffers["running_mean"] = np.zeros(self.n_in, dtype=dtype)
        self.buffers["running_var"] = np.ones(self.n_in, dtype=dtype)
        self._zero_grads()
        self._X_hat = None

    def reset_parameters(self, rng=None):
        """γ = 1, β = 0 and fresh running statistics, in place."""
        self.params["gamma"].fill(1)
        self.params["beta"].fill(0)
        self.buffers["running_mean"].fill(0)
        self.buffers["running_var"].fill(1)

    def forward(self, X):
        """Normalise every feature, then scale by γ and shift by β.

        Parameters
        ----------
        X : ndarray of shape (N, n_features)
            N ≥ 2 in training mode: the variance of one sample is 0.

        Returns
        -------
        Y : ndarray of shape (N, n_features)
        """
        X = check_2d(X, self, self.n_in)
        if self.training:
            N = X.shape[0]
            if N < 2:
                raise ValueError(
                    f"{self!r} in training mode needs a batch of at least 2 samples to "
                    f"estimate the variance, got {N}; use eval() to normalise a single sample"
                )
            mean = X.mean(axis=0)
            var = X.var(axis=0)
            m = self.momentum
            self.buffers["running_mean"] *= 1.0 - m
            self.buffers["running_mean"] += m * mean
            self.buffers["running_var"] *= 1.0 - m
            self.buffers["running_var"] += (m * N / (N - 1)) * var
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
        self._inv_std = 1.0 / np.sqrt(var + self.eps)
        self._X_hat = (X - mean) * self._inv_std
        self._batch_stats = self.training
        return self._X_hat * self.params["gamma"] + self.params["beta"]

    def backward(self, dY, input_grad=True):
        """Back-propagate through ``Y = γ ⊙ X̂ + β``, ``X̂ = (X − μ)/√(σ² + ε)``.

        The parameters enter elementwise, summed over the batch:

        - ``dβ = Σ_n dY[n]``, ``dγ = Σ_n dY[n] ⊙ X̂[n]``.

        With ``dX̂ = dY ⊙ γ``, training mode must also follow X through μ and σ², which
        depend on every row. Using ∂μ/∂X[n] = 1/N and ∂σ²/∂X[n] = 2(X[n] − μ)/N, the three
        paths collapse into one line per feature:

        - ``dX = (1/N)·(1/√(σ² + ε))·(N·dX̂ − Σ_n dX̂ − X̂ ⊙ Σ_n(dX̂ ⊙ X̂))``:

        the gradient minus its batch mean, minus its component along X̂. In evaluation mode
        μ and σ² are constants and ``dX = dX̂/√(σ² + ε)``.

        Parameters
        ----------
        dY : ndarray of shape (N, n_features)

        Returns
        -------
        dX : ndarray of shape (N, n_features)
        """
        X_hat = self._X_hat
        if X_hat is None:
            raise self._not_ready()
        self._check_dY(dY, X_hat.shape)
        # BEGIN SOLUTION: dβ, dγ, then dX through μ and σ² (eval: constants)
        self.grads["beta"][...] = dY.sum(axis=0)
        self.grads["gamma"][...] = (dY * X_hat).sum(axis=0)
        if not input_grad:
            return None
        dX_hat = dY * self.params["gamma"]
        if not self._batch_stats:
            return dX_hat * self._inv_std
        N = X_hat.shape[0]
        return (self._inv_std / N) * (
            N * dX_hat - dX_hat.sum(axis=0) - X_hat * (dX_hat * X_hat).sum(axis=0)
        )
        # END SOLUTION

    def config(self):
        return {"n_features": self.n_in, "eps": self.eps, "momentum": self.momentum,
                "dtype": self.params["gamma"].dtype.name}

    def extra_repr(self):
        return f"{self.n_in}, eps={self.eps:g}, momentum={self.momentum:g}"
