"""Finite differences that know where the derivative jumps.

The central difference ``(f(x + h) − f(x − h)) / 2h`` has error O(h²) where f is smooth. Where
a unit of a ReLU-like layer lies within h of its kink, the two evaluations fall on different
pieces of f and the difference is wrong by O(1): no tolerance can absorb that. So every
evaluation records on which side of its kinks each unit of each kinked layer lies
(:class:`KinkWatch`); an entry whose ±h evaluations put some unit on different sides is
instead differenced on one side only, with the second-order one-sided stencil

    f′(x) ≈ ±(4·(f(x ± h) − f(x)) − (f(x ± 2h) − f(x))) / 2h,

which is also O(h²) provided x, x ± h and x ± 2h lie on one piece. A unit exactly on its kink
(q = 0) may go either way: the derivative of either adjacent piece is a correct answer there
(ReLU's σ′(0) is 0 by convention, 1 by another), so both one-sided estimates are kept and the
checker accepts the one the analytic gradient picked. When neither side stays on one piece,
the entry cannot be checked by differences at this step and is left out (and counted).

Entries pass or fail by the rule of :mod:`mlp.roundoff`: within the relative tolerance, or
within the round-off of the difference itself; an entry that fails both is judged against
Ridders' extrapolation of the same stencil to step 0 (:attr:`Estimate.extrapolate`, the rule
of :mod:`mlp.extrapolation`), whose probes never leave the base point's piece of f. A
function whose two evaluations at one point differ is not deterministic and cannot be
checked (:attr:`Estimate.unsteady`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np

from .extrapolation import ridders
from .roundoff import (  # the rule of a check, re-exported for its users
    EPS,
    NOISE_FACTOR,
    ROUNDOFF_LIMIT,
    beyond_noise,
    excess,
    measured_noise,
    noise_floor,
    relative_error,
    unsteadiness,
)

__all__ = ["CENTRAL", "EPS", "LEFT_OUT", "NOISE_FACTOR", "ONE_SIDED", "Estimate", "KinkWatch",
           "beyond_noise", "differences", "excess", "float64_array", "leaves", "noise_floor",
           "numerical_gradient", "one_piece", "patched", "relative_error"]

#: How an entry was differenced (values of :attr:`Estimate.how`).
CENTRAL, ONE_SIDED, LEFT_OUT = 0, 1, 2


def float64_array(x, who):
    """Return ``x`` if it is a float64 ndarray, else raise a TypeError that says why it must be."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        dtype = getattr(x, "dtype", type(x).__name__)
        raise TypeError(
            f"{who}: gradient checks need float64 arrays (float32 round-off swamps the "
            f"differences), got {dtype}; build the layer with dtype=np.float64 and pass "
            "X.astype(np.float64)"
        )
    return x


def leaves(layer, name=""):
    """Yield (dotted name, layer) for every layer of ``layer`` that contains no other."""
    children = layer.children()
    if not children:
        yield name, layer
    for i, child in enumerate(children):
        yield from leaves(child, f"{name}.{i}" if name else str(i))


