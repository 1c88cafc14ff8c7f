"""Shared model building: the model options, and the network ``train`` and ``gradcheck`` build."""

from __future__ import annotations

from .._text import shown
from ..activations import HIDDEN_ACTIVATIONS, get_activation
from ..init import INITIALIZERS
from ..io import load
from ..layers import BatchNorm1d, Dropout, Linear
from ..sequential import Sequential
from .common import UsageError, fraction, positive_int


def add_model_options(parser):
    group = parser.add_argument_group("model")
    group.add_argument("--hidden", type=positive_int, nargs="*", default=[16], metavar="N",
                       help="hidden layer widths (default: 16); none for a linear model")
    group.add_argument("--activation", nargs="+", default=["relu"], metavar="NAME",
                       help="hidden activation, one for all or one per hidden layer: "
                            f"{', '.join(HIDDEN_ACTIVATIONS)} (default: relu)")
    group.add_argument("--init", default="glorot_uniform", choices=sorted(INITIALIZERS),
                       help="weight initialiser (default: glorot_uniform)")
    group.add_argument("--dropout", type=fraction, default=0.0, metavar="P",
                       help="dropout probability after each hidden layer (default: 0)")
    group.add_argument("--batch-norm", action="store_true",
                       help="batch normalisation after each hidden Linear layer")


def activations(args):
    n_hidden = len(args.hidden)
    names = args.activation
    for name in names:
        if name not in HIDDEN_ACTIVATIONS:
            raise UsageError(f"unknown activation {shown(name)}; expected one of "
                             f"{', '.join(HIDDEN_ACTIVATIONS)}")
    if len(names) == 1:
        return names * n_hidden
    if len(names) != n_hidden:
        raise UsageError(f"--activation got {len(names)} names for {n_hidden} hidden layers; "
                         "give one for all or one per layer")
    return names


def build_model(args, n_in, n_out, rng):
    layers = []
    for width, name in zip(args.hidden, activations(args), strict=True):
        # BatchNorm subtracts the batch mean, which cancels a bias: leave it out
        layers.append(Linear(n_in, width, bias=not args.batch_norm, init=args.init, rng=rng))
        if args.batch_norm:
            layers.append(BatchNorm1d(width))
        layers.append(get_activation(name))
        if args.dropout > 0:
            layers.append(Dropout(args.dropout, rng=rng))
        n_in = width
    layers.append(Linear(n_in, n_out, init=args.init, rng=rng))
    return Sequential(layers)


def load_model(path):
    """A saved network or fitted estimator and its metadata, for ``predict`` and ``summary``."""
    model, metadata = load(path, with_metadata=True)
    if not isinstance(model, Sequential) and not hasattr(model, "model_"):
        raise UsageError(f"{path} holds a single {type(model).__name__} layer; 'mlp predict' "
                         "and 'mlp summary' read networks and estimators saved by "
                         "'mlp train --save' or mlp.io.save")
    return model, metadata
