"""An estimator's hyperparameters and fitted state in a model file, both ways, checked.

Hyperparameters are JSON where JSON can say them exactly; the rest is tagged, so that every
value comes back as the same type: ``{"tuple": [7]}`` for ``hidden_layer_sizes=(7,)``,
``{"dict": [[0, 1.0], [1, 2.0]]}`` for a ``class_weight`` with integer keys,
``{"RandomState": {...}}`` and ``{"Generator": {...}}`` for a random state (its current state),
``{"ndarray": [...], "dtype": "int64"}`` for a 1-D numeric array. numpy scalars are saved as the
Python numbers they equal. Anything else is refused at save, naming the parameter.
"""

from __future__ import annotations

import numpy as np

from .._checks import MAX_COUNT, checked_number
from .._text import shown, shown_value
from .errors import ModelFileError, kind_of

#: The fitted attributes of an estimator that a model file keeps (besides classes and weights).
FITTED = ("n_features_in_", "n_outputs_", "n_iter_", "t_", "out_activation_", "loss_",
          "loss_curve_", "best_loss_", "validation_scores_", "validation_loss_curve_",
          "best_validation_score_")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_SCALAR = (type(None), bool, int, float, str)
#: The most characters a class label or a feature name of a file may have: far above any
#: real one, and low enough that a file cannot make ``predict`` write megabytes per row.
MAX_LABEL = 1000


# -- hyperparameters -----------------------------------------------------------------------


def _plain_array(value):
    return {"ndarray": value.tolist(), "dtype": value.dtype.str}


def _random_state_json(state):
    """A bit generator's state dict, with its arrays tagged."""
    if isinstance(state, dict):
        return {key: _random_state_json(value) for key, value in state.items()}
    if isinstance(state, np.ndarray):
        return _plain_array(state)
    return state.item() if isinstance(state, np.generic) else state


def encode_param(value, name, owner):
    """One hyperparameter as JSON, exactly; TypeError naming it when that is impossible."""
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        value = value.item()
    if isinstance(value, _SCALAR):
        return value
    if isinstance(value, (list, tuple)):
        items = [encode_param(item, name, owner) for item in value]
        return {"tuple": items} if isinstance(value, tuple) else items
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "biuf":
        return _plain_array(value)
    if isinstance(value, dict):
        keys = [key.item() if isinstance(key, np.generic) else key for key in value]
        if not all(isinstance(key, (bool, int, float, str)) for key in keys):
            raise TypeError(f"cannot save {owner} with {name}={shown_value(value)}: "
                            "dictionary keys must be numbers, strings or booleans")
        return {"dict": [[key, encode_param(item, name, owner)]
                         for key, item in zip(keys, value.values(), strict=True)]}
    if isinstance(value, np.random.RandomState):
        return {"RandomState": _random_state_json(value.get_state(legacy=False))}
    if isinstance(value, np.random.Generator):
        kind = type(value.bit_generator).__name__
        if kind not in _BIT_GENERATORS:
            raise TypeError(f"cannot save {owner} with {name}: a Generator over {kind} (model "
                            f"files keep the state of {', '.join(_BIT_GENERATORS)})")
        return {"Generator": _random_state_json(value.bit_generator.state)}
    raise TypeError(f"cannot save {owner} with {name}={shown_value(value)}: a model file holds "
                    "numbers, strings, booleans, None, lists, tuples, dicts, 1-D numeric arrays "
                    "and numpy random states")


