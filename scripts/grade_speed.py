"""How fast the exercise grader is: one 21-item submission, then a class.

    python scripts/grade_speed.py                  # one submission and a class of 100
    python scripts/grade_speed.py --class-size 20 --workers 2

Prints the time to start the grader (host packages, reference values, sandbox processes), to
grade one submission from a cold start, and to grade the class (half full solutions, half
untouched skeletons, so that both the passing and the failing paths are timed), with the CPU
time all processes spent: wall-clock times depend on the machine and on what else runs on it,
CPU seconds much less. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from mlp import exercise
from mlp.exercise.isolation import UnisolatedWarning


def cpu_seconds():
    """User + system time of this process and of every child it has waited for."""
    return sum(getattr(resource.getrusage(who), field)
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for field in ("ru_utime", "ru_stime"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--class-size", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--isolation", choices=["auto", "user", "none"], default="auto",
                        help="how items are isolated (none: to measure what isolation costs)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", UnisolatedWarning)  # asked for
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        exercise.make(root / "solution", solution=True)
        exercise.make(root / "skeleton")
        start, cpu = time.perf_counter(), cpu_seconds()
        one = exercise.grade(root / "solution", workers=args.workers,
                             isolation=args.isolation)
        single = time.perf_counter() - start
        score = sum(r["score"] for r in one)
        print(f"one submission, {len(one)} items ({score} points), cold start: {single:.2f} s "
              f"({cpu_seconds() - cpu:.2f} CPU s)")

        folders = []
        for i in range(args.class_size):
            folder = root / "class" / f"student{i:03d}"
            shutil.copytree(root / ("solution" if i % 2 else "skeleton"), folder)
            folders.append(folder)
        start, cpu = time.perf_counter(), cpu_seconds()
        with exercise.Grader(workers=args.workers, isolation=args.isolation) as grader:
            ready = time.perf_counter()
            results = grader.grade_many(folders)
            end = time.perf_counter()
        cpu = cpu_seconds() - cpu
        full = sum(sum(r["score"] for r in rs) == score for rs in results)
        print(f"class of {args.class_size} with {args.workers} workers: "
              f"{end - start:.1f} s in all, {ready - start:.2f} s to start, "
              f"{(end - ready) / args.class_size:.3f} s per submission; {cpu:.1f} CPU s in all, "
              f"{cpu / args.class_size:.3f} per submission; {full} full solutions scored full")
        print(f"load average now: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
