"""Workloads 4 and 5: prediction latency, and the memory training takes beside the data.

4. prediction latency of the workload-1 network, 1 and 10,000 samples ("mlp" is the
   Sequential's forward pass and a softmax; "mlp estimator" is MLPClassifier.predict_proba,
   which keeps every check scikit-learn's makes: its own target row)
5. peak memory while training workload 1, against the size of the data
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

import mlp

from ..candidates import Ours, Sklearn, Torch, build_ours, torch
from ..registry import Target, Workload, register
from ..timing import Repeat, paired_ratio, ratio, round_robin


def workload_latency(X, y, repeats):
    sizes = [X.shape[1], 256, 256, 10]
    ours = build_ours(sizes, np.float32).eval()
    sk = Sklearn(sizes, X[:2000], y[:2000], 256).model
    # the estimator validates its input as scikit-learn's does: shown beside, for fairness
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = mlp.MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=1,
                                      random_state=0).fit(X[:2000], y[:2000])
    one, many = X[:1].astype(np.float32), X[:10000].astype(np.float32)
    result = {}
    for label, batch, calls in (("1 sample", one, 2000), ("10000 samples", many, 5)):
        def ours_predict(batch=batch):
            output = ours.forward(batch)
            P = np.exp(output - output.max(axis=1, keepdims=True))
            return P / P.sum(axis=1, keepdims=True)

        funcs = {"mlp": ours_predict,
                 "mlp estimator": lambda batch=batch: estimator.predict_proba(batch),
                 "sklearn": lambda batch=batch: sk.predict_proba(batch)}
        if torch is not None:
            net = Torch(sizes, X[:10], y[:10], 1).model.eval()
            tensor = torch.from_numpy(batch)

            def torch_predict(net=net, tensor=tensor):
                with torch.no_grad():
                    return torch.softmax(net(tensor), dim=1)

            funcs["torch"] = torch_predict

        timed = round_robin({k: Repeat(f, calls) for k, f in funcs.items()}, repeats)
        result[label] = {k: {s: t[s] / calls for s in ("median", "min", "max")}
                         | {"times": [x / calls for x in t["times"]]}
                         for k, t in timed.items()}
    return result


def workload_memory(X, y, batch):
    sizes = [X.shape[1], 256, 256, 10]
    X32 = X.astype(np.float32)
    ours = Ours(sizes, X32, y, batch, np.float32)
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    ours.epoch()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return {"data_bytes": int(X32.nbytes + y.nbytes), "peak_extra_bytes": int(peak),
            "copies_of_data": peak / (X32.nbytes + y.nbytes)}


def _latency_targets(result):
    one = result["1 sample"]
    return [Target("W4 1-sample latency <= 0.3x sklearn",
                   ratio(one["mlp"]["median"], one["sklearn"]["median"]), "<=", 0.3),
            Target("W4 1-sample estimator predict_proba <= 0.3x sklearn",
                   paired_ratio(one, "mlp estimator", "sklearn"), "<=", 0.3)]


def _latency_report(result):
    lines = ["\nworkload 4 (latency): seconds per call (median)"]
    for label, per in result.items():
        lines.append(f"  {label:<14} " + "  ".join(f"{k} {v['median'] * 1e3:.3f} ms"
                                                   for k, v in per.items()))
    return lines


register(Workload(
    key="workload 4 (latency)", order=40,
    run=lambda c: workload_latency(*c.classification, c.repeats),
    targets=_latency_targets, report=_latency_report))

register(Workload(
    key="workload 5 (memory)", order=50,
    run=lambda c: workload_memory(*c.classification, 256),
    targets=lambda r: [Target("W5 at most one extra copy of the data", r["copies_of_data"],
                              "<=", 1.05)],
    report=lambda r: [f"\nworkload 5 (memory): data {r['data_bytes'] / 1e6:.1f} MB, peak "
                      f"extra {r['peak_extra_bytes'] / 1e6:.1f} MB "
                      f"({r['copies_of_data']:.2f} copies)"]))
