"""The callback hooks of the trainer, and the per-layer diagnostics recorded through them."""

import json
import math
import struct

import numpy as np
import pytest

import mlp
from mlp.callbacks import Callback
from mlp.diagnostics import Diagnostics, advice, expected_initial_loss, format_table
from mlp.plotting import plot_gradient_flow


class Recorder(Callback):
    def __init__(self, stop_after=None):
        self.calls = []
        self.stop_after = stop_after

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch, logs["size"]))

    def on_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, round(logs["loss"], 12)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))
        return epoch == self.stop_after

    def on_train_end(self, logs=None):
        self.calls.append(("train_end", len(self.history.loss)))


def small_problem(seed=0, n=10, width=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    model = mlp.Sequential(mlp.Linear(4, width, rng=rng), mlp.ReLU(), mlp.Linear(width, 2, rng=rng))
    return model, X, (X[:, 0] > 0).astype(int)


def test_hooks_are_called_in_order_with_the_numbers():
    model, X, y = small_problem()
    recorder, seen = Recorder(), []
    trainer = mlp.Trainer(model, mlp.SoftmaxCrossEntropyLoss(), mlp.SGD(model.parameters(), 0.1),
                          batch_size=4, shuffle=False,
                          callbacks=[recorder, lambda epoch, history: seen.append(epoch)])
    assert recorder.trainer is trainer
    assert recorder.model is model
    history = trainer.fit(X, y, epochs=2, validation_data=(X, y))
    kinds = [c[0] for c in recorder.calls]
    per_epoch = ["epoch_begin"] + ["batch_begin", "batch_end"] * 3 + ["epoch_end"]
    assert kinds == ["train_begin"] + per_epoch * 2 + ["train_end"]
    assert [c[2] for c in recorder.calls if c[0] == "batch_begin"] == [4, 4, 2] * 2
    assert recorder.calls[-2] == ("epoch_end", 1, ["loss", "lr", "time", "val_loss"])
    assert recorder.calls[-1] == ("train_end", 2)
    assert seen == [0, 1]  # plain functions still run after every epoch
    assert trainer.steps == 6
    # the epoch loss is the size-weighted mean of the batch losses the hooks saw
    losses = [c[2] for c in recorder.calls if c[0] == "batch_end"][:3]
    assert history.loss[0] == pytest.approx((4 * losses[0] + 4 * losses[1] + 2 * losses[2]) / 10)


def test_a_callback_returning_true_stops_training():
    model, X, y = small_problem()
    recorder = Recorder(stop_after=1)
    history = mlp.fit(model, mlp.SoftmaxCrossEntropyLoss(), mlp.SGD(model.parameters(), 0.1),
                      X, y, epochs=10, callbacks=[recorder], rng=0)
    assert history.epochs == 2
    assert history.stopped


def train_with_diagnostics(model, X, y, *, lr=0.1, epochs=1, every=1, batch_size=32,
                           optimizer=None):
    diagnostics = Diagnostics(every=every)
    optimizer = optimizer or mlp.SGD(model.parameters(), lr=lr)
    history = mlp.fit(model, mlp.SoftmaxCrossEntropyLoss(), optimizer, X, y, epochs=epochs,
                      batch_size=batch_size, rng=0, callbacks=[diagnostics])
    return diagnostics, history


def test_dead_relu_layer_is_100_percent_dead():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 5))
    model = mlp.Sequential(mlp.Linear(5, 8, rng=rng), mlp.ReLU(), mlp.Linear(8, 3, rng=rng))
    model[0].params["b"][:] = -100.0
    diagnostics, _ = train_with_diagnostics(model, X, rng.integers(0, 3, 64))
    relu = [r for r in diagnostics.rows if r["layer"] == "1: ReLU()"]
    assert [r["dead"] for r in relu] == [1.0, 1.0]  # two steps, all units dead in both
    assert relu[0]["mean"] == relu[0]["std"] == 0.0
    # no gradient reaches the first layer: its weights never change
    first = [r for r in diagnostics.rows if r["layer"].startswith("0:")]
    assert first[0]["grad_norm"] == 0.0
    assert first[0]["update_ratio"] == 0.0
    said = " | ".join(diagnostics.advice())
    assert "1: ReLU(): 100% of the units are dead" in said
    assert "0: Linear(5 -> 8): each step changes the weights by only 0.0e+00" in said


