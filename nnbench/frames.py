"""Frames through shared memory: the engine process writes, the window reads, neither waits.

A segment holds a small control block and two slots. The writer fills the slot the reader is
not meant to read (the older one), bumping that slot's sequence number to odd before and to
even after, then marks it the latest. The reader copies the latest slot and checks its
sequence number did not move meanwhile (a seqlock), so it never uses a half-written frame; if
the writer lapped it, it keeps the frame it has and tries again on its next tick.

A frame is encoded without pickle: a JSON header (scalars, the network spec, the arrays'
names, dtypes and shapes) followed by the raw array bytes.

The window creates every segment (it outlives the engine, so it can always unlink them);
the engine only attaches. The reader also writes back which history rows it holds, so the
engine sends only new rows.
"""

from __future__ import annotations

import json
import os
import secrets
from multiprocessing import shared_memory

import numpy as np

from nnbench.bench import Frame
from nnbench.engine import NetworkSpec

CONTROL = 64  # bytes before the first slot
# uint64 words of the control block
_SEQ = (0, 2)  # per slot: sequence number (odd while being written)
_LEN = (1, 3)  # per slot: bytes of the frame in it
_LATEST = 4  # the slot written last
_ACK_ID, _ACK_ROWS = 5, 6  # written by the reader: the history it holds and how many rows
_COUNT = 7  # frames written so far
_ALIGN = 8
MAX_HEADER = 1 << 20
PREFIX = "nnbench_"


def create(slot_bytes: int) -> shared_memory.SharedMemory:
    """A new segment with two slots of ``slot_bytes`` (the window calls this)."""
    slot_bytes = _round(max(slot_bytes, 4096))
    name = f"{PREFIX}{os.getpid()}_{secrets.token_hex(4)}"  # the creator's pid: whose it is
    shm = shared_memory.SharedMemory(name=name, create=True, size=CONTROL + 2 * slot_bytes)
    np.ndarray(8, np.uint64, shm.buf)[:] = 0
    return shm


def slot_size(shm: shared_memory.SharedMemory) -> int:
    return (shm.size - CONTROL) // 2 // _ALIGN * _ALIGN


def encode(frame: Frame) -> tuple[bytes, list[np.ndarray]]:
    """The header bytes and the arrays, in order, whose bytes follow it."""
    arrays: list[tuple[str, np.ndarray]] = [("params", frame.params)]
    arrays += [(f"history.{k}", v) for k, v in frame.history.items()]
    layout = []
    offset = 0
    out = []
    for name, a in arrays:
        a = np.ascontiguousarray(a)
        layout.append([name, a.dtype.str, list(a.shape), offset])
        offset += _round(a.nbytes)
        out.append(a)
    header = {
        "generation": frame.generation, "serial": frame.serial, "epoch": frame.epoch, "step": frame.step,
        "lr": frame.lr, "running": frame.running, "last_loss": frame.last_loss, "spec": frame.spec.to_dict(),
        "history_id": frame.history_id, "history_start": frame.history_start, "arrays": layout,
        "run": frame.run,
    }
    return json.dumps(header).encode(), out


def encoded_size(header: bytes, arrays: list[np.ndarray]) -> int:
    return 8 + _round(len(header)) + sum(_round(a.nbytes) for a in arrays)


class FrameWriter:
    """The engine's side of a segment."""

    def __init__(self, shm: shared_memory.SharedMemory) -> None:
        self.shm = shm
        self.words = np.ndarray(8, np.uint64, shm.buf)
        self.size = slot_size(shm)

    def ack(self) -> tuple[int, int]:
        """(history id, rows) the reader holds."""
        return int(self.words[_ACK_ID]), int(self.words[_ACK_ROWS])

    def write(self, frame: Frame) -> int:
        """Write ``frame``; returns 0, or the bytes needed when it does not fit a slot."""
        header, arrays = encode(frame)
        need = encoded_size(header, arrays)
        if need > self.size:
            return need
        w = self.words
        slot = 1 - int(w[_LATEST]) if int(w[_COUNT]) else 0
        base = CONTROL + slot * self.size
        buf = self.shm.buf
        w[_SEQ[slot]] += 1  # odd: being written
        buf[base : base + 8] = len(header).to_bytes(8, "little")
        buf[base + 8 : base + 8 + len(header)] = header
        pos = base + 8 + _round(len(header))
        for a in arrays:
            n = a.nbytes
            if n:
                buf[pos : pos + n] = a.reshape(-1).view(np.uint8)
            pos += _round(n)
        w[_LEN[slot]] = need
        w[_SEQ[slot]] += 1  # even: complete
        w[_LATEST] = slot
        w[_COUNT] += 1
        return 0

    def close(self) -> None:
        self.words = None  # type: ignore[assignment]  # release the export before closing
        self.shm.close()


class FrameReader:
    """The window's side of a segment."""

    def __init__(self, shm: shared_memory.SharedMemory) -> None:
        self.shm = shm
        self.words = np.ndarray(8, np.uint64, shm.buf)
        self.size = slot_size(shm)
        self.seen = 0  # frames counted when the last one was read

    def has_new(self) -> bool:
        return int(self.words[_COUNT]) != self.seen

    def acknowledge(self, history_id: int, rows: int) -> None:
        self.words[_ACK_ID] = history_id
        self.words[_ACK_ROWS] = rows

    def read(self) -> Frame | None:
        """The newest complete frame if there is one not read yet, else None."""
        w = self.words
        count = int(w[_COUNT])
        if count == self.seen:
            return None
        slot = int(w[_LATEST])
        seq = int(w[_SEQ[slot]])
        length = int(w[_LEN[slot]])
        if seq % 2 or not 8 <= length <= self.size:
            return None
        base = CONTROL + slot * self.size
        raw = bytes(self.shm.buf[base : base + length])
        if int(w[_SEQ[slot]]) != seq:
            return None  # lapped by the writer while copying: try again next tick
        self.seen = count
        try:
            return decode(raw)
        except (ValueError, KeyError, TypeError):  # not one of ours: skip it, keep the last good one
            return None

    def close(self) -> None:
        self.words = None  # type: ignore[assignment]
        self.shm.close()


def decode(raw: bytes) -> Frame:
    n = int.from_bytes(raw[:8], "little")
    if not 0 < n <= min(MAX_HEADER, len(raw) - 8):
        raise ValueError("damaged frame header")
    h = json.loads(raw[8 : 8 + n])
    base = 8 + _round(n)
    arrays = {}
    for name, dtype, shape, offset in h["arrays"]:
        dt = np.dtype(dtype)
        count = int(np.prod(shape)) if shape else 1
        start = base + offset
        arrays[name] = np.frombuffer(raw, dt, count, start).reshape(shape).copy()
    history = {k.removeprefix("history."): v for k, v in arrays.items() if k.startswith("history.")}
    return Frame(h["generation"], h["serial"], h["epoch"], h["step"], h["lr"], h["running"], h["last_loss"],
                 NetworkSpec.from_dict(h["spec"]), arrays["params"], h["history_id"], h["history_start"],
                 history, int(h.get("run", 0)))


def _round(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN
