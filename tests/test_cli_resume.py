"""`mlp train --checkpoint` / `--resume`: a resumed run saves the same model bits."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from mlp.cli import main
from mlp.io import load_checkpoint

RUN = ("--data", "iris", "--hidden", "6", "--dropout", "0.2", "--batch-norm",
       "--val-fraction", "0.2", "--quiet")


def train(*args):
    return main(["train", *map(str, args)])


def arrays(path):
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files if name != "__config__"}


def one_line(capsys, pattern):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert re.search(pattern, err[0]), err[0]


@pytest.mark.parametrize("optimizer", ["nesterov", "rmsprop", "adam"])
def test_ten_epochs_equal_four_then_resume_to_ten(tmp_path, capsys, optimizer):
    straight, resumed, ckpt = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    assert train(*RUN, "--optimizer", optimizer, "--epochs", "10", "--save", straight) == 0
    assert train(*RUN, "--optimizer", optimizer, "--epochs", "4", "--checkpoint", ckpt,
                 "--checkpoint-every", "2") == 0
    capsys.readouterr()
    assert train("--resume", ckpt, "--epochs", "10", "--save", resumed) == 0
    assert f"resuming {ckpt} after epoch 4 of 10" in capsys.readouterr().out
    a, b = arrays(straight), arrays(resumed)
    assert sorted(a) == sorted(b)
    for name in a:
        assert np.array_equal(a[name], b[name]), name


def test_a_schedule_clipping_and_the_epoch_log_resume_too(tmp_path):
    steer = ("--lr-schedule", "warmup:2,step:3:0.5", "--clip-grad", "0.5", "--optimizer",
             "momentum")
    assert train(*RUN, *steer, "--epochs", "9", "--save", tmp_path / "a.npz",
                 "--log-csv", tmp_path / "a.csv") == 0
    assert train(*RUN, *steer, "--epochs", "5", "--checkpoint", tmp_path / "c.npz",
                 "--checkpoint-every", "5", "--log-csv", tmp_path / "b.csv") == 0
    assert train("--resume", tmp_path / "c.npz", "--epochs", "9", "--save", tmp_path / "b.npz",
                 "--log-csv", tmp_path / "b.csv") == 0
    a, b = arrays(tmp_path / "a.npz"), arrays(tmp_path / "b.npz")
    for name in a:
        assert np.array_equal(a[name], b[name]), name

    def rows(path):  # every column but the wall-clock seconds
        lines = path.read_text().splitlines()
        keep = [i for i, column in enumerate(lines[0].split(",")) if column != "time"]
        return [[line.split(",")[i] for i in keep] for line in lines]

    straight, resumed = rows(tmp_path / "a.csv"), rows(tmp_path / "b.csv")
    assert len(straight) == 10  # the header and 9 epochs
    assert resumed == straight
    lr = [float(row[straight[0].index("lr")]) for row in straight[1:]]
    assert len(set(lr)) >= 3  # warm-up, then halved every 3 epochs


def test_the_checkpoint_keeps_the_best_epoch_by_default(tmp_path):
    every, best = tmp_path / "every.npz", tmp_path / "best.npz"
    args = [*RUN, "--epochs", "25", "--lr", "0.3", "--optimizer", "sgd"]
    assert train(*args, "--checkpoint", every, "--checkpoint-every", "1") == 0
    assert train(*args, "--checkpoint", best) == 0
    val_score = load_checkpoint(every).history.val_score
    assert len(val_score) == 25
    kept = load_checkpoint(best)
    assert kept.epoch == int(np.argmax(val_score)) + 1  # the first epoch of the best score
    assert kept.history.val_score == val_score[:kept.epoch]
    assert kept.metadata["preprocessing"]["scale"] == "standard"
    assert kept.metadata["classes"] == ["setosa", "versicolor", "virginica"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    data = folder / "data.csv"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    rows = [f"{a:.6f},{b:.6f},{c:.6f},{int(a + b > 0)}" for a, b, c in X]
    data.write_text("a,b,c,y\n" + "\n".join(rows) + "\n")
    assert train("--data", data, "--epochs", "3", "--quiet", "--checkpoint", folder / "c.npz",
                 "--checkpoint-every", "1") == 0
    return folder


def edited(folder, tmp_path, change, name):
    with np.load(folder / "c.npz") as archive:
        parts = dict(archive)
    config = json.loads(parts.pop("__config__").tobytes())
    change(config)
    text = json.dumps(config).encode()
    np.savez(tmp_path / name, __config__=np.frombuffer(text, np.uint8), **parts)
    return tmp_path / name


def test_a_resume_that_cannot_go_on_is_one_line(checkpoint, tmp_path, capsys):
    ckpt = checkpoint / "c.npz"
    cases = [
        (["--resume", ckpt, "--epochs", "3"], r"has done 3 epochs and --epochs 3 counts all "
                                              r"of them"),
        (["--resume", ckpt, "--epochs", "5", "--hidden", "4", "4"],
         r"--hidden \[4, 4\] differs from the checkpoint's \[16\]"),
        (["--resume", tmp_path / "absent.npz"], r"cannot read .*absent.npz: no such file"),
        (["--epochs", "2", "--checkpoint-every", "2"], r"--checkpoint-every needs --checkpoint"),
        (["--epochs", "2", "--checkpoint", tmp_path / "no" / "c.npz"],
         r"--checkpoint: cannot write .*: no such directory"),
        (["--resume", edited(checkpoint, tmp_path,
                             lambda c: c["metadata"]["cli"].update(hidden="wide"), "a.npz"),
          "--epochs", "5"], r"the saved option hidden is invalid \('wide'\)"),
        (["--resume", edited(checkpoint, tmp_path, lambda c: c["metadata"].pop("cli"), "b.npz"),
          "--epochs", "5"], r"was not written by 'mlp train --checkpoint'"),
        (["--resume", edited(checkpoint, tmp_path,
                             lambda c: c["optimizer"].update(t=-1), "c.npz"), "--epochs", "5"],
         r"optimizer: Adam: t must be a non-negative integer"),
    ]
    for extra, pattern in cases:
        capsys.readouterr()
        assert train(*extra) == 2, extra
        one_line(capsys, pattern)
    # the same data file with other numbers is refused, not trained on
    data = checkpoint / "data.csv"
    original = data.read_text()
    try:
        data.write_text(original.replace("0.1", "0.2", 1))
        capsys.readouterr()
        assert train("--resume", ckpt, "--epochs", "5") == 2
        one_line(capsys, r"the data of .*data.csv are not those the checkpoint was trained on")
    finally:
        data.write_text(original)


def test_a_hostile_checkpoint_in_a_real_process_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    result = subprocess.run([sys.executable, "-m", "mlp", "train", "--resume",
                             str(tmp_path / "bad.npz")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.search(r"bad.npz is corrupted or truncated", lines[0]), lines[0]
