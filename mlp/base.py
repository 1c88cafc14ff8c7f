"""The contract every layer keeps.

A layer is a function ``Y = f(X; params)`` on a batch of rows. ``forward`` computes ``Y`` and
caches what the derivative needs; ``backward`` receives ``dY = dL/dY`` and returns
``dX = dL/dX``, writing ``dL/dparam`` into ``grads`` (the same arrays every time, so an
optimizer built once keeps seeing the latest gradients).
"""

from __future__ import annotations

import sys

import numpy as np

from .parameter import Parameter, pack

__all__ = ["Activation", "Layer", "Parameter", "as_generator", "check_2d", "issparse",
           "pack"]


def issparse(X) -> bool:
    """Whether ``X`` is a scipy sparse matrix or array.

    Without scipy.sparse imported no such object can exist, so it is not imported here: it
    would add a tenth of a second to the start of every program that uses the library.
    """
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(X)


def as_generator(rng=None) -> np.random.Generator:
    """Turn ``None``, an integer seed or a ``Generator`` into a ``np.random.Generator``.

    ``None`` gives a generator seeded from fresh OS entropy; the global numpy state is never used.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng must be None, an int seed or a numpy.random.Generator, got {type(rng).__name__}"
    )


def finite_number(value, who, name) -> float:
    """A real hyperparameter that must be finite, as a Python float.

    Raises
    ------
    TypeError
        For anything but a real number (a string, a boolean, None).
    ValueError
        For NaN or infinity: ``LeakyReLU: alpha must be finite, got nan``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{who}: {name} must be a real number, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{who}: {name} must be finite, got {value!r}")
    return float(value)


def check_2d(X, who, n_features: int | None = None, *, sparse: bool = False):
    """Check that ``X`` is a 2-D array of shape ``(N, n_features)`` and return it as an array.

    Parameters
    ----------
    X : array-like or scipy sparse matrix/array of shape (N, n_features)
    who : str or object
        Named in the error message: a string, or an object whose ``repr`` is used (built
        only when there is an error, as this runs on every forward pass).
    n_features : int, optional
        The expected number of columns; not checked when ``None``.
    sparse : bool, default False
        Whether the caller takes a scipy sparse input. It is returned in CSR form (CSC
        is kept as it is: both multiply a dense matrix without densifying).

    Raises
    ------
    TypeError
        When ``X`` is sparse and the caller does not take sparse input.
    ValueError
        With a message naming ``who``, what was expected and what came.
    """
    if type(X) is np.ndarray:
        pass  # the common case, on every layer's every forward: no sparse test, no conversion
    elif issparse(X):
        if not sparse:
            who = who if isinstance(who, str) else repr(who)
            raise TypeError(
                f"{who} does not take sparse input (only a Linear layer does, as the first "
                "layer); densify it with X.toarray()"
            )
        if X.format not in ("csr", "csc"):
            X = X.tocsr()
    else:
        X = np.asarray(X)
    if X.ndim == 2 and (n_features is None or X.shape[1] == n_features):
        return X
    who = who if isinstance(who, str) else repr(who)
    if X.ndim != 2:
        expected = f"(N, {n_features})" if n_features is not None else "(N, n_features)"
        hint = " (reshape a single sample with X.reshape(1, -1))" if X.ndim == 1 else ""
        raise ValueError(
            f"{who} expected a 2-D input of shape {expected}, got shape {X.shape}{hint}"
        )
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{who} expected input with {n_features} features, got shape {X.shape}"
        )
    return X


