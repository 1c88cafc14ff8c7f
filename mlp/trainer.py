"""The training loop: epochs of shuffled minibatches, each a forward, a backward and a step.

:class:`Trainer` runs the loop and records the :class:`~mlp.history.History`; everything that
steers it — stopping early, keeping the best weights, learning-rate schedules, clipping,
logging — is a callback (:mod:`mlp.callbacks`) called at fixed points of the loop. The
``early_stopping``/``n_iter_no_change``/``keep_best``/``on_plateau`` arguments are a short way
to ask for one of them, :class:`~mlp.callbacks.Convergence` (scikit-learn's stopping rule).
How the hooks are called is :class:`mlp.callbacks.base.CallbackCaller`, beside the hooks'
definitions. :func:`fit` is the one-call form.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from .base import Layer, as_generator, issparse
from .callbacks import Callback, Convergence
from .callbacks.base import CallbackCaller
from .history import History
from .layers import BatchNorm1d
from .losses import DivergedError, L2Penalty, Loss
from .optim import Optimizer
from .threads import check_threads, threads_during_fit

__all__ = ["History", "Trainer", "fit"]


def _batch_size(batch_size, n_samples):
    if batch_size is None or batch_size == 0 or batch_size == "full":
        return n_samples
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 0:
        raise ValueError(
            f"batch_size must be a positive integer, 0 or 'full' (full batch), got {batch_size!r}"
        )
    return min(int(batch_size), n_samples)


def _layers(layer):
    """``layer`` and every layer inside it."""
    yield layer
    for child in layer.children():
        yield from _layers(child)


class Trainer(CallbackCaller):
    """Minibatch training of a model with a loss and an optimizer.

    Parameters
    ----------
    model : Layer
        Usually a :class:`~mlp.Sequential`.
    loss : Loss
    optimizer : Optimizer
        Built from ``model.parameters()``.
    batch_size : int, 0, None or "full", default 32
        0, None or "full" give full-batch gradient descent; 1 gives per-example SGD.
    shuffle : bool, default True
        Reorder the samples at the start of every epoch (one permutation per epoch).
    rng : None, int or numpy.random.Generator
        Source of the shuffling order.
    l2 : float, default 0
        γ of the L2 penalty γ·Σ‖W‖² on the weights (not the biases), added to the loss of
        every batch; see :class:`mlp.losses.L2Penalty`.
    l2_per_weight : bool, default False
        Divide γ by the total sample weight of each batch (its size when unweighted), and of
        the validation set for the validation loss: the objective is then
        Σ sᵢℓᵢ / Σ sᵢ + γ/Σ sᵢ·Σ‖W‖², scikit-learn's (with γ = α/2).
    score : callable, optional
        ``score(model, X, y) -> float``, higher is better; evaluated on the validation data
        after every epoch (the model is in eval mode).
    early_stopping : bool, default False
        Stop by the validation score instead of the training loss, and restore the weights
        of the best epoch at the end. Needs validation data and ``score``.
    tol : float, default 1e-4
        The improvement that counts.
    n_iter_no_change : int or None, default None
        Epochs without improvement tolerated; None never stops early.
    keep_best : bool, optional
        Keep a copy of the weights of the best epoch (by the monitored number: the
        validation score with ``early_stopping``, else the training loss), restored at the
        end with early stopping and after an interruption or a divergence. Defaults to
        ``early_stopping``.
    on_plateau : callable, optional
        Called as ``on_plateau(trainer)`` when the monitored value has stopped improving;
        returning True resets the count and continues (e.g. after lowering the learning rate),
        anything else stops.
    callbacks : iterable of Callback or callables
        :class:`~mlp.callbacks.Callback` objects get every hook (see :mod:`mlp.callbacks`);
        a plain function is called as ``callback(epoch, history)`` after every epoch.
        Returning True from either stops training, as does a callback setting
        :attr:`stop_training` (then after the current step). Progress reporting hooks in here.
    threads : int, "auto" or None, default None
        BLAS threads during :meth:`fit`: a positive count (at most the cores); None or
        "auto" chooses (one thread for small networks, and no more than the cores other
        processes leave free) and keeps a limit the caller set (environment variable or an
        enclosing ``threadpool_limits``); see :mod:`mlp.threads`.

    Notes
    -----
    ``early_stopping``, ``tol``, ``n_iter_no_change``, ``keep_best`` and ``on_plateau``
    build one :class:`~mlp.callbacks.Convergence` callback, called before those given in
    ``callbacks``; the same behaviour is had by passing that callback yourself.

    Attributes
    ----------
    history : History
    steps : int
        Optimizer steps taken, over all ``fit`` calls.
    stop_training : bool
        Set by a callback to end training after the current step; reset by ``fit``.
    phase : None, "begin", "epochs" or "end"
        Where :meth:`fit` is: its start (``on_train_begin``), its epochs (a KeyboardInterrupt
        then ends training cleanly), or its end (``on_train_end``, where an interruption
        would lose the end of the run: a signal handler should defer it).
    """

    def __init__(self, model, loss, optimizer, *, batch_size=32, shuffle=True, rng=None, l2=0.0,
                 l2_per_weight=False, score: Callable | None = None, early_stopping=False, tol=1e-4,
                 n_iter_no_change=None, keep_best=None, on_plateau: Callable | None = None,
                 callbacks=(), threads=None):
        if not isinstance(model, Layer):
            raise TypeError(f"Trainer: model must be a Layer, got {type(model).__name__}")
        if not isinstance(loss, Loss):
            raise TypeError(f"Trainer: loss must be a Loss, got {type(loss).__name__}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"Trainer: optimizer must be an Optimizer, got {type(optimizer).__name__}"
            )
        if early_stopping and score is None:
            raise ValueError("Trainer: early_stopping needs a score function")
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.batch_size = batch_size
        _batch_size(batch_size, 1)  # validate now rather than at the first epoch
        self.shuffle = bool(shuffle)
        self.threads = threads
        check_threads(threads, "Trainer: threads")
        self.rng = as_generator(rng)
        self.params = model.parameters()
        self.penalty = L2Penalty(l2) if l2 else None
        self.l2, self.l2_per_weight = float(l2), bool(l2_per_weight)
        # BatchNorm cannot train on a batch of one sample: such a last batch joins the one before
        self._join_single = any(isinstance(layer, BatchNorm1d) for layer in _layers(model))
        self.score = score
        self.early_stopping = bool(early_stopping)
        self.tol = float(tol)
        self.n_iter_no_change = n_iter_no_change
        self.keep_best = self.early_stopping if keep_best is None else bool(keep_best)
        self.on_plateau = on_plateau
        self.callbacks = list(callbacks)
        if self.early_stopping or n_iter_no_change is not None or self.keep_best:
            restore = True if self.early_stopping else "on_interrupt" if self.keep_best \
                else False
            self.callbacks.insert(0, Convergence(
                "val_score" if self.early_stopping else "loss", n_iter_no_change=n_iter_no_change,
                tol=tol, restore_best=restore, on_plateau=on_plateau))
        for callback in self.callbacks:
            if isinstance(callback, Callback):
                callback.set_trainer(self)
        self.steps = 0
        self.stop_training = False
        self.phase = None
        self.history = History()
        self.samples_seen = 0
        # set by mlp.io.load_checkpoint: put the callbacks' state back after their reset
        self._resumed = None

    # -- one epoch -----------------------------------------------------------------------
    def run_epoch(self, X, y, sample_weight=None) -> float:
        """One pass over (X, y) in minibatches; returns the mean training loss.

        Parameters
        ----------
        X : ndarray or scipy CSR matrix/array of shape (N, n_in)
            A sparse X stays sparse: each batch is a slice of its rows.
        y : ndarray of shape (N,) or (N, K)
        sample_weight : ndarray of shape (N,), optional
            Per-sample weights: each batch's loss is the weighted mean over its samples, and
            the epoch's loss the mean of the batches' losses weighted by their total weight.
            A batch whose weights are all zero is skipped (no step).

        Returns
        -------
        float
        """
        model, loss, optimizer, penalty = self.model, self.loss, self.optimizer, self.penalty
        n_samples = X.shape[0]
        size = _batch_size(self.batch_size, n_samples)
        model.train()
        # One permutation per epoch, and each batch gathered when it is used: the batch is
        # then still in cache for its forward pass, and no shuffled copy of the whole data
        # set is ever made (measured: 20% faster per epoch than gathering everything first).
        order = self.rng.permutation(n_samples) if self.shuffle else None
        starts = list(range(0, n_samples, size)) + [n_samples]
        if self._join_single and len(starts) > 2 and n_samples - starts[-2] == 1:
            del starts[-2]
        total = total_weight = 0.0
        for batch, (start, stop) in enumerate(zip(starts[:-1], starts[1:], strict=True)):
            rows = slice(start, stop) if order is None else order[start:stop]
            X_batch, y_batch = X[rows], y[rows]
            w_batch = None if sample_weight is None else sample_weight[rows]
            weight = X_batch.shape[0] if w_batch is None else float(w_batch.sum())
            if weight == 0:
                continue  # nothing to learn from, and no step to take
            logs = {"size": X_batch.shape[0]}
            for hook in self._hooks("on_batch_begin"):
                hook(batch, logs)
            value = loss.forward(model.forward(X_batch), y_batch, w_batch)
            model.backward(loss.backward(), input_grad=False)
            if penalty is not None:
                value += self._penalty(weight)
                penalty.backward(self.params)
            logs["loss"] = value
            for hook in self._hooks("on_gradients"):
                hook(batch, logs)
            self._lr_used = optimizer.lr  # the epoch's rate: its last step's, as it was taken
            optimizer.step()
            self.steps += 1
            for hook in self._hooks("on_batch_end"):
                hook(batch, logs)
            total += value * weight
            total_weight += weight
            if self.stop_training:
                break
        self.samples_seen += n_samples
        if total_weight == 0:
            raise ValueError("run_epoch: every sample weight is zero, there is nothing to fit")
        return total / total_weight

    def _penalty(self, weight):
        """γ·Σ‖W‖², γ set for a set of samples of total weight ``weight``."""
        self.penalty.gamma = self.l2 / weight if self.l2_per_weight else self.l2
        return self.penalty.forward(self.params)

    # -- many epochs ---------------------------------------------------------------------
    @threads_during_fit
    def fit(self, X, y, *, epochs=100, sample_weight=None, validation_data=None) -> History:
        """Train for up to ``epochs`` epochs, stopping early as configured.

        Parameters
        ----------
        X : array-like or scipy sparse matrix/array of shape (N, n_in)
            Sparse input is kept sparse (in CSR form, whose rows slice cheaply); the
            model's first layer must take it (:class:`mlp.Linear` does).
        y : array-like of shape (N,) or (N, K)
            Targets as the loss takes them.
        epochs : int, default 100
        sample_weight : array-like of shape (N,), optional
        validation_data : tuple (X_val, y_val) or (X_val, y_val, sample_weight_val), optional
            Evaluated in eval mode after every epoch; the loss is weighted by
            ``sample_weight_val`` when given.

        Returns
        -------
        History
            ``self.history``, extended by this call.
        """
        X = X.tocsr() if issparse(X) else np.asarray(X)
        y = np.asarray(y)
        if X.ndim != 2 or X.shape[0] != len(y) or X.shape[0] == 0:
            raise ValueError(
                f"fit: X must be 2-D with one row per target, got X of shape {X.shape} and y of "
                f"shape {y.shape}"
            )
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.shape != (X.shape[0],):
                raise ValueError(
                    f"fit: sample_weight must have shape ({X.shape[0]},), got "
                    f"{sample_weight.shape}"
                )
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
        if self.early_stopping and validation_data is None:
            raise ValueError("fit: early_stopping needs validation_data")

        history = self.history
        history.converged = history.stopped = history.interrupted = history.diverged = False
        history.stop_reason = history.stop_message = history.kept_epoch = None
        self.stop_training = False
        diverged = None
        self.phase = "begin"
        self._hook("set_trainer", self)  # attached when fitting: one may serve several trainers
        self._hook("on_train_begin", {})
        resumed, self._resumed = self._resumed, None
        if resumed is not None:  # a restored checkpoint goes on where it stopped
            resumed()
        # overflow becomes infinity, caught as divergence below, whatever the caller's errstate
        try:
            self.phase = "epochs"
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for _ in range(int(epochs)):
                    epoch = history.epochs
                    started = time.perf_counter()
                    self._hook("on_epoch_begin", epoch, {})
                    try:
                        loss = self.run_epoch(X, y, sample_weight)
                    except DivergedError as exc:
                        loss, diverged = np.nan, exc
                        history.diverged = True
                        history.stop_reason = "non-finite"
                        history.stop_message = f"the network's output became non-finite at " \
                                               f"epoch {epoch + 1}"
                    self._record(epoch, loss, validation_data, started)
                    if any(self._epoch_end(epoch)) or self.stop_training:
                        history.stopped = not history.converged
                        history.stop_reason = history.stop_reason or "callback"
                    if history.converged or history.stopped or history.diverged:
                        break
            self.phase = "end"  # a handler may defer a signal from here (mlp train's does)
        except KeyboardInterrupt:
            # Ctrl-C ends training, not the program: the caller decides what comes next
            history.interrupted = True
            history.stop_reason, history.stop_message = "interrupted", None
            self.phase = "end"
        if history.stop_reason is None:
            history.stop_reason = "epochs"
        # interrupted, the weights are those of an unfinished epoch; diverged, weights that
        # overflow: none is kept, unless a callback puts back a finished epoch's
        history.kept_epoch = history.epochs - 1 if history.epochs and not history.interrupted \
            and diverged is None else None
        self.model.train()
        self._hook("on_train_end", {})
        self.phase = None
        if diverged is not None and history.kept_epoch is None:
            raise diverged  # nothing finite was kept to go back to
        return history

    def _record(self, epoch, loss, validation_data, started):
        """Append epoch ``epoch``'s numbers to the history, and note the best so far."""
        history = self.history
        history.loss.append(loss)
        if validation_data is not None:
            self._validate(*validation_data)
        history.lr.append(float(getattr(self, "_lr_used", self.optimizer.lr)))
        history.time.append(time.perf_counter() - started)
        history.note_best(epoch)

    def _validate(self, X_val, y_val, sample_weight=None):
        history, model = self.history, self.model
        model.eval()
        output = model.forward(X_val)
        finite = bool(np.isfinite(output).all())
        value = self.loss.forward(output, y_val, sample_weight) if finite else np.nan
        if self.penalty is not None and finite:
            value += self._penalty(X_val.shape[0] if sample_weight is None
                                   else float(np.sum(sample_weight)))
        history.val_loss.append(value)
        if self.score is not None:
            history.val_score.append(float(self.score(model, X_val, y_val)) if finite
                                     else np.nan)
        model.train()


