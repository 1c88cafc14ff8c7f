"""Gradient checks of a whole model with its loss: every parameter, through every layer.

:func:`check_model` differences the loss's per-sample terms for every parameter of the model,
one-sided where a probe straddles a kink of any layer, and reports the mistakes of any layer
by name; :func:`check_grad_flat` compares the whole gradient, as one vector, with scipy's
forward differences, re-checking the entries that disagree as :func:`check_model` does, and
reports the worst entry's relative error. The checks of one layer or one loss are in
:mod:`mlp.gradcheck`, which also exports these two.
"""

from __future__ import annotations

import numpy as np

from .extrapolation import beyond_extrapolation, ridders
from .finite_differences import (
    EPS,
    KinkWatch,
    beyond_noise,
    differences,
    excess,
    float64_array,
    noise_floor,
    one_piece,
    relative_error,
)
from .gradcheck_passes import analytic_pass, check_parameters, check_params_float64, held_still
from .gradcheck_report import GradCheckReport, compare, kink_notes, loss_magnitude
from .roundoff import ROUNDOFF_LIMIT, measured_noise, not_deterministic, unsteadiness

__all__ = ["check_grad_flat", "check_model"]


def check_model(model, loss, X, y, *, input_grad=False, h=1e-5, tol=1e-6, kink_tol=1e-4):
    """Check every parameter gradient of a whole model with its loss.

    Parameters
    ----------
    model : Sequential (or any Layer)
    loss : Loss
    X : ndarray of float64, shape (N, n_in)
    y : array-like
        Targets for ``loss``.
    input_grad : bool, default False
        Also check ∂L/∂X. Off by default: training never uses it, and its entries for a
        single sample are ∝ 1/N, so for large N they sink towards the round-off floor of a
        difference of two batch-mean losses (≈ 1e-11) and tiny entries show relative errors
        near 1e-5 with nothing wrong. :func:`check_layer` checks every layer's dX precisely.
    h, tol, kink_tol : float
        As in :func:`check_layer`; kinks are watched in every layer of the model.

    Returns
    -------
    GradCheckReport
        One row per parameter, named as in ``model.parameters()`` (``"0.W"``, ...), and
        ``"dX"`` for the input when asked. The mistakes :func:`check_layer` reports are
        reported here too, naming the layer (``"1: ReLU(): backward returned None; ..."``).
    """
    X = float64_array(X, "check_model").copy()
    check_params_float64(model, "check_model")
    y = np.asarray(y)

    def row_values():
        # the per-sample terms ℓ_n of L = (1/N) Σ ℓ_n, and the output they were computed from
        output = np.array(model.forward(X), dtype=np.float64)
        return np.array(loss.per_sample(output, y), dtype=np.float64), output

    def run_backward():
        loss.forward(model.forward(X), y)
        return model.backward(loss.backward(), input_grad=input_grad)

    def numeric_of(x):
        # differencing the per-sample terms before summing keeps the round-off at the level
        # of single terms (on Iris 4-16-3: worst error of tiny entries 1.7e-6 -> 8e-8)
        return differences(x, h, row_values,
                           lambda plus, minus: np.sum(plus[0] - minus[0]) / len(X), watch,
                           magnitude=lambda value: loss_magnitude(*value))

    report = GradCheckReport(f"gradient check of {type(model).__name__} with {loss!r} "
                             f"on input {X.shape}")
    watch = KinkWatch(model)
    straddled = set()
    with held_still(model):
        outcome = analytic_pass(model, report, run_backward)
        if outcome is None:
            return report
        dX, analytic = outcome
        if input_grad:
            estimate = numeric_of(X)
            straddled |= estimate.straddled
            report.checks.append(compare("dX", dX, estimate, tol, kink_tol))
        straddled |= check_parameters(report, model.parameters(), analytic, numeric_of, tol,
                                  kink_tol)
        loss.forward(model.forward(X), y)
    kink_notes(report, watch, straddled, h)
    return report


