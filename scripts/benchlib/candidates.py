"""The candidates a workload times: the library, scikit-learn, PyTorch, plain numpy, GEMMs.

Each has an ``epoch()`` method that does one unit of the timed work.
"""

from __future__ import annotations

import functools

import numpy as np
from sklearn.neural_network import MLPClassifier as SklearnMLP

import mlp
from mlp._optional import OptionalPackageError, import_optional
from mlp.trainer import Trainer

try:  # PyTorch is optional: missing, or installed and failing to import, it is left out
    torch = import_optional("torch", needed_for="the PyTorch comparison")
    TORCH_PROBLEM = None
except OptionalPackageError as exc:
    torch, TORCH_PROBLEM = None, str(exc)


@functools.cache
def mnist1d_problem():
    """Why the MNIST-1D workload cannot run here (not installed, or failing to import), or
    None when it can."""
    try:
        import_optional("mnist1d.data", needed_for="the mnist1d data", extra="mnist1d")
    except OptionalPackageError as exc:
        return str(exc)
    return None


def mnist1d_installed():
    """Whether the optional package mnist1d is installed and imports."""
    return mnist1d_problem() is None


def build_ours(sizes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [mlp.Linear(n_in, n_out, rng=rng, dtype=dtype), mlp.ReLU()]
    return mlp.Sequential(layers[:-1])


class Ours:
    """One epoch of the library's own training loop."""

    def __init__(self, sizes, X, y, batch, dtype):
        self.X, self.y = X.astype(dtype), y
        self.model = build_ours(sizes, dtype)
        self.trainer = Trainer(self.model, mlp.SoftmaxCrossEntropyLoss(),
                               mlp.Adam(self.model.parameters(), lr=1e-3), batch_size=batch,
                               rng=0)

    def epoch(self):
        self.trainer.run_epoch(self.X, self.y)


class Sklearn:
    """One epoch of scikit-learn's MLPClassifier through partial_fit."""

    def __init__(self, sizes, X, y, batch):
        self.X, self.y = X.astype(np.float32), y
        self.model = SklearnMLP(hidden_layer_sizes=tuple(sizes[1:-1]), batch_size=batch,
                                alpha=0.0, learning_rate_init=1e-3, solver="adam",
                                random_state=0)
        self.model.partial_fit(self.X[:batch], self.y[:batch], classes=np.unique(y))

    def epoch(self):
        self.model.partial_fit(self.X, self.y)


class Torch:
    """One epoch of a plain PyTorch loop: nn.Sequential, Adam, cross-entropy."""

    def __init__(self, sizes, X, y, batch, lr=1e-3, seed=0):
        torch.manual_seed(seed)
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*layers[:-1])
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.loss = torch.nn.CrossEntropyLoss()
        self.X = torch.from_numpy(X.astype(np.float32))
        self.y = torch.from_numpy(y.astype(np.int64))
        self.batch = batch

    def epoch(self):
        order = torch.randperm(len(self.X))
        X, y = self.X[order], self.y[order]
        for start in range(0, len(X), self.batch):
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss(self.model(X[start:start + self.batch]), y[start:start + self.batch])
            loss.backward()
            self.opt.step()


def adam_update(theta, m, v, tmp, g, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam's step t in place on flat arrays (or slices of them), moments kept unnormalised.

    m and v are sums weighted so that m / w1 and v / w2 are Kingma & Ba's moments; ``tmp`` is
    scratch of the same shape.
    """
    w1 = (1 - beta1**t) / (1 - beta1)
    w2 = (1 - beta2**t) / (1 - beta2)
    m *= beta1
    m += g
    np.square(g, out=tmp)
    v *= beta2
    v += tmp
    np.sqrt(v, out=tmp)
    tmp += eps * w2**0.5
    np.divide(m, tmp, out=tmp)
    tmp *= -lr * w2**0.5 / w1
    theta += tmp


class NumpyLoop:
    """The same training step as one plain numpy loop: no layers, no checks, float32.

    Flat parameter and gradient vectors as the library's optimizer keeps them, a minibatch
    gathered per step, ReLU, fused softmax cross-entropy and Adam with weighted-sum moments:
    what numpy alone costs, so ``mlp / numpy loop`` is the price of the library's structure
    and input checks, and ``sklearn / numpy loop`` the ratio numpy allows at all.
    """

    def __init__(self, sizes, X, y, batch):
        model = build_ours(sizes, np.float32)  # the library's initial weights
        tensors = [p.value for p in model.parameters()]
        self.theta = np.concatenate([t.ravel() for t in tensors])
        self.g = np.zeros_like(self.theta)
        self.m, self.v, self.tmp = (np.zeros_like(self.theta) for _ in range(3))
        self.params, self.grads, offset = [], [], 0
        for t in tensors:
            part = slice(offset, offset + t.size)
            self.params.append(self.theta[part].reshape(t.shape))
            self.grads.append(self.g[part].reshape(t.shape))
            offset += t.size
        self.X, self.y, self.batch = X.astype(np.float32), y, batch
        self.rng = np.random.default_rng(0)
        self.t = 0

    def epoch(self):
        X, y = self.X, self.y
        W1, b1, W2, b2, W3, b3 = self.params
        gW1, gb1, gW2, gb2, gW3, gb3 = self.grads
        zero1, zero2 = np.zeros(len(b1), np.float32), np.zeros(len(b2), np.float32)
        order = self.rng.permutation(len(X))
        for start in range(0, len(X), self.batch):
            rows = order[start:start + self.batch]
            x, labels = X[rows], y[rows]
            n = len(labels)
            ones = np.ones(n, np.float32)  # bias gradients as 1ᵀ·dY, as Linear takes them
            z1 = x @ W1
            z1 += b1
            h1 = np.maximum(z1, zero1)  # against a row of zeros, as ReLU compares
            z2 = h1 @ W2
            z2 += b2
            h2 = np.maximum(z2, zero2)
            u = h2 @ W3
            u += b3
            u -= u.max(axis=1, keepdims=True)
            p = np.exp(u)
            p /= p.sum(axis=1, keepdims=True)
            index = (np.arange(n), labels)
            _ = float(-np.log(p[index]).sum()) / n  # the loss, as the library reports it
            p[index] -= 1
            p *= 1.0 / n
            np.matmul(h2.T, p, out=gW3)
            np.matmul(ones, p, out=gb3)
            d2 = (p @ W3.T) * (h2 > 0)
            np.matmul(h1.T, d2, out=gW2)
            np.matmul(ones, d2, out=gb2)
            d1 = (d2 @ W2.T) * (h1 > 0)
            np.matmul(x.T, d1, out=gW1)
            np.matmul(ones, d1, out=gb1)
            self.adam_step()

    def adam_step(self):
        self.t += 1
        adam_update(self.theta, self.m, self.v, self.tmp, self.g, self.t)


class GemmFloor:
    """The matrix products of a training step and nothing else: forward 3, backward 5."""

    def __init__(self, sizes, X, batch):
        rng = np.random.default_rng(0)
        self.W = [rng.normal(0, 0.05, size=(a, b)).astype(np.float32)
                  for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        self.X = X.astype(np.float32)
        self.batch = batch

    def epoch(self):
        W1, W2, W3 = self.W
        for start in range(0, len(self.X), self.batch):
            x = self.X[start:start + self.batch]
            h1 = x @ W1
            h2 = h1 @ W2
            out = h2 @ W3
            _ = h2.T @ out
            d2 = out @ W3.T
            _ = h1.T @ d2
            d1 = d2 @ W2.T
            _ = x.T @ d1
