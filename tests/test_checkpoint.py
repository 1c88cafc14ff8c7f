"""Full-state checkpoints: a resumed run is bit for bit the run that never stopped.

Bit equality is legitimate here: the straight run and the resumed one do the same operations
in the same order, in the same process with the same BLAS thread count.
"""

import json

import numpy as np
import pytest

import mlp
from mlp.callbacks import (
    EarlyStopping,
    GradientClipping,
    LRScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from mlp.diagnostics import Diagnostics
from mlp.io import ModelFileError, load_checkpoint, save, save_checkpoint
from mlp.schedules import LinearWarmup, StepDecay
from mlp.trainer import Trainer

OPTIMIZERS = {
    "sgd-nesterov": lambda params: mlp.SGD(params, lr=0.05, momentum=0.9, nesterov=True),
    "rmsprop": lambda params: mlp.RMSProp(params, lr=0.01),
    "adam": lambda params: mlp.Adam(params, lr=0.01, weight_decay=1e-3),
}


def accuracy(model, X, y):
    return float(np.mean(model.forward(X).argmax(axis=1) == y))


def build(seed, optimizer="adam", *, shared_rng=True, extra=(), path=None, every=1):
    """The same run, built from nothing as a new process would build it."""
    rng = np.random.default_rng(seed)
    drop_rng = rng if shared_rng else np.random.default_rng(seed + 1)
    model = mlp.Sequential(mlp.Linear(4, 8, rng=rng), mlp.BatchNorm1d(8), mlp.ReLU(),
                           mlp.Dropout(0.3, rng=drop_rng), mlp.Linear(8, 3, rng=rng))
    opt = OPTIMIZERS[optimizer](model.parameters())
    callbacks = [LRScheduler(LinearWarmup(opt, 3, after=StepDecay(opt, 2, 0.5)), per="step"),
                 *extra]
    if path is not None:
        callbacks.append(ModelCheckpoint(path, save_best_only=False, every=every))
    return Trainer(model, mlp.SoftmaxCrossEntropyLoss(), opt, batch_size=16, rng=rng,
                   l2=1e-3, score=accuracy, keep_best=True, callbacks=callbacks)


def of_type(trainer, cls):
    """The trainer's callback of exactly that class."""
    (callback,) = [c for c in trainer.callbacks if type(c) is cls]
    return callback


def assert_same_run(a, b):
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert np.array_equal(p.value, q.value), p.name
    for (name, u), (_, v) in zip(a.model.named_buffers(), b.model.named_buffers(), strict=True):
        assert np.array_equal(u, v), name
    for key in ("loss", "val_loss", "val_score", "lr"):
        assert np.array_equal(getattr(a.history, key), getattr(b.history, key)), key
    assert (a.history.best_loss, a.history.best_val_score, a.history.best_epoch) == \
        (b.history.best_loss, b.history.best_val_score, b.history.best_epoch)
    state_a, state_b = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert state_a["t"] == state_b["t"]
    assert state_a["hyperparameters"] == state_b["hyperparameters"]
    for key, vector in state_a["vectors"].items():
        assert np.array_equal(vector, state_b["vectors"][key]), key
    assert a.steps == b.steps
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert a.history.diagnostics == b.history.diagnostics
    assert a.history.metrics.keys() == b.history.metrics.keys()
    for key, values in a.history.metrics.items():
        assert np.array_equal(values, b.history.metrics[key]), key
    for c, d in zip(a.callbacks, b.callbacks, strict=True):
        if isinstance(c, GradientClipping):
            assert c.norms == d.norms
        if isinstance(c, Diagnostics):
            assert (c.initial_loss, c.expected_loss) == (d.initial_loss, d.expected_loss)


def watched():
    """Callbacks whose records a resumed run must carry on: clipping norms, diagnostics."""
    return [GradientClipping(0.5), Diagnostics(every=3)]


@pytest.mark.parametrize("shared_rng", [True, False])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_ten_epochs_straight_equal_four_saved_loaded_and_six_more(iris, tmp_path, optimizer,
                                                                   shared_rng):
    X, y = iris
    train, val = (X[:110], y[:110]), (X[110:], y[110:])
    straight = build(1, optimizer, shared_rng=shared_rng, extra=watched())
    straight.fit(*train, epochs=10, validation_data=val)

    first = build(1, optimizer, shared_rng=shared_rng, extra=watched(),
                  path=tmp_path / "run.npz")
    first.fit(*train, epochs=4, validation_data=val)
    del first  # nothing of it survives but the file
    # other weights, other generators
    resumed = build(777, optimizer, shared_rng=shared_rng, extra=watched())
    checkpoint = load_checkpoint(tmp_path / "run.npz", resumed)
    assert checkpoint.epoch == 4
    assert resumed.history.epochs == 4
    resumed.fit(*train, epochs=6, validation_data=val)

    assert_same_run(straight, resumed)
    # the learning rate really moved (warm-up then step decay), and dropout really drew
    assert len(set(straight.history.lr)) > 3
    assert straight.history.loss[-1] < straight.history.loss[0]
    # clipping clipped on both sides of the checkpoint, diagnostics recorded on both sides
    norms = of_type(straight, GradientClipping).norms
    assert len(norms) == straight.steps
    assert max(norms[:28]) > 0.5
    assert max(norms[28:]) > 0.5
    steps = {row["step"] for row in straight.history.diagnostics}
    assert min(steps) == 0
    assert max(steps) > 28
    assert all(step % 3 == 0 for step in steps)


def test_stateful_callbacks_and_counters_go_on_where_they_stopped(iris, tmp_path):
    X, y = iris
    train, val = (X[:110], y[:110]), (X[110:], y[110:])

    def extra():
        return [ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=0.05),
                EarlyStopping(monitor="val_score", patience=50)]

    straight = build(3, "sgd-nesterov", extra=extra())
    straight.fit(*train, epochs=9, validation_data=val)
    first = build(3, "sgd-nesterov", extra=extra(), path=tmp_path / "run.npz", every=5)
    first.fit(*train, epochs=7, validation_data=val)  # the checkpoint is that of epoch 5
    resumed = build(5, "sgd-nesterov", extra=extra())
    assert load_checkpoint(tmp_path / "run.npz", resumed).epoch == 5
    resumed.fit(*train, epochs=4, validation_data=val)

    assert_same_run(straight, resumed)
    plateau, stop = of_type(straight, ReduceLROnPlateau), of_type(straight, EarlyStopping)
    assert plateau.reductions, "the test needs a plateau before and after the checkpoint"
    assert of_type(resumed, ReduceLROnPlateau).reductions == plateau.reductions
    kept = of_type(resumed, EarlyStopping)
    assert (kept.best, kept.best_epoch) == (stop.best, stop.best_epoch)
    for u, v in zip(stop._best_weights[0], kept._best_weights[0], strict=True):
        assert np.array_equal(u, v)


