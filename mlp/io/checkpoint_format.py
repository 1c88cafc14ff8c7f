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
import math

import numpy as np

from .._text import shown, shown_list
from .errors import ModelFileError, kind_of
from .runstate import generator_from_json, optimizer_arrays

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
                             f"{version}; this version reads up to {FORMAT_VERSION})")
    return config


def _count(section, key, where, optional=False, below=None):
    value = section.get(key) if isinstance(section, dict) else None
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (
            below is not None and value >= below):
        bound = f" below {below}" if below is not None else ""
        raise ModelFileError(f"{where}.{key} must be an integer ≥ 0{bound}"
                             f"{' or null' if optional else ''}, got {kind_of(value)}")


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
    def numbers(key):
        value = history.get(key)
        if not isinstance(value, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise ModelFileError(f"{where}.{key} must be a list of numbers, got "
                                 f"{kind_of(value)}")
        return value

    epochs = len(numbers("loss"))
    for key in CURVES[1:]:
        if len(numbers(key)) not in ((0, epochs) if key.startswith("val") else (epochs,)):
            raise ModelFileError(f"{where}.{key} has {len(history[key])} values for "
                                 f"{epochs} epochs")
    metrics = history.get("metrics")
    if not isinstance(metrics, dict) or not all(
            isinstance(values, list) and len(values) <= epochs and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            for values in metrics.values()):
        raise ModelFileError(f"{where}.metrics must map names to lists of at most {epochs} "
                             "numbers")
    best_loss = history.get("best_loss")
    if isinstance(best_loss, bool) or not isinstance(best_loss, (int, float)) \
            or math.isnan(best_loss):
        raise ModelFileError(f"{where}.best_loss must be a number, got {kind_of(best_loss)}")
    score = history.get("best_val_score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
        raise ModelFileError(f"{where}.best_val_score must be a number or null, got "
                             f"{kind_of(score)}")
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
