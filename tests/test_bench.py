"""A smoke run of the benchmark script, so that it cannot rot (no timing is asserted)."""

import importlib.util
import json
import math
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "bench.py"


def test_quick_benchmark_runs_and_reports_every_target(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick", "--json", str(tmp_path / "bench.json")]) == 0
    results = json.loads((tmp_path / "bench.json").read_text())
    names = [t["target"] for t in results["targets"]]
    assert len(names) == (9 if results["torch"] else 7)
    assert all(math.isfinite(t["value"]) for t in results["targets"])
    workload = results["workload 1 (batch 256)"]
    assert {"mlp float32", "mlp float64", "sklearn", "gemm floor"} <= set(workload)
    assert results["workload 5 (memory)"]["data_bytes"] > 0
    out = capsys.readouterr().out
    assert "targets" in out
    assert out.count("PASS") + out.count("FAIL") == len(names)


def test_ratios_pair_the_candidates_of_each_round():
    spec = importlib.util.spec_from_file_location("bench", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    # the machine slowed down during "b" of round 2 and for all of round 3: the per-round
    # ratios are 0.5, 0.25, 0.5, while the medians alone (1 and 4) would say 0.25
    workload = {"a": {"times": [1.0, 1.0, 2.0], "median": 1.0},
                "b": {"times": [2.0, 4.0, 4.0], "median": 4.0}}
    assert bench.paired_ratio(workload, "a", "b") == 0.5
    assert bench.ratio(workload["a"]["median"], workload["b"]["median"]) == 0.25


def test_round_robin_rotates_the_order_and_keeps_each_candidate_s_times():
    spec = importlib.util.spec_from_file_location("bench", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
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
