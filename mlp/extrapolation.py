"""Ridders' extrapolation of a finite difference, and the rule that judges an entry by it.

A central difference D(h) = (f(x + h) − f(x − h)) / 2h is off by its truncation error,
h²·f‴/6 + O(h⁴), even in exact arithmetic. Where f curves sharply along an entry (a weight
reading an unscaled feature of size 1000 moves a tanh's input by 1000·h) that exceeds the
relative tolerance with nothing wrong; where a mistake is small, it hides in the same error.
A band proportional to D(h)'s truncation error cannot tell the two apart: it must be wide
enough to hold the true derivative, and then a mistake of that size passes too.

What can tell them apart is a better value with an error estimate of its own. Ridders' method
(C. J. F. Ridders, "Accurate computation of F′(x) and F′(x)F″(x)", Adv. Eng. Software 4(2),
1982; Press et al., *Numerical Recipes*, §5.7) makes the difference at shrinking steps
h, h/r, h/r², … and extrapolates them to step 0 in a Richardson tableau: for D(s) = f′ +
c₁·s^p₁ + c₂·s^p₂ + …, column j of the tableau cancels the term s^pⱼ,

    A[i, j] = (r^pⱼ·A[i, j−1] − A[i−1, j−1]) / (r^pⱼ − 1),   A[i, 0] = D(h / rⁱ),

and each new entry's distance to its two parents estimates its error. The entry with the
smallest estimate is the value R, its estimate E; the tableau stops when the diagonal's error
grows past twice the best E (round-off, growing as the step shrinks, has taken over). For a
smooth f, E is typically 1e-10 of |R|: far below any mistake worth the name. Where h is so
large that the tableau cannot get there, it starts again from h/10, h/100, h/1000.

:func:`beyond_extrapolation` lets an entry that failed the plain test (relative tolerance or
round-off against D(h)) pass iff it agrees with R to the relative tolerance, or within
:data:`EXTRAPOLATION_FACTOR`·E plus the round-off band of the values R came from
(NOISE_FACTOR·n·10ᵏ for the start h/10ᵏ; :mod:`mlp.roundoff`). E counts only while it is at
most :data:`EXTRAPOLATION_CAP` of |R|; where it is larger but still within that round-off
band (a tiny gradient), R is judged by the round-off rule alone; where the tableau cannot do
even that, the strict verdict stands. A correct gradient of a sharply curved f passes; a
mistake larger than EXTRAPOLATION_FACTOR·E (typically 1e-9 relative) plus round-off is caught
however sharply f curves.

The tableau never crosses a kink: every probe must lie on the base point's piece of f
(:func:`~mlp.finite_differences.one_piece`); where one does not, the tableau ends there and
what it had is used (nothing, on the first step: the strict verdict).
"""

from __future__ import annotations

import numpy as np

from .roundoff import NOISE_FACTOR, relative_error

__all__ = ["EXTRAPOLATION_CAP", "EXTRAPOLATION_FACTOR", "beyond_extrapolation", "ridders"]

#: An entry passes when |a − R| ≤ EXTRAPOLATION_FACTOR·E (plus round-off): E is the
#: difference of two tableau entries, not a bound, so the margin; Numerical Recipes' stopping
#: rule uses the same factor 2.
EXTRAPOLATION_FACTOR = 2.0

#: E is trusted only while E ≤ EXTRAPOLATION_CAP·|R|, so no mistake above
#: EXTRAPOLATION_FACTOR·EXTRAPOLATION_CAP = 2e-6 of the gradient ever passes by the band.
EXTRAPOLATION_CAP = 1e-6

#: Ridders' step ratio r, the length of the tableau, and the growth of the diagonal's error
#: that ends it (the values of Numerical Recipes §5.7); how many first steps h, h/10, … are
#: tried.
_RATIO, _STEPS, _SAFE, _STARTS = 1.4, 10, 2.0, 4


