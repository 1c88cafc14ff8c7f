"""Every output option of every subcommand is checked before any work: a regular file or a
new name in an existing folder that can be written; one line on stderr and exit 2 else."""

import os
import socket
import stat

import pytest

from mlp.cli import main

# (subcommand's arguments before the output, the output's flag or None when positional,
#  the flag's name in the message, whether the output is a folder)
OUTPUTS = [
    (["train", "--data", "iris", "--quiet", "--save"], "--save", False),
    (["train", "--data", "iris", "--quiet", "--json"], "--json", False),
    (["train", "--data", "iris", "--quiet", "--plot"], "--plot", False),
    (["train", "--data", "iris", "--quiet", "--log-csv"], "--log-csv", False),
    (["train", "--data", "iris", "--quiet", "--checkpoint"], "--checkpoint", False),
    (["predict", "--model", "m.npz", "--data", "d.csv", "--out"], "--out", False),
    (["exercise", "grade", "a", "--exercise", "hw", "--json"], "--json", False),
    (["exercise", "gradescope", "--exercise", "hw"], "OUT.zip", False),
    (["exercise", "make"], "OUTDIR", True),
    (["exercise", "grade", "a", "b", "--exercise", "hw", "--out"], "--out", True),
]


@pytest.fixture
def places(tmp_path):
    """Names of things that are no place for an output."""
    (tmp_path / "file").write_text("a file\n")
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere" / "x")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    yield tmp_path
    sock.close()


def _refusal(capsys, args, flag, path):
    status = main([*args, str(path)])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.splitlines()) == 1, err
    assert f"error: {flag}: cannot write" in err, err
    assert str(path) in err, err
    return err


FILE_CASES = [
    ("/dev/full", "it is a character device"),
    ("/dev/null", "it is a character device"),
    ("fifo", r"it is a named pipe (FIFO)"),
    ("sock", "it is a socket"),
    ("folder", "it is a directory"),
    ("dangling", "it is a symbolic link to"),
    ("nowhere/out", "no such directory"),
    ("file/out", "Not a directory"),
    ("/proc/out", "(in /proc)"),
]


@pytest.mark.parametrize(("args", "flag"),
                         [(a, f) for a, f, folder in OUTPUTS if not folder])
@pytest.mark.parametrize(("name", "reason"), FILE_CASES)
def test_file_outputs_that_cannot_be_written_are_refused_first(places, capsys, monkeypatch,
                                                               args, flag, name, reason):
    monkeypatch.chdir(places)
    err = _refusal(capsys, args, flag, name)
    assert reason in err
    assert sorted(p.name for p in places.iterdir()) == \
        ["dangling", "fifo", "file", "folder", "sock"]  # nothing written, no temporary file


FOLDER_CASES = [
    ("/dev/full", "it is a character device, not a directory"),
    ("fifo", "it is a named pipe (FIFO), not a directory"),
    ("sock", "it is a socket, not a directory"),
    ("file", "it is a regular file, not a directory"),
    ("dangling", "it is a symbolic link to"),
    ("nowhere/out", "no such directory"),
    ("file/out", "Not a directory"),
    ("/proc/out", "(in /proc)"),
    ("/proc/self", "(in /proc/"),  # a folder of a read-only kind
]


@pytest.mark.parametrize(("args", "flag"), [(a, f) for a, f, folder in OUTPUTS if folder])
@pytest.mark.parametrize(("name", "reason"), FOLDER_CASES)
def test_folder_outputs_that_cannot_be_written_are_refused_first(places, capsys, monkeypatch,
                                                                 args, flag, name, reason):
    monkeypatch.chdir(places)
    err = _refusal(capsys, args, flag, name)
    assert reason in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
@pytest.mark.parametrize(("args", "flag", "folder"), OUTPUTS)
def test_a_read_only_folder_is_refused(tmp_path, capsys, args, flag, folder):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        err = _refusal(capsys, args, flag, locked / "out")
    finally:
        locked.chmod(0o755)
    assert "Permission denied" in err


def test_the_files_grading_writes_into_an_existing_folder_are_checked(tmp_path, capsys):
    out = tmp_path / "grades"
    (out / "results.json").mkdir(parents=True)
    err = _refusal(capsys, ["exercise", "grade", "a", "b", "--exercise", "hw", "--out"],
                   "--out", out)
    assert "results.json: it is a directory" in err
    (out / "results.json").rmdir()
    (out / "feedback").write_text("not a folder")
    err = _refusal(capsys, ["exercise", "grade", "a", "b", "--exercise", "hw", "--out"],
                   "--out", out)
    assert "feedback: it is a regular file, not a directory" in err


def test_a_link_to_a_regular_file_is_a_good_output(tmp_path, capsys):
    target = tmp_path / "real.json"
    target.write_text("old\n")
    (tmp_path / "link.json").symlink_to(target)
    status = main(["train", "--data", "iris", "--epochs", "1", "--quiet", "--json",
                   str(tmp_path / "link.json")])
    assert status == 0, capsys.readouterr().err
    assert (tmp_path / "link.json").is_symlink()
    assert '"epochs": 1' in target.read_text()
    assert stat.S_ISREG(os.lstat(target).st_mode)


def test_two_outputs_naming_one_file_are_still_refused(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    status = main(["train", "--data", "iris", "--quiet", "--save", str(tmp_path / "a" / "m"),
                   "--json", str(tmp_path / "a" / ".." / "a" / "m")])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.splitlines()) == 1
    assert "--save and --json name the same file" in err


def test_an_output_naming_an_input_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n"
                                                        for i in range(30)))
    (tmp_path / "link.csv").symlink_to(tmp_path / "d.csv")
    cases = [
        (["train", "--data", "d.csv", "--save", "./link.csv"], "--save", "--data"),
        (["train", "--data", "d.csv", "--log-csv", "sub/../d.csv"], "--log-csv", "--data"),
        (["train", "--data", "d.csv", "--checkpoint", "d.csv"], "--checkpoint", "--data"),
        (["train", "--resume", "run.npz", "--json", "run.npz"], "--json", "--resume"),
        (["predict", "--model", "m.npz", "--data", "d.csv", "--out", "link.csv"], "--out",
         "--data"),
        (["predict", "--model", "m.npz", "--data", "d.csv", "--out", "m.npz"], "--out",
         "--model"),
    ]
    (tmp_path / "sub").mkdir()
    for args, output, source in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1
        assert f"error: {output} names the file of {source} (" in err, err
        assert "writing it would destroy the input" in err
    assert (tmp_path / "d.csv").read_text().startswith("a,b,y\n")
    # a resumed run goes on writing its checkpoint
    assert main(["train", "--data", "d.csv", "--quiet", "--epochs", "2", "--checkpoint",
                 "run.npz"]) == 0
    assert main(["train", "--resume", "run.npz", "--quiet", "--epochs", "3", "--checkpoint",
                 "run.npz"]) == 0, capsys.readouterr().err
