"""Course exercises: make a student skeleton of the library, grade it, verify the grading.

The derivations in the library's source are marked with comment lines::

    # BEGIN SOLUTION: dX = dY ⊙ Y ⊙ (1 − Y)
    ...the code a student is to write...
    # END SOLUTION

(``# BEGIN SOLUTION (forward): ...`` marks a forward pass, stubbed only on request). The text
after the colon is the hint. Each marked function is one *item*, named ``Class.method``.

- :func:`make` copies the package, replacing each selected region by
  ``raise NotImplementedError(<hint>)`` and dropping the other markers.
- :func:`grade` tests each item of a student copy in its own process, with a time limit: the
  student's function is put into the reference class, so an item's test depends on that item
  alone; it is checked against finite differences and against the reference implementation.
- :func:`verify` confirms that the full solution scores 100% and that stubbing any one item
  costs exactly that item's points.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
import types
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ITEMS", "MarkerError", "Region", "find_regions", "grade", "make", "verify"]

# Spelled in two halves so that this module's own text holds no marker.
_TAG = "SOLUTION"
_BEGIN = re.compile(rf"^(\s*)# BEGIN {_TAG}( \(forward\))?(?::\s*(.*?))?\s*$")
_END = re.compile(rf"^\s*# END {_TAG}\s*$")
_ANY = re.compile(rf"#\s*(BEGIN|END)\s+{_TAG}")


class MarkerError(ValueError):
    """Solution markers that do not pair up or sit outside a function."""


@dataclass(frozen=True)
class Region:
    """One marked region: ``lines[begin]`` is the BEGIN line, ``lines[end]`` the END line."""

    file: str
    item: str
    begin: int
    end: int
    hint: str
    forward: bool
    indent: str


# -- finding and replacing regions ----------------------------------------------------------


def _functions(text, filename):
    """(first line, last line, "Class.method") of every function, 1-based lines."""
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        raise MarkerError(f"{filename}:{exc.lineno}: cannot parse: {exc.msg}") from None
    found = []

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((child.lineno, child.end_lineno, f"{prefix}{child.name}"))
                walk(child, f"{prefix}{child.name}.")

    walk(tree, "")
    return found


def find_regions(package_dir) -> list[Region]:
    """Every marked region of the package's modules, in file and line order.

    Raises
    ------
    MarkerError
        For a BEGIN without END, an END without BEGIN, nested regions, a malformed marker
        line or a region outside any function, naming the file and line.
    """
    regions = []
    for path in sorted(Path(package_dir).glob("*.py")):
        if path.name == "exercise.py":
            continue  # the grader itself, whose docstring shows the marker syntax
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        functions = None
        opened = None
        for i, line in enumerate(lines):
            begin, end = _BEGIN.match(line), _END.match(line)
            if begin:
                if opened is not None:
                    raise MarkerError(f"{path.name}:{i + 1}: BEGIN {_TAG} inside the region "
                                      f"opened at line {opened[0] + 1}")
                opened = (i, begin)
            elif end:
                if opened is None:
                    raise MarkerError(f"{path.name}:{i + 1}: END {_TAG} without BEGIN {_TAG}")
                start, match = opened
                functions = functions if functions is not None else _functions(text, path.name)
                inside = [f for f in functions if f[0] <= start + 1 <= f[1]]
                if not inside:
                    raise MarkerError(f"{path.name}:{start + 1}: a {_TAG} region must lie "
                                      "inside a function")
                item = max(inside, key=lambda f: f[0])[2]  # the innermost function
                regions.append(Region(path.name, item, start, i, (match.group(3) or "").strip(),
                                      bool(match.group(2)), match.group(1)))
                opened = None
            elif _ANY.search(line):
                raise MarkerError(f"{path.name}:{i + 1}: malformed marker {line.strip()!r}")
        if opened is not None:
            raise MarkerError(f"{path.name}:{opened[0] + 1}: BEGIN {_TAG} is never closed")
    return regions


def _rewrite(text, regions, stubbed):
    """The module text with ``stubbed`` regions replaced by a raise and other markers removed."""
    lines = text.splitlines()
    out = []
    by_begin = {r.begin: r for r in regions}
    i = 0
    while i < len(lines):
        region = by_begin.get(i)
        if region is None:
            out.append(lines[i])
            i += 1
            continue
        if region in stubbed:
            hint = region.hint or "see the docstring"
            out.append(f"{region.indent}# TODO {region.item}: {hint}")
            out.append(f"{region.indent}raise NotImplementedError({f'{region.item}: {hint}'!r})")
        else:
            out.extend(lines[region.begin + 1:region.end])
        i = region.end + 1
    return "\n".join(out) + "\n"


# -- make -----------------------------------------------------------------------------------


def _source_dir(source=None) -> Path:
    if source is not None:
        return Path(source)
    return Path(__file__).resolve().parent


def _selected(regions, only, include_forward):
    items = sorted({r.item for r in regions})
    if only:
        unknown = [name for name in only
                   if not any(item == name or item.split(".")[0] == name for item in items)]
        if unknown:
            raise ValueError(f"unknown exercise items {unknown}; items are: {', '.join(items)}")
    chosen = []
    for r in regions:
        if r.forward and not include_forward and not (only and r.item in only):
            continue
        if only and not (r.item in only or r.item.split(".")[0] in only):
            continue
        chosen.append(r)
    return chosen


def make(outdir, *, only=None, include_forward=False, solution=False, source=None) -> dict:
    """Write a student package: the library with the selected solution regions stubbed.

    Parameters
    ----------
    outdir : str or Path
        Created; must not exist or be empty.
    only : list of str, optional
        Items (``"Linear.backward"``) or classes (``"Adam"``) to stub; default all backward
        passes, loss gradients and update rules.
    include_forward : bool, default False
        Also stub the marked forward passes.
    solution : bool, default False
        Stub nothing: the full solution, with the markers removed (for testing the grader).
    source : path, optional
        The package to copy; default the installed ``mlp``.

    Returns
    -------
    dict
        The manifest written to ``outdir/exercise.json``.
    """
    source = _source_dir(source)
    regions = find_regions(source)
    stubbed = [] if solution else _selected(regions, only, include_forward)
    outdir = Path(outdir)
    if outdir.exists() and any(outdir.iterdir()):
        raise ValueError(f"{outdir} exists and is not empty")
    package = outdir / "mlp"
    package.mkdir(parents=True)
    for path in sorted(source.glob("*.py")):
        mine = [r for r in regions if r.file == path.name]
        text = path.read_text(encoding="utf-8")
        package.joinpath(path.name).write_text(_rewrite(text, mine, set(stubbed)),
                                               encoding="utf-8")
    if (source / "py.typed").exists():
        shutil.copy(source / "py.typed", package / "py.typed")

    graded = sorted({r.item for r in stubbed}) if not solution else sorted(
        {r.item for r in _selected(regions, only, include_forward)})
    manifest = {
        "format": "mlp-exercise", "version": 1,
        "items": [{"name": name, "points": ITEMS[name].points if name in ITEMS else 1,
                   "hint": next(r.hint for r in regions if r.item == name)} for name in graded],
    }
    (outdir / "exercise.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (outdir / "pyproject.toml").write_text(_PYPROJECT)
    (outdir / "tests").mkdir()
    (outdir / "tests" / "test_exercises.py").write_text(_STUDENT_TESTS)
    (outdir / "README.md").write_text(_student_readme(manifest))
    return manifest


_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "mlp-exercise"
version = "0.1.0"
description = "Backpropagation exercise: the mlp library with the derivations left to you"
requires-python = ">=3.10"
dependencies = ["numpy>=1.22", "scipy", "scikit-learn>=1.6", "tqdm"]

[project.optional-dependencies]
test = ["pytest>=7"]

[tool.setuptools]
packages = ["mlp"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

_STUDENT_TESTS = '''\
"""Your own check of each exercise item: finite differences and simple known values.

