"""How each exercise item is judged: against the reference's numbers, or, on a student's own
machine, by finite differences and known values.

The grader's verdict is :func:`judge`: the arrays a submission's function computed (see
:mod:`.probes`) against the arrays the reference computed on the same inputs, with a hint for
the usual mistakes. :func:`check_item` is the same judgement in one process, for trusted code
(``verify``) and for a student checking their own work without the reference.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import probes
from .probes import error_message
from .hints import compare, diagnose

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
            if value is None or compare(key, value, expected):
                return False, f"changed its input ({key.split(': ')[-1]}) in place"
        elif " in place " in key:
            if value is None or float(np.asarray(value).reshape(-1)[0]) != 1.0:
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


def check_item(item, student, ref=None, reference=None):
    """Check one item of the ``student`` package: ``(passed, message)``.

    With the package ``ref``, the student's function is put on ``ref``'s objects (so that
    nothing else of the student's code is involved) and its numbers are compared with those
    of ``reference`` (default ``ref`` itself) on the same inputs. Without it (a student
    checking their own work), the item runs on the student's own classes and is checked by
    finite differences and known values. This runs the student's code in this process: the
    grader does not use it (see :mod:`.grading`).
    """
    if item not in ITEMS:
        return False, f"no grading test for {item}"
    try:
        fn = student_function(student, item)
    except (AttributeError, KeyError):
        return False, f"{item} is missing from the submitted package"
    try:
        if ref is None:
            return _local(item, student)
        want = probes.run(item, reference if reference is not None else ref, None, seed=1)
        return judge(item, probes.run(item, ref, fn, seed=1), want)
    except Exception as exc:  # the student's code may raise anything
        return False, error_message(exc)


# -- without the reference: finite differences and known values -----------------------------


def _local(item, m):
    if item in probes.OPTIMIZERS:
        return _verdict(_local_optimizer(item, m))
    if item in _KNOWN:
        got = probes.run(item, m)
        n = sum(1 for key in got if key.startswith("output "))
        expected = {f"output {i}": _KNOWN[item](*[got[key] for key in got
                                                  if key.startswith(f"input {i}.")])
                    for i in range(1, n + 1)}
        return _verdict([p for key, want in expected.items()
                         if (p := compare(key, got[key], want))])
    build = probes.BUILDS[item]
    rng = np.random.default_rng(0)
    if item.split(".")[0].endswith("Loss"):
        loss = build(m)
        shape = (6, 3)
        output = rng.normal(size=shape)
        if item == "NLLLoss.backward":
            output = np.exp(output) / np.exp(output).sum(axis=1, keepdims=True)
        y = probes._TARGETS[item](rng, shape)
        report = m.gradcheck.check_loss(loss, output, y)
        return _verdict([] if report.ok else [f"finite differences disagree (relative error "
                                              f"{report.max_error:.2g})"])
    messages = []
    for mode in ("train", "eval") if item.split(".")[0] in ("Dropout", "BatchNorm1d") \
            else ("train",):
        layer = build(m)
        if mode == "eval":
            layer.eval()
        report = m.gradcheck.check_layer(layer, rng.normal(0.0, 1.5, size=(6, 4)), rng=1)
        worst = max(report.checks, key=lambda c: c.max_error / c.tol)
        if not worst.ok:
            messages.append(f"{mode}: finite differences disagree for {worst.name} "
                            f"(relative error {worst.max_error:.2g})")
        messages.extend(f"{mode}: {problem}" for problem in report.problems)
    return _verdict(messages)


def _verdict(messages):
    return (not messages), "; ".join(messages) or "ok"


def _local_optimizer(item, m):
    name, variants = probes.OPTIMIZERS[item]
    got = probes.run(item, m)
    messages = []
    for kwargs in variants:
        label = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        theta0, g = got[f"{label}: theta0"], got[f"{label}: g"]
        want = _FIRST_STEP[name](theta0, g, **kwargs)
        step = got[f"{label}: first step"]
        if step is None or not np.allclose(step, want, rtol=1e-10, atol=1e-12):
            messages.append(f"first step ({label}): "
                            + (diagnose(step - theta0, want - theta0) if step is not None
                               else "got None"))
    return messages


def _sgd_first(theta, g, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
    g = g + weight_decay * theta
    return theta - lr * (1 + momentum) * g if nesterov else theta - lr * g


def _rmsprop_first(theta, g, lr=1e-3, rho=0.9, eps=1e-8):
    return theta - lr * g / (np.sqrt((1 - rho) * g * g) + eps)


def _adam_first(theta, g, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    # after one step the corrected moments are g and g²
    return theta * (1 - lr * weight_decay) - lr * g / (np.abs(g) + eps)


_FIRST_STEP = {"SGD": _sgd_first, "RMSProp": _rmsprop_first, "Adam": _adam_first}


def _softmax(U):
    E = np.exp(U - U.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def _logsumexp(U):
    top = U.max(axis=1)
    return top + np.log(np.exp(U - top[:, None]).sum(axis=1))


def _cross_entropy(U, y):
    y = y.astype(int)
    return _logsumexp(U) - U[np.arange(len(y)), y]


def _sigmoid(X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return 0.5 * (1 + np.tanh(X / 2))


_KNOWN = {
    "Linear.forward": lambda X: X @ probes.LINEAR_W + probes.LINEAR_B,
    "ReLU.forward": lambda X: np.where(X > 0, X, 0.0),
    "Sigmoid.forward": _sigmoid,
    "Tanh.forward": np.tanh,
    "Softmax.forward": _softmax,
    "MSELoss.per_sample": lambda U, Y: 0.5 * ((U - Y) ** 2).sum(axis=1),
    "SoftmaxCrossEntropyLoss.per_sample": _cross_entropy,
}
