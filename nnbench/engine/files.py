"""Network and experiment files: a plain ``.npz`` (a zip of ``.npy`` arrays), never pickle.

Layout, readable by ``np.load(path)`` alone::

    nnbench.json        0-d unicode array: format, version, network spec, training settings,
                        counters, RNG state, dataset source and anything extra (JSON)
    layer0.W, layer0.b  the weights, one array per parameter (W is inputs x neurons)
    opt.<param>.<m|v>   optimizer state, so training continues exactly
    history.<column>    per-epoch metrics

Saving writes a temporary file beside the target and renames it over the target only once it
is complete and flushed, so a crash mid-save leaves the previous file as it was. The temporary
file, ``.<name>.<pid>-<random>.part``, names the process writing it: the next save to the same
target removes those whose process has died (killed mid-save), and no live save's.
"""

from __future__ import annotations

import io
import json
import math
import os
import hashlib
import re
import socket
import stat
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnbench.engine.network import Network
from nnbench.engine.spec import NetworkSpec
from nnbench.engine.training import HISTORY_KEYS, History, TrainConfig, Trainer
from nnbench.errors import FileFormatError, NnbenchError
from nnbench.npyread import read_npy

FORMAT = "nnbench"
VERSION = 1
META = "nnbench.json"
MAX_FILE_BYTES = 2 << 30  # refuse anything larger before reading it
MAX_MEMBERS = 4096
_MEMBER = re.compile(r"^[A-Za-z0-9_.]{1,200}\.npy$")
# The writing machine, in every temporary file's name (with the pid): a short hash of the host name.
_HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
STALE_AFTER = 3600.0  # seconds: a temporary file untouched this long is no live save's
_writing: set[tuple[int, int]] = set()  # (device, inode) of this process's unfinished temp files
_writing_lock = threading.Lock()


@dataclass
class Saved:
    """What a file holds, checked: build a network with :meth:`network`."""

    spec: NetworkSpec
    weights: dict[str, np.ndarray]
    config: TrainConfig | None = None
    optimizer_state: dict[str, np.ndarray] = field(default_factory=dict)
    history: dict[str, np.ndarray] = field(default_factory=dict)
    epoch: int = 0
    step: int = 0
    rng_state: dict[str, Any] | None = None
    dataset: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # "runs.*" members (nnbench.history)

    def network(self) -> Network:
        net = Network(self.spec)
        net.set_weights(self.weights)
        return net

    def restore(self, trainer: Trainer) -> None:
        """Continue training where the file stopped: optimizer state, counters, history, RNG."""
        trainer.optimizer.load_state(self.optimizer_state)
        trainer.epoch, trainer.step_count = self.epoch, self.step
        if self.history:
            trainer.history = History.from_dict(self.history)
        if self.rng_state is not None:
            try:
                trainer.rng.bit_generator.state = self.rng_state
            except (TypeError, ValueError, KeyError):
                pass  # a foreign RNG state only costs bit-exact shuffles, not the weights


