"""The training surfaces keep their word: a fit leaves its callbacks untouched and pickles,
divergence stops training the documented way, a callback attaches to the trainer that fits."""

import csv
import os
import pickle
import signal
import sys
import warnings
from contextlib import nullcontext
from functools import partial

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import mlp
from mlp.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientClipping,
    LRScheduler,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from mlp.cli import main
from mlp.schedules import StepDecay
from mlp.trainer import Trainer


def quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def shipped_callbacks(tmp_path):
    return [EarlyStopping(monitor="loss", patience=3), ReduceLROnPlateau(monitor="loss"),
            GradientClipping(5.0), TerminateOnNaN(), CSVLogger(tmp_path / "log.csv")]


def test_a_fit_leaves_callbacks_untouched_and_the_estimator_pickles(iris, tmp_path):
    X, y = iris
    callbacks = shipped_callbacks(tmp_path)
    clf = mlp.MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0,
                            callbacks=callbacks)
    before = joblib.hash(clf.get_params())
    quiet_fit(clf, X, y)
    assert joblib.hash(clf.get_params()) == before
    assert all(c.trainer is None for c in callbacks)
    assert callbacks[0].best is None
    fitted = clf.callbacks_
    assert [type(c) for c in fitted] == [type(c) for c in callbacks]
    assert fitted[0] is not callbacks[0]
    assert fitted[0].best_epoch is not None
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    joblib.dump(clf, tmp_path / "clf.joblib")
    # partial_fit goes on with the fitted copies
    clf.partial_fit(X, y)
    assert clf.callbacks_ is fitted
    assert callbacks[0].trainer is None
    pickle.dumps(clf)


def diverging_trainer(callbacks, lr=1.0):
    """A regression whose squared error overflows within a few epochs at lr=1."""
    rng = np.random.default_rng(0)
    model = mlp.Sequential(mlp.Linear(4, 16, rng=rng), mlp.ReLU(), mlp.Linear(16, 1, rng=rng))
    return Trainer(model, mlp.MSELoss(), mlp.SGD(model.parameters(), lr=lr),
                   batch_size=8, rng=0, callbacks=callbacks)


def test_divergence_under_a_raising_errstate_stops_training_and_keeps_the_best(iris):
    X, y = iris
    class Bolder(Callback):  # three sound epochs, then a rate that overflows
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                self.optimizer.lr = 5.0

    trainer = diverging_trainer([EarlyStopping(monitor="loss", patience=100,
                                               restore_best="on_interrupt"), Bolder()], lr=0.05)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        history = trainer.fit(X, y * 1.0, epochs=200)
    assert history.diverged
    assert history.stop_reason == "non-finite"
    assert history.kept_epoch is not None
    assert np.isfinite(history.loss[history.kept_epoch])
    assert np.isfinite(trainer.model.forward(X)).all()


def test_divergence_without_a_kept_epoch_raises(iris):
    X, y = iris
    with np.errstate(over="raise"), pytest.raises(mlp.losses.DivergedError):
        diverging_trainer([]).fit(X, y * 1.0, epochs=200)


def test_terminate_on_nan_catches_an_overflowing_output(iris):
    X, y = iris
    stop = TerminateOnNaN()
    reg = mlp.MLPRegressor(solver="sgd", learning_rate_init=1e6, max_iter=50,
                           callbacks=[stop], random_state=0)
    quiet_fit(reg, X, y * 1.0)
    fitted = reg.callbacks_[0]
    assert fitted.stopped_at is not None
    assert "non-finite" in fitted.message
    epoch, batch = fitted.stopped_at
    assert f"at epoch {epoch + 1}, batch {batch + 1}" in fitted.message
    assert np.isfinite(reg.predict(X)).all()
    assert all(np.isfinite(c).all() for c in reg.coefs_)


def test_cli_divergence_saves_the_kept_epoch(tmp_path, capsys):
    model = tmp_path / "d.npz"
    status = main(["train", "--data", "iris", "--optimizer", "sgd", "--lr", "50",
                   "--early-stopping", "50", "--quiet", "--save", str(model)])
    err = capsys.readouterr().err
    assert status == 0, err
    assert model.exists()
    loaded = mlp.io.load(model)
    assert np.isfinite(loaded.forward(np.ones((2, 4)))).all()


