"""The one exception every refused model file raises."""


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
        return f"the number {value!r}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {text!r}"
    return {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)
