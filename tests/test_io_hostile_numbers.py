"""Hostile numbers, labels and saved options in model files and checkpoints: every one is
refused by the io module's own error (and on the command line in one short line, exit 2),
never by an OverflowError, a TypeError or an IndexError from deep inside."""

import io
import json
import re
import zipfile

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import mlp
from mlp.cli import main
from mlp.io import ModelFileError, load, load_checkpoint, save

BIG = 10**400  # a JSON integer no float can hold
IRIS_CSV = "data/iris.csv"


def edited(src, dst, edit):
    """A copy of the file ``src`` whose description ``edit(cfg)`` changed."""
    with zipfile.ZipFile(src) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    cfg = json.loads(np.load(io.BytesIO(members["__config__.npy"])).tobytes())
    edit(cfg)
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(json.dumps(cfg).encode(), np.uint8))
    members["__config__.npy"] = buf.getvalue()
    with zipfile.ZipFile(dst, "w") as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return dst


def put(*keys, value):
    """An edit setting cfg[keys[0]][keys[1]]... to ``value``."""
    def edit(cfg):
        for key in keys[:-1]:
            cfg = cfg[key]
        cfg[keys[-1]] = value
    return edit


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    run = ("--data", "iris", "--hidden", "6", "--dropout", "0.2", "--epochs", "2", "--quiet")
    assert main(["train", *run, "--save", str(folder / "m.npz")]) == 0
    assert main(["train", *run, "--early-stopping", "2", "--checkpoint",
                 str(folder / "ck.npz"), "--checkpoint-every", "1"]) == 0
    assert main(["train", *run, "--checkpoint", str(folder / "plain.npz"),
                 "--checkpoint-every", "1"]) == 0
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 3, 60)
    est = mlp.MLPClassifier(hidden_layer_sizes=(5,), dropout=0.2, max_iter=2, random_state=0,
                            early_stopping=True, validation_fraction=0.2, n_iter_no_change=5)
    with pytest.warns(ConvergenceWarning):  # not converged in 2 epochs
        est.fit(X, y)
    save(est, folder / "est.npz")
    return folder


def one_line(capsys, pattern):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert len(err[0]) < 400, err[0]
    assert "internal error" not in err[0], err[0]
    assert "Traceback" not in err[0], err[0]
    assert re.search(pattern, err[0]), err[0]


# -- model files: mlp.io.load and mlp predict ---------------------------------------------

MODEL_CASES = [
    (put("metadata", "preprocessing", "mean", 0, value=BIG),
     r"metadata\.preprocessing\.mean\[0\] must be a finite number, got the number 1000"),
    (put("metadata", "preprocessing", "factor", 2, value=float("inf")),
     r"metadata\.preprocessing\.factor\[2\] must be a finite number, got the number inf"),
    (put("metadata", "preprocessing", "factor", 1, value=True),
     r"metadata\.preprocessing\.factor\[1\] must be a finite number, got the boolean true"),
    (put("format_version", value=BIG), r"model format 1000\d*\.\.\. \(401 characters\)"),
    (put("model", "layers", 0, "n_in", value=BIG),
     r"Linear argument 'n_in' must be an integer in \[.*\], got the number 1000"),
    (put("model", "layers", 0, "n_out", value=BIG), r"Linear argument 'n_out' must be an"),
    (put("model", "layers", 2, "p", value=BIG), r"Dropout argument 'p' must be an integer in"),
    (put("metadata", "classes", 0, value="A" * 300_000),
     r"metadata\.classes\[0\] has 300,000 characters; .* at most 1,000"),
    (put("metadata", "feature_names", 0, value="f" * 1001),
     r"metadata\.feature_names\[0\] has 1,001 characters"),
    (put("metadata", "target_name", value="t" * 5000),
     r"metadata\.target_name has 5,000 characters"),
]


