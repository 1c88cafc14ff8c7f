"""A hostile checkpoint: megabytes of text, a deep nest, a huge number or a huge key in any
field a message might echo. Python raises a clear exception of a few hundred characters at
most; ``mlp train --resume`` ends in one short line and exit status 2."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from mlp.cli import main
from mlp.io import ModelFileError, load_checkpoint

HUGE = "x" * 3_000_000
BIG = 10**4000  # a JSON integer: past float's range, within Python's digit limit
NEST = json.loads("[" * 500 + "]" * 500)
LONGEST = 400


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    rows = [f"{a:.6f},{b:.6f},{c:.6f},{int(a + b > 0)}" for a, b, c in rng.normal(size=(40, 3))]
    (folder / "data.csv").write_text("a,b,c,y\n" + "\n".join(rows) + "\n")
    assert main(["train", "--data", str(folder / "data.csv"), "--epochs", "2", "--quiet",
                 "--hidden", "4", "--dropout", "0.2", "--lr-schedule", "warmup:2,step:3:0.5",
                 "--clip-grad", "1", "--early-stopping", "5", "--val-fraction", "0.2",
                 "--checkpoint", str(folder / "c.npz"), "--checkpoint-every", "1"]) == 0
    with np.load(folder / "c.npz") as archive:
        parts = dict(archive)
    return folder, parts


def _set(path, value):
    """A change of the description: ``path`` a list of keys, the last one set to ``value``
    (``NEW`` as the last key: add ``value`` under a huge new key)."""
    def change(config):
        node = config
        for key in path[:-1]:
            node = node[key]
        node[HUGE if path[-1] is NEW else path[-1]] = value
    return change


NEW = object()
CB = ["callbacks", 0, "state"]  # EarlyStopping's
SCHEDULE = ["callbacks", 1, "state", "schedule"]  # LRScheduler's
CLI = ["metadata", "cli"]
CASES = {
    "format_version=text": _set(["format_version"], HUGE),
    "format_version=nest": _set(["format_version"], NEST),
    "format_version=big": _set(["format_version"], -BIG),
    "model.type": _set(["model", "layers", 0, "type"], HUGE),
    "model.key": _set(["model", "layers", 0, NEW], 1),
    "optimizer.type": _set(["optimizer", "type"], HUGE),
    "optimizer.t=text": _set(["optimizer", "t"], HUGE),
    "optimizer.t=nest": _set(["optimizer", "t"], NEST),
    "optimizer.lr=text": _set(["optimizer", "hyperparameters", "lr"], HUGE),
    "optimizer.lr=big": _set(["optimizer", "hyperparameters", "lr"], BIG),
    "optimizer.beta1=nest": _set(["optimizer", "hyperparameters", "beta1"], NEST),
    "optimizer.key": _set(["optimizer", "hyperparameters", NEW], 1),
    "generator.kind": _set(["generators", 0, "bit_generator"], HUGE),
    "generator.state": _set(["generators", 0, "state", "state"], HUGE),
    "generator.key": _set(["generators", 0, "state", NEW], -1),
    "generator_of.key": _set(["generator_of", NEW], 0),
    "trainer.steps": _set(["trainer", "steps"], HUGE),
    "history.loss": _set(["history", "loss"], HUGE),
    "history.best_epoch": _set(["history", "best_epoch"], BIG),
    "callback.type": _set(["callbacks", 0, "type"], HUGE),
    "callback.best": _set([*CB, "best"], HUGE),
    "callback.wait=nest": _set([*CB, "wait"], NEST),
    "callback.wait=big": _set([*CB, "wait"], -BIG),
    "callback.key": _set([*CB, NEW], {"snapshot": 99}),
    "schedule.type": _set([*SCHEDULE, "type"], HUGE),
    "schedule.t": _set([*SCHEDULE, "t"], HUGE),
    "schedule.base_lr": _set([*SCHEDULE, "base_lr"], BIG),
    "cli.hidden": _set([*CLI, "hidden"], HUGE),
    "cli.data": _set([*CLI, "data"], HUGE),
    "cli.task": _set([*CLI, "task"], HUGE),
    "cli.scale": _set([*CLI, "scale"], HUGE),
    "cli.init": _set([*CLI, "init"], HUGE),
    "cli.optimizer": _set([*CLI, "optimizer"], HUGE),
    "cli.activation": _set([*CLI, "activation"], [HUGE]),
    "cli.target": _set([*CLI, "target"], HUGE),
    "cli.id": _set([*CLI, "id"], HUGE),
    "cli.drop": _set([*CLI, "drop"], [HUGE]),
    "cli.schedule": _set([*CLI, "lr_schedule"], [[HUGE, [1]]]),
    "cli.key": _set([*CLI, NEW], 1),
    "metadata.classes": _set(["metadata", "classes"], [HUGE, "1"]),
}


def _hostile(checkpoint, tmp_path, change):
    folder, parts = checkpoint
    parts = dict(parts)
    config = json.loads(parts.pop("__config__").tobytes())
    change(config)
    text = json.dumps(config).encode()
    np.savez(tmp_path / "bad.npz", __config__=np.frombuffer(text, np.uint8), **parts)
    return tmp_path / "bad.npz"


def _short(message):
    assert len(message) < LONGEST, message[:1000]
    assert "x" * 201 not in message, message[:1000]


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_field_is_one_short_line_on_the_command_line(checkpoint, tmp_path, capsys,
                                                              case):
    path = _hostile(checkpoint, tmp_path, CASES[case])
    capsys.readouterr()
    status = main(["train", "--resume", str(path), "--epochs", "4", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2, err[:1000]
    lines = err.splitlines()
    assert len(lines) == 1, err[:1000]
    assert lines[0].startswith("mlp train: error: "), lines[0][:1000]
    _short(lines[0])


@pytest.mark.parametrize("case", [c for c in CASES if not c.startswith(("cli.", "metadata",
                                                                          "callback", "sched"))])
def test_a_hostile_field_is_a_short_model_file_error(checkpoint, tmp_path, case):
    path = _hostile(checkpoint, tmp_path, CASES[case])
    with pytest.raises(ModelFileError) as info:
        load_checkpoint(path)
    _short(str(info.value))


def test_a_megabyte_field_in_a_real_process_is_one_line_and_exit_2(checkpoint, tmp_path):
    path = _hostile(checkpoint, tmp_path, CASES["optimizer.key"])
    result = subprocess.run([sys.executable, "-m", "mlp", "train", "--resume", str(path),
                             "--epochs", "4"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[:1000]
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr[:1000]
    assert re.fullmatch(r"mlp train: error: .*optimizer: Adam: unknown settings "
                        r"\['x{80}'\.\.\. \(3,000,000 characters\)\]", lines[0]), lines[0]


def _loaders():
    """(name, object with load_state_dict, a state with one hostile field) for the optimizers,
    the schedules and every callback that keeps a state."""
    import mlp
    from mlp import callbacks, optim, schedules
    from mlp.diagnostics import Diagnostics

    def adam():
        return optim.Adam(mlp.Linear(2, 2, rng=0).parameters())

    good = adam().state_dict()
    cases = [("Adam.type", adam, {**good, "type": HUGE}),
             ("Adam.t", adam, {**good, "t": NEST}),
             ("Adam.lr", adam, {**good, "hyperparameters": {**good["hyperparameters"],
                                                            "lr": BIG}}),
             ("Adam.key", adam, {**good, "hyperparameters": {HUGE: 1}})]

    def sgd():
        return optim.SGD(mlp.Linear(2, 2, rng=0).parameters(), momentum=0.9)

    state = sgd().state_dict()
    cases += [("SGD.nesterov", sgd, {**state, "hyperparameters": {
        **state["hyperparameters"], "nesterov": HUGE}})]
    for cls in (schedules.StepDecay, schedules.LinearWarmup):
        def schedule(cls=cls):
            return cls(adam(), 3) if cls is schedules.StepDecay else cls(adam(), 2)
        state = schedule().state_dict()
        cases += [(f"{cls.__name__}.{key}", schedule, {**state, key: value})
                  for key, value in (("type", HUGE), ("t", HUGE), ("base_lr", BIG))]
    model = mlp.Sequential(mlp.Linear(2, 2, rng=0))
    cases += [
        ("EarlyStopping.best", callbacks.EarlyStopping, {"best": HUGE, "wait": 0}),
        ("EarlyStopping.wait", callbacks.EarlyStopping, {"best": 1.0, "wait": -BIG}),
        ("ReduceLROnPlateau.reductions",
         lambda: callbacks.ReduceLROnPlateau(optimizer=adam()),
         {"best": 1.0, "wait": 0, "cooling": 0, "reductions": [[HUGE, 0.1]]}),
        ("ModelCheckpoint.best", lambda: callbacks.ModelCheckpoint("unused.npz"),
         {"best": NEST}),
        ("GradientClipping.norms", lambda: callbacks.GradientClipping(1.0), {"norms": HUGE}),
        ("CSVLogger.rows", lambda: callbacks.CSVLogger("unused.csv"), {"rows": [{HUGE: []}]}),
        ("Diagnostics.initial_loss", lambda: Diagnostics(model), {"initial_loss": HUGE}),
    ]
    return cases


@pytest.mark.parametrize(("make", "state"), [case[1:] for case in _loaders()],
                         ids=[case[0] for case in _loaders()])
def test_a_state_loader_refuses_a_hostile_field_in_a_short_message(make, state):
    with pytest.raises((TypeError, ValueError)) as info:
        make().load_state_dict(state)
    _short(str(info.value))
