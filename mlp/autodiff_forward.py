"""Forward-mode automatic differentiation: dual numbers.

A dual number ``value + tangent·ε`` (ε² = 0) carries a value and its derivative with respect
to one chosen input, the one seeded with tangent 1. Each operation updates both at once, by
the local derivatives of :mod:`mlp.autodiff_rules`, so one forward pass gives ∂y/∂w of every
output y for that one input w: the cheap mode when a few inputs drive many outputs.
:func:`jvp` and :func:`derivative` wrap a function of numbers; the elementary functions
(``exp``, ``sin``, ...) that take Duals are in :mod:`mlp.autodiff`.

Example
-------
>>> y = Dual(3.0, 1.0) * Dual(3.0, 1.0) + 1
>>> y.value, y.tangent
(10.0, 6.0)
"""

from __future__ import annotations

from .autodiff_rules import BINARY, Operators, d_base, is_number, power

__all__ = ["Dual", "derivative", "jvp"]


class Dual(Operators):
    """A dual number ``value + tangent·ε`` with ε² = 0: forward-mode differentiation.

    Parameters
    ----------
    value : float
    tangent : float, default 0
        ∂value/∂w for the input w being differentiated (1 on w itself, 0 on the others).
    """

    __slots__ = ("value", "tangent")

    def __init__(self, value, tangent=0.0):
        if not is_number(value) or not is_number(tangent):
            raise TypeError(f"Dual holds real numbers, got {type(value).__name__} and "
                            f"{type(tangent).__name__}")
        self.value = float(value)
        self.tangent = float(tangent)

    @staticmethod
    def _wrap(other, op):
        if isinstance(other, Dual):
            return other
        if is_number(other):
            return Dual(other)
        # anything else, a Var included, is left to the other operand: Var refuses the mix
        return None

    def _binary(self, other, op, reflected=False):
        """``self op other`` (``other op self`` when reflected): the tangent by the chain rule,
        ∂f/∂a·a′ + ∂f/∂b·b′, with the derivatives of :data:`BINARY`."""
        other = self._wrap(other, op)
        if other is None:
            return NotImplemented
        a, b = (other, self) if reflected else (self, other)
        value, d_a, d_b = BINARY[op]
        tangent = d_a(a.value, b.value) * a.tangent + d_b(a.value, b.value) * b.tangent
        return Dual(value(a.value, b.value), tangent)

    def __pow__(self, other):
        other = self._wrap(other, "**")
        if other is None:
            return NotImplemented
        if not other.tangent:
            # a constant exponent: only the base's derivative, which a negative base allows
            return Dual(power(self.value, other.value),
                        d_base(self.value, other.value) * self.tangent)
        return self._binary(other, "**")

    def __rpow__(self, other):
        return self._binary(other, "**", reflected=True)

    def __neg__(self):
        return Dual(-self.value, -self.tangent)

    def __pos__(self):
        return self

    def __float__(self):
        return self.value

    def __repr__(self):
        return f"Dual({self.value:g}, tangent={self.tangent:g})"


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
