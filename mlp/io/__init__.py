"""Model files: numpy arrays plus a JSON description, never pickle, trusting nothing.

A model file is an ``.npz`` archive holding

- ``__config__``: the JSON description as UTF-8 bytes (a uint8 array): the format name and
  version, the layer specs (type and constructor arguments, nested for containers) and, for
  an estimator, its parameters and fitted attributes; plus any ``metadata`` the caller adds
  (the command-line tool stores its preprocessing and class labels there);
- one array per parameter and buffer, named as in ``model.parameters()`` (``"param:0.W"``)
  and ``model.named_buffers()`` (``"buffer:1.running_mean"``);
- for an estimator, its optimizer's state vectors (``"optim:m_sum"``, ...), so that
  ``partial_fit`` after :func:`load` goes on exactly as it would have in memory.

A checkpoint (:func:`save_checkpoint`, :func:`load_checkpoint`, in :mod:`.checkpoint`) is the
same kind of archive holding a whole training run's state.

Loading checks everything before using anything: the file is a regular file and a zip
archive of known members; the description's every section and field (type, range, and
consistency with the network, e.g. as many classes as outputs); each layer's arguments through
the layer's own constructor; the shapes the description declares against the arrays' headers,
before any array is allocated; weights are read straight into the layers, never initialised
first. Reading uses at most a small constant beyond the arrays the file really holds, and
cannot run code. All of it lives in this package: the archive reader (:mod:`.archive`), layer
specs (:mod:`.spec`), the estimator's state (:mod:`.state`), the metadata (:mod:`.metadata`) and
the atomic writer (:mod:`.files`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._text import shown, shown_value
from ..base import Layer
from . import archive as zipped
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .errors import ModelFileError, kind_of
from .files import check_writable, check_writable_folder, write_atomic
from .metadata import check_metadata
from .reading import network_arrays, read_network
from .runstate import restore_training, training_arrays, training_state
from .spec import LAYER_TYPES, layer_spec
from .state import estimator_state, restore_estimator

__all__ = ["FORMAT", "FORMAT_VERSION", "LAYER_TYPES", "Checkpoint", "ModelFileError",
           "check_writable", "check_writable_folder", "layer_spec", "load", "load_checkpoint",
           "save", "save_checkpoint", "write_atomic"]

FORMAT = "mlp-model"
#: 2: estimator hyperparameters keep their types (tuples, dicts, random states).
#: 3: an estimator keeps its training state (optimizer, random generator, counters).
FORMAT_VERSION = 3


# -- saving ----------------------------------------------------------------------------------


def save(obj, path, *, metadata=None) -> Path:
    """Write a :class:`~mlp.Sequential` (or any library layer) or a fitted estimator.

    Parameters
    ----------
    obj : Layer, MLPClassifier or MLPRegressor
    path : str or Path
        Where to write (see :func:`write_atomic`); ``.npz`` is the usual suffix.
    metadata : dict, optional
        JSON-serialisable extras stored beside the model (returned by
        ``load(path, with_metadata=True)``).

    Returns
    -------
    Path

    Raises
    ------
    TypeError
        For an object that is not a library layer or estimator, a hyperparameter a model file
        cannot hold (naming it), or metadata that is not JSON-serialisable.
    ValueError
        When a weight or buffer is NaN or infinite (such a file could not be loaded), or the
        path cannot be written.
    """
    from sklearn.utils.validation import check_is_fitted

    estimator = None
    if isinstance(obj, Layer):
        model = obj
    elif hasattr(obj, "model_") or type(obj).__name__ in ("MLPClassifier", "MLPRegressor"):
        check_is_fitted(obj, "model_")
        estimator, model = obj, obj.model_
    else:
        raise TypeError(f"cannot save a {type(obj).__name__}: expected a Layer or a fitted "
                        "MLPClassifier / MLPRegressor")
    arrays = {f"param:{p.name}": p.value for p in model.parameters()}
    arrays.update({f"buffer:{name}": value for name, value in model.named_buffers()})
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": layer_spec(model),
              "estimator": None}
    if estimator is not None:
        training, vectors = training_state(estimator)
        config["estimator"] = {**estimator_state(estimator), "training": training}
        arrays.update(vectors)
    for name, value in arrays.items():
        if not zipped.all_finite(value):
            raise ValueError(f"cannot save {name.split(':', 1)[1]}: it contains NaN or "
                             "infinity (the model diverged); such a file could not be loaded")
    try:
        json.dumps(config, allow_nan=True)
    except (TypeError, ValueError) as exc:  # pragma: no cover - the encoders above are exact
        raise TypeError(f"cannot describe the model as JSON: {exc}") from None
    try:
        config["metadata"] = json.loads(json.dumps(metadata or {}, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metadata must be JSON-serialisable with finite numbers: {exc}") \
            from None
    text = json.dumps(config, allow_nan=True)
    arrays["__config__"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return write_atomic(path, lambda f: np.savez(f, **arrays))


# -- loading ---------------------------------------------------------------------------------


def _parse(text, path):
    try:
        config = json.loads(text.decode("utf-8"))
    except RecursionError:
        raise ModelFileError(f"{path}: the model description is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(f"{path}: the model description is corrupted "
                             f"({shown(exc, limit=200, quote=False)})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an mlp model file")
    version = config.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: invalid format version ({kind_of(version)})")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was saved by a newer version of mlp (model format {shown_value(version)}; "
            f"this version reads up to {FORMAT_VERSION}): upgrade mlp to load it"
        )
    return config


def _check_params(est):
    est._check_params()


def load(path, *, with_metadata=False):
    """Read a model file written by :func:`save`, checking all of it first.

    Parameters
    ----------
    path : str or Path
    with_metadata : bool, default False
        Also return the metadata dict stored with the model.

    Returns
    -------
    Sequential, Layer or estimator; or (object, metadata) with ``with_metadata=True``

    Raises
    ------
    ModelFileError
        (a ValueError) when the file is missing, not a regular file, not a model file,
        corrupted or truncated, written by a newer format version, holds a pickled object
        array or a member it does not declare, or when any field of the description is of the
        wrong type, out of range or inconsistent with the rest; the message names the field.
    """
    with zipped.open_archive(path) as archive:
        infos = zipped.member_names(archive, path)
        config_member = zipped.read_header(archive, infos.pop("__config__"), "__config__",
                                           path)
        config = _parse(zipped.read_bytes(archive, config_member, path,
                                          zipped.MAX_CONFIG_BYTES), path)
        extra = training_arrays(config.get("estimator"), network_arrays(config.get("model"),
                                                                        path), path)
        model, arrays = read_network(archive, infos, config["model"], extra, path)
    model.eval()
    n_in = getattr(model, "n_features_in", None) or getattr(model, "n_in", None)
    n_out = None if n_in is None else model.output_width(n_in)
    try:
        obj = model
        if config.get("estimator") is not None:
            obj = restore_estimator(config["estimator"], model, _check_params,
                                    config["format_version"])
            restore_training(obj, config["estimator"].get("training"), arrays)
        metadata = check_metadata(config.get("metadata"), n_in, n_out)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    return (obj, metadata) if with_metadata else obj
