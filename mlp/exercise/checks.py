"""How each exercise item is judged: against the reference's numbers on the same inputs.

The verdict is :func:`judge`: the arrays a submission's function computed (see
:mod:`.probes`) against the arrays the reference computed on the same inputs, with a hint for
the usual mistakes. The grader runs it on inputs the student has not seen (other values, other
batch sizes); a student's own tests run it on the visible inputs, against reference values
stored by ``make`` (:func:`check_local`). :func:`check_item` is the judgement in one process,
for trusted code (``verify``).
"""

from __future__ import annotations

import traceback
from pathlib import Path

import numpy as np

from . import probes
from .hints import compare
from .probes import error_message

#: points per item
ITEMS: dict[str, int] = {
    "Linear.backward": 3, "Identity.backward": 1, "ReLU.backward": 1, "LeakyReLU.backward": 1,
    "PReLU.backward": 2, "ELU.backward": 1, "GELU.backward": 2, "Sigmoid.backward": 1,
    "Tanh.backward": 1, "Softplus.backward": 1, "Softmax.backward": 2, "Dropout.backward": 1,
    "BatchNorm1d.backward": 3, "Residual.backward": 1, "MSELoss.backward": 1,
    "BCEWithLogitsLoss.backward": 1, "SoftmaxCrossEntropyLoss.backward": 2,
    "NLLLoss.backward": 1, "SGD._update": 2, "RMSProp._update": 1, "Adam._update": 2,
    "Linear.forward": 1, "ReLU.forward": 1, "Sigmoid.forward": 1, "Tanh.forward": 1,
    "Softmax.forward": 1, "MSELoss.per_sample": 1, "SoftmaxCrossEntropyLoss.per_sample": 1,
}

_INPUTS = (": X", ": dY", ": theta0", ": g", "N")


def judge(item, got, want):
    """The verdict on one item: ``(passed, message)``.

    Parameters
    ----------
    got : dict or str
        The submission's arrays from :func:`probes.run`, or the error it ended with.
    want : dict
        The reference's arrays on the same inputs.
    """
    if isinstance(got, str):
        return False, got
    messages = []
    for key, expected in want.items():
        value = got.get(key) if isinstance(got, dict) else None
        if key.endswith(_INPUTS) or key.startswith("input "):
            if value is None:  # the probe always hands its inputs back: it did not finish
                return False, (f"the answer was incomplete ({key.split(': ')[-1]} did not "
                               "come back): did the code end its process early?")
            if compare(key, value, expected):
                return False, f"changed its input ({key.split(': ')[-1]}) in place"
        elif " in place " in key:
            if value is None or np.size(value) != 1 or float(np.ravel(value)[0]) != 1.0:
                mode, name = key.split(" in place ")
                messages.append(f"{mode} backward replaced the gradient array of {name} "
                                "instead of writing into it (grads[...][...] = ...): an "
                                "optimizer would never see it")
        else:
            mode = key.split(": ")[0]
            context = {"item": item, "N": int(want["N"]) if "N" in want else None,
                       "X": want.get(f"{mode}: X")}
            problem = compare(key, value, expected, **context)
            if problem:
                messages.append(problem)
    return (not messages), "; ".join(messages) or "ok"


def student_function(package, item):
    """The function ``Class.method`` as defined in the class body (not inherited)."""
    cls_name, method = item.split(".")
    return getattr(package, cls_name).__dict__[method]


def check_item(item, student, ref, reference=None):
    """Judge one item of the ``student`` package in this process: ``(passed, message)``.

    The student's function is put on ``ref``'s objects (so that nothing else of the student's
    package is involved) and its numbers are compared with those of ``reference`` (default
    ``ref`` itself) on the grader's inputs. This runs the student's code in this process:
    for trusted code only; the grader runs submissions in a sandbox (see :mod:`.grading`).
    """
    if item not in ITEMS:
        return False, f"no grading test for {item}"
    try:
        fn = student_function(student, item)
    except (AttributeError, KeyError):
        return False, f"{item} is missing from the submitted package"
    try:
        want = probes.run(item, reference if reference is not None else ref, None, seed=1)
        return judge(item, probes.run(item, ref, fn, seed=1), want)
    except Exception as exc:  # the student's code may raise anything
        return False, error_message(exc)


def check_local(item, package, expected):
    """A student's own check: ``package``'s item (its own classes, nothing patched) on the
    visible inputs, judged like the grader judges, against ``expected``, the reference's
    arrays stored by ``make`` (as :func:`probes.encode` data). ``(passed, message)``."""
    try:
        got = probes.run(item, package, None, seed=0)
    except Exception as exc:  # the student's code may raise anything
        return False, _import_failure(exc, package) or error_message(exc)
    return judge(item, got, probes.decode(expected))


def _import_failure(exc, package):
    """What the grader says of a module of ``package`` that failed to import, naming its
    file and line, when ``exc`` was raised at the top level of such a module; else None."""
    root = Path(package.__file__).resolve().parent
    where = [(Path(frame.f_code.co_filename), line)
             for frame, line in traceback.walk_tb(exc.__traceback__)
             if frame.f_code.co_name == "<module>"]
    where = [(path, line) for path, line in where if root in path.resolve().parents]
    if not where:
        return None
    path, line = where[-1]
    first = str(exc).splitlines()[0] if str(exc) else ""
    return (f"{root.name}/{path.resolve().relative_to(root).as_posix()}, line {line}: "
            f"{type(exc).__name__}: {first} (the module failed to import, so its items "
            "cannot be graded)")
