"""Reading a network and the arrays beside it from an opened archive, checking all first.

Shared by model files (:func:`mlp.io.load`) and checkpoints (:func:`mlp.io.load_checkpoint`):
the description's layer specs declare the network's arrays, the caller declares any others
(an optimizer's moments, copies of the weights), and every member's header is compared with
what is declared before a single array is allocated.
"""

from __future__ import annotations

import numpy as np

from .._text import shown_list
from . import archive as zipped
from .errors import ModelFileError
from .spec import build_layer, check_spec, check_widths, declared_arrays


def network_arrays(spec, path) -> dict:
    """``{"param:0.W": (shape, dtype), ...}`` of a checked layer spec; ModelFileError naming
    ``path`` when the spec is invalid."""
    try:
        check_spec(spec)
        return declared_arrays(spec)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None


def read_network(archive, infos, spec, extra, path, what="the layers"):
    """Build the network of ``spec`` with the archive's weights, and read the ``extra`` arrays.

    Parameters
    ----------
    archive : zipfile.ZipFile
    infos : dict
        ``{member name: ZipInfo}`` of every array member (the description excluded).
    spec : dict
        The layer spec, already checked by :func:`network_arrays`.
    extra : dict
        ``{member name: (shape, dtype)}`` of the other arrays the description declares.
    path : str or Path
        Named in messages.

    Returns
    -------
    (Layer, dict)
        The network (in training mode, as built) and ``{name: ndarray}`` of the extra arrays,
        each checked finite (but a callback's ``vector:`` records, gradient norms say, which
        may hold infinity).

    Raises
    ------
    ModelFileError
        When the members are not exactly the declared arrays, a header differs from its
        declaration, the layers are inconsistent, or an array holds NaN or infinity.
    """
    declared = {**network_arrays(spec, path), **extra}
    unexpected = sorted(set(infos) - set(declared))
    missing = sorted(set(declared) - set(infos))
    if unexpected or missing:
        raise ModelFileError(f"{path}: the arrays do not match {what} (missing "
                             f"{shown_list(missing)}, unexpected {shown_list(unexpected)})")
    members = {}
    for name, (shape, dtype) in declared.items():
        member = zipped.read_header(archive, infos[name], name, path)
        if member.shape != shape or member.dtype.newbyteorder("=") != dtype:
            raise ModelFileError(f"{path}: {name} has shape {member.shape} and dtype "
                                 f"{member.dtype}, expected {shape} {dtype}")
        members[name] = member
    try:
        model = build_layer(spec)
        check_widths(model)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    targets = {f"param:{p.name}": p.value for p in model.parameters()}
    targets.update({f"buffer:{name}": value for name, value in model.named_buffers()})
    for name, (shape, dtype) in extra.items():
        targets[name] = np.empty(shape, dtype=dtype)
    if set(targets) != set(declared):  # pragma: no cover - spec and layers disagree
        raise ModelFileError(f"{path}: the layers hold {sorted(targets)}, the file "
                             f"declares {sorted(declared)}")
    for name, member in members.items():
        zipped.read_into(archive, member, targets[name], name, path)
        if not name.startswith("vector:") and not zipped.all_finite(targets[name]):
            raise ModelFileError(f"{path}: {name} contains NaN or infinity")
    return model, {name: targets[name] for name in extra}
