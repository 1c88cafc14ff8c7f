"""The ``mlp`` command: train, predict, gradcheck, summary and exercise.

One module per subcommand, each with ``add_arguments(parser)`` and ``run(args)``; the shared
input (``data``), model building (``network``) and the one-line error (``common``) beside them.
A subcommand's module is imported only when that subcommand is used, so ``mlp --help`` and
``mlp --version`` load neither numpy nor the library.

Every error ends in one line on stderr and a non-zero exit: status 2 for a mistake in the
command line or its inputs (also out of memory and numerical overflow, with a hint), 1 for a
failed gradient check or an internal error (``--debug`` shows its traceback); Ctrl-C during
training stops it cleanly (the best model so far is kept and, with ``--save``, saved) and exits
with 130, and so do SIGTERM and SIGHUP during training (143 / 129); elsewhere they stop at
once, removing any half-written file, with the same statuses.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import warnings

from .. import __version__
from .._text import shown
from .common import Parser, UsageError

__all__ = ["main", "build_parser", "UsageError"]

#: Each subcommand and its line in ``mlp --help``; its arguments are in ``mlp.cli.<name>``.
COMMANDS = {
    "train": "train a network and report its scores",
    "predict": "predict with a saved model",
    "gradcheck": "check the gradients of the model 'train' would build",
    "summary": "describe a saved model",
    "exercise": "make, grade and verify a backpropagation exercise",
}


class _Subcommand(Parser):
    """A subcommand's parser: its module gives it its arguments the first time it is used."""

    def __init__(self, *args, module=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._module = module  # None: filled by whoever made it (a step of `exercise`)

    def fill(self) -> _Subcommand:
        if self._module is not None:
            module, self._module = self._module, None
            importlib.import_module(module).add_arguments(self)
        return self

    def parse_known_args(self, args=None, namespace=None):
        self.fill()
        return super().parse_known_args(args, namespace)

    def format_usage(self):
        self.fill()
        return super().format_usage()

    def format_help(self):
        self.fill()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    """The ``mlp`` parser; ``parser.commands`` maps each subcommand to its own parser.

    A subcommand's parser gets its arguments when it parses or formats its help, or when
    ``fill()`` is called on it.
    """
    parser = Parser(
        prog="mlp", description="Multilayer perceptrons with hand-derived gradients.")
    parser.add_argument("--version", action="version", version=f"mlp {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected error (also accepted after "
                             "the subcommand)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=_Subcommand)
    commands.required = True
    for name, line in COMMANDS.items():
        commands.add_parser(name, help=line, module=f"{__name__}.{name}")
    parser.commands = commands.choices
    return parser


class _Terminated(BaseException):
    """SIGTERM or SIGHUP: unwind (so half-written files are removed), then exit."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum, frame):
    raise _Terminated(signum)


@contextlib.contextmanager
def _signals_unwind():
    handled = [sig for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if sig]
    try:
        previous = {sig: signal.signal(sig, _terminate) for sig in handled}
    except ValueError:  # not the main thread: leave the signals alone
        previous = {}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _message(exc, command) -> tuple[str, int]:
    """The one line an exception becomes, and the exit status."""
    text = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, MemoryError):
        return ("out of memory: the model or the data is too large for this machine "
                "(try fewer or narrower --hidden layers, or a smaller --batch-size)"), 2
    if isinstance(exc, RecursionError):
        return f"input nested too deeply ({text})", 2
    from ..losses import DivergedError  # here: numpy is loaded by now, not at start-up

    if isinstance(exc, DivergedError) and command == "train":
        return ("training diverged: the network's output became non-finite before any epoch "
                "was kept; try a smaller --lr"), 2
    if isinstance(exc, (FloatingPointError, RuntimeWarning)):
        hint = "did training diverge? try a smaller --lr" if command == "train" else \
            "the numbers are too large for the model"
        return f"numerical overflow ({text}): {hint}", 2
    if isinstance(exc, OSError) and exc.strerror:
        # a name the system refused may be megabytes long (read from a checkpoint, say)
        where = f"{shown(exc.filename, limit=200, quote=False)}: " if exc.filename else ""
        return f"{where}{exc.strerror}", 2
    if isinstance(exc, (UsageError, ValueError, OSError)):  # a model file's error included
        return text, 2
    return (f"internal error: {type(exc).__name__}: {text} (run with --debug for the "
            "traceback)"), 1


def main(argv=None) -> int:
    """Run the ``mlp`` command; returns the exit status.

    SIGTERM and SIGHUP are handled from the first line on (one line, exit 128 + the signal),
    and a second Ctrl-C while the first is being reported still exits 130. (A signal while
    the ``mlp`` launcher itself imports this module comes before any handler here; ``python
    -m mlp`` handles it from its first line.)
    """
    try:
        with _signals_unwind():
            return _command(argv)
    except _Terminated as exc:
        print("mlp: terminated", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("mlp: interrupted", file=sys.stderr)
        return 130


def _command(argv):
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [arg for arg in argv if arg != "--debug"]
    try:
        parser = build_parser()
        args, unknown = parser.parse_known_args(argv)
    except KeyboardInterrupt:  # Ctrl-C while starting up: no traceback either
        print("mlp: interrupted", file=sys.stderr)
        return 130
    if unknown:  # point to the subcommand's help, where its flags are listed
        parser.commands[args.command].error("unrecognized arguments: "
                                                 f"{shown(' '.join(unknown), quote=False)}")
    command = args.command + (f" {args.step}" if getattr(args, "step", None) else "")
    import numpy as np  # not before: the parser and its --help need no numpy

    try:
        with warnings.catch_warnings(), \
                np.errstate(over="raise", divide="raise", invalid="raise"):
            # a numpy warning would print lines before the message: make it the message
            warnings.simplefilter("error", RuntimeWarning)
            return args.run(args)
    except BrokenPipeError:
        # the reader went away (`mlp predict ... | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt as exc:
        # a SIGTERM or SIGHUP turned into an interruption during training carries its number
        signum = getattr(exc, "signum", None)
        print(f"mlp {command}: {'terminated' if signum else 'interrupted'}", file=sys.stderr)
        return 128 + signum if signum else 130
    except _Terminated as exc:
        print(f"mlp {command}: terminated", file=sys.stderr)
        return 128 + exc.signum
    except Exception as exc:
        if debug:
            raise
        message, status = _message(exc, args.command)
        print(f"mlp {command}: error: {message}", file=sys.stderr)
        return status
