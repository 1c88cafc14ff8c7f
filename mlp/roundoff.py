"""The round-off of a finite difference, and the rule that lets a gradient entry pass.

Round-off sets a floor under what a difference can see. A value f computed in floating point
is off by about u·|f| (u = 2⁻⁵², float64's machine epsilon), so the two evaluations of a
central difference differ by up to 2u·|f| more than they should, and the estimate
(f(x + h) − f(x − h)) / 2h is off by about u·|f| / h whatever the true derivative: the
rounding term of the error bound of central differences (Nocedal & Wright, *Numerical
Optimization*, 2nd ed., 2006, §8.1, where it is balanced against the truncation term h²·|f‴|/6
to choose h). The one-sided stencil of :mod:`mlp.finite_differences` combines three values with
weights 4, −3 and −1 over 2h, so its floor is 4u·|f| / h. For a derivative that is 0 or below
that floor — the bias of a Linear before a BatchNorm (which subtracts the batch mean), a weight
reading an input column of zeros, a flat stretch of a loss — the estimate is pure round-off and
its relative
error is near 1 however right the analytic value is. :func:`excess` therefore lets an entry
pass when its relative error is within the tolerance OR its absolute error is within
:data:`NOISE_FACTOR` times its :func:`noise_floor`; |f| is taken as the magnitude of the
terms that were differenced (Σ|ℓ_n| / N for a batch of per-sample losses, Σ|Y ⊙ G| for a
layer's contracted output), so a sum that cancels does not hide the round-off of its terms.
With |f| ≈ 1 and h = 1e-5 the floor is about 2e-11 and the pass band 2e-10: a mistake larger
than that is caught whatever the size of the true gradient, and a smaller one is below what
any difference at step h can see. Where f subtracts large quantities inside (a BatchNorm
subtracting a large batch mean), its round-off ε_f exceeds u·|f|; a tensor that fails with
the modelled floor therefore has ε_f measured, by sixth differences of f along a few of its
entries at step h (the noise estimate of Moré & Wild, "Estimating computational noise",
SIAM J. Sci. Comput. 33, 2011, reduced to one order), and is judged again with the larger
floor. The measurement uses values of f only, never the analytic gradient under test.

Truncation is the other half of that error bound: the central difference D(h) is off by
h²·|f‴|/6 + O(h⁴) even in exact arithmetic, and where f curves sharply along an entry (a
weight reading an unscaled feature of size 1000 moves a tanh's input by 1000·h) that exceeds
the relative tolerance with nothing wrong. Its size is estimated, as round-off is, only for the
entries that fail otherwise, by Richardson's idea (L. F. Richardson, Phil. Trans. R. Soc. A
226, 1927; Nocedal & Wright §8.1; any text on Richardson extrapolation): D(h) = f′ + c·h² +
O(h⁴) and D(2h) = f′ + 4c·h² + O(h⁴), so T = |D(h) − D(2h)| / 3 is the error of D(h) to
leading order, and R = D(h) + (D(h) − D(2h)) / 3 = (4·D(h) − D(2h)) / 3 cancels it, leaving
O(h⁴) (for a stencil of order p: T = |D(h) − D(2h)| / (2ᵖ − 1), R = D(h) ± T).
:func:`beyond_truncation` lets such an entry pass when |a − R| is within
:data:`TRUNCATION_FACTOR`·T plus round-off. Why against R and not a band around D(h): a band
|a − D(h)| ≤ k·T must take k > 1 to hold f′ at all and then lets a mistake of up to (k + 1)·T
pass; R is f′ up to O(h⁴) = T·O(h²), so the band around it can be a fraction of T and a mistake
must be smaller than that fraction of the truncation error to pass. The fraction ½ holds f′
while the h⁴ term is below half the h² term, which is the condition for T to mean anything
(on unscaled wine and breast-cancer data, 1 to 2 hidden layers, |a − D(h)| / T of correct
models was 1 within 1 %, so |a − R| ≤ 0.01·T). R's own O(h⁴) has no estimate from two steps, hence the margin. It is
no licence for large errors: T is used only while it is at most :data:`TRUNCATION_CAP` of |D(h)|
(beyond that the expansion in h is not to be trusted and the strict verdict stands), so no
mistake above half a percent passes by it, and one of 1e-3 is caught wherever T is below
2e-3 of the gradient. Where a probe at ±2h lands on another piece of a kinked function, D(2h)
says nothing of D(h): no estimate is made there and the strict verdict stands.
"""

