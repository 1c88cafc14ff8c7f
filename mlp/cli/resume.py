"""``mlp train --checkpoint`` and ``--resume``: a run written down whole, and continued.

A checkpoint of ``mlp train`` is a full-state checkpoint (:mod:`mlp.io.checkpoint`) whose
metadata also holds what the command line needs to go on: the options that define the run
(data, split, scaling, seed, model, optimizer, batch size, ...), the preprocessing, the
labels, and a digest of the prepared data. ``--resume PATH`` takes those options from the
file (an option given again must agree with it), reads and splits the data as the first run
did, checks that they are the same data, and continues with the saved network, optimizer state,
random generators and history. ``--epochs`` counts every epoch of the run, those already done
included: a run of ``--epochs 10`` resumed after 4 trains 6 more. A schedule whose length
follows ``--epochs`` (``cosine`` without EPOCHS) is rebuilt from the --epochs of the resumed
run: it continues bit for bit when the first run had the same --epochs (and was stopped).
"""

from __future__ import annotations

import argparse
import hashlib

import numpy as np

from .._text import shown_value
from ..callbacks import ProgressBar
from ..io import layer_spec, load_checkpoint
from ..layers import Linear
from .common import UsageError, check_destination, check_source, path_arg, positive_int
from .network import activations, build_model
from .steering import lr_schedule

#: The options that define a run, taken from the checkpoint by --resume.
RUN_OPTIONS = ("data", "target", "header", "drop", "id", "task", "scale", "test_fraction",
               "val_fraction", "seed", "hidden", "activation", "init", "dropout",
               "batch_norm", "optimizer", "lr", "batch_size", "weight_decay", "l2",
               "early_stopping", "lr_schedule", "clip_grad")