def _array(value, name):
    try:
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in "biuf" or not isinstance(value["ndarray"], list):
            raise TypeError
        return np.asarray(value["ndarray"], dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        raise ModelFileError(f"parameter {shown(name)}: invalid array") from None


def _random_state_from_json(state, name):
    if isinstance(state, dict):
        if set(state) == {"ndarray", "dtype"}:
            return _array(state, name)
        return {key: _random_state_from_json(value, name) for key, value in state.items()}
    return state


def decode_param(value, name, tagged=True):
    """The inverse of :func:`encode_param`; ModelFileError for anything it never writes.

    Files of format 1 stored dicts as plain JSON objects (``tagged=False``).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        # no hyperparameter is larger; a constructor's float() would overflow on 10**400
        return checked_number(value, f"parameter {shown(name)}", low=-MAX_COUNT,
                              high=MAX_COUNT, integer=True, error=ModelFileError,
                              shown=kind_of)
    if isinstance(value, _SCALAR):
        return value
    if isinstance(value, list):
        return [decode_param(item, name, tagged) for item in value]
    if not tagged and isinstance(value, dict):
        return {key: decode_param(item, name, tagged) for key, item in value.items()}
    if not isinstance(value, dict) or len(value) not in (1, 2):
        raise ModelFileError(f"parameter {shown(name)}: unexpected value {kind_of(value)}")
    tag = next(iter(value))
    body = value[tag]
    try:
        if tag == "tuple" and isinstance(body, list):
            return tuple(decode_param(item, name) for item in body)
        if tag == "ndarray":
            return _array(value, name)
        if tag == "dict" and isinstance(body, list):
            pairs = [(key, decode_param(item, name)) for key, item in body]
            if not all(isinstance(key, (bool, int, float, str)) for key, _ in pairs):
                raise TypeError
            return dict(pairs)
        if tag == "RandomState" and isinstance(body, dict):
            state = np.random.RandomState()
            state.set_state(_random_state_from_json(body, name))
            return state
        if tag == "Generator" and isinstance(body, dict):
            kind = body.get("bit_generator")
            if kind not in _BIT_GENERATORS:
                raise ValueError(f"unknown bit generator {shown_value(kind)}")
            bit_generator = getattr(np.random, kind)()
            bit_generator.state = _random_state_from_json(body, name)
            return np.random.Generator(bit_generator)
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ModelFileError(f"parameter {shown(name)}: invalid {tag} "
                             f"({shown(exc, limit=200, quote=False)})") from None
    raise ModelFileError(f"parameter {shown(name)}: unexpected value {kind_of(value)}")


# -- the fitted state ----------------------------------------------------------------------


def _plain(value):
    """A fitted attribute as plain JSON: None, str, a list of floats, or a Python number."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return [float(v) for v in value]
    return np.asarray(value).item()


def estimator_state(est) -> dict:
    """Parameters and fitted attributes of an MLPClassifier / MLPRegressor, JSON-ready."""
    owner = type(est).__name__
    # callbacks steer a training run and are not part of the model: not kept
    params = {key: encode_param(None if key == "callbacks" else value, key, owner)
              for key, value in est.get_params().items()}
    state = {"class": owner, "params": params,
             **{key: _plain(getattr(est, key)) for key in FITTED}}
    if hasattr(est, "classes_"):
        state["classes_"] = est.classes_.tolist()
        state["classes_dtype"] = est.classes_.dtype.str
        state["multilabel"] = bool(est._multilabel)
    if hasattr(est, "feature_names_in_"):
        state["feature_names_in_"] = [str(name) for name in est.feature_names_in_]
    return state


def _check_labels(labels, where):
    """ModelFileError when a string of ``labels`` is longer than :data:`MAX_LABEL`."""
    for i, label in enumerate(labels):
        if isinstance(label, str) and len(label) > MAX_LABEL:
            raise ModelFileError(f"{where}[{i}] has {len(label):,} characters; labels and "
                                 f"names of a model file have at most {MAX_LABEL:,}")


class _Fields:
    """Typed access to one JSON object of the file, each error naming the field."""

    def __init__(self, data, where):
        if not isinstance(data, dict):
            raise ModelFileError(f"{where} must be an object, got {kind_of(data)}")
        self.data, self.where = data, where

    def _at(self, key):
        """The field's name in a message (a key of the file's own, so cut to a line)."""
        return f"{self.where}.{shown(key, quote=False)}"

    def _fail(self, key, expected):
        return ModelFileError(f"{self._at(key)} must be {expected}, got "
                              f"{kind_of(self.data.get(key))}")

    def has(self, key):
        return key in self.data

    def int(self, key, low=0):
        return checked_number(self.data.get(key), self._at(key), low=low, integer=True,
                              error=ModelFileError, shown=kind_of)

    def number(self, key, *, optional=False, finite=True, nan=False, low=None, high=None):
        return checked_number(self.data.get(key), self._at(key), low=low, high=high,
                              finite=finite, nan=nan, optional=optional,
                              error=ModelFileError, shown=kind_of)

    def numbers(self, key, *, optional=False, finite=True, nan=False, length=None):
        """A list of numbers, each checked as :meth:`number` checks one (named by its index);
        ``length``: the number of values it must hold."""
        value = self.data.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, list):
            raise self._fail(key, "a list of numbers" + (" or null" if optional else ""))
        if length is not None and len(value) != length:
            raise ModelFileError(f"{self._at(key)} has {len(value):,} values, expected "
                                 f"{length:,}")
        return [checked_number(v, f"{self._at(key)}[{i}]", finite=finite, nan=nan,
                               error=ModelFileError, shown=kind_of)
                for i, v in enumerate(value)]

    def str(self, key, choices=None):
        value = self.data.get(key)
        if not isinstance(value, str) or (choices is not None and value not in choices):
            raise self._fail(key, "a string" if choices is None else f"one of {choices}")
        if len(value) > MAX_LABEL:
            raise ModelFileError(f"{self._at(key)} has {len(value):,} characters; labels and "
                                 f"names of a model file have at most {MAX_LABEL:,}")
        return value

    def strings(self, key, length=None):
        value = self.data.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "a list of strings")
        _check_labels(value, self._at(key))
        if length is not None and len(value) != length:
            raise ModelFileError(f"{self.where}.{key} has {len(value)} names for "
                                 f"{length} columns")
        if len(set(value)) != len(value):
            raise ModelFileError(f"{self.where}.{key} repeats a name")
        return value


