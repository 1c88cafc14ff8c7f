"""`mlp train` steered from the command line: schedules, clipping, the epoch log, the
printout after training, and stopping by Ctrl-C or SIGTERM without a traceback."""

import csv
import math
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

import mlp.callbacks.output
import mlp.cli
import mlp.cli.steering
import mlp.cli.train
from mlp.cli import main
from mlp.io import load, write_atomic


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def train(tmp_path, *flags):
    log = tmp_path / "log.csv"
    status = main(["train", "--data", "iris", "--quiet", "--log-csv", str(log), *map(str, flags)])
    assert status == 0
    return rows(log)


@pytest.mark.parametrize(
    ("spec", "epochs", "expected"),
    [
        ("constant", 3, [0.1] * 3),
        ("step:2:0.5", 5, [0.1, 0.1, 0.05, 0.05, 0.025]),
        ("step:3", 4, [0.1, 0.1, 0.1, 0.05]),
        ("exponential:0.5", 3, [0.1, 0.05, 0.025]),
        ("cosine", 4, [0.1 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(4)]),
        ("cosine:2:0.01", 4, [0.1, 0.055, 0.01, 0.01]),
        ("warmup:3", 5, [0.025, 0.05, 0.075, 0.1, 0.1]),
        # cosine over the 4 epochs the warm-up leaves
        ("warmup:1,cosine", 5, [0.05] + [0.1 * (1 + math.cos(math.pi * t / 4)) / 2
                                         for t in range(4)]),
    ],
)
def test_the_learning_rate_of_each_epoch_follows_the_schedule(tmp_path, spec, epochs, expected):
    log = train(tmp_path, "--optimizer", "sgd", "--lr", "0.1", "--epochs", epochs,
                "--lr-schedule", spec)
    assert [float(r["lr"]) for r in log] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_plateau_halves_the_rate_when_the_loss_stops_falling(tmp_path):
    # a step of 1e-300 cannot move a weight: the full-batch loss is the same every epoch
    log = train(tmp_path, "--optimizer", "sgd", "--lr", "1e-300", "--batch-size", "full",
                "--epochs", "5", "--lr-schedule", "plateau:1:0.5")
    losses = [float(r["loss"]) for r in log]
    # the same loss, up to the order its rows are summed in (they are shuffled every epoch),
    # which is no improvement: one needs a fall of more than 1e-4
    assert losses == pytest.approx([losses[0]] * 5, rel=1e-12)
    assert [float(r["lr"]) for r in log] == pytest.approx(
        [1e-300, 1e-300, 5e-301, 2.5e-301, 1.25e-301], rel=1e-12)


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ("bogus", r"unknown schedule 'bogus': expected constant, step:EVERY"),
        ("step", r"'step' takes 1 to 2 number\(s\) after colons, got 'step'"),
        ("step:0", r"step: expected a positive whole number, got '0'"),
        ("step:2:1.5", r"step: the factor must lie in \(0, 1\), got 1.5"),
        ("cosine:x", r"cosine: expected a positive whole number, got 'x'"),
        ("exponential:2", r"exponential: the factor must lie in \(0, 1\), got 2"),
        ("warmup:5,plateau", r"warmup cannot be followed by plateau"),
        ("cosine,step:2", r"only warmup:EPOCHS may be followed by ',SPEC'"),
        ("cosine:3:5", r"--lr-schedule cosine: MIN_LR 5 is above --lr 0.01"),
    ],
)
def test_a_bad_schedule_is_one_line(spec, pattern):
    result = subprocess.run([sys.executable, "-m", "mlp", "train", "--epochs", "2",
                             "--lr-schedule", spec], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in result.stderr


def test_clip_grad_caps_the_length_of_each_step(tmp_path):
    flags = ["--optimizer", "sgd", "--lr", "1", "--batch-size", "full", "--clip-grad", "1e-3"]
    for epochs in (1, 2):
        log = train(tmp_path, *flags, "--epochs", epochs, "--save", tmp_path / f"{epochs}.npz")
    assert all(float(r["grad_norm"]) > 1e-2 for r in log)  # every step was clipped
    one, two = (load(tmp_path / f"{epochs}.npz") for epochs in (1, 2))
    step = np.concatenate([(b.value - a.value).ravel()
                           for a, b in zip(one.parameters(), two.parameters(), strict=True)])
    # plain SGD at lr 1: the second epoch's one step is the clipped gradient itself
    assert np.linalg.norm(step) == pytest.approx(1e-3, rel=1e-9)


def test_an_unwritable_epoch_log_is_refused_before_training():
    result = subprocess.run([sys.executable, "-m", "mlp", "train", "--log-csv",
                             "/proc/nowhere/log.csv"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == \
        "mlp train: error: --log-csv: cannot write /proc/nowhere/log.csv: no such directory " \
        "/proc/nowhere"
    assert result.stdout == ""


def test_the_printout_says_why_training_stopped_and_which_epoch_was_kept(tmp_path, capsys):
    log = train(tmp_path, "--epochs", "500", "--early-stopping", "3", "--val-fraction", "0.2",
                "--verbose")
    out = capsys.readouterr().out.splitlines()
    # the data and the model are described before the first epoch
    assert out[0].startswith("data: iris (150 samples, 4 features, 3 classes): 84 to train on")
    assert out[1] == "model: 4 -> 16 -> 3, relu, adam lr=0.01, up to 500 epochs"
    assert out[2].startswith("epoch 1/500")
    scores = [float(r["val_score"]) for r in log]
    best = int(np.argmax(scores))  # the first epoch of the best score
    assert len(log) == best + 4 < 500
    stopped = next(line for line in out if line.startswith("stopped:"))
    assert stopped.startswith(f"stopped: early stopping at epoch {best + 4}: the validation "
                              "accuracy did not improve for 3 epochs")
    kept = next(line for line in out if line.startswith("kept:"))
    assert kept == (f"kept: the weights of epoch {best + 1} (the best by validation accuracy)"
                    f": training loss {float(log[best]['loss']):.4f}, validation loss "
                    f"{float(log[best]['val_loss']):.4f}")
    assert f"val accuracy: {scores[best]:.4f}" in out
    assert not any("final training loss" in line for line in out)


def test_the_figure_has_a_learning_rate_panel(tmp_path):
    path = tmp_path / "curves.png"
    assert main(["train", "--epochs", "3", "--quiet", "--lr-schedule", "cosine", "--plot",
                 str(path)]) == 0
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    assert (width, height) == (1500, 400)  # loss, accuracy and learning rate


def test_ctrl_c_while_saving_or_starting_is_one_line(tmp_path, capsys, monkeypatch):
    def interrupted_save(model, path, metadata=None):
        def write(f):
            f.write(b"half a model")
            raise KeyboardInterrupt
        write_atomic(path, write)

    monkeypatch.setattr(mlp.cli.train, "save", interrupted_save)
    assert main(["train", "--epochs", "2", "--quiet", "--save", str(tmp_path / "m.npz")]) == 130
    err = capsys.readouterr().err
    assert err == "mlp train: interrupted\n"
    assert list(tmp_path.iterdir()) == []  # no model, no temporary file

    def interrupted_start():
        raise KeyboardInterrupt

    monkeypatch.setattr(mlp.cli, "build_parser", interrupted_start)
    assert main(["train"]) == 130
    assert capsys.readouterr().err == "mlp: interrupted\n"


def test_a_signal_before_the_first_epoch_still_exits_with_its_status(tmp_path, capsys,
                                                                      monkeypatch):
    # SIGTERM while the epoch log is first written: outside the loop, so not a clean stop,
    # but still one line and 128 + 15
    def terminated(path, data):
        raise mlp.cli.steering.SignalInterrupt(15)

    monkeypatch.setattr(mlp.callbacks.output, "write_atomic", terminated)
    assert main(["train", "--epochs", "2", "--quiet", "--log-csv", str(tmp_path / "l.csv")]) \
        == 143
    assert capsys.readouterr().err == "mlp train: terminated\n"
