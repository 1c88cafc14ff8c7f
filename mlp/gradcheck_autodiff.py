"""Check reverse-mode autodiff of a scalar function, with one-sided differences at kinks.

``relu`` and ``maximum`` in :mod:`mlp.autodiff` have kinks (at 0, and where the two arguments
tie). Like the layer checks, this one records at every evaluation which side of each kink the
graph is on, and differences an argument on one side only where its ±h probes would straddle
one (see :mod:`mlp.finite_differences`).
"""

from __future__ import annotations

import numpy as np

from .autodiff import Var, value_and_grad
from .finite_differences import differences
from .gradcheck_report import GradCheckReport, compare, kink_notes

__all__ = ["check_function"]


class _GraphSides:
    """Evaluate ``f`` on Vars and note the side of every relu and max node's kink.

    Plays the part of :class:`~mlp.finite_differences.KinkWatch` for a scalar graph: relu's
    side is the sign of its input, max's the sign of a − b.
    """

    def __init__(self, f):
        self.f = f
        self._sides = np.zeros(0, np.int8)

    def __bool__(self):
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def evaluate(self, x):
        out = self.f(*[Var(float(v)) for v in x])
        if not isinstance(out, Var):
            self._sides = np.zeros(0, np.int8)
            return float(out)
        sides = [np.sign(node.parents[0].value) if node.op == "relu"
                 else np.sign(node.parents[0].value - node.parents[1].value)
                 for node in out.topological_order() if node.op in ("relu", "max")]
        self._sides = np.array(sides, dtype=np.int8)
        return out.value

    def sides(self):
        return self._sides, np.zeros(len(self._sides), np.intp)

    def names(self, indices):
        return ["the relu and max nodes of f"]


def check_function(f, *args, h=1e-5, tol=1e-7, kink_tol=1e-5):
    """Check ``mlp.autodiff.grad(f)`` at ``args`` against finite differences.

    Parameters
    ----------
    f : callable
        ``f(*args)`` returning one number, built from the operations of :mod:`mlp.autodiff`.
    *args : float
        The point.
    h, tol, kink_tol : float
        As in :func:`mlp.gradcheck.check_layer`: the step, the tolerance of central
        differences and that of the one-sided ones used next to a kink.

    Returns
    -------
    GradCheckReport
        One row ``"grad"`` of shape ``(len(args),)``.
    """
    x = np.array(args, dtype=np.float64)
    _, analytic = value_and_grad(f)(*x)
    graph = _GraphSides(f)
    estimate = differences(x, h, lambda: graph.evaluate(x), lambda a, b: a - b, graph)
    report = GradCheckReport(f"gradient check of {getattr(f, '__name__', 'f')} at "
                             f"{tuple(float(v) for v in x)}")
    report.checks.append(compare("grad", np.array(analytic), estimate, tol, kink_tol))
    kink_notes(report, graph, estimate.straddled, h)
    return report