@pytest.mark.parametrize(("edit", "pattern"), MODEL_CASES)
def test_a_hostile_model_file_is_refused_by_load_and_predict(files, tmp_path, capsys, edit,
                                                             pattern):
    bad = edited(files / "m.npz", tmp_path / "bad.npz", edit)
    with pytest.raises(ModelFileError, match=pattern):
        load(bad)
    assert main(["predict", "--model", str(bad), "--data", IRIS_CSV,
                 "--out", str(tmp_path / "p.csv")]) == 2
    one_line(capsys, pattern)
    assert not (tmp_path / "p.csv").exists()


def test_a_label_at_the_limit_is_kept(files, tmp_path):
    ok = edited(files / "m.npz", tmp_path / "ok.npz",
                put("metadata", "classes", 0, value="s" * 1000))
    _, metadata = load(ok, with_metadata=True)
    assert metadata["classes"][0] == "s" * 1000


ESTIMATOR_CASES = [
    (put("estimator", "loss_", value=BIG), r"estimator\.loss_ must be a finite number or null"),
    (put("estimator", "best_loss_", value=BIG), r"estimator\.best_loss_ must be a number or"),
    (put("estimator", "best_validation_score_", value=BIG),
     r"estimator\.best_validation_score_ must be a finite number or null"),
    (put("estimator", "loss_curve_", 1, value=BIG), r"estimator\.loss_curve_\[1\] must be a"),
    (put("estimator", "loss_curve_", 0, value=False),
     r"estimator\.loss_curve_\[0\] must be a finite number, got the boolean false"),
    (put("estimator", "validation_scores_", 1, value=BIG),
     r"estimator\.validation_scores_\[1\] must be a finite number"),
    (put("estimator", "validation_loss_curve_", value=[0.5]),
     r"estimator\.validation_loss_curve_ has 1 values, expected 2"),
    (put("estimator", "validation_scores_", value=[0.5, 0.5, 0.5]),
     r"validation_loss_curve_ has 2 values, expected 3|validation_scores_ has 3 values for"),
    (put("estimator", "n_iter_", value=BIG), r"estimator\.n_iter_ must be an integer ≥ 0"),
    (put("estimator", "t_", value=2.0), r"estimator\.t_ must be an integer ≥ 0, got the num"),
    (put("estimator", "training", "statistics_weight", value=BIG),
     r"estimator\.training\.statistics_weight must be a finite number ≥ 0"),
    (put("estimator", "training", "no_improvement_count", value=True),
     r"estimator\.training\.no_improvement_count must be an integer ≥ 0, got the boolean"),
    (put("model", "layers", 2, "p", value=BIG), r"Dropout argument 'p' must be an integer"),
    (put("estimator", "training", "optimizer", "type", value=["Adam"]),
     r"estimator\.training\.optimizer\.type must be one of SGD, RMSProp, Adam, got a list"),
    (put("estimator", "training", "optimizer", "type", value={}),
     r"optimizer\.type must be one of SGD, RMSProp, Adam, got an object"),
    (put("estimator", "training", "optimizer", "t", value=BIG),
     r"optimizer: Adam: t must be a non-negative integer"),
    (put("estimator", "params", "alpha", value=BIG),
     r"parameter 'alpha' must be an integer in \[.*\], got the number 1000"),
    (put("estimator", "training", "optimizer", "hyperparameters", "lr", value=BIG),
     r"optimizer: Adam: lr must be in \(0\.0, inf\), got 1000\d*\.\.\. \(401 characters\)"),
    (put("estimator", "classes_", 0, value="A" * 3000),
     r"estimator\.classes_\[0\] has 3,000 characters"),
]


@pytest.mark.parametrize(("edit", "pattern"), ESTIMATOR_CASES)
def test_a_hostile_estimator_file_is_refused(files, tmp_path, edit, pattern):
    def with_string_classes(cfg):
        cfg["estimator"]["classes_"] = ["a", "b", "c"]
        cfg["estimator"]["classes_dtype"] = "<U1"
        edit(cfg)

    bad = edited(files / "est.npz", tmp_path / "bad.npz", with_string_classes)
    with pytest.raises(ModelFileError, match=pattern) as caught:
        load(bad)
    assert len(str(caught.value)) < 400


