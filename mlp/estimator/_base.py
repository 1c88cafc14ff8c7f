"""What MLPClassifier and MLPRegressor share: parameters, the network, fitting, prediction.

The faces (:mod:`.classifier`, :mod:`.regressor`) add the targets, the loss and the score; the
solvers (:mod:`.stochastic`, :mod:`.lbfgs`) train ``model_``.
"""

from __future__ import annotations

import logging
import sys

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ..activations import get_activation
from ..layers import BatchNorm1d, Dropout, Linear
from ..sequential import Sequential
from ._params import check_params, invalid, is_int
from .lbfgs import fit_lbfgs, lbfgs_objective
from .stochastic import fit_stochastic

# one logger for the whole estimator package, whatever module reports
_log = logging.getLogger("mlp.estimator")


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, the network, the solvers."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=1e-4, batch_size="auto", learning_rate="constant",
                 learning_rate_init=1e-3, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, batch_norm=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.batch_norm = batch_norm

    # -- parameter validation ------------------------------------------------------------
    def _check_params(self):
        """Validate the hyperparameters; return (widths, activations, dropouts) per layer."""
        return check_params(self)

    # -- the network ---------------------------------------------------------------------
    def _build_model(self, n_in, n_out, dtype, rng):
        sizes, acts, drops = self._check_params()
        layers = []
        for width, act, p in zip(sizes, acts, drops, strict=True):
            layers.append(Linear(n_in, width, rng=rng, dtype=dtype))
            if self.batch_norm:
                layers.append(BatchNorm1d(width, dtype=dtype))
            layers.append(get_activation(act, **({"dtype": dtype} if act == "prelu" else {})))
            if p > 0:
                layers.append(Dropout(p, rng=rng))
            n_in = width
        layers.append(Linear(n_in, n_out, rng=rng, dtype=dtype))
        return Sequential(layers)

    def _linears(self):
        return [layer for layer in self.model_ if isinstance(layer, Linear)]

    @property
    def coefs_(self):
        """list of ndarray: the weight matrix of each Linear layer, shape (n_in, n_out)."""
        check_is_fitted(self, "model_")
        return [layer.params["W"] for layer in self._linears()]

    @property
    def intercepts_(self):
        """list of ndarray: the bias vector of each Linear layer, shape (n_out,)."""
        check_is_fitted(self, "model_")
        return [layer.params["b"] for layer in self._linears()]

    # -- fitting -------------------------------------------------------------------------
    def _rng(self):
        state = self.random_state
        if isinstance(state, np.random.RandomState):
            return np.random.default_rng(state.randint(np.iinfo(np.int32).max))
        if state is None or is_int(state) or isinstance(state, np.random.Generator):
            return np.random.default_rng(state)
        raise invalid(self, "random_state", "an int, a RandomState, a Generator or None", state)

    def _fit(self, X, y, sample_weight=None, validation_data=None, incremental=False):
        self._check_params()
        first = not (hasattr(self, "model_") and (self.warm_start or incremental))
        X, y = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32),
                             reset=first, **self._y_validation())
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if sample_weight is not None:
            sample_weight = self._check_sample_weight(sample_weight, X)
        y_enc, loss, n_out = self._encode_targets(y, first, incremental, X.dtype)
        sample_weight = self._extra_weights(y, sample_weight)

        self._loss = loss  # stateless, and fixed by the kind of target
        if first or not hasattr(self, "_rng_"):
            # a fresh fit, or continuing one loaded from a model file (which holds no RNG)
            self._rng_ = self._rng()
            self._optimizer = None
        if first:
            self.model_ = self._build_model(X.shape[1], n_out, X.dtype, self._rng_)
            self.n_iter_ = 0
            self.t_ = 0
            self.loss_curve_ = []
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None
        self.n_outputs_ = n_out
        self.n_layers_ = len(self._linears()) + 1

        if self.solver == "lbfgs":
            fit_lbfgs(self, X, y_enc, sample_weight)
        else:
            fit_stochastic(self, X, y, y_enc, sample_weight, validation_data, incremental)
        return self

    def _lbfgs_objective(self, X, y_enc, sample_weight):
        """``(objective, theta)`` of the lbfgs solver; see :func:`.lbfgs.lbfgs_objective`."""
        return lbfgs_objective(self, X, y_enc, sample_weight)

    def _report(self, message):
        """Progress for ``verbose=True``, logged at INFO level under ``mlp.estimator``.

        An application that has configured logging decides where it goes; otherwise it is
        shown on standard output, as scikit-learn's verbose mode does.
        """
        if not self.verbose:
            return
        if _log.level == logging.NOTSET:
            _log.setLevel(logging.INFO)
        if not _log.hasHandlers():
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("%(message)s"))
            _log.addHandler(handler)
        _log.info(message)

    def _check_sample_weight(self, sample_weight, X):
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(len(X), float(w))
        if w.shape != (len(X),):
            raise ValueError(
                f"sample_weight.shape == {w.shape}, expected {(len(X),)}!"
            )
        if not np.isfinite(w).all() or np.any(w < 0):
            raise ValueError("sample_weight must be finite and non-negative")
        if w.sum() <= 0:
            raise ValueError("sample_weight must not be all zero")
        return w

    def _extra_weights(self, y, sample_weight):
        return sample_weight

    # -- prediction ----------------------------------------------------------------------
    def _forward(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        self.model_.eval()
        try:
            return self.model_.forward(X)
        finally:
            self.model_.train()

    def _validation_set(self, X_val, y_val):
        X_val = validate_data(self, X_val, reset=False, dtype=(np.float64, np.float32))
        y_val = np.asarray(y_val)
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = y_val[:, 0]
        if len(X_val) != len(y_val):
            raise ValueError(
                f"validation_data: X has {len(X_val)} samples but y has {len(y_val)}"
            )
        return X_val, y_val

    def _stratify(self, y):
        return False

    def _check_solver(self):
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is "
                "not stochastic."
            )
        return True
