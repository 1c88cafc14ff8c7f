"""Layer specs: the JSON description of a network, checked whole before anything is built.

A spec is ``{"type": "Linear", "n_in": 4, "n_out": 3, ...}``; a container adds ``"layers"``,
the specs of its children. Loading a file first checks the whole tree (known types, plain
scalar arguments, bounded depth), then derives the arrays it declares, so that they can be
compared with the archive's member headers before a single weight is allocated.
"""

from __future__ import annotations

import numpy as np

from .. import activations, layers
from .._checks import MAX_COUNT, checked_number
from .._text import shown
from ..base import Layer
from ..sequential import Residual, Sequential
from .errors import ModelFileError, kind_of

#: Every layer type a file may name, by class name.
LAYER_TYPES = {
    cls.__name__: cls
    for cls in [*set(activations.ACTIVATIONS.values()), layers.Linear, layers.Dropout,
                layers.BatchNorm1d, Residual, Sequential]
}
_CONTAINERS = (Sequential, Residual)

#: Containers inside containers, at most (deeper trees are refused before being built).
MAX_DEPTH = 32


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


def check_spec(spec, where="model", depth=0) -> None:
    """Check a description tree: known types, scalar arguments, at most MAX_DEPTH deep.

    Raises
    ------
    ModelFileError
        Naming the place in the tree (``model.layers[2]``) and what is wrong there.
    """
    if depth > MAX_DEPTH:
        raise ModelFileError(f"{where}: containers are nested more than {MAX_DEPTH} deep")
    if not isinstance(spec, dict):
        raise ModelFileError(f"{where}: expected a layer description, got {kind_of(spec)}")
    kind = spec.get("type")
    if not isinstance(kind, str) or kind not in LAYER_TYPES:
        named = shown(kind) if isinstance(kind, str) else kind_of(kind)
        raise ModelFileError(f"{where}: unknown layer type {named} in the model file")
    for key, value in spec.items():
        if key in ("type", "layers"):
            continue
        if not isinstance(value, (type(None), bool, int, float, str)):
            raise ModelFileError(f"{where}: {kind} argument {shown(key)} must be a number, a "
                                 f"string, a boolean or null, got {kind_of(value)}")
        if isinstance(value, int) and not isinstance(value, bool):
            # before any constructor converts it: float(10**400) raises OverflowError (a
            # float argument is judged by the constructor, as in code)
            checked_number(value, f"{where}: {kind} argument {shown(key)}", low=-MAX_COUNT,
                           high=MAX_COUNT, integer=True, error=ModelFileError, shown=kind_of)
    if issubclass(LAYER_TYPES[kind], _CONTAINERS):
        children = spec.get("layers", [])
        if not isinstance(children, list):
            raise ModelFileError(f"{where}: {kind} layers must be a list, got "
                                 f"{kind_of(children)}")
        for i, child in enumerate(children):
            check_spec(child, f"{where}.layers[{i}]", depth + 1)
    elif "layers" in spec:
        raise ModelFileError(f"{where}: a {kind} holds no layers")


def _width(spec, key, where):
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ModelFileError(f"{where}: {spec['type']} {key} must be a positive integer, got "
                             f"{kind_of(value)}")
    return value


def _dtype(spec, where):
    name = spec.get("dtype", "float64")
    if name not in ("float16", "float32", "float64"):
        raise ModelFileError(f"{where}: {spec['type']} dtype must be float16, float32 or "
                             f"float64, got {kind_of(name)}")
    return np.dtype(name)


def declared_arrays(spec, where="model", prefix="") -> dict:
    """The arrays a checked spec declares: ``{"param:0.W": (shape, dtype), ...}``.

    Derived from the description alone, without building a layer, so that a file declaring
    ``Linear(10**7, 10**7)`` is refused by comparing numbers, not by allocating.
    """
    kind = spec["type"]
    arrays = {}
    if kind == "Linear":
        n_in, n_out, dtype = _width(spec, "n_in", where), _width(spec, "n_out", where), \
            _dtype(spec, where)
        arrays[f"param:{prefix}W"] = ((n_in, n_out), dtype)
        if spec.get("bias", True) is not False:
            arrays[f"param:{prefix}b"] = ((n_out,), dtype)
    elif kind == "BatchNorm1d":
        n, dtype = _width(spec, "n_features", where), _dtype(spec, where)
        for name in ("param:{}gamma", "param:{}beta", "buffer:{}running_mean",
                     "buffer:{}running_var"):
            arrays[name.format(prefix)] = ((n,), dtype)
    elif kind == "PReLU":
        n = 1 if spec.get("n_features") is None else _width(spec, "n_features", where)
        arrays[f"param:{prefix}alpha"] = ((n,), _dtype(spec, where))
    for i, child in enumerate(spec.get("layers", [])):
        arrays.update(declared_arrays(child, f"{where}.layers[{i}]", f"{prefix}{i}."))
    return arrays


def _skip_init(rng=None):
    """Stands in for ``reset_parameters`` while a layer is rebuilt from a file."""


def build_layer(spec, where="model") -> Layer:
    """Rebuild a layer from a checked spec, through its own constructor's validation.

    The weights are left uninitialised: the file's arrays are about to replace them, and
    drawing random weights first would cost time and memory for nothing.
    """
    kwargs = {key: value for key, value in spec.items() if key not in ("type", "layers")}
    cls = LAYER_TYPES[spec["type"]]
    try:
        if issubclass(cls, _CONTAINERS):
            children = [build_layer(child, f"{where}.layers[{i}]")
                        for i, child in enumerate(spec.get("layers", []))]
            return cls(*children, **kwargs)
        layer = cls.__new__(cls)
        layer.reset_parameters = _skip_init  # the instance attribute hides the method
        try:
            cls.__init__(layer, **kwargs)
        finally:
            del layer.reset_parameters
        return layer
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{where}: invalid {spec['type']} in the model file: "
                             f"{shown(exc, limit=200, quote=False)}") \
            from None


def check_widths(model: Layer, where="model") -> None:
    """Every layer that fixes its input width receives that width from the layer before."""
    width = None
    for i, layer in enumerate(getattr(model, "layers", [model])):
        n_in = getattr(layer, "n_in", None)
        if isinstance(layer, Sequential):
            check_widths(layer, f"{where}.layers[{i}]")
            n_in = layer.n_features_in
        elif isinstance(layer, Residual):
            check_widths(layer.inner, f"{where}.layers[{i}]")
        if width is not None and n_in is not None and n_in != width:
            raise ModelFileError(f"{where}.layers[{i}]: {layer!r} takes {n_in} features but "
                                 f"the layer before it gives {width}")
        if n_in is not None or width is not None:
            width = layer.output_width(n_in if n_in is not None else width)
