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
derivative; both modes read the same table.

Example
-------
>>> x, y, z = Var(-2.0, name="x"), Var(5.0, name="y"), Var(-4.0, name="z")
>>> f = (x + y) * z
>>> f.backward()
>>> f.value, x.grad, y.grad, z.grad
(-12.0, -4.0, -4.0, 3.0)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

__all__ = [
    "Dual", "PRIMITIVES", "Var", "cos", "derivative", "erf", "exp", "grad", "jvp", "log",
    "maximum", "relu", "sigmoid", "sin", "sqrt", "tanh", "value_and_grad",
]


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


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class Var:
    """A node of the reverse-mode graph: a value, its inputs and their local derivatives.

    Parameters
    ----------
    value : float
    name : str, optional
        Shown by :meth:`graph` and :meth:`to_dot`.

    Attributes
    ----------
    value : float
    grad : float
        ∂(output)/∂(this node) after ``output.backward()``; 0 before.
    """

    __slots__ = ("value", "grad", "parents", "local", "op", "name")

    def __init__(self, value, name=None, *, _parents=(), _local=(), _op="input"):
        if isinstance(value, (Var, Dual)) or not _is_number(value):
            raise TypeError(f"Var holds a real number, got {type(value).__name__}")
        self.value = float(value)
        self.grad = 0.0
        self.parents = _parents
        self.local = _local
        self.op = _op
        self.name = name

    # -- building the graph --------------------------------------------------------------
    @staticmethod
    def _wrap(other, op):
        if isinstance(other, Var):
            return other
        if _is_number(other):
            return Var(other, _op="const")
        if isinstance(other, Dual):
            raise TypeError(f"cannot mix reverse mode (Var) and forward mode (Dual) in {op!r}")
        return None

    def _binary(self, other, op, value, d_self, d_other, reflected=False):
        other = self._wrap(other, op)
        if other is None:
            return NotImplemented
        a, b = (other, self) if reflected else (self, other)
        da, db = (d_other, d_self) if reflected else (d_self, d_other)
        return Var(value(a.value, b.value), _parents=(a, b),
                   _local=(da(a.value, b.value), db(a.value, b.value)), _op=op)

    def __add__(self, other):
        return self._binary(other, "+", lambda a, b: a + b, lambda a, b: 1.0, lambda a, b: 1.0)

    def __radd__(self, other):
        return self._binary(other, "+", lambda a, b: a + b, lambda a, b: 1.0, lambda a, b: 1.0,
                            reflected=True)

    def __sub__(self, other):
        return self._binary(other, "-", lambda a, b: a - b, lambda a, b: 1.0, lambda a, b: -1.0)

    def __rsub__(self, other):
        return self._binary(other, "-", lambda a, b: a - b, lambda a, b: -1.0, lambda a, b: 1.0,
                            reflected=True)

    def __mul__(self, other):
        return self._binary(other, "*", lambda a, b: a * b, lambda a, b: b, lambda a, b: a)

    def __rmul__(self, other):
        return self._binary(other, "*", lambda a, b: a * b, lambda a, b: a, lambda a, b: b,
                            reflected=True)

    def __truediv__(self, other):
        return self._binary(other, "/", lambda a, b: a / b, lambda a, b: 1.0 / b,
                            lambda a, b: -a / (b * b))

    def __rtruediv__(self, other):
        return self._binary(other, "/", lambda a, b: a / b, lambda a, b: -a / (b * b),
                            lambda a, b: 1.0 / b, reflected=True)

    def __pow__(self, other):
        if _is_number(other):
            # a constant exponent: only the base has a derivative (and may be negative)
            b = float(other)
            return Var(_power(self.value, b), _parents=(self,),
                       _local=(_d_base(self.value, b),), _op="**")
        return self._binary(other, "**", _power, _d_base, _d_exponent)

    def __rpow__(self, other):
        if _is_number(other):
            a = float(other)
            return Var(_power(a, self.value), _parents=(self,),
                       _local=(_d_exponent(a, self.value),), _op="**")
        return self._binary(other, "**", _power, _d_exponent, _d_base, reflected=True)

    def __neg__(self):
        return Var(-self.value, _parents=(self,), _local=(-1.0,), _op="neg")

    def __pos__(self):
        return self

    # -- the backward pass ---------------------------------------------------------------
    def topological_order(self) -> list[Var]:
        """Every node this one depends on, inputs before the nodes that use them."""
        order, seen = [], set()
        stack = [(self, False)]
        while stack:  # iterative depth-first search: deep graphs do not hit the recursion limit
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            # reversed, so that the first input is listed first
            stack.extend((parent, False) for parent in reversed(node.parents)
                         if id(parent) not in seen)
        return order

    def backward(self) -> None:
        """Fill ``grad`` = ∂self/∂node on every node of the graph below this one.

        Walks the nodes in reverse topological order, so a node's gradient is complete
        before it is passed on; each input receives ``local derivative × node.grad``, added
        to what other paths already brought (gradients add at branches).
        """
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in zip(node.parents, node.local, strict=True):
                parent.grad += local * node.grad

    # -- display -------------------------------------------------------------------------
    def _label(self, ids):
        return self.name or f"{self.op}#{ids[id(self)]}"

    def graph(self) -> str:
        """A text listing of the graph: one line per node, inputs first, with values and
        gradients (call :meth:`backward` first to see the gradients)."""
        order = self.topological_order()
        ids = {id(node): i for i, node in enumerate(order)}
        lines = []
        for node in order:
            inputs = ", ".join(parent._label(ids) for parent in node.parents)
            what = node.op if not node.parents else f"{node.op}({inputs})"
            lines.append(f"{node._label(ids):>10} = {what:<24} value {node.value:+.6g}   "
                         f"grad {node.grad:+.6g}")
        return "\n".join(lines)

    def to_dot(self) -> str:
        """The graph in Graphviz DOT, each node labelled with its value and gradient."""
        order = self.topological_order()
        ids = {id(node): i for i, node in enumerate(order)}
        lines = ["digraph {", "  rankdir=LR;"]
        for node in order:
            label = f"{node._label(ids)}\\n{node.value:.4g} | grad {node.grad:.4g}"
            shape = "box" if not node.parents else "ellipse"
            lines.append(f'  n{ids[id(node)]} [label="{label}", shape={shape}];')
            for parent in node.parents:
                lines.append(f"  n{ids[id(parent)]} -> n{ids[id(node)]};")
        lines.append("}")
        return "\n".join(lines)

    def __float__(self):
        return self.value

    def __repr__(self):
        name = f"{self.name}: " if self.name else ""
        return f"Var({name}{self.value:g}, grad={self.grad:g})"


