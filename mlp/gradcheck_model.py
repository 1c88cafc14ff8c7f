"""Gradient checks of a whole model with its loss: every parameter, through every layer.

:func:`check_model` differences the loss's per-sample terms for every parameter of the model,
one-sided where a probe straddles a kink of any layer, and reports the mistakes of any layer
by name; :func:`check_grad_flat` compares the whole gradient, as one vector, with scipy's
forward differences. The checks of one layer or one loss are in :mod:`mlp.gradcheck`, which also
exports these two.
"""

from __future__ import annotations

import numpy as np

from .finite_differences import (
    EPS,
    KinkWatch,
    beyond_noise,
    differences,
    float64_array,
    noise_floor,
    one_piece,
)
from .gradcheck_passes import analytic_pass, check_parameters, check_params_float64, held_still
from .gradcheck_report import GradCheckReport, compare, kink_notes, loss_magnitude
from .roundoff import beyond_truncation, measured_noise, truncation_may_explain

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


def check_grad_flat(model, loss, X, y):
    """Check the whole gradient as one vector against ``scipy.optimize.approx_fprime``.

    All parameters are flattened into one vector θ; scipy differences the loss forward along
    each entry with its default step δ = √u (u the machine epsilon), the step
    ``scipy.optimize.check_grad`` takes. An entry counts as agreeing when it differs by no more
    than the round-off of such a difference, 2ε_f / δ (ε_f = u·|f| with |f| as
    :func:`~mlp.gradcheck_report.loss_magnitude`, raised to the round-off measured along a few
    entries when that is not enough; see :mod:`mlp.roundoff`), so a gradient that is truly
    zero (a bias before a batch normalisation, even of inputs offset by 100) is not reported
    as an error; or when it agrees with the Richardson extrapolation 2·F(δ) − F(2δ) of the
    forward difference F within half its estimated truncation error |F(δ) − F(2δ)|
    (:func:`~mlp.roundoff.beyond_truncation` with order 1), so sharp curvature along an entry
    (weights of unscaled inputs) is not either. The second step is taken only where a kink of
    no layer lies between θ and θ + 2δ. (scipy's forward differences know nothing of kinks:
    prefer :func:`check_model`.)

    Parameters
    ----------
    model : Sequential
    loss : Loss
    X : ndarray of float64, shape (N, n_in)
    y : array-like

    Returns
    -------
    float
        ‖g_analytic − g_numeric‖ / ‖g_analytic‖ over the entries that differ by more than
        round-off and truncation (0.0 when none does).
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

    with held_still(model):
        try:
            f(theta0)
            model.backward(loss.backward(), input_grad=False)
            g = np.concatenate([p.grad.ravel() for p in model.parameters()])
            output = np.array(model.forward(X), dtype=np.float64)
            magnitude = loss_magnitude(loss.per_sample(output, y), output)
            numeric = approx_fprime(theta0, f, step)
            # a forward difference: two roundings of f over the step δ, 2ε_f/δ
            noise = 2 * noise_floor(EPS * magnitude, step)
            wrong = beyond_noise(g, numeric, noise) > 1.0
            with watch:
                base, s0 = f(theta0), watch.sides()[0]
                if np.any(wrong):
                    measured = measured_noise(theta, step, at, lambda a, b: a - b, base, s0,
                                              bool(watch))
                    noise = 2 * noise_floor(max(EPS * magnitude, measured), step)
                    wrong = beyond_noise(g, numeric, noise) > 1.0
                candidates = wrong & truncation_may_explain(g, numeric, noise)
                if np.any(candidates):
                    wrong &= ~(_forward_truncation(g, theta0, step, candidates, at, base, s0,
                                                   noise) <= 1.0)
        finally:
            for p, value in zip(params, saved, strict=True):
                p.value[...] = value
    diff = np.linalg.norm((g - numeric)[wrong])
    return float(diff / max(np.linalg.norm(g), 1e-300)) if diff else 0.0


def _forward_truncation(g, theta0, step, entries, at, base, s0, noise):
    """:func:`~mlp.roundoff.beyond_truncation` of the forward differences F(δ) and F(2δ) of
    the ``entries`` (inf elsewhere, and where a kink lies within 2δ)."""
    fine, coarse = np.full(g.shape, np.nan), np.full(g.shape, np.nan)
    for i in np.flatnonzero(entries):
        # steps as the machine represents them: (θ + δ) − θ
        near, far = (theta0[i] + step) - theta0[i], (theta0[i] + 2 * step) - theta0[i]
        (f_near, s_near), (f_far, s_far) = at(i, theta0[i] + near), at(i, theta0[i] + far)
        if one_piece(s0, s_near[0], s_far[0]):
            fine[i], coarse[i] = (f_near - base) / near, (f_far - base) / far
    return beyond_truncation(g, fine, coarse, noise, order=1)
