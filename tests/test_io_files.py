"""The atomic writer behind every file the library and the command write."""

import os
import stat
import subprocess
import sys

import pytest

from mlp.io import check_writable, write_atomic


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    def set_umask(value):
        previous.append(os.umask(value))
    previous = []
    yield set_umask
    if previous:
        os.umask(previous[0])


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_mode_the_umask_allows(tmp_path, umask, mask, expected):
    umask(mask)
    write_atomic(tmp_path / "new.txt", "x")
    assert mode(tmp_path / "new.txt") == expected


def test_an_existing_file_keeps_its_mode(tmp_path, umask):
    umask(0o077)
    path = tmp_path / "old.txt"
    path.write_text("before")
    os.chmod(path, 0o640)
    write_atomic(path, "after")
    assert path.read_text() == "after"
    assert mode(path) == 0o640


def test_a_symlink_stays_a_link_and_its_target_is_replaced(tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("before")
    os.chmod(target, 0o604)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    write_atomic(link, "after")
    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    assert target.read_text() == "after"
    assert mode(target) == 0o604
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "real.csv"]


def test_devices_and_fifos_are_written_through_not_replaced(tmp_path):
    write_atomic("/dev/null", "discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    write_atomic(link, b"discarded")
    assert link.is_symlink()
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    write_atomic(fifo, "through the pipe\n")
    assert reader.communicate(timeout=30)[0] == b"through the pipe\n"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_dash_is_standard_output():
    code = "from mlp.io import write_atomic; write_atomic('-', 'to stdout\\n')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "to stdout\n"


def test_stale_temporary_files_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, timeout=60)
    stale = tmp_path / f".out.csv.{int(dead.stdout)}.abc123.mlp-tmp"
    stale.write_bytes(b"left by a killed run")
    alive = tmp_path / f".out.csv.{os.getppid()}.def456.mlp-tmp"
    alive.write_bytes(b"another run, still writing")
    other = tmp_path / f".other.csv.{int(dead.stdout)}.abc123.mlp-tmp"
    other.write_bytes(b"not ours")
    write_atomic(tmp_path / "out.csv", "done")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out.csv", alive.name, other.name])


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, MemoryError])
def test_every_exit_path_removes_the_temporary_file(tmp_path, error):
    path = tmp_path / "out.npz"
    path.write_bytes(b"previous")

    def interrupted(f):
        f.write(b"half of it")
        raise error

    with pytest.raises(error):
        write_atomic(path, interrupted)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]


def test_check_writable_refuses_what_write_atomic_would_fail_on(tmp_path):
    check_writable(tmp_path / "new.npz")
    check_writable("-")
    with pytest.raises(ValueError, match="/dev/null: it is a character device"):
        check_writable("/dev/null")  # written through by write_atomic, but not an output
    with pytest.raises(ValueError, match="no such directory"):
        check_writable(tmp_path / "missing" / "m.npz")
    with pytest.raises(ValueError, match="it is a directory"):
        check_writable(tmp_path)
    with pytest.raises(ValueError, match="cannot write /proc/m.npz"):
        check_writable("/proc/m.npz")  # a folder nobody, not even root, can create files in
    assert list(tmp_path.iterdir()) == []
