"""mlp: multilayer perceptrons in numpy, with every gradient derived by hand.

Layers keep a paired ``forward`` / ``backward``; a :class:`Sequential` chains them; losses,
optimizers and finite-difference gradient checks complete the core.
"""

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
from .layers import BatchNorm1d, Dropout, Linear, Residual
from .losses import BCEWithLogitsLoss, MSELoss, NLLLoss, SoftmaxCrossEntropyLoss
from .optim import SGD, Adam, RMSProp
from .sequential import Sequential

__version__ = "0.1.0"


def __getattr__(name):
    # the estimators pull in scikit-learn: imported on first use, not with the core
    if name in ("MLPClassifier", "MLPRegressor"):
        from . import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'mlp' has no attribute {name!r}")


__all__ = [
    "ELU", "GELU", "Identity", "LeakyReLU", "PReLU", "ReLU", "Sigmoid", "Softmax", "Softplus",
    "Tanh", "get_activation",
    "Layer", "Parameter", "Linear", "Dropout", "BatchNorm1d", "Residual", "Sequential",
    "BCEWithLogitsLoss", "MSELoss", "NLLLoss", "SoftmaxCrossEntropyLoss",
    "SGD", "Adam", "RMSProp", "MLPClassifier", "MLPRegressor",
    "check_grad_flat", "check_layer", "check_model",
    "gradcheck", "init", "losses", "optim",
]
