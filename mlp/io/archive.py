"""Reading a model archive without trusting it: every size is checked before it is used.

A model file is a zip archive of ``.npy`` members (what :func:`numpy.savez` writes). The
reader opens only regular files, refuses members whose names it does not know before
reading them, reads each member's header (shape, dtype) without its data, checks that the
header, the zip directory and the compressed size agree, and finally reads the data straight
into the arrays that keep it. Nothing is unpickled; nothing is allocated for an array that
the description does not declare with exactly that shape.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import zipfile
from typing import NamedTuple

import numpy as np

from .._text import shown
from .errors import ModelFileError

#: The description is small: a few layers and an estimator's hyperparameters and curves.
MAX_CONFIG_BYTES = 16 * 2**20
#: Deflate cannot expand data by more than about 1032 times.
_MAX_DEFLATE_RATIO = 1032
_MEMBER = re.compile(r"(__config__|(param|buffer|optim|snapshot|vector):[A-Za-z0-9_.]{1,200})\.npy")
_CHUNK = 2**20


class Member(NamedTuple):
    """One ``.npy`` member: its zip entry and the header it declares."""

    info: zipfile.ZipInfo
    shape: tuple
    fortran_order: bool
    dtype: np.dtype


@contextlib.contextmanager
def open_archive(path):
    """Open a regular file as a zip archive, refusing directories, FIFOs and devices."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; checked below and refused
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ModelFileError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"cannot read {path}: it is a directory") from None
    except PermissionError:
        raise ModelFileError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ModelFileError(f"cannot read {path}: " + (
            "it is a directory" if stat.S_ISDIR(mode) else "not a regular file"))
    with os.fdopen(fd, "rb") as f, _as_zip(f, path) as archive:
        yield archive


@contextlib.contextmanager
def _as_zip(f, path):
    try:
        if f.read(4) != b"PK\x03\x04":
            raise ModelFileError(f"{path} is not an mlp model file (not an .npz archive)")
        f.seek(0)
        archive = zipfile.ZipFile(f)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ModelFileError(f"{path} is corrupted or truncated (incomplete .npz archive: "
                             f"{shown(exc, limit=200, quote=False)})") from None
    with archive:
        yield archive


def member_names(archive, path) -> dict:
    """``{name: ZipInfo}`` for the archive's members, refusing unknown or repeated names."""
    infos = {}
    if "__config__.npy" not in archive.namelist():
        raise ModelFileError(f"{path} is not an mlp model file (no model description)")
    for info in archive.infolist():
        match = _MEMBER.fullmatch(info.filename)
        if match is None:
            raise ModelFileError(f"{path}: unexpected member {shown(info.filename)} in the archive")
        name = match.group(1)
        if name in infos:
            raise ModelFileError(f"{path}: the member {shown(info.filename)} appears twice")
        infos[name] = info
    return infos


def read_header(archive, info, name, path) -> Member:
    """A member's declared shape and dtype, checked against its stored and compressed sizes."""
    if info.flag_bits & 0x1:
        raise ModelFileError(f"{path}: {name} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ModelFileError(f"{path}: {name} uses an unsupported compression method")
    limit = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED
                                  else _MAX_DEFLATE_RATIO) + 64
    if info.file_size > limit:
        raise ModelFileError(f"{path}: {name} claims {info.file_size} bytes, more than its "
                             f"{info.compress_size} stored bytes can hold")
    try:
        with archive.open(info) as fp:
            shape, fortran_order, dtype = _header(fp)
            offset = fp.tell()
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {name}: {shown(exc, limit=200, quote=False)}") \
            from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path}: {name} has a corrupted array header "
                             f"({shown(exc, limit=200, quote=False)})") from None
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if offset + nbytes != info.file_size:
        raise ModelFileError(f"{path}: {name} declares shape {shape} ({nbytes} bytes of "
                             f"{dtype}) but holds {info.file_size - offset} bytes")
    return Member(info, shape, fortran_order, dtype)


def _header(fp):
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version in ((2, 0), (3, 0)):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise ModelFileError(f"unsupported .npy format version {version}")
    if dtype.hasobject:
        raise ModelFileError(
            "a pickled object array; refusing to load it (model files hold plain numbers "
            "only, so that opening one cannot run code)"
        )
    return shape, fortran_order, dtype


def read_bytes(archive, member, path, limit) -> bytes:
    """The data of a small 1-D uint8 member (the description), at most ``limit`` bytes."""
    if member.dtype != np.uint8 or len(member.shape) != 1:
        raise ModelFileError(f"{path}: the model description is not a byte string")
    if member.shape[0] > limit:
        raise ModelFileError(f"{path}: the model description is {member.shape[0]} bytes, "
                             f"more than the {limit} a model file may hold")
    target = np.empty(member.shape, dtype=np.uint8)
    read_into(archive, member, target, "the model description", path)
    return target.tobytes()


def read_into(archive, member, target, name, path) -> None:
    """Read a member's data straight into ``target`` (same shape, same dtype up to byte order)."""
    fortran = member.fortran_order and target.ndim > 1
    # a Fortran-ordered member (never written here) goes through one transposed copy
    dest = np.empty(target.shape[::-1], dtype=member.dtype) if fortran else target
    view = memoryview(dest.reshape(-1).view(np.uint8))
    try:
        with archive.open(member.info) as fp:
            _header(fp)
            done = 0
            while done < len(view):
                n = fp.readinto(view[done:done + _CHUNK])
                if not n:
                    raise ModelFileError(f"{path}: {name} is truncated")
                done += n
            fp.read(1)  # reach the end of the member, where zipfile checks its CRC
    except ModelFileError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path}: {name} is corrupted or truncated "
                             f"({shown(exc, limit=200, quote=False)})") from None
    if fortran:
        target[...] = dest.T
    elif not member.dtype.isnative:
        target.byteswap(inplace=True)


def all_finite(array) -> bool:
    """True when every value is finite, checked in slices (no full-size temporary)."""
    flat = array.reshape(-1)
    return all(np.isfinite(flat[i:i + _CHUNK]).all() for i in range(0, flat.size, _CHUNK))
