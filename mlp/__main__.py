"""``python -m mlp``: the same as the ``mlp`` command."""

import os
import signal
import sys


def _loading(signum, frame):  # a signal while the command is still loading: nothing to undo
    sys.stderr.write("mlp: terminated\n")
    os._exit(128 + signum)


for _name in ("SIGTERM", "SIGHUP"):
    if hasattr(signal, _name):
        signal.signal(getattr(signal, _name), _loading)

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the command is still loading
    sys.stderr.write("mlp: interrupted\n")
    sys.exit(130)

sys.exit(main())