def test_one_callback_serves_two_trainers_each_with_its_own_model(iris):
    X, y = iris
    stop = EarlyStopping(monitor="loss", patience=None)
    first, second = diverging_trainer([stop], lr=0.05), diverging_trainer([stop], lr=0.05)
    for p in second.model.parameters():
        p.value[...] = 0.0
    first.fit(X, y * 1.0, epochs=3)
    assert stop.trainer is first
    assert stop.best_epoch == first.history.kept_epoch
    # the weights kept are the first trainer's own, not the second's
    assert not all(np.all(p.value == 0) for p in first.model.parameters())
    second.fit(X, y * 1.0, epochs=2)
    assert stop.trainer is second
    assert stop.best_epoch < 2


@pytest.mark.parametrize("flags", [("--json", "--save"), ("--log-csv", "--save"),
                                   ("--json", "--log-csv")])
def test_two_outputs_that_are_one_file_are_refused_before_training(tmp_path, capsys, flags):
    target = tmp_path / "out.npz"
    same = tmp_path / "sub" / ".." / "out.npz"
    (tmp_path / "sub").mkdir()
    status = main(["train", "--data", "iris", "--quiet", "--epochs", "2",
                   flags[0], str(target), flags[1], str(same)])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.count("\n") == 1
    assert "name the same file" in captured.err
    assert flags[0] in captured.err
    assert flags[1] in captured.err
    assert "epoch" not in captured.out
    assert not target.exists()


def test_two_names_of_one_existing_file_are_refused(tmp_path, capsys):
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    assert main(["train", "--data", "iris", "--quiet", "--epochs", "1", "--json",
                 str(tmp_path / "a.json"), "--log-csv", str(tmp_path / "b.json")]) == 2
    assert "name the same file" in capsys.readouterr().err


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_signal_after_training_waits_for_the_model_to_be_saved(tmp_path, capsys,
                                                                 monkeypatch, signame):
    signum = getattr(signal, signame)
    train_module = sys.modules["mlp.cli.train"]
    real_save = train_module.save

    def save_under_fire(*args, **kwargs):  # the signal comes while the model is written
        os.kill(os.getpid(), signum)
        os.kill(os.getpid(), signum)  # and again: still noted, not obeyed
        real_save(*args, **kwargs)

    monkeypatch.setattr(train_module, "save", save_under_fire)
    model = tmp_path / "m.npz"
    status = main(["train", "--data", "iris", "--quiet", "--epochs", "2", "--save", str(model),
                   "--json", str(tmp_path / "m.json")])
    captured = capsys.readouterr()
    assert status == 128 + signum, captured.err
    assert model.exists()
    assert (tmp_path / "m.json").exists()
    assert mlp.io.load(model) is not None
    assert captured.err.strip().splitlines() == [
        f"mlp train: stopped by {signame} after training; the outputs were written"]


def test_an_estimator_builds_a_schedule_on_the_optimizer_its_fit_makes(iris):
    X, y = iris
    clf = mlp.MLPClassifier(hidden_layer_sizes=(5,), solver="sgd", learning_rate_init=0.1,
                            max_iter=6, n_iter_no_change=100, random_state=0,
                            callbacks=[LRScheduler(partial(StepDecay, step_size=2, gamma=0.5))])
    quiet_fit(clf, X, y)
    fitted = clf.callbacks_[0]
    assert fitted.schedule.optimizer is clf._optimizer
    assert clf._optimizer.lr == pytest.approx(0.1 * 0.5 ** 3, rel=1e-12)
    assert clf.callbacks[0].schedule is None  # the parameter is left as given
    pickle.loads(pickle.dumps(clf))
    clf.partial_fit(X, y)  # goes on with the same schedule: t = 7
    assert fitted.schedule.t == 7
    assert clf._optimizer.lr == pytest.approx(0.1 * 0.5 ** 3)
    with pytest.raises(TypeError, match="returned a float"):
        mlp.MLPClassifier(max_iter=2, callbacks=[LRScheduler(lambda opt: 0.1)]).fit(X, y)


def test_csv_logger_appends_across_partial_fit_calls_numbered_from_one(iris, tmp_path):
    X, y = iris
    path = tmp_path / "log.csv"
    clf = mlp.MLPClassifier(hidden_layer_sizes=(4,), random_state=0,
                            callbacks=[CSVLogger(path, append=True)])
    for _ in range(4):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert [float(r["loss"]) for r in rows] == clf.loss_curve_
    fresh = mlp.MLPClassifier(hidden_layer_sizes=(4,), random_state=0, max_iter=2,
                              callbacks=[CSVLogger(path)])
    quiet_fit(fresh, X, y)
    quiet_fit(fresh, X, y)  # a new fit, a new file
    with open(path, newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2]
    with pytest.raises(TypeError, match="append must be True or False"):
        CSVLogger(path, append="yes")


