"""A smoke run of the benchmark script, so that it cannot rot (no timing is asserted), and its
command line: mistakes refused before any work, outputs whole or absent, no process left behind.
"""

import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "bench.py"


def load_bench():
    """scripts/bench.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("bench", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_quick_benchmark_runs_and_reports_every_target(tmp_path, capsys):
    bench = load_bench()
    assert bench.main(["--quick", "--json", str(tmp_path / "bench.json")]) == 0
    results = json.loads((tmp_path / "bench.json").read_text())
    names = [t["target"] for t in results["targets"]]
    with_mnist1d = "workload 7 (mnist1d)" in results
    assert with_mnist1d == bench.mnist1d_installed()
    expected = {"§1 digits busy <= 1.2x idle (default threads)",
                "W1 float32 samples/s >= 1.4x sklearn", "W1 epoch <= 1.4x GEMM floor",
                "W2 float32 samples/s >= 1.75x sklearn", "W3 wall time <= 0.4x sklearn",
                "W4 1-sample latency <= 0.3x sklearn",
                "W4 1-sample estimator predict_proba <= 0.3x sklearn",
                "W5 at most one extra copy of the data", "W6 accuracy >= sklearn - 0.5 points",
                "W8 reading a CSV <= 2x pandas.read_csv", "S1 mlp --help <= 0.25 s (median)",
                "S2 mlp train --data iris <= 1.2 s (median)"}
    if results["torch"]:
        expected |= {"W1 float32 samples/s >= 1.2x torch", "W2 float32 samples/s >= 1.4x torch"}
    if with_mnist1d:
        expected |= {"W7 MNIST-1D accuracy >= sklearn - 1 point",
                     "W7 MNIST-1D wall time <= 0.6x sklearn"}
    assert expected <= set(names)
    assert {"mlp", "pandas", "mlp numpy"} == set(results["workload 8 (csv)"])
    assert all(math.isfinite(t["value"]) for t in results["targets"])
    references = {r["ratio"] for r in results["reference"]}
    assert {"W1 mlp float32 / numpy loop (time)", "W2 sklearn / numpy loop (samples/s)",
            "§1 digits busy / idle, 2 threads forced",
            "§4 Adam step split in 2 threads / whole (time)"} <= references
    assert all(math.isfinite(r["value"]) for r in results["reference"])
    workload = results["workload 1 (batch 256)"]
    assert {"mlp float32", "mlp float64", "sklearn", "gemm floor"} <= set(workload)
    assert results["workload 5 (memory)"]["data_bytes"] > 0
    break_even = results["§1 threads: break-even"]
    assert {row["width"] for row in break_even["float64"]["rows"]} == {32, 128}
    assert results["§1 threads: busy vs idle"]["decision"][0] is None  # the suite's 1 thread
    assert results["machine"]["cores"] >= 1
    out = capsys.readouterr().out
    assert "targets" in out
    assert out.count("PASS") + out.count("FAIL") == len(names)


def test_a_registered_workload_is_run_and_reported(monkeypatch, capsys):
    # adding a workload is adding a module that registers one: nothing else changes
    bench = load_bench()
    from benchlib import registry

    def run(context):
        return {"seconds": 0.5, "quick": context.quick}

    monkeypatch.setitem(registry.WORKLOADS, "workload 99 (example)", registry.Workload(
        key="workload 99 (example)", order=99, run=run,
        targets=lambda r: [registry.Target("W99 example <= 1 s", r["seconds"], "<=", 1.0)],
        report=lambda r: [f"workload 99: {r['seconds']} s"],
        references=lambda r: [("W99 example, reference", 2.0)]))
    results = bench.run_once(bench.parse(["--quick", "--only", "workload 99"]))
    assert results["workloads"] == ["workload 99 (example)"]
    assert results["workload 99 (example)"] == {"seconds": 0.5, "quick": True}
    assert results["targets"] == [{"target": "W99 example <= 1 s", "value": 0.5, "op": "<=",
                                   "goal": 1.0, "pass": True}]
    assert results["reference"] == [{"ratio": "W99 example, reference", "value": 2.0}]
    out = capsys.readouterr().out
    assert "workload 99: 0.5 s" in out
    assert "PASS  W99 example <= 1 s" in out


def test_several_runs_are_fresh_processes_summarised_by_medians(monkeypatch, capsys):
    bench = load_bench()
    from benchlib import runs

    commands = []

    def run(argv, check, stdout):  # stands in for a whole benchmark process
        commands.append(argv)
        value = [1.5, 1.2, 1.3][len(commands) - 1]
        result = {"machine": {"load_before": 0.5, "load_after": 0.7},
                  "targets": [{"target": "W1 float32 samples/s >= 1.4x sklearn",
                               "value": value, "op": ">=", "goal": 1.4, "pass": value >= 1.4}],
                  "reference": [{"ratio": "W1 mlp float32 / numpy loop (time)",
                                 "value": 2 * value}]}
        Path(argv[-1]).write_text(json.dumps(result))
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(runs.subprocess, "run", run)
    summary = runs.run_several(bench.parse(["--runs", "3", "--threads", "2", "--only", "W1"]),
                               SCRIPT)
    assert len(commands) == 3
    assert commands[0][1:8] == [str(SCRIPT), "--threads", "2", "--repeats", "5", "--only", "W1"]
    assert len(summary["runs"]) == 3
    (target,) = summary["targets"]
    assert target["values"] == [1.5, 1.2, 1.3]
    assert target["value"] == 1.3
    assert target["pass"] is False  # the median misses 1.4, though one run passed
    assert summary["reference"][0]["value"] == 2.6
    out = capsys.readouterr().out
    assert "medians of 3 runs, 2 thread(s)" in out
    assert "FAIL  W1 float32 samples/s >= 1.4x sklearn" in out


def test_ratios_pair_the_candidates_of_each_round():
    bench = load_bench()
    # the machine slowed down during "b" of round 2 and for all of round 3: the per-round
    # ratios are 0.5, 0.25, 0.5, while the medians alone (1 and 4) would say 0.25
    workload = {"a": {"times": [1.0, 1.0, 2.0], "median": 1.0},
                "b": {"times": [2.0, 4.0, 4.0], "median": 4.0}}
    assert bench.paired_ratio(workload, "a", "b") == 0.5
    assert bench.ratio(workload["a"]["median"], workload["b"]["median"]) == 0.25


def test_round_robin_rotates_the_order_and_keeps_each_candidate_s_times():
    bench = load_bench()
    calls = []

    class Candidate:
        def __init__(self, name):
            self.name = name

        def epoch(self):
            calls.append(self.name)

    result = bench.round_robin({name: Candidate(name) for name in "abc"}, repeats=4)
    assert calls[:3] == ["a", "b", "c"]  # the warm-up
    assert calls[3:] == list("abc" "bca" "cab" "abc")
    assert all(len(result[name]["times"]) == 4 for name in "abc")


def test_the_numpy_loop_reference_trains_exactly_like_the_library():
    # the reference is only meaningful if it is the same computation: one epoch of both from
    # the same weights and the same shuffling must end at the same weights (float32 rounding)
    import numpy as np
    from sklearn.datasets import make_classification

    import mlp
    from mlp.trainer import Trainer

    bench = load_bench()
    X, y = make_classification(n_samples=200, n_features=12, n_informative=8, n_classes=10,
                               random_state=0)
    X = X.astype(np.float32)
    sizes = [12, 16, 16, 10]
    reference = bench.NumpyLoop(sizes, X, y, batch=32)
    model = bench.build_ours(sizes, np.float32)
    start = [p.value.copy() for p in model.parameters()]
    for p, q in zip(start, reference.params, strict=True):
        np.testing.assert_array_equal(p, q)
    trainer = Trainer(model, mlp.SoftmaxCrossEntropyLoss(), mlp.Adam(model.parameters(), lr=1e-3),
                      batch_size=32, rng=0)
    trainer.run_epoch(X, y)
    reference.epoch()
    for p, q, p0 in zip(model.parameters(), reference.params, start, strict=True):
        assert not np.allclose(p.value, p0)
        np.testing.assert_allclose(p.value, q, rtol=1e-4, atol=1e-6)


# -- the command line: mistakes refused before any work, in one line --------------------------


@pytest.mark.parametrize(("argv", "message"), [
    (["--threads", "0"], "argument --threads: expected a positive integer, got '0'"),
    (["--threads", "-1"], "argument --threads: expected a positive integer, got '-1'"),
    (["--runs", "0"], "argument --runs: expected a positive integer, got '0'"),
    (["--runs", "-1"], "argument --runs: expected a positive integer, got '-1'"),
    (["--repeats", "0"], "argument --repeats: expected a positive integer, got '0'"),
    (["--repeats", "0", "--runs", "2"],
     "argument --repeats: expected a positive integer, got '0'"),
    (["--json", ""], "argument --json: empty path"),
    (["--json", "/nonexistent/x.json"],
     "--json: cannot write /nonexistent/x.json: no such directory /nonexistent"),
    (["--json", "/tmp"], "--json: cannot write /tmp: it is a directory; an output must be"),
    (["--json", "/dev/full"], "--json: cannot write /dev/full: it is a character device"),
    (["--json", "/proc/x.json"], "--json: cannot write /proc/x.json: "),
    (["--json", "out/"], "--json: cannot write out/: it names a folder"),
    (["--only", "nomatch"], "--only: 'nomatch' is in no workload's key; the keys are "
                            "§1 threads: break-even; "),
    (["--only", "nomatch", "--check"], "--only: 'nomatch' is in no workload's key"),
    (["--only", "W1", "nomatch"], "--only: 'W1' is in no workload's key"),
    (["--only", "2 threads)", "--quick"],
     "--only '2 threads)': workload 1 (batch 256, 2 threads) cannot run: it does not run with "
     "these settings (--quick, --threads)"),
])
def test_a_mistake_in_the_arguments_is_one_line_before_any_work(argv, message, monkeypatch,
                                                                  capsys):
    bench = load_bench()

    def no_work(*args, **kwargs):
        raise AssertionError("the benchmark started")

    monkeypatch.setattr(bench, "run_once", no_work)
    monkeypatch.setattr(bench, "run_several", no_work)
    assert bench.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"bench.py: error: {message}")


@pytest.fixture
def example(monkeypatch):
    """A registered workload that takes no time: what the command line does around a run."""
    load_bench()
    from benchlib import registry

    monkeypatch.setitem(registry.WORKLOADS, "workload 99 (example)", registry.Workload(
        key="workload 99 (example)", order=99, run=lambda context: {"seconds": 0.5},
        targets=lambda r: [registry.Target("W99 example <= 0.1 s", r["seconds"], "<=", 0.1)],
        report=lambda r: [f"workload 99: {r['seconds']} s"]))


def test_json_to_standard_output_is_json_alone(example, capsys):
    bench = load_bench()
    assert bench.main(["--quick", "--only", "workload 99", "--json", "-"]) == 0
    captured = capsys.readouterr()
    results = json.loads(captured.out)  # nothing else on standard output
    assert results["workloads"] == ["workload 99 (example)"]
    assert results["targets"][0]["value"] == 0.5
    assert "FAIL  W99 example <= 0.1 s" in captured.err  # the report went to stderr
    assert "workload 99: 0.5 s" in captured.err


def test_check_fails_a_missed_target_and_the_json_is_whole(example, tmp_path, capsys):
    bench = load_bench()
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--only", "workload 99", "--json", str(out), "--check"]) == 1
    assert json.loads(out.read_text())["targets"][0]["pass"] is False
    assert [p.name for p in tmp_path.iterdir()] == ["bench.json"]  # no temporary file left


def test_a_failed_run_of_several_is_one_line(monkeypatch, tmp_path, capsys):
    bench = load_bench()
    from benchlib import runs

    monkeypatch.setattr(runs.subprocess, "run",
                        lambda argv, check, stdout: subprocess.CompletedProcess(argv, 2))
    argv = ["--runs", "2", "--only", "workload 1", "--json", str(tmp_path / "x.json")]
    assert bench.main(argv) == 1
    assert capsys.readouterr().err.splitlines() == [
        "bench.py: error: run 1 of 2 failed (exit status 2); no results were written"]
    assert list(tmp_path.iterdir()) == []


def _children(pid):
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _running(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize(("signum", "status", "line"), [
    (signal.SIGTERM, 143, "bench.py: terminated"),
    (signal.SIGKILL, -9, None),  # no handler runs: the child's parent-death signal ends it
])
def test_no_process_of_the_benchmark_outlives_it(signum, status, line, tmp_path):
    # §1's busy phase starts a CPU-bound process; however the benchmark ends, it ends too
    out = tmp_path / "bench.json"
    bench = subprocess.Popen([sys.executable, str(SCRIPT), "--quick", "--only", "break-even",
                              "--json", str(out)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    busy = []
    while not busy and time.monotonic() < deadline and bench.poll() is None:
        busy = _children(bench.pid)
        time.sleep(0.05)
    assert busy, "the busy phase never started"
    bench.send_signal(signum)
    _, err = bench.communicate(timeout=60)
    assert bench.returncode == status
    if line is not None:
        assert err.splitlines()[-1] == line
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in busy) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_running(pid) for pid in busy)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("signum", "status", "line"), [
    (signal.SIGHUP, 129, "bench.py: terminated"),
    (signal.SIGTERM, 143, "bench.py: terminated"),
    (signal.SIGINT, 130, "bench.py: interrupted"),
])
def test_a_signal_unwinds_the_run_and_is_one_line(signum, status, line, monkeypatch, capsys):
    # unwinding is what runs the busy loop's kill and removes temporary files
    bench = load_bench()
    unwound = []
    # Python raises KeyboardInterrupt for SIGINT only if it was not ignored when the process
    # started; a shell without job control starts background commands with SIGINT ignored.
    # Here SIGINT is as a terminal leaves it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)

    def interrupted(args):
        try:
            os.kill(os.getpid(), signum)
            time.sleep(5)
        finally:
            unwound.append(True)
        raise AssertionError("the signal did not stop the run")

    monkeypatch.setattr(bench, "_benchmark", interrupted)
    try:
        assert bench.main(["--quick"]) == status
    finally:
        signal.signal(signal.SIGINT, previous)
    assert unwound == [True]
    assert capsys.readouterr().err.splitlines() == [line]
    assert signal.getsignal(signal.SIGTERM) is not bench._terminate  # handlers put back
