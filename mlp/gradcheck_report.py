"""What a gradient check found: one row per tensor, notes on kinks, and the mistakes.

:func:`compare` turns an analytic gradient and a finite-difference
:class:`~mlp.finite_differences.Estimate` into a :class:`TensorCheck`; a
:class:`GradCheckReport` gathers them and prints as a table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .extrapolation import beyond_extrapolation
from .finite_differences import LEFT_OUT, ONE_SIDED, Estimate
from .roundoff import excess, not_deterministic, relative_error

__all__ = ["GradCheckReport", "TensorCheck", "central", "compare", "kink_notes", "loss_magnitude",
           "unusable"]


@dataclass
class TensorCheck:
    """The comparison for one tensor (an input or a parameter).

    Attributes
    ----------
    name : str
        ``"dX"`` or the parameter's name.
    shape : tuple
    max_error : float
        The largest relative error over the compared entries (1.0 when there was nothing
        usable to compare, e.g. a backward that returned None).
    where : tuple
        Index of the entry with the largest error.
    analytic, numeric : float
        The two values at ``where``.
    tol : float
        The tolerance of the entries compared by central differences.
    kink_tol : float
        The tolerance of the entries compared by one-sided differences.
    one_sided : int
        How many entries straddled a kink and were compared by one-sided differences.
    left_out : int
        How many entries straddled kinks on both sides and could not be compared.
    excess : float
        The largest ratio of an entry's error to what passes (its tolerance, or round-off:
        :func:`~mlp.finite_differences.excess`); the tensor passes when it is at most 1.
    at_floor : int
        How many entries passed only as round-off: their true gradient is 0 or below the
        finite differences' noise floor (not counted in ``max_error``).
    by_extrapolation : int
        How many entries passed only against Ridders' extrapolation of their finite
        difference to step 0 (:func:`~mlp.extrapolation.beyond_extrapolation`): the
        difference at h was off by its truncation error. Their error in ``max_error`` is
        against R (which they may miss by more than ``tol``, within R's error estimate).
    unsteady : float
        How much two evaluations of f at one point differed (0 for a deterministic f); a
        nonzero value fails the tensor: no difference of such an f means anything.
    """

    name: str
    shape: tuple
    max_error: float
    where: tuple
    analytic: float
    numeric: float
    tol: float
    kink_tol: float
    one_sided: int = 0
    left_out: int = 0
    excess: float = 0.0
    at_floor: int = 0
    by_extrapolation: int = 0
    unsteady: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.excess <= 1.0)

    @property
    def kink(self) -> bool:
        """Whether some entries straddled a kink (compared one-sidedly or left out)."""
        return bool(self.one_sided or self.left_out)


@dataclass
class GradCheckReport:
    """The result of a gradient check: one :class:`TensorCheck` per tensor.

    ``report.ok`` tells whether every tensor passed (and nothing else went wrong, see
    ``problems``), ``report.max_error`` is the largest error, ``str(report)`` is a table and
    ``report["W"]`` looks one tensor up by name.
    """

    title: str
    checks: list[TensorCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Mistakes that are not (only) a wrong number, each as a sentence naming the layer.
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and not self.problems

    @property
    def max_error(self) -> float:
        return max((c.max_error for c in self.checks), default=0.0)

    def __getitem__(self, name) -> TensorCheck:
        for c in self.checks:
            if c.name == name:
                return c
        names = [c.name for c in self.checks]
        raise KeyError(f"no tensor named {name!r} in the report; have {names}")

    def __str__(self):
        header = ("tensor", "shape", "max rel. error", "at", "analytic", "numeric", "")
        rows = [header]
        for c in self.checks:
            status = "ok" if c.ok else "FAIL"
            why = [f"{c.one_sided + c.left_out} at a kink"] if c.kink else []
            if c.at_floor:
                why.append(f"{c.at_floor} within round-off")
            if c.by_extrapolation:
                why.append(f"{c.by_extrapolation} by extrapolation")
            if c.unsteady:
                why.append("f not deterministic")
            if why:
                status += f" ({'; '.join(why)})"
            rows.append((c.name, str(c.shape), f"{c.max_error:.2e}", str(c.where),
                         f"{c.analytic:+.6e}", f"{c.numeric:+.6e}", status))
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [self.title]
        if self.checks:
            lines.extend("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
                         for r in rows)
        lines.extend(self.notes)
        lines.extend(f"problem: {problem}" for problem in self.problems)
        verdict = "PASSED" if self.ok else "FAILED"
        lines.append(f"{verdict}: max relative error {self.max_error:.2e}")
        return "\n".join(lines)

    def __repr__(self):
        return f"GradCheckReport({self.title!r}, ok={self.ok}, max_error={self.max_error:.2e})"


def compare(name, analytic, estimate, tol, kink_tol):
    """A :class:`TensorCheck` of ``analytic`` against an :class:`~mlp.finite_differences.
    Estimate`; at a unit exactly on its kink the nearer one-sided estimate is taken.

    An entry passes by :func:`~mlp.finite_differences.excess`: within the relative tolerance,
    or within round-off of the estimate (modelled, then measured for a tensor that fails with
    the modelled one); an entry that fails both is judged once more against Ridders'
    extrapolation of its difference to step 0 (:func:`~mlp.extrapolation.
    beyond_extrapolation`, the tableau made for these entries only). Entries that pass only
    by round-off are counted (``at_floor``) and left out of ``max_error``: their relative
    error measures round-off. Entries that pass only by extrapolation are counted
    (``by_extrapolation``). A tensor of an f that is not deterministic fails whatever its
    numbers.
    """
    a = np.asarray(analytic, dtype=np.float64)
    limit = np.where(estimate.how == ONE_SIDED, kink_tol, tol)
    noise = estimate.noise
    other = excess(a, estimate.other_side, noise, limit)
    ratio = excess(a, estimate.numeric, noise, limit)
    if estimate.measure is not None and np.any(np.fmin(ratio, other) > 1.0):
        noise = estimate.measure()  # modelled round-off too small? measure it
        other = excess(a, estimate.other_side, noise, limit)
        ratio = excess(a, estimate.numeric, noise, limit)
    extrapolated = np.zeros(a.shape, bool)
    failing = np.fmin(ratio, other) > 1.0
    if estimate.extrapolate is not None and np.any(failing):
        value, error, rounding = estimate.extrapolate(failing, noise)
        within = beyond_extrapolation(a, value, error, rounding, limit)
        extrapolated = failing & (within <= 1.0)
        ratio = np.where(extrapolated, within, ratio)
        # what an entry passed against is what the row shows: R, not the far-off D(h)
        numeric = np.where(extrapolated, value, estimate.numeric)
    else:
        numeric = estimate.numeric
    nearer = other < ratio  # False where other_side is NaN
    numeric = np.where(nearer, estimate.other_side, numeric)
    ratio = np.where(nearer, other, ratio)
    err = np.array(relative_error(a, numeric))
    left_out = (estimate.how == LEFT_OUT) | (estimate.undecided & ~(ratio <= 1.0))
    at_floor = ~left_out & ~extrapolated & (ratio <= 1.0) & (err > limit)
    err[left_out | at_floor] = 0.0
    ratio[left_out] = 0.0
    shown = err if err.max(initial=0.0) > 0 else ratio  # the entry of max_error
    where = np.unravel_index(int(np.argmax(shown)), shown.shape) if shown.size else ()
    where = tuple(int(i) for i in where)
    worst = np.inf if estimate.unsteady else float(ratio.max(initial=0.0))
    return TensorCheck(
        name, a.shape, float(err.max(initial=0.0)), where,
        float(a[where]) if err.size else 0.0, float(numeric[where]) if err.size else 0.0,
        tol, kink_tol, one_sided=int(np.sum((estimate.how == ONE_SIDED) & ~left_out)),
        left_out=int(np.sum(left_out)), excess=worst, at_floor=int(np.sum(at_floor)),
        by_extrapolation=int(np.sum(extrapolated & ~left_out)), unsteady=estimate.unsteady)


def unusable(name, shape, tol, kink_tol):
    """The row of a tensor whose analytic gradient could not be compared at all."""
    return TensorCheck(name, tuple(shape), 1.0, (), np.nan, np.nan, tol, kink_tol,
                       excess=np.inf)


def _entries(n):
    return f"{n} entry" if n == 1 else f"{n} entries"


def kink_notes(report, watch, straddled, h):
    """Notes on the entries differenced one-sidedly, left out, or found at the noise floor."""
    for c in report.checks:
        if c.at_floor:
            report.notes.append(
                f"note: {_entries(c.at_floor)} of {c.name} agreed within the round-off of "
                f"finite differences at h = {h:g} but not to the relative tolerance: their "
                "true gradient is 0 or too small for differences to resolve (e.g. a bias "
                "before a batch normalisation), so the relative error measures round-off")
        if c.by_extrapolation:
            report.notes.append(
                f"note: {_entries(c.by_extrapolation)} of {c.name} agreed with the derivative "
                "extrapolated to step 0 by Ridders' method (Numerical Recipes §5.7), within "
                f"its error estimate, but not with the difference at h = {h:g}: f curves so "
                "sharply along them (e.g. a weight of an unscaled input) that the difference "
                "itself is that far off")
        if c.unsteady and not any(p.startswith("f is not deterministic") for p in
                                  report.problems):
            report.problems.append(not_deterministic(c.unsteady))
        if c.one_sided:
            report.notes.append(
                f"note: {_entries(c.one_sided)} of {c.name} put a unit on both sides of a kink "
                f"within ±h = {h:g}, where a central difference is wrong by O(1) (by O(h) "
                f"where only the curvature jumps); they were "
                f"compared with one-sided differences (tolerance {c.kink_tol:g})")
        if c.left_out:
            report.notes.append(
                f"note: {_entries(c.left_out)} of {c.name} left out: their probes cross "
                "kinks on both sides (no finite difference of this step stays on one piece), "
                "or move several units lying exactly on kinks, whose slopes there the "
                "analytic gradient may choose differently")
    if straddled:
        report.notes.append(f"note: kinks straddled in {', '.join(watch.names(straddled))}")


def loss_magnitude(terms, output):
    """|f| of a batch-mean loss for its noise floor: mean |ℓ_n| + Σ_k |output_nk|.

    A loss is computed from the output and subtracts terms of the output's size (m − u_y in
    a cross-entropy, softplus(u) − y·u, exp(u) − y·u), so its round-off follows the size of
    the output, not of its value: ℓ_n = 1e-12 of a confident softmax still carries the
    round-off of 1 + 1e-12 (see :mod:`mlp.finite_differences`).
    """
    terms, output = np.abs(terms), np.abs(output)
    return float((np.sum(terms) + np.sum(output)) / max(np.shape(output)[0], 1))


def central(numeric, noise=0.0):
    """An estimate made entirely of central differences (no kinks involved), with the
    round-off ``noise`` of each entry (see :func:`~mlp.finite_differences.noise_floor`)."""
    numeric = np.asarray(numeric, dtype=np.float64)
    return Estimate(numeric, np.full(numeric.shape, np.nan),
                    np.zeros(numeric.shape, np.int8), set(), np.zeros(numeric.shape, bool),
                    np.broadcast_to(np.asarray(noise, dtype=np.float64), numeric.shape))
