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

from nnbench.errors import FileFormatError, quote

MAX_HEADER = 10_000  # bytes of header text; NumPy's own default bound
CHUNK = 1 << 20

# Only these members can be read in bounded chunks: Python's zipfile inflates a bzip2 or LZMA
# member whole before any declared size applies (a 1.6 KB member expanded to 2 GiB).
READABLE_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
METHOD_NAMES = {9: "Deflate64", 12: "bzip2", 14: "LZMA", 93: "Zstandard", 95: "XZ", 98: "PPMd"}
DEFLATE_RATIO = 1032  # deflate's largest possible expansion: a member declaring more is lying

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


def check_members(infos: list[zipfile.ZipInfo], name: str) -> None:
    """Refuse members that cannot be read within their declared size (bzip2, LZMA, encrypted),
    whose declared sizes cannot be true, and any name held twice (the last one would win)."""
    seen: set[str] = set()
    for info in infos:
        member = quote(info.filename)
        if info.compress_type not in READABLE_METHODS:
            method = METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
            raise FileFormatError(f"{name}: {member} is compressed with {method}; only stored and deflated "
                                  "members are read")
        if info.flag_bits & 0x1:
            raise FileFormatError(f"{name}: {member} is encrypted")
        if info.filename in seen:
            raise FileFormatError(f"{name} holds {member} twice")
        seen.add(info.filename)
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise FileFormatError(f"{name}: {member} is stored as {info.compress_size:,} bytes but declares "
                                  f"{info.file_size:,}")
        if info.file_size > DEFLATE_RATIO * info.compress_size + 64:
            raise FileFormatError(f"{name}: {member} declares {info.file_size:,} bytes in "
                                  f"{info.compress_size:,}: more than deflate can hold")


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> np.ndarray:
    """The array of one checked member (see :func:`check_members`), read in chunks that stop at
    its declared size; the CRC is checked as the last byte arrives."""
    with zf.open(info) as stream:
        return read_npy(stream, info.file_size, info.filename, name)


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
                infos = zf.infolist()
                check_members(infos, name)
                for info in infos:
                    key = info.filename.removesuffix(".npy")
                    if key not in keys:
                        continue
                    member = info.filename
                    if key in arrays:
                        raise FileFormatError(f"{name} holds {key} twice")
                    if info.file_size > limit:
                        raise FileFormatError(f"{name}: {member} declares {info.file_size:,} bytes, over "
                                              f"the {limit / 2**20:,.0f} MiB allowed for {what}")
                    arrays[key] = read_member(zf, info, name)
                    member = ""
        except FileFormatError:
            raise
        except MemoryError as e:
            raise FileFormatError(f"{name}: not enough memory to read {member or what}") from e
        except ZIP_ERRORS as e:
            where = f"{name}: {member} is damaged" if member else f"{name}: not a readable {what}"
            raise FileFormatError(f"{where} ({type(e).__name__}: {str(e)[:120]})") from e
    return arrays
