"""Many seeds and sweeps: every cell of a grid of settings, times every seed.

    grid = parse_grid(["lr=0.01,0.1,1", "hidden=2,4,8"])
    sweep = Sweep(experiment, grid, seeds=range(10), epochs=200)
    rows = run_sweep(sweep, LocalExecutor(), out="results.csv", progress=print)

A cell's K seeds train vectorised in one process (:class:`nnbench.engine.stacked.StackedTrainer`);
cells run serially, on a local process pool, or on a Dask cluster, all through the same task
function :func:`run_cell` (plain data in, plain data out). Results go to a CSV or JSON table,
rewritten atomically after every cell, so a rerun with the same ``out`` skips the cells done.
No Qt here.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import queue
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from nnbench import data
from nnbench.engine import LayerSpec
from nnbench.engine.activations import HIDDEN_ACTIVATIONS
from nnbench.engine.initializers import INITIALIZERS
from nnbench.engine.optimizers import OPTIMIZERS
from nnbench.engine.stacked import StackedTrainer
from nnbench.engine.training import REGULARIZATIONS
from nnbench.errors import FileFormatError, NnbenchError, SpecError
from nnbench.experiment import Experiment, check_fits

MAX_SEEDS = 256
MAX_CELLS = 10_000
MAX_RESULTS_BYTES = 64 << 20
FORMAT = "nnbench-sweep"

# ---- the grid ----------------------------------------------------------------------------------


def _number(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{text!r} is not a finite number")
        return value

    return parse


def _choice(options: Iterable[str]) -> Callable[[str], str]:
    options = tuple(options)

    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"{text!r} is not one of {', '.join(options)}")
        return text

    return parse


def _hidden(text: str) -> str:
    """``8`` (one hidden layer of 8) or ``8-4`` (two layers); ``0`` for none."""
    parts = text.split("-")
    if not all(p.isdigit() for p in parts):
        raise ValueError(f"{text!r} is not a hidden-layer size like 8 or 8-4")
    return "-".join(str(int(p)) for p in parts)


# name: (what it sets, parser)
SETTINGS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "lr": ("training", _number(float)),
    "momentum": ("training", _number(float)),
    "batch_size": ("training", _number(int)),
    "reg_rate": ("training", _number(float)),
    "optimizer": ("training", _choice(OPTIMIZERS)),
    "regularization": ("training", _choice(REGULARIZATIONS)),
    "hidden": ("network", _hidden),
    "activation": ("network", _choice(HIDDEN_ACTIVATIONS)),
    "init": ("network", _choice(INITIALIZERS)),
    "noise": ("dataset", _number(float)),
    "n": ("dataset", _number(int)),
}
ALIASES = {"batch": "batch_size", "rate": "lr"}


def parse_grid(texts: Sequence[str]) -> dict[str, list[Any]]:
    """``["lr=0.01,0.1,1", "hidden=2,4,8"]`` -> ``{"lr": [0.01, 0.1, 1.0], "hidden": ["2", "4", "8"]}``;
    a SpecError naming the bad part otherwise."""
    grid: dict[str, list[Any]] = {}
    for text in texts:
        name, eq, values = text.partition("=")
        name = name.strip()
        if not eq or not name:
            raise SpecError(f"--grid {text!r}: write NAME=V1,V2,... (e.g. lr=0.01,0.1)")
        key = ALIASES.get(name, name)
        if key not in SETTINGS:
            raise SpecError(f"--grid {text!r}: unknown setting {name!r}; known: {', '.join(SETTINGS)}")
        if key in grid:
            raise SpecError(f"--grid {text!r}: {name!r} is given twice")
        parts = [v.strip() for v in values.split(",")]
        if any(not p for p in parts):
            raise SpecError(f"--grid {text!r}: an empty value in {values!r}")
        parsed = []
        for part in parts:
            try:
                parsed.append(SETTINGS[key][1](part))
            except ValueError as e:
                raise SpecError(f"--grid {text!r}: {e}") from None
        if len(set(map(str, parsed))) != len(parsed):
            raise SpecError(f"--grid {text!r}: a value is listed twice")
        grid[key] = parsed
    cells = math.prod(len(v) for v in grid.values())
    if cells > MAX_CELLS:
        raise SpecError(f"the grid has {cells:,} cells; at most {MAX_CELLS:,}")
    return grid


def value_text(value: Any) -> str:
    """A setting's value as the table writes it (and as resuming compares it)."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def apply_settings(exp: Experiment, settings: dict[str, Any]) -> Experiment:
    """The experiment with one cell's settings; a SpecError says which does not apply."""
    training: dict[str, Any] = {}
    network = exp.network
    dataset = dict(exp.dataset)
    for key, value in settings.items():
        where = SETTINGS[key][0]
        if where == "training":
            training[key] = value
        elif where == "dataset":
            if dataset.get("kind") != "generator":
                raise SpecError(f"{key!r} is a setting of generated datasets; this experiment's is "
                                f"{dataset.get('kind')!r}")
            dataset[key] = value
        elif key == "hidden":
            act = network.hidden[0].activation if network.hidden else "tanh"
            bias = network.output.bias
            units = [int(u) for u in str(value).split("-") if int(u) > 0]
            network = replace(network, layers=(*(LayerSpec(u, act, bias) for u in units), network.output))
        elif key == "activation":
            network = replace(network, layers=(*(replace(h, activation=value) for h in network.hidden),
                                               network.output))
        else:
            network = replace(network, init=value)
    try:
        cfg = exp.training.replace(**training) if training else exp.training
        if "lr" in training:
            from nnbench.engine.training import check_lr

            check_lr(cfg.lr)
        return exp.replace(network=network, training=cfg, dataset=dataset, saved=None)
    except (TypeError, ValueError) as e:
        raise SpecError(str(e)) from None