def _power(a, b):
    if a == 0 and b < 0:
        raise ZeroDivisionError(f"0 ** {b!r}: division by zero")
    if a < 0 and b != int(b):
        raise ValueError(f"{a!r} ** {b!r}: a negative number to a fractional power")
    return a**b


def _d_base(a, b):
    # d(a^b)/da = b·a^(b−1)
    return 0.0 if b == 0 else b * _power(a, b - 1)


def _d_exponent(a, b):
    # d(a^b)/db = a^b·log a, which needs a > 0 (0 when a^b is constant 0)
    if a > 0:
        return a**b * math.log(a)
    if a == 0:
        return 0.0
    raise ValueError(f"{a!r} ** exponent: the derivative with respect to the exponent needs a "
                     "positive base")


class Dual:
    """A dual number ``value + tangent·ε`` with ε² = 0: forward-mode differentiation.

    Parameters
    ----------
    value : float
    tangent : float, default 0
        ∂value/∂w for the input w being differentiated (1 on w itself, 0 on the others).
    """

    __slots__ = ("value", "tangent")

    def __init__(self, value, tangent=0.0):
        if not _is_number(value) or not _is_number(tangent):
            raise TypeError(f"Dual holds real numbers, got {type(value).__name__} and "
                            f"{type(tangent).__name__}")
        self.value = float(value)
        self.tangent = float(tangent)

    @staticmethod
    def _wrap(other, op):
        if isinstance(other, Dual):
            return other
        if _is_number(other):
            return Dual(other)
        if isinstance(other, Var):
            raise TypeError(f"cannot mix forward mode (Dual) and reverse mode (Var) in {op!r}")
        return None

    def _binary(self, other, op, value, d_a, d_b, reflected=False):
        other = self._wrap(other, op)
        if other is None:
            return NotImplemented
        a, b = (other, self) if reflected else (self, other)
        tangent = d_a(a.value, b.value) * a.tangent + d_b(a.value, b.value) * b.tangent
        return Dual(value(a.value, b.value), tangent)

    def __add__(self, other):
        return self._binary(other, "+", lambda a, b: a + b, lambda a, b: 1.0, lambda a, b: 1.0)

    def __radd__(self, other):
        return self._binary(other, "+", lambda a, b: a + b, lambda a, b: 1.0, lambda a, b: 1.0,
                            reflected=True)

    def __sub__(self, other):
        return self._binary(other, "-", lambda a, b: a - b, lambda a, b: 1.0, lambda a, b: -1.0)

    def __rsub__(self, other):
        return self._binary(other, "-", lambda a, b: a - b, lambda a, b: 1.0, lambda a, b: -1.0,
                            reflected=True)

    def __mul__(self, other):
        return self._binary(other, "*", lambda a, b: a * b, lambda a, b: b, lambda a, b: a)

    def __rmul__(self, other):
        return self._binary(other, "*", lambda a, b: a * b, lambda a, b: b, lambda a, b: a,
                            reflected=True)

    def __truediv__(self, other):
        return self._binary(other, "/", lambda a, b: a / b, lambda a, b: 1.0 / b,
                            lambda a, b: -a / (b * b))

    def __rtruediv__(self, other):
        return self._binary(other, "/", lambda a, b: a / b, lambda a, b: 1.0 / b,
                            lambda a, b: -a / (b * b), reflected=True)

    def __pow__(self, other):
        other = self._wrap(other, "**")
        if other is None:
            return NotImplemented
        d_b = _d_exponent if other.tangent else (lambda a, b: 0.0)
        return self._binary(other, "**", _power, _d_base, d_b)

    def __rpow__(self, other):
        return self._binary(other, "**", _power, _d_base, _d_exponent, reflected=True)

    def __neg__(self):
        return Dual(-self.value, -self.tangent)

    def __pos__(self):
        return self

    def __float__(self):
        return self.value

    def __repr__(self):
        return f"Dual({self.value:g}, tangent={self.tangent:g})"


