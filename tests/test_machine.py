"""What "auto" reads from the machine and the caller: variables as the BLAS reads them, each
library's own default count, the cores this process may use (mlp/_machine.py)."""

import json
import os
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_info

import mlp
from mlp import _machine, threads
from mlp.threads import caller_limit, choose_threads

LARGE = mlp.Sequential(mlp.Linear(784, 256), mlp.ReLU(), mlp.Linear(256, 10))


def numpy_blas():
    return [info for info in threadpool_info() if info["user_api"] == "blas"
            and "numpy" in info["filepath"]]


def openblas_on_threads():
    blas = numpy_blas()
    return (len(blas) == 1 and blas[0]["internal_api"] == "openblas"
            and blas[0]["threading_layer"] == "pthreads" and _machine.cores() >= 2)


@pytest.fixture
def no_variables(monkeypatch):
    for name in _machine.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(threads, "busy_cores", lambda: 0)
    monkeypatch.setattr(threads, "_READING", (-1e18, 0))


# -- variables the BLAS ignores limit nothing ------------------------------------------------


@pytest.mark.parametrize("name", ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS"])
@pytest.mark.parametrize(("value", "count"), [("0", 0), ("-1", 0), ("abc", 0), ("", 0),
                                              ("0x2", 0), ("2", 2), (" 2 ", 2), ("2,1", 2),
                                              ("+2", 2), ("2abc", 2), ("2.9", 2)])
def test_openblas_reads_its_variables_as_atoi_does(name, value, count):
    assert _machine.read_count(name, value, "openblas") == count


@pytest.mark.parametrize(("value", "count"), [("0", 0), ("-1", 0), ("abc", 0), ("", 0),
                                              ("2,0", 0), ("2abc", 0), ("2.9", 0), ("2", 2),
                                              (" 2 ", 2), ("2,1", 2), ("4, 2", 4)])
def test_openmp_reads_a_list_of_positive_counts(value, count):
    for internal_api in ("mkl", "blis"):
        assert _machine.read_count("OMP_NUM_THREADS", value, internal_api) == count


@pytest.mark.parametrize(("value", "count"), [("0", 0), ("-1", 0), ("abc", 0), ("2,1", 0),
                                              ("3", 3), (" 3 ", 3)])
def test_other_libraries_variables_take_one_positive_integer(value, count):
    assert _machine.read_count("MKL_NUM_THREADS", value, "mkl") == count


@pytest.mark.parametrize("name", ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"])
@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_a_value_the_blas_ignores_leaves_auto_on(no_variables, monkeypatch, name, value):
    if not openblas_on_threads():
        pytest.skip("reads OpenBLAS's variables")
    monkeypatch.setattr(threads, "blas_default", lambda library: library.num_threads)
    monkeypatch.setenv(name, value)
    assert caller_limit() is None
    decision = choose_threads(None, model=LARGE, batch_size=256)
    assert decision.threads == _machine.cores()
    assert "above the break-even" in decision.reason
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # read by OpenBLAS when its own says nothing
    assert caller_limit() == "OMP_NUM_THREADS=1 set in the environment"


def test_a_long_value_is_quoted_short(no_variables, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1" + "0" * 100)
    assert caller_limit() == "OMP_NUM_THREADS=1000000000000000000… set in the environment"


SHOW = """
import json, numpy
from threadpoolctl import threadpool_info
from mlp import threads
print(json.dumps([sorted({i["num_threads"] for i in threadpool_info()
                          if i["user_api"] == "blas"}), threads.caller_limit()]))
"""


@pytest.mark.parametrize(("name", "value", "limits"), [
    (None, None, False), ("OMP_NUM_THREADS", "0", False), ("OPENBLAS_NUM_THREADS", "-1", False),
    ("OMP_NUM_THREADS", "abc", False), ("OMP_NUM_THREADS", "1,2", True),
    ("OPENBLAS_NUM_THREADS", "1abc", True), ("GOTO_NUM_THREADS", " 1", True)])
def test_the_reading_agrees_with_the_loaded_openblas(name, value, limits):
    # a fresh process: the variable as OpenBLAS reads it when it loads, and the count it runs
    if not openblas_on_threads():
        pytest.skip("checks an OpenBLAS build on threads, on 2 cores or more")
    env = {key: text for key, text in os.environ.items()
           if key not in _machine.ENVIRONMENT_VARIABLES}
    if name is not None:
        env[name] = value
    done = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    counts, limit = json.loads(done.stdout)
    if limits:
        assert counts == [1]
        assert limit == f"{name}={value.strip()} set in the environment"
    else:  # OpenBLAS at its own default (numpy's build stops at 64 threads): no limit
        assert counts == [min(len(os.sched_getaffinity(0)), 64)]
        assert limit is None


# -- each library's own default ----------------------------------------------------------------


class Symbol:
    """A C function of a fake library: ``restype`` is set before the call."""

    def __init__(self, value):
        self.value, self.restype = value, None

    def __call__(self):
        return self.value


class Library:
    def __init__(self, internal_api, num_threads, **symbols):
        self.internal_api, self.num_threads, self.user_api = internal_api, num_threads, "blas"
        self.filepath = f"/lib/{internal_api}.so"
        self.dynlib = type("Dynlib", (), {name: Symbol(value) for name, value in symbols.items()})()


def openblas(num_threads, procs, most=64, affixes=("scipy_", "64_")):
    prefix, suffix = affixes
    return Library("openblas", num_threads, **{
        f"{prefix}openblas_get_num_procs{suffix}": procs,
        f"{prefix}openblas_get_config{suffix}":
            f"OpenBLAS 0.3.31 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS={most}".encode()})


@pytest.fixture
def many_cores(no_variables, monkeypatch):
    """128 cores, all free; the loaded libraries are the test's."""
    monkeypatch.setattr(_machine, "cores", lambda: 128)
    monkeypatch.setattr(threads, "_cores", lambda: 128)
    loaded = []
    monkeypatch.setattr(threads, "_blas_libraries", lambda: loaded)
    return loaded


@pytest.mark.parametrize("affixes", [("scipy_", "64_"), ("", ""), ("", "64_"), ("scipy_", "")])
def test_openblas_past_its_build_maximum_is_at_its_default(many_cores, affixes):
    # numpy's OpenBLAS is built for 64 threads: on 128 cores it starts 64, which is no limit
    many_cores.append(openblas(64, procs=128, affixes=affixes))
    assert _machine.blas_default(many_cores[0]) == 64
    assert caller_limit() is None
    assert choose_threads(None, model=LARGE, batch_size=256).threads == 128
    many_cores[0].num_threads = 8
    assert caller_limit() == "a thread limit set by the caller (8)"
    assert choose_threads(None, model=LARGE, batch_size=256).threads is None


def test_openblas_in_an_affinity_mask_starts_with_the_processors_it_found(many_cores):
    many_cores.append(openblas(16, procs=16))  # taskset -c 0-15: OpenBLAS found 16
    assert caller_limit() is None
    many_cores[0].num_threads = 64
    assert caller_limit() == "a thread limit set by the caller (64)"


def test_openblas_on_openmp_threads_starts_with_the_runtimes_count(many_cores):
    many_cores.append(openblas(128, procs=128))
    many_cores[0].threading_layer = "openmp"  # omp_get_max_threads: past MAX_THREADS
    assert caller_limit() is None


@pytest.mark.parametrize("value", ["\u0663", "2\u00a0"])  # an Arabic-Indic 3; 2 and NBSP
def test_only_ascii_digits_count(value):
    assert _machine.read_count("OPENBLAS_NUM_THREADS", value, "openblas") == (
        2 if value.startswith("2") else 0)
    assert _machine.read_count("OMP_NUM_THREADS", value, "mkl") == 0


def test_openblas_that_says_nothing_starts_with_the_cores(many_cores):
    many_cores.append(Library("openblas", 128))
    assert _machine.blas_default(many_cores[0]) == 128
    assert caller_limit() is None


def test_mkl_starts_with_the_physical_cores_and_blis_with_one(many_cores, monkeypatch):
    monkeypatch.setattr(_machine, "physical_cores", lambda: 64)  # 2 hardware threads a core
    many_cores.append(Library("mkl", 64))
    assert caller_limit() is None
    many_cores[0] = Library("blis", 1)
    assert caller_limit() is None
    many_cores.append(Library("mkl", 2))
    assert caller_limit() == "a thread limit set by the caller (2)"


def test_two_libraries_each_at_its_default(many_cores):
    many_cores += [openblas(64, procs=128), openblas(64, procs=128, most=64, affixes=("", ""))]
    assert caller_limit() is None
    many_cores[1].num_threads = 4
    assert caller_limit() == "a thread limit set by the caller (4)"


def test_the_real_openblas_default_is_its_unlimited_count():
    if not openblas_on_threads():
        pytest.skip("checks an OpenBLAS build")
    library, = [lib for lib in threads._blas_libraries() if "numpy" in lib.filepath]
    assert _machine.blas_default(library) == min(len(os.sched_getaffinity(0)), 64)


# -- the cores this process may use ----------------------------------------------------------


@pytest.mark.parametrize(("files", "expected"), [
    ({"cpu.max": "max 100000\n"}, None), ({"cpu.max": "200000 100000\n"}, 2),
    ({"cpu.max": "150000 100000\n"}, 2), ({"cpu.max": "50000 100000\n"}, 1),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),
    ({}, None)])
def test_cgroup_quota(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    assert _machine.cgroup_quota(str(tmp_path)) == expected


def test_the_cores_are_the_affinity_mask_within_the_quota(monkeypatch):
    monkeypatch.setattr(_machine.os, "sched_getaffinity", lambda pid: set(range(8)),
                        raising=False)
    monkeypatch.setattr(_machine, "cgroup_quota", lambda: None)
    assert _machine.cores() == 8
    monkeypatch.setattr(_machine, "cgroup_quota", lambda: 3)
    assert _machine.cores() == 3
    monkeypatch.setattr(_machine, "cgroup_quota", lambda: 64)
    assert _machine.cores() == 8
