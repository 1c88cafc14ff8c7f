"""scikit-learn estimators: MLPClassifier and MLPRegressor.

They take scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` parameters with the same names,
meanings and defaults, so replacing the import is enough, and add what scikit-learn's MLP does
not offer: any activation of the library (one per hidden layer if wished), dropout, batch
normalisation, class weights and an explicit validation set. Underneath, ``model_`` is an
ordinary :class:`mlp.Sequential`, trained by :class:`mlp.trainer.Trainer` (solvers "sgd" and
"adam") or by ``scipy.optimize.minimize`` (solver "lbfgs").
"""

from __future__ import annotations

import logging
import numbers
import sys
import warnings

import numpy as np
from scipy.special import expit, log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, MultiOutputMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .activations import HIDDEN_ACTIVATIONS, get_activation
from .layers import BatchNorm1d, Dropout, Linear
from .losses import BCEWithLogitsLoss, L2Penalty, MSELoss, SoftmaxCrossEntropyLoss
from .optim import SGD, Adam
from .sequential import Sequential
from .trainer import Trainer

__all__ = ["MLPClassifier", "MLPRegressor"]

_log = logging.getLogger(__name__)

_SOLVERS = ("lbfgs", "sgd", "adam")
_LEARNING_RATES = ("constant", "invscaling", "adaptive")


