"""The runs on disk while the window is open, so a new engine gets them back. No Qt here.

The window's engine keeps every run and checkpoint in memory (:mod:`nnbench.history`); when
that process dies they would be gone. A :class:`Journal` mirrors them into a directory the
window owns (a private temporary one, removed when the window closes):

- each checkpoint once, as its own file ``c<n>.ckpt`` (checkpoints never change, so this is
  append-only: a checkpoint the budget drops loses its file);
- each run's history as of the last change, ``h<n>.hist`` (for the live run the window's own copy
  is newer and is used instead);
- ``index.json``: the runs, and which files are theirs, rewritten by rename whenever runs change.

Files are written in full before the index names them and removed only after the index stopped
naming them, so an engine killed at any moment leaves an index whose files are all there. There is
no fsync: the page cache outlives the process, and an OS crash loses the window too.

:meth:`Journal.recover` reads it back into a :class:`~nnbench.history.RunStore` through the
experiment file's own checks (``RunStore.from_file``); every size read from a file is checked
against the file before anything is allocated from it.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnbench.engine.training import HISTORY_KEYS, History
from nnbench.errors import NnbenchError

INDEX = "index.json"
OWNER = "owner"
PREFIX = "nnbench-runs-"
CKPT_MAGIC = b"NNBCKPT1"
HIST_MAGIC = b"NNBHIST1"
MAX_HEADER = 1 << 20  # bytes of a checkpoint's JSON header
MAX_INDEX = 16 << 20
VERSION = 1


@dataclass(frozen=True)
class Recovered:
    """What :meth:`Journal.recover` brought back: the store, and what it could not."""

    store: Any  # a history.RunStore
    runs: int
    checkpoints: int
    exact: bool  # the live trainer's optimizer and batch order came back too
    lost: str = ""  # what was skipped, for the user ("" when nothing was)


class Journal:
    """A run store's mirror in ``directory`` (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.generation = 0  # the bench's, written into the index (recover checks it)
        self.failed = ""  # why writing stopped ("" while it works)
        self.told = False  # the user was told it stopped (Bench.notices)
        self._files: dict[Any, str] = {}  # Checkpoint -> file name (identity: checkpoints are eq=False)
        self._histories: dict[int, tuple[Any, int, str]] = {}  # run id -> (History, rows, file name)
        self._index = ""
        self._doomed: set[str] = set()  # files the index on disk may still name: removed after the next index
        self._count = self._first_free()

    def __repr__(self) -> str:
        failed = ", failed" if self.failed else ""
        return f"Journal({str(self.dir)!r}, {len(self._files)} checkpoints{failed})"

    # ---- writing ---------------------------------------------------------------------------------

    def sync(self, store: Any) -> None:
        """Make the directory hold ``store``: new checkpoints and histories written, then the
        index, then files nobody names removed. A write that fails stops the journal (training
        goes on; :attr:`failed` says why) and removes its index, so nothing stale is recovered."""
        if self.failed:
            return
        try:
            self._sync(store)
        except OSError as e:
            self.failed = f"the runs could not be kept on disk ({e.strerror or e})"
            try:
                (self.dir / INDEX).unlink(missing_ok=True)
            except OSError:
                pass

    def _sync(self, store: Any) -> None:
        runs, used, kept = [], set(), {}
        histories: dict[int, tuple[Any, int, str]] = {}
        for r in store.runs.values():
            names = []
            for c in r.checkpoints:
                name = self._files.get(c) or kept.get(c)
                if name is None:
                    name = self._write_checkpoint(c)
                kept[c] = name
                names.append(name)
                used.add(name)
            # Every run's history, the live one's too (as of this sync): a window whose newest
            # frame is another run's (a Fork or SetLive just made) still gets this one back.
            old = self._histories.get(r.id)
            if old is not None and old[0] is r.history and old[1] == r.history.n:
                histories[r.id] = old
            else:
                histories[r.id] = (r.history, r.history.n, self._write_history(r.history))
            hist = histories[r.id][2]
            used.add(hist)
            runs.append({"id": r.id, "name": r.name, "parent": r.parent, "branch_epoch": r.branch_epoch,
                         "changes": r.changes, "seconds": r.seconds, "checkpoints": names,
                         "history": hist, "rows": r.history.n})
        index = json.dumps({"version": VERSION, "generation": self.generation, "live": store.live,
                            "next": store._next, "budget": store.budget, "runs": runs})
        if index != self._index:
            _write(self.dir / INDEX, index.encode())
            self._index = index
        gone = set(self._files.values()) | {h[2] for h in self._histories.values()} | self._doomed
        self._files, self._histories, self._doomed = kept, histories, set()
        for name in gone - used:
            try:
                (self.dir / name).unlink()
            except FileNotFoundError:
                pass

    def _write_checkpoint(self, c: Any) -> str:
        header, parts = c.record()
        raw = json.dumps(header).encode()
        name = self._name("c", ".ckpt")
        _write(self.dir / name, CKPT_MAGIC, struct.pack("<I", len(raw)), raw, *(_bytes(a) for _, a in parts))
        return name

    def _write_history(self, history: History) -> str:
        table = np.stack([np.asarray(history.column(k), dtype="<f8") for k in HISTORY_KEYS])
        name = self._name("h", ".hist")
        _write(self.dir / name, HIST_MAGIC, _bytes(table))
        return name

    def _name(self, kind: str, ext: str) -> str:
        self._count += 1
        return f"{kind}{self._count}{ext}"

    def _first_free(self) -> int:
        """File numbers go on after those already here (a new engine on an old journal)."""
        top = 0
        try:
            for p in self.dir.iterdir():
                digits = p.stem[1:]
                if p.suffix in (".ckpt", ".hist") and digits.isdigit():
                    top = max(top, int(digits))
        except OSError:
            pass
        return top

    def clear(self) -> None:
        """Forget everything written (the directory stays)."""
        self._files, self._histories, self._index, self._doomed = {}, {}, "", set()
        try:
            (self.dir / INDEX).unlink(missing_ok=True)  # first: no index may name a removed file
        except OSError:
            pass
        for name in self._unnamed():
            try:
                (self.dir / name).unlink()
            except OSError:
                pass

    def _unnamed(self) -> set[str]:
        """The checkpoint, history and temporary files here this journal does not name."""
        named = set(self._files.values()) | {h[2] for h in self._histories.values()}
        try:
            found = [*self.dir.glob("*.ckpt"), *self.dir.glob("*.hist"), *self.dir.glob(".*.tmp")]
        except OSError:
            return set()
        return {p.name for p in found} - named

    # ---- reading ---------------------------------------------------------------------------------

    def recover(self, generation: int, live: int, live_history: History, dataset: object,
                params: np.ndarray | None = None, step: int = -1) -> Recovered | None:
        """The runs this directory holds, with run ``live`` as the live one and ``live_history``
        as its history (the window's, newer than the journal). None when there is nothing to
        recover for ``generation`` (another dataset or file is open, no index, a damaged one).

        A checkpoint or run that does not read back is left out and named in
        :attr:`Recovered.lost`; nothing here raises, so the live network always comes back. The
        live run's checkpoints past ``step`` are dropped (the window never saw them); when its
        newest checkpoint is at ``step`` and holds ``params``, :attr:`Recovered.exact` says the
        optimizer and batch order can be taken from it."""
        try:
            return self._recover(generation, live, live_history, dataset, params, step)
        except (NnbenchError, KeyError, TypeError, ValueError, OverflowError, RecursionError, MemoryError,
                OSError):
            return None

    def _recover(self, generation: int, live: int, live_history: History, dataset: object,
                 params: np.ndarray | None, step: int) -> Recovered | None:
        from nnbench.history import RunStore, _checkpoint

        try:
            index = json.loads(_read_bounded(self.dir / INDEX, MAX_INDEX))
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            return None
        if not isinstance(index, dict) or index.get("version") != VERSION \
                or index.get("generation") != generation:
            return None
        entries = index.get("runs")
        if not isinstance(entries, list) \
                or not any(isinstance(e, dict) and e.get("id") == live for e in entries):
            return None
        n_in, n_out = getattr(dataset, "n_features", None), getattr(dataset, "n_outputs", None)
        record: dict[str, Any] = {"version": 1, "live": live, "budget": index.get("budget"), "runs": []}
        arrays: dict[str, np.ndarray] = {}
        built: dict[int, list[Any]] = {}
        names: dict[int, list[str]] = {}
        hist_names: dict[int, str] = {}
        lost: list[str] = []
        for e in entries:
            if not isinstance(e, dict) or not isinstance(e.get("id"), int) or isinstance(e.get("id"), bool):
                lost.append("a damaged run")
                continue
            rid = e["id"]
            if rid == live:
                rows = live_history.n
            else:
                table = self._read_history(e.get("history"), e.get("rows"))
                if table is None:
                    lost.append(f"run {rid}")
                    continue
                arrays[f"runs.r{rid}.history"] = table
                hist_names[rid] = e["history"]
                rows = table.shape[1]
            listed = e.get("checkpoints")
            cps, kept = [], []
            for name in listed if isinstance(listed, list) else []:
                got = self._read_checkpoint(name)
                c = None
                if got is not None:
                    try:
                        c = _checkpoint(got[0], got[1], rows)  # every check a file's checkpoint gets
                    except (NnbenchError, KeyError, TypeError, ValueError, OverflowError, RecursionError):
                        c = None
                ends = (c.spec.n_inputs, c.spec.output.units) if c is not None else None
                if c is None or (n_in is not None and ends != (n_in, n_out)):  # another dataset's
                    lost.append(f"a checkpoint of run {rid}")
                    continue
                if rid == live and c.step > step:
                    continue  # past the frame the window holds: never shown
                cps.append(c)
                kept.append(name)
            entry = {k: e.get(k) for k in ("id", "name", "parent", "branch_epoch", "changes")}
            entry["seconds"] = e.get("seconds") if isinstance(e.get("seconds"), (int, float)) else 0.0
            record["runs"].append(entry)
            built[rid], names[rid] = cps, kept
        store = RunStore.from_file(record, arrays, live_history, dataset, "the runs journal", built)
        nxt = index.get("next")
        if isinstance(nxt, int) and store._next <= nxt <= 1 << 30:
            store._next = nxt
        # The store's checkpoints are the files already here: registered, not written again.
        # The rest go once a new index no longer names them.
        self._files, self._histories, self._index = {}, {}, ""
        for rid, run in store.runs.items():
            for c, name in zip(run.checkpoints, names[rid], strict=True):
                self._files[c] = name
            if rid in hist_names:
                self._histories[rid] = (run.history, run.history.n, hist_names[rid])
        self._doomed = self._unnamed()
        run = store.runs[live]
        last = run.checkpoints[-1] if run.checkpoints else None
        exact = (last is not None and last.step == step and last.exact and params is not None
                 and last.params.shape == params.shape and np.array_equal(last.params, params))
        return Recovered(store, len(store.runs), sum(len(r.checkpoints) for r in store.runs.values()),
                         bool(exact), ", ".join(dict.fromkeys(lost)))

    def _read_checkpoint(self, name: Any) -> tuple[dict[str, Any], np.ndarray] | None:
        """A checkpoint file's header and bytes; None unless the file holds exactly the bytes its
        header's arrays need (checked before they are read)."""
        path = self._member(name, ".ckpt")
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                head = f.read(len(CKPT_MAGIC) + 4)
                if len(head) < 12 or head[:8] != CKPT_MAGIC:
                    return None
                (n,) = struct.unpack("<I", head[8:])
                if n > MAX_HEADER or 12 + n > size:  # checked before it is read
                    return None
                header = json.loads(f.read(n))
                need = _blob_size(header)
                if need is None or 12 + n + need != size:
                    return None
                blob = np.frombuffer(f.read(need), dtype=np.uint8)
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            return None
        return (header, blob) if blob.size == need else None

    def _read_history(self, name: Any, rows: Any) -> np.ndarray | None:
        path = self._member(name, ".hist")
        if path is None or not isinstance(rows, int) or rows < 0:
            return None
        want = len(HIST_MAGIC) + 8 * len(HISTORY_KEYS) * rows
        try:
            if path.stat().st_size != want:
                return None
            data = path.read_bytes()
        except OSError:
            return None
        if data[:8] != HIST_MAGIC:
            return None
        return np.frombuffer(data, dtype="<f8", offset=8).reshape(len(HISTORY_KEYS), rows).astype(float)

    def _member(self, name: Any, ext: str) -> Path | None:
        """A file of this directory by the index's name for it (never a path elsewhere)."""
        if not isinstance(name, str) or not name.endswith(ext) or "/" in name or "\\" in name \
                or name.startswith("."):
            return None
        path = self.dir / name
        return path if path.is_file() else None


