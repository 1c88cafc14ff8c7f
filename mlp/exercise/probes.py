"""What each exercise item is run on, and the raw arrays it produces.

A *probe* builds the item's objects from a package ``m`` (the reference, or the grader's host
package with the student's function put in), feeds them inputs drawn from a seeded generator
and returns every number the item computed, as a dict of float arrays. Nothing here judges:
the grader compares a submission's arrays with the reference's in a process the submission
cannot reach. This module imports numpy alone, so that the sandbox can load it by path
without importing any ``mlp``.
"""

from __future__ import annotations

import base64
import types
import warnings

import numpy as np

FEATURES = 4


class Unstable(Exception):
    """The item's code raised a numpy warning (an overflow): numerically unstable."""


class TooLarge(Exception):
    """The item's code returned more numbers than any answer holds."""


class Needs(Exception):
    """The item's probe needs another item (its class's forward) that is not implemented."""


#: numbers one answer may hold in all (the largest probe returns a few hundred)
MAX_NUMBERS = 100_000


def error_message(exc):
    """What a failing item's exception says, in one line."""
    if isinstance(exc, NotImplementedError):
        return "not implemented"
    if isinstance(exc, (Unstable, TooLarge, Needs)):
        return str(exc)
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"raised {type(exc).__name__}: {first}"


def encode(arrays):
    """The arrays as JSON-ready data (None stays None); :func:`decode` reverses it exactly.

    Each array travels as its shape and its float64 values' bytes (little-endian, base64).

    Raises
    ------
    TooLarge
        When the arrays hold more than :data:`MAX_NUMBERS` numbers in all.
    """
    sizes = {key: int(np.size(v)) for key, v in arrays.items() if v is not None}
    if sum(sizes.values()) > MAX_NUMBERS:
        key = max(sizes, key=sizes.get)
        raise TooLarge(f"the answer was too large: {key} has {sizes[key]} numbers, where the "
                       f"reference's answer has a few hundred (at most {MAX_NUMBERS} are read)")
    return {str(key): None if value is None else {
        "shape": [int(n) for n in np.shape(value)],
        "data": base64.b64encode(np.ascontiguousarray(value, dtype="<f8").tobytes()).decode()}
        for key, value in arrays.items()}


def decode(data):
    """Arrays from :func:`encode`'s data, for trusted data (see :mod:`.answers` otherwise)."""
    return {str(key): None if value is None else np.frombuffer(
        base64.b64decode(value["data"]), dtype="<f8").astype(np.float64).reshape(
            value["shape"]) for key, value in data.items()}


def patched(obj, functions):
    """``obj`` with each method named in ``functions`` replaced by its function (a dict of
    method name to function; None or empty leaves ``obj`` as it is)."""
    for method, fn in (functions or {}).items():
        setattr(obj, method, types.MethodType(fn, obj))
    return obj


def batch_size(seed):
    """A batch size that depends on the seed: the grader's shapes are not the student's."""
    return 6 if seed == 0 else 3 + seed % 7


def _float(value):
    if value is None:
        return None
    array = np.asarray(value)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        return None
    return array.astype(np.float64)


def layer_probe(build, modes=("train",)):
    """dX and every parameter gradient, per mode; whether each gradient was written in place."""

    def probe(m, fn, seed):
        rng = np.random.default_rng(seed)
        out = {}
        for mode in modes:
            X = rng.normal(0.0, 1.5, size=(batch_size(seed), FEATURES))
            layer = patched(build(m), fn)
            if mode == "eval":
                layer.eval()
            dY = rng.normal(size=np.shape(layer.forward(X)))
            before = {p.name: p.grad for p in layer.parameters()}
            out[f"{mode}: X"] = X
            out[f"{mode}: dY"] = dY
            out[f"{mode}: dX"] = _float(layer.backward(dY))
            for p in layer.parameters():
                out[f"{mode}: the gradient of {p.name}"] = _float(p.grad)
                out[f"{mode}: in place {p.name}"] = np.array(float(p.grad is before[p.name]))
        return out

    return probe


def loss_probe(build, targets):
    """The gradient of the mean loss with respect to the network's output."""

    def probe(m, fn, seed):
        rng = np.random.default_rng(seed)
        shape = (batch_size(seed), 3)
        loss = patched(build(m), fn)
        output = rng.normal(size=shape)
        if type(loss).__name__ == "NLLLoss":
            output = np.exp(output) / np.exp(output).sum(axis=1, keepdims=True)
        y = targets(rng, shape)
        loss.forward(output, y)
        return {"d_output": _float(loss.backward()), "N": np.array(float(shape[0]))}

    return probe


def optimizer_probe(name, variants):
    """θ after one and after three ``step()`` calls, for each setting of the optimizer."""

    def probe(m, fn, seed):
        rng = np.random.default_rng(seed)
        out = {}
        for kwargs in variants:
            theta0 = rng.normal(size=(3, 2))
            grads = [rng.normal(size=(3, 2)) for _ in range(3)]
            label = ", ".join(f"{k}={v}" for k, v in kwargs.items())
            out[f"{label}: theta0"] = theta0
            out[f"{label}: g"] = grads[0]
            for steps, key in ((1, "first step"), (3, "three steps")):
                out[f"{label}: {key}"] = _float(run_optimizer(m, name, kwargs, fn, theta0,
                                                              grads[:steps]))
        return out

    return probe