def test_healthy_relu_layer_is_not_dead():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 5))
    model = mlp.Sequential(mlp.Linear(5, 8, init="he_normal", rng=rng), mlp.ReLU(),
                           mlp.Linear(8, 3, rng=rng))
    diagnostics, _ = train_with_diagnostics(model, X, rng.integers(0, 3, 64))
    assert diagnostics.rows[1]["dead"] <= 0.25
    assert not any("dead" in a for a in diagnostics.advice())


def test_sigmoid_layers_with_standard_normal_weights_saturate():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(128, 100))  # standardised inputs, 100 features
    model = mlp.Sequential(mlp.Linear(100, 200, init="std_normal", rng=rng), mlp.Sigmoid(),
                           mlp.Linear(200, 50, init="std_normal", rng=rng), mlp.Sigmoid(),
                           mlp.Linear(50, 4, rng=rng))
    diagnostics, _ = train_with_diagnostics(model, X, rng.integers(0, 4, 128), lr=1e-3,
                                            batch_size=128)
    saturated = {r["layer"]: r["saturated"] for r in diagnostics.rows if r["step"] == 0
                 and r["saturated"] is not None}
    # |q| > 4 where q ~ N(0, 100): 2Φ(-0.4) = 0.69; the second layer's q ~ N(0, ≈100) too
    assert saturated["1: Sigmoid()"] == pytest.approx(0.69, abs=0.03)
    assert saturated["3: Sigmoid()"] > 0.6
    assert any("1: Sigmoid(): " in a and "saturated" in a for a in diagnostics.advice())
    # the same network from lecun_normal (N(0, 1/n_in)) saturates almost nothing
    small = mlp.Sequential(mlp.Linear(100, 200, init="lecun_normal", rng=rng), mlp.Sigmoid(),
                           mlp.Linear(200, 4, rng=rng))
    diagnostics, _ = train_with_diagnostics(small, X, rng.integers(0, 4, 128), batch_size=128)
    assert diagnostics.rows[1]["saturated"] < 0.01


def test_initial_loss_of_a_ten_class_network_is_ln_10():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 20))
    model = mlp.Sequential(mlp.Linear(20, 32, init="normal", rng=rng), mlp.ReLU(),
                           mlp.Linear(32, 10, init="normal", rng=rng))
    diagnostics, _ = train_with_diagnostics(model, X, rng.integers(0, 10, 200), every=5)
    assert diagnostics.expected_loss == math.log(10)
    assert abs(diagnostics.initial_loss - math.log(10)) < 0.05
    assert not diagnostics.advice()
    # large weights: the loss starts far above ln 10, and the advice says why
    model = mlp.Sequential(mlp.Linear(20, 32, init="std_normal", rng=rng), mlp.ReLU(),
                           mlp.Linear(32, 10, init="std_normal", rng=rng))
    diagnostics, _ = train_with_diagnostics(model, 10 * X, rng.integers(0, 10, 200), lr=1e-4)
    assert diagnostics.initial_loss > 10 * math.log(10)
    assert "the initial loss" in diagnostics.advice()[0]
    assert "the weights start too large, or the inputs are not scaled" in diagnostics.advice()[0]


