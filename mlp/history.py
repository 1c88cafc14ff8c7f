"""History: what happened during training, one entry per epoch.

Filled by :class:`mlp.trainer.Trainer` (and by callbacks such as
:class:`mlp.diagnostics.Diagnostics`); kept apart from the loop so the record reads on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["History"]


@dataclass
class History:
    """What happened during training, one entry per epoch.

    Attributes
    ----------
    loss : list of float
        Mean training loss over the epoch's minibatches (weighted by their sizes), the L2
        penalty included.
    val_loss : list of float
        Loss on the validation data after each epoch, penalty included (empty without
        validation data).
    val_score : list of float
        ``score(model, X_val, y_val)`` after each epoch, when a score function is given.
    best_loss : float
        The lowest training loss so far.
    best_val_score : float or None
        The highest validation score so far.
    best_epoch : int or None
        The epoch (0-based) of the best monitored value.
    converged : bool
        Whether training stopped because the monitored value stopped improving.
    stopped : bool
        Whether a callback stopped training (by returning True after an epoch, or by
        setting ``trainer.stop_training``, which also ends the epoch after the current step).
    interrupted : bool
        Whether Ctrl-C (KeyboardInterrupt) stopped training.
    diverged : bool
        Whether the network's output became NaN or infinite, with best weights kept to go
        back to: that epoch is recorded with NaN losses and score, and training stops.
    lr : list of float
        The learning rate each epoch's last step was taken with (a per-step schedule may
        have lowered it already for the next step), before the epoch-end callbacks (a
        per-epoch schedule, a plateau) change it for the next epoch.
    time : list of float
        Wall-clock seconds of each epoch, validation included.
    diagnostics : list of dict
        Rows of per-layer statistics recorded by :class:`mlp.diagnostics.Diagnostics`.
    metrics : dict of str to list of float
        Any other number a callback added to the epoch's logs (e.g. a training score), one
        entry per epoch from the epoch it first appeared.
    stop_reason : str or None
        Why the last ``fit`` call ended: ``"epochs"`` (all were run), ``"converged"``,
        ``"early stopping"``, ``"non-finite"``, ``"interrupted"`` or ``"callback"``.
    stop_message : str or None
        The same in words, for people (e.g. "no improvement of val_score for 5 epochs").
    kept_epoch : int or None
        The epoch whose weights the model holds after ``fit``: the last one, unless a
        callback (early stopping, a kept best) put back an earlier one.
    """

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_score: list[float] = field(default_factory=list)
    best_loss: float = np.inf
    best_val_score: float | None = None
    best_epoch: int | None = None
    converged: bool = False
    stopped: bool = False
    interrupted: bool = False
    diverged: bool = False
    lr: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    diagnostics: list[dict] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    stop_reason: str | None = None
    stop_message: str | None = None
    kept_epoch: int | None = None

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def note_best(self, epoch: int) -> None:
        """Update the bests with epoch ``epoch``, just recorded: ``best_loss``,
        ``best_val_score`` (NaN never counts) and ``best_epoch`` (by the validation score
        when there is one, else by the training loss)."""
        loss = self.loss[-1]
        if loss < self.best_loss:
            self.best_loss = loss
            if not self.val_score:
                self.best_epoch = epoch
        score = self.val_score[-1] if self.val_score else np.nan
        if not np.isnan(score) and (self.best_val_score is None or score > self.best_val_score):
            self.best_val_score = score
            self.best_epoch = epoch