Run with `python -m pytest`. The grader runs the same checks, and also compares your result
with the reference implementation.
"""

import json
from pathlib import Path

import pytest

import mlp
from mlp.exercise import check_item

MANIFEST = json.loads((Path(__file__).parent.parent / "exercise.json").read_text())


@pytest.mark.parametrize("item", [entry["name"] for entry in MANIFEST["items"]])
def test_item(item):
    ok, message = check_item(item, mlp)
    if not ok:
        pytest.fail(message, pytrace=False)
'''


def _student_readme(manifest):
    rows = "\n".join(f"| `{e['name']}` | {e['points']} | {e['hint']} |" for e in manifest["items"])
    total = sum(e["points"] for e in manifest["items"])
    return f"""\
# Backpropagation exercise

This folder holds the `mlp` library with the derivations removed. Each function below raises
`NotImplementedError`; its docstring states what it computes, with the shapes, and a `TODO`
comment gives the formula to implement. Everything else in the library works.

```sh
pip install -e ".[test]"      # once
python -m pytest              # check your work: finite differences and known values
```

A backward pass must return dX = dL/dX and write its parameter gradients into
`self.grads[...]` in place. Check one layer by hand with

```python
import numpy as np, mlp
print(mlp.check_layer(mlp.Tanh(), np.random.default_rng(0).normal(size=(4, 3))))
```

