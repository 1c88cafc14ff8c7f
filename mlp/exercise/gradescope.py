"""The Gradescope autograder bundle: ``setup.sh``, ``run_autograder`` and the reference.

Gradescope unpacks the bundle into ``/autograder/source``, runs ``setup.sh`` once to build the
image, then ``run_autograder`` for every submission (uploaded to ``/autograder/submission``),
which must leave ``/autograder/results/results.json``. ``AUTOGRADER_ROOT`` moves that root,
so that the same script runs anywhere (a test, an instructor's laptop).
"""

from __future__ import annotations

import io
import json
import shlex
import zipfile
from pathlib import Path

from ..io import write_atomic
from .manifest import exercise_items, item_files, item_visibility, reference_dir
from .markers import find_regions

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, in /autograder/source: install the reference and its dependencies,
# then remove the reference's source, so that the only copy is the one the grader protects.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m pip install --no-cache-dir ./reference
rm -rf ./reference
"""

RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission. The reference and the items live in source/,
# which the submission cannot change; the verdict is written to results/results.json. The
# submitted files are found wherever the student put them (mlp/, loose, one folder down, a zip).
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
mkdir -p "$ROOT/results"
cd "$ROOT/source"
errors="$(mktemp)"
python3 -m mlp exercise grade "$ROOT/submission" --exercise "$ROOT/source/exercise.json" \\
    --time-limit {time_limit} --json "$ROOT/results/results.json" 2> "$errors"
status=$?
cat "$errors" >&2
if [ ! -s "$ROOT/results/results.json" ]; then
    # the reason goes where the student reads it: the visible top-level output
    python3 - "$ROOT/results/results.json" "$errors" <<'END'
import json, sys
reason = open(sys.argv[2], errors="replace").read().strip()[-1000:] or "no reason given"
with open(sys.argv[1], "w") as f:
    json.dump({{"score": 0, "max_score": {max_score}, "tests": [],
               "output": "The autograder could not grade this submission: " + reason}}, f)
END
fi
rm -f "$errors"
exit $status
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "mlp-backprop"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["numpy>=1.22", "scikit-learn>=1.6", "tqdm>=4.60"]

[tool.setuptools.packages.find]
include = ["mlp", "mlp.*"]
"""


def _add(archive, name, data, mode=0o644):
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def make_bundle(out_zip, *, exercise=None, source=None, time_limit=60.0) -> Path:
    """Write the autograder zip for the exercise (items and points from ``exercise``).

    Parameters
    ----------
    out_zip : path
        The zip to write (atomically).
    exercise : path, list of str or None
        The instructor's exercise folder or manifest (see :func:`exercise_items`).
    source : path, optional
        The reference package; default the installed ``mlp``.
    time_limit : float
        Seconds of CPU per item.
    """
    items = exercise_items(exercise, source)
    package = reference_dir(source)
    visibility = item_visibility(exercise)
    files = item_files(exercise, find_regions(package))  # as the students' skeleton has them
    manifest = {"format": "mlp-exercise", "version": 1,
                "items": [{"name": name, "points": points,
                           "visibility": visibility.get(name, "visible"),
                           "file": f"mlp/{files[name]}"}
                          for name, points in items]}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _add(archive, "setup.sh", SETUP, 0o755)
        _add(archive, "run_autograder", RUN.format(time_limit=shlex.quote(f"{time_limit:g}"),
                                               max_score=sum(p for _, p in items)),
             0o755)
        _add(archive, "exercise.json", json.dumps(manifest, indent=2) + "\n")
        _add(archive, "reference/pyproject.toml", PYPROJECT)
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                _add(archive, f"reference/mlp/{path.relative_to(package).as_posix()}",
                     path.read_bytes())
    return write_atomic(out_zip, buffer.getvalue())