# ---- the target --------------------------------------------------------------------------------

METRICS = ("train_loss", "test_loss", "train_acc", "test_acc")
_TARGET = re.compile(r"^\s*(train_loss|test_loss|train_acc|test_acc)\s*(>=|<=)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Target:
    """``test_acc >= 0.95``: what counts as a seed having reached the goal."""

    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"

    def met(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return values >= self.value if self.op == ">=" else values <= self.value


def parse_target(text: str) -> Target:
    m = _TARGET.match(text)
    if not m:
        raise SpecError(f"--target {text!r}: write METRIC>=VALUE or METRIC<=VALUE with a metric from "
                        f"{', '.join(METRICS)} (e.g. test_acc>=0.95)")
    try:
        value = float(m.group(3))
    except ValueError:
        raise SpecError(f"--target {text!r}: {m.group(3)!r} is not a number") from None
    return Target(m.group(1), m.group(2), value)


def default_target(exp: Experiment, has_test: bool, classification: bool | None = None) -> Target | None:
    """The preset's ``expect`` when it names an accuracy, else 95 % accuracy for classification
    (``classification`` None: judged from the loss)."""
    expect = exp.expect
    for key, metric in (("test_acc_min", "test_acc"), ("train_acc_min", "train_acc")):
        if isinstance(expect.get(key), (int, float)) and (metric == "train_acc" or has_test):
            return Target(metric, ">=", float(expect[key]))
    if classification is None:
        classification = exp.training.loss in ("bce", "cross_entropy")
    if classification:
        return Target("test_acc" if has_test else "train_acc", ">=", 0.95)
    return None


# ---- one cell ----------------------------------------------------------------------------------


def stacked_trainer(exp: Experiment, seeds: Sequence[int], dataset: data.Dataset | None = None) \
        -> StackedTrainer:
    """K copies of ``exp``'s network, copy k from seed ``seeds[k]`` (its weights and its batch
    order, as ``nnbench train --seed`` uses one seed for both), on the experiment's data as
    :func:`nnbench.experiment.make_trainer` hands it to a Trainer."""
    ds = dataset if dataset is not None else exp.make_dataset()
    check_fits(exp.network, ds)
    same = ds.x_test.shape == ds.x_train.shape and np.array_equal(ds.x_test, ds.x_train)
    x_test, y_test = (None, None) if same or len(ds.x_test) == 0 else (ds.x_test, ds.y_test)
    return StackedTrainer(exp.network, exp.training, seeds, ds.x_train, ds.y_train, x_test, y_test,
                          x_scale=ds.x_scale, classification=ds.task == "classification")


def seed_rows(trainer: StackedTrainer, target: Target | None) -> list[dict[str, Any]]:
    """Per seed: final and best losses and accuracies, epochs to the target, divergence."""
    h = trainer.history
    goal = target.metric if target is not None else None
    if goal is not None and goal.startswith("test_") and trainer.x_test is None:
        goal = "train_" + goal[5:]  # a tiny table tests on its training rows
    rows = []
    for k, seed in enumerate(trainer.net_seeds):
        row: dict[str, Any] = {"seed": seed}
        for metric in METRICS:
            col = h[metric][k]
            finite = col[np.isfinite(col)]
            row[f"final_{metric}"] = float(finite[-1]) if len(finite) else None
            best = (finite.min() if "loss" in metric else finite.max()) if len(finite) else None
            row[f"best_{metric}"] = None if best is None else float(best)
        reached = None
        if target is not None and h[goal].shape[1]:
            hits = np.flatnonzero(target.met(h[goal][k]))
            reached = int(h["epoch"][k][hits[0]]) if len(hits) else None
        row["epochs_to_target"] = reached
        row["diverged"] = bool(trainer.diverged_at[k] >= 0)
        rows.append(row)
    return rows


_DATASETS: dict[str, data.Dataset] = {}  # per worker process: a cell's dataset, by source


def _dataset_for(source: dict[str, Any]) -> data.Dataset:
    key = json.dumps(source, sort_keys=True)
    ds = _DATASETS.get(key)
    if ds is None:
        if len(_DATASETS) > 8:
            _DATASETS.clear()
        ds = _DATASETS[key] = data.make(source)
    return ds


def run_cell(task: dict[str, Any]) -> dict[str, Any]:
    """The task function every executor runs: one cell, all its seeds, vectorised.

    ``task``: ``{"cell": int, "experiment": Experiment.to_dict(), "settings": {...},
    "seeds": [...], "epochs": int, "target": "test_acc>=0.95" or None}``; plain data back:
    ``{"cell": ..., "rows": [...], "seconds": ..., "pid": ...}``.
    """
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    exp = apply_settings(Experiment.from_dict(task["experiment"]), task["settings"])
    exp = exp.with_training(epochs=int(task["epochs"]))
    target = parse_target(task["target"]) if task.get("target") else None
    with threadpool_limits(limits=1, user_api="blas"):
        trainer = stacked_trainer(exp, task["seeds"], _dataset_for(exp.dataset))
        trainer.run(int(task["epochs"]))
    seconds = time.perf_counter() - started
    rows = seed_rows(trainer, target)
    for row in rows:
        row["seconds"] = round(seconds / len(rows), 6)  # the seed's share of the cell's time
    return {"cell": task["cell"], "rows": rows, "seconds": seconds, "pid": os.getpid()}


# ---- a sweep -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """An experiment, a grid of settings, the seeds of every cell and the epochs to train."""

    experiment: Experiment
    grid: dict[str, list[Any]]
    seeds: tuple[int, ...]
    epochs: int
    target: Target | None = None
    cells: list[dict[str, Any]] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        seeds = tuple(int(s) for s in self.seeds)
        if not 1 <= len(seeds) <= MAX_SEEDS or len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise SpecError(f"give 1 to {MAX_SEEDS} different seeds >= 0")
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise SpecError(f"a sweep needs at least 1 epoch, got {self.epochs!r}")
        object.__setattr__(self, "seeds", seeds)
        keys = list(self.grid)
        cells = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*self.grid.values())]
        for cell in cells:
            apply_settings(self.experiment, cell)  # a setting that cannot apply fails now, not mid-sweep
        object.__setattr__(self, "cells", cells)

    def key(self, settings: dict[str, Any]) -> tuple:
        return (self.experiment.name, self.epochs, tuple((k, value_text(settings[k])) for k in self.grid))

    def task(self, index: int) -> dict[str, Any]:
        exp = self.experiment.replace(saved=None)
        return {"cell": index, "experiment": exp.to_dict(), "settings": self.cells[index],
                "seeds": list(self.seeds), "epochs": self.epochs,
                "target": str(self.target) if self.target else None}

    def columns(self) -> list[str]:
        metrics = [f"{w}_{m}" for m in METRICS for w in ("final", "best")]
        return ["experiment", "epochs", *self.grid, "seed", *metrics, "epochs_to_target", "diverged",
                "seconds"]


