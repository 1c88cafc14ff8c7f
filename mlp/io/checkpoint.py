"""Checkpoints: the whole state of a training run, so that it resumes as if never stopped.

A checkpoint is an ``.npz`` archive like a model file (JSON description + arrays, never
pickle), holding everything a later step depends on:

- the network: layer specs, ``param:*`` and ``buffer:*`` arrays (BatchNorm's running
  statistics included);
- the optimizer: its type, settings, current learning rate and step count t, and its state
  vectors (``optim:velocity``, ``optim:square_avg``, ``optim:m_sum``/``optim:v_sum``);
- the random generators' bit-generator states: the trainer's (the shuffling order) and each
  Dropout layer's (the masks), with which of them are one and the same generator;
- the trainer: steps and samples seen, epochs, the history (loss, val_loss, val_score, lr,
  time, the metrics callbacks added, best values);
- each callback's :meth:`~mlp.callbacks.Callback.state_dict` (a schedule's position, the
  count of epochs without improvement and the best weights kept by EarlyStopping or the
  trainer's own stopping rule, GradientClipping's norms, ...), and free ``metadata`` (the
  command line keeps its preprocessing there);
- the rows of :class:`~mlp.diagnostics.Diagnostics` (``history.diagnostics``).

Weight copies (a callback's best epoch) are stored as ``snapshot:K.param.NAME`` and
``snapshot:K.buffer.NAME`` arrays with the network's shapes; a callback's per-step record (a
1-D float64 array in its state) as a ``vector:K`` array whose length the description declares.
Loading checks all of it, as for a model file, before allocating anything: every shape
follows from the layer specs (the description's checks are in :mod:`.checkpoint_format`).

Typical use::

    save_checkpoint("run.npz", trainer)                # or the ModelCheckpoint callback
    ...                                                # later, in a new process:
    trainer = Trainer(model, loss, Adam(model.parameters()), callbacks=[...])  # as before
    load_checkpoint("run.npz", trainer)
    trainer.fit(X, y, epochs=remaining)                # the same bits as never stopping
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._text import shown
from ..base import Layer
from ..history import History
from ..layers import Dropout
from . import archive as zipped
from .checkpoint_format import CURVES, FORMAT, FORMAT_VERSION, check_description, parse
from .errors import ModelFileError
from .files import write_atomic
from .reading import network_arrays, read_network
from .runstate import (
    check_optimizer,
    generator_from_json,
    generator_json,
    optimizer_json,
    restore_optimizer,
)
from .spec import layer_spec

__all__ = ["Checkpoint", "load_checkpoint", "save_checkpoint"]

#: Callbacks whose state a resumed trainer may go without: they do not change training.
_OPTIONAL = {"ModelCheckpoint", "Diagnostics"}


def _dropouts(layer, prefix=""):
    """(dotted path, layer) of every Dropout inside ``layer``, named as parameters are."""
    if isinstance(layer, Dropout):
        yield prefix.rstrip("."), layer
    for i, child in enumerate(layer.children()):
        yield from _dropouts(child, f"{prefix}{i}.")


def _snapshot_arrays(k, weights, model):
    values, buffers = weights
    arrays = {f"snapshot:{k}.param.{p.name}": v
              for p, v in zip(model.parameters(), values, strict=True)}
    arrays.update({f"snapshot:{k}.buffer.{name}": v
                   for (name, _), v in zip(model.named_buffers(), buffers, strict=True)})
    return arrays


def _is_vector(value):
    return isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype == np.float64


def _is_snapshot(value):
    return isinstance(value, tuple) and len(value) == 2 and all(
        isinstance(part, list) and all(isinstance(a, np.ndarray) for a in part)
        for part in value)


# -- saving ----------------------------------------------------------------------------------


def _metrics(history, epoch_logs):
    """``history.metrics``, with the numbers callbacks added to the ending epoch's logs (the
    trainer records them after the last callback: as ``Trainer._epoch_end`` does)."""
    metrics = {key: [float(v) for v in values] for key, values in history.metrics.items()}
    for key, value in (epoch_logs or {}).items():
        if key not in ("loss", "val_loss", "val_score", "lr", "time", "size"):
            metrics.setdefault(key, []).append(float(value))
    return metrics


def save_checkpoint(path, trainer, *, metadata=None, epoch_logs=None) -> Path:
    """Write the full state of ``trainer`` (a :class:`~mlp.trainer.Trainer`) atomically.

    Parameters
    ----------
    path : str or Path
        Written through a temporary file and renamed (:func:`mlp.io.write_atomic`).
    trainer : Trainer
        Its model must be made of the library's layers and its optimizer an SGD, RMSProp or
        Adam over all of ``model.parameters()``.
    metadata : dict, optional
        JSON-serialisable extras (``load_checkpoint(...).metadata``).
    epoch_logs : dict, optional
        The logs of the epoch that is ending, when written from a callback's
        ``on_epoch_end`` (:class:`~mlp.callbacks.ModelCheckpoint` passes them): the numbers
        callbacks added to them reach ``history.metrics`` only after every callback ran, and
        are stored with the epoch's other numbers.

    Returns
    -------
    Path

    Raises
    ------
    TypeError
        For a layer, optimizer, random generator or callback state a checkpoint cannot hold,
        or metadata that is not JSON with finite numbers.
    ValueError
        When a weight, buffer or optimizer state is NaN or infinite.
    """
    model, history = trainer.model, trainer.history
    arrays = {f"param:{p.name}": p.value for p in model.parameters()}
    arrays.update({f"buffer:{name}": value for name, value in model.named_buffers()})
    optimizer, vectors = optimizer_json(trainer.optimizer, model, "cannot checkpoint")
    arrays.update(vectors)
    generators, slots = [], {}
    for slot, generator in [("trainer", trainer.rng), *(
            (f"dropout:{path_}", layer.rng) for path_, layer in _dropouts(model))]:
        same = [i for i, g in enumerate(generators) if g is generator]
        if not same:
            generators.append(generator)
        slots[slot] = same[0] if same else len(generators) - 1
    snapshots, vectors = [], []

    def stored(value):
        """A state's value as the description holds it: weight copies and vectors by
        reference to their arrays."""
        if _is_snapshot(value):
            snapshots.append(value)
            return {"snapshot": len(snapshots) - 1}
        if _is_vector(value):
            vectors.append(value)
            return {"vector": len(vectors) - 1, "length": len(value)}
        return value

    callbacks = []
    for callback in trainer.callbacks:
        state = callback.state_dict() if hasattr(callback, "state_dict") else None
        if state is not None:
            state = {key: stored(value) for key, value in state.items()}
            callbacks.append({"type": type(callback).__name__, "state": state})
    config = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "model": layer_spec(model),
        "optimizer": optimizer,
        "generators": [generator_json(g, "cannot checkpoint") for g in generators],
        "generator_of": slots,
        "trainer": {"steps": trainer.steps, "samples_seen": trainer.samples_seen},
        "history": {**{key: [float(v) for v in getattr(history, key)] for key in CURVES},
                    "metrics": _metrics(history, epoch_logs),
                    "best_loss": float(history.best_loss),
                    "best_val_score": history.best_val_score,
                    "best_epoch": history.best_epoch,
                    "diagnostics": [dict(row) for row in history.diagnostics]},
        "callbacks": callbacks, "snapshots": len(snapshots), "vectors": len(vectors),
    }
    for k, weights in enumerate(snapshots):
        arrays.update(_snapshot_arrays(k, weights, model))
    for name, value in arrays.items():
        if not zipped.all_finite(value):
            raise ValueError(f"cannot checkpoint {name}: it contains NaN or infinity")
    arrays.update({f"vector:{k}": value for k, value in enumerate(vectors)})
    try:
        config["metadata"] = json.loads(json.dumps(metadata or {}, allow_nan=False))
        text = json.dumps(config, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot write the checkpoint's description as JSON: {exc}") from None
    body = text.encode("utf-8")
    if len(body) > zipped.MAX_CONFIG_BYTES:  # never write what load_checkpoint refuses
        raise ValueError(f"cannot checkpoint: the description would take {len(body)} bytes, "
                         f"more than the {zipped.MAX_CONFIG_BYTES} a checkpoint may hold "
                         "(record diagnostics less often)")
    arrays["__config__"] = np.frombuffer(body, dtype=np.uint8)
    return write_atomic(path, lambda f: np.savez(f, **arrays))


# -- loading ---------------------------------------------------------------------------------


class Checkpoint:
    """A checkpoint read and checked by :func:`load_checkpoint`.

    Attributes
    ----------
    model : Sequential or Layer
        The network with the saved weights and buffers, in training mode.
    optimizer : SGD, RMSProp or Adam
        Over ``model.parameters()``, in the saved state: ``Trainer(checkpoint.model, loss,
        checkpoint.optimizer, ...)`` and :meth:`restore` continue the saved run.
    history : History
        The saved history (a copy is given to each trainer restored).
    epoch : int
        Epochs done (``len(history.loss)``).
    metadata : dict
    path : str
    """

    def __init__(self, path, config, model, optimizer, arrays):
        self.path, self._config, self.model, self._arrays = str(path), config, model, arrays
        self.optimizer = optimizer
        self.metadata = config.get("metadata") or {}
        self.epoch = len(config["history"]["loss"])

    @property
    def history(self) -> History:
        saved = self._config["history"]
        return History(**{key: list(saved[key]) for key in CURVES},
                       metrics={key: list(values) for key, values in saved["metrics"].items()},
                       best_loss=saved["best_loss"], best_val_score=saved["best_val_score"],
                       best_epoch=saved["best_epoch"],
                       diagnostics=[dict(row) for row in saved.get("diagnostics", [])])

    def _snapshot(self, k):
        values = [self._arrays[f"snapshot:{k}.param.{p.name}"].copy()
                  for p in self.model.parameters()]
        buffers = [self._arrays[f"snapshot:{k}.buffer.{name}"].copy()
                   for name, _ in self.model.named_buffers()]
        return values, buffers

    def _stored(self, value):
        """A state's value, its weight copy or vector read from the arrays."""
        if isinstance(value, dict) and set(value) == {"snapshot"}:
            return self._snapshot(value["snapshot"])
        if isinstance(value, dict) and set(value) == {"vector", "length"}:
            return self._arrays[f"vector:{value['vector']}"].copy()
        return value

    def restore(self, trainer) -> None:
        """Put the saved state into ``trainer``: its next ``fit`` goes on bit for bit.

        ``trainer`` is built as the saved one was (same network architecture, optimizer type
        and stateful callbacks); its weights, optimizer state, random generators, history,
        counters and callbacks' states are replaced. Callbacks are matched by type, in order
        (the second saved EarlyStopping goes to the trainer's second one); a trainer may
        leave out a ModelCheckpoint, and may add callbacks, which start afresh. The next
        ``fit`` goes on where the saved run stopped: the callbacks' states (epochs without
        improvement, best weights) are put back after their ``on_train_begin``.

        Raises
        ------
        ModelFileError
            (a ValueError) when the trainer's network, optimizer or callbacks differ from the
            saved ones, or a callback refuses its saved state; nothing is changed then.
        """
        config, where = self._config, self.path
        if layer_spec(trainer.model) != config["model"]:
            raise ModelFileError(f"{where}: the trainer's model {trainer.model!r} is not the "
                                 "network of the checkpoint; build it as the saved run did")
        if type(trainer.optimizer).__name__ != config["optimizer"]["type"]:
            raise ModelFileError(f"{where}: the checkpoint holds a {config['optimizer']['type']}"
                                 f" state, the trainer has a {type(trainer.optimizer).__name__}")
        pending, seen = [], {}
        for entry in config["callbacks"]:
            kind = entry["type"]
            matching = [c for c in trainer.callbacks if type(c).__name__ == kind]
            nth = seen[kind] = seen.get(kind, -1) + 1
            if nth >= len(matching):
                if kind in _OPTIONAL:
                    continue
                raise ModelFileError(f"{where}: the checkpoint holds the state of {nth + 1} "
                                     f"{shown(kind, quote=False)}, the trainer has "
                                     f"{len(matching)}: give it the callbacks the saved run had")
            state = {key: self._stored(value) for key, value in entry["state"].items()}
            pending.append((matching[nth], state))

        def resume():
            for callback, state in pending:
                try:
                    callback.load_state_dict(state)
                except (TypeError, ValueError, KeyError) as exc:
                    name = type(callback).__name__
                    text = str(exc) if str(exc).startswith(name) else f"{name}: {exc}"
                    raise ModelFileError(f"{where}: {shown(text, limit=200, quote=False)}") \
                        from None

        resume()  # now, so that a refused state is reported before the trainer changes
        restore_optimizer(trainer.optimizer, config["optimizer"], self._arrays,
                          f"{where}: optimizer")
        trainer.model.set_weights(self.model.copy_weights())
        generators = [generator_from_json(body, f"{where}: generators[{i}]")
                      for i, body in enumerate(config["generators"])]
        slots = config["generator_of"]
        trainer.rng = generators[slots["trainer"]]
        for path_, layer in _dropouts(trainer.model):
            layer.rng = generators[slots[f"dropout:{path_}"]]
        saved = config["trainer"]
        trainer.steps, trainer.samples_seen = saved["steps"], saved["samples_seen"]
        trainer.history = self.history
        trainer._resumed = resume


