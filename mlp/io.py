"""Model files: numpy arrays plus a JSON description, never pickle.

A model file is an ``.npz`` archive holding

- ``__config__``: the JSON description as UTF-8 bytes (a uint8 array): the format name and
  version, the layer specs (type and constructor arguments, nested for containers) and, for
  an estimator, its parameters and fitted attributes; plus any ``metadata`` the caller adds
  (the command-line tool stores its preprocessing and class labels there);
- one array per parameter and buffer, named as in ``model.parameters()`` (``"param:0.W"``)
  and ``model.named_buffers()`` (``"buffer:1.running_mean"``).

It is read with ``allow_pickle=False``: opening a file cannot run code. It is written to a
temporary file in the same folder and renamed into place, so an interrupted save never leaves
a half-written file under the target name.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from . import activations, layers
from .base import Layer
from .sequential import Residual, Sequential

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFileError", "load", "save", "write_atomic"]

FORMAT = "mlp-model"
FORMAT_VERSION = 1

#: Every layer type a file may name, by class name.
LAYER_TYPES = {
    cls.__name__: cls
    for cls in [*set(activations.ACTIVATIONS.values()), layers.Linear, layers.Dropout,
                layers.BatchNorm1d, Residual, Sequential]
}
_CONTAINERS = (Sequential, Residual)


class ModelFileError(ValueError):
    """A model file that cannot be read: missing, corrupted, foreign or too new."""


# -- layer specs -----------------------------------------------------------------------------


def layer_spec(layer: Layer) -> dict:
    """The JSON-ready description of a layer (and, for a container, of its children)."""
    cls = type(layer)
    if LAYER_TYPES.get(cls.__name__) is not cls:
        raise TypeError(
            f"cannot save a {cls.__name__}: model files hold the library's own layer types "
            f"({', '.join(sorted(LAYER_TYPES))})"
        )
    spec = {"type": cls.__name__, **layer.config()}
    if isinstance(layer, _CONTAINERS):
        spec["layers"] = [layer_spec(child) for child in layer.children()]
    return spec


def build_layer(spec) -> Layer:
    """Rebuild a layer (with fresh weights) from :func:`layer_spec`'s description."""
    if not isinstance(spec, dict) or spec.get("type") not in LAYER_TYPES:
        kind = spec.get("type") if isinstance(spec, dict) else spec
        raise ModelFileError(f"unknown layer type {kind!r} in the model file")
    kwargs = {key: value for key, value in spec.items() if key not in ("type", "layers")}
    cls = LAYER_TYPES[spec["type"]]
    try:
        if issubclass(cls, _CONTAINERS):
            return cls(*[build_layer(child) for child in spec.get("layers", [])], **kwargs)
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"invalid {spec['type']} in the model file: {exc}") from None


# -- saving ----------------------------------------------------------------------------------


#: The fitted attributes of an estimator that a model file keeps (besides classes and weights).
_FITTED = ("n_features_in_", "n_outputs_", "n_iter_", "t_", "out_activation_", "loss_",
           "loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_")


def _plain(value):
    """A fitted attribute as plain JSON: None, str, a list of floats, or a Python number."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return [float(v) for v in value]
    return np.asarray(value).item()


def _estimator_state(est) -> dict:
    """Parameters and fitted attributes of an MLPClassifier / MLPRegressor, JSON-ready."""
    params = est.get_params()
    for key, value in params.items():
        if isinstance(value, tuple):
            params[key] = list(value)
        elif isinstance(value, (np.random.RandomState, np.random.Generator)):
            params[key] = None  # a generator's state is not part of the model
    state = {"class": type(est).__name__, "params": params,
             **{key: _plain(getattr(est, key)) for key in _FITTED}}
    if hasattr(est, "classes_"):
        state["classes_"] = est.classes_.tolist()
        state["classes_dtype"] = est.classes_.dtype.str
        state["multilabel"] = bool(est._multilabel)
    if hasattr(est, "feature_names_in_"):
        state["feature_names_in_"] = [str(name) for name in est.feature_names_in_]
    return state


def save(obj, path, *, metadata=None) -> Path:
    """Write a :class:`~mlp.Sequential` (or any library layer) or a fitted estimator.

    Parameters
    ----------
    obj : Layer, MLPClassifier or MLPRegressor
    path : str or Path
        Where to write; ``.npz`` is the usual suffix (numpy appends none here).
    metadata : dict, optional
        JSON-serialisable extras stored beside the model (returned by
        ``load(path, with_metadata=True)``).

    Returns
    -------
    Path
    """
    from sklearn.utils.validation import check_is_fitted

    path = Path(path)
    estimator = None
    if isinstance(obj, Layer):
        model = obj
    elif hasattr(obj, "model_") or type(obj).__name__ in ("MLPClassifier", "MLPRegressor"):
        check_is_fitted(obj, "model_")
        estimator, model = obj, obj.model_
    else:
        raise TypeError(f"cannot save a {type(obj).__name__}: expected a Layer or a fitted "
                        "MLPClassifier / MLPRegressor")
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": layer_spec(model),
              "estimator": None if estimator is None else _estimator_state(estimator),
              "metadata": metadata or {}}
    try:
        text = json.dumps(config, allow_nan=True)
    except TypeError as exc:
        raise TypeError(f"metadata must be JSON-serialisable: {exc}") from None
    arrays = {"__config__": np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}
    for p in model.parameters():
        arrays[f"param:{p.name}"] = p.value
    for name, value in model.named_buffers():
        arrays[f"buffer:{name}"] = value

    return write_atomic(path, lambda f: np.savez(f, **arrays))


def write_atomic(path, content) -> Path:
    """Write a file so that it is either complete or absent: temporary file, then rename.

    Parameters
    ----------
    path : str or Path
    content : str, bytes or callable
        Text (written as UTF-8), bytes, or a function that writes to the binary file object
        it is given.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"cannot write {path}: no such directory {folder}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content.encode("utf-8") if isinstance(content, str) else content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # never leave a half-written temporary file behind, not even on Ctrl-C
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# -- loading ---------------------------------------------------------------------------------


