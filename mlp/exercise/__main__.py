"""The per-item grading process: ``python -m mlp.exercise DIR ITEM`` prints one JSON line."""

import json
import sys

from .grading import _grade_one, _limit_memory

_limit_memory()
ok, message = _grade_one(sys.argv[1], sys.argv[2])
print(json.dumps({"ok": bool(ok), "message": message}))
