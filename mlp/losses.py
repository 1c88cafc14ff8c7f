"""Loss functions.

Each loss is used as ``value = loss.forward(output, y)`` then ``d_output = loss.backward()``.
``value`` is the **mean** over the N samples of the batch (a Python float) and ``d_output`` is
∂value/∂output, so it includes the factor 1/N.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from .base import check_2d

__all__ = ["Loss", "MSELoss", "BCEWithLogitsLoss", "SoftmaxCrossEntropyLoss", "NLLLoss"]


class Loss:
    """Base class: input checks and the cache shared by every loss."""

    def __init__(self):
        self._cache = None

    def __call__(self, output, y):
        return self.forward(output, y)

    def _check_output(self, output):
        output = check_2d(output, f"{type(self).__name__}")
        if not np.isfinite(output).all():
            raise ValueError(
                f"{type(self).__name__}: the network output contains NaN or infinity "
                "(did training diverge? try a smaller learning rate)"
            )
        return output

    def _targets(self, output, y):
        """Targets as a float array of the output's shape (a 1-D y fits a 1-column output)."""
        y = np.asarray(y)
        if y.ndim == 1 and output.shape[1] == 1:
            y = y.reshape(-1, 1)
        if y.shape != output.shape:
            raise ValueError(
                f"{type(self).__name__}: targets of shape {y.shape} do not match the output "
                f"of shape {output.shape}"
            )
        if y.dtype.kind not in "biuf":
            raise ValueError(
                f"{type(self).__name__}: targets must be numeric, got dtype {y.dtype}"
            )
        y = y.astype(output.dtype, copy=False)
        if not np.isfinite(y).all():
            raise ValueError(f"{type(self).__name__}: targets contain NaN or infinity")
        return y

    def _class_targets(self, output, y):
        """Integer labels of shape (N,) or a (N, K) matrix of class probabilities (one-hot)."""
        name = type(self).__name__
        N, K = output.shape
        y = np.asarray(y)
        if y.ndim == 1:
            if y.shape[0] != N:
                raise ValueError(f"{name}: got {y.shape[0]} labels for {N} outputs")
            if y.dtype.kind == "f":
                if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
                    raise ValueError(f"{name}: labels must be whole numbers 0..{K - 1}")
                y = y.astype(np.intp)
            elif y.dtype.kind not in "biu":
                raise ValueError(
                    f"{name}: labels must be integers 0..{K - 1}, got dtype {y.dtype} "
                    "(encode string labels first, e.g. with sklearn's LabelEncoder)"
                )
            if N and (y.min() < 0 or y.max() >= K):
                bad = y[(y < 0) | (y >= K)][0]
                raise ValueError(
                    f"{name}: label {bad} out of range for {K} classes (expected 0..{K - 1})"
                )
            return y
        Y = self._targets(output, y)
        if np.any(Y < 0) or not np.allclose(Y.sum(axis=1), 1.0):
            raise ValueError(
                f"{name}: a 2-D target must hold class probabilities (e.g. one-hot rows) "
                "that are non-negative and sum to 1"
            )
        return Y

    def _cached(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}: backward called before forward")
        return self._cache

    def __repr__(self):
        return f"{type(self).__name__}()"


