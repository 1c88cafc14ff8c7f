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
