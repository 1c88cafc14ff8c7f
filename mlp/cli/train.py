"""``mlp train``: train a network and report its scores."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import numpy as np

from ..callbacks import ModelCheckpoint
from ..datasets import BUILTIN
from ..diagnostics import Diagnostics
from ..io import save, write_atomic
from ..losses import MSELoss, SoftmaxCrossEntropyLoss
from ..optim import SGD, Adam, RMSProp
from ..trainer import Trainer
from . import resume
from .common import (
    UsageError,
    batch_size,
    check_destination,
    check_distinct,
    non_negative_float,
    path_arg,
    positive_float,
    positive_int,
    threads,
)
from .data import add_data_options, prepare, targets_for_loss
from .network import activations, add_model_options, build_model
from .steering import (
    SCHEDULE_HELP,
    lr_schedule,
    signal_words,
    signals_interrupt,
    training_callbacks,
)

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam")


def add_training_options(parser):
    group = parser.add_argument_group("training")
    group.add_argument("--optimizer", default="adam", choices=OPTIMIZERS,
                       help="sgd, momentum (0.9), nesterov (0.9), rmsprop or adam (default)")
    group.add_argument("--lr", type=positive_float, default=0.01,
                       help="learning rate (default: 0.01)")
    group.add_argument("--epochs", type=positive_int, default=200,
                       help="passes over the training data (default: 200)")
    group.add_argument("--batch-size", type=batch_size, default=16,
                       help="minibatch size; 0 or 'full' for full-batch gradient descent, "
                            "1 for per-example SGD (default: 16)")
    group.add_argument("--weight-decay", type=non_negative_float, default=0.0,
                       help="the optimizer's weight decay (decoupled for adam)")
    group.add_argument("--l2", type=non_negative_float, default=0.0, metavar="GAMMA",
                       help="add GAMMA·Σ‖W‖² to the loss (the weights, not the biases)")
    group.add_argument("--early-stopping", type=positive_int, nargs="?", const=10,
                       default=None, metavar="PATIENCE",
                       help="stop when the validation score has not improved for PATIENCE "
                            "epochs (default 10) and keep the best epoch's weights")
    group.add_argument("--lr-schedule", type=lr_schedule, metavar="SPEC",
                       help=f"change the learning rate as training goes: {SCHEDULE_HELP}")
    group.add_argument("--clip-grad", type=positive_float, metavar="NORM",
                       help="rescale each step's gradients so that their global norm is at "
                            "most NORM (their direction is kept)")
    group.add_argument("--threads", type=threads, default="auto", metavar="N",
                       help="BLAS threads while training: 'auto' (default) keeps a limit set "
                            "by OMP_NUM_THREADS and the like in the environment, else uses one "
                            "for small networks and the cores other processes leave free for "
                            "larger ones; N uses N, also over such a limit (capped at the "
                            "cores this process may run on)")


def add_arguments(train):
    train.description = "Train a network and report its accuracy (or R² for a numeric target)."
    add_data_options(train)
    add_model_options(train)
    add_training_options(train)
    out = train.add_argument_group("output")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    out.add_argument("--verbose", action="store_true", help="print a line per epoch")
    out.add_argument("--save", type=path_arg, metavar="MODEL.npz",
                     help="write the trained model")
    out.add_argument("--plot", type=path_arg, metavar="OUT.png",
                     help="write the loss, score and learning-rate curves (and the "
                          "decision regions for 2-feature data); needs matplotlib")
    out.add_argument("--json", type=path_arg, metavar="METRICS.json",
                     help="write the final metrics as JSON ('-': standard output)")
    out.add_argument("--log-csv", type=path_arg, metavar="PATH",
                     help="write a row per epoch (losses, scores, learning rate, seconds); the "
                          "file is rewritten whole and atomically after every epoch, so it is "
                          "complete up to the last finished epoch even if training stops")
    out.add_argument("--diagnostics", type=positive_int, nargs="?", const=10, metavar="EVERY",
                     help="record per-layer gradient, update and activation statistics every "
                          "EVERY steps (default 10): print the table and advice, store them in "
                          "--json, and with --plot draw the gradient flow to OUT_gradients.png")
    resume.add_checkpoint_options(train, out)
    train.set_defaults(run=run)


def _optimizer(args, params):
    name, lr, decay = args.optimizer, args.lr, args.weight_decay
    if name == "adam":
        return Adam(params, lr=lr, weight_decay=decay)
    if name == "rmsprop":
        return RMSProp(params, lr=lr, weight_decay=decay)
    if name == "sgd":
        return SGD(params, lr=lr, weight_decay=decay)
    return SGD(params, lr=lr, momentum=0.9, nesterov=(name == "nesterov"), weight_decay=decay)


def _score(model, task, X, y_loss):
    """Accuracy, or R² (the same on the standardised target as on the original one)."""
    model.eval()
    output = model.forward(X)
    model.train()
    if task == "classification":
        return float(np.mean(output.argmax(axis=1) == y_loss))
    from sklearn.metrics import r2_score  # here: classification needs no scikit-learn

    return float(r2_score(y_loss, output[:, 0]))


def _flow_path(plot):
    """Where --diagnostics draws the gradient flow: beside the --plot figure."""
    path = Path(plot)
    return str(path.with_name(f"{path.stem}_gradients{path.suffix or '.png'}"))


def _report_diagnostics(diagnostics, metrics):
    """Print the latest per-layer table and the advice; store all rows in the metrics."""
    if diagnostics.initial_loss is not None:
        print(f"initial loss {diagnostics.initial_loss:.4f}" + (
            "" if diagnostics.expected_loss is None
            else f" (expected {diagnostics.expected_loss:.4f} = ln C with small weights)"))
    print(diagnostics.table())
    advice = diagnostics.advice()
    for line in advice:
        print(f"advice: {line}")
    metrics["diagnostics"] = {"every": diagnostics.every,
                              "initial_loss": diagnostics.initial_loss,
                              "expected_initial_loss": diagnostics.expected_loss,
                              "advice": advice, "rows": diagnostics.rows}


def _report_stop(history, keeper, signum, elapsed, metric):
    """Say why training stopped and whose weights the model holds, with that epoch's losses.

    One line on stderr when a signal or Ctrl-C stopped it; the rest on stdout.
    """
    label = {"val_score": f"validation {metric}", "loss": "training loss"}[keeper.monitor]
    done = f"{history.epochs} epoch{'s' * (history.epochs != 1)} in {elapsed:.2f}s"
    reason = history.stop_reason
    if history.interrupted:
        word, name = signal_words(signum) if signum else ("interrupted", "Ctrl-C")
        print(f"stopped: {word} ({name}) after {done}")
        best = "" if history.kept_epoch is None else f" (epoch {history.kept_epoch + 1})"
        how = f"{word} by {name}" if signum else "interrupted"
        print(f"{how} after {history.epochs} epochs: keeping the best model so far{best}",
              file=sys.stderr)
    elif reason == "early stopping":
        print(f"stopped: early stopping at epoch {keeper.stopped_epoch + 1}: the {label} did "
              f"not improve for {keeper.wait} epochs ({done})")
    elif reason == "non-finite":
        print(f"stopped: {history.stop_message} ({done})")
    else:
        print(f"stopped: all {done}")
    kept = history.kept_epoch
    if kept is None:
        print("kept: the weights reached in the unfinished epoch" if history.interrupted
              else "kept: the initial weights")
        return
    which = "the last" if kept == history.epochs - 1 else f"the best by {label}"
    line = f"kept: the weights of epoch {kept + 1} ({which}): training loss " \
           f"{history.loss[kept]:.4f}"
    if history.val_loss:
        line += f", validation loss {history.val_loss[kept]:.4f}"
    print(line)


def run(args) -> int:
    # refuse unwritable destinations now, not after a long training run
    flow = _flow_path(args.plot) if args.plot and args.diagnostics else None
    outputs = (("--save", args.save), ("--json", args.json), ("--plot", args.plot),
               ("--log-csv", args.log_csv), ("--plot's gradient flow", flow))
    check_distinct((*outputs, ("--checkpoint", args.checkpoint)))
    # --checkpoint may name the --resume file: the resumed run goes on writing it
    check_distinct(outputs, inputs=(("--resume", args.resume),))
    for flag, path in (("--save", args.save), ("--json", args.json), ("--plot", args.plot),
                       ("--plot", flow), ("--log-csv", args.log_csv)):
        if path:
            check_destination(path, flag, stdout=flag == "--json")
    resume.check_outputs(args)
    checkpoint = resume.take_options(args)  # the saved run's options, before the data
    check_distinct((*outputs, ("--checkpoint", args.checkpoint)),  # --data is known now
                   inputs=(("--data", args.data if args.data not in BUILTIN else None),))
    if args.plot:
        try:
            from ..plotting import require_matplotlib

            require_matplotlib()
        except ImportError as exc:
            raise UsageError(f"--plot: {exc}") from None
    prep = prepare(args)
    task, classes, rng = prep["task"], prep["classes"], prep["rng"]
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = prep["train"], prep["val"], \
        prep["test"]
    preprocessing = prep["preprocessing"]
    n_out = len(classes) if task == "classification" else 1
    model = checkpoint.model if checkpoint else build_model(args, X_train.shape[1], n_out, rng)
    loss = SoftmaxCrossEntropyLoss() if task == "classification" else MSELoss()
    metric = "accuracy" if task == "classification" else "R²"
    optimizer = _optimizer(args, model.parameters())

    def score(model_, X, y_loss):
        return _score(model_, task, X, y_loss)

    y_train, y_val, y_test = (None if y is None else targets_for_loss(task, y, preprocessing)
                              for y in (y_train, y_val, y_test))

    data = prep["data"]
    print(f"data: {args.data} ({len(data.X)} samples, {data.X.shape[1]} features, "
          + (f"{n_out} classes)" if task == "classification" else "numeric target)")
          + f": {len(X_train)} to train on, {0 if X_val is None else len(X_val)} to validate, "
          f"{0 if X_test is None else len(X_test)} to test")
    widths = [X_train.shape[1], *args.hidden, n_out]
    print(f"model: {' -> '.join(map(str, widths))}, {', '.join(activations(args)) or 'linear'}"
          f", {args.optimizer} lr={args.lr:g}, up to {args.epochs} epochs", flush=True)

    diagnostics = Diagnostics(every=args.diagnostics) if args.diagnostics else None
    validation = None if X_val is None else (X_val, y_val)
    callbacks, keeper = training_callbacks(args, optimizer, score=score,
                                           train=(X_train, y_train), validation=validation,
                                           metric=metric)
    preparation = {"task": task, "classes": classes, "feature_names": data.feature_names,
                   "target_name": data.target_name, "preprocessing": preprocessing}
    digest = resume.data_digest(X_train, y_train, X_val, y_val, X_test, y_test)
    saver = [] if not args.checkpoint else [ModelCheckpoint(
        args.checkpoint, monitor=keeper.monitor, save_best_only=args.checkpoint_every is None,
        every=args.checkpoint_every or 1,
        metadata=resume.run_metadata(args, digest, preparation))]
    trainer = Trainer(model, loss, optimizer, batch_size=args.batch_size, rng=rng, l2=args.l2,
                      score=score if validation is not None else None,
                      callbacks=callbacks + ([diagnostics] if diagnostics else []) + saver,
                      threads=args.threads)
    if checkpoint:
        resume.restore(checkpoint, trainer, digest, preparation, args,
                       validated=X_val is not None)
    epochs = args.epochs - (checkpoint.epoch if checkpoint else 0)
    start = time.perf_counter()
    with signals_interrupt(trainer) as signals:
        try:
            history = trainer.fit(X_train, y_train, epochs=epochs, validation_data=validation)
        finally:  # from here on a signal waits until the outputs are written
            signals.training = False
        elapsed = time.perf_counter() - start
        model.eval()
        signum = signals.first if history.interrupted and signals.first != signal.SIGINT \
            else None
        _report_stop(history, keeper, signum, elapsed, metric)

        kept = history.kept_epoch
        metrics = {"task": task, "epochs": history.epochs, "seconds": round(elapsed, 3),
                   "stop_reason": history.stop_reason,
                   "kept_epoch": None if kept is None else kept + 1,
                   "loss": None if kept is None else history.loss[kept],
                   "interrupted": history.interrupted}
        for name, (X, y) in (("train", (X_train, y_train)), ("val", (X_val, y_val)),
                             ("test", (X_test, y_test))):
            if X is not None:
                value = score(model, X, y)
                metrics[f"{name}_{'accuracy' if task == 'classification' else 'r2'}"] = value
                print(f"{name} {metric}: {value:.4f}")

        if diagnostics is not None:
            _report_diagnostics(diagnostics, metrics)
        if args.save:
            metadata = {"task": task, "classes": classes, "feature_names": data.feature_names,
                        "target_name": data.target_name, "preprocessing": preprocessing,
                        "trained": {"data": args.data, "epochs": history.epochs, "seed": args.seed,
                                    "optimizer": args.optimizer, "lr": args.lr},
                        "metrics": metrics}
            save(model, args.save, metadata=metadata)
            print(f"model saved to {args.save}")
        if args.json:
            write_atomic(args.json, json.dumps(metrics, indent=2) + "\n")
        if args.log_csv:
            print(f"epoch log written to {args.log_csv}")
        if args.plot:
            _plot(args, history, metric, flow, task, (model, X_train, y_train, data, classes))
        if history.interrupted:
            return 128 + signum if signum else 130
        if signals.first is not None:  # came after training: the outputs are complete
            name = signal.Signals(signals.first).name
            print(f"mlp train: stopped by {name} after training; the outputs were written",
                  file=sys.stderr)
            return 128 + signals.first
        return 0


def _plot(args, history, metric, flow, task, fitted):
    from ..plotting import plot_training

    model, X_train, y_train, data, classes = fitted
    curves = {"loss": history.loss, "val_loss": history.val_loss,
              "train_score": history.metrics.get("train_score", []),
              "val_score": history.val_score, "lr": history.lr}
    boundary = None
    if task == "classification" and X_train.shape[1] == 2:
        def predict(points):
            return model.forward(points).argmax(axis=1)

        boundary = (predict, X_train, y_train, data.feature_names, classes)
    plot_training(args.plot, curves, metric=metric, boundary=boundary)
    print(f"figure saved to {args.plot}")
    if flow is not None and history.diagnostics:
        from ..plotting import plot_gradient_flow

        plot_gradient_flow(flow, history.diagnostics)
        print(f"gradient-flow figure saved to {flow}")
