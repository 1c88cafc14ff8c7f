"""The one exception every refused model file raises."""

from .._text import shown, shown_value


class ModelFileError(ValueError):
    """A model file that cannot be read: missing, corrupted, foreign, too new or inconsistent.

    The message names the file and the field or array at fault.
    """


def kind_of(value) -> str:
    """How a JSON value reads in a message: 'a string', 'a list', 'the number 5', ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {shown_value(value)}"
    if isinstance(value, str):
        return f"the string {shown(value)}"
    return {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)
