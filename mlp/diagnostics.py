"""Watching a network learn: per-layer statistics, recorded by a callback.

What the lectures teach one to look at, measured on the training loop's own passes:

- per layer with weights: the gradient norm ‖dW‖, the weight norm ‖W‖ and the update ratio
  ‖ΔW‖/‖W‖ of one step (about 1e-3 is healthy; far above, the steps overshoot; far below,
  the layer does not learn);
- per layer: the mean and standard deviation of its output;
- ReLU layers: the fraction of dead units, never active (q > 0) over a whole batch;
- sigmoid and tanh layers: the fraction of saturated inputs, |q| > 4, where
  σ′(q) < σ′(4) = 0.018 and the gradient through the unit nearly vanishes;
- the loss of the first step beside its value for small weights: ln C for softmax
  cross-entropy over C classes (every class gets probability 1/C).

:class:`Diagnostics` records these every ``every`` steps into ``history.diagnostics`` (one
plain dict per layer and step, ready for JSON); :func:`format_table` prints them and
:func:`advice` turns numbers that are far off into sentences.
"""

from __future__ import annotations

import math
from contextlib import ExitStack

import numpy as np

from ._checks import checked_number
from .activations import ReLU, Sigmoid, Tanh
from .callbacks import Callback
from .callbacks.base import global_norm
from .finite_differences import leaves, patched
from .losses import BCEWithLogitsLoss, NLLLoss, SoftmaxCrossEntropyLoss

__all__ = ["SATURATION", "Diagnostics", "advice", "expected_initial_loss", "format_table"]

#: |q| beyond which a sigmoid or tanh unit counts as saturated: σ′(4) = 0.0177.
SATURATION = 4.0


def expected_initial_loss(loss, n_outputs):
    """The loss of a network whose outputs are all near 0 (small weights), or None.

    Softmax cross-entropy (and NLL after a softmax) gives every one of the C classes
    probability 1/C, so L = −ln(1/C) = ln C; binary cross-entropy from logits gives
    σ(0) = ½ to every output, so ln 2. Other losses have no such value.
    """
    if isinstance(loss, (SoftmaxCrossEntropyLoss, NLLLoss)):
        return math.log(n_outputs)
    if isinstance(loss, BCEWithLogitsLoss):
        return math.log(2.0)
    return None


