"""What MLPClassifier and MLPRegressor share: parameters, the network, fitting, prediction.

The faces (:mod:`.classifier`, :mod:`.regressor`) add the targets, the loss and the score; the
solvers (:mod:`.stochastic`, :mod:`.lbfgs`) train ``model_``.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ..activations import get_activation
from ..layers import BatchNorm1d, Dropout, Linear
from ..losses import DivergedError
from ..sequential import Sequential
from ..threads import blas_threads
from ._inference import network_output
from ._params import check_params, invalid, is_int
from ._sklearn_callbacks import CallbackSupportMixin, end_fit_task, fit_task, with_callbacks
from ._state import LayerArrays, assign, batchnorm_statistics, relink
from .lbfgs import fit_lbfgs, lbfgs_objective
from .stochastic import fit_stochastic

# the dtypes validate_data keeps as they are (anything else is converted)
_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


class _BaseMLP(CallbackSupportMixin, BaseEstimator):
    """What the classifier and the regressor share: parameters, the network, the solvers."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=1e-4, batch_size="auto", learning_rate="constant",
                 learning_rate_init=1e-3, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, batch_norm=False, n_threads=None,
                 callbacks=None):
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
        self.n_threads = n_threads
        self.callbacks = callbacks

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
        """list of ndarray: the weight matrix of each Linear layer, shape (n_in, n_out).

        Assignable, as a whole list or item by item, to start from given weights; the arrays
        are written into the network after their shapes are checked (ValueError otherwise).
        """
        check_is_fitted(self, "model_")
        return LayerArrays(self._linears(), "W", "coefs_")

    @coefs_.setter
    def coefs_(self, values):
        check_is_fitted(self, "model_")
        assign(self._linears(), "W", "coefs_", values)

    @property
    def intercepts_(self):
        """list of ndarray: the bias vector of each Linear layer, shape (n_out,); assignable."""
        check_is_fitted(self, "model_")
        return LayerArrays(self._linears(), "b", "intercepts_")

    @intercepts_.setter
    def intercepts_(self, values):
        check_is_fitted(self, "model_")
        assign(self._linears(), "b", "intercepts_", values)

    def __setstate__(self, state):
        super().__setstate__(state)
        if "model_" in state:
            for layer in self.model_:
                for key, value in layer.buffers.items():
                    layer.buffers[key] = np.array(value)  # writable memory of its own
        if state.get("_optimizer") is not None:
            relink(self._optimizer)

    # -- fitting -------------------------------------------------------------------------
    def _rng(self):
        state = self.random_state
        if isinstance(state, np.random.RandomState):
            return np.random.default_rng(state.randint(np.iinfo(np.int32).max))
        if state is None or is_int(state) or isinstance(state, np.random.Generator):
            return np.random.default_rng(state)
        raise invalid(self, "random_state", "an int, a RandomState, a Generator or None", state)

    @with_callbacks
    def _fit(self, X, y, sample_weight=None, validation_data=None, incremental=False):
        self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not (hasattr(self, "model_") and (self.warm_start or incremental))
        X, y = validate_data(self, X, y, accept_sparse="csr", multi_output=True,
                             dtype=(np.float64, np.float32), reset=first,
                             **self._y_validation())
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
            self.t_ = 0
            self._no_improvement_count = 0
            self.loss_curve_ = []
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.validation_loss_curve_ = None
            self.best_validation_score_ = None
        self.n_iter_ = 0  # epochs (or lbfgs iterations) of this call, as in scikit-learn
        self.n_outputs_ = n_out
        self.n_layers_ = len(self._linears()) + 1
        # scikit-learn's callbacks (set_callbacks): this call is a task, each epoch a subtask
        context = fit_task(self, X, y, sample_weight,
                           0 if self.solver == "lbfgs" else 1 if incremental else self.max_iter)

        # A run that diverges overflows on the way: it is reported once, below, rather than
        # through numpy's warnings or the loss's complaint about the network's output.
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"), \
                    blas_threads(self.n_threads, model=self.model_,
                                 batch_size=self._rows_per_batch(X.shape[0])):
                if self.solver == "lbfgs":
                    X_fit, w_fit, unconverged = fit_lbfgs(self, X, y_enc, sample_weight)
                else:
                    X_fit, w_fit, unconverged = fit_stochastic(
                        self, X, y, y_enc, sample_weight, validation_data, incremental,
                        context)
                seen = getattr(self, "_statistics_weight", 0.0) if incremental else 0.0
                self._statistics_weight = batchnorm_statistics(self.model_, X_fit, w_fit, seen)
            finite = all(np.isfinite(p.value).all() for p in self.model_.parameters()) and \
                all(np.isfinite(value).all() for _, value in self.model_.named_buffers())
        except DivergedError:
            finite = False
        if not finite:
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain "
                "large values and need to be preprocessed."
            )
        # the fitted model keeps no rows of the training data, and predicts in evaluation mode
        self.model_.clear_cache().eval()
        self._loss.clear_cache()
        end_fit_task(self, context, X, y, sample_weight)
        if unconverged:
            warnings.warn(unconverged, ConvergenceWarning, stacklevel=4)
        return self

    def _rows_per_batch(self, n_samples):
        """The rows of the largest batch a solver multiplies: all of them for lbfgs."""
        if self.solver == "lbfgs":
            return n_samples
        return min(200 if self.batch_size == "auto" else self.batch_size, n_samples)

    def _lbfgs_objective(self, X, y_enc, sample_weight):
        """``(objective, theta)`` of the lbfgs solver; see :func:`.lbfgs.lbfgs_objective`."""
        return lbfgs_objective(self, X, y_enc, sample_weight)

    def _report(self, message):
        """Progress for ``verbose=True``, printed as scikit-learn prints it.

        ``sys.stdout`` is looked up at every line, so a caller that swaps it (a notebook, a
        test, ``contextlib.redirect_stdout``) receives the lines.
        """
        if self.verbose:
            print(message, file=sys.stdout, flush=True)

    def _check_sample_weight(self, sample_weight, X):
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(X.shape[0], float(w))
        if w.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight.shape == {w.shape}, expected {(X.shape[0],)}!"
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
        """The network's output for X (logits, or the regressor's u), in evaluation mode.

        X goes through scikit-learn's ``validate_data``, except when it is already what that
        would accept unchanged and silently: a finite float64/float32 ndarray of the fitted
        width, for an estimator fitted without feature names (fitted on a DataFrame, an array
        gets scikit-learn's warning, so it takes the long way). That check alone costs a
        fraction of the validation, which dominates predicting one sample. The network then
        runs without its layers' caches (:func:`._inference.network_output`): nothing of X
        stays in the model, and threads may predict at once.
        """
        model = getattr(self, "model_", None)
        valid = (model is not None and type(X) is np.ndarray and X.dtype in _FLOATS
                 and X.ndim == 2 and X.shape[0] > 0
                 and X.shape[1] == getattr(self, "n_features_in_", None)
                 and not hasattr(self, "feature_names_in_") and np.isfinite(X).all())
        if not valid:
            check_is_fitted(self, "model_")
            X = validate_data(self, X, accept_sparse="csr", reset=False,
                              dtype=(np.float64, np.float32))
            model = self.model_
        return network_output(model, X)

    def _validation_set(self, validation_data):
        """``validation_data`` checked: (X_val, y_val, sample_weight_val or None)."""
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be a tuple (X_val, y_val) or "
                             "(X_val, y_val, sample_weight_val)")
        X_val, y_val, *w_val = validation_data
        X_val = validate_data(self, X_val, accept_sparse="csr", reset=False,
                              dtype=(np.float64, np.float32))
        y_val = np.asarray(y_val)
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = y_val[:, 0]
        if X_val.shape[0] != len(y_val):
            raise ValueError(
                f"validation_data: X has {X_val.shape[0]} samples but y has {len(y_val)}"
            )
        w_val = self._check_sample_weight(w_val[0], X_val) if w_val and w_val[0] is not None \
            else None
        return X_val, y_val, w_val

    def _score(self, output, y, sample_weight):
        """The validation score of ``output``; NaN when the network produced NaN or inf."""
        if not np.isfinite(output).all():
            return np.nan
        return self._score_output(output, y, sample_weight)

    def _stratify(self):
        return False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # the first Linear multiplies CSR rows as they are
        return tags

    def _check_solver(self):
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is "
                "not stochastic."
            )
        return True