| item | points | what to compute |
|---|---|---|
{rows}

Total: {total} points. Submit this folder; it is graded item by item, each on its own, with a
time limit per item.
"""


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


# -- loading packages side by side --------------------------------------------------------

_loaded = 0


def load_package(package_dir, alias=None):
    """Import the package in ``package_dir`` under a fresh name, beside any other ``mlp``."""
    global _loaded
    _loaded += 1
    alias = alias or f"_mlp_exercise_{_loaded}"
    package_dir = Path(package_dir)
    spec = importlib.util.spec_from_file_location(
        alias, package_dir / "__init__.py", submodule_search_locations=[str(package_dir)])
    if spec is None:
        raise ValueError(f"{package_dir} is not a Python package")
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
        for name in ("gradcheck", "optim", "losses"):
            importlib.import_module(f"{alias}.{name}")
    except BaseException:
        for name in [n for n in sys.modules if n == alias or n.startswith(alias + ".")]:
            del sys.modules[name]
        raise
    return module


# -- grading -------------------------------------------------------------------------------


def _read_manifest(directory):
    directory = Path(directory)
    path = directory / "exercise.json"
    if not (directory / "mlp").is_dir() or not path.exists():
        raise ValueError(f"{directory} is not an exercise folder (no exercise.json and mlp/)")
    try:
        manifest = json.loads(path.read_text())
        return [(entry["name"], int(entry["points"])) for entry in manifest["items"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a valid exercise manifest ({exc})") from None


def _grade_in_subprocess(directory, item, time_limit):
    command = [sys.executable, "-m", "mlp.exercise", str(Path(directory).resolve()), item]
    with tempfile.TemporaryDirectory() as neutral:  # never import mlp from the student's folder
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=time_limit,
                                    cwd=neutral)
        except subprocess.TimeoutExpired:
            return False, f"time limit exceeded ({time_limit:g} s): an endless loop?"
    lines = result.stdout.strip().splitlines()
    try:
        outcome = json.loads(lines[-1])
        return bool(outcome["ok"]), str(outcome["message"])
    except (IndexError, ValueError, KeyError):
        error = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return False, f"the grader crashed: {error}"


def _limit_memory():
    """Cap the grading process's address space, so a runaway allocation fails fast."""
    try:
        import resource

        limit = 8 * 1024**3
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def grade(directory, *, time_limit=60.0, workers=None) -> list[dict]:
    """Grade every item of a student folder made by :func:`make`.

    Each item runs in a separate process with a time limit, so a student module that fails to
    import, crashes or loops forever costs only the affected items.

    Returns
    -------
    list of dict
        One per item: ``name``, ``score``, ``max_score``, ``output`` (a short message).
    """
    items = _read_manifest(directory)
    with ThreadPoolExecutor(max_workers=workers or 2) as pool:
        outcomes = list(pool.map(lambda entry: _grade_in_subprocess(directory, entry[0],
                                                                    time_limit), items))
    return [{"name": name, "score": points if ok else 0, "max_score": points, "output": message}
            for (name, points), (ok, message) in zip(items, outcomes, strict=True)]


