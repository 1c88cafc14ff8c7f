"""User data as it is quoted in a message: never more than a line's worth of it.

A cell, a column name or a string from a model file can be megabytes long; a message that
echoes it whole is no longer one line a person can read."""

from __future__ import annotations

#: The most characters of user data any message quotes.
LIMIT = 80


def shown(text, limit=LIMIT, quote=True) -> str:
    """``repr`` of ``text`` (or the text itself, ``quote=False``) cut to ``limit`` characters,
    with its length when it was cut.

    >>> shown("x" * 100, limit=5)
    "'xxxxx'... (100 characters)"
    """
    text = str(text)
    cut = text if len(text) <= limit else text[:limit]
    cut = repr(cut) if quote else cut
    return cut if len(text) <= limit else f"{cut}... ({len(text):,} characters)"


def shown_list(items, limit=8) -> str:
    """A list of names as a message shows it: the first ``limit``, each cut by :func:`shown`,
    then how many more there are."""
    items = list(items)
    head = ", ".join(shown(item) for item in items[:limit])
    more = f", ... ({len(items) - limit:,} more)" if len(items) > limit else ""
    return f"[{head}{more}]"


def shown_value(value, limit=LIMIT) -> str:
    """``repr`` of any value, cut to ``limit`` characters as :func:`shown` cuts a string: a
    number with thousands of digits or a list of a million items reads as its beginning.

    >>> shown_value([7] * 100, limit=9)
    '[7, 7, 7,... (300 characters)'
    """
    if isinstance(value, str):
        return shown(value, limit)
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int past Python's digit limit, a deep nest
        return f"a {type(value).__name__} too large to show"
    return shown(text, limit, quote=False)