def test_model_checkpoint_keeps_the_best_epoch_by_the_monitored_number(iris, tmp_path):
    X, y = iris
    rng = np.random.default_rng(0)
    model = mlp.Sequential(mlp.Linear(4, 6, rng=rng), mlp.Tanh(), mlp.Linear(6, 3, rng=rng))
    saver = ModelCheckpoint(tmp_path / "best.npz", monitor="val_loss")
    trainer = Trainer(model, mlp.SoftmaxCrossEntropyLoss(), mlp.SGD(model.parameters(), lr=2.0),
                      rng=0, callbacks=[saver])
    history = trainer.fit(X[:100], y[:100], epochs=12, validation_data=(X[100:], y[100:]))
    val = np.array(history.val_loss)
    improved = [e for e in range(len(val)) if val[e] < val[:e].min(initial=np.inf)]
    assert saver.saved_epochs == improved
    assert len(improved) < len(val)
    checkpoint = load_checkpoint(tmp_path / "best.npz")
    best = improved[-1]
    assert checkpoint.epoch == best + 1
    assert saver.best == val[best]
    assert checkpoint.history.val_loss == list(val[:best + 1])
    # the saved weights give the saved validation loss
    checkpoint.model.eval()
    value = mlp.SoftmaxCrossEntropyLoss().forward(checkpoint.model.forward(X[100:]), y[100:])
    assert value == pytest.approx(val[best], rel=1e-12)


