"""Grading submissions: each item of each submission runs in a sandboxed fork, the verdict here.

The grader never imports submitted code. It writes, once, a *host* package: the student's
skeleton, every exercised item's solution removed (what ``make`` gives the student), so that
the process running submitted code holds no solution to show. A sandbox process
(:mod:`.sandbox`), warmed up with numpy, forks one child per item; the child imports the host
as ``mlp``, then the one submitted module that defines the item, runs the item's probe with
the submitted functions put in and hands back raw arrays. This process reads them as hostile
data (:mod:`.answers`) and compares them with the reference's arrays, computed here on the
same inputs. Each submission is graded from a private copy of its modules, so that it cannot
change the folder it came from, or anything else; a submission that cannot be read costs
only itself (:mod:`.submissions`).
"""

from __future__ import annotations

import compileall
import importlib
import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import Queue

from . import confine, probes
from . import isolation as kernel
from .answers import verdict
from .manifest import exercise_items, item_files, item_visibility, reference_dir
from .markers import find_regions
from .submissions import Rejected, file_identities, find_package, private_copy, readable

_loaded = 0


# What the item's process runs on: the interpreter's and the environment's own folders (a
# virtual environment may sit inside the protected checkout; numpy comes from there).
_ENVIRONMENT = sorted({os.path.realpath(p) for p in (
    sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
    *site.getsitepackages())})


def load_package(package_dir, alias=None):
    """Import the package in ``package_dir`` under a fresh name, beside any other ``mlp``.

    For trusted code only (the reference, the exercise's own checks): this runs the package.
    """
    global _loaded
    _loaded += 1
    alias = alias or f"_mlp_exercise_{_loaded}"
    package_dir = Path(package_dir)
    spec = importlib.util.spec_from_file_location(
        alias, package_dir / "__init__.py", submodule_search_locations=[str(package_dir)])
    if spec is None:
        raise ValueError(f"{package_dir} is not a Python package")
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
        for name in ("gradcheck", "optim", "losses"):
            importlib.import_module(f"{alias}.{name}")
    except BaseException:
        for name in [n for n in sys.modules if n == alias or n.startswith(alias + ".")]:
            del sys.modules[name]
        raise
    return module


def reference_package(source=None):
    """The reference package, imported: the installed ``mlp`` itself, or ``source`` loaded."""
    source = reference_dir(source)
    if source == Path(__file__).resolve().parent.parent:
        return importlib.import_module("mlp")
    return load_package(source)


class _Sandbox:
    """One warmed-up sandbox process (see :mod:`.sandbox`), serving one job at a time."""

    def __init__(self, isolation):
        # nothing of the grader's environment reaches the process items are forked from
        env = confine.item_environment(tempfile.gettempdir())
        if "LD_LIBRARY_PATH" in os.environ:  # an interpreter that needs it to start
            env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
        config = {"probes": probes.__file__, "preload": _PRELOAD, "isolation": isolation}
        self._neutral = tempfile.mkdtemp(prefix="mlp-sandbox-")
        self._process = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).with_name("sandbox.py")),
             json.dumps(config)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, cwd=self._neutral, env=env, text=True)

    def run(self, job) -> dict:
        try:
            self._process.stdin.write(json.dumps(job) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
            return json.loads(line)
        except (OSError, ValueError):
            return {"result": None, "output": "", "ended": "the sandbox stopped"}

    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self):
        try:
            self._process.stdin.close()
            self._process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
        self._process.stdout.close()
        shutil.rmtree(self._neutral, ignore_errors=True)


_PRELOAD = ["scipy.special", "dataclasses", "numbers", "contextlib", "collections.abc",
            "csv", "json", "math", "warnings", "types", "inspect"]


