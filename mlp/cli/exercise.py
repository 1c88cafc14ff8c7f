"""``mlp exercise make | grade | gradescope | verify``: the command-line face of
:mod:`mlp.exercise`.

What each step does is in :mod:`mlp.exercise.command`; here are the arguments, and the checks
of output paths made before any long work.
"""

from __future__ import annotations

from pathlib import Path

from ..exercise import command
from .common import (
    check_destination,
    check_distinct,
    check_source,
    path_arg,
    positive_float,
    positive_int,
)


def add_arguments(exercise):
    """Give the ``exercise`` subcommand its steps and their arguments."""
    exercise.description = ("Turn the library into a course exercise: the student skeleton, "
                            "the grader and a check of the grading itself.")
    steps = exercise.add_subparsers(dest="step", metavar="STEP")
    steps.required = True
    make = steps.add_parser("make", help="write the student package",
                            description="Write a student copy of the library in which every "
                                        "marked derivation raises NotImplementedError.")
    make.add_argument("outdir", type=path_arg, metavar="OUTDIR")
    make.add_argument("--only", nargs="+", metavar="NAME",
                      help="items (Linear.backward) or classes (Adam) to leave to the student")
    make.add_argument("--include-forward", action="store_true",
                      help="also remove the marked forward passes")
    make.add_argument("--solution", action="store_true",
                      help="remove nothing: the full solution without markers")
    make.add_argument("--hidden", nargs="+", metavar="ITEM",
                      help="items checked only at grading: not in the student's own tests, "
                           "shown on Gradescope after the grades are published")
    make.set_defaults(run=run_make)

    grade = steps.add_parser(
        "grade", help="grade submissions",
        description="Grade each item of each submission in a sandboxed process with limits. "
                    "A SUBMISSION is a student folder, a zip file, or a folder of them.")
    grade.add_argument("submissions", nargs="+", type=path_arg, metavar="SUBMISSION")
    _exercise_options(grade)
    grade.add_argument("--out", type=path_arg, metavar="DIR",
                       help="write gradebook.csv, feedback/<student>.txt and results.json here "
                            "(default with several submissions: ./grades)")
    grade.add_argument("--json", type=path_arg, metavar="RESULTS.json",
                       help="one submission: write Gradescope's results.json")
    grade.add_argument("--workers", type=positive_int, default=None, metavar="N",
                       help="items graded in parallel (default: the number of CPUs)")
    grade.add_argument("--no-isolation", action="store_true",
                       help="where the kernel refuses namespaces: grade with resource limits "
                            "and an audit hook only, which submitted code can disable to read "
                            "the reference and other submissions (unsafe)")
    grade.set_defaults(run=run_grade)

    bundle = steps.add_parser(
        "gradescope", help="write the Gradescope autograder bundle",
        description="Write the zip to upload as a Gradescope autograder: setup.sh, "
                    "run_autograder, the items and the reference.")
    bundle.add_argument("out", type=path_arg, metavar="OUT.zip")
    _exercise_options(bundle)
    bundle.set_defaults(run=run_gradescope)

    verify = steps.add_parser(
        "verify", help="check the exercise itself",
        description="Check that the full solution scores 100 percent and that each stub "
                    "fails exactly its own item. With an exercise folder, check that "
                    "exercise's items only.")
    verify.add_argument("folder", nargs="?", type=path_arg, metavar="EXERCISE",
                        help="an exercise folder made by `make` (default: the items `make` "
                             "stubs by default)")
    verify.add_argument("--source", type=path_arg, metavar="DIR",
                        help="the package to verify (default: the installed mlp)")
    verify.set_defaults(run=run_verify)


def _exercise_options(parser):
    parser.add_argument("--exercise", type=path_arg, metavar="HW",
                        help="required: the instructor's copy of the folder `make` wrote "
                             "(or its exercise.json), which says the items and points")
    parser.add_argument("--time-limit", type=positive_float, default=60.0, metavar="SECONDS",
                        help="CPU seconds per item (default: 60)")


def _check_exercise(args):
    if args.exercise is not None:
        check_source(args.exercise, "--exercise", folder=True)


def run_verify(args) -> int:
    for flag, path in (("EXERCISE", args.folder), ("--source", args.source)):
        if path is not None:
            check_source(path, flag, folder=True)
    return command.run_verify(args)


def run_make(args) -> int:
    check_destination(args.outdir, "OUTDIR", folder=True)
    return command.run_make(args)


def run_grade(args) -> int:
    _check_exercise(args)
    for path in args.submissions:
        check_source(path, "SUBMISSION", folder=True)
    if args.json:
        check_destination(args.json, "--json", stdout=True)
    outputs = [("--json", args.json)]
    # the class's folder: --out, or ./grades when several submissions are named (a single
    # SUBMISSION that turns out to be a class folder is seen only when it is read)
    out = args.out or (None if args.json or len(args.submissions) == 1 else "grades")
    if out is not None:
        check_destination(out, "--out", folder=True)
        outputs.append(("--out", out))
        if Path(out).is_dir():  # the files grading writes there must be writable too
            for name in ("gradebook.csv", "results.json"):
                check_destination(Path(out) / name, "--out")
                outputs.append(("--out", Path(out) / name))
            check_destination(Path(out) / "feedback", "--out", folder=True)
    check_distinct(outputs, [("--exercise", args.exercise),
                             *(("SUBMISSION", path) for path in args.submissions)])
    return command.run_grade(args)


def run_gradescope(args) -> int:
    _check_exercise(args)
    check_destination(args.out, "OUT.zip")
    check_distinct([("OUT.zip", args.out)], [("--exercise", args.exercise)])
    return command.run_gradescope(args)
