"""``python -m mlp``: the same as the ``mlp`` command."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the command is still loading
    sys.stderr.write("mlp: interrupted\n")
    sys.exit(130)

sys.exit(main())
