"""What steers ``mlp train`` from the command line, as :mod:`mlp.callbacks`: the learning-rate
schedule (``--lr-schedule``), gradient clipping, the CSV log, early stopping and the kept
best weights, the progress bar and the per-epoch lines; and SIGTERM/SIGHUP, which stop
training as Ctrl-C does.

``--lr-schedule`` takes one small spec, its numbers after colons (all counted in epochs)::

    constant                      the rate of --lr throughout (the default)
    step:EVERY[:GAMMA]            × GAMMA (0.5) every EVERY epochs
    exponential[:GAMMA]           × GAMMA (0.95) every epoch
    cosine[:EPOCHS[:MIN_LR]]      half a cosine from --lr down to MIN_LR (0) over EPOCHS
                                  (default: --epochs)
    plateau[:PATIENCE[:FACTOR]]   × FACTOR (0.5) after PATIENCE (5) epochs in which the
                                  validation loss (training loss without validation) has not
                                  fallen by more than 1e-4
    warmup:EPOCHS[,SPEC]          rise linearly to --lr over EPOCHS, then SPEC (not plateau)
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys

from .._text import shown
from ..callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientClipping,
    LRScheduler,
    ProgressBar,
    ReduceLROnPlateau,
)
from ..schedules import CosineAnnealing, ExponentialDecay, LinearWarmup, StepDecay

__all__ = ["lr_schedule", "training_callbacks", "signals_interrupt", "SCHEDULE_HELP"]

SCHEDULE_HELP = ("constant, step:EVERY[:GAMMA], exponential[:GAMMA], cosine[:EPOCHS[:MIN_LR]], "
                 "plateau[:PATIENCE[:FACTOR]] or warmup:EPOCHS[,SPEC], counted in epochs "
                 "(e.g. cosine, step:30:0.5, warmup:5,cosine, plateau:10:0.5)")

# name: (the types of its numbers, how many are required)
_KINDS = {
    "constant": ((), 0),
    "step": ((int, float), 1),
    "exponential": ((float,), 0),
    "cosine": ((int, float), 0),
    "plateau": ((int, float), 0),
    "warmup": ((int,), 1),
}


def _one(text):
    """``name[:n[:n]]`` -> (name, numbers), or ArgumentTypeError saying what is wrong."""
    name, *fields = text.strip().split(":")
    if name not in _KINDS:
        raise argparse.ArgumentTypeError(f"unknown schedule {shown(name)}: expected "
                                         f"{SCHEDULE_HELP}")
    kinds, required = _KINDS[name]
    if not required <= len(fields) <= len(kinds):
        counts = f"{required} to {len(kinds)}" if required != len(kinds) else f"{required}"
        raise argparse.ArgumentTypeError(
            f"{shown(name)} takes {counts} number(s) after colons, got {shown(text)}")
    numbers = []
    for kind, field in zip(kinds, fields, strict=False):
        try:
            value = kind(field)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or value < 0 or \
                (kind is int and value < 1):
            expected = "a positive whole number" if kind is int else "a number ≥ 0"
            raise argparse.ArgumentTypeError(f"{name}: expected {expected}, got {shown(field)} in "
                                             f"{shown(text)}")
        numbers.append(value)
    factor = {"step": 1, "exponential": 0, "plateau": 1}.get(name)
    if factor is not None and len(numbers) > factor and not 0 < numbers[factor] < 1:
        raise argparse.ArgumentTypeError(f"{name}: the factor must lie in (0, 1), got "
                                         f"{numbers[factor]:g} in {shown(text)}")
    return name, numbers


def lr_schedule(text):
    """The ``--lr-schedule`` argument type: a list of (name, numbers), warm-up first."""
    first, comma, rest = text.partition(",")
    if comma and not rest.strip():
        raise argparse.ArgumentTypeError(f"nothing after the comma in {shown(text)}")
    spec = [_one(first)]
    if spec[0][0] == "warmup" and rest:
        spec.append(_one(rest))
        if spec[1][0] in ("warmup", "plateau"):
            raise argparse.ArgumentTypeError(
                f"warmup cannot be followed by {spec[1][0]} in {shown(text)}")
    elif rest:
        raise argparse.ArgumentTypeError(f"only warmup:EPOCHS may be followed by ',SPEC', got "
                                         f"{shown(text)}")
    return spec


def _schedule(name, numbers, optimizer, epochs):
    if name == "step":
        return StepDecay(optimizer, numbers[0], *numbers[1:] or [0.5])
    if name == "exponential":
        return ExponentialDecay(optimizer, *numbers or [0.95])
    if name == "cosine":
        T = numbers[0] if numbers else epochs
        eta_min = numbers[1] if len(numbers) > 1 else 0.0
        if eta_min > optimizer.lr:
            raise ValueError(f"--lr-schedule cosine: MIN_LR {eta_min:g} is above --lr "
                             f"{optimizer.lr:g}")
        return CosineAnnealing(optimizer, T, eta_min)
    return None  # constant


def _lr_callbacks(spec, optimizer, epochs, monitor):
    (name, numbers), *after = spec
    if name == "plateau":
        patience = numbers[0] if numbers else 5
        factor = numbers[1] if len(numbers) > 1 else 0.5
        # an improvement is a fall of more than 1e-4: round-off (rows summed in a new order
        # each epoch) is none
        return [ReduceLROnPlateau(monitor, factor=factor, patience=patience, min_delta=1e-4)]
    if name == "warmup":
        # the schedule after the warm-up has the epochs left (cosine's default length)
        then = _schedule(*after[0], optimizer, max(epochs - numbers[0], 1)) if after else None
        return [LRScheduler(LinearWarmup(optimizer, numbers[0], after=then))]
    schedule = _schedule(name, numbers, optimizer, epochs)
    return [] if schedule is None else [LRScheduler(schedule)]


class EpochReport(Callback):
    """Adds the training score to each epoch's logs (when asked for) and prints the
    ``--verbose`` line; later callbacks (the bar, the CSV log) see the score."""

    def __init__(self, args, score, train, metric, bar=None):
        self.args, self.score, self.train, self.metric, self.bar = args, score, train, metric, bar
        self.track = bool(args.plot or args.json or args.verbose or args.log_csv)

    def on_epoch_end(self, epoch, logs=None):
        if self.track:
            logs["train_score"] = self.score(self.model, *self.train)
        if self.args.verbose:
            line = f"epoch {epoch + 1}/{self.args.epochs}  loss {logs['loss']:.4f}"
            if "train_score" in logs:
                line += f"  train {self.metric} {logs['train_score']:.4f}"
            if "val_score" in logs:
                line += f"  val {self.metric} {logs['val_score']:.4f}"
            if self.bar is not None and self.bar.active:
                from tqdm.auto import tqdm

                tqdm.write(line, file=sys.stdout)
            else:
                print(line, flush=True)
        return False


def training_callbacks(args, optimizer, *, score, train, validation, metric):
    """The callbacks the flags ask for, in the order they must run after each epoch.

    Returns
    -------
    (callbacks, keeper)
        ``keeper`` is the :class:`EarlyStopping` that stops with ``--early-stopping`` and
        otherwise only keeps the best weights for an interruption.
    """
    monitor = "val_score" if validation else "loss"
    if args.early_stopping is not None:
        keeper = EarlyStopping(monitor, patience=args.early_stopping, min_delta=1e-4,
                               restore_best=True)
    else:
        keeper = EarlyStopping(monitor, patience=None, restore_best="on_interrupt")
    # a bar only on a terminal (not in logs and pipes), where tqdm, slow to import, is imported
    bar = None if args.quiet or not sys.stderr.isatty() else ProgressBar(
        epochs=args.epochs, file=sys.stderr, leave=False,
        keys=("loss", "train_score", "val_score"))
    callbacks = [EpochReport(args, score, train, metric, bar), keeper]
    if args.lr_schedule:
        callbacks += _lr_callbacks(args.lr_schedule, optimizer, args.epochs,
                                   "val_loss" if validation else "loss")
    if args.clip_grad:
        callbacks.append(GradientClipping(args.clip_grad))
    if args.log_csv:
        callbacks.append(CSVLogger(args.log_csv))
    if bar is not None:
        callbacks.append(bar)
    return callbacks, keeper


_STOPPING = {"SIGTERM": "terminated", "SIGHUP": "hung up"}


class SignalInterrupt(KeyboardInterrupt):
    """SIGTERM or SIGHUP during training: handled by the trainer as Ctrl-C is; ``signum``
    gives the exit status when it escapes (128 + signum)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class Signals:
    """The signals received during a run (their numbers, in order), and whether training is
    still going on: only then does the first one interrupt. Once the trainer has left its
    epochs (its ``on_train_end`` hooks restore the best weights and write checkpoints), a
    signal is only noted, as it is after training."""

    def __init__(self, trainer=None):
        self.received, self.training, self.trainer = [], True, trainer

    def __call__(self, signum, frame):
        self.received.append(signum)
        ending = getattr(self.trainer, "phase", None) == "end"
        if self.training and not ending and len(self.received) == 1:
            raise KeyboardInterrupt() if signum == signal.SIGINT else SignalInterrupt(signum)

    @property
    def first(self):
        return self.received[0] if self.received else None


@contextlib.contextmanager
def signals_interrupt(trainer=None):
    """Ctrl-C, SIGTERM and SIGHUP during a run: the first one during training stops it (the
    trainer ends the run cleanly and keeps the best weights); any later one, and any after
    ``trainer``'s epochs (while its callbacks end the run, and the results are scored and
    written), is only noted, so that the outputs are complete. Yields the :class:`Signals`;
    the caller sets ``training`` to False when training has stopped, and exits with 128 +
    the first signal's number."""
    signals = Signals(trainer)
    handled = [signal.SIGINT] + [getattr(signal, name) for name in _STOPPING
                                 if hasattr(signal, name)]
    previous = {}
    try:
        for sig in handled:
            previous[sig] = signal.signal(sig, signals)
    except ValueError:  # not the main thread: leave the signals alone
        pass
    try:
        yield signals
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def signal_words(signum):
    """("terminated", "SIGTERM") for a signal number that stopped training."""
    name = signal.Signals(signum).name
    return _STOPPING.get(name, "stopped"), name
