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

__all__ = [
    "ELU", "GELU", "Identity", "LeakyReLU", "PReLU", "ReLU", "Sigmoid", "Softmax", "Softplus",
    "Tanh", "get_activation",
    "Layer", "Parameter", "Linear", "Dropout", "BatchNorm1d", "Residual", "Sequential",
    "BCEWithLogitsLoss", "MSELoss", "NLLLoss", "SoftmaxCrossEntropyLoss",
    "SGD", "Adam", "RMSProp",
    "check_grad_flat", "check_layer", "check_model",
    "gradcheck", "init", "losses", "optim",
]
