"""Workload 8: reading a CSV of 1,000,000 rows x 20 numbers (features and a numeric target)
with the command line's checked reader, against pandas.read_csv alone.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np

from ..registry import Workload, register
from ..timing import round_robin, timing_lines
from .training import _timed_targets


def workload_csv(rows, repeats):
    import pandas

    from mlp import tables
    from mlp.datasets import load_csv

    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "table.csv")
    values = np.random.default_rng(0).normal(size=(rows, 20))
    np.savetxt(path, values, delimiter=",", fmt="%.8g", comments="",
               header=",".join(f"c{j}" for j in range(20)))

    class Read:
        def __init__(self, read):
            self.epoch = read

    def ours(use_pandas):
        def read():
            tables.USE_PANDAS = use_pandas
            load_csv(path)
        return read

    previous = tables.USE_PANDAS
    candidates = {"mlp": Read(ours(True)), "pandas": Read(lambda: pandas.read_csv(path)),
                  "mlp numpy": Read(ours(False))}
    try:
        return round_robin(candidates, repeats)
    finally:
        tables.USE_PANDAS = previous
        shutil.rmtree(folder)


register(Workload(
    key="workload 8 (csv)", order=80,
    run=lambda c: workload_csv(20_000 if c.quick else 1_000_000, min(c.repeats, 3)),
    targets=_timed_targets([("W8 reading a CSV <= 2x pandas.read_csv", "mlp", "pandas", "<=",
                             2.0)]),
    report=lambda r: timing_lines("workload 8 (csv)", r)))
