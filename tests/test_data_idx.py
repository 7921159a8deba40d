"""The IDX parser on generated files: round trips and every way a file can be broken."""

import gzip
import struct
import tracemalloc

import numpy as np
import pytest

from nnbench.data import read_idx, write_idx
from nnbench.data.idx import idx_bytes
from nnbench.errors import FileFormatError


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip(tmp_path, suffix, dtype):
    a = (np.arange(2 * 3 * 4).reshape(2, 3, 4) - 7).astype(dtype)
    path = write_idx(tmp_path / f"a.idx{suffix}", a)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.shape == a.shape and np.array_equal(a, b)
    assert b.dtype.isnative
    assert np.array_equal(read_idx(path.read_bytes()), a)


def test_gzip_is_detected_by_content_not_name(tmp_path):
    path = tmp_path / "looks-plain.idx"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(5, dtype=np.uint8))))
    assert read_idx(path).tolist() == [0, 1, 2, 3, 4]


def header(code, *dims):
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            header(0x08, 10, 28, 28) + b"x" * 1234,
            "truncated: header says 10x28x28 = 7840 bytes, file has 1234",
        ),
        (header(0x08, 3) + b"abcd", "header says 3 = 3 bytes"),
        (b"\x1f\x00\x08\x01" + b"\0" * 10, "not an IDX file: starts with 1f 00 08 01"),
        (b"\0\0", "not an IDX file: only 2 bytes"),
        (b"", "not an IDX file: only 0 bytes"),
        (header(0x07, 4) + b"abcd", "unknown IDX dtype code 0x07"),
        (bytes([0, 0, 8, 0]), "0 dimensions"),
        (bytes([0, 0, 8, 3, 0, 0, 0, 1]), "header of 3 dimensions is cut short"),
        (header(0x0C, 5) + b"\0" * 19, "truncated: header says 5 = 20 bytes, file has 19"),
    ],
)
def test_broken_files(tmp_path, gz, data, words):
    path = tmp_path / "broken.idx"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(FileFormatError, match=words) as err:
        read_idx(path)
    assert "broken.idx" in str(err.value)


@pytest.mark.parametrize("gz", [False, True])
def test_huge_header_does_not_allocate(tmp_path, gz):
    data = header(0x0E, 60000, 60000, 60000) + b"\0" * 64
    path = tmp_path / "huge.idx"
    path.write_bytes(gzip.compress(data) if gz else data)
    tracemalloc.start()
    try:
        with pytest.raises(FileFormatError, match="60000x60000x60000"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_huge_header_with_small_gzip_body_is_bounded_by_the_data(tmp_path):
    data = header(0x08, 1000, 1000, 100) + b"\0" * 1000  # claims 100 MB, holds 1 kB
    path = tmp_path / "liar.idx.gz"
    path.write_bytes(gzip.compress(data))
    tracemalloc.start()
    try:
        with pytest.raises(
            FileFormatError,
            match="truncated: header says 1000x1000x100 = 100000000 bytes, file has 1000",
        ):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "cut.idx.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))[:-20])
    with pytest.raises(FileFormatError, match="cut.idx.gz: corrupt gzip data"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileFormatError, match="nothing.idx: cannot read"):
        read_idx(tmp_path / "nothing.idx")


def test_write_refuses_unsupported_dtypes(tmp_path):
    with pytest.raises(ValueError, match="IDX cannot hold"):
        write_idx(tmp_path / "b.idx", np.array([True]))