def test_a_signal_while_the_command_line_is_parsed_exits_with_its_status(monkeypatch, capsys):
    cli = sys.modules["mlp.cli"]
    real = cli.build_parser

    def parse_under_fire():
        os.kill(os.getpid(), signal.SIGTERM)
        return real()

    monkeypatch.setattr(cli, "build_parser", parse_under_fire)
    assert main(["train", "--epochs", "1"]) == 143
    assert capsys.readouterr().err == "mlp: terminated\n"


@pytest.mark.parametrize(("flags", "message"), [
    (["--early-stopping", "5", "--val-fraction", "0"], "--val-fraction 0 leaves empty"),
    (["--lr-schedule", "warmup:3,"], "nothing after the comma"),
])
def test_small_command_line_mistakes_are_refused(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) if flags[0] == "--lr-schedule" else nullcontext():
        status = main(["train", "--data", "iris", "--quiet", "--epochs", "1", *flags])
        assert status == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: EarlyStopping(baseline=float("nan")), ValueError, "baseline must be a number"),
    (lambda: EarlyStopping(restore_best=1), ValueError, "restore_best must be True"),
    (lambda: ReduceLROnPlateau(cooldown=-1), ValueError, "cooldown must be a non-negative"),
    (lambda: EarlyStopping(min_delta="a"), ValueError, "min_delta must be a finite number"),
    (lambda: ReduceLROnPlateau(min_delta=None), ValueError, "min_delta must be a finite"),
])
def test_callback_arguments_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_plateau_reductions_and_the_logged_rate_belong_to_their_fit(iris):
    X, y = iris
    plateau = ReduceLROnPlateau(monitor="loss", patience=1, min_delta=1e9, factor=0.5)
    trainer = diverging_trainer([plateau], lr=0.01)
    trainer.fit(X, y * 1.0, epochs=3)
    assert [epoch for epoch, _ in plateau.reductions] == [1, 2]
    trainer.fit(X, y * 1.0, epochs=2)
    assert [epoch for epoch, _ in plateau.reductions] == [4]  # this fit's only
    # a per-step schedule: each epoch logs the rate its last step was taken with
    rng = np.random.default_rng(0)
    model = mlp.Sequential(mlp.Linear(4, 1, rng=rng))
    opt = mlp.SGD(model.parameters(), lr=0.1)
    steps = Trainer(model, mlp.MSELoss(), opt, batch_size=75, shuffle=False, callbacks=[
        LRScheduler(StepDecay(opt, 2, 0.5), per="step")])
    history = steps.fit(X, y * 1.0, epochs=2)  # 2 steps an epoch: t = 0, 1 at 0.1, then 0.05
    assert history.lr == [0.1, 0.05]


def test_terminate_on_nan_goes_back_a_step_when_the_forward_pass_overflows(iris):
    X, y = iris

    class Blowup(Callback):  # finite weights whose output overflows at the next forward
        def on_batch_begin(self, batch, logs=None):
            if (self.history.epochs, batch) == (1, 2):
                self.kept = self.model.copy_weights()

        def on_batch_end(self, batch, logs=None):
            if (self.history.epochs, batch) == (1, 2):
                self.model.parameters()[0].value[...] = 1e308

    blowup, stop = Blowup(), TerminateOnNaN()
    rng = np.random.default_rng(0)
    model = mlp.Sequential(mlp.Linear(4, 8, rng=rng), mlp.ReLU(), mlp.Linear(8, 3, rng=rng))
    trainer = Trainer(model, mlp.SoftmaxCrossEntropyLoss(), mlp.SGD(model.parameters(), lr=0.1),
                      batch_size=16, rng=0, callbacks=[blowup, stop])
    history = trainer.fit(X, y, epochs=5)  # returns: a finite step was kept
    assert history.diverged
    assert history.kept_epoch == 1
    assert stop.stopped_at == (1, 3)
    for kept, now in zip(blowup.kept[0], model.copy_weights()[0], strict=True):
        np.testing.assert_array_equal(kept, now)
    assert np.isfinite(model.forward(X)).all()
