"""A signal while training ends (the callbacks' on_train_end hooks) waits, as one after
training does, until the outputs are written; then exit 128 + its number, in one line."""

import importlib
import json
import os
import signal

import numpy as np
import pytest

import mlp
from mlp.callbacks import Callback
from mlp.cli import main
from mlp.trainer import Trainer


class SignalAtEnd(Callback):
    """Sends its own process a signal from on_train_end, and notes the trainer's phase."""

    def __init__(self, signum):
        self.signum, self.phases = signum, []

    def on_train_end(self, logs=None):
        self.phases.append(self.trainer.phase)
        os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("first", [True, False], ids=["first-hook", "last-hook"])
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_signal_in_on_train_end_waits_for_the_outputs(tmp_path, capsys, monkeypatch,
                                                        signame, first):
    signum = getattr(signal, signame)
    train_module = importlib.import_module("mlp.cli.train")
    real = train_module.training_callbacks
    sender = SignalAtEnd(signum)

    def with_sender(*args, **kwargs):
        callbacks, keeper = real(*args, **kwargs)
        return ([sender, *callbacks] if first else [*callbacks, sender]), keeper

    monkeypatch.setattr(train_module, "training_callbacks", with_sender)
    model, metrics = tmp_path / "m.npz", tmp_path / "m.json"
    status = main(["train", "--data", "iris", "--quiet", "--epochs", "3", "--save", str(model),
                   "--json", str(metrics), "--checkpoint", str(tmp_path / "c.npz")])
    captured = capsys.readouterr()
    assert sender.phases == ["end"]
    assert status == 128 + signum, captured.err
    assert captured.err.splitlines() == [
        f"mlp train: stopped by {signame} after training; the outputs were written"]
    assert "stopped: all 3 epochs" in captured.out
    assert json.loads(metrics.read_text())["epochs"] == 3
    assert isinstance(mlp.io.load(model), mlp.Sequential)
    assert mlp.io.load_checkpoint(tmp_path / "c.npz").epoch >= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz", "m.json", "m.npz"]


def test_the_trainer_says_where_fit_is():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 1))
    model = mlp.Sequential(mlp.Linear(3, 1, rng=rng))
    seen = []

    class Watch(Callback):
        def on_train_begin(self, logs=None):
            seen.append(self.trainer.phase)

        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.trainer.phase)

        def on_train_end(self, logs=None):
            seen.append(self.trainer.phase)

    trainer = Trainer(model, mlp.MSELoss(), mlp.SGD(model.parameters(), lr=0.01),
                      callbacks=[Watch()])
    assert trainer.phase is None
    trainer.fit(X, y, epochs=2)
    assert seen == ["begin", "epochs", "epochs", "end"]
    assert trainer.phase is None
