"""What an item's process hands back, read as hostile data, and the verdict on it.

The child that ran submitted code writes one JSON document, and the submission chose every
byte of it. It is read with bounds (size, nesting), checked against the reference's answer
(the same keys; an array at most :data:`probes.MAX_NUMBERS` numbers, whose float64 bytes fit
its shape; an error a line of text) and only then judged. Whatever goes wrong on the way is
that item's 0 with the reason, never an exception for the grader and the class.
"""

from __future__ import annotations

import base64
import binascii
import json
import math

import numpy as np

from . import probes
from .checks import judge

MAX_RESULT = 8 << 20  # characters of the child's result: beyond any answer's size
MAX_SHOWN = 200  # characters of the item's own output or error shown to the student
_MAX_DIMENSIONS = 8


class Unreadable(ValueError):
    """The answer is not what a probe writes."""


def shown(text, limit=MAX_SHOWN):
    """``text`` as one printable line of at most ``limit`` characters."""
    line = " ".join(str(text).split())
    line = "".join(c if c.isprintable() else "?" for c in line)
    return line if len(line) <= limit else line[:limit - 3] + "..."


def _array(value, key):
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"shape", "data"}:
        raise Unreadable(f"{key}: not an array")
    shape, data = value["shape"], value["data"]
    if (not isinstance(shape, list) or len(shape) > _MAX_DIMENSIONS
            or not all(type(n) is int and 0 <= n <= probes.MAX_NUMBERS for n in shape)):
        raise Unreadable(f"{key}: not a shape")
    size = math.prod(shape)
    if size > probes.MAX_NUMBERS or not isinstance(data, str) or len(data) > 12 * size + 8:
        raise Unreadable(f"{key}: too large")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise Unreadable(f"{key}: not base64 data") from None
    if len(raw) != 8 * size:
        raise Unreadable(f"{key}: {len(raw)} bytes for shape {tuple(shape)}")
    return np.frombuffer(raw, dtype="<f8").astype(np.float64).reshape(shape)


def decode(result, want):
    """The child's ``result`` text as arrays keyed like ``want``, or the error it reports.

    Raises
    ------
    Unreadable
        For anything a probe does not write: too long, too deep, another structure, keys the
        reference's answer lacks, arrays whose data do not fit their shape.
    """
    if not isinstance(result, str) or len(result) > MAX_RESULT:
        raise Unreadable("too large")
    try:
        status = json.loads(result)
    except (ValueError, RecursionError, MemoryError):
        raise Unreadable("not JSON, or nested too deep") from None
    if not isinstance(status, dict) or len(status) != 1:
        raise Unreadable("not an answer")
    if "error" in status:
        return shown(status["error"], 500) if isinstance(status["error"], str) else "failed"
    arrays = status.get("arrays")
    if not isinstance(arrays, dict) or not set(arrays) <= set(want):
        raise Unreadable("not the probe's arrays")
    return {key: _array(arrays.get(key), key) for key in want}


def verdict(item, answer, want, time_limit):
    """``(passed, message)`` for the sandbox's ``answer`` (``result``, ``output``, ``ended``)
    on ``item``, whose reference arrays are ``want``. Never raises for any ``answer``."""
    ended = str(answer.get("ended", ""))
    if ended == "timeout":
        return False, (f"time limit exceeded ({time_limit:g} s of wall-clock time): an "
                       "endless loop, or waiting?")
    if "SIGXCPU" in ended:
        return False, f"time limit exceeded ({time_limit:g} s of CPU time): an endless loop?"
    if ended == "result too large":
        return False, "the answer was too large (more than a few MB): return the gradient only"
    result = answer.get("result")
    if not result:
        tail = (str(answer.get("output", "")).strip().splitlines()[-1:] or [""])[0]
        return False, shown(f"the item's process ended without a result ({shown(ended, 60)}) "
                            f"{tail}".strip())
    try:
        got = decode(result, want)
    except Unreadable as exc:
        return False, f"the item's process returned something unreadable ({exc})"
    try:
        return judge(item, got, want)
    except Exception as exc:  # a shape of answer the judgement did not foresee  # noqa: BLE001
        return False, f"the answer could not be judged ({type(exc).__name__})"
