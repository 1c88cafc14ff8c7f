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
reference over the runs. ``--json -`` prints the JSON on standard output, alone, and the text
report on standard error.

The workloads are the modules of ``scripts/benchlib/workloads/`` (their docstrings say what
each times): §1 BLAS threads (break-even, busy vs idle), workloads 1-8 (training speed,
latency, memory, accuracy, MNIST-1D, CSV reading), §4 the optimizer step split across threads,
and whatever else registers itself there.

A mistake in the arguments (a count below 1, an ``--only`` word that names no workload, a
``--json`` file that cannot be written) is one line on standard error and exit status 2,
before any work. SIGTERM, SIGHUP and Ctrl-C stop the run with one line (status 128 + the
signal), ending every process the benchmark started and writing no file.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # benchlib beside this script
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib.candidates import (  # noqa: E402,F401  (the names the tests use)
    TORCH_PROBLEM,
    NumpyLoop,
    build_ours,
    mnist1d_installed,
    torch,
)
from benchlib.registry import Context, discover  # noqa: E402
from benchlib.runs import RunFailed, machine, run_several  # noqa: E402
from benchlib.timing import paired_ratio, ratio, round_robin  # noqa: E402,F401
from threadpoolctl import threadpool_limits  # noqa: E402

from mlp.cli.common import (  # noqa: E402
    Parser,
    UsageError,
    check_destination,
    path_arg,
    positive_int,
)


def parse(argv):
    parser = Parser(prog="bench.py", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=positive_int, default=1, help="BLAS / torch threads")
    parser.add_argument("--repeats", type=positive_int, default=5,
                        help="timed rounds of each workload (one with --quick)")
    parser.add_argument("--runs", type=positive_int, default=1,
                        help="whole runs, each a fresh process; medians over them")
    parser.add_argument("--quick", action="store_true", help="small data, one repeat: a smoke run")
    parser.add_argument("--json", metavar="FILE", type=path_arg,
                        help="write the results as JSON ('-': on standard output, the report "
                             "then going to standard error)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--only", nargs="+", metavar="KEY",
                        help="run only the workloads whose key contains one of these words")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected error")
    return parser.parse_args(argv)


def context_of(args):
    return Context(threads=args.threads, quick=args.quick,
                   repeats=1 if args.quick else args.repeats, torch=torch)


def select(args, context):
    """The workloads to run, and the lines saying which were left out and why.

    Raises UsageError when an ``--only`` word names no workload, or only workloads that
    cannot run here or with these settings: the run would report nothing it was asked for.
    """
    registered = discover()
    for word in args.only or ():
        if not any(word in w.key for w in registered):
            raise UsageError(f"--only: {word!r} is in no workload's key; the keys are "
                             + "; ".join(w.key for w in registered))
    chosen = [w for w in registered if not args.only or any(word in w.key for word in args.only)]
    # asked only of the workloads chosen: finding out may import an optional package
    unavailable = {w.key: w.unavailable() for w in chosen}
    skipped = {w.key: unavailable[w.key] or (
        None if w.when(context) else "it does not run with these settings (--quick, --threads)")
        for w in chosen}
    for word in args.only or ():
        matched = [w.key for w in chosen if word in w.key]
        if all(skipped[key] for key in matched):
            raise UsageError(f"--only {word!r}: " + "; ".join(
                f"{key} cannot run: {skipped[key]}" for key in matched))
    notes = [f"{w.key}: skipped, {unavailable[w.key]}" for w in chosen if unavailable[w.key]]
    return [w for w in chosen if not skipped[w.key]], notes


def run_once(args):
    """Run every registered workload once; print the report; return the results."""
    context = context_of(args)
    workloads, notes = select(args, context)
    if torch is not None:
        torch.set_num_threads(args.threads)
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
          + ("" if torch is not None else f" (PyTorch skipped: {TORCH_PROBLEM})"))
    targets, references = [], []
    for workload in workloads:
        result = results[workload.key]
        for line in workload.report(result):
            print(line)
        targets += workload.targets(result)
        references += workload.references(result)
    for line in notes:
        print(line)

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


class Terminated(BaseException):
    """SIGTERM or SIGHUP: unwound like Ctrl-C, so that every ``finally`` (the busy loop's
    kill, a temporary folder's removal, a child run's kill) runs before the exit."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum, frame):
    raise Terminated(signum)


@contextlib.contextmanager
def signals_unwind():
    handled = [signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]
    previous = {sig: signal.signal(sig, _terminate) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _benchmark(args) -> int:
    if args.json is not None:
        check_destination(args.json, "--json", stdout=True)
    select(args, context_of(args))  # the arguments' mistakes before any work
    # with '-' the JSON alone is standard output, so that it can be parsed
    report = contextlib.redirect_stdout(sys.stderr) if args.json == "-" else \
        contextlib.nullcontext()
    with report:
        results = run_several(args, __file__) if args.runs > 1 else run_once(args)
    if args.json is not None:
        from mlp.io import write_atomic

        write_atomic(args.json, json.dumps(results, indent=2) + "\n")
    missed = any(not t["pass"] for t in results["targets"])
    return 1 if (args.check and missed) else 0


def main(argv=None) -> int:
    """Run the benchmark; the exit status (2 for a mistake in the arguments, 1 for a missed
    target with ``--check`` or an unexpected error, 128 + the signal when stopped)."""
    try:
        with signals_unwind():
            try:
                args = parse(argv)
            except SystemExit as exc:  # --help, or a usage error already printed
                return exc.code
            try:
                return _benchmark(args)
            except (UsageError, RunFailed) as exc:
                print(f"bench.py: error: {exc}", file=sys.stderr)
                return 2 if isinstance(exc, UsageError) else 1
            except Exception as exc:
                if args.debug:
                    raise
                first = (str(exc).strip().splitlines() or [""])[0][:300]
                print(f"bench.py: error: {type(exc).__name__}: {first} (run with --debug for "
                      "the traceback)", file=sys.stderr)
                return 1
    except Terminated as exc:
        print("bench.py: terminated", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("bench.py: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
