"""The rules every output of every subcommand obeys, checked before any work: an output is
never an input of the same command, never a name that says it is a folder, never standard
output unless it is text meant for it, never the file stdout or stderr already writes to, and
no path is empty. Each refusal is one line on stderr, exit 2, and nothing written."""

import os
import subprocess
import sys

import numpy as np
import pytest

from mlp.cli import main


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A data file, a model trained on it and a checkpoint of that run (its --data is
    ``in.csv``, relative to the folder)."""
    folder = tmp_path_factory.mktemp("rules")
    X = np.random.default_rng(0).normal(size=(40, 2))
    rows = [f"{a:.6f},{b:.6f},{int(a * b > 0)}" for a, b in X]
    (folder / "in.csv").write_text("a,b,y\n" + "\n".join(rows) + "\n")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        assert main(["train", "--data", "in.csv", "--hidden", "3", "--epochs", "2",
                     "--quiet", "--save", "m.npz", "--checkpoint", "ck.npz",
                     "--checkpoint-every", "1"]) == 0
    finally:
        os.chdir(cwd)
    (folder / "irl.csv").symlink_to(folder / "in.csv")
    os.link(folder / "in.csv", folder / "hard.csv")
    (folder / "sub").mkdir()
    return folder


def _contents(folder):
    return {p.relative_to(folder): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def _refused(capsys, folder, args):
    """Run ``mlp ARGS`` in ``folder``; the one stderr line, after checking that exit status
    is 2 and that no file in ``folder`` was written, removed or created."""
    before = _contents(folder)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        status = main(args)
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert status == 2, err
    assert len(err.splitlines()) == 1, err
    assert _contents(folder) == before
    return err.strip()


TRAIN = ["train", "--data", "in.csv", "--hidden", "3", "--epochs", "1", "--quiet"]
PREDICT = ["predict", "--model", "m.npz", "--data", "in.csv"]

INPUT_AS_OUTPUT = [
    ([*PREDICT, "--out", "in.csv"], "--out names the file of --data (in.csv)"),
    ([*PREDICT, "--out", "irl.csv"], "--out names the file of --data (irl.csv)"),
    ([*PREDICT, "--out", "m.npz"], "--out names the file of --model (m.npz)"),
    ([*TRAIN, "--log-csv", "in.csv"], "--log-csv names the file of --data (in.csv)"),
    ([*TRAIN, "--json", "irl.csv"], "--json names the file of --data (irl.csv)"),
    ([*TRAIN, "--save", "hard.csv"], "--save names the file of --data (hard.csv)"),
    ([*TRAIN, "--plot", "sub/../in.csv"], "--plot names the file of --data (sub/../in.csv)"),
    ([*TRAIN, "--checkpoint", "./in.csv"], "--checkpoint names the file of --data (./in.csv)"),
    (["train", "--quiet", "--resume", "ck.npz", "--epochs", "4", "--save", "ck.npz"],
     "--save names the file of --resume (ck.npz)"),
    # the run's --data comes from the checkpoint
    (["train", "--quiet", "--resume", "ck.npz", "--epochs", "4", "--log-csv", "hard.csv"],
     "--log-csv names the file of --data (hard.csv)"),
]


@pytest.mark.parametrize(("args", "message"), INPUT_AS_OUTPUT)
def test_an_output_never_overwrites_an_input(made, capsys, args, message):
    err = _refused(capsys, made, args)
    assert err.endswith(f"error: {message}: writing it would destroy the input; choose "
                        "another output"), err


def test_grading_never_writes_its_inputs(made, tmp_path, capsys):
    (tmp_path / "hw").mkdir()
    (tmp_path / "hw" / "exercise.json").write_text("{}")
    (tmp_path / "alice").mkdir()
    grade = ["exercise", "grade", "alice", "--exercise", "hw"]
    err = _refused(capsys, tmp_path, [*grade, "--json", "hw/exercise.json"])
    assert err.endswith("error: --json: hw/exercise.json is inside the input --exercise (hw); "
                        "an output may not write into an input: name another place"), err
    err = _refused(capsys, tmp_path, [*grade, "--json", "alice/results.json"])
    assert "--json: alice/results.json is inside the input SUBMISSION (alice)" in err
    err = _refused(capsys, tmp_path, [*grade, "--out", "alice"])
    assert err.endswith("error: --out names the file of SUBMISSION (alice): writing it would "
                        "destroy the input; choose another output"), err
    err = _refused(capsys, tmp_path, ["exercise", "gradescope", "hw/exercise.json",
                                      "--exercise", "hw/exercise.json"])
    assert "error: OUT.zip names the file of --exercise (hw/exercise.json)" in err


FILE_OUTPUTS = [
    ([*TRAIN, "--save"], "--save"), ([*TRAIN, "--json"], "--json"),
    ([*TRAIN, "--plot"], "--plot"), ([*TRAIN, "--log-csv"], "--log-csv"),
    ([*TRAIN, "--checkpoint"], "--checkpoint"), ([*PREDICT, "--out"], "--out"),
    (["exercise", "grade", "a", "--exercise", "hw", "--json"], "--json"),
    (["exercise", "gradescope", "--exercise", "hw"], "OUT.zip"),
]


@pytest.mark.parametrize(("args", "flag"), FILE_OUTPUTS)
@pytest.mark.parametrize("name", ["new/", "sub/", "sub/.", "sub/..", ".", "new/.."])
def test_a_name_that_says_folder_is_no_file_output(made, capsys, args, flag, name):
    err = _refused(capsys, made, [*args, name])
    assert err.endswith(f"error: {flag}: cannot write {name}: it names a folder (a file is "
                        "expected)"), err
    assert not (made / "new").exists()


def test_the_library_writes_no_file_under_a_folder_name(tmp_path):
    from mlp.io import check_writable, write_atomic

    for writes in (check_writable, lambda p: write_atomic(p, "x")):
        with pytest.raises(ValueError, match="it names a folder"):
            writes(f"{tmp_path}/new/")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "flag", "what"), [
    ([*TRAIN, "--save", "-"], "--save", "file"),
    ([*TRAIN, "--plot", "-"], "--plot", "file"),
    ([*TRAIN, "--checkpoint", "-"], "--checkpoint", "file"),
    ([*TRAIN, "--log-csv", "-"], "--log-csv", "file"),
    (["exercise", "gradescope", "-", "--exercise", "hw"], "OUT.zip", "file"),
    (["exercise", "make", "-"], "OUTDIR", "folder"),
    (["exercise", "grade", "a", "b", "--exercise", "hw", "--out", "-"], "--out", "folder"),
])
def test_standard_output_only_for_text_meant_for_it(made, capsys, args, flag, what):
    err = _refused(capsys, made, args)
    assert err.endswith(f"error: {flag}: cannot write to standard output ('-'), which only "
                        f"text outputs meant to be read there may use; name a {what}"), err


def test_predictions_and_metrics_may_go_to_standard_output(made, capsys):
    cwd = os.getcwd()
    os.chdir(made)
    try:
        assert main([*PREDICT, "--out", "-"]) == 0
        assert capsys.readouterr().out.splitlines()[0] == "prediction"
        assert main([*TRAIN, "--json", "-"]) == 0
        assert '"epochs": 1' in capsys.readouterr().out
    finally:
        os.chdir(cwd)


PATH_OPTIONS = [
    ([*TRAIN, "--save"], "--save"), ([*TRAIN, "--json"], "--json"),
    ([*TRAIN, "--plot"], "--plot"), ([*TRAIN, "--log-csv"], "--log-csv"),
    ([*TRAIN, "--checkpoint"], "--checkpoint"), (["train", "--resume"], "--resume"),
    (["train", "--data"], "--data"), (["gradcheck", "--data"], "--data"),
    ([*PREDICT, "--out"], "--out"), (["predict", "--data", "in.csv", "--model"], "--model"),
    (["predict", "--model", "m.npz", "--data"], "--data"), (["summary", "--model"], "--model"),
    (["exercise", "make"], "OUTDIR"), (["exercise", "grade"], "SUBMISSION"),
    (["exercise", "grade", "a", "--exercise"], "--exercise"),
    (["exercise", "grade", "a", "--out"], "--out"),
    (["exercise", "grade", "a", "--json"], "--json"),
    (["exercise", "gradescope", "--exercise", "hw"], "OUT.zip"),
    (["exercise", "verify"], "EXERCISE"), (["exercise", "verify", "--source"], "--source"),
]


@pytest.mark.parametrize(("args", "flag"), PATH_OPTIONS)
@pytest.mark.parametrize("name", ["", "  "])
def test_an_empty_path_is_refused_for_every_option(made, capsys, monkeypatch, args, flag,
                                                   name):
    monkeypatch.chdir(made)
    before = _contents(made)
    with pytest.raises(SystemExit) as exited:  # argparse's exit, as for every flag
        main([*args, name])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert f"error: argument {flag}: empty path (see 'mlp " in err, err
    assert _contents(made) == before


def _mlp(folder, args, **streams):
    return subprocess.run([sys.executable, "-m", "mlp", *args], cwd=folder, text=True,
                          **streams)


@pytest.mark.parametrize(("args", "stream", "message"), [
    ([*TRAIN, "--json", "/dev/stdout"], "stdout",
     "--json: cannot write /dev/stdout: it is this command's standard output, which an "
     "output would replace; use '-' for standard output"),
    ([*TRAIN, "--save", "/proc/self/fd/1"], "stdout",
     "--save: cannot write /proc/self/fd/1: it is this command's standard output, which an "
     "output would replace; name a file of its own"),
    ([*PREDICT, "--out", "/dev/stderr"], "stderr",
     "--out: cannot write /dev/stderr: it is this command's standard error, which an output "
     "would replace; name a file of its own"),
])
def test_the_file_standard_output_goes_to_is_no_output(made, tmp_path, args, stream,
                                                       message):
    with open(tmp_path / "r.txt", "w") as redirected:
        redirected.write("kept\n")
        redirected.flush()
        other = subprocess.PIPE
        result = _mlp(made, args, **{stream: redirected},
                      **{"stderr" if stream == "stdout" else "stdout": other})
    err = (tmp_path / "r.txt").read_text() if stream == "stderr" else result.stderr
    assert result.returncode == 2, err
    assert err.endswith(f"error: {message}\n"), err
    assert err.count("\n") == (2 if stream == "stderr" else 1)  # "kept" and the message
    if stream == "stdout":
        assert (tmp_path / "r.txt").read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]


def test_a_device_as_data_is_refused_before_it_is_read(made, capsys):
    err = _refused(capsys, made, ["train", "--data", "/dev/zero", "--quiet"])
    assert err.endswith("error: --data: cannot read /dev/zero: it is a character device, "
                        "not a file"), err