def run_optimizer(m, name, kwargs, fn, theta0, grads):
    """θ after one ``step()`` per gradient, with the optimizer's methods from ``fn`` if given."""
    p = m.Parameter("w", theta0.copy(), np.zeros_like(theta0), True)
    opt = patched(getattr(m.optim, name)([p], **kwargs), fn)
    for g in grads:
        p.grad[...] = g
        opt.step()
    return p.value


def forward_probe(build, method, inputs):
    """The method's output for each input; a numpy warning raised on the way is a failure."""

    def probe(m, fn, seed):
        obj = patched(build(m), fn)
        out = {}
        for i, args in enumerate(inputs(np.random.default_rng(seed), batch_size(seed))):
            out.update({f"input {i + 1}.{j}": np.asarray(a, dtype=float)
                        for j, a in enumerate(args)})
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                try:
                    out[f"output {i + 1}"] = _float(getattr(obj, method)(*args))
                except (RuntimeWarning, FloatingPointError) as exc:
                    raise Unstable(f"numerically unstable: {exc}") from None
        return out

    return probe


def _labels(rng, shape):
    return rng.integers(0, shape[1], size=shape[0])


def _normal(*columns):
    return lambda rng, n: [tuple(rng.normal(size=(n, c)) for c in columns)]


EXTREME = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])
LINEAR_W = np.arange(12.0).reshape(4, 3) / 10 - 0.5
LINEAR_B = np.array([0.1, -0.2, 0.3])


def _linear_fixed(m):
    layer = m.Linear(4, 3)
    layer.params["W"][...] = LINEAR_W
    layer.params["b"][...] = LINEAR_B
    return layer


def _batchnorm(m):
    layer = m.BatchNorm1d(4)
    layer.params["gamma"][...] = [1.5, -0.5, 2.0, 0.7]
    layer.params["beta"][...] = [0.1, 0.2, -0.3, 0.0]
    layer.buffers["running_mean"][...] = [0.2, -0.1, 0.0, 0.3]
    layer.buffers["running_var"][...] = [1.5, 0.8, 2.0, 1.1]
    return layer


def _residual(m):
    """Y = X + F(X) around a layer of the check's own, so that no other item is involved
    (the student's unfinished Linear cannot fail a correct Residual)."""

    class Scale(m.Layer):
        """F(X) = X ⊙ w: dX = dY ⊙ w, dw = Σₙ X ⊙ dY."""

        def __init__(self):
            super().__init__()
            self.params["w"] = np.array([1.5, -0.5, 0.8, 2.0])
            self.grads["w"] = np.zeros(4)

        def forward(self, X):
            self._X = X
            return X * self.params["w"]

        def backward(self, dY, input_grad=True):
            self.grads["w"][...] = (self._X * dY).sum(axis=0)
            return dY * self.params["w"] if input_grad else None

    return m.Residual(Scale())


def _with_extreme(rng, n):
    return [(rng.normal(size=(n, 4)),), (EXTREME,)]


#: item name -> (build, probe); ``build(m)`` makes the object the item's method belongs to.
BUILDS = {
    "Linear.backward": lambda m: m.Linear(4, 3, rng=0),
    "Identity.backward": lambda m: m.Identity(),
    "ReLU.backward": lambda m: m.ReLU(),
    "LeakyReLU.backward": lambda m: m.LeakyReLU(0.1),
    "PReLU.backward": lambda m: m.PReLU(0.2, n_features=4),
    "ELU.backward": lambda m: m.ELU(0.7),
    "GELU.backward": lambda m: m.GELU(),
    "Sigmoid.backward": lambda m: m.Sigmoid(),
    "Tanh.backward": lambda m: m.Tanh(),
    "Softplus.backward": lambda m: m.Softplus(),
    "Softmax.backward": lambda m: m.Softmax(),
    "Dropout.backward": lambda m: m.Dropout(0.4, rng=3),
    "BatchNorm1d.backward": _batchnorm,
    "Residual.backward": _residual,
    "MSELoss.backward": lambda m: m.MSELoss(),
    "BCEWithLogitsLoss.backward": lambda m: m.BCEWithLogitsLoss(),
    "SoftmaxCrossEntropyLoss.backward": lambda m: m.SoftmaxCrossEntropyLoss(),
    "NLLLoss.backward": lambda m: m.NLLLoss(),
    "Linear.forward": _linear_fixed,
    "ReLU.forward": lambda m: m.ReLU(),
    "Sigmoid.forward": lambda m: m.Sigmoid(),
    "Tanh.forward": lambda m: m.Tanh(),
    "Softmax.forward": lambda m: m.Softmax(),
    "MSELoss.per_sample": lambda m: m.MSELoss(),
    "SoftmaxCrossEntropyLoss.per_sample": lambda m: m.SoftmaxCrossEntropyLoss(),
}