from __future__ import annotations

from math import comb

import numpy as np

__all__ = ["EPS", "NOISE_FACTOR", "TRUNCATION_CAP", "TRUNCATION_FACTOR", "beyond_noise",
           "beyond_truncation", "excess", "measured_noise", "noise_floor", "relative_error",
           "truncation_may_explain"]

#: float64's machine epsilon u, the relative round-off of one evaluation.
EPS = float(np.finfo(np.float64).eps)

#: An absolute error up to this many times the :func:`noise_floor` is taken for round-off:
#: evaluating f takes many operations, each rounding. On correct models (a BatchNorm after a
#: Linear, dead units, a loss at its minimum, confident logits; 100 seeds each) the largest
#: error seen was 4 floors; 11 once, with a BatchNorm over inputs offset by 1e4.
NOISE_FACTOR = 10.0


#: An entry passes when |a − R| ≤ TRUNCATION_FACTOR·T (plus round-off), R the Richardson
#: extrapolation and T the estimated truncation error of D(h) (see the module text).
TRUNCATION_FACTOR = 0.5

#: T is trusted only while T ≤ TRUNCATION_CAP·|D(h)|: beyond that h is outside the range where
#: c·h² dominates, and a mistake could hide in the band.
TRUNCATION_CAP = 1e-2


def relative_error(analytic, numeric) -> np.ndarray:
    """Elementwise ``|a − n| / max(1e-8, |a| + |n|)``."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    return np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n))


def noise_floor(rounding, h, one_sided=False) -> np.ndarray:
    """The round-off of a finite-difference estimate, ``c·ε_f / h`` (see the module text).

    Parameters
    ----------
    rounding : float or ndarray
        ε_f, the round-off of one evaluation of f: u·|f| where it is modelled.
    h : float
        The step.
    one_sided : bool or ndarray of bool, default False
        The stencil: c = 1 for the central difference, 4 for the one-sided one.
    """
    return np.where(one_sided, 4.0, 1.0) * np.abs(rounding) / h


def excess(analytic, numeric, noise, tol) -> np.ndarray:
    """How far each entry's error goes past what passes, as a ratio: at most 1 passes.

    ``min(relative error / tol, |a − n| / (NOISE_FACTOR · noise))``: an entry passes when it
    agrees to the relative tolerance or when it differs by no more than round-off can make a
    difference differ (the rule of the module text, the only place it is applied).

    Parameters
    ----------
    analytic, numeric : array-like of float64
    noise : array-like of float64
        The :func:`noise_floor` of each entry of ``numeric`` (0: no floor).
    tol : float or ndarray
        The relative tolerance of each entry.
    """
    return np.minimum(relative_error(analytic, numeric) / tol,
                      beyond_noise(analytic, numeric, noise))


def beyond_noise(analytic, numeric, noise) -> np.ndarray:
    """``|a − n| / (NOISE_FACTOR · noise)``: at most 1 where the difference is round-off."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    band = NOISE_FACTOR * np.asarray(noise, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(band > 0, np.abs(a - n) / band, np.inf)