class Grader:
    """Grades submissions of one exercise; use as a context manager (it owns processes).

    Parameters
    ----------
    exercise : path, list of str or None
        Where the items and points come from (see :func:`exercise_items`).
    source : path, optional
        The reference package; default the installed ``mlp``.
    time_limit : float
        Seconds per item, of CPU time and (plus one second to start) of wall-clock time.
    memory_limit : int
        Bytes of address space per item.
    workers : int, optional
        Sandboxes running in parallel; default the number of CPUs.
    seed : int
        Draws the grading inputs (and batch sizes), unlike those of the student's own tests.
    isolation : {"auto", "user", "none"}
        How submitted code is kept from everything else (see :mod:`.isolation`): "auto",
        the kernel's namespaces (as root, then an unprivileged uid, where root may make
        namespaces; otherwise in a user namespace); "user", always in a user namespace (the
        route without root, to test it as root); "none", only the audit hook and resource
        limits, which code that disables the hook escapes: an
        ``isolation.UnisolatedWarning`` says so.

    Raises
    ------
    OSError
        (``isolation.Unavailable``) When the kernel refuses the namespaces (the message
        says why), unless ``isolation="none"``.
    """

    def __init__(self, exercise=None, *, source=None, time_limit=60.0,
                 memory_limit=4 << 30, workers=None, seed=1, isolation="auto"):
        if isolation not in ("auto", "user", "none"):
            raise ValueError(f"isolation must be 'auto', 'user' or 'none', got {isolation!r}")
        if isolation == "none":
            warnings.warn("grading without isolation: submitted code that disables the "
                          "audit hook can read the reference and other submissions",
                          kernel.UnisolatedWarning, stacklevel=2)
        else:
            route, reason = kernel.route(isolation)
            if route is None:
                raise kernel.Unavailable(
                    f"submitted code cannot be isolated here ({reason}): grade where Linux "
                    "allows user namespaces, or pass --no-isolation to grade without (unsafe)")
        self.isolation = isolation
        self._route = "none" if isolation == "none" else route
        self.source = reference_dir(source)
        self.items = exercise_items(exercise, self.source)
        self.visibility = item_visibility(exercise)
        regions = find_regions(self.source)
        # each item from the file the students' skeleton has it in (an older one: elsewhere)
        self.files = {**{r.item: r.file for r in regions}, **item_files(exercise, regions)}
        self.time_limit, self.memory_limit, self.seed = time_limit, memory_limit, seed
        self.workers = workers or os.cpu_count() or 2
        self._root = Path(tempfile.mkdtemp(prefix="mlp-grader-"))
        self._host = self._build_host(regions)
        self._reference = self._reference_values()
        self._sandboxes = Queue()
        self._all = []
        self._lock = threading.Lock()
        installed = Path(__file__).resolve().parent.parent  # with the grader's own files
        # what a submission may not lead to; a class folder inside the checkout stays gradable
        self._guarded = [str(self.source), str(installed), self._host,
                         str(self._root / "copies")]
        self._identities = file_identities({self.source, installed})
        self._modules = frozenset(p.name for p in self.source.glob("*.py"))
        self.protected = [str(self.source), str(installed)]
        if any((self.source.parent / f).exists() for f in ("setup.cfg", "pyproject.toml")):
            self.protected.append(str(self.source.parent))  # the checkout with its history

    def _build_host(self, regions):
        """The student's skeleton (every exercised item stubbed), byte-compiled."""
        from .make import write_package

        exercised = {name for name, _ in self.items}
        folder = self._root / "host"
        write_package(folder / "mlp", self.source, regions,
                      [r for r in regions if r.item in exercised])
        compileall.compile_dir(folder / "mlp", quiet=2)
        return str(folder)

    def _reference_values(self):
        ref = reference_package(self.source)
        return {name: probes.run(name, ref, None, seed=self.seed) for name, _ in self.items}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for sandbox in self._all:
            sandbox.close()
        self._all.clear()
        shutil.rmtree(self._root, ignore_errors=True)

    def _sandbox(self):
        if self._sandboxes.empty():
            with self._lock:
                if len(self._all) < self.workers:
                    self._all.append(_Sandbox(self._route))
                    self._sandboxes.put(self._all[-1])
        return self._sandboxes.get()

    def _methods(self, name):
        """The other exercised methods of the item's class: the probe uses the student's."""
        cls = name.split(".")[0]
        return [other.split(".")[1] for other, _ in self.items
                if other != name and other.split(".")[0] == cls]

    def _grade_item(self, name, copy, others):
        sandbox = self._sandbox()
        scratch = Path(tempfile.mkdtemp(dir=self._root / "scratch"))
        try:
            answer = sandbox.run({
                "host": self._host, "package": str(copy), "file": self.files[name],
                "item": name, "methods": self._methods(name), "seed": self.seed,
                "time_limit": self.time_limit, "wall_limit": self.time_limit + 1,
                "memory_limit": self.memory_limit, "file_limit": 1 << 20,
                "scratch": str(scratch),
                "readable": [self._host, str(copy), str(scratch), *_ENVIRONMENT],
                # classmates' folders, for the audit hook alone: isolated, the item's job
                # names none (the kernel keeps them out of its view)
                "unreadable": [*self.protected, str(self._root),
                               *(others if self._route == "none" else [])]})
        finally:
            if not sandbox.alive():
                with self._lock:
                    self._all.remove(sandbox)
                sandbox.close()
            else:
                self._sandboxes.put(sandbox)
            shutil.rmtree(scratch, ignore_errors=True)
        return verdict(name, answer, self._reference[name], self.time_limit)

    def _copy(self, i, submission):
        """The submission's private copy, or the reason it cannot be graded (a str)."""
        if isinstance(submission, Rejected):
            return submission.reason
        try:
            package = find_package(submission, self._modules, self._root / "unpacked" / str(i))
            return private_copy(package, self._root / "copies" / str(i) / "mlp",
                                set(self.files.values()), self._guarded, self._identities)
        except (ValueError, OSError) as exc:
            return str(exc)

    def grade_many(self, folders) -> list[list[dict]]:
        """Grade each submission; one result list per submission, in order (see :func:`grade`).

        A submission is a folder (with ``mlp/``, or the library's files loose, see
        :func:`.submissions.find_package`) or a :class:`.submissions.Rejected`, which scores
        0 on every item with its reason.
        """
        (self._root / "scratch").mkdir(exist_ok=True)
        copies = [self._copy(i, f) for i, f in enumerate(folders)]
        others = [os.path.realpath(f) for f in folders if not isinstance(f, Rejected)]
        jobs = [(i, name) for i in range(len(folders)) for name, _ in self.items]

        def run(job):
            i, name = job
            if isinstance(copies[i], str):
                return False, copies[i]
            return self._grade_item(name, copies[i], others)

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            verdicts = dict(zip(jobs, pool.map(run, jobs), strict=True))
        return [[{"name": name, "score": points if verdicts[i, name][0] else 0,
                  "max_score": points, "output": readable(verdicts[i, name][1]),
                  "visibility": self.visibility.get(name, "visible"),
                  **({"submission": readable(copies[i])} if isinstance(copies[i], str)
                     else {})}
                 for name, points in self.items] for i in range(len(folders))]


def grade(directory, *, exercise=None, time_limit=60.0, workers=None, **options) -> list[dict]:
    """Grade every item of one submission (a folder with the student's ``mlp/``, or files).

    Items and points come from ``exercise`` (the instructor's folder or manifest, see
    :func:`exercise_items`), never from the submission. Each item runs in a fork of a
    sandbox process with limits, so a module that fails to import, crashes or loops forever
    costs only its own items.

    Returns
    -------
    list of dict
        One per item: ``name``, ``score``, ``max_score``, ``output`` (a short message) and
        ``visibility``; and ``submission``, the reason, when the submission could not be read.
    """
    with Grader(exercise, time_limit=time_limit, workers=workers, **options) as grader:
        return grader.grade_many([directory])[0]
