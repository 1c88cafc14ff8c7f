"""How each exercise item is checked: the tests, the reference values, the hints."""

from __future__ import annotations

import types
import warnings
from dataclasses import dataclass

import numpy as np

# -- checking one item ------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """How one exercise item is checked and what it is worth."""

    points: int
    check: object  # callable(host, student_fn, ref) -> (ok, message)


def _student_function(student, item):
    cls_name, method = item.split(".")
    return getattr(student, cls_name).__dict__[method]


def _patched(obj, method, fn):
    if fn is not None:
        setattr(obj, method, types.MethodType(fn, obj))
    return obj


def _diagnose(got, want, N=None):
    """A hint for the usual mistakes, found by comparing with the reference result."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        if got.shape == want.shape[::-1]:
            return f"shape {got.shape}, expected {want.shape}: gradient transposed?"
        return f"shape {got.shape}, expected {want.shape}"
    if not np.any(want):
        return "expected all zeros"
    if want.ndim == 2 and want.shape[0] == want.shape[1] and np.allclose(got, want.T, rtol=1e-8) \
            and not np.allclose(want, want.T):
        return "gradient transposed?"
    if np.allclose(got, -want, rtol=1e-8):
        return "wrong sign?"
    if N and N > 1 and np.allclose(got, N * want, rtol=1e-8):
        return "missing 1/N? (the loss is a mean over the batch)"
    if N and N > 1 and np.allclose(got * N, want, rtol=1e-8):
        return "divided by N once too often?"
    ratio = got[np.abs(want) > 1e-12] / want[np.abs(want) > 1e-12]
    if ratio.size and np.allclose(ratio, ratio[0], rtol=1e-8):
        return f"off by a constant factor {ratio[0]:.4g}"
    return f"max difference {np.max(np.abs(got - want)):.3g}"


def _compare(name, got, want, N=None):
    if got is None or np.shape(got) != np.shape(want) or not np.allclose(
            got, want, rtol=1e-9, atol=1e-12):
        if got is None:
            return f"{name}: got None"
        return f"{name} differs from the reference: {_diagnose(got, want, N)}"
    return None


def _layer_check(make_layer, shape=(6, 4), modes=("train",)):
    def check(host, fn, ref):
        rng = np.random.default_rng(0)
        messages = []
        for mode in modes:
            X = rng.normal(0.0, 1.5, size=shape)
            if ref is not None:
                # fresh objects on both sides: the same dropout mask, the same statistics
                reference = make_layer(ref)
                layer = _patched(make_layer(host), "backward", fn)
                if mode == "eval":
                    reference.eval()
                    layer.eval()
                dY = rng.normal(size=reference.forward(X).shape)
                want = reference.backward(dY)
                layer.forward(X)
                got = layer.backward(dY)
                problems = [_compare("dX", got, want)] + [
                    _compare(f"the gradient of {theirs.name}", mine.grad, theirs.grad)
                    for mine, theirs in zip(layer.parameters(), reference.parameters(),
                                            strict=True)]
                messages.extend(f"{mode}: {p}" for p in problems if p)
                if messages:
                    break  # the comparison explains more than finite differences would
            layer = _patched(make_layer(host), "backward", fn)
            if mode == "eval":
                layer.eval()
            report = host.gradcheck.check_layer(layer, X, rng=1)
            worst = max(report.checks, key=lambda c: c.max_error / c.tol)
            if not worst.ok:
                messages.append(f"{mode}: finite differences disagree for {worst.name} "
                                f"(relative error {worst.max_error:.2g})")
            messages.extend(f"{mode}: {problem}" for problem in report.problems)
        return (not messages), "; ".join(messages) or "ok"

    return check


def _loss_check(make_loss, targets, shape=(5, 3)):
    def check(host, fn, ref):
        rng = np.random.default_rng(0)
        loss = _patched(make_loss(host), "backward", fn)
        output = rng.normal(size=shape)
        if type(loss).__name__ == "NLLLoss":
            output = np.exp(output) / np.exp(output).sum(axis=1, keepdims=True)
        y = targets(rng, shape)
        messages = []
        report = host.gradcheck.check_loss(loss, output, y)
        if not report.ok:
            messages.append(f"finite differences disagree (relative error "
                            f"{report.max_error:.2g})")
        if ref is not None:
            reference = make_loss(ref)
            reference.forward(output, y)
            loss.forward(output, y)
            problem = _compare("d_output", loss.backward(), reference.backward(), N=shape[0])
            if problem:
                messages.append(problem)
        return (not messages), "; ".join(messages) or "ok"

    return check


def _run_optimizer(package, name, kwargs, patch, theta0, grads):
    """θ after one ``step()`` per gradient, with ``_update`` replaced by ``patch`` if given."""
    p = package.Parameter("w", theta0.copy(), np.zeros_like(theta0), True)
    opt = getattr(package.optim, name)([p], **kwargs)
    _patched(opt, "_update", patch)
    for g in grads:
        p.grad[...] = g
        opt.step()
    return p.value


def _optimizer_check(name, variants, first_step):
    def check(host, fn, ref):
        rng = np.random.default_rng(0)
        messages = []
        for kwargs in variants:
            theta0 = rng.normal(size=(3, 2))
            grads = [rng.normal(size=(3, 2)) for _ in range(3)]
            label = ", ".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults"
            got = _run_optimizer(host, name, kwargs, fn, theta0, grads[:1])
            want = first_step(theta0, grads[0], **kwargs)
            if not np.allclose(got, want, rtol=1e-10, atol=1e-12):
                messages.append(f"first step ({label}): {_diagnose(got - theta0, want - theta0)}")
            elif ref is not None:
                problem = _compare(f"three steps ({label})",
                                   _run_optimizer(host, name, kwargs, fn, theta0, grads),
                                   _run_optimizer(ref, name, kwargs, None, theta0, grads))
                if problem:
                    messages.append(problem)
        return (not messages), "; ".join(messages) or "ok"

    return check


def _forward_check(make, method, inputs, expected):
    def check(host, fn, ref):
        obj = _patched(make(host), method, fn)
        messages = []
        for args in inputs(np.random.default_rng(0)):
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # an overflow warning is a failure
                try:
                    got = getattr(obj, method)(*args)
                except RuntimeWarning as exc:
                    messages.append(f"numerically unstable: {exc}")
                    continue
            want = expected(*args)
            problem = _compare("output", got, want)
            if problem:
                messages.append(problem)
        return (not messages), "; ".join(messages) or "ok"

    return check


def _sgd_first(theta, g, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
    g = g + weight_decay * theta
    return theta - lr * (1 + momentum) * g if nesterov else theta - lr * g


def _rmsprop_first(theta, g, lr=1e-3, rho=0.9, eps=1e-8):
    return theta - lr * g / (np.sqrt((1 - rho) * g * g) + eps)


def _adam_first(theta, g, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    # after one step the corrected moments are g and g²
    return theta * (1 - lr * weight_decay) - lr * g / (np.abs(g) + eps)


def _labels(rng, shape):
    return rng.integers(0, shape[1], size=shape[0])


def _softmax(U):
    E = np.exp(U - U.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


_EXTREME = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])


ITEMS: dict[str, Item] = {
    "Linear.backward": Item(3, _layer_check(lambda m: m.Linear(4, 3, rng=0))),
    "Identity.backward": Item(1, _layer_check(lambda m: m.Identity())),
    "ReLU.backward": Item(1, _layer_check(lambda m: m.ReLU())),
    "LeakyReLU.backward": Item(1, _layer_check(lambda m: m.LeakyReLU(0.1))),
    "PReLU.backward": Item(2, _layer_check(lambda m: m.PReLU(0.2, n_features=4))),
    "ELU.backward": Item(1, _layer_check(lambda m: m.ELU(0.7))),
    "GELU.backward": Item(2, _layer_check(lambda m: m.GELU())),
    "Sigmoid.backward": Item(1, _layer_check(lambda m: m.Sigmoid())),
    "Tanh.backward": Item(1, _layer_check(lambda m: m.Tanh())),
    "Softplus.backward": Item(1, _layer_check(lambda m: m.Softplus())),
    "Softmax.backward": Item(2, _layer_check(lambda m: m.Softmax())),
    "Dropout.backward": Item(1, _layer_check(lambda m: m.Dropout(0.4, rng=3),
                                             modes=("train", "eval"))),
    "BatchNorm1d.backward": Item(3, _layer_check(lambda m: _batchnorm(m),
                                                 modes=("train", "eval"))),
    "Residual.backward": Item(1, _layer_check(
        lambda m: m.Residual(m.Linear(4, 4, rng=5), m.Tanh()))),
    "MSELoss.backward": Item(1, _loss_check(lambda m: m.MSELoss(),
                                            lambda rng, s: rng.normal(size=s))),
    "BCEWithLogitsLoss.backward": Item(1, _loss_check(
        lambda m: m.BCEWithLogitsLoss(), lambda rng, s: rng.integers(0, 2, size=s))),
    "SoftmaxCrossEntropyLoss.backward": Item(2, _loss_check(
        lambda m: m.SoftmaxCrossEntropyLoss(), _labels)),
    "NLLLoss.backward": Item(1, _loss_check(lambda m: m.NLLLoss(), _labels)),
    "SGD._update": Item(2, _optimizer_check(
        "SGD", [{"lr": 0.1}, {"lr": 0.1, "momentum": 0.9},
                {"lr": 0.1, "momentum": 0.9, "nesterov": True},
                {"lr": 0.1, "weight_decay": 0.01}], _sgd_first)),
    "RMSProp._update": Item(1, _optimizer_check(
        "RMSProp", [{"lr": 0.01, "rho": 0.9}], _rmsprop_first)),
    "Adam._update": Item(2, _optimizer_check(
        "Adam", [{"lr": 0.01}, {"lr": 0.01, "weight_decay": 0.1}], _adam_first)),
    "Linear.forward": Item(1, _forward_check(
        lambda m: _linear_fixed(m), "forward", lambda rng: [(rng.normal(size=(5, 4)),)],
        lambda X: X @ _LINEAR_W + _LINEAR_B)),
    "ReLU.forward": Item(1, _forward_check(
        lambda m: m.ReLU(), "forward", lambda rng: [(rng.normal(size=(5, 4)),)],
        lambda X: np.where(X > 0, X, 0.0))),
    "Sigmoid.forward": Item(1, _forward_check(
        lambda m: m.Sigmoid(), "forward", lambda rng: [(rng.normal(size=(5, 4)),), (_EXTREME,)],
        lambda X: 0.5 * (1 + np.tanh(X / 2)))),
    "Tanh.forward": Item(1, _forward_check(
        lambda m: m.Tanh(), "forward", lambda rng: [(rng.normal(size=(5, 4)),)], np.tanh)),
    "Softmax.forward": Item(1, _forward_check(
        lambda m: m.Softmax(), "forward", lambda rng: [(rng.normal(size=(5, 4)),), (_EXTREME,)],
        _softmax)),
    "MSELoss.per_sample": Item(1, _forward_check(
        lambda m: m.MSELoss(), "per_sample",
        lambda rng: [(rng.normal(size=(5, 2)), rng.normal(size=(5, 2)))],
        lambda U, Y: 0.5 * ((U - Y) ** 2).sum(axis=1))),
    "SoftmaxCrossEntropyLoss.per_sample": Item(1, _forward_check(
        lambda m: m.SoftmaxCrossEntropyLoss(), "per_sample",
        lambda rng: [(rng.normal(size=(5, 3)), _labels(rng, (5, 3))),
                     (np.array([[1000.0, 0.0, -1000.0]]), np.array([2]))],
        lambda U, y: _logsumexp(U) - U[np.arange(len(y)), y])),
}

_LINEAR_W = np.arange(12.0).reshape(4, 3) / 10 - 0.5
_LINEAR_B = np.array([0.1, -0.2, 0.3])


def _linear_fixed(m):
    layer = m.Linear(4, 3)
    layer.params["W"][...] = _LINEAR_W
    layer.params["b"][...] = _LINEAR_B
    return layer


def _logsumexp(U):
    top = U.max(axis=1)
    return top + np.log(np.exp(U - top[:, None]).sum(axis=1))


def _batchnorm(m):
    layer = m.BatchNorm1d(4)
    layer.params["gamma"][...] = [1.5, -0.5, 2.0, 0.7]
    layer.params["beta"][...] = [0.1, 0.2, -0.3, 0.0]
    layer.buffers["running_mean"][...] = [0.2, -0.1, 0.0, 0.3]
    layer.buffers["running_var"][...] = [1.5, 0.8, 2.0, 1.1]
    return layer


def check_item(item, student, ref=None):
    """Check one item of the ``student`` package: (passed, message).

    The student's function is called on objects of the reference package ``ref`` (so that
    nothing else of the student's code is involved) and compared with the reference; without
    ``ref`` (a student checking their own work) it runs on the student's own classes and is
    checked by finite differences and known values only.
    """
    spec = ITEMS.get(item)
    if spec is None:
        return False, f"no grading test for {item}"
    try:
        fn = _student_function(student, item)
    except (AttributeError, KeyError):
        return False, f"{item} is missing from the submitted package"
    host = ref if ref is not None else student
    try:
        return spec.check(host, fn if ref is not None else None, ref)
    except NotImplementedError:
        return False, "not implemented"
    except Exception as exc:  # the student's code may raise anything
        return False, f"raised {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
