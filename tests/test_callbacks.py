"""The training callbacks: each one's effect, in numbers."""

import csv
import io
import math

import numpy as np
import pytest

import mlp
from mlp.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientClipping,
    LRScheduler,
    ProgressBar,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from mlp.schedules import CosineAnnealing, StepDecay
from mlp.trainer import Trainer


def make_trainer(callbacks=(), lr=0.05, optimizer=mlp.SGD, seed=0, batch_size=16):
    rng = np.random.default_rng(seed)
    model = mlp.Sequential(mlp.Linear(4, 8, rng=rng), mlp.Tanh(), mlp.Linear(8, 3, rng=rng))
    return Trainer(model, mlp.SoftmaxCrossEntropyLoss(), optimizer(model.parameters(), lr=lr),
                   batch_size=batch_size, rng=seed, callbacks=callbacks,
                   score=lambda m, X, y: float(np.mean(m.forward(X).argmax(axis=1) == y)))


def weights(model):
    return [p.value.copy() for p in model.parameters()]


def drive(callback, trainer, values, monitor="val_loss"):
    """Call the epoch hooks by hand with a given sequence of monitored values; the verdicts."""
    callback.set_trainer(trainer)
    callback.on_train_begin({})
    verdicts = []
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        verdicts.append(callback.on_epoch_end(epoch, {"loss": 1.0, monitor: value}))
    return verdicts


# -- EarlyStopping --------------------------------------------------------------------------


def test_early_stopping_stops_after_patience_epochs_and_restores_the_best(iris):
    trainer = make_trainer()
    stop = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.01)
    stop.set_trainer(trainer)
    stop.on_train_begin({})
    values = [1.0, 0.8, 0.795, 0.7, 0.75, 0.71, 0.69, 0.5]
    snapshots, verdicts = [], []
    for epoch, value in enumerate(values):
        for p in trainer.model.parameters():  # the weights move every epoch
            p.value += 0.1
        snapshots.append(weights(trainer.model))
        verdicts.append(stop.on_epoch_end(epoch, {"loss": 1.0, "val_loss": value}))
        if verdicts[-1]:
            break
    # 0.795 is not 0.01 better than 0.8; 0.7 is; then 0.75 and 0.71 are not: stop at epoch 5
    assert verdicts == [False, False, False, False, False, True]
    assert (stop.best, stop.best_epoch, stop.stopped_epoch) == (0.7, 3, 5)
    stop.on_train_end({})
    for restored, kept in zip(weights(trainer.model), snapshots[3], strict=True):
        np.testing.assert_array_equal(restored, kept)


def test_early_stopping_in_a_trainer_keeps_the_epoch_it_reports(iris):
    X, y = iris
    stop = EarlyStopping(monitor="val_score", patience=3)
    trainer = make_trainer([stop], lr=0.5)
    history = trainer.fit(X[:100], y[:100], epochs=200, validation_data=(X[100:], y[100:]))
    assert stop._watch.mode == "max"
    assert history.stopped
    assert stop.stopped_epoch == stop.best_epoch + 3 == history.epochs - 1
    assert stop.best == max(history.val_score)
    # the model holds the best epoch's weights: its validation score is the best one
    assert trainer.score(trainer.model.eval(), X[100:], y[100:]) == stop.best


def test_early_stopping_names_what_it_cannot_find(iris):
    X, y = iris
    trainer = make_trainer([EarlyStopping(monitor="val_loss")])
    with pytest.raises(ValueError, match=r"'val_loss' is not among the numbers logged after an "
                                         r"epoch \(loss, lr, time\)"):
        trainer.fit(X, y, epochs=2)
    with pytest.raises(ValueError, match="mode must be 'min', 'max' or 'auto'"):
        EarlyStopping(mode="lowest")
    with pytest.raises(ValueError, match="patience must be a non-negative integer"):
        EarlyStopping(patience=-1)


# -- learning rates -------------------------------------------------------------------------


def test_reduce_lr_on_plateau_follows_patience_and_cooldown():
    trainer = make_trainer(lr=0.1)
    plateau = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=1,
                                min_lr=0.02, min_delta=0.0)
    rates = []
    plateau.set_trainer(trainer)
    plateau.on_train_begin({})
    for epoch, value in enumerate([1.0, 0.9, 0.9, 0.9, 0.95, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]):
        plateau.on_epoch_end(epoch, {"val_loss": value})
        rates.append(trainer.optimizer.lr)
    # halved after two epochs without improvement (epochs 2, 3), one epoch of cooldown (4),
    # two more (5, 6), then again (8, 9), where min_lr stops it at 0.02
    assert rates == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.02,
                                   0.02])
    assert plateau.reductions == [(3, 0.05), (6, 0.025), (9, 0.02)]


def test_lr_scheduler_steps_per_epoch_or_per_step(iris):
    X, y = iris
    trainer = make_trainer(lr=0.1)
    trainer.callbacks.append(LRScheduler(StepDecay(trainer.optimizer, step_size=2, gamma=0.5)))
    trainer.callbacks[-1].set_trainer(trainer)
    history = trainer.fit(X, y, epochs=5)
    # the rate each epoch trained with: halved after every second epoch
    assert history.lr == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025], rel=1e-15)
    assert trainer.optimizer.lr == pytest.approx(0.025, rel=1e-15)  # t = 5: 0.1·0.5²

    trainer = make_trainer(lr=0.1, batch_size=50)  # three steps per epoch
    cosine = CosineAnnealing(trainer.optimizer, T=6)
    trainer.callbacks.append(LRScheduler(cosine, per="step"))
    trainer.callbacks[-1].set_trainer(trainer)
    history = trainer.fit(X, y, epochs=2)
    assert cosine.t == 6
    # each epoch logs the rate its last step (t = 2, then 5) was taken with
    assert history.lr == pytest.approx([cosine.lr_at(2), cosine.lr_at(5)], rel=1e-15)
    assert history.lr[0] == pytest.approx(0.075, rel=1e-12)


