"""``mlp exercise make | grade | verify``: the command-line face of :mod:`mlp.exercise`."""

from __future__ import annotations

import json

from ..io import write_atomic
from .common import check_destination, positive_float


def add_parser(commands):
    exercise = commands.add_parser(
        "exercise", help="make, grade and verify a backpropagation exercise",
        description="Turn the library into a course exercise: the student skeleton, the "
                    "grader and a check of the grading itself.")
    steps = exercise.add_subparsers(dest="step", metavar="STEP")
    steps.required = True
    make = steps.add_parser("make", help="write the student package",
                            description="Write a student copy of the library in which every "
                                        "marked derivation raises NotImplementedError.")
    make.add_argument("outdir", metavar="OUTDIR")
    make.add_argument("--only", nargs="+", metavar="NAME",
                      help="items (Linear.backward) or classes (Adam) to leave to the student")
    make.add_argument("--include-forward", action="store_true",
                      help="also remove the marked forward passes")
    make.add_argument("--solution", action="store_true",
                      help="remove nothing: the full solution without markers")
    make.set_defaults(run=run_make)
    grade = steps.add_parser("grade", help="grade a student folder",
                             description="Grade each item of a student folder in its own "
                                         "process, with a time limit.")
    grade.add_argument("directory", metavar="DIR")
    grade.add_argument("--json", metavar="RESULTS.json", help="write autograder results")
    grade.add_argument("--time-limit", type=positive_float, default=60.0, metavar="SECONDS",
                       help="per item (default: 60)")
    grade.set_defaults(run=run_grade)
    verify = steps.add_parser("verify", help="check the exercise itself",
                              description="Check that the full solution scores 100%% and "
                                          "that each stub fails exactly its own item.")
    verify.add_argument("--source", metavar="DIR",
                        help="the package to verify (default: the installed mlp)")
    verify.set_defaults(run=run_verify)


def run_make(args) -> int:
    from ..exercise import make

    manifest = make(args.outdir, only=args.only, include_forward=args.include_forward,
                    solution=args.solution)
    points = sum(item["points"] for item in manifest["items"])
    print(f"wrote {args.outdir}: {len(manifest['items'])} items, {points} points")
    for item in manifest["items"]:
        print(f"  {item['name']} ({item['points']})")
    return 0


def run_grade(args) -> int:
    from ..exercise import format_results, grade, results_json

    if args.json:
        check_destination(args.json, "--json")
    results = grade(args.directory, time_limit=args.time_limit)
    print(format_results(results))
    if args.json:
        write_atomic(args.json, json.dumps(results_json(results), indent=2) + "\n")
    return 0


def run_verify(args) -> int:
    from ..exercise import verify

    return 0 if verify(args.source) else 1