# -- checkpoints: mlp.io.load_checkpoint and mlp train --resume ----------------------------

CHECKPOINT_CASES = [
    (put("optimizer", "type", value=["Adam"]), r"optimizer\.type must be one of .*got a list"),
    (put("optimizer", "type", value={}), r"optimizer\.type must be one of .*got an object"),
    (put("optimizer", "t", value=BIG), r"optimizer: Adam: t must be a non-negative integer"),
    (put("optimizer", "hyperparameters", "lr", value=-BIG),
     r"optimizer: Adam: lr must be in \(0\.0, inf\), got -1000\d*\.\.\. \(402 characters\)"),
    (put("history", "best_loss", value=BIG), r"history\.best_loss must be a number, got the"),
    (put("history", "loss", 0, value=BIG), r"history\.loss\[0\] must be a finite number"),
    (put("history", "val_score", 1, value=BIG), r"history\.val_score\[1\] must be a finite"),
    (put("history", "best_val_score", value=BIG), r"history\.best_val_score must be a number"),
    (put("history", "metrics", value={"x" * 500: [BIG]}),
     r"history\.metrics\.x{80}\.\.\. \(500 characters\)\[0\] must be a number"),
    (put("history", "val_loss", value=[0.5]), r"history\.val_loss has 1 values for 2 epochs"),
    (put("callbacks", 0, "state", "best_epoch", value=10**12),
     r"callbacks\[0\]\.state\.best_epoch must be an integer ≥ 0 below 2"),
    (put("trainer", "steps", value=BIG), r"trainer\.steps must be an integer ≥ 0, got the"),
    (put("format_version", value=BIG), r"checkpoint format 1000\d*\.\.\. \(401 characters\)"),
    (put("model", "layers", 2, "p", value=BIG), r"Dropout argument 'p' must be an integer"),
]


@pytest.mark.parametrize(("edit", "pattern"), CHECKPOINT_CASES)
def test_a_hostile_checkpoint_is_refused_by_load_and_resume(files, tmp_path, capsys, edit,
                                                            pattern):
    bad = edited(files / "ck.npz", tmp_path / "bad.npz", edit)
    with pytest.raises(ModelFileError, match=pattern):
        load_checkpoint(bad)
    capsys.readouterr()
    assert main(["train", "--resume", str(bad), "--epochs", "4", "--quiet"]) == 2
    one_line(capsys, pattern)


RESUME_CASES = [
    (put("callbacks", 0, "state", "best", value=BIG),
     r"EarlyStopping: the saved best must be a number or null"),
    *[(put("callbacks", 0, "state", "weights", value=value),
       r"EarlyStopping: the saved weights must be a copy of the network's weights or null")
      for value in (5, float("nan"), [[1.0]], True)],
    (put("callbacks", 0, "state", "wait", value=BIG),
     r"EarlyStopping: the saved wait must be an integer ≥ 0"),
    *[(put("metadata", "cli", key, value=value),
       rf"the saved option {key} is invalid \(expected a number in \[0, 1\)")
      for key in ("test_fraction", "val_fraction", "dropout")
      for value in (float("inf"), BIG, float("nan"), -0.5)],
    *[(put("metadata", "cli", key, value=BIG),
       rf"the saved option {key} is invalid \(expected a (positive number|number ≥ 0), got "
       r"'1000\d*'\.\.\. \(401 characters\)\)")
      for key in ("l2", "lr", "weight_decay", "clip_grad")],
    (put("metadata", "cli", "lr", value=True), r"the saved option lr is invalid \(True\)"),
    (put("metadata", "cli", "batch_size", value=-1), r"the saved option batch_size is invalid"),
    (put("metadata", "cli", "batch_size", value=16.0),
     r"the saved option batch_size is invalid"),
    (put("metadata", "cli", "hidden", value=[BIG]),
     r"the saved model options \(--hidden \[1000.*\) do not describe its network "
     r"\(4 -> 6 -> 3\)"),
    (put("metadata", "cli", "hidden", value=[8]), r"--hidden \[8\].*\(4 -> 6 -> 3\)"),
    (put("metadata", "cli", "dropout", value=0.5), r"--dropout 0\.5.*do not describe"),
    (put("metadata", "cli", "batch_norm", value=True), r"--batch-norm True.*do not describe"),
    (put("metadata", "cli", "activation", value=["tanh"]),
     r"--activation \['tanh'\].*do not describe"),
    (put("metadata", "cli", "activation", value=["nope"]), r"unknown activation 'nope'"),
    # a seed the flag takes, but not the seed of the data split the checkpoint was made with
    (put("metadata", "cli", "seed", value=BIG), r"the data of iris are not those the checkpoint"),
]


