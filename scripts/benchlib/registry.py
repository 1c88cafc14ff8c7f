"""The registry of workloads, and what every workload is handed and hands back.

A workload module under ``benchlib/workloads/`` registers itself when imported::

    register(Workload(key="workload 9 (start-up)", order=90, run=run, targets=targets,
                      report=report))

``run(context)`` returns a JSON-ready dict, stored in the results under ``key``;
``targets(result)`` gives :class:`Target` rows, ``report(result)`` the lines printed for it,
``references(result)`` ``(label, value)`` rows printed as "for reference (not targets)".
Nothing else in the benchmark changes when a module is added.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Target:
    """One goal: ``value op goal``; ``of_medians`` is the ratio of the medians, beside it."""

    label: str
    value: float
    op: str
    goal: float
    of_medians: float | None = None

    @property
    def passed(self) -> bool:
        return self.value >= self.goal if self.op == ">=" else self.value <= self.goal


@dataclass
class Context:
    """The run's settings, and the data several workloads share (made once, when first used)."""

    threads: int = 1
    quick: bool = False
    repeats: int = 5
    torch: object = None

    @property
    def n_samples(self) -> int:
        return 3000 if self.quick else 60000

    @cached_property
    def classification(self):
        """make_classification(n x 784, 10 classes), float32: workloads 1, 2, 4 and 5."""
        from sklearn.datasets import make_classification

        X, y = make_classification(n_samples=self.n_samples, n_features=784,
                                   n_informative=100, n_classes=10, random_state=0)
        return X.astype(np.float32), y


def _none(result):
    return []


@dataclass
class Workload:
    """A row (or a group of rows) of the benchmark; see the module's docstring."""

    key: str
    order: float
    run: Callable[[Context], dict]
    targets: Callable[[dict], list[Target]] = _none
    report: Callable[[dict], list[str]] = _none
    references: Callable[[dict], list[tuple[str, float]]] = _none
    #: run inside ``threadpool_limits(--threads)``; False for a workload that sets its own
    limited: bool = True
    #: whether to run at all with these settings
    when: Callable[[Context], bool] = field(default=lambda context: True)
    #: why it cannot run on this machine (an optional package missing or broken), or None
    unavailable: Callable[[], str | None] = field(default=lambda: None)


WORKLOADS: dict[str, Workload] = {}


def register(workload: Workload) -> Workload:
    WORKLOADS[workload.key] = workload
    return workload


def discover() -> list[Workload]:
    """Import every module of ``benchlib.workloads``; the registered workloads, in order."""
    from . import workloads

    for module in pkgutil.iter_modules(workloads.__path__):
        importlib.import_module(f"{workloads.__name__}.{module.name}")
    return sorted(WORKLOADS.values(), key=lambda w: w.order)