@contextmanager
def patched(obj, name, value):
    """Shadow the attribute ``name`` of ``obj`` by ``value`` (an instance attribute), then
    put back exactly what was there, so wrappers nest."""
    own = vars(obj)
    had, old = name in own, own.get(name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        if had:
            setattr(obj, name, old)
        else:
            delattr(obj, name)


class KinkWatch:
    """Record, at every forward pass of ``model``, the side of each kink every unit is on.

    Used as a context manager: inside it, every leaf layer with ``kinks`` (seen through any
    nesting) notes ``sign(X − k)`` of its input for each of its kinks; :meth:`sides` returns
    the record of the latest pass as one int8 vector. Outside it the model is untouched.

    Parameters
    ----------
    model : Layer
    """

    def __init__(self, model):
        self._layers = [(name, layer) for name, layer in leaves(model) if layer.kinks]
        self._record = []

    def __bool__(self):
        return bool(self._layers)

    def __enter__(self):
        self._stack = ExitStack()
        for index, (_, layer) in enumerate(self._layers):
            def spy(X, _layer=layer, _index=index, _forward=layer.forward):
                X_ = np.asarray(X)
                for k in _layer.kinks:
                    self._record.append((_index, np.sign(X_ - k).astype(np.int8).ravel()))
                return _forward(X)

            self._stack.enter_context(patched(layer, "forward", spy))
        return self

    def __exit__(self, *exc):
        self._stack.close()
        return False

    def sides(self):
        """The sides recorded since the last call: (int8 vector, layer index of each entry)."""
        record, self._record = self._record, []
        if not record:
            return np.zeros(0, np.int8), np.zeros(0, np.intp)
        owners = np.concatenate([np.full(len(s), i) for i, s in record])
        return np.concatenate([s for _, s in record]), owners

    def names(self, indices):
        """How the layers with these indices are named in messages, e.g. ``1: ReLU()``."""
        return [f"{self._layers[i][0]}: {self._layers[i][1]!r}" if self._layers[i][0]
                else repr(self._layers[i][1]) for i in sorted(set(indices))]


@dataclass
class Estimate:
    """Finite-difference estimates of a gradient, entry by entry.

    Attributes
    ----------
    numeric : ndarray of float64
        The central difference, or the one-sided one where the central one straddled a kink
        (the forward one when both sides were usable); NaN where the entry was left out.
    other_side : ndarray of float64
        The backward one-sided estimate where both sides were usable (a unit exactly on its
        kink), NaN elsewhere.
    how : ndarray of int8
        :data:`CENTRAL`, :data:`ONE_SIDED` or :data:`LEFT_OUT` per entry.
    straddled : set of int
        Indices (in the :class:`KinkWatch`) of the layers whose kinks were straddled.
    undecided : ndarray of bool
        One-sided entries that moved several units lying exactly on their kinks. Each unit
        may take either side's slope there, and the analytic gradient may pick differently
        for different units (autodiff's relu takes the left slope at 0, max the first
        argument's on a tie), which neither one-sided estimate shows: a mismatch there
        cannot be told from a mistake, so the checker leaves such an entry out.
    noise : ndarray of float64
        The round-off of each estimate, :func:`~mlp.roundoff.noise_floor` (0: none),
        modelled from the size of the values differenced.
    measure : callable or None
        ``measure()`` returns ``noise`` raised to the round-off measured by a high-order
        difference (:func:`~mlp.roundoff.measured_noise`); it evaluates f again (about 40 times),
        so it is called only for a tensor that fails with the modelled noise, right after
        the estimate, while ``x`` and f are as they were.
    extrapolate : callable or None
        ``extrapolate(entries, noise)`` returns Ridders' value R, its error estimate E and
        its round-off (:func:`~mlp.extrapolation.ridders`) of the same stencil at steps h,
        h/1.4, … for the entries where the boolean array ``entries`` is True, ``noise``
        being the round-off of each entry's difference at h; NaN elsewhere, where the entry
        was differenced on both sides, and where the first probes already leave the base
        point's piece of f (the tableau stops at the first step that does). Up to 80
        evaluations per entry (20 for most), so it is called only for entries that fail
        otherwise, under the same conditions as ``measure``.
    unsteady : float
        How much two evaluations of f at the base point differed, where that is more than
        round-off can (:func:`~mlp.roundoff.unsteadiness`); 0 for a deterministic f. A
        nonzero value makes every difference meaningless: the tensor fails.
    """

    numeric: np.ndarray
    other_side: np.ndarray
    how: np.ndarray
    straddled: set
    undecided: np.ndarray
    noise: np.ndarray
    measure: Callable[[], np.ndarray] | None = None
    extrapolate: Callable[[np.ndarray], tuple] | None = None
    unsteady: float = 0.0


def one_piece(s0, s1, s2):
    """Whether points with sides s1, s2 lie on the piece of f that the base point (s0) is on.

    A unit strictly on one side must stay there; a unit exactly on its kink may move, but to
    the same side at both points, and all such units that move must move the same way (else
    the one-sided derivative mixes the conventions of its two neighbours).
    """
    if s1.shape != s0.shape or s2.shape != s0.shape:
        return False  # the evaluation took another path (a branch in the code): no one piece
    off = s0 != 0
    if not (np.array_equal(s1[off], s0[off]) and np.array_equal(s2[off], s0[off])):
        return False
    on = ~off
    if not np.array_equal(s1[on], s2[on]):
        return False
    moved = s1[on][s1[on] != 0]
    return moved.size == 0 or bool(np.all(moved == moved[0]))


def _one_sided(difference, sign, near, far, base, step):
    """The second-order one-sided stencil of the module text on the side ``sign``."""
    return sign * (4 * difference(near, base) - difference(far, base)) / (2 * step)


def differences(x, h, evaluate, difference, watch=None, magnitude=None) -> Estimate:
    """Differentiate a scalar, built from ``evaluate()``, along every entry of ``x``.

    Each entry of ``x`` is moved in place and put back exactly afterwards.

    Parameters
    ----------
    x : ndarray of float64
        The point, read by ``evaluate`` through a reference (a layer's weights, its input).
    h : float
        The step.
    evaluate : callable
        ``evaluate()`` returns the value (a number or an array) at the current ``x``.
    difference : callable
        ``difference(a, b)`` turns two values into the scalar f(a) − f(b), e.g. by
        contracting with an upstream gradient; differencing before reducing keeps the
        round-off at the level of single entries.
    watch : KinkWatch, optional
        Entered around the evaluations; without one (or without kinked layers) every entry
        gets the central difference.
    magnitude : callable, optional
        ``magnitude(value)`` is |f| at a value, for the :func:`noise_floor`: the size of the
        terms that are differenced (the largest over an entry's evaluations is used).
        Default ``difference(|value|, 0)``, right when ``difference`` sums or averages the
        values' entries.

    Returns
    -------
    Estimate
    """
    shape = x.shape
    numeric = np.zeros(shape, dtype=np.float64)
    other_side = np.full(shape, np.nan)
    how = np.zeros(shape, dtype=np.int8)
    side = np.zeros(shape, dtype=np.int8)  # +1 / −1: the side of a one-sided estimate
    undecided = np.zeros(shape, dtype=bool)
    straddled = set()
    watching = watch is not None and bool(watch)
    if magnitude is None:
        def magnitude(value):
            return difference(np.abs(value), np.zeros_like(value))
    size = np.zeros(shape, dtype=np.float64)  # the largest |f| an entry's estimate used

    def at(ix, value):
        x[ix] = value
        result = evaluate()
        size[ix] = max(size[ix], abs(float(magnitude(result))))
        return result, (watch.sides() if watching else None)

    with watch if watching else nullcontext():
        base, (s0, owners) = evaluate(), (watch.sides() if watching else (None, None))
        size[...] = abs(float(magnitude(base)))
        unsteady = unsteadiness(base, evaluate(), difference, size.max(initial=0.0))
        if watching:
            watch.sides()
        for ix in np.ndindex(*shape):
            old = x[ix]
            try:
                plus, sp = at(ix, old + h)
                minus, sm = at(ix, old - h)
                if not watching or one_piece(s0, sp[0], sm[0]):
                    numeric[ix] = difference(plus, minus) / (2 * h)
                    continue
                if sp[0].shape == sm[0].shape == s0.shape:
                    straddled.update(owners[(sp[0] != s0) | (sm[0] != s0)].tolist())
                    on_kink = (s0 == 0) & ((sp[0] != 0) | (sm[0] != 0))
                    undecided[ix] = np.count_nonzero(on_kink) > 1
                sides = []
                for sign, near, s_near in ((1, plus, sp), (-1, minus, sm)):
                    far, s_far = at(ix, old + 2 * sign * h)
                    if one_piece(s0, s_near[0], s_far[0]):
                        sides.append((sign, _one_sided(difference, sign, near, far, base, h)))
            finally:
                x[ix] = old
            if not sides:
                numeric[ix], how[ix] = np.nan, LEFT_OUT
                continue
            how[ix] = ONE_SIDED
            side[ix], numeric[ix] = sides[0]
            if len(sides) == 2:
                other_side[ix] = sides[1][1]

    def measure():
        with watch if watching else nullcontext():
            base = evaluate()
            s0 = watch.sides()[0] if watching else None
            measured = measured_noise(x, h, at, difference, base, s0, watching)
        # beyond what round-off can be, the measurement saw noise: it excuses nothing
        measured = np.minimum(measured, ROUNDOFF_LIMIT * EPS * size)
        return noise_floor(np.maximum(EPS * size, measured), h, how == ONE_SIDED)

    def extrapolate(entries, noise):
        value, error, rounding = (np.full(shape, np.nan) for _ in range(3))
        with watch if watching else nullcontext():
            base = evaluate()
            s0 = watch.sides()[0] if watching else None
            for ix in zip(*np.nonzero(entries & (how != LEFT_OUT) & np.isnan(other_side)),
                          strict=True):
                sign, old = int(side[ix]), x[ix]

                def stencil(step, ix=ix, sign=sign, old=old):
                    # central: x ± step; one-sided: x + sign·step and x + sign·2·step; every
                    # probe must stay on the base point's piece of f
                    try:
                        near, s_near = at(ix, old + (sign or 1) * step)
                        far, s_far = at(ix, old + (2 * sign * step if sign else -step))
                    finally:
                        x[ix] = old
                    if watching and not one_piece(s0, s_near[0], s_far[0]):
                        return None
                    return (_one_sided(difference, sign, near, far, base, step) if sign
                            else difference(near, far) / (2 * step))

                value[ix], error[ix], rounding[ix] = ridders(stencil, h, 2, 1 if sign else 2,
                                                             float(noise[ix]))
        return value, error, rounding

    return Estimate(numeric, other_side, how, straddled, undecided,
                    noise_floor(EPS * size, h, how == ONE_SIDED), measure, extrapolate,
                    unsteady)


def numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of a scalar function ``f`` at the array ``x``.

    Each entry of ``x`` is moved by ±h in place and put back exactly afterwards, so ``f`` may
    read ``x`` through a reference (a layer's weight array, for instance).

    Parameters
    ----------
    f : callable
        ``f(x)`` returning a number.
    x : ndarray of float64
        The point; modified during the call and restored on return.
    h : float, default 1e-5

    Returns
    -------
    grad : ndarray of float64, shape of x
    """
    x = float64_array(x, "numerical_gradient")
    return differences(x, h, lambda: float(f(x)), lambda plus, minus: plus - minus).numeric
