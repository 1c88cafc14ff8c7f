"""Grading results as a table and in the autograder's JSON format."""

from __future__ import annotations

def format_results(results) -> str:
    """A table of points per item, and the total."""
    width = max(len(r["name"]) for r in results) if results else 4
    lines = [f"{'item':<{width}}  points  result", "-" * (width + 30)]
    for r in results:
        lines.append(f"{r['name']:<{width}}  {r['score']:>2}/{r['max_score']:<3}  {r['output']}")
    score = sum(r["score"] for r in results)
    total = sum(r["max_score"] for r in results)
    lines += ["-" * (width + 30), f"total: {score}/{total}"]
    return "\n".join(lines)


def results_json(results) -> dict:
    """The autograder format: total score, maximum, and one entry per test."""
    return {"score": sum(r["score"] for r in results),
            "max_score": sum(r["max_score"] for r in results),
            "tests": results}
