"""The containers: Sequential (a chain of layers) and Residual (a chain with a skip path)."""

from __future__ import annotations

import numpy as np

from .base import Layer, check_2d

__all__ = ["Residual", "Sequential"]


class Sequential(Layer):
    """A chain of layers: forward through them in order, backward in reverse.

    Parameters
    ----------
    *layers : Layer
        The layers, first to last; a single list or tuple of layers is accepted too.

    Examples
    --------
    >>> import mlp
    >>> model = mlp.Sequential([mlp.Linear(4, 16, rng=0), mlp.ReLU(), mlp.Linear(16, 3, rng=1)])
    >>> model
    Sequential(
      (0): Linear(4 -> 16)
      (1): ReLU()
      (2): Linear(16 -> 3)
    )
    """

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential: item {i} is a {type(layer).__name__}, not a Layer"
                )
        self.layers: list[Layer] = list(layers)

    def children(self):
        return self.layers

    def forward(self, X):
        """Run ``X`` through every layer.

        Parameters
        ----------
        X : array-like or scipy sparse matrix/array of shape (N, n_in)
            Sparse input needs a first layer that takes it (:class:`mlp.Linear`).

        Returns
        -------
        Y : ndarray of shape (N, n_out)

        Raises
        ------
        ValueError
            When ``X`` is not 2-D, has the wrong number of features, or holds NaN or infinity.
        TypeError
            When ``X`` is sparse and the first layer does not take sparse input.
        """
        X = check_2d(X, "Sequential", self.n_features_in, sparse=True)
        if X.dtype.kind not in "biuf":
            raise ValueError(f"Sequential: input must be numeric, got dtype {X.dtype}")
        if not np.isfinite(X if isinstance(X, np.ndarray) else X.data).all():
            raise ValueError("Sequential: input contains NaN or infinity")
        for layer in self.layers:
            X = layer.forward(X)
        return X

    def backward(self, dY, input_grad=True):
        """Back-propagate ``dY = ∂L/∂Y`` through the layers in reverse order.

        Each layer turns the gradient with respect to its output into the gradient with
        respect to its input (the chain rule, one factor per layer) and fills its own
        parameter gradients on the way.

        Parameters
        ----------
        dY : ndarray of shape (N, n_out)
        input_grad : bool, default True
            When False, the first layer skips ``dX`` (its input is the data, whose gradient
            nobody needs) and None is returned; the training loop asks for this.

        Returns
        -------
        dX : ndarray of shape (N, n_in), or None
        """
        for layer in reversed(self.layers[1:]):
            dY = layer.backward(dY)
        if not self.layers:
            return dY if input_grad else None
        return self.layers[0].backward(dY, input_grad=input_grad)

    # -- container protocol ----------------------------------------------------------
    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(self.layers[index])
        return self.layers[index]

    def append(self, layer: Layer) -> Sequential:
        """Add ``layer`` at the end; returns the model."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential: cannot append a {type(layer).__name__}, not a Layer")
        self.layers.append(layer)
        return self

    # -- description -----------------------------------------------------------------
    @property
    def n_features_in(self) -> int | None:
        """The input width, read off the first layer that fixes it (None if none does)."""
        for layer in self.layers:
            width = getattr(layer, "n_features_in", None) or getattr(layer, "n_in", None)
            if width is not None:
                return width
            if layer.params:
                return None
        return None

    def output_width(self, n_in):
        for layer in self.layers:
            n_in = layer.output_width(n_in)
        return n_in

    def summary(self, n_in: int | None = None) -> str:
        """A table of the layers with their output shapes and parameter counts.

        Parameters
        ----------
        n_in : int, optional
            Input width; by default read off the first Linear layer.

        Returns
        -------
        str
        """
        width = n_in if n_in is not None else self.n_features_in
        rows = [("Layer", "Output shape", "Params")]
        for i, layer in enumerate(self.layers):
            if width is not None:
                width = layer.output_width(width)
            shape = f"(N, {width})" if width is not None else "?"
            rows.append((f"{i}: {layer!r}", shape, f"{layer.n_params():,}"))
        total = self.n_params()
        widths = [max(len(r[c]) for r in rows) for c in range(3)]

        def fmt(row):
            return (f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}")

        rule = "-" * len(fmt(rows[0]))
        lines = [fmt(rows[0]), rule, *(fmt(r) for r in rows[1:]), rule,
                 f"Total params: {total:,}"]
        return "\n".join(lines)

    def __repr__(self):
        if not self.layers:
            return "Sequential()"
        inner = "\n".join(
            f"  ({i}): " + repr(layer).replace("\n", "\n  ") for i, layer in enumerate(self.layers)
        )
        return f"Sequential(\n{inner}\n)"


class Residual(Layer):
    """A skip connection around a sub-network F: ``Y = X + F(X)``.

    Parameters
    ----------
    *layers : Layer
        The layers of F, in order (a single list is accepted too). F must map n features to
        the same n features.

    Examples
    --------
    >>> block = Residual(Linear(16, 16), Tanh())
    """

    def __init__(self, *layers):
        super().__init__()
        self.inner = Sequential(*layers)
        if not self.inner.layers:
            raise ValueError("Residual: needs at least one inner layer")
        n_in = self.inner.n_features_in
        if n_in is not None:
            n_out = self.inner.output_width(n_in)
            if n_out != n_in:
                raise ValueError(
                    f"Residual: the inner layers map {n_in} features to {n_out}; y = x + F(x) "
                    "needs F to keep the width"
                )
        self.n_in = n_in

    def children(self):
        return self.inner.layers

    def __len__(self):
        return len(self.inner)

    def __iter__(self):
        return iter(self.inner)

    def __getitem__(self, index):
        return self.inner[index]

    def forward(self, X):
        """Y = X + F(X).

        Parameters
        ----------
        X : ndarray of shape (N, D)

        Returns
        -------
        Y : ndarray of shape (N, D)
        """
        X = check_2d(X, "Residual", self.n_in)
        F = self.inner.forward(X)
        if F.shape != X.shape:
            raise ValueError(
                f"Residual: the inner layers turned input of shape {X.shape} into "
                f"{F.shape}; y = x + F(x) needs the same shape"
            )
        self._shape = X.shape
        return X + F

    def backward(self, dY, input_grad=True):
        """The input reaches Y along two paths, the identity and F, and gradients add at a
        branch: ``dX = dY + dF/dX·dY``, i.e. dY itself plus F's own backward of dY.

        The skip path hands dY to lower layers undiminished, however deep the network: the
        reason residual networks train where plain deep ones stall.

        Parameters
        ----------
        dY : ndarray of shape (N, D)

        Returns
        -------
        dX : ndarray of shape (N, D)
        """
        if getattr(self, "_shape", None) is None:
            raise self._not_ready()
        self._check_dY(dY, self._shape)
        # BEGIN SOLUTION: gradients add at the branch: dY + F's backward of dY
        d_inner = self.inner.backward(dY, input_grad=input_grad)
        return dY + d_inner if input_grad else None
        # END SOLUTION

    def output_width(self, n_in):
        return n_in

    def extra_repr(self):
        return ", ".join(repr(layer) for layer in self.inner.layers)
