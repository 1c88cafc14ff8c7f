"""``python -m mlp``: the same as the ``mlp`` command."""

import sys

from .cli import main

sys.exit(main())
