"""Loss functions.

Each loss is used as ``value = loss.forward(output, y)`` then ``d_output = loss.backward()``.
``value`` is the **mean** over the N samples of the batch of per-sample terms ℓ_n (a Python
float) and ``d_output`` is ∂value/∂output, so it includes the factor 1/N.

``loss.per_sample(output, y)`` returns the terms ℓ_n themselves, shape (N,). With
``sample_weight=w`` the value is the weighted mean Σ w_n·ℓ_n / Σ w_n, and the 1/N of every
gradient becomes w_n / Σ w_n.
"""

from __future__ import annotations

import numpy as np

from .base import check_2d
from .penalties import L2Penalty  # a penalty on the weights, kept importable from here
from .special import expit, xlogy

__all__ = [
    "Loss", "MSELoss", "PoissonLoss", "BCEWithLogitsLoss", "SoftmaxCrossEntropyLoss", "NLLLoss",
    "L2Penalty", "DivergedError",
]


class DivergedError(ValueError):
    """The network's output holds NaN or infinity: training diverged, or the input overflows.

    A ValueError, so callers that catch bad input catch it too; its own type lets a training
    loop tell divergence apart from other bad input.
    """


class Loss:
    """Base class: the mean over the batch, sample weights, input checks and the cache.

    A subclass implements ``per_sample(output, y)`` (computing and caching what its
    ``backward`` needs) and ``backward()``, which multiplies its per-sample gradient by
    ``self._scale``: 1/N, or the column w_n / Σ w_n with sample weights.
    """

    def __init__(self):
        self._cache = None
        self._scale = None

    def __call__(self, output, y, sample_weight=None):
        return self.forward(output, y, sample_weight)

    def per_sample(self, output, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, output, y, sample_weight=None):
        """The batch loss: the mean of the per-sample terms (weighted, if weights are given).

        Parameters
        ----------
        output : ndarray of shape (N, K)
            The network output.
        y : array-like
            The targets; see the class for the accepted forms.
        sample_weight : array-like of shape (N,), optional
            Non-negative weights, not all zero.

        Returns
        -------
        float
        """
        terms = self.per_sample(output, y)
        N = len(terms)
        if sample_weight is None:
            self._scale = 1.0 / max(N, 1)
            return float(terms.sum()) * self._scale
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (N,) or not np.isfinite(w).all() or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(
                f"{type(self).__name__}: sample_weight must be {N} finite non-negative "
                f"numbers, not all zero; got shape {w.shape}"
            )
        w = w / w.sum()
        self._scale = w.astype(terms.dtype, copy=False).reshape(-1, 1)
        return float(terms @ w)

    def _check_output(self, output):
        output = check_2d(output, type(self).__name__)
        if not np.isfinite(output).all():
            raise DivergedError(
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

    def clear_cache(self) -> Loss:
        """Forget the last batch: what ``forward`` kept for ``backward`` and the batch's
        weights (``backward`` then raises, as before any ``forward``)."""
        self._cache = self._scale = None
        return self

    def __getstate__(self):
        # the rows of the last batch (and its sample weights) stay out of every pickle and
        # copy, as a layer's do: a fitted estimator's pickle does not grow with batch_size
        return {**vars(self), "_cache": None, "_scale": None}

    def _cached(self):
        if self._cache is None or self._scale is None:
            raise RuntimeError(f"{type(self).__name__}: backward called before forward")
        return self._cache

    def __repr__(self):
        return f"{type(self).__name__}()"


class MSELoss(Loss):
    """Squared error ``L = (1/N) Σ_n ½‖ŷ_n − y_n‖²``, the regression loss."""

    def per_sample(self, output, y):
        """ℓ_n = ½‖ŷ_n − y_n‖².

        Parameters
        ----------
        output : ndarray of shape (N, K)
            The predictions ŷ.
        y : array-like of shape (N, K), or (N,) when K = 1

        Returns
        -------
        ndarray of shape (N,)
        """
        # BEGIN SOLUTION (forward): ℓ_n = ½‖ŷ_n − y_n‖²; cache what backward needs
        output = self._check_output(output)
        diff = output - self._targets(output, y)
        self._cache = diff
        return 0.5 * np.einsum("nk,nk->n", diff, diff)
        # END SOLUTION

    def backward(self):
        """∂L/∂ŷ_n = (ŷ_n − y_n)/N.

        Returns
        -------
        d_output : ndarray of shape (N, K)
        """
        # BEGIN SOLUTION: ∂L/∂ŷ = (ŷ − y)/N, with 1/N in self._scale
        diff = self._cached()
        return diff * self._scale
        # END SOLUTION


class PoissonLoss(Loss):
    """Half the Poisson deviance with the log link, for counts and rates.

    The network output u is the logarithm of the predicted mean, μ = exp(u) (so μ > 0 for
    every u). For a target y ≥ 0 the half deviance of one output is

        d(y, μ) = y·log(y/μ) − y + μ = y·log y − y·u − y + exp(u),

    with 0·log 0 = 0. It is 0 when μ = y and positive otherwise. ``ℓ_n`` sums it over the
    K outputs and the loss is the mean over the batch, as scikit-learn's
    ``MLPRegressor(loss="poisson")`` and ``PoissonRegressor`` define it (the latter adds
    its penalty to the same mean).

    Written in u rather than μ, neither the loss nor its gradient ever takes the log of μ
    or divides by it, so a mean that underflows to 0 costs nothing; see :meth:`backward`.
    """

    def per_sample(self, output, y):
        """ℓ_n = Σ_k y_nk·log y_nk − y_nk·u_nk − y_nk + exp(u_nk).

        Parameters
        ----------
        output : ndarray of shape (N, K)
            The log of the predicted means, u = log μ.
        y : array-like of shape (N, K), or (N,) when K = 1
            Non-negative targets (counts, or rates).

        Returns
        -------
        ndarray of shape (N,)

        Raises
        ------
        ValueError
            For a negative target, or an output whose exp overflows (training diverged).
        """
        U = self._check_output(output)
        Y = self._targets(U, y)
        if np.any(Y < 0):
            raise ValueError("PoissonLoss: targets must be non-negative (counts or rates)")
        if U.size and U.max() > np.log(np.finfo(U.dtype).max):
            raise DivergedError(
                "PoissonLoss: the predicted mean exp(output) overflows "
                f"(largest output {U.max():.4g}; did training diverge? try a smaller "
                "learning rate)"
            )
        mu = np.exp(U)
        self._cache = (mu, Y)
        return (xlogy(Y, Y) - Y * U - Y + mu).sum(axis=1)

    def backward(self):
        """∂L/∂u = (exp(u) − y)/N = (μ − y)/N.

        Only −y·u and exp(u) depend on u: ∂d/∂u = −y + exp(u). Through μ the chain rule
        would read ∂d/∂μ·∂μ/∂u = (1 − y/μ)·μ, which is 0·∞ once μ underflows; multiplied
        out it is the difference μ − y, finite for every finite u (the same cancellation
        that gives the cross-entropy on logits its (Ŷ − Y)).

        Returns
        -------
        d_output : ndarray of shape (N, K)
        """
        mu, Y = self._cached()
        return (mu - Y) * self._scale


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy on logits, for binary and multi-label outputs.

    With u the logit and p = σ(u), the per-output loss ``−y·log p − (1 − y)·log(1 − p)``
    equals ``softplus(u) − y·u``; it is summed over the K outputs and averaged over the batch.
    Computing it from the logit never takes the log of 0.
    """

    def per_sample(self, output, y):
        """ℓ_n = Σ_k softplus(u_nk) − y_nk·u_nk.

        Parameters
        ----------
        output : ndarray of shape (N, K)
            Logits u (no sigmoid applied).
        y : array-like of shape (N, K), or (N,) when K = 1
            Targets in [0, 1].

        Returns
        -------
        ndarray of shape (N,)
        """
        U = self._check_output(output)
        Y = self._targets(U, y)
        if np.any(Y < 0) or np.any(Y > 1):
            raise ValueError("BCEWithLogitsLoss: targets must lie in [0, 1]")
        self._cache = (U, Y)
        # softplus(u) = max(u, 0) + log1p(exp(-|u|)): never exponentiates a positive number
        per_output = np.maximum(U, 0) - Y * U + np.log1p(np.exp(-np.abs(U)))
        return per_output.sum(axis=1)

    def backward(self):
        """∂L/∂u = (σ(u) − y)/N: the sigmoid's σ′ cancels the log's 1/p.

        Returns
        -------
        d_output : ndarray of shape (N, K)
        """
        # BEGIN SOLUTION: ∂L/∂u = (sigmoid(u) − y)/N, with 1/N in self._scale
        U, Y = self._cached()
        return (expit(U) - Y) * self._scale
        # END SOLUTION


class SoftmaxCrossEntropyLoss(Loss):
    """Softmax followed by cross-entropy, fused, from logits.

    ``L = (1/N) Σ_n [log Σ_k exp(u_nk) − u_n,y_n]`` (the log-sum-exp form, which never
    overflows). Targets are integer labels 0..K−1 of shape (N,), or a (N, K) matrix of
    class probabilities such as one-hot rows.
    """

    def per_sample(self, output, y):
        """ℓ_n = log Σ_k exp(u_nk) − u_n,y_n = −log softmax(u_n)[y_n].

        Parameters
        ----------
        output : ndarray of shape (N, K)
            Logits u.
        y : array-like of shape (N,) with labels 0..K−1, or (N, K) one-hot / probabilities

        Returns
        -------
        ndarray of shape (N,)
        """
        U = self._check_output(output)
        y = self._class_targets(U, y)
        # BEGIN SOLUTION (forward): ℓ_n = logsumexp(u_n) − u_n,y_n (stable); cache for backward
        shifted = U - U.max(axis=1, keepdims=True)
        log_Z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_P = shifted - log_Z
        self._cache = (log_P, y)
        if y.ndim == 1:
            return -log_P[np.arange(len(y)), y]
        return -np.einsum("nk,nk->n", y, log_P)
        # END SOLUTION

    def backward(self):
        """∂L/∂u = (Ŷ − Y)/N with Ŷ = softmax(u) and Y the one-hot targets.

        The softmax Jacobian and the derivative of −log ŷ_y combine into this difference:
        ∂(−log ŷ_y)/∂u_k = ŷ_k − [k = y].

        Returns
        -------
        d_output : ndarray of shape (N, K)
        """
        # BEGIN SOLUTION: ∂L/∂u = (softmax(u) − onehot(y))/N, 1/N in self._scale
        log_P, y = self._cached()
        dU = np.exp(log_P)
        if y.ndim == 1:
            dU[np.arange(len(y)), y] -= 1
        else:
            dU -= y
        dU *= self._scale
        return dU
        # END SOLUTION


class NLLLoss(Loss):
    """Negative log-likelihood of probabilities: ``L = −(1/N) Σ_n log p_n,y_n``.

    For a network that ends in a :class:`mlp.Softmax` layer (the modular form, where the
    softmax's own backward is a separate step). Probabilities are clipped at the smallest
    positive float before the log, so a probability that underflowed to 0 gives a large but
    finite loss; :class:`SoftmaxCrossEntropyLoss` on logits has no such limit.
    """

    def per_sample(self, output, y):
        """ℓ_n = −log p_n,y_n.

        Parameters
        ----------
        output : ndarray of shape (N, K)
            Probabilities, each row summing to 1.
        y : array-like of shape (N,) with labels 0..K−1, or (N, K) one-hot / probabilities

        Returns
        -------
        ndarray of shape (N,)
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
        if y.ndim == 1:
            return -np.log(P[np.arange(len(y)), y])
        return -np.einsum("nk,nk->n", y, np.log(P))

    def backward(self):
        """∂L/∂p_nk = −[k = y_n] / (N·p_nk): only the probability of the true class matters.

        With probability targets Y: ∂L/∂P = −Y / (N·P).

        Returns
        -------
        d_output : ndarray of shape (N, K)
        """
        # BEGIN SOLUTION: ∂L/∂p = −[k = y]/(N·p), 1/N in self._scale
        P, y = self._cached()
        if y.ndim == 1:
            dP = np.zeros_like(P)
            rows = np.arange(len(y))
            dP[rows, y] = -1.0 / P[rows, y]
        else:
            dP = -y / P
        dP *= self._scale
        return dP
        # END SOLUTION
