"""The local derivatives of automatic differentiation, each written once.

Both modes of :mod:`mlp.autodiff` apply the chain rule to the same elementary operations, so
each operation's value and local derivative live here, in one place, and reverse mode
(:mod:`mlp.autodiff_reverse`) and forward mode (:mod:`mlp.autodiff_forward`) read them:
:data:`PRIMITIVES` for the functions of one argument, :data:`BINARY` for the operators
``+ - * / **`` (with :func:`power`, :func:`d_base` and :func:`d_exponent` for ``a ** b``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

__all__ = ["BINARY", "Operators", "PRIMITIVES", "d_base", "d_exponent", "is_number", "power"]


def _sigmoid(x):
    # never exponentiates a large positive number
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _log(x):
    if x <= 0:
        raise ValueError(f"log of a non-positive value {x!r}: log is defined for x > 0 only")
    return math.log(x)


def _sqrt(x):
    if x < 0:
        raise ValueError(f"sqrt of a negative value {x!r}")
    return math.sqrt(x)


#: name -> (value function f(x), local derivative f'(x) written with x and the output y = f(x))
PRIMITIVES: dict[str, tuple[Callable, Callable]] = {
    "exp": (math.exp, lambda x, y: y),
    "log": (_log, lambda x, y: 1.0 / x),
    "sin": (math.sin, lambda x, y: math.cos(x)),
    "cos": (math.cos, lambda x, y: -math.sin(x)),
    "tanh": (math.tanh, lambda x, y: 1.0 - y * y),
    "sigmoid": (_sigmoid, lambda x, y: y * (1.0 - y)),
    "relu": (lambda x: x if x > 0 else 0.0, lambda x, y: 1.0 if x > 0 else 0.0),
    "sqrt": (_sqrt, lambda x, y: 0.5 / y),
    "erf": (math.erf, lambda x, y: 2.0 / math.sqrt(math.pi) * math.exp(-x * x)),
}


def is_number(value):
    """True for a real number (bool excluded): what a node may hold or be combined with."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def power(a, b):
    """``a ** b``, with a ZeroDivisionError for ``0 ** negative`` and a ValueError for a
    negative number to a fractional power (a complex number in Python)."""
    if a == 0 and b < 0:
        raise ZeroDivisionError(f"0 ** {b!r}: division by zero")
    if a < 0 and b != int(b):
        raise ValueError(f"{a!r} ** {b!r}: a negative number to a fractional power")
    return a**b


def d_base(a, b):
    """∂(aᵇ)/∂a = b·aᵇ⁻¹."""
    return 0.0 if b == 0 else b * power(a, b - 1)


def d_exponent(a, b):
    """∂(aᵇ)/∂b = aᵇ·log a, which needs a > 0 (0 when aᵇ is the constant 0).

    Raises
    ------
    ValueError
        For a negative base.
    """
    if a > 0:
        return a**b * math.log(a)
    if a == 0:
        return 0.0
    raise ValueError(f"{a!r} ** exponent: the derivative with respect to the exponent needs a "
                     "positive base")


#: operator -> (value f(a, b), ∂f/∂a, ∂f/∂b), each written with the two inputs a and b
BINARY: dict[str, tuple[Callable, Callable, Callable]] = {
    "+": (lambda a, b: a + b, lambda a, b: 1.0, lambda a, b: 1.0),
    "-": (lambda a, b: a - b, lambda a, b: 1.0, lambda a, b: -1.0),
    "*": (lambda a, b: a * b, lambda a, b: b, lambda a, b: a),
    "/": (lambda a, b: a / b, lambda a, b: 1.0 / b, lambda a, b: -a / (b * b)),
    "**": (power, d_base, d_exponent),
}


class Operators:
    """``+ - * /`` for a number type of autodiff, both ways round, each by :data:`BINARY`.

    The subclass (:class:`~mlp.autodiff_reverse.Var`, :class:`~mlp.autodiff_forward.Dual`)
    says what one operation makes, in ``_binary(other, op, reflected=False)``; ``**`` it
    writes itself, since a constant exponent or base needs only one of the two derivatives.
    """

    __slots__ = ()

    def __add__(self, other):
        return self._binary(other, "+")

    def __radd__(self, other):
        return self._binary(other, "+", reflected=True)

    def __sub__(self, other):
        return self._binary(other, "-")

    def __rsub__(self, other):
        return self._binary(other, "-", reflected=True)

    def __mul__(self, other):
        return self._binary(other, "*")

    def __rmul__(self, other):
        return self._binary(other, "*", reflected=True)

    def __truediv__(self, other):
        return self._binary(other, "/")

    def __rtruediv__(self, other):
        return self._binary(other, "/", reflected=True)
