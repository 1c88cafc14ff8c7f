"""Reading a checkpoint's description: every section checked before an array is read.

The layer specs declare the network's arrays; this module checks the other sections of a
checkpoint (:mod:`mlp.io.checkpoint`) — optimizer, random generators, trainer counters,
history, callbacks' states — and derives the further arrays they declare (the optimizer's
vectors, the weight copies), so that the archive's headers can be compared with all of them
before anything is allocated.

Versions. A reader reads every version up to its own ``FORMAT_VERSION`` and refuses a newer
one by name; a writer writes its own. A version adds what older files lack, and older files
load with it empty:

1. network, optimizer, generators, trainer counters, history curves and metrics, callbacks'
   states with their weight copies (``snapshot:K.*`` arrays).
2. ``history.diagnostics`` (the rows of :class:`mlp.diagnostics.Diagnostics`, as JSON
   objects of numbers, strings and nulls), and callbacks' per-step records as arrays
   ``vector:K`` of float64, declared in the state as ``{"vector": K, "length": N}``
   (GradientClipping's norms; these alone may hold infinity or NaN).
"""

from __future__ import annotations

import json

import numpy as np

from .._checks import checked_number
from .._text import shown, shown_list, shown_value
from .errors import ModelFileError, kind_of
from .runstate import generator_from_json, optimizer_arrays
from .state import _Fields

FORMAT = "mlp-checkpoint"
FORMAT_VERSION = 2
#: The history's per-epoch lists.
CURVES = ("loss", "val_loss", "val_score", "lr", "time")
#: Weight copies a checkpoint may hold (one per callback at most).
MAX_SNAPSHOTS = 64
#: Per-step records a checkpoint may hold (callbacks' vectors).
MAX_VECTORS = 1024


def parse(text, path):
    try:
        config = json.loads(text.decode("utf-8"))
    except RecursionError:
        raise ModelFileError(f"{path}: the checkpoint's description is nested too deeply") \
            from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(f"{path}: the checkpoint's description is corrupted "
                             f"({shown(exc, limit=200, quote=False)})") from None
    if isinstance(config, dict) and config.get("format") == "mlp-model":
        raise ModelFileError(f"{path} is a model file, not a checkpoint (resuming needs the "
                             "file a checkpoint was written to)")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an mlp checkpoint")
    version = config.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: invalid checkpoint format version ({kind_of(version)})")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path} was written by a newer version of mlp (checkpoint format "
                             f"{shown_value(version)}; this version reads up to "
                             f"{FORMAT_VERSION})")
    return config


def _count(section, key, where, optional=False, below=None):
    value = section.get(key) if isinstance(section, dict) else None
    checked_number(value, f"{where}.{key}", low=0, integer=True, optional=optional,
                   error=ModelFileError, shown=kind_of,
                   **({} if below is None else {"high": below, "high_open": True}))


