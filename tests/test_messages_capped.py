"""Messages that quote what came from outside (a command-line argument, a model file, the
labels of the data) quote a line's worth of it, however long it is."""

import json

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import mlp
from mlp.cli import main
from mlp.io import ModelFileError, load, save

HUGE = "x" * 3_000_000
BIG = 10**4000


def _short(message, longest=400):
    assert len(message) < longest, message[:1000]
    assert "x" * 201 not in message, message[:1000]


@pytest.mark.parametrize("argv", [
    ["train", "--data", "iris", "--lr", HUGE],
    ["train", "--data", "iris", "--lr-schedule", HUGE],
    ["train", "--data", "iris", "--lr-schedule", f"step:{HUGE}"],
    ["train", "--data", "iris", "--hidden", HUGE],
    ["train", "--data", "iris", "--activation", HUGE, "--epochs", "1"],
    ["train", "--data", "iris", HUGE],
    ["train", "--data", "iris", "--epochs", "1", "--unknown-flag", HUGE],
    ["train", "--data", HUGE],
], ids=["lr", "schedule", "schedule-field", "hidden", "activation", "positional", "unknown",
        "dataset"])
def test_a_huge_argument_is_quoted_in_one_short_line(capsys, argv):
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own refusals
        status = exc.code
    assert status == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines[:3]
    assert lines[0].startswith("mlp"), lines[0][:1000]
    _short(lines[0], 600)  # some name every choice they had


@pytest.fixture(scope="module")
def model_parts(tmp_path_factory):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), np.repeat(["a", "b"], 15)
    est = mlp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning):  # not converged in 2 epochs
        est.fit(X, y)
    path = tmp_path_factory.mktemp("model") / "m.npz"
    save(est, path)
    with np.load(path) as archive:
        return dict(archive)


@pytest.mark.parametrize("change", [
    lambda e: e["params"].update(solver=HUGE),
    lambda e: e["params"].update({HUGE: 1}),
    lambda e: e["params"].update(hidden_layer_sizes={"tuple": [HUGE]}),
    lambda e: e["params"].update(random_state={"Generator": {"bit_generator": HUGE}}),
    lambda e: e["params"].update(alpha={"ndarray": [HUGE], "dtype": HUGE}),
    lambda e: e.update(classes_dtype=HUGE),
    lambda e: e.update(n_features_in_=BIG),
    lambda e: e.update(out_activation_=HUGE),
], ids=["solver", "key", "tuple", "generator", "array", "dtype", "n_features", "activation"])
def test_a_hostile_estimator_field_is_a_short_model_file_error(model_parts, tmp_path, change):
    parts = dict(model_parts)
    config = json.loads(parts.pop("__config__").tobytes())
    change(config["estimator"])
    np.savez(tmp_path / "bad.npz", __config__=np.frombuffer(json.dumps(config).encode(),
                                                            np.uint8), **parts)
    with pytest.raises(ModelFileError) as info:
        load(tmp_path / "bad.npz")
    _short(str(info.value))


def test_labels_of_megabytes_are_quoted_short():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 2))
    est = mlp.MLPClassifier(hidden_layer_sizes=(3,), random_state=0)
    with pytest.raises(ValueError, match="classes not in `classes`") as info:
        est.partial_fit(X, np.array(["a", "b", HUGE] * 2), classes=["a", "b"])
    _short(str(info.value), 600)


@pytest.mark.parametrize("change", [
    lambda c, parts: c["metadata"].update(trained={HUGE: [1]}),
    lambda c, parts: parts.update({f"param:{HUGE[:60_000]}": np.zeros(1)}),
], ids=["metadata-key", "array-name"])
def test_a_hostile_name_in_a_model_file_is_quoted_short(model_parts, tmp_path, change):
    parts = dict(model_parts)
    config = json.loads(parts.pop("__config__").tobytes())
    change(config, parts)
    np.savez(tmp_path / "bad.npz", __config__=np.frombuffer(json.dumps(config).encode(),
                                                            np.uint8), **parts)
    with pytest.raises(ModelFileError) as info:
        load(tmp_path / "bad.npz")
    _short(str(info.value))