_DEFAULTS, _CHOICES, _TYPES = {}, {}, {}


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _strings(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


# what a saved option may be (JSON types); its value then passes the flag's own check
_KINDS = {
    "data": lambda v: isinstance(v, str), "target": lambda v: v is None or isinstance(v, str),
    "header": lambda v: isinstance(v, bool), "drop": _strings,
    "id": lambda v: v is None or isinstance(v, str), "task": lambda v: isinstance(v, str),
    "scale": lambda v: isinstance(v, str), "test_fraction": _number, "val_fraction": _number,
    "seed": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "hidden": lambda v: isinstance(v, list) and all(_count(w) and w > 0 for w in v),
    "activation": _strings, "init": lambda v: isinstance(v, str), "dropout": _number,
    "batch_norm": lambda v: isinstance(v, bool), "optimizer": lambda v: isinstance(v, str),
    "lr": _number, "batch_size": _count, "weight_decay": _number, "l2": _number,
    "early_stopping": lambda v: v is None or (_count(v) and v > 0),
    "lr_schedule": lambda v: v is None or _schedule_spec(v) is not None,
    "clip_grad": lambda v: v is None or (_number(v) and v > 0),
}


def _schedule_spec(value):
    """A saved --lr-schedule checked by the flag's own parser; None when it is not one."""
    if not isinstance(value, list) or not all(
            isinstance(part, list) and len(part) == 2 and isinstance(part[0], str)
            and isinstance(part[1], list) and all(_number(n) for n in part[1])
            for part in value):
        return None
    text = ",".join(":".join([name, *map(str, numbers)]) for name, numbers in value)
    try:
        return lr_schedule(text)
    except argparse.ArgumentTypeError:
        return None


def add_checkpoint_options(parser, group):
    """--checkpoint, --checkpoint-every and --resume; call after every other option."""
    group.add_argument("--checkpoint", type=path_arg, metavar="CKPT.npz",
                       help="write a full-state checkpoint to resume from: the best epoch "
                            "so far (by validation score, or training loss without a "
                            "validation set), or with --checkpoint-every the latest")
    group.add_argument("--checkpoint-every", type=positive_int, metavar="K",
                       help="write the checkpoint every K epochs instead of at the best")
    group.add_argument("--resume", type=path_arg, metavar="CKPT.npz",
                       help="continue the run of a checkpoint, with its data, model and "
                            "training options; --epochs counts all epochs, those done included")
    _DEFAULTS.update({dest: parser.get_default(dest) for dest in RUN_OPTIONS})
    # argparse checks a flag's choices on the command line only: a saved option is checked here
    _CHOICES.update({action.dest: action.choices for action in parser._actions
                     if action.dest in RUN_OPTIONS and action.choices is not None})
    # and its type: a saved number is read as the flag reads the number typed after it
    _TYPES.update({action.dest: action.type for action in parser._actions
                   if action.dest in RUN_OPTIONS and action.type is not None
                   and action.dest != "lr_schedule"})  # saved parsed: _schedule_spec


def _as_the_flag_reads_it(dest, value):
    """A saved option through its flag's own type (``positive_float``, ``fraction``, ...):
    the value the flag gives for the same text; ArgumentTypeError when the flag refuses it."""
    convert = _TYPES.get(dest)
    if convert is None or value is None:
        return value
    items = [value] if not isinstance(value, list) else value
    try:
        converted = [convert(item if isinstance(item, str) else repr(item)) for item in items]
    except ValueError:  # an int of more digits than Python converts to text
        raise argparse.ArgumentTypeError("a number too large") from None
    return converted if isinstance(value, list) else converted[0]


def _check_network(args, checkpoint):
    """The saved model options (--hidden, --activation, --dropout, --batch-norm, --init)
    describe the checkpoint's network: built from them, it has the same layers."""
    model = checkpoint.model
    linears = [layer for layer in getattr(model, "layers", []) if isinstance(layer, Linear)]
    same = bool(linears) and args.hidden == [layer.n_out for layer in linears[:-1]]
    if same:  # the widths agree: building it costs what the checkpoint's network did
        built = build_model(args, linears[0].n_in, linears[-1].n_out, np.random.default_rng(0))
        same = layer_spec(built) == layer_spec(model)
    if not same:
        widths = [linears[0].n_in, *(layer.n_out for layer in linears)] if linears else []
        raise UsageError(
            f"--resume: {args.resume}: the saved model options (--hidden "
            f"{shown_value(args.hidden, 40)}, --activation {shown_value(args.activation, 40)}, "
            f"--dropout {args.dropout:g}, --batch-norm {args.batch_norm}) do not describe its "
            f"network ({' -> '.join(map(str, widths)) or repr(model)})")


def check_outputs(args):
    if args.checkpoint_every is not None and not args.checkpoint:
        raise UsageError("--checkpoint-every needs --checkpoint PATH")
    if args.checkpoint:
        check_destination(args.checkpoint, "--checkpoint")


def _plain(value):
    """An option's value as JSON keeps it: tuples become lists, inside lists too."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def take_options(args):
    """Load the --resume checkpoint (checking all of it) and set the run's options from it.

    Returns
    -------
    Checkpoint or None
    """
    if not args.resume:
        return None
    check_source(args.resume, "--resume")
    checkpoint = load_checkpoint(args.resume)
    saved = checkpoint.metadata.get("cli")
    if not isinstance(saved, dict) or set(saved) != set(RUN_OPTIONS):
        raise UsageError(f"--resume: {args.resume} was not written by 'mlp train --checkpoint'"
                         " (it lacks the run's options)")
    for dest in RUN_OPTIONS:
        value = saved[dest]
        try:
            if not _KINDS[dest](value) or dest in _CHOICES and value not in _CHOICES[dest]:
                raise argparse.ArgumentTypeError("")
            value = _as_the_flag_reads_it(dest, value)
        except argparse.ArgumentTypeError as exc:  # the flag's reason quotes the value
            why = str(exc) or shown_value(value)
            raise UsageError(f"--resume: {args.resume}: the saved option {dest} is invalid "
                             f"({why})") from None
        given = _plain(getattr(args, dest))
        if given != _plain(_DEFAULTS[dest]) and given != value:
            flag = "--" + dest.replace("_", "-")
            raise UsageError(f"--resume: {flag} {shown_value(given)} differs from the "
                             f"checkpoint's {shown_value(value)}; a resumed run keeps its "
                             f"options (leave {flag} out)")
        setattr(args, dest, value)
    if args.lr_schedule is not None:
        args.lr_schedule = _schedule_spec(args.lr_schedule)  # as the flag's parser gives it
    activations(args)  # names known, one for all or one per layer: the flag's own check
    _check_network(args, checkpoint)
    if args.epochs <= checkpoint.epoch:
        raise UsageError(f"--resume: the checkpoint has done {checkpoint.epoch} epochs and "
                         f"--epochs {args.epochs} counts all of them: nothing is left to train "
                         "(ask for more epochs)")
    return checkpoint


def data_digest(*arrays) -> str:
    """A SHA-256 of the prepared data, to recognise the same data on --resume."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is not None:
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


def run_metadata(args, digest, preparation) -> dict:
    """What a checkpoint of ``mlp train`` keeps besides the training state: the run's options,
    ``preparation`` (task, labels, feature names, preprocessing: what --save stores) and the
    digest of the prepared data."""
    return {"cli": {dest: _plain(getattr(args, dest)) for dest in RUN_OPTIONS},
            "data_digest": digest, **preparation}


def restore(checkpoint, trainer, digest, preparation, args, *, validated):
    """Continue ``trainer`` from the --resume checkpoint, on the same data (``validated``:
    whether the run has a validation set, scored after every epoch)."""
    saved = {key: checkpoint.metadata.get(key) for key in preparation}
    if checkpoint.metadata.get("data_digest") != digest or saved != preparation:
        raise UsageError(f"--resume: the data of {args.data} are not those the checkpoint "
                         "was trained on (the file changed?)")
    history = checkpoint.history
    scored = checkpoint.epoch if validated else 0
    if len(history.val_loss) != scored or len(history.val_score) != scored:
        raise UsageError(f"--resume: {args.resume}: the history has {len(history.val_loss)} "
                         f"validation losses and {len(history.val_score)} scores for "
                         f"{checkpoint.epoch} epochs of a run "
                         f"{'with' if validated else 'without'} a validation set")
    checkpoint.restore(trainer)
    for callback in trainer.callbacks:
        if isinstance(callback, ProgressBar):  # the bar counts the epochs this run trains
            callback.epochs = args.epochs - checkpoint.epoch
    print(f"resuming {args.resume} after epoch {checkpoint.epoch} of {args.epochs}")