class MSELoss(Loss):
    """Squared error ``L = (1/N) Σ_n ½‖ŷ_n − y_n‖²``, the regression loss."""

    def forward(self, output, y):
        """
        Parameters
        ----------
        output : ndarray of shape (N, K)
            The predictions ŷ.
        y : array-like of shape (N, K), or (N,) when K = 1

        Returns
        -------
        float
        """
        output = self._check_output(output)
        diff = output - self._targets(output, y)
        self._cache = diff
        return 0.5 * float(np.vdot(diff, diff)) / max(len(diff), 1)

    def backward(self):
        """∂L/∂ŷ_n = (ŷ_n − y_n)/N.

        Returns
        -------
        d_output : ndarray of shape (N, K)
        """
        diff = self._cached()
        return diff / len(diff)


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits, for binary and multi-label outputs.

    With u the logit and p = σ(u), the per-output loss ``−y·log p − (1 − y)·log(1 − p)``
    equals ``softplus(u) − y·u``; it is summed over the K outputs and averaged over the batch.
    Computing it from the logit never takes the log of 0.
    """

    def forward(self, output, y):
        """
        Parameters
        ----------
        output : ndarray of shape (N, K)
            Logits u (no sigmoid applied).
        y : array-like of shape (N, K), or (N,) when K = 1
            Targets in [0, 1].

        Returns
        -------
        float
        """
        U = self._check_output(output)
        Y = self._targets(U, y)
        if np.any(Y < 0) or np.any(Y > 1):
            raise ValueError("BCEWithLogitsLoss: targets must lie in [0, 1]")
        self._cache = (U, Y)
        # softplus(u) = max(u, 0) + log1p(exp(-|u|)): never exponentiates a positive number
        per_output = np.maximum(U, 0) - Y * U + np.log1p(np.exp(-np.abs(U)))
        return float(per_output.sum()) / max(len(U), 1)

    def backward(self):
        """∂L/∂u = (σ(u) − y)/N: the sigmoid's σ′ cancels the log's 1/p.

        Returns
        -------
        d_output : ndarray of shape (N, K)
        """
        U, Y = self._cached()
        return (expit(U) - Y) / len(U)


class SoftmaxCrossEntropyLoss(Loss):
    """Softmax followed by cross-entropy, fused, from logits.

    ``L = (1/N) Σ_n [log Σ_k exp(u_nk) − u_n,y_n]`` (the log-sum-exp form, which never
    overflows). Targets are integer labels 0..K−1 of shape (N,), or a (N, K) matrix of
    class probabilities such as one-hot rows.
    """

    def forward(self, output, y):
        """
        Parameters
        ----------
        output : ndarray of shape (N, K)
            Logits u.
        y : array-like of shape (N,) with labels 0..K−1, or (N, K) one-hot / probabilities

        Returns
        -------
        float
        """
        U = self._check_output(output)
        y = self._class_targets(U, y)
        shifted = U - U.max(axis=1, keepdims=True)
        log_Z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_P = shifted - log_Z
        self._cache = (log_P, y)
        N = max(len(U), 1)
        if y.ndim == 1:
            return -float(log_P[np.arange(len(y)), y].sum()) / N
        return -float(np.vdot(y, log_P)) / N

    def backward(self):
        """∂L/∂u = (Ŷ − Y)/N with Ŷ = softmax(u) and Y the one-hot targets.

        The softmax Jacobian and the derivative of −log ŷ_y combine into this difference:
        ∂(−log ŷ_y)/∂u_k = ŷ_k − [k = y].

        Returns
        -------
        d_output : ndarray of shape (N, K)
        """
        log_P, y = self._cached()
        N = len(log_P)
        dU = np.exp(log_P)
        if y.ndim == 1:
            dU[np.arange(N), y] -= 1
        else:
            dU -= y
        dU /= N
        return dU


class NLLLoss(Loss):
    """Negative log-likelihood of probabilities: ``L = −(1/N) Σ_n log p_n,y_n``.

    For a network that ends in a :class:`mlp.Softmax` layer (the modular form, where the
    softmax's own backward is a separate step). Probabilities are clipped at the smallest
    positive float before the log, so a probability that underflowed to 0 gives a large but
    finite loss; :class:`SoftmaxCrossEntropyLoss` on logits has no such limit.
    """

    def forward(self, output, y):
        """
        Parameters
        ----------
        output : ndarray of shape (N, K)
            Probabilities, each row summing to 1.
        y : array-like of shape (N,) with labels 0..K−1, or (N, K) one-hot / probabilities

        Returns
        -------
        float
        """
        P = self._check_output(output)
        if np.any(P < 0) or np.any(P > 1):
            raise ValueError(
                "NLLLoss: the output must be probabilities in [0, 1] (put a Softmax layer "
                "before this loss, or use SoftmaxCrossEntropyLoss on logits)"
            )
        y = self._class_targets(P, y)
        P = np.maximum(P, np.finfo(P.dtype).tiny)
        self._cache = (P, y)
        N = max(len(P), 1)
        if y.ndim == 1:
            return -float(np.log(P[np.arange(len(y)), y]).sum()) / N
        return -float(np.vdot(y, np.log(P))) / N

    def backward(self):
        """∂L/∂p_nk = −[k = y_n] / (N·p_nk): only the probability of the true class matters.

        With probability targets Y: ∂L/∂P = −Y / (N·P).

        Returns
        -------
        d_output : ndarray of shape (N, K)
        """
        P, y = self._cached()
        N = len(P)
        if y.ndim == 1:
            dP = np.zeros_like(P)
            rows = np.arange(N)
            dP[rows, y] = -1.0 / (N * P[rows, y])
            return dP
        return -y / (N * P)
