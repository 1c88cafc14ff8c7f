"""Workload 9: start-up, as whole processes: ``import mlp``, ``mlp --help`` and
``mlp train --data iris``, beside ``python -c pass`` (the interpreter alone, which says how busy
the machine is). Targets: ``mlp --help`` <= 0.25 s and ``mlp train --data iris`` <= 1.2 s
(medians), and ``import mlp`` loading neither scikit-learn's model selection nor pandas
(which ``tests/test_startup.py`` asserts; no time is asserted there).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..registry import Target, Workload, register
from ..timing import round_robin


def commands():
    """The timed commands: label -> argv. ``mlp`` is the script installed beside Python."""
    script = Path(sys.executable).with_name("mlp")
    mlp = [str(script)] if script.exists() else [sys.executable, "-m", "mlp"]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import mlp": [sys.executable, "-c", "import mlp"],
        "mlp --help": [*mlp, "--help"],
        "mlp train --data iris": [*mlp, "train", "--data", "iris"],
    }


class Process:
    """Each ``epoch`` runs the command once as a new process."""

    def __init__(self, argv):
        self.argv = argv

    def epoch(self):
        result = subprocess.run(self.argv, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(self.argv)} failed: {result.stderr.strip()[-300:]}")


def loaded_by_import():
    """Which of scikit-learn's model selection and pandas ``import mlp`` loads."""
    code = ("import sys, mlp\nprint(' '.join(m for m in ('sklearn.model_selection', 'pandas')"
            " if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, check=True)
    return result.stdout.split()


def workload_startup(repeats, warmup=True):
    """Seconds of each command (median, min-max, times), and what ``import mlp`` loads."""
    candidates = {name: Process(argv) for name, argv in commands().items()}
    # the warm-up run fills the file cache and writes the .pyc files
    result = round_robin(candidates, repeats, warmup=warmup)
    result["import mlp loads"] = loaded_by_import()
    return result


def targets(result):
    return [
        Target("S1 mlp --help <= 0.25 s (median)", result["mlp --help"]["median"], "<=", 0.25),
        Target("S2 mlp train --data iris <= 1.2 s (median)",
               result["mlp train --data iris"]["median"], "<=", 1.2),
        Target("S3 import mlp loads no model selection, no pandas (1 = met)",
               float(not result["import mlp loads"]), ">=", 1.0),
    ]


def report(result):
    lines = ["\nworkload 9 (start-up): seconds per whole process (median, min-max)"]
    for name in commands():
        t = result[name]
        lines.append(f"  {name:<22} {t['median']:7.3f}  ({t['min']:.3f}-{t['max']:.3f})")
    loads = ", ".join(result["import mlp loads"]) or "neither"
    return [*lines, f"  import mlp loads {loads} (of sklearn.model_selection, pandas)"]


register(Workload(
    key="workload 9 (start-up)", order=90, limited=False,
    run=lambda c: workload_startup(1 if c.quick else c.repeats, warmup=not c.quick),
    targets=targets, report=report))
