"""The stochastic solvers ("sgd", "adam"): epochs of minibatches run by :class:`mlp.Trainer`.

scikit-learn's behaviour is made of the library's callbacks: its stopping rule (with or
without early stopping) is :class:`~mlp.callbacks.Convergence`, "invscaling" an
:class:`~mlp.callbacks.LRScheduler` over :class:`~mlp.schedules.InverseScaling` counted in
samples, "adaptive" Convergence's ``on_plateau``; the fitted attributes (``n_iter_``,
``loss_curve_``, ...) and ``verbose`` lines are kept by :class:`EstimatorRecord`. The
estimator's own ``callbacks`` come after these, as copies made by each ``fit`` (the fitted
``callbacks_``, which ``partial_fit`` goes on with), detached from the trainer at the end.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
from sklearn.model_selection import train_test_split

from ..callbacks import Callback, Convergence, LRScheduler
from ..optim import SGD, Adam
from ..schedules import InverseScaling
from ..trainer import Trainer
from ._sklearn_callbacks import EpochTasks


def optimizer_for(est, params):
    """The optimizer ``est.solver`` names, over ``params``, with ``est``'s settings."""
    if est.solver == "adam":
        return Adam(params, lr=est.learning_rate_init, beta1=est.beta_1,
                    beta2=est.beta_2, eps=est.epsilon)
    nesterov = bool(est.nesterovs_momentum) and est.momentum > 0
    return SGD(params, lr=est.learning_rate_init, momentum=est.momentum,
               nesterov=nesterov)


def _split(est, X, y, y_enc, sample_weight):
    """The early-stopping split: (train part, validation part), as scikit-learn makes it.

    Stratified for single-label classification (a class too small to split is
    ``train_test_split``'s ValueError), and refused when the validation part is too small
    to score.
    """
    split_seed = int(est._rng_.integers(np.iinfo(np.int32).max))
    weights = [] if sample_weight is None else [sample_weight]
    parts = train_test_split(X, y_enc, y, *weights, test_size=est.validation_fraction,
                             random_state=split_seed, stratify=y if est._stratify() else None)
    X, X_val, y_enc, _, y, y_val = parts[:6]
    w, w_val = parts[6:] if weights else (None, None)
    if X_val.shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the size of "
            "your dataset."
        )
    if w_val is not None and not w_val.any():
        raise ValueError("Every sample of the validation set has weight zero, so it cannot be "
                         "scored; increase 'validation_fraction' or give those samples weight.")
    return (X, y, y_enc, w), (X_val, y_val, w_val)