def ridders(difference, h, first=2, then=2, noise=0.0):
    """Ridders' extrapolation to step 0 of ``difference(s)`` for s = h, h/r, h/r², …

    Where that tableau's error estimate E is neither within :data:`EXTRAPOLATION_CAP` of its
    value nor within round-off (h so large that the expansion in s does not hold yet: a
    weight of a feature of size 1e6 moves a tanh's input by 10 at h = 1e-5), it is made
    again from h/10, h/100 and h/1000. Each start's values carry 10ᵏ times the round-off of
    the first, so the tableau kept is the one with the smallest E + NOISE_FACTOR·10ᵏ·n (a
    start so small that f no longer changes gives E = 0 and R = 0, and is not taken for that).

    Parameters
    ----------
    difference : callable
        ``difference(s)`` returns the stencil's estimate at step s, or None where a probe
        left the base point's piece of f (the tableau ends there).
    h : float
        The first, largest step.
    first, then : int
        The powers of s in the stencil's error: p₁ = ``first``, pⱼ₊₁ = pⱼ + ``then``
        (2, 2 for the central difference; 2, 1 for the second-order one-sided one).
    noise : float
        n, the round-off of ``difference(h)`` (:func:`~mlp.roundoff.noise_floor`).

    Returns
    -------
    (float, float, float)
        R, its error estimate E, and the round-off of the values it came from (n·10ᵏ);
        (nan, inf, nan) when no two steps could be made.
    """
    best, score = (np.nan, np.inf, np.nan), np.inf
    for start in range(_STARTS):
        rounding = noise * 10.0**start
        value, error = _tableau(difference, h / 10.0**start, first, then)
        if error + NOISE_FACTOR * rounding < score:
            best, score = (value, error, rounding), error + NOISE_FACTOR * rounding
        if _trusted(value, error, rounding):
            break
    return best


def _trusted(value, error, rounding):
    """Whether E is small enough to judge by: within EXTRAPOLATION_CAP of |R|, or within
    the round-off band of the values R came from (there R is as good as round-off allows)."""
    return error <= np.maximum(EXTRAPOLATION_CAP * np.abs(value), NOISE_FACTOR * rounding)


def _tableau(difference, h, first, then):
    """One Richardson tableau of Ridders' method from the step h (see :func:`ridders`)."""
    best, error, previous, step = np.nan, np.inf, None, h
    for i in range(_STEPS):
        value = difference(step)
        if value is None or not np.isfinite(value):
            break
        row = [float(value)]
        for j in range(1, i + 1):
            factor = _RATIO ** (first + (j - 1) * then)
            row.append((factor * row[j - 1] - previous[j - 1]) / (factor - 1))
            estimate = max(abs(row[j] - row[j - 1]), abs(row[j] - previous[j - 1]))
            if estimate <= error:
                best, error = row[j], estimate
        if i and abs(row[i] - previous[i - 1]) >= _SAFE * error:
            break  # round-off took over: smaller steps only make it worse
        previous, step = row, step / _RATIO
    return best, error


def beyond_extrapolation(analytic, value, error, noise, tol) -> np.ndarray:
    """How far each entry goes past what passes against Ridders' value: at most 1 passes.

    ``min(relative error(a, R) / tol, |a − R| / band)`` with band = EXTRAPOLATION_FACTOR·E +
    NOISE_FACTOR·n where E ≤ EXTRAPOLATION_CAP·|R|; where E is larger but within the
    round-off band NOISE_FACTOR·n (a gradient so small that R is as good as round-off lets it
    be), band = NOISE_FACTOR·n alone, the round-off rule around R; inf elsewhere (see the
    module text).

    Parameters
    ----------
    analytic : array-like of float64
    value, error, noise : array-like of float64
        R, E and the round-off n of the values R came from, as :func:`ridders` returns them;
        NaN where the tableau was not made.
    tol : float or ndarray
    """
    a = np.asarray(analytic, dtype=np.float64)
    value = np.asarray(value, dtype=np.float64)
    error = np.asarray(error, dtype=np.float64)
    rounding = NOISE_FACTOR * np.asarray(noise, dtype=np.float64)
    small = error <= EXTRAPOLATION_CAP * np.abs(value)  # False where either is NaN
    band = np.where(small, EXTRAPOLATION_FACTOR * error, 0.0) + rounding
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.fmin(relative_error(a, value) / tol,
                        np.where(band > 0, np.abs(a - value) / band, np.inf))
    return np.where(small | (error <= rounding), ratio, np.inf)
