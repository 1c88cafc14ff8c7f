"""MLPRegressor: regression with the squared error, or the Poisson deviance and a log link."""

from __future__ import annotations

import numpy as np
from sklearn.base import MultiOutputMixin, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if

from ..losses import MSELoss, PoissonLoss
from ._base import _BaseMLP
from ._params import invalid

_LOSSES = {"squared_error": (MSELoss, "identity"), "poisson": (PoissonLoss, "exp")}


class MLPRegressor(RegressorMixin, MultiOutputMixin, _BaseMLP):
    """Multilayer perceptron regressor with hand-derived gradients.

    A drop-in replacement for ``sklearn.neural_network.MLPRegressor``. The parameters are
    ``loss`` and those of :class:`MLPClassifier` without ``class_weight``.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default "squared_error"
        "squared_error": an identity output and half the squared error
        (:class:`mlp.MSELoss`). "poisson": the network's output u is the log of the
        predicted mean, ``predict`` returns exp(u) > 0, and the loss is half the Poisson
        deviance (:class:`mlp.PoissonLoss`), for non-negative targets such as counts.

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
        "identity", or "exp" with ``loss="poisson"``.
    model_ : Sequential
        The trained network; with ``loss="poisson"`` it outputs the log of the mean.
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=1e-4, batch_size="auto", learning_rate="constant",
                 learning_rate_init=1e-3, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, batch_norm=False, n_threads=None,
                 callbacks=None):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun, dropout=dropout, batch_norm=batch_norm,
            n_threads=n_threads, callbacks=callbacks)
        self.loss = loss

    def _check_params(self):
        if not (isinstance(self.loss, str) and self.loss in _LOSSES):
            raise invalid(self, "loss", "a str among {'poisson', 'squared_error'}", self.loss)
        return super()._check_params()

    def fit(self, X, y, sample_weight=None, *, validation_data=None):
        """Fit the network to (X, y).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
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
        loss, self.out_activation_ = _LOSSES[self.loss]
        return y.astype(dtype, copy=False), loss(), n_out

    def _mean(self, output):
        """The prediction from the network's output: u itself, or exp(u) for "poisson"."""
        output = np.exp(output) if self.out_activation_ == "exp" else output
        return output[:, 0] if output.shape[1] == 1 else output

    def _encode_for_loss(self, y):
        return np.asarray(y, dtype=np.float64)

    def _score_output(self, output, y, sample_weight):
        return r2_score(y, self._mean(output), sample_weight=sample_weight)

    def predict(self, X):
        """Predict the targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        return self._mean(self._forward(X))
