"""Turn the usual mistakes in a hand-written ``forward``/``backward`` into sentences.

A gradient check compares numbers; some mistakes give right numbers in the check and wrong
training (gradients added up instead of overwritten, a caller's ``dY`` overwritten), and others
stop the check with a numpy traceback that names none of the student's code (``None``
returned, a transposed ``dX``). :class:`BackwardGuard` watches every layer of a model while the
checker runs its forward and backward passes and says what went wrong, naming the layer.
"""

from __future__ import annotations

from contextlib import ExitStack

import numpy as np

from .finite_differences import leaves, patched

__all__ = ["BackwardGuard", "Mistake", "repeat_problems", "stale_cache_problems"]


class Mistake(Exception):
    """A mistake after which the check cannot go on; ``str`` is the sentence for the student."""


_CACHE_HINT = "forward must store what backward reads (e.g. self._X = X) on every call"


def _explain(name, exc, shape, dY):
    """The sentence for an exception raised by a layer's backward."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, AttributeError) or (
            isinstance(exc, TypeError) and "NoneType" in str(exc)):
        return f"{name}: backward could not read what forward should have cached ({text}); " \
               f"{_CACHE_HINT}"
    if isinstance(exc, RuntimeError) and "before forward" in str(exc):
        return f"{name}: forward ran, but backward found nothing cached ({text}); {_CACHE_HINT}"
    return (f"{name}: backward raised {text} (input of shape {shape}, dY of shape "
            f"{getattr(dY, 'shape', None)})")


class BackwardGuard:
    """Watch the forward and backward passes of every leaf layer of ``model``.

    Inside the context, each leaf's ``forward`` notes the shape and dtype of its input and
    whether it wrote into it; each ``backward`` is checked for

    - an exception (a missing cache becomes "forward must store what backward reads"),
    - returning None when dX was asked for, or a dX whose shape is not the input's,
    - a dX of another dtype than the input (float32 from float64),
    - writing into the ``dY`` it was given.

    Mistakes are collected in :attr:`problems`. One that leaves nothing to pass on (no dX, or
    a misshapen one) raises :class:`Mistake` when the layer is inside a container; the layer
    under check itself (the root) returns what it returned and the caller deals with it.

    Parameters
    ----------
    model : Layer
    """

    def __init__(self, model):
        self.model = model
        self.problems: list[str] = []
        self._inputs = {}

    def _say(self, sentence):
        if sentence not in self.problems:
            self.problems.append(sentence)

    def __enter__(self):
        self._stack = ExitStack()
        for name, layer in leaves(self.model):
            label = f"{name}: {layer!r}" if name else repr(layer)
            self._stack.enter_context(patched(layer, "forward", self._forward(layer, label)))
            self._stack.enter_context(patched(layer, "backward", self._backward(layer, label)))
        return self

    def __exit__(self, *exc):
        self._stack.close()
        return False

    def _forward(self, layer, label):
        forward = layer.forward

        def guarded(X, *args, **kwargs):
            kept = X.copy() if isinstance(X, np.ndarray) else None
            Y = forward(X, *args, **kwargs)
            self._inputs[id(layer)] = (np.shape(X), getattr(X, "dtype", None))
            if kept is not None and not np.array_equal(X, kept, equal_nan=True):
                self._say(f"{label}: forward wrote into its input X in place, changing the "
                          "caller's array; compute Y into a new array (np.maximum(X, 0), not "
                          "np.maximum(X, 0, out=X))")
            return Y

        return guarded

    def _backward(self, layer, label):
        backward = layer.backward

        def guarded(dY, *args, **kwargs):
            shape, dtype = self._inputs.get(id(layer), (None, None))
            kept = dY.copy() if isinstance(dY, np.ndarray) else None
            wants_dX = kwargs.get("input_grad", args[0] if args else True)
            try:
                dX = backward(dY, *args, **kwargs)
            except (Mistake, NotImplementedError):
                raise  # NotImplementedError: an exercise stub, which the grader reports
            except Exception as exc:  # the student's code may raise anything
                sentence = _explain(label, exc, shape, dY)
                self._say(sentence)
                raise Mistake(sentence) from exc
            if kept is not None and not np.array_equal(dY, kept, equal_nan=True):
                self._say(f"{label}: backward wrote into dY in place, corrupting the gradient "
                          "its caller passed in; compute dX into a new array (dX = dY * mask, "
                          "not dY *= mask)")
            fatal = None
            if dX is None and wants_dX:
                fatal = f"{label}: backward returned None; it must return dX of shape {shape}"
            elif dX is not None and np.shape(dX) != shape and shape is not None:
                what = (f"dX of shape {np.shape(dX)}" if isinstance(dX, np.ndarray)
                        else f"a {type(dX).__name__}")
                fatal = (f"{label}: backward returned {what}; it must return dX of shape "
                         f"{shape}, the shape of its input X")
            elif dX is not None and getattr(dX, "dtype", dtype) != dtype:
                self._say(f"{label}: backward returned dX of dtype {dX.dtype} for {dtype} "
                          f"input; keep the input's dtype (a {dX.dtype} constant or "
                          f"astype({dX.dtype}) loses precision)")
            if fatal is not None:
                self._say(fatal)
                if layer is not self.model:
                    raise Mistake(fatal)
            return dX

        return guarded


def _same(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-10, atol=1e-300, equal_nan=True)


def repeat_problems(first, second):
    """Sentences for gradients that a second, identical backward changed.

    Parameters
    ----------
    first, second : dict of str to ndarray
        Parameter gradients (by name) after the first and after the second call of
        forward-then-backward on the same input and ``dY``.
    """
    out = []
    for name, g1 in first.items():
        g2 = second[name]
        if _same(g1, g2):
            continue
        key = name.rsplit(".", 1)[-1]
        if np.any(g1 != 0) and _same(2 * np.asarray(g1), g2):
            out.append(f"backward adds into the gradient of {name} instead of overwriting "
                       f"it: a second call with the same dY doubled it; write "
                       f"grads[{key!r}][...] = ..., not +=")
        else:
            out.append(f"a second backward with the same input and dY changed the gradient "
                       f"of {name}: backward must depend only on the latest forward and dY")
    return out


def stale_cache_problems(layer, fresh, X, G, label):
    """A sentence if ``layer``, which has already seen another input, back-propagates
    ``X`` differently from ``fresh``, a copy that has seen nothing: its forward does not
    cache on every call, so backward reads an earlier input.

    Returns
    -------
    list of str
    """
    outcome = []
    for model in (layer, fresh):
        for p in model.parameters():
            p.grad[...] = 0.0  # so that gradients added up instead of overwritten agree
        model.forward(X)
        try:
            dX = model.backward(G.copy())
        except Exception:  # reported by the main pass already
            return []
        outcome.append([dX] + [p.grad.copy() for p in model.parameters()])
    if all(_same(a, b) for a, b in zip(*outcome, strict=True)):
        return []
    return [f"{label}: after a forward on a second input, backward still used an earlier "
            f"one; {_CACHE_HINT}"]