class Diagnostics(Callback):
    """Record per-layer statistics every ``every`` training steps.

    Parameters
    ----------
    every : int, default 10
        Record at steps 0, every, 2·every, ... (counting all steps of the trainer).

    Attributes
    ----------
    initial_loss : float or None
        The loss of the very first step (before any update).
    expected_loss : float or None
        Its value for small weights (:func:`expected_initial_loss`).

    Notes
    -----
    The rows go to ``trainer.history.diagnostics``; each has ``step``, ``epoch``, ``layer``
    (``"1: ReLU()"``), ``mean`` and ``std`` of the layer's output, and where they apply
    ``grad_norm``, ``weight_norm``, ``update_ratio`` (of the weights: the parameters weight
    decay applies to), ``dead`` and ``saturated`` (fractions); None elsewhere. Activations
    are read by wrapping each layer's ``forward`` for the duration of training, on the
    recorded steps only.
    """

    changes_at_epoch_end = False  # its state is the first step's

    def __init__(self, every=10):
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"Diagnostics: every must be a positive integer, got {every!r}")
        self.every = int(every)
        self.initial_loss = None
        self.expected_loss = None
        self._recording = False
        self._outputs = {}

    def __repr__(self):
        return f"Diagnostics(every={self.every})"

    @property
    def rows(self) -> list[dict]:
        """The rows recorded so far (``history.diagnostics``)."""
        return self.history.diagnostics

    def on_train_begin(self, logs=None):
        self._stack = ExitStack()
        self._layers = [(f"{name}: {layer!r}" if name else repr(layer), layer)
                        for name, layer in leaves(self.model)]
        for label, layer in self._layers:
            self._stack.enter_context(patched(layer, "forward", self._spy(label, layer)))

    def on_train_end(self, logs=None):
        self._stack.close()

    def _spy(self, label, layer):
        forward = layer.forward

        def spy(X):
            Y = forward(X)
            if self._recording:
                self._outputs[label] = (X, Y)
            return Y

        return spy

    def _weights(self, layer):
        return [p for p in layer.parameters() if p.decay]

    def on_batch_begin(self, batch, logs=None):
        if self.trainer.steps % self.every:
            return
        self._recording = True
        self._before = {label: [p.value.copy() for p in self._weights(layer)]
                        for label, layer in self._layers}

    def on_batch_end(self, batch, logs=None):
        if not self._recording:
            return
        self._recording = False
        step = self.trainer.steps - 1
        if step == 0 and self.initial_loss is None:
            self.initial_loss = float(logs["loss"])
            _, Y = self._outputs.get(self._layers[-1][0], (None, None))
            if Y is not None:
                self.expected_loss = expected_initial_loss(self.trainer.loss, Y.shape[1])
        for label, layer in self._layers:
            self.rows.append(self._row(step, label, layer))
        self._outputs = {}

    def _row(self, step, label, layer):
        row = {"step": step, "epoch": self.history.epochs, "layer": label, "mean": None,
               "std": None, "grad_norm": None, "weight_norm": None, "update_ratio": None,
               "dead": None, "saturated": None}
        X, Y = self._outputs.get(label, (None, None))
        if Y is not None:
            row["mean"], row["std"] = float(np.mean(Y)), float(np.std(Y))
            if isinstance(layer, ReLU):
                row["dead"] = float(np.mean(~np.any(np.asarray(X) > 0, axis=0)))
            elif isinstance(layer, (Sigmoid, Tanh)):
                row["saturated"] = float(np.mean(np.abs(X) > SATURATION))
        weights = self._weights(layer)
        if weights:
            W_norm = global_norm(p.value for p in weights)
            change = global_norm(p.value - old for p, old in zip(weights, self._before[label],
                                                           strict=True))
            row["grad_norm"] = global_norm(p.grad for p in weights)
            row["weight_norm"] = W_norm
            row["update_ratio"] = change / W_norm if W_norm > 0 else None
        return row

    def state_dict(self):
        return {"initial_loss": self.initial_loss, "expected_loss": self.expected_loss}

    def load_state_dict(self, state):
        for key in ("initial_loss", "expected_loss"):
            setattr(self, key, checked_number(state.get(key), f"Diagnostics: the saved {key}",
                                              finite=False, nan=True, optional=True))

    def table(self, step=None) -> str:
        """:func:`format_table` of the latest recorded step (or of ``step``)."""
        return format_table(self.rows, step)

    def advice(self) -> list[str]:
        """:func:`advice` on what was recorded."""
        return advice(self.rows, self.initial_loss, self.expected_loss)


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def format_table(rows, step=None) -> str:
    """The rows of one recorded step (the latest by default) as a text table."""
    if not rows:
        return "no diagnostics recorded"
    step = rows[-1]["step"] if step is None else step
    chosen = [r for r in rows if r["step"] == step]
    lines = [f"step {step} (epoch {chosen[0]['epoch']})" if chosen else f"step {step}: none"]
    header = ("layer", "‖dW‖", "‖W‖", "‖ΔW‖/‖W‖", "mean", "std", "dead", "saturated")
    table = [header] + [
        (r["layer"], _fmt(r["grad_norm"], ".2e"), _fmt(r["weight_norm"], ".2e"),
         _fmt(r["update_ratio"], ".1e"), _fmt(r["mean"], "+.3f"), _fmt(r["std"], ".3f"),
         _fmt(r["dead"], ".0%"), _fmt(r["saturated"], ".0%")) for r in chosen]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines.extend("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
                 for row in table)
    return "\n".join(lines)


def advice(rows, initial_loss=None, expected_loss=None) -> list[str]:
    """Plain-language warnings about numbers that are far off.

    - the initial loss more than twice its small-weight value (ln C);
    - more than half of a ReLU layer's units dead, or more than half of a sigmoid/tanh
      layer's inputs saturated, at the latest recorded step;
    - a layer's median update ratio above 1e-1 or below 1e-6.

    Returns
    -------
    list of str
        Empty when nothing is far off.
    """
    out = []
    if initial_loss is not None and expected_loss and initial_loss > 2 * expected_loss:
        out.append(f"the initial loss {initial_loss:.3g} is far above {expected_loss:.3g} "
                   "(= ln C), its value with small weights: the weights start too large, or "
                   "the inputs are not scaled")
    if not rows:
        return out
    last = rows[-1]["step"]
    for r in rows:
        if r["step"] != last:
            continue
        if r["dead"] is not None and r["dead"] > 0.5:
            out.append(f"{r['layer']}: {r['dead']:.0%} of the units are dead (never active "
                       "over a batch): lower the learning rate, use He initialisation or a "
                       "LeakyReLU")
        if r["saturated"] is not None and r["saturated"] > 0.5:
            out.append(f"{r['layer']}: {r['saturated']:.0%} of the inputs are saturated "
                       f"(|q| > {SATURATION:g}, where σ′ < 0.018), so little gradient passes: "
                       "scale the inputs or start from smaller weights")
    for label in dict.fromkeys(r["layer"] for r in rows):
        ratios = [r["update_ratio"] for r in rows
                  if r["layer"] == label and r["update_ratio"] is not None]
        if not ratios:
            continue
        ratio = float(np.median(ratios))
        if ratio > 1e-1:
            out.append(f"{label}: each step changes the weights by {ratio:.1e} of their norm "
                       "(above 1e-1): the learning rate is too high")
        elif ratio < 1e-6:
            out.append(f"{label}: each step changes the weights by only {ratio:.1e} of their "
                       "norm (below 1e-6): the learning rate is too low, or no gradient "
                       "reaches the layer")
    return out