def fit(model, loss, optimizer, X, y, *, epochs=100, batch_size=32, shuffle=True, rng=None,
        sample_weight=None, validation_data=None, l2=0.0, score=None, early_stopping=False,
        tol=1e-4, n_iter_no_change=None, keep_best=None, callbacks=(), threads=None) -> History:
    """Train ``model`` by minibatch gradient descent: :class:`Trainer` in one call.

    Every step runs ``model.forward`` on a batch, ``loss.forward`` and ``loss.backward``,
    ``model.backward`` (without the input gradient, which nobody needs), adds the L2
    penalty's gradient if there is one, and calls ``optimizer.step()``.

    Parameters
    ----------
    model, loss, optimizer
        As for :class:`Trainer`.
    X : ndarray of shape (N, n_in)
    y : ndarray of shape (N,) or (N, K)
        Targets as ``loss`` takes them.
    epochs : int, default 100
    batch_size, shuffle, rng, l2, score, early_stopping, tol, n_iter_no_change, keep_best,
    callbacks, threads
        As for :class:`Trainer`.
    sample_weight, validation_data
        As for :meth:`Trainer.fit`.

    Returns
    -------
    History
    """
    trainer = Trainer(model, loss, optimizer, batch_size=batch_size, shuffle=shuffle, rng=rng,
                      l2=l2, score=score, early_stopping=early_stopping, tol=tol,
                      n_iter_no_change=n_iter_no_change, keep_best=keep_best,
                      callbacks=callbacks, threads=threads)
    return trainer.fit(X, y, epochs=epochs, sample_weight=sample_weight,
                       validation_data=validation_data)
