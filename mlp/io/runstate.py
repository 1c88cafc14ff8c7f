"""A training run's state in a file: the optimizer's and the random generators', checked.

An optimizer is kept as JSON (``{"type": "Adam", "t": 12, "hyperparameters": {...}}``) plus
its state vectors as arrays ``optim:m_sum``, ``optim:v_sum`` of shape (n_params,), where
n_params is the total size of the network's parameters, so that the loader knows every shape
from the layer specs before it reads a byte. A random generator is kept as its bit generator's
state, for the bit generators numpy ships (an allowlist: no other class is ever instantiated).
"""

from __future__ import annotations

import math

import numpy as np

from .._text import shown
from ..optim import SGD, Adam, RMSProp
from .errors import ModelFileError, kind_of
from .state import _BIT_GENERATORS, _Fields, _random_state_json, decode_param

#: The optimizers a file may name.
OPTIMIZERS = {cls.__name__: cls for cls in (SGD, RMSProp, Adam)}


# -- optimizers ------------------------------------------------------------------------------


def optimizer_json(optimizer, model, owner="cannot save"):
    """(JSON section, ``{"optim:NAME": array}``) of an optimizer training every parameter of
    ``model`` in order; TypeError for any other optimizer."""
    name = type(optimizer).__name__
    if OPTIMIZERS.get(name) is not type(optimizer):
        raise TypeError(f"{owner} a {name}: files keep the state of "
                        f"{', '.join(OPTIMIZERS)}")
    if [p.name for p in optimizer.params] != [p.name for p in model.parameters()] or any(
            a.value is not b.value for a, b in zip(optimizer.params, model.parameters(),
                                                   strict=True)):
        raise TypeError(f"{owner} the optimizer's state: it must train every parameter of "
                        "the model, in the order of model.parameters()")
    state = optimizer.state_dict()
    arrays = {f"optim:{key}": value for key, value in state.pop("vectors").items()}
    return state, arrays


def optimizer_arrays(section, network, where) -> dict:
    """The arrays an optimizer section declares, ``{"optim:NAME": ((n_params,), dtype)}``.

    ``network`` is the network's declared arrays; the vectors have the size of all its
    parameters and their common dtype.
    """
    if not isinstance(section, dict):
        raise ModelFileError(f"{where} must be an object, got {kind_of(section)}")
    if not isinstance(section.get("type"), str) or section["type"] not in OPTIMIZERS:
        raise ModelFileError(f"{where}.type must be one of {', '.join(OPTIMIZERS)}, got "
                             f"{kind_of(section.get('type'))}")
    params = [(shape, dtype) for name, (shape, dtype) in network.items()
              if name.startswith("param:")]
    if not params:
        raise ModelFileError(f"{where}: the network has no parameters to optimise")
    size = sum(math.prod(shape) for shape, _ in params)
    dtype = np.result_type(*(dtype for _, dtype in params))
    return {f"optim:{key}": ((size,), dtype)
            for key in OPTIMIZERS[section["type"]].state_vectors}


def restore_optimizer(optimizer, section, arrays, where) -> None:
    """Load a checked section and its arrays into ``optimizer`` (of the file's type)."""
    vectors = {name.split(":", 1)[1]: value for name, value in arrays.items()
               if name.startswith("optim:")}
    try:
        optimizer.load_state_dict({**section, "vectors": vectors})
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{where}: {shown(exc, limit=200, quote=False)}") from None


def check_optimizer(section, model, arrays, where):
    """An optimizer of the file's type over ``model``, with the file's state: every setting
    checked by the rules of the optimizer's constructor, which its ``load_state_dict``
    applies (an unknown setting named as such)."""
    settings = section.get("hyperparameters")
    if not isinstance(settings, dict):
        raise ModelFileError(f"{where}.hyperparameters must be an object, got "
                             f"{kind_of(settings)}")
    optimizer = OPTIMIZERS[section["type"]](model.parameters())
    restore_optimizer(optimizer, section, arrays, where)
    return optimizer


# -- random generators ---------------------------------------------------------------------


