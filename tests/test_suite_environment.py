"""The suite itself runs the same under any pytest the test extra admits.

pytest names each running test in PYTEST_CURRENT_TEST, which every subprocess a test starts
inherits. Some pytest versions build that name from the parameters' values: a test given a
3 MB CSV as a parameter could then start no process at all (E2BIG). conftest gives long
parameters a short id; this holds it for every collected test.
"""

import os
import subprocess
import sys

LONGEST_ID = 300  # characters: a path, a function name and a few parameter names


def test_every_test_has_a_short_name(request):
    longest = max(request.session.items, key=lambda item: len(item.nodeid))
    assert len(longest.nodeid) <= LONGEST_ID, longest.nodeid[:LONGEST_ID]


def test_a_long_parameter_gets_a_short_unique_id(request):
    hook = request.config.pluginmanager.hook.pytest_make_parametrize_id
    first = hook(config=request.config, val="x" * 3_000_000, argname="content")
    second = hook(config=request.config, val=b"x" * 2_999_999 + b"y", argname="content")
    assert first.startswith("content-3000000-")
    assert len(first) < 40
    assert first != second
    assert hook(config=request.config, val="short", argname="content") is None


def test_a_test_can_start_a_process():
    assert len(os.environ["PYTEST_CURRENT_TEST"]) <= LONGEST_ID + 10  # "... (call)"
    run = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert (run.returncode, run.stdout) == (0, "42\n")
