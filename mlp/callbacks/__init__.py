"""Callbacks: code the training loop calls at fixed points, without a loop of its own.

A :class:`Callback` overrides the hooks it needs; the others do nothing. The
:class:`~mlp.trainer.Trainer` calls, in order::

    on_train_begin(logs)
        on_epoch_begin(epoch, logs)
            on_batch_begin(batch, logs)                        (once per minibatch:)
            on_gradients(batch, logs)      after backward, before the optimizer's step
            on_batch_end(batch, logs)      after the step
        on_epoch_end(epoch, logs)       returning True stops training
    on_train_end(logs)

``logs`` is a plain dict of the numbers at that point: ``{"size": n}`` before a batch,
``{"size": n, "loss": L}`` from the gradients on (the batch's loss before the step, penalty
included), and ``{"loss": ..., "val_loss": ..., "val_score": ..., "lr": ..., "time": ...}``
after an epoch (the entries there are; ``time`` in seconds). After an epoch the callbacks
share one dict, in order: a number one adds there (a training score, ``GradientClipping``'s
``grad_norm``) is seen by those after it and kept in ``history.metrics``. A callback stops
training from any hook by setting ``trainer.stop_training = True``, or by
``trainer.stop(reason, message)`` which also says why (``history.stop_reason``): the epoch
ends after the current step.
Epochs and batches count from 0; ``batch`` counts within the epoch, and
``trainer.steps`` counts all steps taken. The model, the optimizer and the history are
reached through the trainer the callback is attached to (:attr:`Callback.model`, ...).

A plain function ``f(epoch, history)`` in ``callbacks=`` is still called after every epoch,
and returning True stops training, as before.

The callbacks shipped here: :class:`EarlyStopping` and :class:`Convergence` (scikit-learn's
stopping rule, which the estimators and the trainer's own arguments use),
:class:`GradientClipping` and :class:`TerminateOnNaN` (in ``training.py``),
:class:`ReduceLROnPlateau` and :class:`LRScheduler` (in ``rates.py``), :class:`CSVLogger` and
:class:`ProgressBar` (in ``output.py``), :class:`ModelCheckpoint` (in ``checkpoint.py``:
full-state checkpoints, see :mod:`mlp.io.checkpoint`);
:class:`mlp.diagnostics.Diagnostics` records per-layer statistics.
"""

from .base import Callback
from .checkpoint import ModelCheckpoint
from .output import CSVLogger, ProgressBar
from .rates import LRScheduler, ReduceLROnPlateau
from .training import Convergence, EarlyStopping, GradientClipping, TerminateOnNaN

__all__ = ["Callback", "Convergence", "CSVLogger", "EarlyStopping", "GradientClipping",
           "LRScheduler", "ModelCheckpoint", "ProgressBar", "ReduceLROnPlateau",
           "TerminateOnNaN"]
