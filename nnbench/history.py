"""Runs and checkpoints: the training history a user can go back to. No Qt here.

A :class:`RunStore` lives inside the bench. At epoch ends it keeps :class:`Checkpoint` s of
the live run (weights, optimizer state, the batch-order generator's state): at log-spaced
epochs (about ten a decade) and, as long as a copy costs under 1 % of the training time since
the last one, the latest epochs; all of it within a byte budget. A :class:`Run` is one line
of training: a root run (a new dataset, a reset) or a fork from a checkpoint of another run,
with some settings changed. Forking from a checkpoint and changing nothing trains on exactly
as the original did, bit for bit: the checkpoint holds everything the next epoch reads.

The store also writes itself into an experiment file and reads itself back
(:meth:`RunStore.to_file` / :meth:`RunStore.from_file`): one JSON record and one byte member
per checkpoint, every size checked against the member before an array is made from it.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnbench.engine import LayerSpec, Network, NetworkSpec, TrainConfig, Trainer
from nnbench.engine.training import HISTORY_KEYS, History
from nnbench.errors import FileFormatError, IncompatibleError, NnbenchError, SpecError

DEFAULT_BUDGET = 256 << 20  # bytes of checkpoints kept, all runs together
MAX_BUDGET = 64 << 30
LATEST = 24  # checkpoints kept per run besides the log-spaced ones
COPY_SHARE = 0.01  # a "latest" checkpoint only when copying costs at most this share of training
PER_DECADE = 10
FILE_VERSION = 1
MAX_FILE_CHECKPOINTS = 1000  # a file's zip holds at most 4096 members
MAX_RUNS = 200
# Settings a fork may change besides the training settings.
STRUCTURE_KEYS = ("hidden",)


# 0, 1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, 40, 50, 63, 79, 100, 126, ... up to 10^12.
LOG_EPOCHS = frozenset({0} | {round(10 ** (j / PER_DECADE)) for j in range(12 * PER_DECADE + 1)})


def log_epoch(epoch: int) -> bool:
    """Whether ``epoch`` is one of the log-spaced epochs (a set look-up: it runs every epoch)."""
    return epoch in LOG_EPOCHS


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """Training at the end of one epoch, as data: enough to go on from there exactly."""

    epoch: int
    step: int
    spec: NetworkSpec
    config: TrainConfig
    params: np.ndarray
    optimizer: dict[str, np.ndarray]
    rng: dict[str, Any]
    rows: int  # rows of the run's history at this point
    exact: bool = True  # False: taken mid-epoch (a run left while training)

    @property
    def nbytes(self) -> int:
        return int(self.params.nbytes + sum(a.nbytes for a in self.optimizer.values()))

    def record(self) -> tuple[dict[str, Any], list[tuple[str, np.ndarray]]]:
        """(a JSON-able header, the named arrays whose bytes follow it, in order): how an
        experiment file and the runs journal both write a checkpoint (``_checkpoint`` reads it)."""
        parts = [("params", self.params)]
        parts += [(f"opt.{n}", np.asarray(a)) for n, a in self.optimizer.items()]  # 0-d stays 0-d
        header = {"epoch": self.epoch, "step": self.step, "rows": self.rows, "exact": self.exact,
                  "spec": self.spec.to_dict(), "config": self.config.to_dict(), "rng": self.rng,
                  "arrays": [[n, a.dtype.str, list(a.shape)] for n, a in parts]}
        return header, parts

    @classmethod
    def of(cls, trainer: Trainer, exact: bool = True) -> Checkpoint:
        return cls(trainer.epoch, trainer.step_count, trainer.net.spec, trainer.config,
                   trainer.net.flat_params.copy(),
                   {k: np.array(v, copy=True) for k, v in trainer.optimizer.state().items()},
                   _copy_state(trainer.rng.bit_generator.state), trainer.history.n, exact)


@dataclass(eq=False)
class Run:
    """One line of training. ``history`` is the trainer's own while the run is live."""

    id: int
    name: str
    parent: int | None
    branch_epoch: int | None
    changes: dict[str, str]  # setting -> "old → new", what differs from the parent
    history: History
    checkpoints: list[Checkpoint] = field(default_factory=list)
    seconds: float = 0.0
    config: TrainConfig | None = None
    spec: NetworkSpec | None = None
    base: tuple[NetworkSpec, TrainConfig] | None = None  # the parent's at the branch point

    @property
    def epochs(self) -> int:
        return int(self.history.column("epoch")[-1]) if self.history.n else 0

    def best(self) -> tuple[float, float]:
        """(lowest test loss, highest test accuracy); the training figures when there is no test set."""
        loss, acc = self.history.column("test_loss"), self.history.column("test_acc")
        if not np.isfinite(loss).any():
            loss = self.history.column("train_loss")
        if not np.isfinite(acc).any():
            acc = self.history.column("train_acc")
        lo = float(np.nanmin(loss)) if np.isfinite(loss).any() else math.nan
        hi = float(np.nanmax(acc)) if np.isfinite(acc).any() else math.nan
        return lo, hi

    def checkpoint(self, epoch: int) -> Checkpoint | None:
        for c in self.checkpoints:
            if c.epoch == epoch and c.exact:
                return c
        for c in self.checkpoints:
            if c.epoch == epoch:
                return c
        return None


