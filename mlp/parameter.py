"""A learnable tensor as an optimizer sees it, and the packing of all of a model's tensors
into one flat vector (and of their gradients into another)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .base import Layer

__all__ = ["Parameter", "pack"]


@dataclass(eq=False)
class Parameter:
    """One learnable tensor of a layer, as an optimizer sees it.

    ``value`` and ``grad`` are the very arrays held in ``layer.params[key]`` and
    ``layer.grads[key]``: updating ``value`` in place updates the layer.

    Attributes
    ----------
    name : str
        Dotted name within the model, e.g. ``"0.W"`` for the weights of the first layer.
    value : ndarray
        The parameter.
    grad : ndarray
        Its gradient, same shape, refreshed by every ``backward``.
    decay : bool
        Whether weight decay / L2 regularisation applies (weights: yes; biases, scales: no).
    owner : Layer or None
        The layer holding the tensor, as ``owner.params[key]``; None for a free-standing
        parameter. Needed only to move the storage (:func:`pack`).
    key : str or None
        The tensor's key in ``owner.params`` and ``owner.grads``.
    """

    name: str
    value: np.ndarray
    grad: np.ndarray
    decay: bool = False
    owner: Layer | None = None
    key: str | None = None

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.value.shape}, dtype={self.value.dtype})"

    def rebind(self, value: np.ndarray, grad: np.ndarray) -> None:
        """Make ``value`` and ``grad`` the storage of this parameter, in its layer too.

        They must hold the same numbers as the present arrays (the caller copies them).
        """
        if self.owner is None:
            raise ValueError(f"{self!r} belongs to no layer, so its storage cannot move")
        self.owner.params[self.key] = self.value = value
        self.owner.grads[self.key] = self.grad = grad

    def __getstate__(self):
        # A layer's tensors are pickled with the layer (whose gradients are pickled as 0, see
        # Layer.__getstate__); here only which of them this is, so that both stay one array.
        state = dict(vars(self))
        owner = self.owner
        if owner is not None and owner.params.get(self.key) is self.value \
                and owner.grads.get(self.key) is self.grad:
            del state["value"], state["grad"]
        return state

    def __setstate__(self, state):
        vars(self).update(state)
        if "value" not in state:  # the owner, unpickled before its state is set here
            self.value, self.grad = self.owner.params[self.key], self.owner.grads[self.key]


def _root(array: np.ndarray) -> np.ndarray:
    """The array that owns the memory ``array`` is a view of (``array`` itself if it owns it)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _flat_view(arrays) -> np.ndarray | None:
    """The 1-D array that ``arrays`` tile end to end, in order, or None if they do not."""
    dtype = arrays[0].dtype
    root = _root(arrays[0])
    if not root.flags.c_contiguous or root.dtype != dtype:
        return None
    whole = root.reshape(-1)
    address = whole.__array_interface__["data"][0]
    start = position = (arrays[0].__array_interface__["data"][0] - address) // dtype.itemsize
    for array in arrays:
        if (array.dtype != dtype or not array.flags.c_contiguous or _root(array) is not root
                or array.__array_interface__["data"][0] != address + position * dtype.itemsize):
            return None
        position += array.size
    return whole[start:position]


def pack(params: list[Parameter]) -> tuple[np.ndarray, np.ndarray] | None:
    """Lay the parameters end to end in one flat vector, and their gradients in another.

    Afterwards every ``p.value`` (and the layer's ``params[key]``) is a view of the flat
    value vector, holding the same numbers as before, and every ``p.grad`` a view of the
    flat gradient vector. An optimizer then updates all parameters with one operation per
    formula and reads all gradients without gathering them first. Parameters that already
    lie end to end (packed by an earlier optimizer) are left where they are; parameters that
    are views of other arrays are never moved, since an earlier optimizer may hold them.

    Parameters
    ----------
    params : list of Parameter

    Returns
    -------
    (theta, g) : two ndarrays of shape (n_params,), or None
        None, with nothing moved, when the parameters cannot share one buffer: mixed
        dtypes, a parameter that belongs to no layer, one tensor listed twice, or arrays
        that are views (packed before, in another order).
    """
    if not params or len({p.value.dtype for p in params}) != 1:
        return None
    theta = _flat_view([p.value for p in params])
    g = _flat_view([p.grad for p in params])
    if theta is not None and g is not None:
        return theta, g
    if (any(p.owner is None or p.value.base is not None or p.grad.base is not None
            for p in params) or len({id(p.value) for p in params}) < len(params)):
        return None
    size = sum(p.value.size for p in params)
    theta = np.empty(size, dtype=params[0].value.dtype)
    g = np.zeros_like(theta)
    offset = 0
    for p in params:
        part = slice(offset, offset + p.value.size)
        offset += p.value.size
        value, grad = theta[part].reshape(p.value.shape), g[part].reshape(p.value.shape)
        value[...], grad[...] = p.value, p.grad
        p.rebind(value, grad)
    return theta, g