def fit_stochastic(est, X, y, y_enc, sample_weight, validation_data, incremental,
                   context=None):
    """Train ``est.model_`` for up to ``max_iter`` epochs (one with ``incremental``).

    ``context`` is the fit's task for scikit-learn's callbacks (``sklearn.callback``), whose
    subtasks the epochs become; None without them.

    Returns
    -------
    (X, sample_weight, unconverged)
        The data trained on (without the early-stopping validation part), and the
        ConvergenceWarning's message when ``max_iter`` was reached, else None.
    """
    early_stopping = est.early_stopping
    epochs = None if context is None else EpochTasks(est, context, X, y, sample_weight)
    val = None
    if validation_data is not None:
        val = est._validation_set(validation_data)
    elif early_stopping:
        (X, y, y_enc, sample_weight), val = _split(est, X, y, y_enc, sample_weight)
    if val is not None and val[0].shape[0] < 2:
        raise ValueError("The validation set is too small: it needs at least 2 samples.")
    X_val, y_val, w_val = val if val is not None else (None, None, None)
    validate = (X_val, est._encode_for_loss(y_val), w_val) if val is not None else None
    n_samples = X.shape[0]
    if est.batch_size == "auto":
        batch_size = min(200, n_samples)
    else:
        if est.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                          "going to be clipped", stacklevel=5)
        batch_size = min(est.batch_size, n_samples)
    if est.batch_norm and batch_size < 2:
        # BatchNorm normalises by each minibatch's own mean and variance
        raise ValueError(
            f"batch_norm=True needs minibatches of at least 2 samples, got {batch_size} "
            f"(batch_size={est.batch_size!r}, {n_samples} training sample(s))")

    if est._optimizer is None or not incremental:
        est._optimizer = optimizer_for(est, est.model_.parameters())
    optimizer = est._optimizer

    def score(model, X_v, y_v):
        return est._score(model.forward(X_v), y_val, w_val)

    # scikit-learn's rule: the training loss, or with early stopping the validation score
    # (whose best epoch is restored); partial_fit and warm_start count the epochs without
    # improvement across calls (the count starts at 0 when the network is built), and
    # continue from the best of earlier calls: the best loss, or with early stopping the
    # best validation score, which an epoch must beat to be restored (when none does, the
    # last epoch's weights stay, as in scikit-learn, whose kept best is the live weights then)
    best = est.best_validation_score_ if early_stopping else est.best_loss_
    convergence = Convergence(
        "val_score" if early_stopping else "loss", n_iter_no_change=est.n_iter_no_change,
        tol=est.tol, restore_best=bool(early_stopping),
        baseline=None if best is None or np.isnan(best) else best,
        wait=getattr(est, "_no_improvement_count", 0), on_plateau=_adaptive(est, optimizer))
    callbacks = [EstimatorRecord(est, n_samples), convergence]
    if est.solver == "sgd" and est.learning_rate == "invscaling":
        callbacks.append(_invscaling(est, optimizer))
    if epochs is not None:
        callbacks.append(epochs)
    # the fit works on copies of the callbacks given (the parameter stays as the user set
    # it); partial_fit goes on with those of the call before
    if not incremental or getattr(est, "callbacks_", None) is None:
        est.callbacks_ = copy.deepcopy(list(est.callbacks or ()))
    callbacks += est.callbacks_

    # scikit-learn's objective for every batch: Σ sᵢℓᵢ / Σ sᵢ + α/(2 Σ sᵢ)·Σ‖W‖²
    trainer = Trainer(
        est.model_, est._loss, optimizer, batch_size=batch_size, shuffle=est.shuffle,
        rng=est._rng_, l2=est.alpha / 2.0, l2_per_weight=True,
        score=score if validate is not None else None, callbacks=callbacks,
    )
    try:
        history = trainer.fit(X, y_enc, epochs=1 if incremental else est.max_iter,
                              sample_weight=sample_weight, validation_data=validate)
    finally:  # detached, the fitted estimator pickles without this fit's trainer
        for callback in est.callbacks_:
            callback.set_trainer(None)
    est._no_improvement_count = convergence.wait

    if history.interrupted:
        warnings.warn("Training interrupted by user.", stacklevel=5)
    if not history.loss:
        return X, sample_weight, None
    est.loss_ = history.loss[-1]
    if history.val_score:
        est.validation_scores_ = (est.validation_scores_ or []) + history.val_score
        est.validation_loss_curve_ = (est.validation_loss_curve_ or []) + history.val_loss
        finite = [v for v in est.validation_scores_ if not np.isnan(v)]
        est.best_validation_score_ = max(finite) if finite else np.nan
    if early_stopping:  # scikit-learn sets it to None when it builds the network only
        if len(est.loss_curve_) == history.epochs:
            est.best_loss_ = None
    else:
        est.best_loss_ = min(est.best_loss_ if est.best_loss_ is not None else np.inf,
                             history.best_loss)
    unconverged = None
    if not incremental and not history.converged and history.epochs == est.max_iter:
        unconverged = (f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached and "
                       "the optimization hasn't converged yet.")
    return X, sample_weight, unconverged


class EstimatorRecord(Callback):
    """Keeps an estimator's fitted attributes after every epoch, as scikit-learn's MLP does:
    ``n_iter_``, ``t_`` (samples seen), ``loss_curve_``, and the ``verbose`` lines."""

    def __init__(self, est, n_samples):
        self.est, self.n_samples = est, n_samples

    def on_epoch_end(self, epoch, logs=None):
        est = self.est
        est.n_iter_ += 1
        est.t_ += self.n_samples
        est.loss_curve_.append(logs["loss"])
        est._report(f"Iteration {est.n_iter_}, loss = {logs['loss']:.8f}")
        if "val_score" in logs:
            est._report(f"Validation score: {logs['val_score']:f}")
        return False


def _invscaling(est, optimizer):
    """scikit-learn's "invscaling": ε = ε₀ / (t + 1)^power_t after each epoch, t the samples
    seen over every call."""
    schedule = InverseScaling(optimizer, power_t=est.power_t)
    schedule.base_lr, schedule.t = est.learning_rate_init, est.t_
    return LRScheduler(schedule, per="sample")


def _adaptive(est, optimizer):
    """scikit-learn's "adaptive" rate, Convergence's ``on_plateau``: on a plateau divide the
    rate by 5 and go on, until it is 1e-6 or less."""
    def on_plateau(trainer):
        if est.solver == "sgd" and est.learning_rate == "adaptive" and optimizer.lr > 1e-6:
            optimizer.lr /= 5.0
            est._report(f"Setting learning rate to {optimizer.lr:f}")
            return True
        return False
    return on_plateau
