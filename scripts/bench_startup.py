"""Start-up time of ``import mlp`` and of the ``mlp`` command, as whole processes.

    python scripts/bench_startup.py [--repeats 5] [--json out.json] [--check]

Each command runs ``--repeats`` times as a fresh process, the commands taking turns (the order
rotating from round to round, so that a slow minute of a shared machine hits all of them);
the report is the median with min-max, beside ``python -c pass`` (the interpreter alone) and
the load average, which say how busy the machine was. Targets: ``mlp --help`` <= 0.25 s,
``mlp train --data iris`` <= 1.2 s, and ``import mlp`` loading neither scikit-learn's model
selection nor pandas (what it loads is asserted in ``tests/test_startup.py``; timing is not).
``--check`` exits with status 1 when a target is missed. ``workload_startup`` and
``startup_targets`` are the same rows for a benchmark that gathers several.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _mlp_command():
    """The installed ``mlp`` script beside this Python, else ``python -m mlp``."""
    script = Path(sys.executable).with_name("mlp")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlp"]


def commands():
    """The timed commands: label -> argv."""
    mlp = _mlp_command()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import mlp": [sys.executable, "-c", "import mlp"],
        "mlp --help": [*mlp, "--help"],
        "mlp train --data iris": [*mlp, "train", "--data", "iris"],
    }


def _run(argv):
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()[-300:]}")
    return elapsed


def _loaded_by_import():
    """The modules among scikit-learn's model selection and pandas that ``import mlp`` loads."""
    code = ("import sys, mlp\nprint(' '.join(m for m in ('sklearn.model_selection', 'pandas')"
            " if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, check=True)
    return result.stdout.split()


def workload_startup(repeats=5):
    """Seconds of each command (median, min, max, times), the load average, what import loads."""
    argvs = commands()
    for argv in argvs.values():  # a first run fills the file cache and writes the .pyc files
        _run(argv)
    names = list(argvs)
    times = {name: [] for name in names}
    load_before = os.getloadavg()[0]
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(_run(argvs[name]))
    results = {name: {"median": statistics.median(t), "min": min(t), "max": max(t), "times": t}
               for name, t in times.items()}
    results["load average"] = [load_before, os.getloadavg()[0]]
    results["import mlp loads"] = _loaded_by_import()
    return results


def startup_targets(results):
    """``(label, value, comparison, goal)`` rows; the module check is 1 when met, else 0."""
    return [
        ("S1 mlp --help <= 0.25 s (median)", results["mlp --help"]["median"], "<=", 0.25),
        ("S2 mlp train --data iris <= 1.2 s (median)",
         results["mlp train --data iris"]["median"], "<=", 1.2),
        ("S3 import mlp loads no model selection, no pandas",
         float(not results["import mlp loads"]), ">=", 1.0),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    results = workload_startup(args.repeats)
    before, after = results["load average"]
    print(f"start-up: {args.repeats} runs of each command, seconds (median, min-max); "
          f"load average {before:.2f} before, {after:.2f} after, {os.cpu_count()} CPUs")
    for name in commands():
        t = results[name]
        print(f"  {name:<24} {t['median']:7.3f}  ({t['min']:.3f}-{t['max']:.3f})")
    print(f"  import mlp loads: {', '.join(results['import mlp loads']) or 'neither'} "
          "(of sklearn.model_selection, pandas)")
    missed = 0
    results["targets"] = []
    for label, value, op, goal in startup_targets(results):
        ok = value >= goal if op == ">=" else value <= goal
        missed += not ok
        results["targets"].append({"target": label, "value": value, "pass": bool(ok)})
        print(f"  {'PASS' if ok else 'FAIL'}  {label:<50} {value:7.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
