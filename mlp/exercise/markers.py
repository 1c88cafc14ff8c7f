"""Solution markers: find the marked regions of the library's source and rewrite them."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

# Spelled in two halves so that this module's own text holds no marker.
_TAG = "SOLUTION"
_BEGIN = re.compile(rf"^(\s*)# BEGIN {_TAG}( \(forward\))?(?::\s*(.*?))?\s*$")
_END = re.compile(rf"^\s*# END {_TAG}\s*$")
_ANY = re.compile(rf"#\s*(BEGIN|END)\s+{_TAG}")


class MarkerError(ValueError):
    """Solution markers that do not pair up or sit outside a function."""


@dataclass(frozen=True)
class Region:
    """One marked region: ``lines[begin]`` is the BEGIN line, ``lines[end]`` the END line."""

    file: str
    item: str
    begin: int
    end: int
    hint: str
    forward: bool
    indent: str


# -- finding and replacing regions ----------------------------------------------------------


def _functions(text, filename):
    """(first line, last line, "Class.method") of every function, 1-based lines."""
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        raise MarkerError(f"{filename}:{exc.lineno}: cannot parse: {exc.msg}") from None
    found = []

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((child.lineno, child.end_lineno, f"{prefix}{child.name}"))
                walk(child, f"{prefix}{child.name}.")

    walk(tree, "")
    return found


def find_regions(package_dir) -> list[Region]:
    """Every marked region of the package's modules, in file and line order.

    Raises
    ------
    MarkerError
        For a BEGIN without END, an END without BEGIN, nested regions, a malformed marker
        line or a region outside any function, naming the file and line.
    """
    regions = []
    for path in sorted(Path(package_dir).glob("*.py")):
        if path.name == "exercise.py":
            continue  # the grader itself, whose docstring shows the marker syntax
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        functions = None
        opened = None
        for i, line in enumerate(lines):
            begin, end = _BEGIN.match(line), _END.match(line)
            if begin:
                if opened is not None:
                    raise MarkerError(f"{path.name}:{i + 1}: BEGIN {_TAG} inside the region "
                                      f"opened at line {opened[0] + 1}")
                opened = (i, begin)
            elif end:
                if opened is None:
                    raise MarkerError(f"{path.name}:{i + 1}: END {_TAG} without BEGIN {_TAG}")
                start, match = opened
                functions = functions if functions is not None else _functions(text, path.name)
                inside = [f for f in functions if f[0] <= start + 1 <= f[1]]
                if not inside:
                    raise MarkerError(f"{path.name}:{start + 1}: a {_TAG} region must lie "
                                      "inside a function")
                item = max(inside, key=lambda f: f[0])[2]  # the innermost function
                regions.append(Region(path.name, item, start, i, (match.group(3) or "").strip(),
                                      bool(match.group(2)), match.group(1)))
                opened = None
            elif _ANY.search(line):
                raise MarkerError(f"{path.name}:{i + 1}: malformed marker {line.strip()!r}")
        if opened is not None:
            raise MarkerError(f"{path.name}:{opened[0] + 1}: BEGIN {_TAG} is never closed")
    return regions


def rewrite(text, regions, stubbed):
    """The module text with ``stubbed`` regions replaced by a raise and other markers removed."""
    lines = text.splitlines()
    out = []
    by_begin = {r.begin: r for r in regions}
    i = 0
    while i < len(lines):
        region = by_begin.get(i)
        if region is None:
            out.append(lines[i])
            i += 1
            continue
        if region in stubbed:
            hint = region.hint or "see the docstring"
            out.append(f"{region.indent}# TODO {region.item}: {hint}")
            out.append(f"{region.indent}raise NotImplementedError({f'{region.item}: {hint}'!r})")
        else:
            out.extend(lines[region.begin + 1:region.end])
        i = region.end + 1
    return "\n".join(out) + "\n"