def beyond_truncation(analytic, fine, coarse, noise, order=2) -> np.ndarray:
    """``|a − R| / (TRUNCATION_FACTOR·T + NOISE_FACTOR·noise)``: at most 1 where the entry
    agrees with Richardson's extrapolation R of its finite difference (see the module text).

    Parameters
    ----------
    analytic : array-like of float64
    fine, coarse : array-like of float64
        D(h) and D(2h), the same stencil at steps h and 2h; NaN in ``coarse`` where it could
        not be made (a kink within 2h): there the result is inf, the strict verdict.
    noise : array-like of float64
        The round-off n of D(h) (:func:`noise_floor`). The band keeps the round-off term of
        :func:`excess`, NOISE_FACTOR·n, so that where T is nil (R = D(h)) it passes nothing
        that rule failed; R's round-off, (2ᵖ + ½)·n / (2ᵖ − 1) with D(2h)'s n / 2, is within
        it (the largest round-off seen on correct models was 4n, see :data:`NOISE_FACTOR`).
    order : int, default 2
        The order p of the stencil: 2 for the central and the one-sided differences of
        :mod:`mlp.finite_differences`, 1 for a forward difference.

    Returns
    -------
    ndarray of float64
        inf where T is NaN or more than :data:`TRUNCATION_CAP` of |D(h)|.
    """
    a = np.asarray(analytic, dtype=np.float64)
    fine = np.asarray(fine, dtype=np.float64)
    step = (fine - np.asarray(coarse, dtype=np.float64)) / (2**order - 1)
    extrapolated, T = fine + step, np.abs(step)
    band = TRUNCATION_FACTOR * T + NOISE_FACTOR * np.asarray(noise, dtype=np.float64)
    trusted = T <= TRUNCATION_CAP * np.abs(fine)  # False where T is NaN
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(trusted & (band > 0), np.abs(a - extrapolated) / band, np.inf)


def truncation_may_explain(analytic, fine, noise) -> np.ndarray:
    """Where :func:`beyond_truncation` could be at most 1 whatever D(2h) turns out to be.

    T ≤ TRUNCATION_CAP·|D(h)| and |R − D(h)| = T, so a passing entry has |a − D(h)| ≤
    (1 + TRUNCATION_FACTOR)·TRUNCATION_CAP·|D(h)| plus round-off; D(2h) is made only where
    that holds, so a gradient wrong by more than about 1.5 % costs no evaluation more.
    """
    a = np.asarray(analytic, dtype=np.float64)
    fine = np.asarray(fine, dtype=np.float64)
    reach = ((1 + TRUNCATION_FACTOR) * TRUNCATION_CAP * np.abs(fine)
             + NOISE_FACTOR * np.asarray(noise, dtype=np.float64))
    return np.abs(a - fine) <= reach  # False where fine is NaN


#: The round-off of f is measured along up to _PROBED entries of a tensor, each at _POINTS
#: points x + k·h, by the sixth differences Σ_j (−1)^j C(6, j) f(x + (k + j)h): their smooth
#: part is h⁶·f⁽⁶⁾ (nil at h = 1e-5), their round-off has standard deviation √924·ε_f for
#: independent errors. Several differences per entry steady the estimate.
_PROBED, _POINTS, _ORDER = 8, 10, 6


def measured_noise(x, h, at, difference, base, s0, watching):
    """ε_f, the round-off of f measured (not modelled) by sixth differences along a few
    entries of ``x`` (Moré & Wild's noise estimation, reduced to one order): it sees
    round-off that the size of f does not show, e.g. a batch normalisation subtracting a
    large batch mean. The largest over the entries; entries whose probes cross a kink are
    not used.

    ``at(ix, value)`` sets entry ``ix`` of ``x`` to ``value`` and returns f's value there and
    the kink sides seen (:func:`mlp.finite_differences.differences`); ``difference`` makes
    f(a) − f(b) of two values; ``s0`` are the sides at ``base``.
    """
    weights = np.array([(-1) ** j * comb(_ORDER, j) for j in range(_ORDER + 1)], np.float64)
    offsets = np.arange(_POINTS) - _POINTS // 2 + 1
    sigma = 0.0
    if x.size == 0:
        return sigma
    for flat in np.unique(np.linspace(0, x.size - 1, _PROBED).astype(np.intp)):
        ix = np.unravel_index(flat, x.shape)
        old = x[ix]
        values, same_piece = [], True
        try:
            for k in offsets:
                value, sides = at(ix, old + k * h)
                values.append(float(difference(value, base)))
                if watching and not np.array_equal(sides[0], s0):
                    same_piece = False
                    break
        finally:
            x[ix] = old
        if same_piece:
            sixth = np.convolve(values, weights[::-1], mode="valid")
            sigma = max(sigma, float(np.sqrt(np.mean(sixth**2) / (weights @ weights))))
    return sigma
