"""The ``mlp`` command: train, predict, gradcheck, summary and exercise.

One module per subcommand, each with ``add_parser(commands)`` and ``run(args)``; the shared
input (``data``), model building (``network``) and the one-line error (``common``) beside them.

Every user error ends in one line on stderr and exit status 2; a failed gradient check exits
with 1; Ctrl-C during training stops it cleanly (the best model so far is kept and, with
``--save``, saved) and exits with 130.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..io import ModelFileError
from . import exercise, gradcheck, predict, summary, train
from .common import Parser, UsageError

__all__ = ["main", "build_parser", "UsageError"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="mlp", description="Multilayer perceptrons with hand-derived gradients.")
    parser.add_argument("--version", action="version", version=f"mlp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for command in (train, predict, gradcheck, summary, exercise):
        command.add_parser(commands)
    return parser


def main(argv=None) -> int:
    """Run the ``mlp`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:
        # the reader went away (`mlp predict ... | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (UsageError, ModelFileError, ValueError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        command = args.command + (f" {args.step}" if getattr(args, "step", None) else "")
        print(f"mlp {command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mlp {args.command}: interrupted", file=sys.stderr)
        return 130