@pytest.mark.parametrize(("edit", "pattern"), RESUME_CASES)
def test_a_checkpoint_whose_run_cannot_go_on_is_refused_in_one_line(files, tmp_path, capsys,
                                                                    edit, pattern):
    bad = edited(files / "ck.npz", tmp_path / "bad.npz", edit)
    capsys.readouterr()
    assert main(["train", "--resume", str(bad), "--epochs", "4", "--quiet",
                 "--save", str(tmp_path / "r.npz")]) == 2
    one_line(capsys, pattern)
    assert not (tmp_path / "r.npz").exists()


def test_a_history_that_does_not_fit_the_run_is_refused(files, tmp_path, capsys):
    # validation losses in a run without a validation set (it would fail at its last line)
    bad = edited(files / "plain.npz", tmp_path / "bad.npz",
                 put("history", "val_loss", value=[1, 2]))
    capsys.readouterr()
    assert main(["train", "--resume", str(bad), "--epochs", "3", "--quiet"]) == 2
    one_line(capsys, r"the history has 2 validation losses and 0 scores for 2 epochs of a "
                     r"run without a validation set")
    # a score without a validation loss is refused by the reader itself
    bad = edited(files / "plain.npz", tmp_path / "bad2.npz",
                 put("history", "val_score", value=[1, 2]))
    with pytest.raises(ModelFileError, match=r"history\.val_score has 2 values without a "
                                             r"validation loss"):
        load_checkpoint(bad)


def test_an_untouched_checkpoint_resumes(files, tmp_path, capsys):
    assert main(["train", "--resume", str(files / "ck.npz"), "--epochs", "3", "--quiet"]) == 0
    assert main(["train", "--resume", str(files / "plain.npz"), "--epochs", "3",
                 "--quiet"]) == 0


@pytest.mark.parametrize(("edit", "pattern"), [
    (put("callbacks", 1, "state", "rows", 0, "loss", value=BIG),
     r"CSVLogger: the saved rows\[0\]\.'loss' must be a number, got 1000"),
    (put("callbacks", 2, "state", "initial_loss", value=BIG),
     r"Diagnostics: the saved initial_loss must be a number or null, got 1000"),
    (put("callbacks", 3, "state", "best", value=BIG),
     r"ModelCheckpoint: the saved best must be a number or null, got 1000"),
])
def test_every_callbacks_saved_number_is_checked(tmp_path, capsys, edit, pattern):
    steer = ("--log-csv", str(tmp_path / "log.csv"), "--diagnostics", "5", "--quiet")
    assert main(["train", "--data", "iris", "--hidden", "4", "--epochs", "2", "--checkpoint",
                 str(tmp_path / "ck.npz"), "--checkpoint-every", "1", *steer]) == 0
    with np.load(tmp_path / "ck.npz") as archive:
        cfg = json.loads(archive["__config__"].tobytes())
    assert [entry["type"] for entry in cfg["callbacks"]] == [
        "EarlyStopping", "CSVLogger", "Diagnostics", "ModelCheckpoint"]
    bad = edited(tmp_path / "ck.npz", tmp_path / "bad.npz", edit)
    capsys.readouterr()
    assert main(["train", "--resume", str(bad), "--epochs", "3", "--checkpoint",
                 str(tmp_path / "next.npz"), *steer]) == 2
    one_line(capsys, pattern)