def check_description(config, network, path):
    """Check every section besides the layers; return the extra arrays they declare."""
    where = f"{path}: "
    for key, kind in (("optimizer", dict), ("generators", list), ("generator_of", dict),
                      ("trainer", dict), ("history", dict), ("callbacks", list),
                      ("metadata", dict)):
        if not isinstance(config.get(key), kind):
            raise ModelFileError(f"{where}{key} must be {'an object' if kind is dict else 'a list'}"
                                 f", got {kind_of(config.get(key))}")
    extra = optimizer_arrays(config["optimizer"], network, f"{where}optimizer")
    n_generators = len(config["generators"])
    for i, body in enumerate(config["generators"]):
        generator_from_json(body, f"{where}generators[{i}]")
    slots = config["generator_of"]
    expected = {"trainer"} | {f"dropout:{p}" for p in _declared_dropouts(config["model"])}
    if set(slots) != expected:
        raise ModelFileError(f"{where}generator_of must name {shown_list(sorted(expected))}, "
                             f"got {shown_list(sorted(slots))}")
    for slot in slots:
        _count(slots, slot, f"{where}generator_of", below=n_generators)
    n_snapshots = config.get("snapshots")
    _count(config, "snapshots", where.rstrip(": "), below=MAX_SNAPSHOTS + 1)
    trainer = config["trainer"]
    for key in ("steps", "samples_seen"):
        _count(trainer, key, f"{where}trainer")
    _check_history(config["history"], f"{where}history")
    _count(config, "vectors", where.rstrip(": "), optional=True, below=MAX_VECTORS + 1)
    n_vectors, lengths = config.get("vectors") or 0, {}
    for i, entry in enumerate(config["callbacks"]):
        at = f"{where}callbacks[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str) \
                or not isinstance(entry.get("state"), dict):
            raise ModelFileError(f"{at} must be an object with a type and a state")
        # an epoch a callback remembers (its best) is one of those done
        epochs = len(config["history"]["loss"])
        _count(entry["state"], "best_epoch", f"{at}.state", optional=True, below=max(epochs, 1))
        for name, value in entry["state"].items():
            key = shown(name, quote=False)  # a name of the file's, as messages show it
            if isinstance(value, dict) and set(value) == {"snapshot"}:
                _count(value, "snapshot", f"{at}.state.{key}", below=n_snapshots)
            elif isinstance(value, dict) and set(value) == {"vector", "length"}:
                _count(value, "vector", f"{at}.state.{key}", below=n_vectors)
                _count(value, "length", f"{at}.state.{key}")
                if lengths.setdefault(value["vector"], value["length"]) != value["length"]:
                    raise ModelFileError(f"{at}.state.{key}: vector {value['vector']} is "
                                         "declared with two lengths")
    if len(lengths) != n_vectors:
        raise ModelFileError(f"{where}vectors is {n_vectors} but the callbacks' states "
                             f"name {len(lengths)}")
    for k in range(n_snapshots):
        for name, declared in network.items():
            group, rest = name.split(":", 1)
            extra[f"snapshot:{k}.{group}.{rest}"] = declared
    for k, length in lengths.items():
        extra[f"vector:{k}"] = ((length,), np.dtype(np.float64))
    return extra


def _declared_dropouts(spec, prefix=""):
    if spec.get("type") == "Dropout":
        yield prefix.rstrip(".")
    for i, child in enumerate(spec.get("layers", [])):
        yield from _declared_dropouts(child, f"{prefix}{i}.")


def _check_history(history, where):
    fields = _Fields(history, where)
    # NaN marks an epoch whose validation could not be scored
    epochs = len(fields.numbers("loss"))
    for key in CURVES[1:]:
        values = fields.numbers(key, nan=key.startswith("val"))
        if len(values) not in ((0, epochs) if key.startswith("val") else (epochs,)):
            raise ModelFileError(f"{where}.{key} has {len(values)} values for "
                                 f"{epochs} epochs")
    if history["val_score"] and not history["val_loss"]:  # a score needs a validation set
        raise ModelFileError(f"{where}.val_score has {len(history['val_score'])} values "
                             "without a validation loss")
    metrics = history.get("metrics")
    if not isinstance(metrics, dict) or not all(
            isinstance(values, list) and len(values) <= epochs for values in metrics.values()):
        raise ModelFileError(f"{where}.metrics must map names to lists of at most {epochs} "
                             "numbers")
    for name in metrics:
        _Fields(metrics, f"{where}.metrics").numbers(name, finite=False, nan=True)
    fields.number("best_loss", finite=False)
    fields.number("best_val_score", optional=True, finite=False, nan=True)
    _count(history, "best_epoch", where, optional=True, below=max(epochs, 1))
    rows = history.get("diagnostics", [])  # from format 2
    if not isinstance(rows, list) or not all(
            isinstance(row, dict) and all(
                value is None or isinstance(value, str) or (
                    isinstance(value, (int, float)) and not isinstance(value, bool))
                for value in row.values())
            for row in rows):
        raise ModelFileError(f"{where}.diagnostics must be a list of objects of numbers, "
                             f"strings and nulls, got {kind_of(rows)}")