def _read(path):
    path = Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic != b"PK\x03\x04":
            raise ModelFileError(f"{path} is not an mlp model file (not an .npz archive)")
        if not zipfile.is_zipfile(path):
            raise ModelFileError(f"{path} is corrupted or truncated (incomplete .npz archive)")
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if "__config__" not in names:
                raise ModelFileError(f"{path} is not an mlp model file (no model description)")
            arrays = {name: archive[name] for name in names}
    except FileNotFoundError:
        raise ModelFileError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"cannot read {path}: it is a directory") from None
    except PermissionError:
        raise ModelFileError(f"cannot read {path}: permission denied") from None
    except ModelFileError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ModelFileError(
                f"{path} contains a pickled object array; refusing to load it (model files "
                "hold plain numbers only, so that opening one cannot run code)"
            ) from None
        raise ModelFileError(f"{path} is not an mlp model file ({exc})") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise ModelFileError(f"{path} is corrupted or truncated ({exc})") from None
    try:
        config = json.loads(arrays.pop("__config__").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise ModelFileError(f"{path}: the model description is corrupted ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an mlp model file")
    version = config.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was saved by a newer version of mlp (model format {version}; this version "
            f"reads up to {FORMAT_VERSION}): upgrade mlp to load it"
        )
    return config, arrays


def _fill(model, arrays, path):
    expected = {f"param:{p.name}": p.value for p in model.parameters()}
    expected.update({f"buffer:{name}": value for name, value in model.named_buffers()})
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ModelFileError(
            f"{path}: the arrays do not match the layers (missing {missing}, unexpected {extra})"
        )
    for name, target in expected.items():
        source = arrays[name]
        if source.shape != target.shape or source.dtype.kind != "f":
            raise ModelFileError(
                f"{path}: {name} has shape {source.shape} and dtype {source.dtype}, expected "
                f"{target.shape} floats"
            )
        if not np.isfinite(source).all():
            raise ModelFileError(f"{path}: {name} contains NaN or infinity")
        target[...] = source


def _restore_estimator(state, model, path):
    from . import estimator as estimators

    cls = getattr(estimators, str(state.get("class")), None)
    if cls not in (estimators.MLPClassifier, estimators.MLPRegressor):
        raise ModelFileError(f"{path}: unknown estimator class {state.get('class')!r}")
    try:
        est = cls(**state["params"])
    except TypeError as exc:
        raise ModelFileError(f"{path}: invalid estimator parameters ({exc})") from None
    for key in _FITTED:
        setattr(est, key, state[key])
    if "classes_" in state:
        est.classes_ = np.asarray(state["classes_"], dtype=np.dtype(state["classes_dtype"]))
        est._multilabel = state["multilabel"]
    if "feature_names_in_" in state:
        est.feature_names_in_ = np.asarray(state["feature_names_in_"], dtype=object)
    est.model_ = model
    est.n_layers_ = sum(isinstance(layer, layers.Linear) for layer in model) + 1
    return est


def load(path, *, with_metadata=False):
    """Read a model file written by :func:`save`.

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
        (a ValueError) when the file is missing, not a model file, corrupted or truncated,
        written by a newer format version, or holds a pickled object array.
    """
    config, arrays = _read(path)
    model = build_layer(config.get("model"))
    _fill(model, arrays, path)
    model.eval()
    obj = model
    if config.get("estimator") is not None:
        try:
            obj = _restore_estimator(config["estimator"], model, path)
        except KeyError as exc:
            raise ModelFileError(f"{path}: the estimator description lacks {exc}") from None
    return (obj, config.get("metadata") or {}) if with_metadata else obj
