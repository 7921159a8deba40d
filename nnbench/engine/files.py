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

import hashlib
import io
import json
import math
import os
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

from nnbench.engine.memory import check_bytes, check_memory
from nnbench.engine.network import Network
from nnbench.engine.spec import NetworkSpec
from nnbench.engine.training import HISTORY_KEYS, History, TrainConfig, Trainer
from nnbench.errors import FileFormatError, NnbenchError, quote
from nnbench.npyread import MAX_HEADER, check_members, read_member

FORMAT = "nnbench"
VERSION = 1
META = "nnbench.json"
MAX_FILE_BYTES = 2 << 30  # refuse anything larger before reading it
MAX_MEMBERS = 4096
MAX_META_BYTES = 4 << 20  # the JSON record: a million characters
NPY_HEADER = MAX_HEADER + 16  # magic, version and length before the header text
MAX_COUNT = 2**62  # epochs and steps
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
    """Write to a temporary file in the same folder, fsync, then rename over ``path``, as careful
    editors do: a symlink is written through (its target is replaced, the link stays), the
    target's permissions and owner are kept (a new file gets 0666 less the umask), a file with
    other hard links is rewritten in place once the complete copy is on disk (so every name sees
    the new content), and a read-only file or anything that is not a regular file (a folder, a
    FIFO, a device such as /dev/null) is refused with a message and left alone. Temporary files of
    ``path`` left by a save that was killed are removed first (see _remove_stale)."""
    path = Path(path)
    if not str(path).strip() or path.name in ("", ".", ".."):
        raise NnbenchError("give a file name to save to; nothing was written")
    shown = quote(path.name) if len(path.name) > 60 else path.name
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        old = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):  # creating the temporary file will say why
        old = None
    except OSError as e:
        raise NnbenchError(f"could not save {shown}: {e.strerror or e}; nothing was written") from e
    if old is not None:
        if not stat.S_ISREG(old.st_mode):
            raise NnbenchError(f"cannot save to {shown}: it is not a regular file (a folder, device or "
                               "pipe); nothing was written")
        # Root may write anything, so os.access alone would let a 0444 file be replaced.
        if not old.st_mode & 0o222 or not os.access(target, os.W_OK):
            raise NnbenchError(f"{shown} is read-only; nothing was overwritten (save under another name, "
                               "or make it writable first)")
    folder = target.parent if str(target.parent) else Path(".")
    with _writing_lock:  # held until registered, so another thread cannot take ours for stale
        _remove_stale(folder, target.name)
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.{_HOST}-{os.getpid()}-",
                                       suffix=".part")
            st = os.fstat(fd)
        except OSError as e:
            raise NnbenchError(f"cannot write in {folder}: {e.strerror or e}") from e
        key = (st.st_dev, st.st_ino)
        _writing.add(key)
    try:
        _take_mode(fd, old)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if old is not None and old.st_nlink > 1 and _rewrite_in_place(target, data):
            os.unlink(tmp)
        else:
            os.replace(tmp, target)
    except BaseException as e:  # also KeyboardInterrupt: never leave the temporary file behind
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise NnbenchError(
                f"could not save {shown}: {e.strerror or e}; nothing was overwritten"
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


def _umask() -> int:
    try:  # read, not set: setting the umask to read it would race with other threads' files
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _take_mode(fd: int, old: os.stat_result | None) -> None:
    """Give the temporary file the target's permissions and owner (best effort for the owner:
    only root may give a file away), or a new file's usual 0666 less the umask."""
    if not hasattr(os, "fchmod"):
        return
    if old is None:
        os.fchmod(fd, 0o666 & ~_umask())
        return
    if hasattr(os, "fchown") and (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except OSError:
            pass
    os.fchmod(fd, stat.S_IMODE(old.st_mode))


def _rewrite_in_place(target: Path, data: bytes | memoryview) -> bool:
    """Overwrite a hard-linked file in place, so its other names see the new content. The space
    is reserved first, so a full disk fails before a byte is overwritten; False (the caller
    renames instead, splitting the link) when that cannot be done."""
    try:
        fd = os.open(target, os.O_WRONLY)
    except OSError:
        return False
    try:
        if hasattr(os, "posix_fallocate") and len(data):
            os.posix_fallocate(fd, 0, len(data))
        view, done = memoryview(data), 0
        while done < len(view):
            done += os.write(fd, view[done:])
        os.ftruncate(fd, len(view))
        os.fsync(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


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
    try:
        return _load(data, name)
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


def _load(data: bytes, name: str) -> Saved:
    """Check the archive's members, read the record, then read only the members the network it
    describes has, each bounded by what that network needs, never by what the file declares."""
    if not data.startswith(b"PK"):
        raise FileFormatError(f"{name} is not an nnbench file (not a zip/.npz archive)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise FileFormatError(f"{name} holds {len(infos)} entries: not an nnbench file")
            for info in infos:
                if not _MEMBER.match(info.filename):
                    raise FileFormatError(f"{name} has an unexpected entry {quote(info.filename)}")
            check_members(infos, name)
            members = {info.filename[:-4]: info for info in infos}
            meta = _read_meta(zf, members.get(META.removesuffix(".npy")), name)
            spec = NetworkSpec.from_dict(meta.get("network"))
            saved = Saved(spec=spec, weights={})
            if "training" in meta:
                saved.config = TrainConfig.from_dict(meta["training"])
                saved.epoch = _count(meta, "epoch", name)
                saved.step = _count(meta, "step", name)
                saved.rng_state = _rng_state(meta.get("rng"), name)
            plan = _plan(spec, saved, members, name)
            plan.update(_plan_runs(meta, members, name))
            # Bounded member by member; together they must also fit in the memory there is.
            check_memory(spec, batch=1, optimizer=None)
            check_bytes(sum(info.file_size for info, _ in plan.values()), f"reading {name}")
            arrays = {key: read_member(zf, info, name) for key, (info, _) in plan.items()}
    except NnbenchError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, KeyError,
            NotImplementedError, RuntimeError, OverflowError, MemoryError, TypeError) as e:
        raise FileFormatError(f"{name} is damaged or not an nnbench file "
                              f"({type(e).__name__}: {str(e)[:120]})") from e
    for key, (_, shape) in plan.items():
        if shape is not None and arrays[key].shape != shape:
            raise FileFormatError(f"{name}: {key} has shape {arrays[key].shape}, the network needs {shape}")
    return _check(meta, saved, arrays, name)


def _read_meta(zf: zipfile.ZipFile, info: zipfile.ZipInfo | None, name: str) -> dict[str, Any]:
    if info is None:
        raise FileFormatError(f"{name} is not an nnbench file (no {META} record)")
    if info.file_size > MAX_META_BYTES:
        raise FileFormatError(f"{name}: the {META} record declares {info.file_size:,} bytes, over the "
                              f"{MAX_META_BYTES >> 20} MiB a record may hold")
    meta_arr = read_member(zf, info, name)
    if meta_arr.dtype.kind != "U" or meta_arr.shape != ():
        raise FileFormatError(f"{name} is not an nnbench file (no {META} record)")
    try:
        meta = json.loads(str(meta_arr[()]))
    except (ValueError, RecursionError) as e:  # ValueError: also an integer of over 4300 digits
        raise FileFormatError(f"{name}: the {META} record is not valid JSON") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise FileFormatError(f"{name} is not an nnbench file")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > VERSION or version < 1:
        raise FileFormatError(f"{name} was written by a newer nnbench (format version {quote(version)})")
    return meta


Plan = dict[str, tuple[zipfile.ZipInfo, "tuple[int, ...] | None"]]


def _plan(spec: NetworkSpec, saved: Saved, members: dict[str, zipfile.ZipInfo], name: str) -> Plan:
    """The members to read, each with its shape (None: checked later), every one refused before
    reading when it declares more bytes than the network (or the history) it belongs to needs.
    Members of no use to this network are not read at all."""
    plan: Plan = {}

    def take(key: str, shape: tuple[int, ...], what: str) -> None:
        info = members[key]
        bound = NPY_HEADER + 8 * math.prod(shape)
        if info.file_size > bound:
            raise FileFormatError(f"{name}: {key} declares {info.file_size:,} bytes; {what} needs at most "
                                  f"{bound:,}")
        plan[key] = (info, shape)

    shapes = spec.param_shapes()
    for pname, shape in shapes.items():
        if pname not in members:
            raise FileFormatError(f"{name} has no weights for {pname}")
        take(pname, shape, f"a {'x'.join(map(str, shape))} parameter")
    if saved.config is None:
        return plan
    for key in _optimizer_keys(saved.config.optimizer, shapes):
        if f"opt.{key}" in members:
            take(f"opt.{key}", (1,) if key == "t" else shapes[key.rsplit(".", 1)[0]], "its optimizer state")
    hist = {k for k in members if k.startswith("history.")}
    if hist:
        if hist != {f"history.{k}" for k in HISTORY_KEYS}:
            raise FileFormatError(f"{name}: the training history is incomplete")
        rows = saved.epoch + 1  # a row per epoch trained
        for key in sorted(hist):
            info = members[key]
            if info.file_size > NPY_HEADER + 8 * rows:
                raise FileFormatError(f"{name}: {key} declares {info.file_size:,} bytes, more than "
                                      f"{saved.epoch:,} epochs of history")
            plan[key] = (info, None)
    return plan


def _plan_runs(meta: dict[str, Any], members: dict[str, zipfile.ZipInfo], name: str) -> Plan:
    """The runs' members (nnbench.history): each checkpoint bounded by what the network its own
    record names needs (weights and at most twice as much optimizer state), each run's history
    by the epochs the record names. Members the record does not name are not read."""
    extra = meta.get("extra")
    record = extra.get("runs") if isinstance(extra, dict) else None
    runs = record.get("runs") if isinstance(record, dict) else None
    if not isinstance(runs, list):
        return {}
    plan: Plan = {}
    rows = max(_count(meta, "epoch", name) if "epoch" in meta else 0, 0) + 1
    for r in runs[:256]:
        if not isinstance(r, dict) or not isinstance(r.get("id"), int) or isinstance(r.get("id"), bool):
            continue
        cps = r.get("checkpoints") if isinstance(r.get("checkpoints"), list) else []
        for cp in cps:
            if isinstance(cp, dict) and isinstance(cp.get("epoch"), int) and 0 <= cp["epoch"] < 2**40:
                rows = max(rows, cp["epoch"] + 1)
    for r in runs[:256]:
        if not isinstance(r, dict) or not isinstance(r.get("id"), int) or isinstance(r.get("id"), bool):
            continue
        rid = r["id"]
        key = f"runs.r{rid}.history"
        if key in members:
            bound = NPY_HEADER + 8 * len(HISTORY_KEYS) * rows
            if members[key].file_size > bound:
                raise FileFormatError(f"{name}: {key} declares {members[key].file_size:,} bytes, more than "
                                      f"{rows - 1:,} epochs of history")
            plan[key] = (members[key], None)
        cps = r.get("checkpoints") if isinstance(r.get("checkpoints"), list) else []
        for k, cp in enumerate(cps[:1000]):
            key = f"runs.r{rid}.c{k}"
            if key not in members or not isinstance(cp, dict):
                continue
            try:
                n = NetworkSpec.from_dict(cp.get("spec")).n_params()
            except NnbenchError as e:
                raise FileFormatError(f"{name}: a checkpoint of run {rid}: {e}") from None
            bound = NPY_HEADER + 8 * (3 * n + 64)
            if members[key].file_size > bound:
                raise FileFormatError(f"{name}: {key} declares {members[key].file_size:,} bytes; its network "
                                      f"needs at most {bound:,}")
            plan[key] = (members[key], None)
    return plan


def _optimizer_keys(optimizer: str, shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """The state an optimizer saves (see nnbench.engine.optimizers: ``state()``)."""
    if optimizer == "momentum":  # ".v" is what files before the PyTorch conventions hold
        return [f"{p}.{k}" for p in shapes for k in ("velocity", "v")]
    if optimizer == "adam":
        return ["t", *(f"{p}.{m}" for p in shapes for m in ("m", "v"))]
    return []


def _as_dtype(arr: np.ndarray, dtype: str, key: str, name: str) -> np.ndarray:
    """``arr`` as the network's floats, refused when it is not floating point or is not finite
    once converted (float64 1e300 is finite; as float32 it is infinite)."""
    if arr.dtype.kind != "f":
        raise FileFormatError(f"{name}: {key} is {arr.dtype}, not floating point")
    with np.errstate(over="ignore", invalid="ignore"):
        out = arr.astype(dtype)
    if not np.all(np.isfinite(out)):
        raise FileFormatError(f"{name}: {key} holds NaN or infinite values as {dtype}")
    # Squaring (an L2 penalty, Adam's g^2) overflows above the square root of the largest float:
    # no training ever saves such values, and using them would end in overflow warnings.
    top = math.sqrt(float(np.finfo(out.dtype).max))
    if out.size and float(np.max(np.abs(out))) > top:
        raise FileFormatError(f"{name}: {key} holds values above {top:.3g}, too large to compute with "
                              f"in {dtype}")
    return out


def _check(meta: dict[str, Any], saved: Saved, arrays: dict[str, np.ndarray], name: str) -> Saved:
    spec = saved.spec
    for pname in spec.param_shapes():
        saved.weights[pname] = _as_dtype(arrays[pname], spec.dtype, pname, name)
    if saved.config is not None:
        saved.optimizer_state = _optimizer_state(saved.config.optimizer, arrays, spec, name)
        hist = {k[8:]: v for k, v in arrays.items() if k.startswith("history.")}
        if hist:
            lengths = {v.shape for v in hist.values()}
            if len(lengths) != 1 or len(next(iter(lengths))) != 1:
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


# Adam's moments obey |m| <= sqrt((1-b1)^2 / (1-b2) / (1 - b1^2/b2)) * sqrt(v) = 7.3 sqrt(v) for
# b1 = 0.9, b2 = 0.999 (Cauchy-Schwarz on the two running sums); a file beyond it is damaged,
# and its first step would throw the weights to infinity. The slack covers rounding and moments
# flushed to zero when tiny.
ADAM_M_OVER_SQRT_V = 10.0
ADAM_M_SLACK = 1e-12
MAX_ADAM_T = 2**53


def _optimizer_state(optimizer: str, arrays: dict[str, np.ndarray], spec: NetworkSpec,
                     name: str) -> dict[str, np.ndarray]:
    """The optimizer state, checked: right shapes (already), floats finite as the network's dtype,
    Adam's step count a whole number and its moments possible ones."""
    state = {}
    for key, arr in arrays.items():
        if not key.startswith("opt."):
            continue
        key = key[4:]
        if key == "t":
            if arr.dtype.kind not in "iuf":
                raise FileFormatError(f"{name}: the optimizer's step count is {arr.dtype}, not a number")
            with np.errstate(invalid="ignore"):
                t = float(arr[0])
            if not (math.isfinite(t) and t == int(t) and 0 <= t <= MAX_ADAM_T):
                raise FileFormatError(f"{name}: the optimizer's step count {quote(t)} is not a whole number "
                                      f"from 0 to 2^53")
            state[key] = np.array([int(t)], dtype=np.int64)
        else:
            state[key] = _as_dtype(arr, spec.dtype, f"opt.{key}", name)
    if optimizer == "adam":
        for pname in spec.param_shapes():
            m, v = state.get(f"{pname}.m"), state.get(f"{pname}.v")
            if v is not None and np.any(v < 0):
                raise FileFormatError(f"{name}: opt.{pname}.v holds negative second moments")
            if m is not None and v is not None:
                with np.errstate(over="ignore"):
                    bad = np.abs(m) > ADAM_M_OVER_SQRT_V * np.sqrt(v) + ADAM_M_SLACK
                if np.any(bad):
                    raise FileFormatError(f"{name}: opt.{pname}.m and .v are not moments Adam can reach "
                                          "(the state is damaged)")
    return state


def _rng_state(value: Any, name: str) -> dict[str, Any] | None:
    """The batch-order generator's state, checked key by key (NumPy's own setter takes 1.5 for an
    integer and raises OverflowError for -1)."""
    if value is None:
        return None
    bad = FileFormatError(f"{name}: the random generator's state is damaged")

    def whole(x: Any, bits: int) -> bool:
        return isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2**bits

    if not isinstance(value, dict) or set(value) != {"bit_generator", "state", "has_uint32", "uinteger"}:
        raise bad
    inner = value["state"]
    if value["bit_generator"] != "PCG64" or not isinstance(inner, dict) or set(inner) != {"state", "inc"}:
        raise bad
    if not (whole(inner["state"], 128) and whole(inner["inc"], 128) and value["has_uint32"] in (0, 1)
            and not isinstance(value["has_uint32"], bool) and whole(value["uinteger"], 32)):
        raise bad
    try:
        np.random.PCG64().state = value
    except (TypeError, ValueError, KeyError, OverflowError):
        raise bad from None
    return value


def _count(meta: dict, key: str, name: str) -> int:
    value = meta.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
        raise FileFormatError(f"{name}: {key!r} must be a whole number from 0 to 2^62, got {quote(value)}")
    return value