def test_model_checkpoint_every_k_epochs_and_its_checks(iris, tmp_path):
    X, y = iris
    trainer = build(0, path=tmp_path / "every.npz", every=3)
    trainer.fit(X, y, epochs=7)
    assert trainer.callbacks[-1].saved_epochs == [2, 5]
    assert load_checkpoint(tmp_path / "every.npz").epoch == 6
    with pytest.raises(ValueError, match="every must be a positive integer, got 0"):
        ModelCheckpoint(tmp_path / "x.npz", every=0)
    bad = build(0, path=tmp_path / "missing" / "x.npz")
    with pytest.raises(ValueError, match="no such directory"):
        bad.fit(X, y, epochs=1)
    assert bad.history.epochs == 0  # refused before any work
    late = build(0, extra=[], path=tmp_path / "x.npz")
    late.callbacks.remove(schedule := of_type(late, LRScheduler))
    late.callbacks.append(schedule)  # the schedule after the checkpoint
    with pytest.raises(ValueError, match="put it after LRScheduler"):
        late.fit(X, y, epochs=1)
    late.callbacks.remove(schedule)
    late.callbacks.append(GradientClipping(1.0))  # it logs the epoch's largest norm
    with pytest.raises(ValueError, match="put it after GradientClipping"):
        late.fit(X, y, epochs=1)
    # diagnostics are recorded during the steps: complete at any point of the epoch's end
    recorders = build(0, path=tmp_path / "r.npz")
    recorders.callbacks.append(Diagnostics(every=2))
    recorders.fit(X, y, epochs=1)
    with np.load(tmp_path / "r.npz") as archive:
        saved = json.loads(archive["__config__"].tobytes())
    assert saved["history"]["diagnostics"] == recorders.history.diagnostics != []


def test_restoring_into_a_different_trainer_is_refused_and_changes_nothing(iris, tmp_path):
    X, y = iris
    trainer = build(0, "adam")
    trainer.fit(X, y, epochs=2)
    save_checkpoint(tmp_path / "c.npz", trainer)
    other = build(1, "rmsprop")
    before = [p.value.copy() for p in other.model.parameters()]
    with pytest.raises(ModelFileError, match="holds a Adam state, the trainer has a RMSProp"):
        load_checkpoint(tmp_path / "c.npz", other)
    model = mlp.Sequential(mlp.Linear(4, 9, rng=0), mlp.Linear(9, 3, rng=0))
    wider = Trainer(model, mlp.SoftmaxCrossEntropyLoss(), mlp.Adam(model.parameters()))
    with pytest.raises(ModelFileError, match="is not the network of the checkpoint"):
        load_checkpoint(tmp_path / "c.npz", wider)
    no_schedule = build(1, "adam")
    no_schedule.callbacks.remove(of_type(no_schedule, LRScheduler))
    with pytest.raises(ModelFileError, match="holds the state of 1 LRScheduler, the trainer "
                                             "has 0"):
        load_checkpoint(tmp_path / "c.npz", no_schedule)
    assert all(np.array_equal(p.value, b) for p, b in zip(other.model.parameters(), before,
                                                          strict=True))


def test_a_model_file_is_not_a_checkpoint_and_the_reverse(iris, tmp_path):
    trainer = build(0)
    save(trainer.model, tmp_path / "model.npz")
    with pytest.raises(ModelFileError, match="is a model file, not a checkpoint"):
        load_checkpoint(tmp_path / "model.npz")
    save_checkpoint(tmp_path / "c.npz", trainer)
    with pytest.raises(ModelFileError, match="is not an mlp model file"):
        mlp.io.load(tmp_path / "c.npz")


# -- a checkpoint trusts nothing ------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint_parts(tmp_path_factory, iris):
    X, y = iris
    trainer = build(0, "adam", shared_rng=False,
                    extra=[EarlyStopping(monitor="val_loss", patience=20)])
    trainer.fit(X[:100], y[:100], epochs=3, validation_data=(X[100:], y[100:]))
    path = save_checkpoint(tmp_path_factory.mktemp("ckpt") / "c.npz", trainer)
    with np.load(path) as archive:
        arrays = dict(archive)
    return json.loads(arrays.pop("__config__").tobytes()), arrays


