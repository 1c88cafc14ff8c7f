"""The parts of ``scripts/bench.py``: timing, candidates, the registry and the workloads.

A workload is a module in :mod:`benchlib.workloads` that calls :func:`benchlib.registry.register`
when imported; ``bench.py`` imports every module there, so adding a workload is adding a file.
"""
