"""Grading results as a table, a gradebook, per-student feedback and the autograder's JSON."""

from __future__ import annotations

import csv
import io


def format_results(results) -> str:
    """A table of points per item with each item's message (the hint), and the total."""
    width = max([len(r["name"]) for r in results] + [4])
    lines = [f"{'item':<{width}}  points  result", "-" * (width + 30)]
    for r in results:
        lines.append(f"{r['name']:<{width}}  {r['score']:>2}/{r['max_score']:<3}  {r['output']}")
    score = sum(r["score"] for r in results)
    total = sum(r["max_score"] for r in results)
    lines += ["-" * (width + 30), f"total: {score}/{total}"]
    return "\n".join(lines)


def results_json(results, visibility="visible") -> dict:
    """Gradescope's ``results.json``: ``score``, ``max_score`` and one test per item.

    Each test has ``name``, ``score``, ``max_score``, ``output`` and ``visibility``
    (``visible``, ``hidden``, ``after_due_date`` or ``after_published``: the item's own, else
    ``visibility``). When the submission could not be read at all, the top-level ``output``
    (always shown to the student) says why.
    """
    report = {"score": sum(r["score"] for r in results),
              "max_score": sum(r["max_score"] for r in results),
              "tests": [{"name": r["name"], "score": r["score"], "max_score": r["max_score"],
                         "output": r["output"], "visibility": r.get("visibility", visibility)}
                        for r in results]}
    problem = next((r["submission"] for r in results if r.get("submission")), None)
    if problem:
        report["output"] = f"This submission could not be graded: {problem}"
    return report


def gradebook_csv(graded) -> str:
    """One row per student: ``student``, each item's points, ``total``, ``max``.

    Parameters
    ----------
    graded : dict of str to list of dict
        Student id to that student's results, every list over the same items.
    """
    rows = list(graded.items())
    items = [r["name"] for r in rows[0][1]] if rows else []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *items, "total", "max"])
    for student, results in rows:
        writer.writerow([student, *(r["score"] for r in results),
                         sum(r["score"] for r in results),
                         sum(r["max_score"] for r in results)])
    return out.getvalue()


def feedback_text(student, results) -> str:
    """What one student reads back: the table with a hint for every item that failed, but
    none for a check the instructor made ``hidden`` (never shown), whose points stay."""
    shown = [{**r, "output": "(a hidden check)"} if r.get("visibility") == "hidden" else r
             for r in results]
    return f"Feedback for {student}\n\n{format_results(shown)}\n"


def class_json(graded) -> dict:
    """Every student's results in one document, in Gradescope's per-student format."""
    return {"students": {student: results_json(results) for student, results in graded.items()}}