def edited(tmp_path, parts, change=None, arrays_change=None):
    config, arrays = json.loads(json.dumps(parts[0])), dict(parts[1])
    if change is not None:
        change(config)
    if arrays_change is not None:
        arrays_change(arrays)
    text = json.dumps(config).encode()
    np.savez(tmp_path / "bad.npz", __config__=np.frombuffer(text, dtype=np.uint8), **arrays)
    return tmp_path / "bad.npz"


def saved_state(kind, key, value):
    """Set key of the saved state of the callback of type kind."""
    def change(config):
        (entry,) = [e for e in config["callbacks"] if e["type"] == kind]
        entry["state"][key] = value
    return change


def put(*keys_and_value):
    """Set config[k1][k2]... to the last argument."""
    *keys, value = keys_and_value

    def change(config):
        for key in keys[:-1]:
            config = config[key]
        config[keys[-1]] = value
    return change


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (put("format_version", 99), r"written by a newer version of mlp"),
        (put("optimizer", "type", "LBFGS"), r"optimizer.type must be one of SGD, RMSProp, Adam"),
        (put("optimizer", "t", -1), r"t must be a non-negative integer"),
        (put("optimizer", "hyperparameters", "beta1", 1.5), r"beta1 must be in \[0.0, 1.0\)"),
        (put("optimizer", "hyperparameters", "lr", "fast"), r"lr must be a number"),
        (put("optimizer", "hyperparameters", "amsgrad", True),
         r"Adam: unknown settings \['amsgrad'\]"),
        (put("generators", 0, "bit_generator", "Evil"), r"unknown bit generator 'Evil'"),
        (put("generators", 0, "state", "state", 1.5), r"state.state must be an integer ≥ 0"),
        (put("generators", 0, "state", "state", 2**200), r"invalid Generator"),
        (put("generators", 0, "state", "state", -3), r"must be an integer ≥ 0"),
        (put("generator_of", "trainer", 7), r"generator_of.trainer must be an integer ≥ 0 below"),
        (put("generator_of", {"trainer": 0}), r"generator_of must name \['dropout:3', 'trainer'\]"),
        (put("trainer", "steps", True), r"trainer.steps must be an integer"),
        (put("trainer", "samples_seen", -1), r"trainer.samples_seen must be an integer ≥ 0"),
        (put("history", "metrics", {"x": [1.0] * 9}), r"history.metrics must map names"),
        (put("snapshots", 10**9), r"snapshots must be an integer ≥ 0 below 65"),
        (put("history", "loss", [0.5]), r"history.val_loss has 3 values for 1 epochs"),
        (put("history", "time", [0.5]), r"history.time has 1 values for 3 epochs"),
        (put("history", "val_loss", "low"), r"history.val_loss must be a list of numbers"),
        (put("history", "best_epoch", 3), r"history.best_epoch must be an integer ≥ 0 below 3"),
        (saved_state("LRScheduler", "schedule", {"type": "StepDecay", "t": 1, "base_lr": 1.0}),
         r"LRScheduler: LinearWarmup: cannot load the state of a 'StepDecay' schedule"),
        (saved_state("EarlyStopping", "wait", "x"), r"EarlyStopping: the saved wait must be"),
        (saved_state("Convergence", "best", [1]), r"Convergence: the saved best must be a num"),
        (saved_state("EarlyStopping", "weights", {"snapshot": 7}),
         r"callbacks\[2\].state.weights.snapshot must be an integer ≥ 0 below 2"),
        (put("callbacks", 0, "type", "Evil"), r"the state of 1 Evil, the trainer has 0"),
        (put("callbacks", "all"), r"callbacks must be a list"),
        (put("model", "layers", 0, "n_out", 9), r"param:0.W has shape \(4, 8\)"),
        (put("model", "layers", 3, "type", "Pickle"), r"unknown layer type 'Pickle'"),
    ],
)
def test_every_field_of_a_checkpoint_is_checked(checkpoint_parts, tmp_path, change, pattern):
    path = edited(tmp_path, checkpoint_parts, change)
    with pytest.raises(ModelFileError, match=pattern):
        load_checkpoint(path, build(0, "adam", shared_rng=False,
                                    extra=[EarlyStopping(monitor="val_loss", patience=20)]))