class Layer:
    """Base class of every layer.

    Attributes
    ----------
    params : dict of str to ndarray
        The learnable tensors, e.g. ``{"W": (n_in, n_out), "b": (n_out,)}``; ``{}`` when
        the layer has none.
    grads : dict of str to ndarray
        Same keys and shapes as ``params``; written by ``backward``.
    buffers : dict of str to ndarray
        State that is not learned by gradient descent but belongs to the model, such as
        BatchNorm's running statistics; ``{}`` for most layers.
    training : bool
        Training or evaluation mode (Dropout and BatchNorm behave differently).

    Notes
    -----
    A subclass implements ``forward(X)`` and ``backward(dY, input_grad=True)``. With
    ``input_grad=False`` a layer may skip computing ``dX`` (and return ``None``); a
    ``Sequential`` asks this of its first layer, whose input is the data.
    """

    #: Names of parameters that weight decay and L2 regularisation apply to.
    decay_params: tuple[str, ...] = ()
    #: Input values at which the derivative is discontinuous (e.g. 0 for ReLU); the
    #: gradient checker flags inputs that lie within its step of one.
    kinks: tuple[float, ...] = ()

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.training: bool = True

    # -- the contract --------------------------------------------------------------------
    def forward(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, dY, input_grad: bool = True):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, X):
        return self.forward(X)

    # -- structure -----------------------------------------------------------------------
    def children(self) -> list[Layer]:
        """The layers this layer contains (empty for a plain layer)."""
        return []

    def parameters(self, prefix: str = "") -> list[Parameter]:
        """All learnable tensors of this layer and the layers inside it, in a flat list."""
        own = [
            Parameter(prefix + key, value, self.grads[key], key in self.decay_params,
                      owner=self, key=key)
            for key, value in self.params.items()
        ]
        for i, child in enumerate(self.children()):
            own.extend(child.parameters(prefix=f"{prefix}{i}."))
        return own

    def named_buffers(self, prefix: str = "") -> list[tuple[str, np.ndarray]]:
        """All buffers of this layer and the layers inside it, as (dotted name, array)."""
        own = [(prefix + key, value) for key, value in self.buffers.items()]
        for i, child in enumerate(self.children()):
            own.extend(child.named_buffers(prefix=f"{prefix}{i}."))
        return own

    def copy_weights(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Copies of every parameter value and buffer (BatchNorm's running statistics), in
        the order of :meth:`parameters` and :meth:`named_buffers`; for :meth:`set_weights`."""
        return ([p.value.copy() for p in self.parameters()],
                [value.copy() for _, value in self.named_buffers()])

    def set_weights(self, weights) -> Layer:
        """Write back what :meth:`copy_weights` returned, in place (optimizers keep seeing
        the same arrays)."""
        values, buffers = weights
        for p, value in zip(self.parameters(), values, strict=True):
            p.value[...] = value
        for (_, buffer), value in zip(self.named_buffers(), buffers, strict=True):
            buffer[...] = value
        return self

    #: Private attributes besides arrays and shapes that describe the last batch (a flag of
    #: how it was normalised, ...): part of the cache (see :meth:`clear_cache`).
    _batch_attributes: tuple[str, ...] = ()

    def _is_cache(self, name, value) -> bool:
        """Whether attribute ``name`` holds what ``forward`` kept of the last batch: a private
        array (``_X``, ``_Y``, ``_mask``, ...), sparse matrix or shape, or a name of
        :attr:`_batch_attributes`."""
        return name.startswith("_") and value is not None and (
            isinstance(value, (np.ndarray, tuple)) or issparse(value)
            or name in self._batch_attributes)

    def clear_cache(self) -> Layer:
        """Forget what ``forward`` kept for ``backward``, here and in every layer inside.

        The cache is the last batch and what was computed from it (see :meth:`_is_cache`).
        Parameters, gradients and buffers live in their dicts and stay. ``backward`` then
        raises, as before any ``forward``. A pickle of a layer never holds the cache.
        """
        for name, value in list(vars(self).items()):
            if self._is_cache(name, value):
                setattr(self, name, None)
        for child in self.children():
            child.clear_cache()
        return self

    def __getstate__(self):
        # parameters and configuration only: the rows last seen stay out of every pickle and
        # copy (the children pickle through this method too), and so do the gradients of the
        # last batch, from which its rows can be read back (dW = Xᵀ·dY, db = Σₙ dY)
        state = {name: None if self._is_cache(name, value) else value
                 for name, value in vars(self).items()}
        state["grads"] = {key: np.zeros_like(grad) for key, grad in self.grads.items()}
        return state

    def n_params(self) -> int:
        """The number of learnable scalars."""
        return sum(p.value.size for p in self.parameters())

    def output_width(self, n_in: int) -> int:
        """The number of output features for ``n_in`` input features (unchanged by default)."""
        return n_in

    # -- modes ---------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Layer:
        """Switch this layer and every layer inside it to training mode (or evaluation mode)."""
        self.training = bool(mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Layer:
        """Switch to evaluation mode; the same as ``train(False)``."""
        return self.train(False)

    # -- helpers for subclasses ----------------------------------------------------------
    def _not_ready(self) -> RuntimeError:
        return RuntimeError(f"{self!r}: backward called before forward")

    def _check_dY(self, dY, shape) -> None:
        if getattr(dY, "shape", None) != shape:
            raise ValueError(
                f"{self!r}: backward expected dY of shape {shape} (the shape of the output), "
                f"got {getattr(dY, 'shape', type(dY).__name__)}"
            )

    def _zero_grads(self) -> None:
        self.grads = {key: np.zeros_like(value) for key, value in self.params.items()}

    def config(self) -> dict:
        """The constructor arguments that rebuild this layer (without its weights).

        Used to save a model as JSON; containers add their children separately.
        """
        return {}

    def extra_repr(self) -> str:
        """The arguments shown inside ``repr``; subclasses override it."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Activation(Layer):
    """The base of every activation layer (:mod:`mlp.activations`): the cache and its checks."""

    def _cache_input(self, X):
        X = check_2d(X, self)
        self._X = X
        return X

    def _cached(self, dY, cached):
        """Return the cached array after checking that forward ran and ``dY`` fits it."""
        if cached is None:
            raise self._not_ready()
        self._check_dY(dY, cached.shape)
        return cached

    def __init__(self):
        super().__init__()
        self._X = None
        self._Y = None
