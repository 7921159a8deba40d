"""Reading and writing IDX files (the MNIST format), plain or gzipped.

Layout: two zero bytes, a dtype code, the number of dimensions, one big-endian uint32 per
dimension, then the values big-endian in C order. The header is untrusted: the payload is
read in chunks and compared with what the header claims, never allocated from it.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path
from typing import Protocol

import numpy as np

from nnbench.errors import FileFormatError

DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
MAX_BYTES = 1 << 30  # 1 GiB: 20 times MNIST's training images; anything larger is not for nnbench
CHUNK = 1 << 20


class _Reader(Protocol):
    def read(self, n: int, /) -> bytes | None: ...


def _read_exact(stream: _Reader, n: int) -> bytes:
    data = stream.read(n)
    return data if data is not None else b""


def _read_header(stream: _Reader, name: str) -> tuple[np.dtype, tuple[int, ...]]:
    magic = _read_exact(stream, 4)
    if len(magic) < 4:
        raise FileFormatError(f"{name}: not an IDX file: only {len(magic)} bytes")
    if magic[:2] != b"\0\0":
        raise FileFormatError(f"{name}: not an IDX file: starts with {magic.hex(' ')}, expected 00 00")
    code, ndim = magic[2], magic[3]
    if code not in DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in DTYPES)
        raise FileFormatError(f"{name}: unknown IDX dtype code 0x{code:02x} (known: {known})")
    if not 1 <= ndim <= 8:
        raise FileFormatError(f"{name}: IDX header gives {ndim} dimensions, expected 1 to 8")
    raw = _read_exact(stream, 4 * ndim)
    if len(raw) < 4 * ndim:
        raise FileFormatError(f"{name}: truncated: the header of {ndim} dimensions is cut short")
    return DTYPES[code], struct.unpack(f">{ndim}I", raw)


def _read_payload(stream: _Reader, expected: int, name: str, shape: tuple[int, ...]) -> bytearray:
    # One byte past what is expected tells an exact payload from one with trailing bytes.
    buf = bytearray()
    while len(buf) <= expected:
        chunk = _read_exact(stream, min(CHUNK, expected + 1 - len(buf)))
        if not chunk:
            break
        buf += chunk
    dims = "x".join(map(str, shape))
    if len(buf) < expected:
        raise FileFormatError(
            f"{name}: truncated: header says {dims} = {expected} bytes, file has {len(buf)}"
        )
    if len(buf) > expected:
        raise FileFormatError(f"{name}: header says {dims} = {expected} bytes, but the file has more")
    return buf


def _parse(stream: _Reader, name: str, file_size: int | None, max_bytes: int) -> np.ndarray:
    """Header then payload; ``file_size`` (plain files) lets a lying header fail before any read."""
    dtype, shape = _read_header(stream, name)
    expected = math.prod(shape) * dtype.itemsize
    dims = "x".join(map(str, shape))
    if file_size is not None:
        actual = file_size - 4 - 4 * len(shape)
        if expected != actual:
            what = "truncated: " if expected > actual else ""
            raise FileFormatError(f"{name}: {what}header says {dims} = {expected} bytes, file has {actual}")
    if expected > max_bytes:
        raise FileFormatError(
            f"{name}: header says {dims} = {expected} bytes, over the {max_bytes}-byte limit"
        )
    buf = _read_payload(stream, expected, name, shape)
    return np.frombuffer(buf, dtype=dtype).astype(dtype.newbyteorder("="), copy=False).reshape(shape)


def read_idx(source: str | os.PathLike[str] | bytes, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """The array stored in an IDX file (path or bytes), gunzipped if it starts with gzip's magic."""
    name = "<bytes>" if isinstance(source, bytes) else Path(source).name
    try:
        if isinstance(source, bytes):
            raw: io.BufferedIOBase = io.BytesIO(source)
            size = len(source)
        else:
            raw = open(source, "rb")  # noqa: SIM115 - closed in finally
            size = os.fstat(raw.fileno()).st_size
    except OSError as exc:
        raise FileFormatError(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        if raw.read(2) == GZIP_MAGIC:
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                return _parse(gz, name, None, max_bytes)
        raw.seek(0)
        return _parse(raw, name, size, max_bytes)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise FileFormatError(f"{name}: corrupt gzip data: {exc}") from None
    except OSError as exc:
        raise FileFormatError(f"{name}: cannot read: {exc.strerror or exc}") from None
    finally:
        raw.close()


_CODES = {dt.newbyteorder("="): code for code, dt in DTYPES.items()}


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` encoded as an IDX file (uint8, int8, int16, int32, float32 or float64)."""
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None or array.ndim < 1:
        raise ValueError(f"IDX cannot hold a {array.ndim}-D {array.dtype} array")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes()


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write ``array`` as IDX to ``path``, gzipped when the name ends in ``.gz``."""
    path = Path(path)
    data = idx_bytes(array)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)  # mtime 0: the same array gives the same bytes
    path.write_bytes(data)
    return path
