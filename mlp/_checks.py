"""One check for every number that arrives from outside: its type, finiteness and range.

A model file, a checkpoint or a command line's saved options can hold any JSON number:
``10**400`` (a Python int no float can hold), ``true`` (a bool, which Python counts as an
int), ``1e308`` where a fraction belongs. Every reader of such a number goes through
:func:`checked_number`, so that each is refused in the same words, naming the field, before
anything converts it (``float(10**400)`` raises OverflowError; ``0.9 ** 10**400`` too).
"""

from __future__ import annotations

import math

import numpy as np

from ._text import shown_value

#: The largest count a file may hold (int64's largest): steps, epochs, sizes. Beyond it numpy
#: integers and float arithmetic on the count overflow.
MAX_COUNT = 2**63 - 1


def _expected(integer, finite, low, high, low_open, high_open, optional):
    what = "an integer" if integer else "a finite number" if finite else "a number"
    if integer and low is not None and high is not None and not low_open and high_open:
        what += f" ≥ {low} below {high}"  # a count or an index
    elif low is not None and high is not None:
        what += (f" in {'(' if low_open else '['}{low:g}, {high:g}"
                 f"{')' if high_open else ']'}")
    elif low is not None:
        what += f" {'>' if low_open else '≥'} {low:g}"
    elif high is not None:
        what += f" {'<' if high_open else '≤'} {high:g}"
    return what + (" or null" if optional else "")


def checked_number(value, where, *, low=None, high=None, low_open=False, high_open=False,
                   integer=False, finite=True, nan=False, optional=False, error=ValueError,
                   shown=shown_value):
    """``value`` as a Python float (an int with ``integer=True``) after checking it.

    Parameters
    ----------
    value : object
        What was read: accepted are int and float (numpy's too), never bool.
    where : str
        The field, as the message names it: ``"estimator.loss_"``.
    low, high : float, optional
        The range; ``low_open`` / ``high_open`` exclude the bound itself.
    integer : bool
        Require a whole number of int type (``3.0`` is refused) of at most :data:`MAX_COUNT`.
    finite : bool
        Refuse ±infinity (and ints past float's range) when True; NaN is refused unless
        ``nan=True``.
    optional : bool
        Accept None (returned as is).
    error : type
        The exception raised: ValueError, or the reader's own (``ModelFileError``).
    shown : callable
        How the message quotes the value (capped: a 400-digit number reads as its start).

    Returns
    -------
    float, int or None

    Raises
    ------
    error
        ``"<where> must be a finite number ≥ 0, got <value>"``.
    """
    if value is None and optional:
        return None
    fail = error(f"{where} must be "
                 f"{_expected(integer, finite, low, high, low_open, high_open, optional)}, "
                 f"got {shown(value)}")
    if isinstance(value, (bool, np.bool_)):
        raise fail
    if integer:
        if not isinstance(value, (int, np.integer)) or abs(int(value)) > MAX_COUNT:
            raise fail
        value = int(value)
    else:
        if not isinstance(value, (int, float, np.integer, np.floating)):
            raise fail
        try:
            value = float(value)
        except OverflowError:  # an int past float's range
            raise fail from None
        if (math.isnan(value) and not nan) or (finite and math.isinf(value)):
            raise fail
    if math.isnan(value):
        return value
    if low is not None and (value < low or (low_open and value == low)):
        raise fail
    if high is not None and (value > high or (high_open and value == high)):
        raise fail
    return value
