"""§4: does splitting the optimizer's flat update across a second thread pay?

Adam's step on the flat float32 parameter vector of the workload-1 network (269,322 numbers):
the ten whole-vector numpy passes of :class:`benchlib.candidates.NumpyLoop`, once on the
whole vector and once with each half done by its own thread (numpy's elementwise loops release
the GIL). Reference rows only: split time / whole time, at the run's ``--threads`` (the
split uses a second core whatever the BLAS count).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..candidates import adam_update
from ..registry import Workload, register
from ..timing import Repeat, paired_ratio, round_robin

N_PARAMETERS = 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10


class AdamParts:
    """Adam's moments and step on views of one flat vector, part by part."""

    def __init__(self, n, parts):
        rng = np.random.default_rng(0)
        self.theta = rng.normal(size=n).astype(np.float32)
        self.g = rng.normal(size=n).astype(np.float32)
        self.m, self.v, self.tmp = (np.zeros(n, np.float32) for _ in range(3))
        bounds = np.linspace(0, n, parts + 1).astype(int)
        self.parts = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        self.pool = ThreadPoolExecutor(parts - 1) if parts > 1 else None
        self.t = 0

    def update(self, part):
        adam_update(self.theta[part], self.m[part], self.v[part], self.tmp[part], self.g[part],
                    self.t)

    def step(self):
        self.t += 1
        if self.pool is None:
            self.update(self.parts[0])
            return
        pending = [self.pool.submit(self.update, part) for part in self.parts[1:]]
        self.update(self.parts[0])
        for future in pending:
            future.result()


def workload_split(context):
    calls = 20 if context.quick else 500
    candidates = {"whole": AdamParts(N_PARAMETERS, 1), "2 threads": AdamParts(N_PARAMETERS, 2)}
    try:
        timed = round_robin({k: Repeat(c.step, calls) for k, c in candidates.items()},
                            1 if context.quick else context.repeats)
    finally:
        candidates["2 threads"].pool.shutdown()
    np.testing.assert_array_equal(candidates["whole"].theta, candidates["2 threads"].theta)
    return {k: {s: t[s] / calls for s in ("median", "min", "max")}
            | {"times": [x / calls for x in t["times"]]} for k, t in timed.items()}


register(Workload(
    key="§4 optimizer step split across 2 threads", order=85, run=workload_split,
    report=lambda r: [f"\n§4 Adam step on {N_PARAMETERS:,} float32 parameters, ms (median): "
                      + ", ".join(f"{k} {v['median'] * 1e3:.3f}" for k, v in r.items())],
    references=lambda r: [("§4 Adam step split in 2 threads / whole (time)",
                           paired_ratio(r, "2 threads", "whole"))]))