def generator_json(generator, owner="cannot save") -> dict:
    """The state of a ``np.random.Generator`` as JSON; TypeError for a foreign bit generator."""
    kind = type(generator.bit_generator).__name__
    if kind not in _BIT_GENERATORS:
        raise TypeError(f"{owner} a Generator over {kind} (files keep the state of "
                        f"{', '.join(_BIT_GENERATORS)})")
    return _random_state_json(generator.bit_generator.state)


def _check_counters(state, where):
    """Every number of a bit generator's state is a whole number ≥ 0 (numpy would round a
    float silently)."""
    for key, value in state.items():
        if key in ("bit_generator", "dtype", "ndarray"):
            continue
        if isinstance(value, dict):
            _check_counters(value, f"{where}.{shown(key, quote=False)}")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ModelFileError(f"{where}.{shown(key, quote=False)} must be an integer ≥ 0, "
                                 f"got {kind_of(value)}")


def generator_from_json(body, where) -> np.random.Generator:
    """A fresh ``np.random.Generator`` in the saved state; ModelFileError when it is not one."""
    if not isinstance(body, dict):
        raise ModelFileError(f"{where} must be a bit generator's state, got {kind_of(body)}")
    _check_counters(body, where)
    try:
        return decode_param({"Generator": body}, where)
    except ModelFileError as exc:
        raise ModelFileError(f"{where}: {exc}") from None


# -- an estimator's training state ---------------------------------------------------------


def training_state(est):
    """(JSON section, arrays) of what ``partial_fit`` and a warm ``fit`` go on from: the
    random generator (shuffling, dropout masks, the early-stopping split), the stochastic
    solver's optimizer (moments, step count, current learning rate), the count of epochs
    without improvement and the weight behind the BatchNorm statistics."""
    generator = getattr(est, "_rng_", None)
    optimizer = getattr(est, "_optimizer", None)
    section, arrays = (None, {}) if optimizer is None else optimizer_json(
        optimizer, est.model_, f"cannot save {type(est).__name__} with")
    return {"rng": None if generator is None else generator_json(
                generator, f"cannot save {type(est).__name__} with"),
            "optimizer": section,
            "no_improvement_count": int(getattr(est, "_no_improvement_count", 0)),
            "statistics_weight": float(getattr(est, "_statistics_weight", 0.0))}, arrays


def training_arrays(estimator, network, where) -> dict:
    """The optimizer arrays an estimator section declares (none in files without them)."""
    if estimator is not None and not isinstance(estimator, dict):
        raise ModelFileError(f"{where}: estimator must be an object, got {kind_of(estimator)}")
    section = None if estimator is None else estimator.get("training")
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ModelFileError(f"{where}: estimator.training must be an object, got "
                             f"{kind_of(section)}")
    if section.get("optimizer") is None:
        return {}
    return optimizer_arrays(section["optimizer"], network, f"{where}: estimator.training"
                                                           ".optimizer")


def restore_training(est, section, arrays) -> None:
    """Give a loaded estimator its training state back; files without one leave the
    estimator as before (a later fit starts a new generator and optimizer)."""
    if section is None:
        return
    where = "estimator.training"
    fields = _Fields(section, where)
    est._no_improvement_count = fields.int("no_improvement_count")
    est._statistics_weight = fields.number("statistics_weight", low=0)
    if section.get("rng") is not None:
        est._rng_ = generator_from_json(section["rng"], f"{where}.rng")
        for layer in est.model_:
            if hasattr(layer, "rng") and hasattr(layer, "p"):  # Dropout, drawing as in fit
                layer.rng = est._rng_
    optimizer = section.get("optimizer")
    if optimizer is not None:
        expected = {"adam": "Adam", "sgd": "SGD"}.get(est.solver)
        if optimizer.get("type") != expected:
            raise ModelFileError(f"{where}.optimizer is a "
                                 f"{shown(optimizer.get('type'), quote=False)}, the solver "
                                 f"{est.solver!r} trains with {expected or 'no optimizer'}")
        est._optimizer = check_optimizer(optimizer, est.model_, arrays, f"{where}.optimizer")
