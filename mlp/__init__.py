"""mlp: multilayer perceptrons in numpy, with every gradient derived by hand.

Layers keep a paired ``forward`` / ``backward``; a :class:`Sequential` chains them; losses,
optimizers and finite-difference gradient checks complete the core. On top of it:
:func:`fit` / :class:`Trainer` (the training loop), ``MLPClassifier`` / ``MLPRegressor``
(scikit-learn estimators), and the modules ``mlp.io`` (model files), ``mlp.autodiff``
(automatic differentiation), ``mlp.datasets`` and ``mlp.exercise`` (course exercises).
"""

import importlib

from . import gradcheck, init, losses, optim
from .activations import (
    ELU,
    GELU,
    Identity,
    LeakyReLU,
    PReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    get_activation,
)
from .base import Layer, Parameter
from .gradcheck import check_grad_flat, check_layer, check_model
from .layers import BatchNorm1d, Dropout, Linear
from .losses import (
    BCEWithLogitsLoss,
    L2Penalty,
    MSELoss,
    NLLLoss,
    PoissonLoss,
    SoftmaxCrossEntropyLoss,
)
from .optim import SGD, Adam, RMSProp
from .sequential import Residual, Sequential
from .trainer import History, Trainer, fit

__version__ = "0.1.0"


_LAZY_MODULES = ("autodiff", "cli", "datasets", "estimator", "exercise", "io", "plotting")


def __getattr__(name):
    # scikit-learn, matplotlib and the rest load on first use, not with the core
    if name in ("MLPClassifier", "MLPRegressor"):
        return getattr(importlib.import_module(".estimator", __name__), name)
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'mlp' has no attribute {name!r}")


__all__ = [
    "ELU", "GELU", "Identity", "LeakyReLU", "PReLU", "ReLU", "Sigmoid", "Softmax", "Softplus",
    "Tanh", "get_activation",
    "Layer", "Parameter", "Linear", "Dropout", "BatchNorm1d", "Residual", "Sequential",
    "BCEWithLogitsLoss", "MSELoss", "NLLLoss", "PoissonLoss", "SoftmaxCrossEntropyLoss",
    "L2Penalty",
    "History", "Trainer", "fit",
    "SGD", "Adam", "RMSProp", "MLPClassifier", "MLPRegressor",
    "check_grad_flat", "check_layer", "check_model",
    "gradcheck", "init", "losses", "optim",
]
