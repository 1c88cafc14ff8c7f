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
from ..io import load_checkpoint
from .common import UsageError, check_destination, check_source, path_arg, positive_int
from .steering import lr_schedule

#: The options that define a run, taken from the checkpoint by --resume.
RUN_OPTIONS = ("data", "target", "header", "drop", "id", "task", "scale", "test_fraction",
               "val_fraction", "seed", "hidden", "activation", "init", "dropout",
               "batch_norm", "optimizer", "lr", "batch_size", "weight_decay", "l2",
               "early_stopping", "lr_schedule", "clip_grad")
_DEFAULTS, _CHOICES = {}, {}


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _strings(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


# what a saved option may be; the code that uses it checks its range, as for the flag
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
        if not _KINDS[dest](value) or dest in _CHOICES and value not in _CHOICES[dest]:
            raise UsageError(f"--resume: {args.resume}: the saved option {dest} is invalid "
                             f"({shown_value(value)})")
        given = _plain(getattr(args, dest))
        if given != _plain(_DEFAULTS[dest]) and given != value:
            flag = "--" + dest.replace("_", "-")
            raise UsageError(f"--resume: {flag} {shown_value(given)} differs from the "
                             f"checkpoint's {shown_value(value)}; a resumed run keeps its "
                             f"options (leave {flag} out)")
        setattr(args, dest, value)
    if args.lr_schedule is not None:
        args.lr_schedule = _schedule_spec(args.lr_schedule)  # as the flag's parser gives it
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


def restore(checkpoint, trainer, digest, preparation, args):
    """Continue ``trainer`` from the --resume checkpoint, on the same data."""
    saved = {key: checkpoint.metadata.get(key) for key in preparation}
    if checkpoint.metadata.get("data_digest") != digest or saved != preparation:
        raise UsageError(f"--resume: the data of {args.data} are not those the checkpoint "
                         "was trained on (the file changed?)")
    checkpoint.restore(trainer)
    for callback in trainer.callbacks:
        if isinstance(callback, ProgressBar):  # the bar counts the epochs this run trains
            callback.epochs = args.epochs - checkpoint.epoch
    print(f"resuming {args.resume} after epoch {checkpoint.epoch} of {args.epochs}")
