"""Timing many candidates fairly on a shared machine, and the ratios between them."""

from __future__ import annotations

import statistics
import time


def round_robin(candidates, repeats, warmup=True):
    """Time each candidate's ``epoch`` in turn, ``repeats`` times; a warm-up epoch first.

    The order rotates by one place every round, so that no candidate always runs first or
    always after the same other one (what ran before can leave the caches and the memory
    allocator in a state that helps or hurts the next).
    """
    if warmup:
        for c in candidates.values():
            c.epoch()
    names = list(candidates)
    times = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            candidates[name].epoch()
            times[name].append(time.perf_counter() - start)
    return {name: summary(t) for name, t in times.items()}


def summary(times):
    """Median, min, max and the times themselves."""
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "times": list(times)}


class Repeat:
    """``calls`` calls of ``f`` as one timed unit."""

    def __init__(self, f, calls):
        self.f, self.calls = f, calls

    def epoch(self):
        for _ in range(self.calls):
            self.f()


class FromScratch:
    """Each ``epoch`` call is a whole training run from a new seed; the test scores are kept."""

    def __init__(self, train_and_score):
        self.train_and_score, self.scores = train_and_score, []

    def epoch(self):
        self.scores.append(self.train_and_score(len(self.scores)))


def ratio(a, b):
    return a / b if b else float("nan")


def paired_ratio(workload, a, b):
    """The median over rounds of time(a) / time(b), each pair timed in the same round."""
    pairs = zip(workload[a]["times"], workload[b]["times"], strict=True)
    return statistics.median(ratio(x, y) for x, y in pairs)


def timing_lines(title, result):
    """A table of seconds (median, min-max), one line per candidate."""
    lines = [f"\n{title}: seconds (median, min-max)"]
    for name, t in result.items():
        if isinstance(t, dict) and "median" in t:
            lines.append(f"  {name:<12} {t['median']:8.4f}  ({t['min']:.4f}-{t['max']:.4f})")
    return lines
