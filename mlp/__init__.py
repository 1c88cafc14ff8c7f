"""mlp: multilayer perceptrons in numpy, with every gradient derived by hand.

Layers keep a paired ``forward`` / ``backward``; a :class:`Sequential` chains them; losses,
optimizers and finite-difference gradient checks complete the core. On top of it:
:func:`fit` / :class:`Trainer` (the training loop), ``MLPClassifier`` / ``MLPRegressor``
(scikit-learn estimators), and the modules ``mlp.io`` (model files), ``mlp.autodiff``
(automatic differentiation), ``mlp.datasets`` and ``mlp.exercise`` (course exercises).

Every name is imported on first use (PEP 562): ``import mlp`` loads neither numpy nor
scikit-learn, so the ``mlp`` command starts at once, and ``from mlp import Linear`` loads the
core without scikit-learn, which only the estimators need.
"""

import importlib

__version__ = "0.1.0"

# the module of each public name
_EXPORTS = {
    "activations": ("ELU", "GELU", "Identity", "LeakyReLU", "PReLU", "ReLU", "Sigmoid",
                    "Softmax", "Softplus", "Tanh", "get_activation"),
    "base": ("Layer", "Parameter"),
    "layers": ("Linear", "Dropout", "BatchNorm1d"),
    "sequential": ("Residual", "Sequential"),
    "losses": ("BCEWithLogitsLoss", "MSELoss", "NLLLoss", "PoissonLoss",
               "SoftmaxCrossEntropyLoss", "L2Penalty"),
    "trainer": ("History", "Trainer", "fit"),
    "optim": ("SGD", "Adam", "RMSProp"),
    "estimator": ("MLPClassifier", "MLPRegressor"),
    "gradcheck": ("check_grad_flat", "check_layer", "check_model"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [*_MODULE_OF, "gradcheck", "init", "losses", "optim"]


def __getattr__(name):
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    elif name.isidentifier() and not name.startswith("__"):  # a submodule (never __main__)
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise  # the submodule exists, something it imports does not
            raise AttributeError(f"module 'mlp' has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module 'mlp' has no attribute {name!r}")
    globals()[name] = value  # later look-ups find it without coming here
    return value


def __dir__():
    import pkgutil

    submodules = {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}
    return sorted({*globals(), *__all__, *submodules})
