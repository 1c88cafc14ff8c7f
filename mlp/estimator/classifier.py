"""MLPClassifier: binary, multiclass and multi-label classification."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_softmax
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target

from .._text import shown_value
from ..losses import BCEWithLogitsLoss, SoftmaxCrossEntropyLoss
from ._base import _BaseMLP
from ._params import invalid


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
        L2 penalty, scaled as in scikit-learn: every solver minimises
        Σ sᵢℓᵢ / Σ sᵢ + α/(2 Σ sᵢ)·Σ‖W‖² (sᵢ the sample weights, 1 without; the sums over
        the minibatch for "sgd" and "adam", over all samples for "lbfgs").
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
    momentum : float in [0, 1), default 0.9
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data (or use ``validation_data``),
        stop when its accuracy stops improving, and keep the best epoch's weights.
    validation_fraction : float, default 0.1
    beta_1, beta_2, epsilon : float, defaults 0.9, 0.999, 1e-8
        Adam's parameters.
    n_iter_no_change : int or np.inf, default 10
        Epochs without an improvement of ``tol`` before stopping; ``np.inf`` never stops.
    max_fun : int, default 15000
        Function evaluations for lbfgs.
    dropout : float or list of float, default 0.0
        Dropout probability after each hidden layer (not with lbfgs).
    batch_norm : bool, default False
        BatchNorm1d after every hidden Linear layer.
    callbacks : list of mlp.callbacks.Callback, optional
        Library callbacks (:mod:`mlp.callbacks`: ``EarlyStopping``, ``CSVLogger``,
        ``GradientClipping``, ...) called by the training loop of the "sgd" and "adam"
        solvers, after the estimator's own rules (``early_stopping``, ``learning_rate``);
        one returning True stops training. A constructor parameter, as skorch has it, so
        ``clone``, ``get_params`` and grid searches carry it (each clone gets its own copy)
        and ``fit`` keeps scikit-learn's signature; model files do not keep it. ``fit``
        leaves these objects untouched: it trains with copies of them, kept as the fitted
        ``callbacks_`` (read a callback's results there), which ``partial_fit`` goes on with.
        scikit-learn's own callbacks (``sklearn.callback``, scikit-learn ≥ 1.9) are set
        with ``set_callbacks`` instead.
    class_weight : None, "balanced" or dict, default None
        Weights per class, multiplied into ``sample_weight``.
    n_threads : int, "auto" or None, default None
        BLAS threads while fitting: a positive count, capped at the cores available; None
        or "auto" chooses one thread for small networks (the largest per-batch product below
        :data:`mlp.threads.BREAK_EVEN`), else as many as there are cores other processes
        leave free, and keeps a limit the caller set (``OMP_NUM_THREADS`` and the like, or
        an enclosing ``threadpoolctl.threadpool_limits``). The count is the process's: fits
        running at once in several threads share the smallest one chosen, and the count from
        before comes back after the last. Results differ between counts by round-off only.
        Not in scikit-learn; see :mod:`mlp.threads`.

    Attributes
    ----------
    classes_ : ndarray
    coefs_, intercepts_ : list of ndarray
        Weights (n_in, n_out) and biases (n_out,) of each Linear layer; assignable (the
        whole list, or one item), shapes checked.
    loss_, best_loss_ : float
    loss_curve_ : list of float
    validation_scores_, best_validation_score_ : list of float, float, or None
    validation_loss_curve_ : list of float or None
        The objective on the validation set after every epoch, whenever one is used:
        Σ sᵢℓᵢ / Σ sᵢ + α/(2 Σ sᵢ)·Σ‖W‖² over its samples.
    n_iter_ : int
        Epochs (lbfgs: iterations) of the latest ``fit`` or ``partial_fit`` call.
    t_, n_layers_, n_outputs_, n_features_in_ : int
        ``t_`` counts every training sample seen, over all calls.
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
                 dropout=0.0, batch_norm=False, class_weight=None, n_threads=None,
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
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None, *, validation_data=None):
        """Fit the network to (X, y).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (any hashable values), or a label-indicator matrix.
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
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train one epoch on (X, y), keeping the weights and the optimizer's state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), optional
        classes : array-like, optional
            Every class that will ever appear; required on the first call.

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
                f"`classes={shown_value(np.asarray(classes), 200)}` is not the same as on the "
                f"first call to partial_fit, which was {shown_value(self.classes_, 200)}"
            )
        return self._fit(X, y, sample_weight, incremental=True)

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
                    f"`y` has classes not in `classes`: {shown_value(unseen, 200)}; classes are "
                    f"{shown_value(classes, 200)}"
                )
        else:
            classes = np.unique(y)
        if first:
            if kind != "multilabel-indicator" and len(classes) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                    f"but the data contain only one class: {shown_value(classes[0], 200)}"
                )
            self.classes_ = classes
            self._multilabel = kind == "multilabel-indicator"
        else:
            if (kind == "multilabel-indicator") != self._multilabel or (
                    self._multilabel and y.shape[1] != len(self.classes_)):
                raise ValueError(
                    f"y is {kind}, which does not match the targets of the previous fit"
                )
            if not self._multilabel and not incremental and \
                    not np.array_equal(classes, self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                )
            if not self._multilabel:
                unseen = np.setdiff1d(np.unique(y), self.classes_)
                if len(unseen):
                    what = ("the previous call to fit" if not incremental
                            else "the first call to partial_fit")
                    raise ValueError(
                        f"`y` has classes not in `self.classes_`: {shown_value(unseen, 200)}. "
                        f"`self.classes_` has {shown_value(self.classes_, 200)} from {what}."
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
            raise ValueError("validation_data has classes not seen in training: "
                             f"{shown_value(unseen, 200)}")
        y_enc = np.searchsorted(self.classes_, y)
        return y_enc.astype(np.float64) if len(self.classes_) == 2 else y_enc

    def _extra_weights(self, y, sample_weight):
        if self.class_weight is None:
            return sample_weight
        if self._multilabel:
            raise ValueError("class_weight is not supported for multi-label targets")
        if not (self.class_weight == "balanced" or isinstance(self.class_weight, dict)):
            raise invalid(self, "class_weight", "'balanced', a dict or None",
                          self.class_weight)
        weights = compute_sample_weight(self.class_weight, y)
        return weights if sample_weight is None else weights * sample_weight

    def _stratify(self):
        # as scikit-learn: a class too small to split is its ValueError, not a silent change
        return not self._multilabel

    def _score_output(self, output, y, sample_weight):
        return accuracy_score(y, self._labels(output), sample_weight=sample_weight)

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
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        return self._labels(self._forward(X))

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

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
        # softmax, max-subtracted so that exp never overflows
        P = np.exp(output - output.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        return P

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
