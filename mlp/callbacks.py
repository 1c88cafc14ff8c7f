"""Callbacks: code the training loop calls at fixed points, without a loop of its own.

A :class:`Callback` overrides the hooks it needs; the others do nothing. The
:class:`~mlp.trainer.Trainer` calls, in order::

    on_train_begin(logs)
        on_epoch_begin(epoch, logs)
            on_batch_begin(batch, logs)   on_batch_end(batch, logs)    (once per minibatch)
        on_epoch_end(epoch, logs)       returning True stops training
    on_train_end(logs)

``logs`` is a plain dict of the numbers at that point: ``{"size": n}`` before a batch,
``{"size": n, "loss": L}`` after it (the batch's loss before the step, penalty included), and
``{"loss": ..., "val_loss": ..., "val_score": ...}`` after an epoch (the entries there are).
Epochs and batches count from 0; ``batch`` counts within the epoch, and
``trainer.steps`` counts all steps taken. The model, the optimizer and the history are
reached through the trainer the callback is attached to (:attr:`Callback.model`, ...).

A plain function ``f(epoch, history)`` in ``callbacks=`` is still called after every epoch,
and returning True stops training, as before.
"""

from __future__ import annotations

__all__ = ["Callback"]


class Callback:
    """Base class of the callbacks: every hook does nothing.

    Attributes
    ----------
    trainer : Trainer or None
        Set by the trainer the callback is given to (:meth:`set_trainer`).
    """

    trainer = None

    def set_trainer(self, trainer) -> None:
        """Attach to ``trainer``; called by :class:`~mlp.trainer.Trainer` when built."""
        self.trainer = trainer

    @property
    def model(self):
        """The model being trained."""
        return self.trainer.model

    @property
    def optimizer(self):
        """The optimizer taking the steps."""
        return self.trainer.optimizer

    @property
    def history(self):
        """The trainer's :class:`~mlp.trainer.History`."""
        return self.trainer.history

    def on_train_begin(self, logs=None):
        """Before the first epoch of a ``fit`` call."""

    def on_epoch_begin(self, epoch, logs=None):
        """Before epoch ``epoch`` (0-based, counting all ``fit`` calls)."""

    def on_batch_begin(self, batch, logs=None):
        """Before the forward pass of minibatch ``batch`` (0-based within the epoch)."""

    def on_batch_end(self, batch, logs=None):
        """After the optimizer step of minibatch ``batch``; gradients are still in place."""

    def on_epoch_end(self, epoch, logs=None):
        """After epoch ``epoch`` and its validation; return True to stop training."""

    def on_train_end(self, logs=None):
        """After the last epoch (also after an interruption)."""

    def __repr__(self):
        return f"{type(self).__name__}()"
