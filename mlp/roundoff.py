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

Round-off has a ceiling too. A value computed by any fixed sequence of float64 operations
is the same at the same point, every time; and the operations of a network's loss (sums over
a batch, products, exp and log) lose a few ulps of |f| each, some tens in all. So two
evaluations at the same point that differ at all beyond :data:`ROUNDOFF_LIMIT` ulps of |f|
(:func:`unsteadiness`) say that f is not deterministic — a layer that draws noise — and then
no difference of f means anything: the checks refuse it. The measured round-off is capped at
the same :data:`ROUNDOFF_LIMIT`·u·|f|: beyond that it is noise, which excuses nothing.

Truncation, the other half of the error bound, is handled by extrapolation
(:mod:`mlp.extrapolation`).
"""

from __future__ import annotations

from math import comb

import numpy as np

__all__ = ["EPS", "NOISE_FACTOR", "ROUNDOFF_LIMIT", "beyond_noise", "excess", "measured_noise",
           "noise_floor", "not_deterministic", "relative_error", "unsteadiness"]

#: float64's machine epsilon u, the relative round-off of one evaluation.
EPS = float(np.finfo(np.float64).eps)

#: An absolute error up to this many times the :func:`noise_floor` is taken for round-off:
#: evaluating f takes many operations, each rounding. On correct models (a BatchNorm after a
#: Linear, dead units, a loss at its minimum, confident logits; 100 seeds each) the largest
#: error seen was 4 floors; 11 once, with a BatchNorm over inputs offset by 1e4.
NOISE_FACTOR = 10.0


#: Round-off of f beyond this many ulps of |f| is taken for noise (see the module text). The
#: largest round-off measured over the checks of the test suite (BatchNorm over inputs offset
#: by 100, saturated units, flat losses, unscaled wine among them) was 21 ulps of |f|; the
#: limit leaves a factor 5 over that, and keeps the band that measured round-off can open,
#: NOISE_FACTOR·100·u·|f| / h ≈ 2e-8·|f| at h = 1e-5, below a mistake of 1e-3 in a gradient
#: entry of 1e-4 of a loss of size 1.
ROUNDOFF_LIMIT = 100.0


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


def unsteadiness(first, second, difference, magnitude) -> float:
    """|f(second) − f(first)| of two evaluations at the same point where it exceeds
    :data:`ROUNDOFF_LIMIT`·u·``magnitude`` (f not deterministic, see the module text), else 0.

    ``difference(a, b)`` makes f(a) − f(b) of two values, as in
    :func:`mlp.finite_differences.differences`.
    """
    gap = abs(float(difference(second, first)))
    return gap if gap > ROUNDOFF_LIMIT * EPS * magnitude else 0.0


def not_deterministic(gap) -> str:
    """The sentence that refuses a function whose two evaluations at one point differ."""
    return (f"f is not deterministic: two evaluations at the same point differ by {gap:.3g}, "
            "more than round-off can; a layer that draws random numbers must draw the same "
            "ones on every call of the check (Dropout's mask is frozen by the checker)")


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