def load_checkpoint(path, trainer=None) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`, checking all of it first.

    Parameters
    ----------
    path : str or Path
    trainer : Trainer, optional
        When given, the state is put into it at once (:meth:`Checkpoint.restore`): build
        it as the saved run was built (network, optimizer type, callbacks), then call
        ``load_checkpoint(path, trainer)`` and ``trainer.fit(...)`` for the remaining epochs.

    Returns
    -------
    Checkpoint

    Raises
    ------
    ModelFileError
        (a ValueError) when the file is missing, not a checkpoint (a model file is named as
        such), corrupted or truncated, newer than this version reads, or when any field or
        array is of the wrong type, shape or range, not finite, or inconsistent with the
        network; the message names the file and the field. With ``trainer``, also when the
        trainer does not match the checkpoint.
    """
    with zipped.open_archive(path) as archive:
        infos = zipped.member_names(archive, path)
        config_member = zipped.read_header(archive, infos.pop("__config__"), "__config__",
                                           path)
        config = parse(zipped.read_bytes(archive, config_member, path,
                                          zipped.MAX_CONFIG_BYTES), path)
        network = network_arrays(config.get("model"), path)
        extra = check_description(config, network, path)
        model, arrays = read_network(archive, infos, config["model"], extra, path,
                                     "the checkpoint's network and state")
    if not isinstance(model, Layer):  # pragma: no cover - build_layer returns layers
        raise ModelFileError(f"{path}: the checkpoint holds no network")
    optimizer = check_optimizer(config["optimizer"], model, arrays, f"{path}: optimizer")
    checkpoint = Checkpoint(path, config, model, optimizer, arrays)
    if trainer is not None:
        checkpoint.restore(trainer)
    return checkpoint
