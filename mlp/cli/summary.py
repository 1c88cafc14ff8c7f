"""``mlp summary``: print the layer table and the description of a saved model."""

from __future__ import annotations

from .common import path_arg
from .network import load_model


def add_arguments(summary):
    summary.description = "Print the layer table of a saved model."
    summary.add_argument("--model", required=True, type=path_arg, metavar="MODEL.npz")
    summary.set_defaults(run=run)


def run(args) -> int:
    model, metadata = load_model(args.model)
    if hasattr(model, "model_"):  # a fitted estimator saved from Python
        print(model.model_.summary())
        print(f"estimator: {model!r}")
        if hasattr(model, "feature_names_in_"):
            print(f"features: {', '.join(map(str, model.feature_names_in_))}")
        if hasattr(model, "classes_"):
            print(f"classes: {', '.join(map(str, model.classes_))}")
        print(f"trained: n_iter_={model.n_iter_}, loss_={model.loss_}")
        return 0
    print(model.summary())
    if metadata:
        task = metadata.get("task")
        print(f"task: {task}")
        if metadata.get("feature_names"):
            print(f"features: {', '.join(metadata['feature_names'])}")
        if metadata.get("target_name"):
            print(f"target: {metadata['target_name']}")
        if metadata.get("classes"):
            print(f"classes: {', '.join(map(str, metadata['classes']))}")
        scale = metadata.get("preprocessing", {}).get("scale")
        if scale:
            print(f"scaling: {scale}")
        trained = metadata.get("trained")
        if trained:
            print("trained: " + ", ".join(f"{k}={v}" for k, v in trained.items()))
    return 0
