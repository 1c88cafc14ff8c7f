"""The metadata section: free-form for callers, checked where the library itself reads it.

``mlp train --save`` stores its preprocessing and labels there, and ``mlp predict`` /
``mlp summary`` read them back, so those keys are checked like the rest of the file: by type,
range and consistency with the network's input and output widths.
"""

from __future__ import annotations

from .._text import shown
from .errors import ModelFileError, kind_of
from .state import _Fields

_SCALES = ("none", "standard", "minmax")


def check_metadata(metadata, n_in, n_out) -> dict:
    """Check the keys the command line uses; return the metadata (``{}`` when absent).

    Parameters
    ----------
    metadata : object
        The parsed ``metadata`` section.
    n_in, n_out : int or None
        The network's input and output widths.

    Raises
    ------
    ModelFileError
        Naming the field: ``metadata.preprocessing.mean has 3 values for 4 features``.
    """
    if metadata is None:
        return {}
    fields = _Fields(metadata, "metadata")
    task = fields.str("task", ("classification", "regression")) if fields.has("task") else None
    if fields.has("feature_names"):
        fields.strings("feature_names", n_in)
    if fields.has("target_name"):
        fields.str("target_name")
    if fields.has("classes") and metadata["classes"] is not None:
        classes = fields.strings("classes")
        if len(classes) != n_out:
            raise ModelFileError(f"metadata.classes has {len(classes)} labels for the "
                                 f"network's {n_out} outputs")
        if task == "regression":
            raise ModelFileError("metadata.classes: a regression model has no classes")
    if task == "regression" and n_out != 1:
        raise ModelFileError(f"metadata.task: a regression model has 1 output, this network "
                             f"has {n_out}")
    if fields.has("preprocessing"):
        _check_preprocessing(_Fields(metadata["preprocessing"], "metadata.preprocessing"),
                             n_in)
    for key in ("trained", "metrics"):
        if fields.has(key):
            section = _Fields(metadata[key], f"metadata.{key}").data
            for name, value in section.items():
                if not isinstance(value, (type(None), bool, int, float, str)):
                    raise ModelFileError(f"metadata.{key}.{shown(name, quote=False)} must be a "
                                         f"number, a string or a boolean, got {kind_of(value)}")
    return metadata


def _check_preprocessing(fields, n_in):
    scale = fields.str("scale", _SCALES) if fields.has("scale") else "none"
    if scale != "none":
        for key in ("mean", "factor"):
            values = fields.numbers(key)
            if n_in is not None and len(values) != n_in:
                raise ModelFileError(f"{fields.where}.{key} has {len(values)} values for "
                                     f"{n_in} features")
    if fields.has("y_mean"):
        fields.number("y_mean")
    if fields.has("y_scale") and not fields.number("y_scale") > 0:
        raise fields._fail("y_scale", "a positive number")
