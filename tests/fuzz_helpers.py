"""Mutations of real nnbench files for the loader fuzz tests (tests/test_reliability_files.py).

Each mutation takes the bytes of a valid file and returns other bytes: damaged at the byte
level (flips, truncation, lying zip/npy headers) or rebuilt as a well-formed archive whose
content is wrong (shapes, dtypes, JSON types, missing and extra keys, zip-slip names, a bomb).
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from typing import Any

import numpy as np

from nnbench.engine import Network, NetworkSpec, files
from nnbench.errors import NnbenchError
from nnbench.experiment import load_experiment, save_experiment


def saved_files(tmp_dir) -> dict[str, bytes]:
    """A bare network file and a trained experiment file (with optimizer state and history)."""
    from nnbench import presets

    bare = tmp_dir / "bare.npz"
    files.save(bare, Network(NetworkSpec.mlp([2, 3, 1]), np.random.default_rng(0)))
    exp = presets.load_preset("xor-mlp").with_training(epochs=3, optimizer="adam")
    _, net, trainer = exp.build()
    for step in trainer.steps():
        if step.epoch >= 3:
            break
    trained = tmp_dir / "trained.npz"
    save_experiment(trained, exp, net, trainer)
    return {"bare": bare.read_bytes(), "trained": trained.read_bytes()}


# ---- archives as dicts of member bytes --------------------------------------------------------

def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def archive(entries: dict[str, bytes], compress: bool = False) -> bytes:
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, raw in entries.items():
            zf.writestr(name, raw)
    return buf.getvalue()


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def meta_of(entries: dict[str, bytes]) -> dict[str, Any]:
    return json.loads(str(np.load(io.BytesIO(entries[files.META + ".npy"]))[()]))


def with_meta(entries: dict[str, bytes], meta: Any) -> dict[str, bytes]:
    out = dict(entries)
    out[files.META + ".npy"] = npy(np.array(json.dumps(meta)))
    return out


# ---- byte-level mutations --------------------------------------------------------------------

def flip(data: bytes, positions: list[int], masks: list[int]) -> bytes:
    b = bytearray(data)
    for p, m in zip(positions, masks, strict=False):
        b[p % len(b)] ^= (m or 1)
    return bytes(b)


def truncate(data: bytes, at: int) -> bytes:
    return data[: at % (len(data) + 1)]


def region_cuts(data: bytes) -> list[int]:
    """Offsets just before, at and after every region boundary of the zip: local headers,
    member data, central directory entries and the end record."""
    cuts = {0, 1, 2, 4, len(data) - 1, len(data) - 22}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            start = info.header_offset
            data_start = start + 30 + len(info.filename.encode()) + len(info.extra)
            for off in (start, start + 4, start + 18, start + 26, data_start, data_start + 8,
                        data_start + 64, data_start + info.compress_size):
                cuts.update({off - 1, off, off + 1})
    cd = data.rfind(b"PK\x01\x02", 0, len(data))
    cuts.update({cd - 1, cd, cd + 1, cd + 20})
    return sorted(c for c in cuts if 0 <= c <= len(data))


def lie_sizes(data: bytes, which: int, value: int) -> bytes:
    """Overwrite the declared compressed/uncompressed sizes of the ``which``-th local and
    central header with ``value`` (a lying header; zip-bomb style)."""
    b = bytearray(data)
    locals_ = [i for i in range(len(b) - 4) if b[i:i + 4] == b"PK\x03\x04"]
    centrals = [i for i in range(len(b) - 4) if b[i:i + 4] == b"PK\x01\x02"]
    value &= 0xFFFFFFFF
    if locals_:
        at = locals_[which % len(locals_)]
        b[at + 18:at + 26] = struct.pack("<II", value, value)
    if centrals:
        at = centrals[which % len(centrals)]
        b[at + 20:at + 28] = struct.pack("<II", value, value)
    return bytes(b)


def npy_header_lie(raw: bytes, shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    """An .npy member whose header declares ``shape``/``descr`` over the original payload."""
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    text = repr(header).encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    text = text + b" " * pad + b"\n"
    head = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text
    payload = raw[int.from_bytes(raw[8:10], "little") + 10:]
    return head + payload


def zip_bomb(size: int = 1 << 30) -> bytes:
    """A deflated .npy member that expands to ``size`` zero bytes (about size/1000 on disk)."""
    header = npy(np.zeros(0))  # replaced below by a header for the full size
    n = (size - 128) // 8
    head = npy_header_lie(header, (n,))
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [comp.compress(head)]
    chunk = bytes(1 << 20)
    for _ in range(size // len(chunk)):
        parts.append(comp.compress(chunk))
    parts.append(comp.flush())
    body = b"".join(parts)
    crc = 0
    crc = zlib.crc32(head, crc)
    for _ in range(size // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    total = len(head) + size // len(chunk) * len(chunk)
    name = b"layer0.W.npy"
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(body),
                        total & 0xFFFFFFFF, len(name), 0) + name
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(body),
                          total & 0xFFFFFFFF, len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(body), 0)
    return local + body + central + end


# ---- the property ----------------------------------------------------------------------------

def check_load(path) -> str:
    """Load ``path`` both ways; any outcome but a valid network or an NnbenchError fails."""
    outcome = []
    for how in ("network", "experiment"):
        try:
            if how == "network":
                saved = files.load(path)
                net = saved.network()
                assert net.spec == saved.spec
                for name, w in net.weights().items():
                    assert np.all(np.isfinite(w)), name
            else:
                exp = load_experiment(path)
                assert exp.saved is not None
                exp.saved.network()
            outcome.append("ok")
        except NnbenchError as e:
            assert str(e), "an error without a message"
            outcome.append("refused")
    return "/".join(outcome)
