"""Finite-difference checks of hand-derived gradients.

The analytic gradient is compared with finite differences entry by entry, with the relative
error

    |a − n| / max(1e-8, |a| + |n|),

which catches a wrong formula (errors near 1), a missing factor (errors near 0.5) and a
transposed matrix, while float64 round-off stays far below 1e-7. Central differences are used
wherever f is smooth between the two probes; entries whose probes straddle a kink (ReLU at 0)
get a one-sided difference instead (see :mod:`mlp.finite_differences`), so correct code never
fails at a kink and a wrong slope still does. An entry that misses the tolerance is judged
again within the round-off of its difference (see :mod:`mlp.roundoff`) and then against
Ridders' extrapolation of the difference to step 0, within that value's own error estimate
(see :mod:`mlp.extrapolation`; both only for such entries), so neither a zero gradient nor
sharp curvature (unscaled inputs) fails correct code, and a mistake far below the truncation
error of the plain difference is still caught. A function that gives two values at one point
(a layer drawing noise) is refused: no difference of it means anything.

A layer with an array output is checked through the scalar ``f(X) = Σ Y ⊙ G`` for a fixed
random ``G``: then ∂f/∂Y = G, so ``backward(G)`` must return ∂f/∂X exactly. Mistakes that are
not a wrong number (``None`` returned, gradients accumulated, ``dY`` overwritten, ...) are
reported as sentences (see :mod:`mlp.gradcheck_guard`).

This module checks one layer (:func:`check_layer`, :func:`check_layer_shapes`) or one loss
(:func:`check_loss`); the checks of a whole model with its loss (:func:`check_model`,
:func:`check_grad_flat`) are in :mod:`mlp.gradcheck_model`, the analytic passes both run in
:mod:`mlp.gradcheck_passes`, and every check is importable from here.
"""

from __future__ import annotations

import copy

import numpy as np

from .base import Layer, as_generator
from .finite_differences import (
    EPS,
    KinkWatch,
    differences,
    float64_array,
    numerical_gradient,
    relative_error,
)
from .gradcheck_guard import stale_cache_problems
from .gradcheck_model import check_grad_flat, check_model
from .gradcheck_passes import analytic_pass, check_parameters, check_params_float64, held_still
from .gradcheck_report import (
    GradCheckReport,
    TensorCheck,
    central,
    compare,
    kink_notes,
    loss_magnitude,
    unusable,
)
from .losses import Loss

__all__ = [
    "GradCheckReport", "TensorCheck", "check_function", "check_grad_flat", "check_layer",  # noqa: F822
    "check_layer_shapes", "check_loss", "check_model", "numerical_gradient", "relative_error",
]

def __getattr__(name):
    # check_function needs mlp.autodiff, which an exercise's package may leave out
    if name == "check_function":
        from .gradcheck_autodiff import check_function

        return check_function
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Input shapes (N, n_in) of :func:`check_layer_shapes`: one sample, one feature, both, a
#: square batch and an oblong one, so a formula right only for some shapes is caught.
SHAPES = ((1, 1), (1, 4), (5, 1), (4, 4), (6, 5))


def check_layer(layer, X, y=None, *, rng=None, h=1e-5, tol=1e-7, kink_tol=1e-5):
    """Check ``backward`` of one layer (or loss) against finite differences.

    The layer's output is contracted with a random upstream gradient ``G``, so the check
    covers the whole Jacobian-vector product: dX and every parameter gradient. Besides the
    numbers, the check reports (in ``problems``) a backward that returns None or a dX of the
    wrong shape or dtype, writes into ``dY``, adds into ``grads`` instead of overwriting them
    or replaces the arrays, and a forward that writes into ``X`` or does not cache what
    backward reads.

    Parameters
    ----------
    layer : Layer or Loss
        A loss is checked with :func:`check_loss` (then ``y`` is required).
    X : ndarray of float64, shape (N, n_in)
    y : array-like, optional
        Targets, for a loss only.
    rng : None, int or numpy.random.Generator
        Draws ``G``.
    h : float, default 1e-5
        The finite-difference step.
    tol : float, default 1e-7
        The largest relative error that passes, for entries compared by central differences.
    kink_tol : float, default 1e-5
        The same for entries whose ±h probes straddle a kink of the layer (e.g. 0 for ReLU)
        and are compared by one-sided differences instead.

    Returns
    -------
    GradCheckReport

    Raises
    ------
    TypeError
        When ``X`` or a parameter is not float64.
    """
    if isinstance(layer, Loss):
        if y is None:
            raise TypeError("check_layer: checking a loss needs its targets y")
        return check_loss(layer, X, y, h=h, tol=tol)
    if not isinstance(layer, Layer):
        raise TypeError(f"check_layer: expected a Layer or a Loss, got {type(layer).__name__}")
    X = float64_array(X, "check_layer").copy()
    check_params_float64(layer, "check_layer")
    rng = as_generator(rng)
    report = GradCheckReport(f"gradient check of {layer!r} on input {X.shape}")
    with held_still(layer):
        try:
            fresh = copy.deepcopy(layer)  # has seen no input yet: for the stale-cache check
        except Exception:  # a layer that cannot be copied is checked without it
            fresh = None
        G = None

        def run_backward():
            nonlocal G
            Y = layer.forward(X)
            if G is None:
                G = rng.standard_normal(np.shape(Y))
            return layer.backward(G.copy())  # a copy: a backward may write into its dY

        outcome = analytic_pass(layer, report, run_backward)
        if outcome is None:
            report.checks.append(unusable("dX", X.shape, tol, kink_tol))
            return report
        dX, analytic = outcome
        watch = KinkWatch(layer)

        def numeric_of(x):
            return differences(x, h, lambda: np.array(layer.forward(X), dtype=np.float64),
                               lambda plus, minus: np.vdot(plus - minus, G), watch,
                               magnitude=lambda Y: np.vdot(np.abs(Y), np.abs(G)))

        straddled = set()
        if dX is None or dX.shape != X.shape:
            report.checks.append(unusable("dX", X.shape, tol, kink_tol))
        else:
            estimate = numeric_of(X)
            straddled = estimate.straddled
            report.checks.append(compare("dX", dX, estimate, tol, kink_tol))
        straddled |= check_parameters(report, layer.parameters(), analytic, numeric_of, tol,
                                  kink_tol)
        if fresh is not None:
            report.problems.extend(stale_cache_problems(layer, fresh, 0.5 * X + 0.25, G,
                                                        repr(layer)))
        layer.forward(X)  # leave the cache as it was for the unperturbed input
    kink_notes(report, watch, straddled, h)
    return report


