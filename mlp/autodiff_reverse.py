"""Reverse-mode automatic differentiation: a scalar computational graph.

Each operation on a :class:`Var` creates a node that remembers its inputs and the local
derivative of its output with respect to each input (those of :mod:`mlp.autodiff_rules`).
``y.backward()`` visits the nodes from ``y`` back to the leaves in reverse topological order
and accumulates ``node.grad`` = ∂y/∂node: a node used twice receives the sum of both
contributions ("gradients add at branches"). One backward pass gives the derivative of one
output with respect to every input, which is why training uses this mode
(backpropagation). :func:`grad` and :func:`value_and_grad` wrap a function of numbers; the
elementary functions (``exp``, ``relu``, ...) that take Vars are in :mod:`mlp.autodiff`.

Example
-------
``x`` reaches ``f = x·x + x`` along three paths, whose gradients add: ∂f/∂x = 2x + 1.

>>> x = Var(3.0, name="x")
>>> f = x * x + x
>>> f.backward()
>>> f.value, x.grad
(12.0, 7.0)
"""

from __future__ import annotations

from .autodiff_forward import Dual
from .autodiff_rules import BINARY, Operators, d_base, d_exponent, is_number, power

__all__ = ["Var", "grad", "value_and_grad"]


class Var(Operators):
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
        if isinstance(value, (Var, Dual)) or not is_number(value):
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
        if is_number(other):
            return Var(other, _op="const")
        if isinstance(other, Dual):
            raise TypeError(f"cannot mix reverse mode (Var) and forward mode (Dual) in {op!r}")
        return None

    def _binary(self, other, op, reflected=False):
        """The node ``self op other`` (``other op self`` when reflected), by :data:`BINARY`."""
        other = self._wrap(other, op)
        if other is None:
            return NotImplemented
        a, b = (other, self) if reflected else (self, other)
        value, d_a, d_b = BINARY[op]
        return Var(value(a.value, b.value), _parents=(a, b),
                   _local=(d_a(a.value, b.value), d_b(a.value, b.value)), _op=op)

    def __pow__(self, other):
        if is_number(other):
            # a constant exponent: only the base has a derivative (and may be negative)
            b = float(other)
            return Var(power(self.value, b), _parents=(self,),
                       _local=(d_base(self.value, b),), _op="**")
        return self._binary(other, "**")

    def __rpow__(self, other):
        if is_number(other):
            a = float(other)
            return Var(power(a, self.value), _parents=(self,),
                       _local=(d_exponent(a, self.value),), _op="**")
        return self._binary(other, "**", reflected=True)

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