# ---- results tables ----------------------------------------------------------------------------


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value_text(value)


def write_results(path: str | os.PathLike, sweep: Sweep, rows: list[dict[str, Any]]) -> Path:
    """The table as CSV (``.csv``) or JSON (anything else), written atomically."""
    from nnbench.engine.files import write_atomic

    path = Path(path)
    if path.suffix.lower() == ".csv":
        columns = sweep.columns()
        extra = sorted({k for r in rows for k in r} - set(columns))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns + extra)
        for row in rows:
            w.writerow([_cell_text(row.get(c)) for c in columns + extra])
        payload = buf.getvalue().encode("utf-8")
    else:
        doc = {"format": FORMAT, "version": 1, "experiment": sweep.experiment.name,
               "grid": {k: [value_text(v) if isinstance(v, float) else v for v in vs]
                        for k, vs in sweep.grid.items()},
               "seeds": list(sweep.seeds), "epochs": sweep.epochs,
               "target": str(sweep.target) if sweep.target else None, "rows": rows}
        payload = (json.dumps(doc, indent=1) + "\n").encode("utf-8")
    write_atomic(path, payload)
    return path


def _typed(text: str) -> Any:
    if text == "":
        return None
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def read_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a results table written by :func:`write_results` (CSV or JSON); FileFormatError
    naming the file for anything else."""
    from nnbench.engine.files import read_limited

    path = Path(path)
    raw = read_limited(path, MAX_RESULTS_BYTES, "a sweep results file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FileFormatError(f"{path.name} is not a text file") from None
    if path.suffix.lower() == ".csv":
        reader = csv.reader(io.StringIO(text))
        try:
            header = next(reader)
        except StopIteration:
            return []
        except csv.Error as e:
            raise FileFormatError(f"{path.name}: {e}") from None
        if "seed" not in header or "experiment" not in header:
            raise FileFormatError(f"{path.name} is not a sweep results table (no 'seed' and 'experiment' "
                                  "columns)")
        rows = []
        try:
            for i, values in enumerate(reader, start=2):
                if len(values) != len(header):
                    raise FileFormatError(f"{path.name}, line {i}: {len(values)} values for {len(header)} "
                                          "columns")
                rows.append({k: (v if k == "experiment" else _typed(v))
                             for k, v in zip(header, values, strict=True)})
        except csv.Error as e:
            raise FileFormatError(f"{path.name}: {e}") from None
        return rows
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise FileFormatError(f"{path.name} is neither a CSV table nor valid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("rows"), list):
        raise FileFormatError(f"{path.name} is not an nnbench sweep results file")
    rows = doc["rows"]
    if not all(isinstance(r, dict) and "seed" in r for r in rows):
        raise FileFormatError(f"{path.name}: every row must be a mapping with a 'seed'")
    return rows


def _row_key(sweep: Sweep, row: dict[str, Any]) -> tuple | None:
    try:
        settings = tuple((k, value_text(_coerce(k, row[k]))) for k in sweep.grid)
        return (str(row["experiment"]), int(row["epochs"]), settings), int(row["seed"])
    except (KeyError, TypeError, ValueError):
        return None


def _coerce(key: str, value: Any) -> Any:
    """A value read back from a table as the grid parser would give it (CSV loses 0.1 vs "0.1")."""
    return SETTINGS[key][1](str(value))


# ---- executors ---------------------------------------------------------------------------------

Cancel = Callable[[], bool]


class SerialExecutor:
    """Every cell in this process, one after another (the baseline, and for tests)."""

    name = "serial"

    def results(self, tasks: list[dict[str, Any]], cancelled: Cancel) -> Iterator[dict[str, Any]]:
        for task in tasks:
            if cancelled():
                return
            yield run_cell(task)


class LocalExecutor:
    """A pool of processes on this machine, one per core by default.

    Workers are forked when this process runs a single thread (the CLI: a worker is ready in
    milliseconds) and spawned otherwise (the window: forking a process that runs Qt threads is
    not safe; a spawned worker imports numpy and nnbench first, a second or more).
    """

    name = "local"

    def __init__(self, workers: int | None = None, start_method: str | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.start_method = start_method

    def _context(self):
        import multiprocessing

        method = self.start_method
        if method is None:
            single = threading.active_count() == 1
            method = "fork" if single and "fork" in multiprocessing.get_all_start_methods() else "spawn"
        return multiprocessing.get_context(method)

    def results(self, tasks: list[dict[str, Any]], cancelled: Cancel) -> Iterator[dict[str, Any]]:
        if not tasks:
            return
        done: queue.Queue = queue.Queue()
        pool = self._context().Pool(min(self.workers, len(tasks)))
        try:
            for task in tasks:
                pool.apply_async(run_cell, (task,), callback=lambda r: done.put((True, r)),
                                 error_callback=lambda e: done.put((False, e)))
            for _ in tasks:
                while True:
                    if cancelled():
                        return
                    try:
                        ok, result = done.get(timeout=0.05)
                        break
                    except queue.Empty:
                        continue
                if not ok:
                    raise result
                yield result
        finally:
            pool.terminate()  # also stops cells still running when cancelled
            pool.join()


def _dask():
    try:
        import distributed
    except ImportError:
        raise NnbenchError("the Dask executor needs the 'cluster' extra: pip install 'nnbench[cluster]' "
                           "(dask[distributed])") from None
    return distributed


class DaskExecutor:
    """Cells as tasks on a Dask distributed cluster (``dask://HOST:PORT`` or a Client).

    The workers must have nnbench installed. A worker that dies takes its running cells with
    it; the scheduler runs them again elsewhere, and each cell's result arrives once.
    """

    name = "dask"

    def __init__(self, address: str | None = None, client: Any = None, timeout: float = 10.0) -> None:
        if address is None and client is None:
            raise SpecError("give a scheduler address or a client")
        self.address, self.client, self.timeout = address, client, timeout

    def results(self, tasks: list[dict[str, Any]], cancelled: Cancel) -> Iterator[dict[str, Any]]:
        distributed = _dask()
        own = self.client is None
        try:
            client = self.client or distributed.Client(self.address, timeout=self.timeout)
        except OSError as e:
            raise NnbenchError(f"cannot reach the Dask scheduler at {self.address}: {e}") from None
        done: queue.Queue = queue.Queue()
        futures = []
        try:
            for task in tasks:
                f = client.submit(run_cell, task, key=f"nnbench-cell-{task['cell']}-{os.getpid()}-"
                                  f"{time.monotonic_ns()}", pure=False)
                f.add_done_callback(done.put)
                futures.append(f)
            for _ in tasks:
                while True:
                    if cancelled():
                        return
                    try:
                        f = done.get(timeout=0.05)
                        break
                    except queue.Empty:
                        continue
                yield f.result()
        finally:
            client.cancel(futures)
            if own:
                client.close()


def executor_for(text: str, workers: int | None = None) -> Any:
    """``local``, ``serial`` or ``dask://HOST:PORT``."""
    if text == "local":
        return LocalExecutor(workers)
    if text == "serial":
        return SerialExecutor()
    if text.startswith("dask://") and len(text) > len("dask://"):
        _dask()
        return DaskExecutor("tcp://" + text[len("dask://"):])
    raise SpecError(f"--executor {text!r}: give local, serial or dask://HOST:PORT")


# ---- running -----------------------------------------------------------------------------------


@dataclass
class Progress:
    """What a progress callback gets after each cell."""

    done: int  # cells done, counting those a results file already had
    total: int
    skipped: int  # cells found done in the results file
    last: dict[str, Any] | None = None  # the cell that just finished (run_cell's answer)


def _cost(sweep: Sweep, index: int) -> float:
    """A cell's relative cost: its network's parameters, and more steps for smaller batches."""
    exp = apply_settings(sweep.experiment, sweep.cells[index])
    batch = exp.training.batch_size
    return exp.network.n_params() * (1.0 if batch in (0, None) else 1.0 + 64.0 / batch)


def run_sweep(
    sweep: Sweep,
    executor: Any = None,
    out: str | os.PathLike | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | Callable[[], bool] | None = None,
) -> list[dict[str, Any]]:
    """Run every cell not yet in ``out`` and return all rows of this sweep (from the file too).

    Rows are written to ``out`` after every cell; a cancelled sweep keeps what it finished.
    """
    executor = executor or LocalExecutor()
    if cancel is None:
        cancelled: Cancel = lambda: False  # noqa: E731
    elif isinstance(cancel, threading.Event):
        cancelled = cancel.is_set
    else:
        cancelled = cancel
    kept: list[dict[str, Any]] = []
    have: dict[tuple, dict[int, dict[str, Any]]] = {}
    if out is not None and Path(out).is_file():
        for row in read_results(out):
            key = _row_key(sweep, row)
            if key is not None and key[1] in sweep.seeds:
                have.setdefault(key[0], {})[key[1]] = row
            else:
                kept.append(row)  # another sweep's rows in the same file stay
    todo, rows = [], []
    for i, cell in enumerate(sweep.cells):
        got = have.pop(sweep.key(cell), {})
        if all(s in got for s in sweep.seeds):
            rows.extend(got[s] for s in sweep.seeds)
        else:
            todo.append(i)
    for leftover in have.values():  # partial cells of another seed set: kept as they were
        kept.extend(leftover.values())
    skipped = len(sweep.cells) - len(todo)
    total = len(sweep.cells)
    if progress is not None:
        progress(Progress(skipped, total, skipped))
    done = skipped
    # Largest cells first (by parameters, times a batch-size factor): a pool then ends with the
    # small ones and its workers finish together (greedy in grid order, 9 cells of hidden 4, 8
    # and 16 on 2 workers left one idle while the other ran the last big cell).
    todo.sort(key=lambda i: -_cost(sweep, i))
    for result in executor.results([sweep.task(i) for i in todo], cancelled):
        cell = sweep.cells[result["cell"]]
        for row in result["rows"]:
            rows.append({"experiment": sweep.experiment.name, "epochs": sweep.epochs, **cell, **row})
        done += 1
        if out is not None:
            write_results(out, sweep, kept + rows)
        if progress is not None:
            progress(Progress(done, total, skipped, result))
    return rows


# ---- summaries ---------------------------------------------------------------------------------


def heatmap(sweep: Sweep, rows: list[dict[str, Any]], metric: str, x: str | None = None,
            y: str | None = None) -> tuple[np.ndarray, list[str], list[str], str, str]:
    """The median over seeds of ``metric`` (a table column, e.g. ``final_test_acc``) for every
    pair of values of two swept settings (the first two by default; other settings are pooled).
    Returns (values[y, x], x labels, y labels, x name, y name); NaN where no seed has a value."""
    keys = list(sweep.grid)
    if not keys:
        raise SpecError("a heatmap needs at least one swept setting")
    x = x or keys[0]
    y = y or (keys[1] if len(keys) > 1 else None)
    for name in (x, y):
        if name is not None and name not in sweep.grid:
            raise SpecError(f"{name!r} is not a swept setting; swept: {', '.join(keys)}")
    xs = [value_text(v) for v in sweep.grid[x]]
    ys = [value_text(v) for v in sweep.grid[y]] if y else [""]
    cells: dict[tuple[int, int], list[float]] = {}
    for row in rows:
        try:
            i = xs.index(value_text(_coerce(x, row[x])))
            j = ys.index(value_text(_coerce(y, row[y]))) if y else 0
        except (KeyError, ValueError):
            continue
        value = row.get(metric)
        if value is None and metric == "epochs_to_target":
            value = math.inf  # never reached
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            cells.setdefault((j, i), []).append(float(value))
    out = np.full((len(ys), len(xs)), np.nan)
    for (j, i), values in cells.items():
        out[j, i] = statistics.median(values)
    return out, xs, ys, x, y or ""


def reached(rows: list[dict[str, Any]]) -> tuple[int, int]:
    """How many seed rows reached the target, of how many."""
    return sum(r.get("epochs_to_target") is not None for r in rows), len(rows)
