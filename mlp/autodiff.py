"""Automatic differentiation on a scalar computational graph, in both modes.

The layers of this library carry derivatives worked out by hand. This module does the same
chain rule mechanically, one scalar operation at a time, which makes it a second, independent
oracle for those derivations and a way to watch the chain rule at work.

Reverse mode (:class:`Var`)
    Each operation creates a node that remembers its inputs and the local derivative of its
    output with respect to each input. ``y.backward()`` visits the nodes from ``y`` back to
    the leaves in reverse topological order and accumulates ``node.grad`` = ∂y/∂node: a node
    used twice receives the sum of both contributions ("gradients add at branches").

Forward mode (:class:`Dual`)
    A dual number carries a value and its derivative with respect to one chosen input (the
    tangent). Each operation updates both at once, so one forward pass gives ∂y/∂w for every
    output y, for the one input w that was seeded with tangent 1.

Which is cheaper? For f : ℝⁿ → ℝᵐ, reverse mode needs one backward pass per *output* and
forward mode one pass per *input*. A loss has one output and many parameters (n ≫ m = 1),
which is why training uses reverse mode (backpropagation); forward mode wins when a few inputs
drive many outputs, e.g. both y₁ = sin(w₁x + w₀) and y₂ = cos(w₁x + w₀) with respect to w₁.

Every elementary operation is defined once, in :data:`PRIMITIVES`, as its value and its local
derivative; both modes read the same table. The parts live in their own modules, all
importable from here: :mod:`mlp.autodiff_rules` (the table and the power rule),
:mod:`mlp.autodiff_reverse` (:class:`Var`, :func:`grad`, :func:`value_and_grad`) and
:mod:`mlp.autodiff_forward` (:class:`Dual`, :func:`jvp`, :func:`derivative`); this module
holds the elementary functions, which take numbers, Vars and Duals alike.

Example
-------
>>> x, y, z = Var(-2.0, name="x"), Var(5.0, name="y"), Var(-4.0, name="z")
>>> f = (x + y) * z
>>> f.backward()
>>> f.value, x.grad, y.grad, z.grad
(-12.0, -4.0, -4.0, 3.0)
"""

from __future__ import annotations

from .autodiff_forward import Dual, derivative, jvp
from .autodiff_reverse import Var, grad, value_and_grad
from .autodiff_rules import PRIMITIVES, is_number

__all__ = [
    "Dual", "PRIMITIVES", "Var", "cos", "derivative", "erf", "exp", "grad", "jvp", "log",
    "maximum", "relu", "sigmoid", "sin", "sqrt", "tanh", "value_and_grad",
]


# -- elementary functions, for numbers, Vars and Duals alike ---------------------------------


def _apply(name, x):
    f, df = PRIMITIVES[name]
    if isinstance(x, Var):
        y = f(x.value)
        return Var(y, _parents=(x,), _local=(df(x.value, y),), _op=name)
    if isinstance(x, Dual):
        y = f(x.value)
        return Dual(y, df(x.value, y) * x.tangent)
    if is_number(x):
        return f(float(x))
    raise TypeError(f"{name}() takes a number, a Var or a Dual, got {type(x).__name__}")


def exp(x):
    """eˣ."""
    return _apply("exp", x)


def log(x):
    """Natural logarithm; a ValueError for x ≤ 0."""
    return _apply("log", x)


def sin(x):
    """sin x."""
    return _apply("sin", x)


def cos(x):
    """cos x."""
    return _apply("cos", x)


def tanh(x):
    """tanh x."""
    return _apply("tanh", x)


def sigmoid(x):
    """1 / (1 + e⁻ˣ)."""
    return _apply("sigmoid", x)


def relu(x):
    """max(0, x), with derivative 0 at x = 0."""
    return _apply("relu", x)


def sqrt(x):
    """√x; a ValueError for x < 0."""
    return _apply("sqrt", x)


def erf(x):
    """The error function."""
    return _apply("erf", x)


def maximum(a, b):
    """max(a, b): the derivative routes to the larger argument (to ``a`` on a tie)."""
    if isinstance(a, Var) or isinstance(b, Var):
        a, b = Var._wrap(a, "max"), Var._wrap(b, "max")
        if a is None or b is None:
            raise TypeError("max() takes numbers, Vars or Duals")
        first = a.value >= b.value
        return Var(a.value if first else b.value, _parents=(a, b),
                   _local=(1.0 if first else 0.0, 0.0 if first else 1.0), _op="max")
    if isinstance(a, Dual) or isinstance(b, Dual):
        a, b = Dual._wrap(a, "max"), Dual._wrap(b, "max")
        if a is None or b is None:
            raise TypeError("max() takes numbers, Vars or Duals")
        return a if a.value >= b.value else b
    if is_number(a) and is_number(b):
        return max(float(a), float(b))
    raise TypeError(f"max() takes numbers, Vars or Duals, got {type(a).__name__} and "
                    f"{type(b).__name__}")