def _invalid(est, name, expected, value):
    """A ValueError worded like scikit-learn's parameter validation."""
    return ValueError(
        f"The {name!r} parameter of {type(est).__name__} must be {expected}. "
        f"Got {value!r} instead."
    )


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


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
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if _is_int(sizes) else sizes
        try:
            sizes = list(sizes)
        except TypeError:
            raise _invalid(self, "hidden_layer_sizes", "an array-like of positive integers",
                           self.hidden_layer_sizes) from None
        if not all(_is_int(w) and w > 0 for w in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be > 0, got {self.hidden_layer_sizes!r}: every "
                "entry must be a positive integer"
            )
        sizes = [int(w) for w in sizes]
        n_hidden = len(sizes)

        act = self.activation
        acts = [act] * n_hidden if isinstance(act, str) else act
        expected = (f"a str among {set(HIDDEN_ACTIVATIONS)} or a list of them, one per "
                    f"hidden layer ({n_hidden})")
        if (not isinstance(acts, (list, tuple)) or len(acts) != n_hidden
                or not all(isinstance(a, str) and a in HIDDEN_ACTIVATIONS for a in acts)):
            if isinstance(act, str) or not isinstance(acts, (list, tuple)) or \
                    len(acts) == n_hidden:
                raise _invalid(self, "activation", expected, act)
            raise ValueError(
                f"activation has {len(acts)} entries but there are {n_hidden} hidden layers"
            )

        drop = self.dropout
        drops = [drop] * n_hidden if _is_real(drop) else drop
        if (not isinstance(drops, (list, tuple)) or len(drops) != n_hidden
                or not all(_is_real(p) and 0 <= p < 1 for p in drops)):
            raise _invalid(self, "dropout", "a float in the range [0.0, 1.0) or a list of them, "
                           f"one per hidden layer ({n_hidden})", drop)

        def real(name, low, high=None, *, low_open=False, high_open=True):
            value = getattr(self, name)
            ok = _is_real(value) and np.isfinite(value) if high is None else _is_real(value)
            if ok:
                ok = value > low if low_open else value >= low
            if ok and high is not None:
                ok = value < high if high_open else value <= high
            if not ok:
                interval = (f"{'(' if low_open else '['}{float(low)}, "
                            f"{'inf' if high is None else float(high)}"
                            f"{')' if high is None or high_open else ']'}")
                raise _invalid(self, name, f"a float in the range {interval}", value)

        real("alpha", 0.0)
        real("learning_rate_init", 0.0, low_open=True)
        real("power_t", 0.0)
        real("tol", 0.0)
        real("momentum", 0.0, 1.0, high_open=False)
        real("validation_fraction", 0.0, 1.0, low_open=True)
        real("beta_1", 0.0, 1.0)
        real("beta_2", 0.0, 1.0)
        real("epsilon", 0.0, low_open=True)
        for name in ("max_iter", "n_iter_no_change", "max_fun"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise _invalid(self, name, "an int in the range [1, inf)", value)
        if self.solver not in _SOLVERS:
            raise _invalid(self, "solver", f"a str among {set(_SOLVERS)}", self.solver)
        if self.learning_rate not in _LEARNING_RATES:
            raise _invalid(self, "learning_rate", f"a str among {set(_LEARNING_RATES)}",
                           self.learning_rate)
        if not (self.batch_size == "auto" or (_is_int(self.batch_size) and self.batch_size > 0)):
            raise _invalid(self, "batch_size", "an int in the range [1, inf) or 'auto'",
                           self.batch_size)
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping",
                     "batch_norm"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise _invalid(self, name, "an instance of 'bool'", getattr(self, name))
        if self.solver == "lbfgs" and any(drops):
            raise ValueError(
                "dropout is not supported with solver='lbfgs', whose line searches need a "
                "deterministic objective; use solver='adam' or 'sgd'"
            )
        return sizes, list(acts), [float(p) for p in drops]

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
        if state is None or _is_int(state) or isinstance(state, np.random.Generator):
            return np.random.default_rng(state)
        raise _invalid(self, "random_state", "an int, a RandomState, a Generator or None", state)

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
            self._fit_lbfgs(X, y_enc, sample_weight)
        else:
            self._fit_stochastic(X, y, y_enc, sample_weight, validation_data, incremental)
        return self

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

    def _optimizer_for(self, params):
        if self.solver == "adam":
            return Adam(params, lr=self.learning_rate_init, beta1=self.beta_1,
                        beta2=self.beta_2, eps=self.epsilon)
        nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
        return SGD(params, lr=self.learning_rate_init, momentum=self.momentum,
                   nesterov=nesterov)

    def _fit_stochastic(self, X, y, y_enc, sample_weight, validation_data, incremental):
        early_stopping = self.early_stopping and not incremental
        X_val = y_val = None
        if validation_data is not None:
            X_val, y_val = self._validation_set(*validation_data)
        elif early_stopping:
            stratify = y if self._stratify(y) else None
            split_seed = int(self._rng_.integers(np.iinfo(np.int32).max))
            parts = train_test_split(X, y_enc, y, *([] if sample_weight is None
                                                    else [sample_weight]),
                                     test_size=self.validation_fraction,
                                     random_state=split_seed, stratify=stratify)
            X, X_val, y_enc, _, y, y_val = parts[:6]
            sample_weight = parts[6] if sample_weight is not None else None
        validate = (X_val, self._encode_for_loss(y_val)) if X_val is not None else None
        n_samples = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped", stacklevel=4)
            batch_size = min(self.batch_size, n_samples)

        if self._optimizer is None or not incremental:
            self._optimizer = self._optimizer_for(self.model_.parameters())
        optimizer = self._optimizer

        def score(model, X_v, y_v):
            return self._score_output(model.forward(X_v), y_val)

        def on_plateau(trainer):
            # scikit-learn's "adaptive" rate: divide by 5 on a plateau, down to 1e-6
            if self.solver == "sgd" and self.learning_rate == "adaptive" \
                    and optimizer.lr > 1e-6:
                optimizer.lr /= 5.0
                self._report(f"Setting learning rate to {optimizer.lr:f}")
                return True
            return False

        def end_of_epoch(epoch, history):
            self.n_iter_ += 1
            self.t_ += n_samples
            self.loss_curve_.append(history.loss[-1])
            self._report(f"Iteration {self.n_iter_}, loss = {history.loss[-1]:.8f}")
            if self.solver == "sgd" and self.learning_rate == "invscaling":
                optimizer.lr = self.learning_rate_init / (self.t_ + 1) ** self.power_t
            return False

        trainer = Trainer(
            self.model_, self._loss, optimizer, batch_size=batch_size, shuffle=self.shuffle,
            rng=self._rng_, l2=self.alpha / (2.0 * batch_size),
            score=score if validate is not None else None, early_stopping=early_stopping,
            tol=self.tol, n_iter_no_change=None if incremental else self.n_iter_no_change,
            on_plateau=on_plateau, callbacks=[end_of_epoch],
        )
        # continue from the best loss of earlier calls, as scikit-learn does with warm_start
        trainer.history.best_loss = self.best_loss_ if self.best_loss_ is not None else np.inf
        history = trainer.fit(X, y_enc, epochs=1 if incremental else self.max_iter,
                              sample_weight=sample_weight, validation_data=validate)

        if history.interrupted:
            warnings.warn("Training interrupted by user.", stacklevel=4)
        if not history.loss:
            return
        self.loss_ = history.loss[-1]
        if history.val_score:
            self.validation_scores_ = (self.validation_scores_ or []) + history.val_score
            self.best_validation_score_ = max(self.validation_scores_)
        if early_stopping:
            self.best_loss_ = None
        else:
            self.best_loss_ = min(self.best_loss_ if self.best_loss_ is not None else np.inf,
                                  history.best_loss)
        if not incremental and not history.converged and history.epochs == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=4)

    def _lbfgs_objective(self, X, y_enc, sample_weight):
        """The function L-BFGS minimises, at the flat parameter vector θ.

        Returns ``objective(theta) -> (value, grad)``, which loads θ into the model and gives
        Σ sᵢℓᵢ / Σ sᵢ + α/(2 Σ sᵢ)·Σ‖W‖² and its gradient (float64, for scipy), and the model's
        current θ. Without weights, sᵢ = 1 and Σ sᵢ = N (scikit-learn's definition).
        """
        model, loss = self.model_, self._loss
        params = model.parameters()
        dtype = X.dtype
        total = len(X) if sample_weight is None else float(sample_weight.sum())
        penalty = L2Penalty(self.alpha / (2.0 * total))

        def objective(theta):
            theta = theta.astype(dtype, copy=False)
            offset = 0
            for p in params:
                size = p.value.size
                p.value[...] = theta[offset:offset + size].reshape(p.value.shape)
                offset += size
            value = loss.forward(model.forward(X), y_enc, sample_weight)
            model.backward(loss.backward(), input_grad=False)
            value += penalty.forward(params)
            penalty.backward(params)
            grad = np.concatenate([p.grad.ravel() for p in params]).astype(np.float64)
            return value, grad

        theta = np.concatenate([p.value.ravel() for p in params]).astype(np.float64)
        return objective, theta

    def _fit_lbfgs(self, X, y_enc, sample_weight):
        from scipy.optimize import minimize

        model = self.model_
        objective, theta0 = self._lbfgs_objective(X, y_enc, sample_weight)
        curve = []

        def record(intermediate_result):
            curve.append(float(intermediate_result.fun))
            self._report(f"Iteration {len(curve)}, loss = {curve[-1]:.8f}")

        model.train()
        result = minimize(objective, theta0, method="L-BFGS-B", jac=True, callback=record,
                          options={"maxfun": self.max_fun, "maxiter": self.max_iter,
                                   "gtol": self.tol})
        # load the final weights; the forward pass also refreshes BatchNorm's running statistics
        objective(result.x)
        self.n_iter_ += int(result.nit)
        self.t_ += len(X) * max(int(result.nit), 1)
        self.loss_ = float(result.fun)
        self.loss_curve_.extend(curve)
        self.best_loss_ = min(self.best_loss_ if self.best_loss_ is not None else np.inf,
                              self.loss_)
        if result.status == 1:
            warnings.warn(
                f"lbfgs failed to converge after {result.nit} iterations (max_iter = "
                f"{self.max_iter}, max_fun = {self.max_fun}): increase them or scale the "
                "data.", ConvergenceWarning, stacklevel=4)

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


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier with hand-derived gradients.

    A drop-in replacement for ``sklearn.neural_network.MLPClassifier``: the parameters below
    that scikit-learn has mean the same and default the same. Binary targets use one sigmoid
    output with binary cross-entropy, multiclass targets a softmax with cross-entropy, and a
    label-indicator matrix (multi-label) one sigmoid per label.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default (100,)
        The width of each hidden layer.
    activation : str or list of str, default "relu"
        Hidden activation: "identity", "logistic" (= "sigmoid"), "tanh", "relu", and also
        "leaky_relu", "prelu", "elu", "gelu", "softplus"; a list gives one per hidden layer.
    solver : {"adam", "sgd", "lbfgs"}, default "adam"
    alpha : float, default 1e-4
        L2 penalty, scaled as in scikit-learn: (alpha/2)·Σ‖W‖² / batch size.
    batch_size : int or "auto", default "auto"
        "auto" is min(200, n_samples).
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        Schedule for solver "sgd".
    learning_rate_init : float, default 1e-3
    power_t : float, default 0.5
        Exponent of "invscaling".
    max_iter : int, default 200
        Epochs (sgd, adam) or iterations (lbfgs).
    shuffle : bool, default True
    random_state : int, RandomState, Generator or None, default None
    tol : float, default 1e-4
    verbose : bool, default False
        Print the loss of every epoch.
    warm_start : bool, default False
        Continue from the previous fit's weights.
    momentum : float, default 0.9
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data (or use ``validation_data``),
        stop when its accuracy stops improving, and keep the best epoch's weights.
    validation_fraction : float, default 0.1
    beta_1, beta_2, epsilon : float, defaults 0.9, 0.999, 1e-8
        Adam's parameters.
    n_iter_no_change : int, default 10
    max_fun : int, default 15000
        Function evaluations for lbfgs.
    dropout : float or list of float, default 0.0
        Dropout probability after each hidden layer (not with lbfgs).
    batch_norm : bool, default False
        BatchNorm1d after every hidden Linear layer.
    class_weight : None, "balanced" or dict, default None
        Weights per class, multiplied into ``sample_weight``.

    Attributes
    ----------
    classes_ : ndarray
    coefs_, intercepts_ : list of ndarray
        Weights (n_in, n_out) and biases (n_out,) of each Linear layer.
    loss_, best_loss_ : float
    loss_curve_ : list of float
    validation_scores_, best_validation_score_ : list of float, float, or None
    n_iter_, t_, n_layers_, n_outputs_, n_features_in_ : int
    out_activation_ : str
    model_ : Sequential
        The trained network, which outputs logits.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=1e-4, batch_size="auto", learning_rate="constant",
                 learning_rate_init=1e-3, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, batch_norm=False, class_weight=None):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun, dropout=dropout, batch_norm=batch_norm)
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None, *, validation_data=None):
        """Fit the network to (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (any hashable values), or a label-indicator matrix.
        sample_weight : array-like of shape (n_samples,), optional
        validation_data : tuple (X_val, y_val), optional
            Scored after every epoch (``validation_scores_``); with ``early_stopping`` it
            replaces the internal split.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, validation_data, incremental=False)

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one epoch on (X, y), keeping the weights and the optimizer's state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like, optional
            Every class that will ever appear; required on the first call.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._partial_classes = np.asarray(classes)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"`classes={np.asarray(classes)!r}` is not the same as on the first call to "
                f"partial_fit, which was {self.classes_!r}"
            )
        return self._fit(X, y, sample_weight, incremental=True)

    def _check_solver(self):
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is "
                "not stochastic."
            )
        return True

    def _y_validation(self):
        return {}

    def _encode_targets(self, y, first, incremental, dtype):
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind == "multilabel-indicator":
            classes = np.arange(y.shape[1])
        elif incremental and first:
            classes = np.unique(self._partial_classes)
            unseen = np.setdiff1d(np.unique(y), classes)
            if len(unseen):
                raise ValueError(
                    f"`y` has classes not in `classes`: {unseen!r}; classes are {classes!r}"
                )
        else:
            classes = np.unique(y)
        if first:
            if kind != "multilabel-indicator" and len(classes) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                    f"but the data contain only one class: {classes[0]!r}"
                )
            self.classes_ = classes
            self._multilabel = kind == "multilabel-indicator"
        else:
            if (kind == "multilabel-indicator") != self._multilabel or (
                    self._multilabel and y.shape[1] != len(self.classes_)):
                raise ValueError(
                    f"y is {kind}, which does not match the targets of the previous fit"
                )
            if not self._multilabel:
                unseen = np.setdiff1d(np.unique(y), self.classes_)
                if len(unseen):
                    what = ("the previous call to fit" if not incremental
                            else "the first call to partial_fit")
                    raise ValueError(
                        f"`y` has classes not in `self.classes_`: {unseen!r}. `self.classes_` "
                        f"has {self.classes_!r} from {what}."
                    )
        if self._multilabel:
            self.out_activation_ = "logistic"
            return y.astype(dtype), BCEWithLogitsLoss(), len(self.classes_)
        y_enc = np.searchsorted(self.classes_, y)
        if len(self.classes_) == 2:
            self.out_activation_ = "logistic"
            return y_enc.astype(dtype), BCEWithLogitsLoss(), 1
        self.out_activation_ = "softmax"
        return y_enc, SoftmaxCrossEntropyLoss(), len(self.classes_)

    def _encode_for_loss(self, y):
        if self._multilabel:
            return np.asarray(y, dtype=np.float64)
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if len(unseen):
            raise ValueError(f"validation_data has classes not seen in training: {unseen!r}")
        y_enc = np.searchsorted(self.classes_, y)
        return y_enc.astype(np.float64) if len(self.classes_) == 2 else y_enc

    def _extra_weights(self, y, sample_weight):
        if self.class_weight is None:
            return sample_weight
        if self._multilabel:
            raise ValueError("class_weight is not supported for multi-label targets")
        if not (self.class_weight == "balanced" or isinstance(self.class_weight, dict)):
            raise _invalid(self, "class_weight", "'balanced', a dict or None",
                           self.class_weight)
        weights = compute_sample_weight(self.class_weight, y)
        return weights if sample_weight is None else weights * sample_weight

    def _stratify(self, y):
        if self._multilabel:
            return False
        _, counts = np.unique(y, return_counts=True)
        return counts.min() >= 2

    def _score_output(self, output, y):
        return accuracy_score(y, self._labels(output))

    def _labels(self, output):
        if self._multilabel:
            return (output > 0).astype(int)
        if output.shape[1] == 1:
            return self.classes_[(output[:, 0] > 0).astype(int)]
        return self.classes_[output.argmax(axis=1)]

    def predict(self, X):
        """Predict class labels (or a label-indicator matrix for multi-label targets).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        return self._labels(self._forward(X))

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; for multi-label, each label's probability.
        """
        output = self._forward(X)
        if self._multilabel:
            return expit(output)
        if output.shape[1] == 1:
            p = expit(output[:, 0])
            return np.column_stack([1 - p, p])
        return softmax(output, axis=1)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably from the logits."""
        output = self._forward(X)
        if self._multilabel:
            return -np.logaddexp(0, -output)
        if output.shape[1] == 1:
            u = output[:, 0]
            return np.column_stack([-np.logaddexp(0, u), -np.logaddexp(0, -u)])
        return log_softmax(output, axis=1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


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
    n_iter_, t_, n_layers_, n_outputs_, n_features_in_ : int
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
        validation_data : tuple (X_val, y_val), optional

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

    _check_solver = MLPClassifier._check_solver

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

    def _score_output(self, output, y):
        return r2_score(y, output[:, 0] if output.shape[1] == 1 else output)

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
