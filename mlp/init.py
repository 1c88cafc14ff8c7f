"""Weight initialisers.

Each initialiser is a function ``(shape, rng) -> ndarray`` of float64 values, where
``shape = (fan_in, fan_out)`` and ``rng`` is a ``np.random.Generator``. The weights are drawn in
float64 and cast by the layer, so the same seed gives the same network in float32 and float64
(up to rounding).

=================  =====================================  ==========================================
name               distribution                           why
=================  =====================================  ==========================================
``zeros``          0                                      to see why not: nothing breaks symmetry
``constant``       0.1 everywhere                         the same: every hidden unit stays alike
``normal``         N(0, 0.01²)                            the lectures' "small random numbers"
``std_normal``     N(0, 1)                                for experiments on exploding activations
``lecun_normal``   N(0, 1/fan_in)                         keeps Var(q) = Var(z) (lectures: Xavier)
``glorot_normal``  N(0, 2/(fan_in + fan_out))             balances forward and backward variance
``glorot_uniform`` U(±√(6/(fan_in + fan_out)))            the same variance, uniform
``he_normal``      N(0, 2/fan_in)                         ReLU halves the variance: double it back
``he_uniform``     U(±√(6/fan_in))                        the same variance, uniform
=================  =====================================  ==========================================

**Which is "Xavier".** The lectures call N(0, 1/n_in) "Xavier initialisation": with n_in inputs
of unit variance, q = Σ wᵢzᵢ then has unit variance too. Here that is ``lecun_normal``. Glorot
and Bengio's paper (the "Xavier" of most libraries, ``glorot_*`` here) averages the two fans,
Var(w) = 2/(n_in + n_out), so that the gradients flowing backward, which see n_out terms, keep
their variance as well; the two agree only when n_in = n_out.

**Why not zeros or a constant.** When every weight into a layer is equal, every hidden unit
computes the same value and receives the same gradient, so they stay equal through training:
the layer behaves as one unit, however wide (and with all weights zero and tanh or ReLU, no
gradient reaches the first layer at all). Random initialisation breaks that symmetry.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["INITIALIZERS", "get_initializer"]


def zeros(shape, rng):
    return np.zeros(shape)


def constant(shape, rng, value=0.1):
    return np.full(shape, float(value))


def normal(shape, rng):
    return rng.normal(0.0, 0.01, size=shape)


def std_normal(shape, rng):
    return rng.standard_normal(size=shape)


def lecun_normal(shape, rng):
    fan_in, _ = shape
    return rng.normal(0.0, np.sqrt(1.0 / fan_in), size=shape)


def glorot_normal(shape, rng):
    fan_in, fan_out = shape
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def glorot_uniform(shape, rng):
    fan_in, fan_out = shape
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def he_normal(shape, rng):
    fan_in, _ = shape
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)


def he_uniform(shape, rng):
    fan_in, _ = shape
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape)


INITIALIZERS: dict[str, Callable] = {
    "zeros": zeros,
    "constant": constant,
    "normal": normal,
    "std_normal": std_normal,
    "lecun_normal": lecun_normal,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
}


def get_initializer(init) -> Callable:
    """Return the initialiser named ``init``, or ``init`` itself when it is callable.

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    if callable(init):
        return init
    if isinstance(init, str) and init in INITIALIZERS:
        return INITIALIZERS[init]
    raise ValueError(
        f"unknown init {init!r}; expected one of {sorted(INITIALIZERS)} or a callable "
        "(shape, rng) -> array"
    )
