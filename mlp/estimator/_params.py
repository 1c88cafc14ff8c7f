"""Hyperparameter validation shared by MLPClassifier and MLPRegressor.

Messages are worded like scikit-learn's declarative parameter validation, so an error reads the
same whichever import is used.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._text import shown_value
from ..activations import HIDDEN_ACTIVATIONS
from ..callbacks import Callback
from ..threads import check_threads

SOLVERS = ("lbfgs", "sgd", "adam")
LEARNING_RATES = ("constant", "invscaling", "adaptive")


def invalid(est, name, expected, value):
    """A ValueError worded like scikit-learn's parameter validation."""
    return ValueError(
        f"The {name!r} parameter of {type(est).__name__} must be {expected}. "
        f"Got {shown_value(value)} instead."
    )


def is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_params(est):
    """Validate ``est``'s hyperparameters; return (widths, activations, dropouts) per layer.

    Raises
    ------
    ValueError
        Naming the parameter, what it must be and what it was.
    """
    sizes = est.hidden_layer_sizes
    sizes = [sizes] if is_int(sizes) else sizes
    try:
        sizes = list(sizes)
    except TypeError:
        raise invalid(est, "hidden_layer_sizes", "an array-like of positive integers",
                      est.hidden_layer_sizes) from None
    if not all(is_int(w) and w > 0 for w in sizes):
        raise ValueError(
            f"hidden_layer_sizes must be > 0, got {shown_value(est.hidden_layer_sizes)}: every "
            "entry must be a positive integer"
        )
    sizes = [int(w) for w in sizes]
    n_hidden = len(sizes)

    act = est.activation
    acts = [act] * n_hidden if isinstance(act, str) else act
    expected = (f"a str among {set(HIDDEN_ACTIVATIONS)} or a list of them, one per "
                f"hidden layer ({n_hidden})")
    if (not isinstance(acts, (list, tuple)) or len(acts) != n_hidden
            or not all(isinstance(a, str) and a in HIDDEN_ACTIVATIONS for a in acts)):
        if isinstance(act, str) or not isinstance(acts, (list, tuple)) or \
                len(acts) == n_hidden:
            raise invalid(est, "activation", expected, act)
        raise ValueError(
            f"activation has {len(acts)} entries but there are {n_hidden} hidden layers"
        )

    drop = est.dropout
    drops = [drop] * n_hidden if is_real(drop) else drop
    if (not isinstance(drops, (list, tuple)) or len(drops) != n_hidden
            or not all(is_real(p) and 0 <= p < 1 for p in drops)):
        raise invalid(est, "dropout", "a float in the range [0.0, 1.0) or a list of them, "
                      f"one per hidden layer ({n_hidden})", drop)

    def real(name, low, high=None, *, low_open=False, high_open=True):
        value = getattr(est, name)
        ok = is_real(value) and np.isfinite(value) if high is None else is_real(value)
        if ok:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            interval = (f"{'(' if low_open else '['}{float(low)}, "
                        f"{'inf' if high is None else float(high)}"
                        f"{')' if high is None or high_open else ']'}")
            raise invalid(est, name, f"a float in the range {interval}", value)

    real("alpha", 0.0)
    real("learning_rate_init", 0.0, low_open=True)
    real("power_t", 0.0)
    real("tol", 0.0)
    # SGD's range: a momentum of 1 never forgets a gradient, so the velocity cannot settle
    real("momentum", 0.0, 1.0)
    real("validation_fraction", 0.0, 1.0, low_open=True)
    real("beta_1", 0.0, 1.0)
    real("beta_2", 0.0, 1.0)
    real("epsilon", 0.0, low_open=True)
    for name in ("max_iter", "n_iter_no_change", "max_fun"):
        value = getattr(est, name)
        never = name == "n_iter_no_change" and is_real(value) and value == np.inf
        if not never and (not is_int(value) or value < 1):
            raise invalid(est, name, "an int in the range [1, inf)"
                          + (" or inf (never stop on a plateau)" if name == "n_iter_no_change"
                             else ""), value)
    if est.solver not in SOLVERS:
        raise invalid(est, "solver", f"a str among {set(SOLVERS)}", est.solver)
    if est.learning_rate not in LEARNING_RATES:
        raise invalid(est, "learning_rate", f"a str among {set(LEARNING_RATES)}",
                      est.learning_rate)
    if not (est.batch_size == "auto" or (is_int(est.batch_size) and est.batch_size > 0)):
        raise invalid(est, "batch_size", "an int in the range [1, inf) or 'auto'",
                      est.batch_size)
    for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping",
                 "batch_norm"):
        if not isinstance(getattr(est, name), (bool, np.bool_)):
            raise invalid(est, name, "an instance of 'bool'", getattr(est, name))
    try:
        check_threads(est.n_threads)
    except ValueError:
        raise invalid(est, "n_threads", "an int in the range [1, inf), 'auto' or None",
                      est.n_threads) from None
    _check_callbacks(est)
    if est.solver == "lbfgs" and any(drops):
        raise ValueError(
            "dropout is not supported with solver='lbfgs', whose line searches need a "
            "deterministic objective; use solver='adam' or 'sgd'"
        )
    return sizes, list(acts), [float(p) for p in drops]


def _check_callbacks(est):
    """``callbacks``: None, or a list or tuple of :class:`mlp.callbacks.Callback`, for the
    stochastic solvers."""
    callbacks = est.callbacks
    if callbacks is None:
        return
    if not isinstance(callbacks, (list, tuple)) or not all(
            isinstance(c, Callback) for c in callbacks):
        raise invalid(est, "callbacks", "None or a list of mlp.callbacks.Callback",
                      callbacks)
    if callbacks and est.solver == "lbfgs":
        raise ValueError("callbacks are called by the training loop of solver='sgd' or "
                         "'adam'; solver='lbfgs' has none")