def test_norms_and_update_ratio_are_those_of_the_step():
    model, X, y = small_problem(n=16, width=5)
    W0 = model[0].params["W"].copy()
    lr = 0.05
    diagnostics, history = train_with_diagnostics(model, X, y, lr=lr, batch_size=16, every=3,
                                                  epochs=4)
    rows = [r for r in history.diagnostics if r["layer"] == "0: Linear(4 -> 5)"]
    assert [r["step"] for r in rows] == [0, 3]
    assert [r["epoch"] for r in rows] == [0, 3]
    first = rows[0]
    # plain SGD: ΔW = -lr·dW, so the ratio is lr·‖dW‖/‖W after the step‖
    assert first["update_ratio"] == pytest.approx(lr * first["grad_norm"] / first["weight_norm"],
                                                  rel=1e-9)
    assert first["weight_norm"] == pytest.approx(
        np.linalg.norm(W0 - lr * _first_gradient(X, y)), rel=1e-9)
    json.dumps(history.diagnostics)  # plain numbers, ready for a JSON file


def _first_gradient(X, y):
    model, _, _ = small_problem(n=16, width=5)
    loss = mlp.SoftmaxCrossEntropyLoss()
    loss.forward(model.forward(X), y)
    model.backward(loss.backward())
    return model[0].grads["W"]


def test_update_ratio_advice_for_a_learning_rate_far_too_high():
    model, X, y = small_problem(n=32, width=8)
    diagnostics, _ = train_with_diagnostics(model, X, y, lr=50.0, epochs=3)
    assert any("(above 1e-1): the learning rate is too high" in a for a in diagnostics.advice())


def test_table_and_figure(tmp_path):
    model, X, y = small_problem(n=32, width=8)
    diagnostics, history = train_with_diagnostics(model, X, y, epochs=5, batch_size=8, every=4)
    table = diagnostics.table().splitlines()
    assert table[0] == "step 16 (epoch 4)"
    assert table[1].split() == ["layer", "‖dW‖", "‖W‖", "‖ΔW‖/‖W‖", "mean", "std", "dead",
                                "saturated"]
    assert [line.split("  ")[0] for line in table[2:]] == ["0: Linear(4 -> 8)", "1: ReLU()",
                                                          "2: Linear(8 -> 2)"]
    assert format_table([]) == "no diagnostics recorded"
    path = plot_gradient_flow(tmp_path / "flow.png", history.diagnostics)
    png = (tmp_path / "flow.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1100, 400)
    assert path is None or str(path).endswith("flow.png")


def test_expected_initial_loss_and_argument_checks():
    assert expected_initial_loss(mlp.SoftmaxCrossEntropyLoss(), 3) == math.log(3)
    assert expected_initial_loss(mlp.BCEWithLogitsLoss(), 5) == math.log(2)
    assert expected_initial_loss(mlp.MSELoss(), 1) is None
    assert advice([], 5.0, math.log(3))[0].startswith("the initial loss 5 is far above 1.1")
    with pytest.raises(ValueError, match="every must be a positive integer, got 0"):
        Diagnostics(every=0)


def test_cli_train_with_diagnostics(tmp_path, capsys):
    from mlp.cli import main

    metrics, figure = tmp_path / "m.json", tmp_path / "curves.png"
    assert main(["train", "--data", "iris", "--hidden", "8", "--activation", "relu",
                 "--epochs", "5", "--quiet", "--diagnostics", "5", "--json", str(metrics),
                 "--plot", str(figure)]) == 0
    out = capsys.readouterr().out
    assert "(expected 1.0986 = ln C with small weights)" in out
    assert "0: Linear(4 -> 8)" in out
    assert "1: ReLU()" in out
    stored = json.loads(metrics.read_text())["diagnostics"]
    assert stored["every"] == 5
    assert abs(stored["expected_initial_loss"] - math.log(3)) < 1e-12
    steps = sorted({row["step"] for row in stored["rows"]})
    assert steps[:2] == [0, 5]
    assert {row["layer"] for row in stored["rows"]} == {"0: Linear(4 -> 8)", "1: ReLU()",
                                                        "2: Linear(8 -> 3)"}
    assert "gradient-flow figure saved to" in out
    png = (tmp_path / "curves_gradients.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
