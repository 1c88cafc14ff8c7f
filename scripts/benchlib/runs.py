"""The machine a benchmark ran on, and several whole runs summarised by their medians."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def machine():
    """What the numbers came from: CPU, cores, load, library versions."""
    import numpy as np
    import sklearn
    from threadpoolctl import threadpool_info

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    blas = sorted({f"{i['internal_api']} {i['version']}" for i in threadpool_info()
                   if i["user_api"] == "blas"})
    load = os.getloadavg()[0]
    return {"cpu": cpu, "cores": cores, "load_before": load, "numpy": np.__version__,
            "sklearn": sklearn.__version__, "blas": blas,
            "description": f"{cores}-core {cpu}, numpy {np.__version__}, scikit-learn "
                           f"{sklearn.__version__}, {', '.join(blas)}, load average {load:.2f}"}


def _median_rows(runs, key, name):
    """The rows ``key`` of every run, by their ``name``: median value and the values."""
    values = {}
    for run in runs:
        for row in run[key]:
            values.setdefault(row[name], []).append(row["value"])
    return {label: (statistics.median(v), v) for label, v in values.items()}


class RunFailed(Exception):
    """A run of ``--runs N`` ended with an error (which it printed itself)."""


def run_several(args, script):
    """Run the benchmark ``args.runs`` times, each a fresh process; medians over the runs.

    A child writes its report where this process's report goes (standard error with
    ``--json -``); an interruption here kills the child running (``subprocess.run`` does).
    """
    child = [sys.executable, str(script), "--threads", str(args.threads), "--repeats",
             str(args.repeats)] + (["--quick"] if args.quick else []) \
        + (["--only", *args.only] if args.only else [])
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.runs):
            out = Path(folder) / f"run{i}.json"
            print(f"=== run {i + 1} of {args.runs}", flush=True)
            code = subprocess.run([*child, "--json", str(out)], check=False,
                                  stdout=sys.stderr if args.json == "-" else None).returncode
            if code != 0:
                raise RunFailed(f"run {i + 1} of {args.runs} failed (exit status {code}); "
                                "no results were written")
            runs.append(json.loads(out.read_text()))
    targets = _median_rows(runs, "targets", "target")
    references = _median_rows(runs, "reference", "ratio")
    goals = {t["target"]: (t["op"], t["goal"]) for run in runs for t in run["targets"]}
    print(f"\nmedians of {args.runs} runs, {args.threads} thread(s) "
          f"(load average {runs[0]['machine']['load_before']:.2f} at the start, "
          f"{runs[-1]['machine']['load_after']:.2f} at the end)")
    summary = {"runs": runs, "threads": args.threads, "machine": runs[0]["machine"],
               "targets": [], "reference": []}
    for label, (value, values) in targets.items():
        op, goal = goals[label]
        ok = value >= goal if op == ">=" else value <= goal
        summary["targets"].append({"target": label, "value": value, "values": values,
                                   "op": op, "goal": goal, "pass": ok})
        print(f"  {'PASS' if ok else 'FAIL'}  {label:<50} {value:7.3f}  "
              f"({', '.join(f'{v:.3f}' for v in values)})")
    for label, (value, values) in references.items():
        summary["reference"].append({"ratio": label, "value": value, "values": values})
        print(f"        {label:<50} {value:7.3f}  ({', '.join(f'{v:.3f}' for v in values)})")
    return summary