def _classes(fields, n_outputs):
    """classes_ as the estimator keeps them: sorted, unique, one per output (2 for 1 logit)."""
    kind = fields.str("classes_dtype")
    try:
        dtype = np.dtype(kind)
    except TypeError:
        raise fields._fail("classes_dtype", "a numpy dtype") from None
    values = fields.data.get("classes_")
    if dtype.kind not in "biufUO" or not isinstance(values, list) or not all(
            isinstance(v, (bool, int, float, str)) for v in values):
        raise fields._fail("classes_", "a list of labels of a plain dtype")
    _check_labels(values, f"{fields.where}.classes_")
    if dtype.kind == "U":
        dtype = np.dtype(str)  # the width follows the labels, not a number in the file
    try:
        classes = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        raise ModelFileError(f"{fields.where}.classes_ do not fit their dtype "
                             f"{shown(kind)}") from None
    multilabel = fields.data.get("multilabel")
    if not isinstance(multilabel, bool):
        raise fields._fail("multilabel", "true or false")
    if classes.ndim != 1 or len(classes) < 2 and not multilabel:
        raise fields._fail("classes_", "a list of at least 2 labels")
    if not multilabel and (len(np.unique(classes)) != len(classes)
                           or not (classes[:-1] < classes[1:]).all()):
        raise ModelFileError(f"{fields.where}.classes_ must be sorted and unique")
    expected = len(classes) if multilabel or len(classes) > 2 else 1
    if n_outputs != expected:
        raise ModelFileError(f"{fields.where}: {len(classes)} classes need {expected} outputs, "
                             f"the network has {n_outputs}")
    return classes, multilabel


def restore_estimator(state, model, check_params, version):
    """An MLPClassifier / MLPRegressor from its checked state and the loaded network.

    ``check_params(est)`` validates the hyperparameters as a fit would; ``version`` is the
    file's format version.
    """
    from .. import estimator as estimators
    from ..layers import Linear

    fields = _Fields(state, "estimator")
    name = fields.str("class", ("MLPClassifier", "MLPRegressor"))
    cls = getattr(estimators, name)
    params = _Fields(fields.data.get("params"), "estimator.params").data
    params = {key: decode_param(value, key, version >= 2) for key, value in params.items()}
    try:
        est = cls(**params)
        check_params(est)
    except (TypeError, ValueError) as exc:
        raise ModelFileError("invalid estimator parameters: "
                              f"{shown(exc, limit=200, quote=False)}") from None

    n_in, n_out = model.n_features_in, model.output_width(model.n_features_in)
    if fields.int("n_features_in_", 1) != n_in:
        raise ModelFileError("estimator.n_features_in_ is "
                             f"{shown_value(state['n_features_in_'])}, the network takes {n_in}")
    if fields.int("n_outputs_", 1) != n_out:
        raise ModelFileError(f"estimator.n_outputs_ is {shown_value(state['n_outputs_'])}, the "
                             f"network gives {n_out}")
    est.n_features_in_, est.n_outputs_ = n_in, n_out
    est.n_iter_, est.t_ = fields.int("n_iter_"), fields.int("t_")
    est.loss_ = fields.number("loss_", optional=True)
    est.best_loss_ = fields.number("best_loss_", optional=True, finite=False)
    est.loss_curve_ = fields.numbers("loss_curve_")
    # a score is NaN for an epoch whose validation could not be scored
    est.validation_scores_ = fields.numbers("validation_scores_", optional=True, nan=True)
    # absent from files written before it was kept: None, as for a fit without validation
    scored = None if est.validation_scores_ is None else len(est.validation_scores_)
    est.validation_loss_curve_ = fields.numbers("validation_loss_curve_", optional=True,
                                                nan=True, length=scored)
    if scored is not None and scored > len(est.loss_curve_):
        raise ModelFileError(f"estimator.validation_scores_ has {scored:,} values for "
                             f"{len(est.loss_curve_):,} epochs (loss_curve_)")
    est.best_validation_score_ = fields.number("best_validation_score_", optional=True)
    if name == "MLPClassifier":
        est.classes_, est._multilabel = _classes(fields, n_out)
        logistic = est._multilabel or len(est.classes_) == 2
        est.out_activation_ = fields.str(
            "out_activation_", ("logistic",) if logistic else ("softmax",))
    else:
        if fields.has("classes_"):
            raise ModelFileError("estimator.classes_: a regressor has no classes")
        est.out_activation_ = fields.str("out_activation_")
    if fields.has("feature_names_in_"):
        names = fields.strings("feature_names_in_", n_in)
        est.feature_names_in_ = np.asarray(names, dtype=object)
    est.model_ = model
    est.n_layers_ = sum(isinstance(layer, Linear) for layer in model) + 1
    return est
