"""Benchmark mlp against scikit-learn's MLP and PyTorch, as ratios measured in one run.

    python scripts/bench.py [--threads 1] [--repeats 5] [--runs 3] [--json out.json]
                            [--quick] [--check] [--only KEY ...]

Every candidate is timed round-robin within one process (the order rotating from round to
round), so the machine's mood affects all of them alike; the report is medians with min-max,
and ratios (ours / theirs). A ratio is the median over the rounds of the ratio within each
round: the candidates of one round run back to back, so a slow minute of the shared machine
slows both sides of that round's ratio, where it would move one median and not the other.
(The ratio of the medians is in the JSON beside it.) PyTorch is included when it can be
imported. ``--check`` exits with status 1 when a target is missed. ``--runs 3`` runs the whole
benchmark three times, each in a fresh process, and prints the median of every target and
reference over the runs.

The workloads are the modules of ``scripts/benchlib/workloads/`` (their docstrings say what
each times): §1 BLAS threads (break-even, busy vs idle), workloads 1-8 (training speed,
latency, memory, accuracy, MNIST-1D, CSV reading), §4 the optimizer step split across threads,
and whatever else registers itself there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # benchlib beside this script
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib.candidates import (  # noqa: E402,F401  (the names the tests use)
    NumpyLoop,
    build_ours,
    mnist1d_installed,
    torch,
)
from benchlib.registry import Context, discover  # noqa: E402
from benchlib.runs import machine, run_several  # noqa: E402
from benchlib.timing import paired_ratio, ratio, round_robin  # noqa: E402,F401
from threadpoolctl import threadpool_limits  # noqa: E402


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS / torch threads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=1,
                        help="whole runs, each a fresh process; medians over them")
    parser.add_argument("--quick", action="store_true", help="small data, one repeat: a smoke run")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--only", nargs="+", metavar="KEY",
                        help="run only the workloads whose key contains one of these words")
    return parser.parse_args(argv)


def run_once(args):
    """Run every registered workload once; print the report; return the results."""
    context = Context(threads=args.threads, quick=args.quick,
                      repeats=1 if args.quick else args.repeats, torch=torch)
    if torch is not None:
        torch.set_num_threads(args.threads)
    workloads = [w for w in discover() if w.when(context)
                 and (not args.only or any(word in w.key for word in args.only))]
    results = {"threads": args.threads, "quick": args.quick, "n_samples": context.n_samples,
               "torch": None if torch is None else torch.__version__,
               "machine": machine(), "workloads": [w.key for w in workloads]}
    for workload in workloads:
        if workload.limited:
            with threadpool_limits(args.threads):
                results[workload.key] = workload.run(context)
        else:
            results[workload.key] = workload.run(context)
    results["machine"]["load_after"] = os.getloadavg()[0]

    print(f"mlp benchmark: {args.threads} thread(s), {context.repeats} repeat(s), "
          f"n = {context.n_samples}; {results['machine']['description']}"
          + ("" if torch is not None else " (PyTorch not installed: skipped)"))
    targets, references = [], []
    for workload in workloads:
        result = results[workload.key]
        for line in workload.report(result):
            print(line)
        targets += workload.targets(result)
        references += workload.references(result)
    if not mnist1d_installed():
        print("workload 7 (mnist1d): skipped, the optional package mnist1d is not installed")

    print("\ntargets (timings: median of the per-round ratios; ratio of the medians after it)")
    results["targets"] = []
    for target in targets:
        entry = {"target": target.label, "value": target.value, "op": target.op,
                 "goal": target.goal, "pass": target.passed}
        line = f"  {'PASS' if target.passed else 'FAIL'}  {target.label:<50} {target.value:7.3f}"
        if target.of_medians is not None:
            entry["ratio_of_medians"] = target.of_medians
            line += f"  ({target.of_medians:.3f})"
        results["targets"].append(entry)
        print(line)
    print("\nfor reference (not targets)")
    results["reference"] = []
    for label, value in references:
        results["reference"].append({"ratio": label, "value": value})
        print(f"        {label:<50} {value:7.3f}")
    return results


def main(argv=None) -> int:
    args = parse(argv)
    if args.runs > 1:
        results = run_several(args, __file__)
    else:
        results = run_once(args)
    if args.json:
        from mlp.io import write_atomic

        write_atomic(args.json, json.dumps(results, indent=2) + "\n")
    missed = any(not t["pass"] for t in results["targets"])
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
