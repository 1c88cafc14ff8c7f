"""A smoke run of the benchmark script, so that it cannot rot (no timing is asserted)."""

import importlib.util
import json
import math
from pathlib import Path

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
    assert len(names) == 9 + 2 * bool(results["torch"]) + 2 * with_mnist1d
    assert "W4 1-sample estimator predict_proba <= 0.3x sklearn" in names
    assert {"mlp", "pandas", "mlp numpy"} == set(results["workload 8 (csv)"])
    assert all(math.isfinite(t["value"]) for t in results["targets"])
    assert len(results["reference"]) == 4
    assert all(math.isfinite(r["value"]) for r in results["reference"])
    workload = results["workload 1 (batch 256)"]
    assert {"mlp float32", "mlp float64", "sklearn", "gemm floor"} <= set(workload)
    assert results["workload 5 (memory)"]["data_bytes"] > 0
    out = capsys.readouterr().out
    assert "targets" in out
    assert out.count("PASS") + out.count("FAIL") == len(names)


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