def check_layer_shapes(make_layer, shapes=SHAPES, *, rng=None, scale=2.0, **options):
    """Check a layer on several input shapes, including one sample and one feature.

    A formula right only for square inputs, or only for N > 1, passes on some shapes and
    fails on others; this runs :func:`check_layer` on each and gathers the results.

    Parameters
    ----------
    make_layer : callable
        ``make_layer(n_in)`` returns a fresh float64 layer for inputs with ``n_in`` features.
    shapes : sequence of (N, n_in), default :data:`SHAPES`
    rng : None, int or numpy.random.Generator
        Draws the inputs, N(0, scale²), and the upstream gradients.
    scale : float, default 2.0
    **options
        ``h``, ``tol``, ``kink_tol`` as for :func:`check_layer`.

    Returns
    -------
    GradCheckReport
        Tensors named with the shape, e.g. ``"dX on (1, 4)"``; problems and notes likewise
        prefixed.
    """
    rng = as_generator(rng)
    layer = None
    report = GradCheckReport("")
    for N, n_in in shapes:
        layer = make_layer(n_in)
        part = check_layer(layer, rng.normal(0.0, scale, size=(N, n_in)), rng=rng, **options)
        for c in part.checks:
            c.name = f"{c.name} on {(N, n_in)}"
            report.checks.append(c)
        report.notes.extend(f"on {(N, n_in)}: {note}" for note in part.notes)
        report.problems.extend(f"on input {(N, n_in)}: {p}" for p in part.problems)
    report.title = (f"gradient check of {layer!r} on input shapes "
                    f"{', '.join(str(tuple(s)) for s in shapes)}")
    return report


def check_loss(loss, output, y, *, h=1e-5, tol=1e-7):
    """Check a loss's ``backward()`` against central differences of its value.

    A loss is the mean of per-sample terms, L = (1/N) Σ_n ℓ_n, and entry (n, k) of the
    output moves only ℓ_n. So the numerical gradient differences ℓ_n alone, evaluated on
    row n, and divides by N: the same derivative, without the round-off of the whole
    batch's sum (eps·|L|/h, which would swamp the smallest entries). The check first
    confirms that the batch value is indeed the mean of the per-row values; a loss that
    sums instead (a missing 1/N) fails there.

    Parameters
    ----------
    loss : Loss
    output : ndarray of float64, shape (N, K)
    y : array-like
        The targets, as ``loss.forward`` takes them.
    h : float, default 1e-5
    tol : float, default 1e-7

    Returns
    -------
    GradCheckReport
        Rows ``"value"`` (batch value against the mean of row values) and ``"d_output"``.
    """
    output = float64_array(output, "check_loss").copy()
    y = np.asarray(y)
    N = len(output)
    value = loss.forward(output, y)
    analytic = loss.backward()
    report = GradCheckReport(f"gradient check of {loss!r} on output {output.shape}")
    row_values = np.array([loss.forward(output[n:n + 1], y[n:n + 1]) for n in range(N)])
    report.checks.append(compare("value", value, central(row_values.mean(),
                                                         EPS * np.mean(np.abs(row_values))),
                                 tol, tol))
    if analytic is None or np.shape(analytic) != output.shape:
        got = "None" if analytic is None else f"an array of shape {np.shape(analytic)}"
        report.problems.append(f"{loss!r}: backward returned {got}; it must return "
                               f"dL/d(output) of shape {output.shape}")
        report.checks.append(unusable("d_output", output.shape, tol, tol))
        return report
    numeric, noise, rows = np.zeros_like(output), np.zeros_like(output), []
    for n in range(N):
        row, y_row = output[n:n + 1].copy(), y[n:n + 1]
        rows.append(differences(row, h, lambda r=row, t=y_row: float(loss.forward(r, t)),
                                lambda plus, minus: plus - minus,
                                magnitude=lambda value, r=row: loss_magnitude(value, r)))
        numeric[n], noise[n] = rows[n].numeric[0] / N, rows[n].noise[0] / N

    def extrapolate(entries, noise):
        # Ridders' R, E and round-off of the entries asked for, each row differenced alone
        # as for D(h)
        out = [np.full(output.shape, np.nan) for _ in range(3)]
        for n in np.flatnonzero(entries.any(axis=1)):
            for whole, part in zip(out, rows[n].extrapolate(entries[n:n + 1], noise[n:n + 1] * N),
                                   strict=True):
                whole[n] = part[0] / N
        return tuple(out)

    estimate = central(numeric, noise)
    estimate.extrapolate = extrapolate
    estimate.unsteady = max(row.unsteady for row in rows) if rows else 0.0
    report.checks.append(compare("d_output", analytic, estimate, tol, tol))
    loss.forward(output, y)  # leave the cache as it was for the whole batch
    kink_notes(report, None, set(), h)  # no kinks here: notes on round-off and extrapolation
    return report
