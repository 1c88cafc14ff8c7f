"""The analytic side of a gradient check: the passes a check runs and how they are judged.

:func:`mlp.gradcheck.check_layer` and :func:`mlp.gradcheck_model.check_model` run the same
analytic passes, so they live here once: the model is held still (:func:`held_still`: dropout
masks frozen, buffers restored), forward-then-backward runs twice under a
:class:`~mlp.gradcheck_guard.BackwardGuard` (:func:`analytic_pass`, which catches gradients
accumulated, replaced or never written), and every parameter's gradient is compared with its
finite differences (:func:`check_parameters`).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from .gradcheck_guard import BackwardGuard, Mistake, repeat_problems
from .gradcheck_report import compare, unusable

__all__ = ["analytic_pass", "check_parameters", "check_params_float64", "held_still",
           "replaced_gradients"]


def replaced_gradients(before, after):
    """One message per parameter whose gradient array backward replaced by a new one.

    An optimizer holds the gradient arrays it was built with: a backward that puts new arrays
    into ``grads`` computes the right numbers where no optimizer reads them.
    """
    return [
        f"backward replaced the gradient array of {p.name} instead of writing into it "
        f"(use grads[{p.key!r}][...] = ... or out=): an optimizer would never see it"
        for p, old in zip(after, before, strict=True) if p.grad is not old.grad
    ]


@contextmanager
def held_still(model):
    """Keep ``model`` the same function while it is evaluated many times.

    Dropout masks are frozen after the first forward (each layer's ``freeze_mask``), and
    buffers such as BatchNorm's running statistics are restored afterwards, so a check
    leaves no trace in the model.
    """
    saved = [(value, value.copy()) for _, value in model.named_buffers()]
    layers = [model]
    while layers:
        layer = layers.pop()
        layers.extend(layer.children())
        if hasattr(layer, "freeze_mask"):
            saved.append((layer, layer.freeze_mask))
            layer.freeze_mask = True
    try:
        yield
    finally:
        for owner, value in saved:
            if isinstance(owner, np.ndarray):
                owner[...] = value
            else:
                owner.freeze_mask = value


def check_params_float64(model, who):
    """Raise TypeError, naming ``who`` and the parameter, unless every parameter is float64:
    in float32 the round-off of a finite difference swamps the errors a check looks for."""
    for p in model.parameters():
        if p.value.dtype != np.float64:
            raise TypeError(
                f"{who}: gradient checks need float64 parameters, but {p.name} is "
                f"{p.value.dtype}; build the layers with dtype=np.float64"
            )


def analytic_pass(model, report, run_backward):
    """Run forward-then-backward twice under a :class:`BackwardGuard`.

    Returns ``(dX, {name: grad})`` of the first pass, or None when a mistake stopped it.
    The second, identical pass catches gradients accumulated instead of overwritten.
    """
    guard = BackwardGuard(model)
    with guard:
        before = model.parameters()
        try:
            dX = run_backward()
        except Mistake:
            report.problems.extend(guard.problems)
            return None
        params = model.parameters()
        report.problems.extend(replaced_gradients(before, params))
        first = {p.name: np.array(p.grad, dtype=np.float64) for p in params}
        dX = None if dX is None else np.array(dX, dtype=np.float64)
        second_dX = run_backward()
        second = {p.name: np.array(p.grad, dtype=np.float64) for p in model.parameters()}
    report.problems.extend(guard.problems)
    report.problems.extend(repeat_problems({"dX": dX, **first}, {"dX": second_dX, **second}))
    return dX, first


def check_parameters(report, params, analytic, numeric_of, tol, kink_tol):
    """Compare every parameter's analytic gradient with ``numeric_of(p.value)``.

    Appends one row per parameter to ``report`` (a misshapen gradient is a problem and an
    unusable row) and returns the entries whose probes straddled a kink.
    """
    straddled = set()
    for p in params:
        if analytic[p.name].shape != p.value.shape:
            report.problems.append(f"the gradient of {p.name} has shape "
                                   f"{analytic[p.name].shape}; {p.name} has {p.value.shape}")
            report.checks.append(unusable(p.name, p.value.shape, tol, kink_tol))
            continue
        estimate = numeric_of(p.value)
        straddled |= estimate.straddled
        report.checks.append(compare(p.name, analytic[p.name], estimate, tol, kink_tol))
    return straddled
