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
)
from .gradcheck_passes import analytic_pass, check_parameters, check_params_float64, held_still
from .gradcheck_report import GradCheckReport, compare, kink_notes, loss_magnitude

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
    each entry with its default step √u (u the machine epsilon), the step
    ``scipy.optimize.check_grad`` takes. Entries that differ by no more than the round-off of
    such a difference (2u·|f| / √u, |f| as :func:`~mlp.gradcheck_report.loss_magnitude`; see
    :mod:`mlp.finite_differences`) count as agreeing, so a gradient that is truly zero (a bias
    before a batch normalisation) is not reported as an error. (scipy's forward differences
    know nothing of kinks: prefer :func:`check_model`.)

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
        round-off (0.0 when none does).
    """
    from scipy.optimize import approx_fprime

    X = float64_array(X, "check_grad_flat")
    check_params_float64(model, "check_grad_flat")
    params = model.parameters()
    theta0 = np.concatenate([p.value.ravel() for p in params])
    saved = [p.value.copy() for p in params]
    step = float(np.sqrt(EPS))

    def unflatten(theta):
        offset = 0
        for p in params:
            p.value[...] = theta[offset:offset + p.value.size].reshape(p.value.shape)
            offset += p.value.size

    def f(theta):
        unflatten(theta)
        return loss.forward(model.forward(X), y)

    with held_still(model):
        try:
            f(theta0)
            model.backward(loss.backward(), input_grad=False)
            g = np.concatenate([p.grad.ravel() for p in model.parameters()])
            output = np.array(model.forward(X), dtype=np.float64)
            magnitude = loss_magnitude(loss.per_sample(output, y), output)
            numeric = approx_fprime(theta0, f, step)
        finally:
            for p, value in zip(params, saved, strict=True):
                p.value[...] = value
    # a forward difference: two roundings of f over the step δ, 2u·|f|/δ
    wrong = beyond_noise(g, numeric, 2 * noise_floor(EPS * magnitude, step)) > 1.0
    diff = np.linalg.norm((g - numeric)[wrong])
    return float(diff / max(np.linalg.norm(g), 1e-300)) if diff else 0.0
