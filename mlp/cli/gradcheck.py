"""``mlp gradcheck``: check the gradients of the model ``mlp train`` would build."""

from __future__ import annotations

from ..gradcheck import check_model
from ..losses import MSELoss, SoftmaxCrossEntropyLoss
from .common import positive_float, positive_int
from .data import add_data_options, prepare, targets_for_loss
from .network import add_model_options, build_model


def add_arguments(gradcheck):
    gradcheck.description = (
        "Build the model 'mlp train' would build with the same flags, in float64, and compare "
        "every parameter gradient with central differences (one-sided at kinks). An entry "
        "passes within the relative tolerance, within the round-off of the difference, or "
        "against the difference extrapolated to step 0 by Ridders' method, within that "
        "value's error estimate; the report says which. "
        "Exit status 1 when a gradient is off.")
    add_data_options(gradcheck)
    add_model_options(gradcheck)
    gradcheck.add_argument("--samples", type=positive_int, default=32,
                           help="rows of the training data to check on (default: 32)")
    gradcheck.add_argument("--tol", type=positive_float, default=1e-6,
                           help="largest relative error that passes (default: 1e-6)")
    gradcheck.set_defaults(run=run)


def run(args) -> int:
    prep = prepare(args)
    X_train, y_train = prep["train"]
    n = min(args.samples, len(X_train))
    X, y = X_train[:n], y_train[:n]
    task = prep["task"]
    n_out = len(prep["classes"]) if task == "classification" else 1
    model = build_model(args, X.shape[1], n_out, prep["rng"])
    loss = SoftmaxCrossEntropyLoss() if task == "classification" else MSELoss()
    report = check_model(model, loss, X, targets_for_loss(task, y, prep["preprocessing"]),
                         tol=args.tol)
    print(report)
    return 0 if report.ok else 1