def save(
    path: str | os.PathLike,
    net: Network,
    trainer: Trainer | None = None,
    *,
    dataset: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    more: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write ``net`` (and, with ``trainer``, everything to continue training) atomically;
    ``more`` adds members named ``runs.*`` (the runs' checkpoints, see nnbench.history)."""
    path = Path(path)
    meta: dict[str, Any] = {"format": FORMAT, "version": VERSION, "network": net.spec.to_dict()}
    arrays: dict[str, np.ndarray] = dict(net.weights())
    if trainer is not None:
        meta["training"] = trainer.config.to_dict()
        meta["epoch"] = trainer.epoch
        meta["step"] = trainer.step_count
        meta["rng"] = trainer.rng.bit_generator.state
        arrays.update({f"opt.{k}": np.array(v) for k, v in trainer.optimizer.state().items()})
        arrays.update({f"history.{k}": v for k, v in trainer.history.to_dict().items()})
    if dataset is not None:
        meta["dataset"] = dataset
    if extra:
        meta["extra"] = extra
    for key, value in (more or {}).items():
        if not key.startswith("runs.") or not _MEMBER.match(key + ".npy"):
            raise NnbenchError(f"cannot save an array named {key!r}")
        arrays[key] = value
    arrays[META.removesuffix(".npy")] = np.array(json.dumps(meta))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_atomic(path, buf.getbuffer())
    return path


def write_atomic(path: Path, data: bytes | memoryview) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``. Temporary
    files of ``path`` left by a save that was killed are removed first (see _remove_stale)."""
    folder = path.parent if str(path.parent) else Path(".")
    with _writing_lock:  # held until registered, so another thread cannot take ours for stale
        _remove_stale(folder, path.name)
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.{_HOST}-{os.getpid()}-",
                                       suffix=".part")
            st = os.fstat(fd)
        except OSError as e:
            raise NnbenchError(f"cannot write in {folder}: {e.strerror or e}") from e
        key = (st.st_dev, st.st_ino)
        _writing.add(key)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:  # also KeyboardInterrupt: never leave the temporary file behind
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise NnbenchError(
                f"could not save {path.name}: {e.strerror or e}; nothing was overwritten"
            ) from e
        raise
    finally:
        with _writing_lock:
            _writing.discard(key)
    try:  # make the rename itself durable; not possible on every platform
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _remove_stale(folder: Path, name: str) -> None:
    """Delete the temporary files of saves to ``name`` in ``folder`` that no live save is writing:
    this process's own that it is not writing, another process's on this machine once that
    process has ended (or the file is older than STALE_AFTER: its pid may have been reused), and
    another machine's, or nameless ones from older nnbench versions, once older than STALE_AFTER. Best effort:
    a file that cannot be listed or removed is left, and the save goes on."""
    pattern = re.compile(
        rf"\.{re.escape(name)}\.(?:([0-9a-f]{{8}})-(\d{{1,10}})-[A-Za-z0-9_]+|[a-z0-9_]{{8}})\.part")
    now = time.time()
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                match = pattern.fullmatch(entry.name)
                if match is None:
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue  # never a link or a folder, whatever its name
                old = now - st.st_mtime > STALE_AFTER
                # A pid means something only on the machine that wrote it (a shared folder can
                # hold another host's live save): elsewhere, and for old names, age decides.
                pid = int(match[2]) if match[1] == _HOST else None
                if pid is None:
                    stale = old
                elif pid == os.getpid():
                    stale = (st.st_dev, st.st_ino) not in _writing
                else:
                    stale = old or not _alive(pid)
                if stale:
                    try:
                        os.unlink(entry.path)
                    except OSError:
                        pass
    except OSError:
        pass  # an unreadable folder: creating the temporary file will say what is wrong


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this machine); True when that cannot be told."""
    if os.name == "nt":  # os.kill(pid, 0) would end the process there, not probe it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: alive, another user's
        return True
    return True


def load(path: str | os.PathLike) -> Saved:
    """Read and check a file; raises FileFormatError with a clear message for anything bad."""
    path = Path(path)
    return loads(read_limited(path, MAX_FILE_BYTES, "an nnbench file"), path.name)


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, refusing more than ``limit``. The size on disk
    is not enough: /dev/zero and /proc files report 0 bytes, and opening a FIFO blocks."""
    name = path.name
    try:
        st = path.stat()
    except OSError as e:
        raise FileFormatError(f"cannot open {name}: {e.strerror or e}") from e
    if not stat.S_ISREG(st.st_mode):
        raise FileFormatError(f"{name} is not a regular file")
    if st.st_size > limit:
        raise FileFormatError(f"{name} is {st.st_size / 2**20:,.1f} MiB: too large for {what}")
    try:
        with open(path, "rb") as f:
            data = _read_bounded(f, st.st_size, limit)
    except OSError as e:
        raise FileFormatError(f"cannot read {name}: {e.strerror or e}") from e
    if len(data) > limit:
        raise FileFormatError(f"{name} holds over {limit / 2**20:,.0f} MiB: too large for {what}")
    return data


def loads(data: bytes, name: str = "file") -> Saved:
    arrays = _read_arrays(data, name)
    try:
        return _check(arrays, name)
    except FileFormatError:
        raise
    except NnbenchError as e:
        raise FileFormatError(f"{name}: {e}") from e


def _read_bounded(f: Any, expected: int, limit: int) -> bytes:
    """At most ``limit + 1`` bytes: first the size the file reports (one right-sized read), then
    1 MiB blocks, so a file that reports less than it holds cannot make us allocate ``limit``."""
    data = f.read(min(expected, limit) + 1)
    if len(data) <= expected:
        return data
    parts, total = [data], len(data)
    while total <= limit:
        block = f.read(min(1 << 20, limit + 1 - total))
        if not block:
            break
        parts.append(block)
        total += len(block)
    return b"".join(parts)


def _read_arrays(data: bytes, name: str) -> dict[str, np.ndarray]:
    if not data.startswith(b"PK"):
        raise FileFormatError(f"{name} is not an nnbench file (not a zip/.npz archive)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise FileFormatError(f"{name} holds {len(infos)} entries: not an nnbench file")
            total = 0
            for info in infos:
                if not _MEMBER.match(info.filename):
                    raise FileFormatError(f"{name} has an unexpected entry {info.filename[:80]!r}")
                total += info.file_size
            # Declared sizes come from the file: check them against a bound before reading, so a
            # zip bomb or a lying header cannot make us allocate.
            if total > max(8 * len(data), 1 << 20):
                raise FileFormatError(f"{name} declares {total} bytes of content in {len(data)}: refused")
            arrays = {}
            for info in infos:
                raw = zf.read(info)
                arrays[info.filename[:-4]] = read_npy(io.BytesIO(raw), len(raw), info.filename, name)
    except FileFormatError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, KeyError,
            NotImplementedError, RuntimeError, OverflowError, MemoryError, TypeError) as e:
        raise FileFormatError(f"{name} is damaged or not an nnbench file ({type(e).__name__}: {str(e)[:120]})") from e
    return arrays


def _check(arrays: dict[str, np.ndarray], name: str) -> Saved:
    meta_arr = arrays.pop(META.removesuffix(".npy"), None)
    if meta_arr is None or meta_arr.dtype.kind != "U" or meta_arr.shape != ():
        raise FileFormatError(f"{name} is not an nnbench file (no {META} record)")
    try:
        meta = json.loads(str(meta_arr[()]))
    except (ValueError, RecursionError) as e:  # ValueError: also an integer of over 4300 digits
        raise FileFormatError(f"{name}: the {META} record is not valid JSON") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise FileFormatError(f"{name} is not an nnbench file")
    version = meta.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise FileFormatError(f"{name} was written by a newer nnbench (format version {version!r})")
    spec = NetworkSpec.from_dict(meta.get("network"))
    net = Network(spec)
    weights = {}
    for pname, p, _ in net.params_and_grads():
        w = arrays.get(pname)
        if w is None:
            raise FileFormatError(f"{name} has no weights for {pname}")
        if w.shape != p.shape:
            raise FileFormatError(f"{name}: {pname} has shape {w.shape}, the network needs {p.shape}")
        if w.dtype.kind != "f":
            raise FileFormatError(f"{name}: {pname} is {w.dtype}, not floating point")
        if not np.all(np.isfinite(w)):
            raise FileFormatError(f"{name}: {pname} holds NaN or infinite values")
        weights[pname] = w.astype(spec.dtype)
    saved = Saved(spec=spec, weights=weights)
    if "training" in meta:
        saved.config = TrainConfig.from_dict(meta["training"])
        saved.epoch = _count(meta, "epoch", name)
        saved.step = _count(meta, "step", name)
        rng = meta.get("rng")
        saved.rng_state = rng if isinstance(rng, dict) else None
        saved.optimizer_state = {k[4:]: v for k, v in arrays.items() if k.startswith("opt.") and v.dtype.kind in "fiu"}
        hist = {k[8:]: v for k, v in arrays.items() if k.startswith("history.")}
        if hist:
            lengths = {v.shape for v in hist.values()}
            if set(hist) != set(HISTORY_KEYS) or len(lengths) != 1 or len(next(iter(lengths))) != 1:
                raise FileFormatError(f"{name}: the training history is incomplete")
            if any(v.dtype.kind != "f" for v in hist.values()):
                raise FileFormatError(f"{name}: the training history is not numeric")
            saved.history = hist
    dataset = meta.get("dataset")
    if dataset is not None and not isinstance(dataset, dict):
        raise FileFormatError(f"{name}: the dataset record must be a mapping")
    saved.dataset = dataset
    extra = meta.get("extra", {})
    saved.extra = extra if isinstance(extra, dict) else {}
    saved.arrays = {k: v for k, v in arrays.items() if k.startswith("runs.")}
    return saved


def _count(meta: dict, key: str, name: str) -> int:
    value = meta.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or not math.isfinite(value):
        raise FileFormatError(f"{name}: {key!r} must be a whole number >= 0")
    return value
