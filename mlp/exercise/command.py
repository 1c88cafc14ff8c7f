"""What ``mlp exercise make | grade | gradescope | verify`` do, given the parsed arguments.

The parser is in :mod:`mlp.cli.exercise`; bad input raises ValueError, which the command
turns into one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from ..io import write_atomic
from .isolation import UnisolatedWarning


def run_make(args) -> int:
    from .make import make

    manifest = make(args.outdir, only=args.only, include_forward=args.include_forward,
                    solution=args.solution, hidden=args.hidden)
    n_items, points = len(manifest["items"]), sum(item["points"] for item in manifest["items"])
    print(f"wrote {args.outdir}: {n_items} item{'s' * (n_items != 1)}, "
          f"{points} point{'s' * (points != 1)}")
    for item in manifest["items"]:
        print(f"  {item['name']} ({item['points']}) in {item['file']}")
    return 0


def _instructor_side(args):
    """The items and points come from the instructor's folder, never from a submission's."""
    if args.exercise is None:
        raise ValueError("--exercise HW is required: the instructor's copy of the folder "
                         "`make` wrote (or its exercise.json): it says which items count and "
                         "their points (a submission's own exercise.json is never read)")


def run_grade(args) -> int:
    import tempfile

    from .classroom import grade_students
    from .grading import exercise_items, grade
    from .reports import format_results, results_json
    from .submissions import collect_submissions, one_submission

    _instructor_side(args)
    exercise_items(args.exercise)  # a bad manifest fails now, not after the work
    options = {"exercise": args.exercise, "time_limit": args.time_limit,
               "workers": args.workers}
    if getattr(args, "no_isolation", False):
        options["isolation"] = "none"
        print("mlp exercise grade: warning: grading without isolation (--no-isolation): "
              "submitted code can read the reference and other submissions", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="mlp-class-") as workdir, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", UnisolatedWarning)  # said once, above
        if args.json:  # one submission (Gradescope's): its files wherever the student put them
            if len(args.submissions) != 1 or args.out is not None:
                raise ValueError("--json is for one submission; --out writes a class's results")
            results = grade(one_submission(args.submissions[0], workdir), **options)
            print(format_results(results))
            write_atomic(args.json, json.dumps(results_json(results), indent=2) + "\n")
            return 0
        students = collect_submissions(args.submissions, workdir)
        if len(students) == 1 and args.out is None:
            [folder] = students.values()
            print(format_results(grade(folder, **options)))
            return 0
        out = Path(args.out or "grades")
        graded = grade_students(students, out, **options)
    for student, results in graded.items():
        score = sum(r["score"] for r in results)
        total = sum(r["max_score"] for r in results)
        print(f"{student}: {score}/{total}")
    print(f"wrote {out / 'gradebook.csv'}, {out / 'results.json'} and "
          f"{len(graded)} files in {out / 'feedback'}")
    return 0


def run_gradescope(args) -> int:
    from .gradescope import make_bundle

    _instructor_side(args)
    make_bundle(args.out, exercise=args.exercise, time_limit=args.time_limit)
    print(f"wrote {args.out}: upload it as the assignment's autograder")
    return 0


def run_verify(args) -> int:
    from .grading import exercise_items
    from .verify import verify

    if args.source is not None and not Path(args.source).is_dir():
        raise ValueError(f"--source {args.source}: no such directory")
    items = None
    if args.folder is not None:
        items = [name for name, _ in exercise_items(args.folder, args.source)]
    return 0 if verify(args.source, items=items) else 1