# ---- the window's side: one private directory per window ------------------------------------------


def make_dir() -> str:
    """A new private journal directory (0700) for this process. (Old ones of closed windows are
    swept by the engine that is given one: removing them may take a while.)"""
    d = tempfile.mkdtemp(prefix=PREFIX)
    Path(d, OWNER).write_text(str(os.getpid()))
    return d


def remove_dir(directory: str | os.PathLike | None) -> None:
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        try:
            Path(directory).unlink()  # something put a file in its place
        except OSError:
            pass


def sweep(parent: str | os.PathLike | None = None) -> list[str]:
    """Remove journal directories whose window process is gone (a window that crashed); returns
    what was removed. Another user's, or a live window's, are left alone."""
    from nnbench.engine.files import _alive

    removed = []
    root = Path(parent or tempfile.gettempdir())
    try:
        candidates = [p for p in root.iterdir() if p.name.startswith(PREFIX) and p.is_dir()]
    except OSError:
        return removed
    for d in candidates:
        try:
            if d.stat().st_uid != os.getuid():
                continue
            pid = int((d / OWNER).read_text()[:20])
        except (OSError, ValueError):
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(str(d))
    return removed


def _write(path: Path, *chunks: bytes | np.ndarray) -> None:
    """The whole file under a temporary name, then renamed over ``path`` (no fsync: see above)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        for chunk in chunks:
            f.write(chunk)
    os.replace(tmp, path)


def _blob_size(header: Any) -> int | None:
    """The bytes a checkpoint header's arrays take, or None for a header that does not add up."""
    arrays = header.get("arrays") if isinstance(header, dict) else None
    if not isinstance(arrays, list) or len(arrays) > 64:
        return None
    total = 0
    for entry in arrays:
        if not isinstance(entry, list) or len(entry) != 3 or not isinstance(entry[1], str) \
                or not isinstance(entry[2], list) or len(entry[2]) > 4:
            return None
        try:
            dtype = np.dtype(entry[1])
        except TypeError:
            return None
        if dtype.kind not in "fiu" or any(not isinstance(d, int) or isinstance(d, bool) or d < 0
                                          for d in entry[2]):
            return None
        count = 1
        for d in entry[2]:
            count *= d
        total += count * dtype.itemsize
        if total > 1 << 40:
            return None
    return total


def _bytes(a: np.ndarray) -> np.ndarray:
    """An array's bytes without a copy (empty arrays too, which memoryview.cast refuses)."""
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8)


def _read_bounded(path: Path, limit: int) -> bytes:
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size > limit:
            raise OSError(f"{path.name} is larger than {limit} bytes")
        return f.read(limit + 1)