def nan_moment(arrays):
    arrays["optim:m_sum"] = arrays["optim:m_sum"].copy()
    arrays["optim:m_sum"][0] = np.nan


@pytest.mark.parametrize(
    ("arrays_change", "pattern"),
    [
        (nan_moment, r"optim:m_sum contains NaN or infinity"),
        (lambda a: a.update({"optim:m_sum": np.zeros(10**6)}), r"optim:m_sum has shape"),
        (lambda a: a.pop("optim:v_sum"), r"missing \['optim:v_sum'\]"),
        (lambda a: a.pop("snapshot:0.param.0.W"), r"missing \['snapshot:0.param.0.W'\]"),
        (lambda a: a.update({"optim:extra": np.zeros(3)}), r"unexpected \['optim:extra'\]"),
        (lambda a: a.update({"snapshot:0.buffer.1.running_var": np.zeros(8, np.float32)}),
         r"running_var has shape \(8,\) and dtype float32"),
    ],
)
def test_every_array_of_a_checkpoint_is_checked(checkpoint_parts, tmp_path, arrays_change,
                                                pattern):
    path = edited(tmp_path, checkpoint_parts, arrays_change=arrays_change)
    with pytest.raises(ModelFileError, match=pattern):
        load_checkpoint(path)


def test_truncated_and_foreign_files_are_refused(checkpoint_parts, tmp_path):
    path = edited(tmp_path, checkpoint_parts)
    data = path.read_bytes()
    (tmp_path / "half.npz").write_bytes(data[:len(data) // 2])
    with pytest.raises(ModelFileError, match="corrupted or truncated"):
        load_checkpoint(tmp_path / "half.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ModelFileError, match="not an .npz archive"):
        load_checkpoint(tmp_path / "text.npz")
    with pytest.raises(ModelFileError, match="no such file"):
        load_checkpoint(tmp_path / "absent.npz")


def test_optimizer_and_schedule_state_dicts_round_trip_and_refuse_strangers():
    model = mlp.Sequential(mlp.Linear(3, 2, rng=0))
    adam = mlp.Adam(model.parameters(), lr=0.1)
    adam.m_sum += 1.5
    adam.t = 4
    state = adam.state_dict()
    other = mlp.Adam(mlp.Sequential(mlp.Linear(3, 2, rng=1)).parameters())
    other.load_state_dict(state)
    assert (other.t, other.lr) == (4, 0.1)
    assert np.array_equal(other.m_sum, adam.m_sum)
    with pytest.raises(TypeError, match="cannot load the state of a 'Adam' optimizer"):
        mlp.SGD(model.parameters()).load_state_dict(state)
    with pytest.raises(ValueError, match="each 8 finite numbers"):
        other.load_state_dict({**state, "vectors": {"m_sum": np.zeros(3),
                                                    "v_sum": np.zeros(8)}})
    schedule = StepDecay(other, 2, 0.5)
    schedule.step()
    copy = StepDecay(mlp.Adam(model.parameters()), 2, 0.5)
    copy.load_state_dict(schedule.state_dict())
    assert (copy.t, copy.base_lr) == (1, 0.1)
    with pytest.raises(ValueError, match="t must be a non-negative integer, got -1"):
        copy.load_state_dict({**schedule.state_dict(), "t": -1})


# -- the records of format 2, and format 1 files -------------------------------------------


@pytest.fixture(scope="module")
def watched_parts(tmp_path_factory, iris):
    X, y = iris
    trainer = build(0, "adam", extra=watched())
    trainer.fit(X[:100], y[:100], epochs=2, validation_data=(X[100:], y[100:]))
    path = save_checkpoint(tmp_path_factory.mktemp("ckpt") / "c.npz", trainer)
    with np.load(path) as archive:
        arrays = dict(archive)
    return json.loads(arrays.pop("__config__").tobytes()), arrays


def clipping_state(config):
    (entry,) = [e for e in config["callbacks"] if e["type"] == "GradientClipping"]
    return entry["state"]


def test_a_format_1_checkpoint_still_loads_and_resumes(watched_parts, tmp_path, iris):
    config, arrays = watched_parts
    assert config["format_version"] == 2
    assert config["vectors"] == 1
    assert clipping_state(config)["norms"] == {"vector": 0, "length": 14}
    assert arrays["vector:0"].shape == (14,)

    def as_version_1(config):
        config["format_version"] = 1
        del config["vectors"], config["history"]["diagnostics"]
        config["callbacks"] = [e for e in config["callbacks"]
                               if e["type"] not in ("GradientClipping", "Diagnostics")]

    path = edited(tmp_path, watched_parts, as_version_1, lambda a: a.pop("vector:0"))
    X, y = iris
    trainer = build(5, "adam", extra=watched())
    assert load_checkpoint(path, trainer).epoch == 2
    assert trainer.history.diagnostics == []
    assert trainer.steps == 14
    trainer.fit(X[:100], y[:100], epochs=1, validation_data=(X[100:], y[100:]))
    assert len(of_type(trainer, GradientClipping).norms) == 7  # the records start afresh
    assert trainer.history.epochs == 3


def norms_state(value):
    def change(config):
        clipping_state(config)["norms"] = value
    return change


@pytest.mark.parametrize(
    ("change", "arrays_change", "pattern"),
    [
        (put("vectors", 2), None, r"vectors is 2 but the callbacks' states name 1"),
        (put("vectors", 10**6), None, r"vectors must be an integer ≥ 0 below 1025"),
        (put("vectors", -1), None, r"vectors must be an integer ≥ 0 below 1025"),
        (norms_state({"vector": 1, "length": 14}), None,
         r"state.norms.vector must be an integer ≥ 0 below 1"),
        (norms_state({"vector": 0, "length": 10**12}), None,
         r"vector:0 has shape \(14,\) and dtype float64, expected \(1000000000000,\)"),
        (norms_state({"vector": 0, "length": "x"}), None, r"state.norms.length must be an "),
        (None, lambda a: a.update({"vector:0": -a["vector:0"]}),
         r"GradientClipping: the saved norms must be a vector of numbers ≥ 0"),
        (None, lambda a: a.update({"vector:0": a["vector:0"].astype(np.float32)}),
         r"vector:0 has shape \(14,\) and dtype float32"),
        (None, lambda a: a.update({"vector:1": np.zeros(3)}), r"unexpected \['vector:1'\]"),
        (put("history", "diagnostics", "rows"), None,
         r"history.diagnostics must be a list of objects of numbers, strings and nulls"),
        (put("history", "diagnostics", [{"step": [1]}]), None,
         r"history.diagnostics must be a list of objects"),
    ],
)
def test_the_records_of_a_checkpoint_are_checked(watched_parts, tmp_path, change, arrays_change,
                                                 pattern):
    path = edited(tmp_path, watched_parts, change, arrays_change)
    with pytest.raises(ModelFileError, match=pattern):
        load_checkpoint(path, build(0, "adam", extra=watched()))


def test_norms_of_an_overflowing_step_are_kept(watched_parts, tmp_path, iris):
    def inf_norm(arrays):
        arrays["vector:0"] = arrays["vector:0"].copy()
        arrays["vector:0"][3] = np.inf

    X, y = iris
    trainer = build(0, "adam", extra=watched())
    load_checkpoint(edited(tmp_path, watched_parts, arrays_change=inf_norm), trainer)
    trainer.fit(X[:100], y[:100], epochs=1, validation_data=(X[100:], y[100:]))
    norms = of_type(trainer, GradientClipping).norms
    assert len(norms) == 21
    assert norms[3] == np.inf
    # a record is not a weight: saving it again is no error
    again = build(0, "adam", extra=watched())
    load_checkpoint(save_checkpoint(tmp_path / "again.npz", trainer), again)
    again.fit(X[:100], y[:100], epochs=1, validation_data=(X[100:], y[100:]))
    assert of_type(again, GradientClipping).norms[:21] == norms