# -- elementary functions, for numbers, Vars and Duals alike ---------------------------------


def _apply(name, x):
    f, df = PRIMITIVES[name]
    if isinstance(x, Var):
        y = f(x.value)
        return Var(y, _parents=(x,), _local=(df(x.value, y),), _op=name)
    if isinstance(x, Dual):
        y = f(x.value)
        return Dual(y, df(x.value, y) * x.tangent)
    if _is_number(x):
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
    if _is_number(a) and _is_number(b):
        return max(float(a), float(b))
    raise TypeError(f"max() takes numbers, Vars or Duals, got {type(a).__name__} and "
                    f"{type(b).__name__}")


# -- helpers ---------------------------------------------------------------------------------


def value_and_grad(f):
    """Return a function computing ``(f(*args), [∂f/∂arg for each arg])`` in reverse mode."""

    def wrapped(*args):
        inputs = [Var(a, name=f"x{i}") for i, a in enumerate(args)]
        out = f(*inputs)
        if not isinstance(out, Var):
            return float(out), [0.0] * len(args)
        out.backward()
        return out.value, [x.grad for x in inputs]

    return wrapped


def grad(f):
    """Reverse mode: ``grad(f)(*args)`` is the list of ∂f/∂arg, one per argument.

    ``f`` takes numbers and returns one number, built from the operations of this module.
    """

    def wrapped(*args):
        return value_and_grad(f)(*args)[1]

    return wrapped


def jvp(f, args, tangents):
    """Forward mode: the outputs of ``f(*args)`` and their derivatives along ``tangents``.

    Parameters
    ----------
    f : callable
        Returns one number or a tuple of numbers.
    args, tangents : sequences of float, same length
        The point and the direction (e.g. 1 for the input to differentiate, 0 elsewhere).

    Returns
    -------
    (values, derivatives) : floats, or tuples of floats when ``f`` returns a tuple
    """
    if len(args) != len(tangents):
        raise ValueError(f"jvp: {len(args)} arguments but {len(tangents)} tangents")
    out = f(*[Dual(a, t) for a, t in zip(args, tangents, strict=True)])
    if isinstance(out, tuple):
        return (tuple(float(o.value if isinstance(o, Dual) else o) for o in out),
                tuple(o.tangent if isinstance(o, Dual) else 0.0 for o in out))
    return (out.value, out.tangent) if isinstance(out, Dual) else (float(out), 0.0)


def derivative(f, wrt=0):
    """Forward mode: ``derivative(f, wrt)(*args)`` is ∂f/∂args[wrt] (a tuple for tuple outputs).

    One pass differentiates every output of ``f`` with respect to the one input ``wrt``.
    """

    def wrapped(*args):
        if not 0 <= wrt < len(args):
            raise ValueError(f"derivative: wrt={wrt} but f got {len(args)} arguments")
        tangents = [1.0 if i == wrt else 0.0 for i in range(len(args))]
        return jvp(f, args, tangents)[1]

    return wrapped
