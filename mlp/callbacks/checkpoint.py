"""A callback that writes full-state checkpoints while training runs."""

from __future__ import annotations

from .base import Callback, _Monitor, saved_number

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Write a checkpoint (:func:`mlp.io.save_checkpoint`) at the end of epochs, atomically.

    The file holds the whole state of the run — weights and buffers, the optimizer's moments
    and step count, the random generators, the history, the other callbacks' states — so that
    :func:`mlp.io.load_checkpoint` and ``fit`` go on exactly as if training had never stopped.
    Each write replaces the file whole (a temporary file renamed into place), so an
    interruption leaves the previous checkpoint intact. The path is checked writable when
    training starts, before any work.

    Put it after the callbacks that change the state at the end of an epoch
    (:class:`~mlp.callbacks.LRScheduler`, :class:`~mlp.callbacks.ReduceLROnPlateau`), so
    that its checkpoints include their step of that epoch; one that follows it is refused.

    Parameters
    ----------
    path : str or Path
    monitor : str, default "val_loss"
        The logged number that decides the best epoch with ``save_best_only``.
    mode : {"auto", "min", "max"}, default "auto"
        "auto" takes "max" for names ending in "score" or "accuracy", else "min".
    save_best_only : bool, default True
        Write only when ``monitor`` improved on the best epoch written so far; False writes at
        every ``every``-th epoch.
    every : int, default 1
        Consider writing after every ``every``-th epoch (epochs 1·k, 2·k, ... counted from 1
        across ``fit`` calls).
    metadata : dict, optional
        Stored in every checkpoint (see :func:`mlp.io.save_checkpoint`).

    Attributes
    ----------
    best : float or None
        The monitored value of the last checkpoint written with ``save_best_only``.
    saved_epochs : list of int
        The epochs (0-based) written by this callback.
    """

    def __init__(self, path, monitor="val_loss", mode="auto", save_best_only=True, every=1,
                 metadata=None):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"ModelCheckpoint: every must be a positive integer, got {every!r}")
        self.path, self.every, self.metadata = path, every, metadata
        self.save_best_only = bool(save_best_only)
        self._watch = _Monitor("ModelCheckpoint", monitor, mode, 0.0)
        self.best = None
        self.saved_epochs = []

    def on_train_begin(self, logs=None):
        from ..io import check_writable

        check_writable(self.path)
        later = self.trainer.callbacks[self.trainer.callbacks.index(self) + 1:]
        for callback in later:
            keeps_state = type(callback).state_dict is not Callback.state_dict
            if isinstance(callback, Callback) and keeps_state and callback.changes_at_epoch_end \
                    and not isinstance(callback, ModelCheckpoint):
                raise ValueError(f"ModelCheckpoint: put it after {type(callback).__name__} in "
                                 "callbacks=, so that its checkpoints hold that callback's "
                                 "step at the end of each epoch")

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return False
        if self.save_best_only:
            value = self._watch.value(logs)
            if not self._watch.improved(value):
                return False
            self._watch.best = self.best = value
        from ..io import save_checkpoint

        save_checkpoint(self.path, self.trainer, metadata=self.metadata, epoch_logs=logs)
        self.saved_epochs.append(epoch)
        return False

    def state_dict(self):
        return {"best": self.best}

    def load_state_dict(self, state):
        self._watch.best = self.best = saved_number("ModelCheckpoint", state, "best")

    def __repr__(self):
        return (f"ModelCheckpoint({str(self.path)!r}, monitor={self._watch.monitor!r}, "
                f"save_best_only={self.save_best_only}, every={self.every})")
