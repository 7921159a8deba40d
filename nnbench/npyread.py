"""Reading ``.npy`` arrays and ``.npz`` archives from untrusted files, never with pickle.

A ``.npy`` header may declare any shape, and NumPy reserves that much memory before it reads a
byte of data. Here the header is checked against the bytes the member really holds first, and
object (pickle) dtypes are refused unread. Used by nnbench files and MNIST ``.npz`` archives;
no Qt here.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
import zlib
from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO

import numpy as np

from nnbench.errors import FileFormatError

MAX_HEADER = 10_000  # bytes of header text; NumPy's own default bound
CHUNK = 1 << 20

# What zipfile and zlib raise for damaged archives and members.
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, ValueError, OSError, EOFError,
              KeyError, NotImplementedError, RuntimeError, OverflowError)


def read_npy(stream: BinaryIO, size: int, member: str, name: str) -> np.ndarray:
    """The array of the ``.npy`` member ``member`` of file ``name``: ``size`` bytes read from
    ``stream`` (positioned at the member's start, able to ``tell()``). The header must account
    for exactly ``size`` bytes before anything is allocated; FileFormatError otherwise."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(stream, max_header_size=MAX_HEADER)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(stream, max_header_size=MAX_HEADER)
        else:
            raise FileFormatError(f"{name}: {member} has an unknown .npy version {version}")
    except FileFormatError:
        raise
    except (ValueError, TypeError, SyntaxError, EOFError, OSError, RecursionError, MemoryError) as e:
        raise FileFormatError(f"{name}: {member} has no valid .npy header ({str(e)[:120]})") from e
    if dtype.hasobject:
        raise FileFormatError(f"{name}: {member} holds Python objects; only numbers are read")
    if dtype.itemsize == 0:
        raise FileFormatError(f"{name}: {member} declares items of {dtype}, which hold no data")
    payload = size - stream.tell()
    count = math.prod(shape)
    if any(d < 0 for d in shape) or count * dtype.itemsize != payload:
        raise FileFormatError(f"{name}: {member} declares shape {shape} of {dtype} but holds {payload} bytes")
    buf = bytearray(payload)  # no more than the member holds, now that the header agrees
    view, got = memoryview(buf), 0
    while got < payload:
        n = stream.readinto(view[got : got + CHUNK])
        if not n:
            raise FileFormatError(f"{name}: {member} is truncated: {got} of {payload} bytes")
        got += n
    try:
        flat = np.frombuffer(buf, dtype=dtype, count=count)
        return flat.reshape(shape[::-1]).transpose() if fortran else flat.reshape(shape)
    except ValueError as e:  # e.g. a sub-array dtype, which does not fit the declared shape
        raise FileFormatError(f"{name}: {member} cannot be read as {shape} of {dtype}") from e


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for reading if it is a regular file. Opened non-blocking then checked, so
    a FIFO cannot hang us and /dev/zero or a folder is refused."""
    name = Path(path).name
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise FileFormatError(f"cannot open {name}: {e.strerror or e}") from e
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        regular = False
    if not regular:
        os.close(fd)
        raise FileFormatError(f"{name} is not a regular file")
    return os.fdopen(fd, "rb")


def read_npz(
    path: str | os.PathLike[str], keys: Collection[str], limit: int, what: str
) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of the ``.npz`` at ``path`` (members ``<key>.npy`` or ``<key>``); other
    members are not read, absent keys are absent from the result. Each member may declare at most
    ``limit`` bytes. FileFormatError naming the file (and the member) for anything wrong."""
    name = Path(path).name
    member = ""
    with open_regular(path) as f:
        try:
            with zipfile.ZipFile(f) as zf:
                arrays: dict[str, np.ndarray] = {}
                for info in zf.infolist():
                    key = info.filename.removesuffix(".npy")
                    if key not in keys:
                        continue
                    member = info.filename
                    if key in arrays:
                        raise FileFormatError(f"{name} holds {key} twice")
                    if info.file_size > limit:
                        raise FileFormatError(f"{name}: {member} declares {info.file_size:,} bytes, over "
                                              f"the {limit / 2**20:,.0f} MiB allowed for {what}")
                    # zipfile stops at the declared size and checks the CRC, so the member
                    # holds exactly file_size bytes or the read fails
                    with zf.open(info) as stream:
                        arrays[key] = read_npy(stream, info.file_size, member, name)
                    member = ""
        except FileFormatError:
            raise
        except MemoryError as e:
            raise FileFormatError(f"{name}: not enough memory to read {member or what}") from e
        except ZIP_ERRORS as e:
            where = f"{name}: {member} is damaged" if member else f"{name}: not a readable {what}"
            raise FileFormatError(f"{where} ({type(e).__name__}: {str(e)[:120]})") from e
    return arrays