_TWO_MODES = ("train", "eval")
_TARGETS = {
    "MSELoss.backward": lambda rng, s: rng.normal(size=s),
    "BCEWithLogitsLoss.backward": lambda rng, s: rng.integers(0, 2, size=s),
    "SoftmaxCrossEntropyLoss.backward": _labels,
    "NLLLoss.backward": _labels,
}
OPTIMIZERS = {
    "SGD._update": ("SGD", [{"lr": 0.1}, {"lr": 0.1, "momentum": 0.9},
                            {"lr": 0.1, "momentum": 0.9, "nesterov": True},
                            {"lr": 0.1, "weight_decay": 0.01}]),
    "RMSProp._update": ("RMSProp", [{"lr": 0.01, "rho": 0.9}]),
    "Adam._update": ("Adam", [{"lr": 0.01}, {"lr": 0.01, "weight_decay": 0.1}]),
}
_INPUTS = {
    "Linear.forward": _normal(4), "ReLU.forward": _normal(4), "Tanh.forward": _normal(4),
    "Sigmoid.forward": _with_extreme, "Softmax.forward": _with_extreme,
    "MSELoss.per_sample": _normal(2, 2),
    "SoftmaxCrossEntropyLoss.per_sample": lambda rng, n: [
        (rng.normal(size=(n, 3)), _labels(rng, (n, 3))),
        (np.array([[1000.0, 0.0, -1000.0]]), np.array([2]))],
}


def _probe_for(item):
    if item in OPTIMIZERS:
        return optimizer_probe(*OPTIMIZERS[item])
    build = BUILDS[item]
    if item in _TARGETS:
        return loss_probe(build, _TARGETS[item])
    if item in _INPUTS:
        return forward_probe(build, item.split(".")[1], _INPUTS[item])
    return layer_probe(build, _TWO_MODES if item.split(".")[0] in ("Dropout", "BatchNorm1d")
                       else ("train",))


PROBES = {item: _probe_for(item) for item in [*BUILDS, *OPTIMIZERS]}


class _WithClass:
    """Package ``m`` in which the class ``name`` (at the top level and in ``m.optim``) is
    ``cls``: the probe builds the submitted class as the student wrote it."""

    def __init__(self, m, name, cls):
        self._m, self._name, self._cls = m, name, cls

    def __getattr__(self, attr):
        if attr == self._name:
            return self._cls
        if attr == "optim" and self._name in {name for name, _ in OPTIMIZERS.values()}:
            return _WithClass(self._m.optim, self._name, self._cls)
        return getattr(self._m, attr)


def submitted_class(item, functions, m):
    """The class the item's submitted method was taken from, if it was written inside
    package ``m`` (the grader's host, into which the submitted module is loaded), or None.

    A method's class is the global of that name in the module that defined the method (the
    submitted module); it counts only if its own ``__dict__`` holds that very function.
    """
    cls_name, method = item.split(".")
    fn = (functions or {}).get(method)
    namespace = getattr(fn, "__globals__", None)
    cls = namespace.get(cls_name) if isinstance(namespace, dict) else None
    if (isinstance(cls, type) and fn is not None and cls.__dict__.get(method) is fn
            and str(cls.__module__).startswith(f"{m.__name__}.")):
        return cls
    return None


def run(item, m, fn=None, seed=0):
    """The raw arrays of ``item`` computed with package ``m``, ``fn`` put in.

    Parameters
    ----------
    item : str
        ``"Class.method"``.
    m : module
        The package whose classes are built (the reference, or the grader's host package: the
        student's skeleton).
    fn : function or dict, optional
        The submitted function of the item's method, or a dict of method name to function.
        When the function was defined in a class of that name in a module of ``m`` (the
        submitted module, loaded into the host), the probe builds that class itself, as
        the student wrote it (helper methods, caches, ``super()``), as the student's own
        tests do; otherwise the functions are put on ``m``'s objects. None runs ``m``'s
        own classes.
    seed : int
        Draws the inputs and the batch size.

    Returns
    -------
    dict of str to ndarray or None
        None where the code returned something that is not an array of numbers.

    Raises
    ------
    KeyError
        For an unknown item. Anything the item's code raises propagates.
    """
    if fn is not None and not isinstance(fn, dict):
        fn = {item.split(".")[1]: fn}
    cls = submitted_class(item, fn, m)
    if cls is not None:  # its helpers, caches, super() and other methods are the student's
        m, fn = _WithClass(m, item.split(".")[0], cls), None
    try:
        return PROBES[item](m, fn, seed)
    except NotImplementedError as exc:  # a stub says which item it is: "Tanh.forward: ..."
        needed = str(exc).split(":")[0]
        if needed != item and needed in PROBES:
            raise Needs(f"not implemented: the check runs {needed} first, which is not "
                        "implemented yet") from None
        raise
