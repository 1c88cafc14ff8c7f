"""MLPRegressor: regression with the squared error."""

from __future__ import annotations

import numpy as np
from sklearn.base import MultiOutputMixin, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if

from ..losses import MSELoss
from ._base import _BaseMLP


class MLPRegressor(RegressorMixin, MultiOutputMixin, _BaseMLP):
    """Multilayer perceptron regressor with hand-derived gradients.

    A drop-in replacement for ``sklearn.neural_network.MLPRegressor``: an identity output
    layer and the squared error. The parameters are those of :class:`MLPClassifier` without
    ``class_weight``.

    Attributes
    ----------
    coefs_, intercepts_ : list of ndarray
    loss_, best_loss_ : float
    loss_curve_ : list of float
    validation_scores_, best_validation_score_ : list of float (R²), float, or None
    validation_loss_curve_ : list of float or None
        The objective on the validation set after every epoch, whenever one is used:
        Σ sᵢℓᵢ / Σ sᵢ + α/(2 Σ sᵢ)·Σ‖W‖² over its samples.
    n_iter_ : int
        Epochs (lbfgs: iterations) of the latest ``fit`` or ``partial_fit`` call.
    t_, n_layers_, n_outputs_, n_features_in_ : int
        ``t_`` counts every training sample seen, over all calls.
    out_activation_ : str
        "identity".
    model_ : Sequential
    """

    def fit(self, X, y, sample_weight=None, *, validation_data=None):
        """Fit the network to (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), optional
        validation_data : tuple (X_val, y_val) or (X_val, y_val, sample_weight_val), optional
            Scored after every epoch (``validation_scores_``, ``validation_loss_curve_``,
            both weighted by ``sample_weight_val``); with ``early_stopping`` it replaces the
            internal split. Give it transformed like X: inside a Pipeline the steps before
            this one do not transform it, so use
            :func:`mlp.estimator.fit_with_validation` there.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, validation_data, incremental=False)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch on (X, y), keeping the weights and the optimizer's state.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _y_validation(self):
        return {"y_numeric": True}

    def _encode_targets(self, y, first, incremental, dtype):
        n_out = 1 if y.ndim == 1 else y.shape[1]
        if not first and n_out != self.n_outputs_:
            raise ValueError(
                f"y has {n_out} targets but the previous fit had {self.n_outputs_}"
            )
        self.out_activation_ = "identity"
        return y.astype(dtype, copy=False), MSELoss(), n_out

    def _encode_for_loss(self, y):
        return np.asarray(y, dtype=np.float64)

    def _score_output(self, output, y, sample_weight):
        return r2_score(y, output[:, 0] if output.shape[1] == 1 else output,
                        sample_weight=sample_weight)

    def predict(self, X):
        """Predict the targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        output = self._forward(X)
        return output[:, 0] if output.shape[1] == 1 else output