@dataclass(frozen=True)
class RunInfo:
    """A run as the runs list shows it (plain data)."""

    id: int
    name: str
    parent: int | None
    branch_epoch: int | None
    changes: dict[str, str]
    best_loss: float
    best_acc: float
    epochs: int
    seconds: float
    live: bool
    checkpoints: tuple[int, ...]  # epochs with a checkpoint, ascending
    config: dict[str, Any]
    spec: str


@dataclass(frozen=True, eq=False)
class Seen:
    """The answer to Seek: a run's network at one of its checkpoints."""

    run: int
    epoch: int
    step: int
    lr: float
    spec: NetworkSpec
    params: np.ndarray
    rows: int
    metrics: dict[str, float] = field(default_factory=dict)  # the history's row at this epoch


@dataclass(frozen=True, eq=False)
class Switched:
    """The answer to Fork and SetLive: the run now live and what it trains with."""

    run: int
    spec: NetworkSpec
    config: TrainConfig
    epoch: int


class RunStore:
    """Every run of the open experiment and their checkpoints, within :attr:`budget` bytes."""

    def __init__(self, budget: int = DEFAULT_BUDGET) -> None:
        self.budget = int(budget)
        self.runs: dict[int, Run] = {}
        self.live: int | None = None
        self._next = 1
        self._dataset: object = None
        self._trained = 0.0  # seconds trained since the last checkpoint (not paused time)
        self._copy_cost = 0.0  # seconds the last checkpoint took
        self._boundary = 0  # the live trainer's step count at its last epoch end (or start)
        self._trainer: Trainer | None = None  # the live run's (its settings may change in place)
        self.copy_seconds = 0.0  # spent taking checkpoints, in all (the benchmark reports it)
        self.journal: Any = None  # a journal.Journal mirroring the store on disk (the window's engine)

    def changed(self) -> None:
        """Runs or checkpoints changed: the journal, if any, follows."""
        if self.journal is not None:
            self.journal.sync(self)

    # ---- keeping ---------------------------------------------------------------------------

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for r in self.runs.values() for c in r.checkpoints)

    def live_run(self) -> Run | None:
        return self.runs.get(self.live) if self.live is not None else None

    def installed(self, dataset: object, trainer: Trainer) -> None:
        """A trainer was installed in the bench: the same run goes on (its history is the live
        run's), or a new root run starts (a new dataset clears the runs of the old one)."""
        self._trainer = trainer
        run = self.live_run()
        if run is not None and run.history is trainer.history:
            run.config, run.spec = trainer.config, trainer.net.spec
            return
        for r in self.runs.values():
            if r.history is trainer.history:  # SetLive / Fork install a run of their own
                self.live = r.id
                r.config, r.spec = trainer.config, trainer.net.spec
                return
        if dataset is not self._dataset:
            self.runs.clear()
            self._next = 1
            self._dataset = dataset
        run = self._new_run(None, None, {}, trainer)
        self.live = run.id
        self._boundary = trainer.step_count
        self.keep(trainer)
        self.changed()  # also when nothing was kept (a budget of 0): the old runs' files go

    def _new_run(self, parent: int | None, branch: int | None, changes: dict[str, str], trainer: Trainer,
                 name: str | None = None) -> Run:
        if len(self.runs) >= MAX_RUNS:
            raise IncompatibleError(f"at most {MAX_RUNS} runs: delete some first")
        rid = self._next
        self._next += 1
        run = Run(rid, name or f"run {rid}", parent, branch, changes, trainer.history,
                  config=trainer.config, spec=trainer.net.spec)
        self.runs[rid] = run
        return run

    def epoch_end(self, trainer: Trainer) -> None:
        """Called by the bench after every epoch of the live run."""
        epoch = trainer.epoch
        self._boundary = trainer.step_count
        if log_epoch(epoch):
            self.keep(trainer)
        elif self._trained >= self._copy_cost / COPY_SHARE:
            self.keep(trainer)

    def keep(self, trainer: Trainer, exact: bool = True) -> None:
        run = self.live_run()
        if run is None or self.budget <= 0:
            return
        t0 = time.perf_counter()
        c = Checkpoint.of(trainer, exact)
        cps = run.checkpoints
        # The same epoch again replaces its checkpoint; a mid-epoch one goes after the exact one.
        while cps and (cps[-1].epoch > c.epoch or (cps[-1].epoch == c.epoch and cps[-1].exact == c.exact)):
            cps.pop()
        cps.append(c)
        latest = [x for x in cps if not log_epoch(x.epoch)]
        if len(latest) > LATEST:
            cps.remove(latest[0])
        self._fit_budget()
        self.changed()  # inside the timing: a journal's writes count as the copy's cost
        self._copy_cost = time.perf_counter() - t0
        self._trained = 0.0
        self.copy_seconds += self._copy_cost

    def _fit_budget(self) -> None:
        total = self.nbytes
        while total > self.budget:
            victim = self._victim()
            if victim is None:
                return
            run, c = victim
            run.checkpoints.remove(c)
            total -= c.nbytes

    def _victim(self) -> tuple[Run, Checkpoint] | None:
        """What to drop first: the oldest "latest" checkpoint of any run, then every other
        log-spaced one of the run with most, then a run's first and last (live run last)."""
        runs = sorted(self.runs.values(), key=lambda r: (r.id == self.live, -len(r.checkpoints)))
        for r in runs:
            inner = r.checkpoints[1:-1]
            latest = [c for c in inner if not log_epoch(c.epoch)]
            if latest:
                return r, latest[0]
        for r in runs:
            inner = r.checkpoints[1:-1]
            if inner:
                return r, inner[len(inner) // 2]  # halving the middle keeps both ends dense
        for r in runs:
            if r.checkpoints:
                return r, r.checkpoints[0]
        return None

    def add_seconds(self, seconds: float) -> None:
        """The bench trained ``seconds`` (after every advance)."""
        self._trained += seconds
        run = self.live_run()
        if run is not None:
            run.seconds += seconds

    def set_budget(self, nbytes: int) -> dict[str, int]:
        whole = isinstance(nbytes, (int, np.integer)) and not isinstance(nbytes, bool)
        if not whole or not 0 <= nbytes <= MAX_BUDGET:
            raise SpecError(f"the checkpoint budget must be a number of bytes from 0 to {MAX_BUDGET}, "
                            f"got {nbytes!r}")
        self.budget = int(nbytes)
        self._fit_budget()
        self.changed()
        return self.usage()

    def usage(self) -> dict[str, int]:
        return {"budget": self.budget, "used": self.nbytes,
                "checkpoints": sum(len(r.checkpoints) for r in self.runs.values())}

    # ---- reading -----------------------------------------------------------------------------

    def run(self, rid: int | None) -> Run:
        rid = self.live if rid is None else rid
        run = self.runs.get(rid) if rid is not None else None
        if run is None:
            raise IncompatibleError(f"there is no run {rid}: it was deleted, or another dataset was opened")
        return run

    def info(self) -> tuple[RunInfo, ...]:
        out = []
        t = self._trainer
        for r in self.runs.values():
            if r.id == self.live and t is not None and t.history is r.history:
                r.config, r.spec = t.config, t.net.spec  # a rate changed in place shows at once
            if r.base is not None and r.spec is not None and r.config is not None:
                r.changes = describe_changes(*r.base, r.spec, r.config)
            lo, hi = r.best()
            out.append(RunInfo(r.id, r.name, r.parent, r.branch_epoch, dict(r.changes), lo, hi, r.epochs,
                               r.seconds, r.id == self.live, tuple(sorted({c.epoch for c in r.checkpoints})),
                               r.config.to_dict() if r.config else {}, r.spec.describe() if r.spec else ""))
        return tuple(out)

    def seek(self, epoch: int, rid: int | None = None) -> Seen:
        run = self.run(rid)
        c = run.checkpoint(int(epoch))
        if c is None:
            kept = ", ".join(str(x.epoch) for x in run.checkpoints[:12]) or "none"
            raise IncompatibleError(f"{run.name} has no checkpoint at epoch {epoch} (kept: {kept}...)")
        h = run.history
        row = {k: float(h.column(k)[c.rows - 1]) for k in HISTORY_KEYS} if 0 < c.rows <= h.n else {}
        return Seen(run.id, c.epoch, c.step, c.config.lr, c.spec, c.params.copy(), c.rows, row)

    def history(self, rid: int | None = None) -> dict[str, np.ndarray]:
        return self.run(rid).history.to_dict()

    # ---- changing runs ----------------------------------------------------------------------

    def rename(self, rid: int, name: str) -> None:
        name = str(name).strip()
        if not name or len(name) > 200:
            raise SpecError("a run's name must be 1 to 200 characters")
        self.run(rid).name = name
        self.changed()

    def delete(self, rid: int) -> None:
        run = self.run(rid)
        if run.id == self.live:
            raise IncompatibleError(f"{run.name} is the live run: pick another run live first")
        del self.runs[run.id]
        for r in self.runs.values():  # its forks keep their branch epoch, now from no run
            if r.parent == run.id:
                r.parent = None
        self.changed()

    def settle(self, trainer: Trainer) -> None:
        """Training stopped (a pause, a Step's end, the limit): keep where it stands, so the
        timeline reaches the end and the run can be picked up again exactly."""
        run = self.live_run()
        if run is None or run.history is not trainer.history:
            return
        last = run.checkpoints[-1] if run.checkpoints else None
        if last is None or last.step != trainer.step_count:
            self.keep(trainer, exact=trainer.step_count == self._boundary)

    def leave(self, trainer: Trainer) -> None:
        """The live run stops being live: keep where it stands, to come back to."""
        if self.live_run() is None:
            return
        self.keep(trainer, exact=trainer.step_count == self._boundary)

    def fork(self, trainer: Trainer, epoch: int, changes: dict[str, Any], rid: int | None, name: str | None,
             make: Any, seed: int) -> Trainer:
        """A new trainer going on from ``epoch`` of run ``rid`` with ``changes`` (training
        settings and "hidden"); ``make(net, config)`` builds a trainer on the bench's data."""
        parent = self.run(rid)
        c = parent.checkpoint(int(epoch))
        if c is None:
            raise IncompatibleError(f"{parent.name} has no checkpoint at epoch {epoch}")
        changes = dict(changes)
        hidden = changes.pop("hidden", None)
        config = c.config.replace(**changes) if changes else c.config
        spec = c.spec
        if hidden is not None:
            layers = tuple(h if isinstance(h, LayerSpec) else LayerSpec.from_dict(h) for h in hidden)
            spec = NetworkSpec(spec.n_inputs, (*layers, spec.output), spec.init, spec.dtype, spec.features)
        old = Network(c.spec)
        old.flat_params[...] = c.params
        if spec == c.spec:
            net = old
        else:
            net = Network(spec, np.random.default_rng(seed))
            net.adopt(old)
        new = make(net, config)
        if spec == c.spec and config.optimizer == c.config.optimizer:
            new.optimizer.load_state(c.optimizer)
        new.rng.bit_generator.state = _copy_state(c.rng)
        new.epoch, new.step_count = c.epoch, c.step
        new.history = _rows(parent.history, c.rows)
        self.leave(trainer)
        self._boundary = c.step
        diff = describe_changes(c.spec, c.config, spec, config)
        run = self._new_run(parent.id, c.epoch, diff, new, name)
        run.base = (c.spec, c.config)
        self.live = run.id
        run.checkpoints.append(c)  # the fork's own first point, shared (checkpoints are immutable)
        self._fit_budget()
        self.changed()
        return new

    def resume(self, trainer: Trainer, rid: int, make: Any) -> Trainer:
        """A trainer for run ``rid`` where it was left (its latest checkpoint)."""
        run = self.run(rid)
        if not run.checkpoints:
            raise IncompatibleError(f"{run.name} has no checkpoint left to go on from (the memory budget)")
        c = run.checkpoints[-1]
        net = Network(c.spec)
        net.flat_params[...] = c.params
        new = make(net, c.config)
        new.optimizer.load_state(c.optimizer)
        new.rng.bit_generator.state = _copy_state(c.rng)
        new.epoch, new.step_count = c.epoch, c.step
        if run.history.n > c.rows:  # rows after the last checkpoint cannot be trained on from it
            run.history = _rows(run.history, c.rows)
        new.history = run.history
        self.leave(trainer)
        self.live = run.id
        self._boundary = c.step if c.exact else -1
        self.changed()
        return new

    # ---- files ---------------------------------------------------------------------------------

    def to_file(self, latest_only: bool = False) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(a JSON-able record, arrays) for an experiment file; the live run's history is the
        file's own, so only the other runs' histories are written."""
        record: dict[str, Any] = {"version": FILE_VERSION, "live": self.live, "budget": self.budget,
                                  "runs": []}
        arrays: dict[str, np.ndarray] = {}
        written = 0
        for r in self.runs.values():
            cps = r.checkpoints[-1:] if latest_only else r.checkpoints
            entry: dict[str, Any] = {"id": r.id, "name": r.name, "parent": r.parent,
                                     "branch_epoch": r.branch_epoch, "changes": r.changes,
                                     "seconds": r.seconds, "checkpoints": []}
            if r.id != self.live:
                arrays[f"runs.r{r.id}.history"] = np.stack([r.history.column(k) for k in HISTORY_KEYS])
            for k, c in enumerate(cps):
                if written >= MAX_FILE_CHECKPOINTS:
                    break
                written += 1
                header, parts = c.record()
                blob = b"".join(a.tobytes() for _, a in parts)
                entry["checkpoints"].append(header)
                arrays[f"runs.r{r.id}.c{k}"] = np.frombuffer(blob, dtype=np.uint8)
            record["runs"].append(entry)
        return record, arrays

    @classmethod
    def from_file(cls, record: Any, arrays: dict[str, np.ndarray], live_history: History, dataset: object,
                  name: str = "file", built: dict[int, list[Checkpoint]] | None = None) -> RunStore:
        """The store a file holds; FileFormatError for anything that does not add up. ``built``:
        each run's checkpoints already read and checked (the runs journal), instead of the
        record's."""
        try:
            return cls._from_file(record, arrays, live_history, dataset, built)
        except FileFormatError:
            raise
        except (NnbenchError, KeyError, TypeError, ValueError, OverflowError) as e:
            raise FileFormatError(f"{name}: the runs record is damaged "
                                  f"({type(e).__name__}: {str(e)[:120]})") from None

    @classmethod
    def _from_file(cls, record: Any, arrays: dict[str, np.ndarray], live_history: History,
                   dataset: object, built: dict[int, list[Checkpoint]] | None = None) -> RunStore:
        if not isinstance(record, dict) or record.get("version") != FILE_VERSION:
            raise FileFormatError("the runs record has an unknown version")
        budget = record.get("budget", DEFAULT_BUDGET)
        store = cls(budget if isinstance(budget, int) and 0 <= budget <= MAX_BUDGET else DEFAULT_BUDGET)
        store._dataset = dataset
        runs = record.get("runs")
        if not isinstance(runs, list) or len(runs) > MAX_RUNS:
            raise FileFormatError("the runs record holds no list of runs")
        live = record.get("live")
        for entry in runs:
            rid = entry["id"]
            if not isinstance(rid, int) or isinstance(rid, bool) or rid < 1 or rid in store.runs:
                raise FileFormatError("a run has a bad id")
            if rid == live:
                history = live_history
            else:
                h = arrays.get(f"runs.r{rid}.history")
                if h is None or h.ndim != 2 or h.shape[0] != len(HISTORY_KEYS) or h.dtype.kind != "f":
                    raise FileFormatError(f"run {rid} has no history")
                history = History.from_dict({k: h[i] for i, k in enumerate(HISTORY_KEYS)})
            changes = entry.get("changes", {})
            parent, branch = entry.get("parent"), entry.get("branch_epoch")
            changes = {str(k): str(v) for k, v in changes.items()} if isinstance(changes, dict) else {}
            run = Run(rid, str(entry.get("name", f"run {rid}"))[:200],
                      parent if isinstance(parent, int) else None,
                      branch if isinstance(branch, int) else None, changes, history,
                      seconds=float(entry.get("seconds", 0.0)))
            if built is not None:
                run.checkpoints.extend(built.get(rid, ()))
            for k, cp in enumerate(entry.get("checkpoints", []) if built is None else ()):
                run.checkpoints.append(_checkpoint(cp, arrays.get(f"runs.r{rid}.c{k}"), history.n))
            if run.checkpoints:
                run.spec, run.config = run.checkpoints[-1].spec, run.checkpoints[-1].config
            if run.parent is not None and run.checkpoints and run.checkpoints[0].epoch == run.branch_epoch:
                run.base = (run.checkpoints[0].spec, run.checkpoints[0].config)
            store.runs[rid] = run
            store._next = max(store._next, rid + 1)
        if live not in store.runs:
            raise FileFormatError("the runs record names no live run")
        store.live = live
        last = store.runs[live].checkpoints[-1:]
        store._boundary = last[0].step if last and last[0].exact else -1
        return store


def read_runs(path: Any) -> tuple[tuple[RunInfo, ...], dict[int, dict[str, np.ndarray]]]:
    """The runs an experiment file holds and their histories, without building its dataset
    (``nnbench history``); a file from before runs holds one run, its own history."""
    from pathlib import Path

    from nnbench.engine import files

    path = Path(path)
    saved = files.load(path)
    live = History.from_dict(saved.history) if saved.history else History()
    record = saved.extra.get("runs")
    if record is None:
        store = RunStore()
        run = Run(1, path.stem, None, None, {}, live, config=saved.config, spec=saved.spec)
        store.runs[1], store.live = run, 1
    else:
        store = RunStore.from_file(record, saved.arrays, live, None, path.name)
        run = store.runs[store.live]
        run.config, run.spec = saved.config or run.config, saved.spec
    return store.info(), {rid: r.history.to_dict() for rid, r in store.runs.items()}


CSV_HEAD = ("run", "name", "parent", "branch_epoch", *HISTORY_KEYS)


def runs_csv(runs: tuple[RunInfo, ...], histories: dict[int, dict[str, np.ndarray]]) -> str:
    """One row per epoch per run, with the run's settings (CSV text, header first)."""
    import csv
    import io

    settings = sorted({k for r in runs for k in r.config} | {"network"})
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow((*CSV_HEAD, *settings))
    for r in runs:
        h = histories[r.id]
        values = [r.spec if k == "network" else r.config.get(k, "") for k in settings]
        for i in range(len(h["epoch"])):
            row = [r.id, r.name, "" if r.parent is None else r.parent,
                   "" if r.branch_epoch is None else r.branch_epoch, int(h["epoch"][i])]
            row += ["" if not np.isfinite(h[k][i]) else repr(float(h[k][i])) for k in HISTORY_KEYS[1:]]
            w.writerow(row + values)
    return out.getvalue()


def describe_changes(spec0: NetworkSpec, config0: TrainConfig, spec1: NetworkSpec,
                     config1: TrainConfig) -> dict[str, str]:
    """What differs, as "old → new" text per setting (the runs list shows it)."""
    out = {}
    for key in TrainConfig.__dataclass_fields__:
        x, y = getattr(config0, key), getattr(config1, key)
        if x != y:
            out[key] = f"{x:g} → {y:g}" if isinstance(x, float) and isinstance(y, float) else f"{x} → {y}"
    if spec0 != spec1:
        out["network"] = f"{spec0.describe()} → {spec1.describe()}"
    return out


def _rows(history: History, n: int) -> History:
    h = History()
    for i in range(min(n, history.n)):
        h.append(**{k: float(history.column(k)[i]) for k in HISTORY_KEYS})
    return h


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a bit generator's state (plain dicts and ints), through JSON: the same
    form a file holds, so a checkpoint read back is the checkpoint written."""
    return json.loads(json.dumps(state))


def _checkpoint(cp: Any, blob: np.ndarray | None, rows_max: int) -> Checkpoint:
    if not isinstance(cp, dict) or blob is None or blob.dtype != np.uint8 or blob.ndim != 1:
        raise FileFormatError("a checkpoint has no data")
    spec = NetworkSpec.from_dict(cp["spec"])
    config = TrainConfig.from_dict(cp["config"])
    parts = cp["arrays"]
    if not isinstance(parts, list) or len(parts) > 64:
        raise FileFormatError("a checkpoint lists too many arrays")
    offset, found = 0, {}
    for entry in parts:
        name, dtype_str, shape = entry
        dtype = np.dtype(str(dtype_str))
        if dtype.kind not in "fiu" or not isinstance(shape, list) or len(shape) > 4 \
                or any(not isinstance(s, int) or s < 0 for s in shape):
            raise FileFormatError("a checkpoint array has a bad type or shape")
        count = math.prod(shape)
        size = count * dtype.itemsize
        if offset + size > blob.size:  # checked before anything is made from it
            raise FileFormatError("a checkpoint is shorter than it says")
        found[str(name)] = np.frombuffer(blob, dtype=dtype, count=count, offset=offset).reshape(shape).copy()
        offset += size
    params = found.pop("params", None)
    if params is None or params.shape != (spec.n_params(),) or params.dtype != np.dtype(spec.dtype) \
            or not np.all(np.isfinite(params)):
        raise FileFormatError("a checkpoint's weights do not fit its network")
    optimizer = {k[4:]: v for k, v in found.items() if k.startswith("opt.")}
    rows, epoch, step = cp["rows"], cp["epoch"], cp["step"]
    for v in (rows, epoch, step):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise FileFormatError("a checkpoint's counters are not whole numbers")
    if not isinstance(cp["rng"], dict):
        raise FileFormatError("a checkpoint has no generator state")
    return Checkpoint(epoch, step, spec, config, params, optimizer, cp["rng"], min(rows, rows_max),
                      bool(cp.get("exact", True)))