def check_grad_flat(model, loss, X, y, *, h=1e-5, tol=1e-6):
    """Check the whole gradient, as one vector, against ``scipy.optimize.approx_fprime``.

    All parameters are flattened into one vector θ; scipy differences the loss forward along
    each entry with its default step δ = √u (u the machine epsilon), the step
    ``scipy.optimize.check_grad`` takes. An entry agrees when it is within ``tol`` of that
    difference. One that is not is judged again as :func:`check_model` judges an entry, by a
    central difference at ``h``: within ``tol`` or within its round-off (ε_f / h, ε_f = u·|f|
    with |f| as :func:`~mlp.gradcheck_report.loss_magnitude`, raised to the round-off
    measured along a few entries when that is not enough, at most
    :data:`~mlp.roundoff.ROUNDOFF_LIMIT` ulps; see :mod:`mlp.roundoff`), so a gradient that is
    truly zero (a bias before a batch normalisation) is not reported as an error; then against
    Ridders' extrapolation of the central difference to step 0, within ``tol`` or its error
    estimate (:func:`~mlp.extrapolation.beyond_extrapolation`), so sharp curvature along an
    entry (weights of unscaled inputs) is not reported either. Every probe of the re-check
    must keep each unit of a kinked layer on its side at θ; where even the first cannot, the
    forward difference decides, within its own round-off 2ε_f / δ. (scipy's forward
    differences know nothing of kinks: prefer :func:`check_model`, which also says which
    tensor is wrong.)

    Parameters
    ----------
    model : Sequential
    loss : Loss
    X : ndarray of float64, shape (N, n_in)
    y : array-like
    h, tol : float
        The first step of the re-check, and its relative tolerance.

    Returns
    -------
    float
        The largest relative error |a − n| / max(1e-8, |a| + |n|) over the entries that
        disagree (n Ridders' value where it was made, else scipy's difference), 0.0 when none
        does. (Before, the norm of the disagreement over the norm of the whole gradient, in
        which a mistake in a few small entries vanished.)

    Raises
    ------
    ValueError
        When two evaluations of the loss at θ differ by more than round-off can: the model is
        not deterministic (e.g. a layer draws noise) and cannot be checked.
    """
    from scipy.optimize import approx_fprime

    X = float64_array(X, "check_grad_flat")
    check_params_float64(model, "check_grad_flat")
    params = model.parameters()
    theta0 = np.concatenate([p.value.ravel() for p in params])
    theta = theta0.copy()
    saved = [p.value.copy() for p in params]
    step = float(np.sqrt(EPS))
    watch = KinkWatch(model)

    def f(point):
        offset = 0
        for p in params:
            p.value[...] = point[offset:offset + p.value.size].reshape(p.value.shape)
            offset += p.value.size
        return loss.forward(model.forward(X), y)

    def at(i, value):
        theta[i] = value
        try:
            return f(theta), watch.sides()
        finally:
            theta[i] = theta0[i]

    def probe(i, offset):
        return at(i, theta0[i] + offset)

    def difference(a, b):
        return a - b

    with held_still(model):
        try:
            f(theta0)
            model.backward(loss.backward(), input_grad=False)
            g = np.concatenate([p.grad.ravel() for p in model.parameters()])
            output = np.array(model.forward(X), dtype=np.float64)
            magnitude = loss_magnitude(loss.per_sample(output, y), output)
            gap = unsteadiness(f(theta0), f(theta0), difference, magnitude)
            if gap:
                raise ValueError(f"check_grad_flat: {not_deterministic(gap)}")
            numeric = approx_fprime(theta0, f, step)
            with watch:
                base, s0 = f(theta0), watch.sides()[0]
                rounding = EPS * magnitude
                if np.any(relative_error(g, numeric) > tol):
                    measured = measured_noise(theta, step, at, difference, base, s0,
                                              bool(watch))
                    rounding = max(rounding, min(measured, ROUNDOFF_LIMIT * EPS * magnitude))
                value, wrong = numeric.copy(), np.zeros(g.shape, bool)
                for i in np.flatnonzero(relative_error(g, numeric) > tol):
                    value[i], wrong[i] = _recheck(g[i], numeric[i], i, probe, s0,
                                                  bool(watch), rounding, step, h, tol)
        finally:
            for p, saved_value in zip(params, saved, strict=True):
                p.value[...] = saved_value
    return float(relative_error(g, value)[wrong].max(initial=0.0))


def _recheck(a, forward, i, probe, s0, watching, rounding, step, h, tol):
    """The verdict on entry ``i`` of :func:`check_grad_flat` that missed ``tol`` against
    scipy's forward difference: its value and whether it is wrong.

    Judged as :func:`check_model` judges an entry: by the central difference D(h) within
    ``tol`` or its round-off, then against Ridders' extrapolation. The forward difference's
    own round-off, 2ε_f/δ at δ = 1.5e-8, is a thousand times the central one's at h = 1e-5
    and would hide a mistake of 0.2 % in a gradient of 1e-4, so it decides only where every
    central probe crosses a kink.
    """
    def stencil(s):
        (plus, s_plus), (minus, s_minus) = probe(i, s), probe(i, -s)
        if watching and not one_piece(s0, s_plus[0], s_minus[0]):
            return None
        return (plus - minus) / (2 * s)

    fine, noise = stencil(h), noise_floor(rounding, h)
    if fine is None:  # the central difference crosses a kink: only scipy's is left
        return forward, bool(beyond_noise(a, forward, 2 * noise_floor(rounding, step)) > 1.0)
    if excess(a, fine, noise, tol) <= 1.0:
        return fine, False
    R, E, rounding = ridders(stencil, h, noise=noise)
    if beyond_extrapolation(a, R, E, rounding, tol) <= 1.0:
        return R, False
    return (R, True) if np.isfinite(R) else (fine, True)
