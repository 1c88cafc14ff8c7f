"""Hints for a wrong result: name a mistake only when the numbers show it."""

from __future__ import annotations

import numpy as np

RTOL, ATOL = 1e-9, 1e-12
FLOAT32_RTOL = 1e-6  # a few units of float32's round-off (2^-23 ≈ 1.2e-7)


def _close(a, b):
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-8, atol=ATOL))


def diagnose(got, want, *, N=None, X=None, item=""):
    """A short hint for why ``got`` differs from the reference ``want``.

    Parameters
    ----------
    got, want : array-like
        The submission's and the reference's result, compared entry by entry.
    N : int, optional
        The batch size, for the 1/N hints of a loss gradient.
    X : ndarray, optional
        The layer's input q (same shape as ``want``), to recognise a kink convention.
    item : str
        The item (``"Dropout.backward"``), for hints that only make sense there.
    """
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        if got.shape == want.shape[::-1]:
            return f"shape {got.shape}, expected {want.shape}: gradient transposed?"
        return f"shape {got.shape}, expected {want.shape}"
    if not np.all(np.isfinite(got)):
        return "contains NaN or infinity"
    if not np.any(want):
        return "expected all zeros"
    if want.ndim == 2 and want.shape[0] == want.shape[1] and _close(got, want.T) \
            and not _close(want, want.T):
        return "gradient transposed?"
    if _close(got, -want):
        return "wrong sign?"
    if N and N > 1 and _close(got, N * want):
        return "missing 1/N? (the loss is a mean over the batch)"
    if N and N > 1 and _close(got * N, want):
        return "divided by N once too often?"
    wrong = ~np.isclose(got, want, rtol=RTOL, atol=ATOL)
    zero = np.abs(want) <= ATOL
    if X is not None and np.shape(X) == want.shape and np.all(X[wrong] == 0):
        return (f"differs only where q = 0 ({int(wrong.sum())} entries): the kink convention "
                "(the reference takes the derivative there as 0)")
    if item.startswith("Dropout.") and np.any(wrong & zero):
        return "the dropout mask was not applied (a dropped unit passes no gradient back)"
    if np.all(zero[wrong]):
        return (f"nonzero at {int(wrong.sum())} of {want.size} entries where the gradient "
                "is 0")
    if not np.any(wrong & zero) and np.count_nonzero(~zero) > 1:  # one entry shows no factor
        ratio = got[~zero] / want[~zero]
        if np.allclose(ratio, ratio[0], rtol=1e-8):
            return f"off by a constant factor {ratio[0]:.4g}"
    largest = np.max(np.abs(got - want))
    if np.allclose(got, want, rtol=FLOAT32_RTOL, atol=FLOAT32_RTOL * np.max(np.abs(want))):
        return (f"agrees only to about 7 significant digits (max difference {largest:.3g}), "
                "as float32 arithmetic would: compute in float64 (no float32 intermediates)")
    return f"max difference {largest:.3g}"


def compare(name, got, want, **context):
    """None when ``got`` matches ``want``; otherwise a message naming ``name`` and a hint."""
    if got is None:
        return f"{name}: got None or something that is not an array of numbers"
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape == want.shape and np.allclose(got, want, rtol=RTOL, atol=ATOL):
        return None
    return f"{name} differs from the reference: {diagnose(got, want, **context)}"