def _grade_one(directory, item):
    """Child-process entry: grade one item against the installed reference, print JSON."""
    import mlp as reference

    try:
        student = load_package(Path(directory) / "mlp")
    except BaseException as exc:  # a broken submission: report it, do not crash
        line = str(exc).splitlines()[0] if str(exc) else ""
        return False, f"the package failed to import: {type(exc).__name__}: {line}"
    return check_item(item, student, reference)


def format_results(results) -> str:
    """A table of points per item, and the total."""
    width = max(len(r["name"]) for r in results) if results else 4
    lines = [f"{'item':<{width}}  points  result", "-" * (width + 30)]
    for r in results:
        lines.append(f"{r['name']:<{width}}  {r['score']:>2}/{r['max_score']:<3}  {r['output']}")
    score = sum(r["score"] for r in results)
    total = sum(r["max_score"] for r in results)
    lines += ["-" * (width + 30), f"total: {score}/{total}"]
    return "\n".join(lines)


def results_json(results) -> dict:
    """The autograder format: total score, maximum, and one entry per test."""
    return {"score": sum(r["score"] for r in results),
            "max_score": sum(r["max_score"] for r in results),
            "tests": results}


# -- verify -------------------------------------------------------------------------------


def verify(source=None, *, log=print) -> bool:
    """Check the exercise itself: markers pair up, every item has a grading test, the full
    solution scores everything, and stubbing any one item loses exactly that item.

    Returns
    -------
    bool
        True when everything holds; each problem is reported through ``log``.
    """
    source = _source_dir(source)
    try:
        regions = find_regions(source)
    except MarkerError as exc:
        log(f"markers: {exc}")
        return False
    items = sorted({r.item for r in regions})
    problems = [f"{item}: marked, but there is no grading test" for item in items
                if item not in ITEMS]
    problems += [f"{item}: has a grading test, but nothing is marked" for item in ITEMS
                 if item not in items]
    for p in problems:
        log(p)
    if problems:
        return False

    reference = load_package(source)
    ok = True
    with tempfile.TemporaryDirectory() as scratch:
        make(Path(scratch) / "solution", solution=True, include_forward=True, source=source)
        solution = load_package(Path(scratch) / "solution" / "mlp")
        for item in items:
            passed, message = check_item(item, solution, reference)
            if not passed:
                ok = False
                log(f"{item}: the full solution fails its own test: {message}")
        for i, stubbed in enumerate(items):
            folder = Path(scratch) / f"stub{i}"
            make(folder, only=[stubbed], include_forward=True, source=source)
            package = load_package(folder / "mlp")
            for item in items:
                passed, message = check_item(item, package, reference)
                if item == stubbed and passed:
                    ok = False
                    log(f"{item}: its test passes although the item is stubbed out")
                elif item != stubbed and not passed:
                    ok = False
                    log(f"{item}: fails when only {stubbed} is stubbed: {message}")
    log(f"{len(items)} items, {sum(ITEMS[i].points for i in items)} points: "
        + ("every test discriminates exactly its own item" if ok else "PROBLEMS FOUND"))
    return ok


if __name__ == "__main__":  # the per-item grading process
    _limit_memory()
    ok, message = _grade_one(sys.argv[1], sys.argv[2])
    print(json.dumps({"ok": bool(ok), "message": message}))