def test_lr_scheduler_refuses_a_schedule_of_another_optimizer(iris):
    X, y = iris
    other = make_trainer()
    trainer = make_trainer([LRScheduler(StepDecay(other.optimizer, 2))])
    with pytest.raises(ValueError, match="another optimizer than the trainer's"):
        trainer.fit(X, y, epochs=1)


# -- gradients ------------------------------------------------------------------------------


class Recorder(Callback):
    def __init__(self):
        self.grads, self.begin = [], []

    def on_batch_begin(self, batch, logs=None):
        self.begin.append(weights(self.model))

    def on_gradients(self, batch, logs=None):
        self.grads.append([p.grad.copy() for p in self.model.parameters()])


def test_gradient_clipping_caps_the_global_norm_and_keeps_the_direction(iris):
    X, y = iris
    before, after = Recorder(), Recorder()
    clip = GradientClipping(max_norm=0.05)
    trainer = make_trainer([before, clip, after], lr=0.5)
    trainer.fit(X, y, epochs=2)
    assert len(clip.norms) == trainer.steps == 20
    clipped = 0
    for g_in, g_out, norm in zip(before.grads, after.grads, clip.norms, strict=True):
        flat_in, flat_out = np.concatenate([g.ravel() for g in g_in]), \
            np.concatenate([g.ravel() for g in g_out])
        assert np.linalg.norm(flat_in) == pytest.approx(norm, rel=1e-12)
        assert np.linalg.norm(flat_out) <= 0.05 * (1 + 1e-12)
        # the same direction: g_out is a non-negative multiple of g_in
        scale = min(1.0, 0.05 / norm)
        np.testing.assert_allclose(flat_out, scale * flat_in, rtol=1e-12, atol=0)
        clipped += norm > 0.05
    assert clipped > 0
    # and SGD stepped with the clipped gradient: θ' = θ − ε·g_clipped
    theta0 = np.concatenate([w.ravel() for w in after.begin[-1]])
    theta1 = np.concatenate([p.value.ravel() for p in trainer.model.parameters()])
    g = np.concatenate([g.ravel() for g in after.grads[-1]])
    np.testing.assert_allclose(theta1, theta0 - 0.5 * g, rtol=1e-12, atol=1e-15)


class Poison(Callback):
    """Make the weights non-finite after the step of one batch, as a diverging step would."""

    def __init__(self, epoch, batch):
        self.at = (epoch, batch)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.model.parameters()[0].value[0, 0] = np.nan


def test_terminate_on_nan_stops_at_the_step_and_keeps_the_last_finite_weights(iris):
    X, y = iris
    recorder, nan = Recorder(), TerminateOnNaN()
    trainer = make_trainer([recorder, Poison(1, 4), nan])
    history = trainer.fit(X, y, epochs=10)
    assert nan.stopped_at == (1, 4)
    assert "epoch 2, batch 5" in nan.message  # in words numbered from 1, as printed
    assert history.stopped
    assert history.epochs == 2
    assert trainer.steps == 10 + 5  # epoch 0 whole, epoch 1 up to its batch 4
    for kept, before_step in zip(weights(trainer.model), recorder.begin[-1], strict=True):
        np.testing.assert_array_equal(kept, before_step)


# -- output ---------------------------------------------------------------------------------


def test_csv_logger_writes_a_row_per_epoch(iris, tmp_path):
    X, y = iris
    path = tmp_path / "log.csv"
    trainer = make_trainer([CSVLogger(path)])
    history = trainer.fit(X[:100], y[:100], epochs=3, validation_data=(X[100:], y[100:]))
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "loss", "val_loss", "val_score", "lr", "time"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]  # numbered as the printout numbers
    assert [float(r["loss"]) for r in rows] == history.loss  # repr round-trips exactly
    assert [float(r["val_loss"]) for r in rows] == history.val_loss
    assert [float(r["lr"]) for r in rows] == [0.05] * 3
    assert all(float(r["time"]) > 0 for r in rows)


def test_csv_logger_refuses_an_unwritable_path_before_training(iris, tmp_path):
    X, y = iris
    trainer = make_trainer([CSVLogger(tmp_path / "missing" / "log.csv")])
    with pytest.raises(ValueError, match="cannot write .*log.csv: no such directory"):
        trainer.fit(X, y, epochs=1)
    assert trainer.steps == 0


def test_progress_bar_counts_the_epochs(iris):
    X, y = iris
    out = io.StringIO()
    make_trainer([ProgressBar(epochs=4, file=out)]).fit(X, y, epochs=4)
    text = out.getvalue()
    assert "4/4" in text
    assert "loss=" in text
    assert "lr=0.05" in text


def test_history_records_the_rate_and_the_time_of_every_epoch(iris):
    X, y = iris
    history = make_trainer().fit(X, y, epochs=3)
    assert history.lr == [0.05] * 3
    assert len(history.time) == 3
    assert all(t > 0 and math.isfinite(t) for t in history.time)
