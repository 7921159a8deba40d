"""The bench: one Qt-free object that owns an experiment at run time.

It holds the dataset, the network, the trainer, the history and the settings; it changes only
through :meth:`Bench.apply` with a command from :mod:`nnbench.commands` (plain data) and
trains only in :meth:`Bench.advance`. The CLI and the tests drive it in-process; the window
drives the same object in an engine process (:mod:`nnbench.remote`). Every network it trains
is built through :meth:`nnbench.experiment.Experiment.build` or :func:`make_trainer`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from nnbench import commands as cmd
from nnbench import data
from nnbench.data import Dataset
from nnbench.engine import LayerSpec, Network, NetworkSpec, TrainConfig, Trainer, files
from nnbench.engine.memory import check_memory
from nnbench.engine.training import History
from nnbench.engine.training import Step as TrainStep
from nnbench.errors import FileFormatError, IncompatibleError, SpecError, TrainingDiverged
from nnbench.experiment import Experiment, check_fits, load_experiment, make_trainer, save_experiment
from nnbench.history import RunStore, _copy_state
from nnbench.journal import Journal

DEFAULT_HIDDEN = (LayerSpec(4, "tanh"), LayerSpec(4, "tanh"))
DEFAULT_CONFIG = TrainConfig(loss="bce", optimizer="sgd", lr=0.1, epochs=0)
# At slow speeds, batches owed after a pause are not run in one burst.
MAX_CREDIT_SECONDS = 0.25


def problem_defaults(ds: Dataset) -> tuple[int, str, str]:
    """(output units, output activation, loss) that suit the dataset's task."""
    if ds.task == "regression":
        return ds.n_outputs, "linear", "mse"
    if ds.n_outputs == 1:
        return 1, "sigmoid", "bce"
    return ds.n_outputs, "softmax", "cross_entropy"


def default_batch(ds: Dataset, wanted: int) -> int:
    """Full-batch on 60,000 images would be one slow step per epoch: images default to 100."""
    if ds.image_shape is not None and wanted == 0:
        return 100
    return wanted


def dtype_for(ds: Dataset) -> str:
    return "float32" if ds.x_train.dtype == np.uint8 else "float64"


@dataclass(frozen=True, eq=False)
class Frame:
    """What the views need of the bench at one moment: plain values and copies of arrays.

    ``history`` holds the rows from ``history_start`` on of the history ``history_id`` (a new
    id whenever the history starts afresh), so a reader that has rows already asks for the rest.
    """

    generation: int
    serial: int  # counts trainers built; changes with every new network or trainer
    epoch: int
    step: int
    lr: float
    running: bool
    last_loss: float
    spec: NetworkSpec
    params: np.ndarray
    history_id: int
    history_start: int
    history: dict[str, np.ndarray]
    run: int = 0  # the live run's id (nnbench.history); 0 before there is one


class Bench:
    """An experiment at run time, changed by commands and trained by :meth:`advance`."""

    def __init__(self) -> None:
        self.dataset: Dataset | None = None
        self.trainer: Trainer | None = None
        self.meta: Experiment | None = None  # the experiment's own fields (name, seeds, expect)
        self.generation = 0  # counts dataset switches and loads; stale edits are dropped
        self.serial = 0  # counts trainers installed
        self.running = False
        self.speed = 0.0  # batches per second; 0 = as fast as it can
        self._to_step = 0  # epochs still to train for Step
        self._steps: Iterator[TrainStep] | None = None
        self._credit = 0.0
        self._last_advance: float | None = None
        self._history_id = 0
        self._history_obj: object = None
        self._handlers: dict[type, Callable[[Any], Any]] = {
            cmd.SwitchData: self._switch, cmd.Restructure: self._restructure, cmd.SetConfig: self._set_config,
            cmd.SetParam: self._set_param, cmd.Reset: self._reset, cmd.Load: self._load, cmd.Save: self._save,
            cmd.Predict: self._predict, cmd.Play: self._play, cmd.Pause: self._pause, cmd.Step: self._step,
            cmd.SetSpeed: self._set_speed, cmd.Restore: self._restore, cmd.Status: self._status,
            cmd.GetState: lambda _c: self.state(),
        }
        # Runs and checkpoints (nnbench.history): the store keeps them, these commands use it.
        self.runs = RunStore()
        self._handlers.update({
            cmd.Seek: lambda c: self.runs.seek(c.epoch, c.run), cmd.Fork: self._fork,
            cmd.SetLive: self._set_live, cmd.RenameRun: lambda c: self.runs.rename(c.run, c.name),
            cmd.DeleteRun: lambda c: self.runs.delete(c.run), cmd.ListRuns: lambda _c: self.runs.info(),
            cmd.RunHistory: lambda c: self.runs.history(c.run),
            cmd.SetCheckpointBudget: lambda c: self.runs.set_budget(c.nbytes),
            cmd.UseJournal: self._use_journal,
        })
        self.journal: Journal | None = None  # the runs mirrored on disk (the window's engine)

    @classmethod
    def from_experiment(cls, experiment: Experiment, dataset: Dataset | None = None) -> Bench:
        bench = cls()
        bench.open(experiment, dataset)
        return bench

    def __repr__(self) -> str:
        net = self.trainer.net if self.trainer is not None else None
        return f"Bench({getattr(self.dataset, 'name', None)!r}, {net!r}, epoch={self.epoch})"

    # ---- reading ----------------------------------------------------------------------------

    @property
    def net(self) -> Network:
        return self._trainer().net

    @property
    def spec(self) -> NetworkSpec | None:
        return self.trainer.net.spec if self.trainer is not None else None

    @property
    def config(self) -> TrainConfig | None:
        return self.trainer.config if self.trainer is not None else None

    @property
    def epoch(self) -> int:
        return self.trainer.epoch if self.trainer is not None else 0

    @property
    def active(self) -> bool:
        """Training would run on :meth:`advance` (playing, or epochs left to Step)."""
        return self.trainer is not None and (self.running or self._to_step > 0)

    def experiment(self) -> Experiment:
        """The experiment as it stands: the dataset source, the network and settings in use."""
        t, ds = self._trainer(), self.dataset
        base = self.meta or Experiment(ds.name, ds.name, "", dict(ds.source), t.net.spec, t.config)
        return base.replace(network=t.net.spec, training=t.config, saved=None)

    def frame(self, history_id: int = -1, have_rows: int = 0) -> Frame:
        """The bench now, as plain data; history rows from ``have_rows`` on if the reader holds
        that many rows of history ``history_id`` already, else all of them."""
        t = self._trainer()
        if t.history is not self._history_obj:
            self._history_obj = t.history
            self._history_id += 1
        n = t.history.n
        start = have_rows if history_id == self._history_id and 0 <= have_rows <= n else 0
        hist = {key: t.history.column(key)[start:n].copy() for key in ("epoch", "train_loss", "test_loss",
                                                                        "train_acc", "test_acc")}
        return Frame(self.generation, self.serial, t.epoch, t.step_count, t.lr, self.active,
                     t.history.last("train_loss"), t.net.spec, t.net.flat_params.copy(), self._history_id,
                     start, hist, self.runs.live or 0)

    # ---- commands ---------------------------------------------------------------------------

    def apply(self, command: Any) -> Any:
        """Carry out one command from :mod:`nnbench.commands`; returns its plain answer.

        Raises the project's errors (NnbenchError) for anything refused; the bench is then as
        it was."""
        handler = self._handlers.get(type(command))
        if handler is None:
            raise SpecError(f"the bench has no command {type(command).__name__}")
        return handler(command)

    def open(self, experiment: Experiment, dataset: Dataset | None = None,
             path: str | None = None) -> cmd.Opened:
        """Build ``experiment`` (on ``dataset`` if given) and train it from now on."""
        ds, _net, trainer = experiment.build(dataset)
        self.meta = experiment
        return self._opened(ds, trainer, path)

    def _opened(self, ds: Dataset, trainer: Trainer, path: str | None = None) -> cmd.Opened:
        if self.journal is not None:  # its first index of the new runs names the new generation
            self.journal.generation = self.generation + 1
        self._install(ds, trainer)
        self.running, self._to_step = False, 0
        self.generation += 1
        self._journal_follows()
        return cmd.Opened(ds, trainer.net.spec, trainer.config, self.generation, self._meta_fields(), path)

    def _meta_fields(self) -> dict[str, Any]:
        meta = self.meta
        if meta is None:
            return {}
        return {"name": meta.name, "title": meta.title, "description": meta.description,
                "net_seed": meta.net_seed, "expect": meta.expect, "report_every": meta.report_every}

    def _switch(self, c: cmd.SwitchData) -> cmd.Opened:
        if (c.source is None) == (c.dataset is None):
            raise SpecError("a dataset switch needs a source or a dataset (one of them)")
        ds = c.dataset if c.dataset is not None else data.make(c.source)
        old = self.spec
        hidden = c.hidden if c.hidden is not None else (old.hidden if old is not None else DEFAULT_HIDDEN)
        config = c.config or self.config or DEFAULT_CONFIG
        units, out_act, loss = problem_defaults(ds)
        output = LayerSpec(units, out_act)
        # The same problem again (an edited table, a regenerated set): the output layer and the
        # loss stay as they are, so a tutorial's own setup (squared error, no bias) survives.
        prev = self.dataset
        if (old is not None and prev is not None and prev.n_features == ds.n_features
                and prev.n_outputs == ds.n_outputs and prev.task == ds.task):
            output, loss = old.output, config.loss
        features = c.features if ds.n_features == 2 else None
        init = c.init or (old.init if old is not None else "xavier")
        spec = NetworkSpec(ds.n_features, (*hidden, output), init, dtype_for(ds), features)
        config = config.replace(loss=loss, batch_size=default_batch(ds, config.batch_size))
        seed = c.net_seed if c.net_seed is not None else (self.meta.net_seed if self.meta is not None else 0)
        source = dict(ds.source) if isinstance(ds.source, dict) and isinstance(ds.source.get("kind"), str) \
            else {"kind": "table"}
        exp = Experiment(ds.name, ds.name, "", source, spec, config, net_seed=seed)
        opened = self.open(exp, ds)
        return replace(opened, dataset=None) if c.dataset is not None else opened

    def _restructure(self, c: cmd.Restructure) -> cmd.StructureEdit | cmd.Dropped | None:
        t, ds = self._trainer(), self.dataset
        if c.generation is not None and c.generation != self.generation:
            return cmd.Dropped("The network edit was dropped: another dataset or file was opened first")
        base = t.net.spec
        spec = NetworkSpec(base.n_inputs, (*c.hidden, c.output), base.init, base.dtype,
                           c.features if base.n_inputs == 2 else None)
        config = t.config.replace(loss=c.loss) if c.loss is not None else t.config
        if spec == base and config.loss == t.config.loss:
            return None
        check_fits(spec, ds)
        rows = len(ds.x_train)  # the layer list allows any layer the spec does: check before building
        check_memory(spec, batch=min(config.batch_size or rows, rows), optimizer=config.optimizer,
                     eval_rows=len(ds.x_test))
        left = cmd.as_state(base, t.net.flat_params)
        seed = (self.meta.net_seed if self.meta is not None else 0) + 1 + t.step_count
        net = Network(spec, np.random.default_rng(seed))
        if c.memory is not None:
            net.adopt(_network(c.memory))
        net.adopt(t.net)  # what the network in use has learned wins over the memory
        self._continue(net, config)
        return cmd.StructureEdit(base, t.config.loss, spec, config.loss, left)

    def _set_config(self, c: cmd.SetConfig) -> TrainConfig:
        t = self._trainer()
        changes = dict(c.changes)
        new = t.config.replace(**changes)
        if set(changes) <= {"lr", "epochs", "regularization", "reg_rate"}:
            if new.lr != t.lr:
                t.lr = new.lr
            t.config = new
        else:
            self._continue(t.net, new)
        return new

    def _set_param(self, c: cmd.SetParam) -> cmd.ParamEdit:
        t = self._trainer()
        self._check_generation(c.generation, "the weight was not set")
        layers = t.net.layers
        name = "b" if c.i < 0 else "W"
        p = getattr(layers[c.layer], name) if 0 <= c.layer < len(layers) else None
        if p is None:
            raise IncompatibleError(f"the network has no {name} in layer {c.layer + 1}")
        if c.i < 0:
            if not 0 <= c.j < p.shape[0]:
                raise IncompatibleError(f"layer {c.layer + 1} has no neuron {c.j + 1} any more")
            at: tuple[int, ...] = (c.j,)
        else:
            if not (0 <= c.i < p.shape[0] and 0 <= c.j < p.shape[1]):
                raise IncompatibleError(f"layer {c.layer + 1} has no weight ({c.i + 1}, {c.j + 1}) any more")
            at = (c.i, c.j)
        value = float(c.value)
        if not np.isfinite(value):
            raise SpecError(f"a weight must be a finite number, got {value!r}")
        before = float(p[at])
        p[at] = value
        return cmd.ParamEdit(c.layer, c.i, c.j, before, float(p[at]))

    def _reset(self, c: cmd.Reset) -> None:
        t, ds = self._trainer(), self.dataset
        net = Network(t.net.spec, np.random.default_rng(c.seed))
        if self.meta is not None:
            self.meta = self.meta.replace(net_seed=int(c.seed))
        self._install(ds, make_trainer(net, t.config, ds))
        self.running, self._to_step = False, 0

    def _load(self, c: cmd.Load) -> cmd.Opened:
        path = str(c.path)
        p = Path(path)
        if not p.is_file():  # a FIFO or device would block on open
            raise FileFormatError(f"{p.name} is not a regular file")
        try:
            with open(p, "rb") as f:
                is_zip = f.read(2) == b"PK"
        except OSError as e:
            raise FileFormatError(f"cannot open {p.name}: {e.strerror or e}") from e
        saved = files.load(path) if is_zip else _onnx_network(path)
        if saved is None or saved.dataset is not None:
            exp = load_experiment(path)
            opened = self.open(exp, path=path)
            self._load_runs(exp.saved, p.name)
            return opened
        ds = self.dataset  # weights alone: they must fit the dataset in use
        if ds is None or saved.spec.n_inputs != ds.n_features or saved.spec.output.units != ds.n_outputs:
            raise IncompatibleError(
                f"{p.name} holds a network for {saved.spec.n_inputs} input(s) and "
                f"{saved.spec.output.units} output(s); the dataset {getattr(ds, 'name', '?')!r} "
                f"has {getattr(ds, 'n_features', '?')} and {getattr(ds, 'n_outputs', '?')}"
            )
        net = saved.network()
        trainer = make_trainer(net, saved.config or self._trainer().config, ds)
        saved.restore(trainer)
        if self.meta is not None:
            self.meta = self.meta.replace(network=net.spec, training=trainer.config)
        return self._opened(ds, trainer, path)

    def _save(self, c: cmd.Save) -> str:
        t = self._trainer()
        if not str(c.path):
            raise SpecError("no file name to save to")
        save_experiment(c.path, self.experiment(), t.net, t, runs=self.runs.to_file(c.latest_only))
        return str(c.path)

    def _predict(self, c: cmd.Predict) -> np.ndarray:
        return self._trainer().net.predict(np.asarray(c.rows, dtype=float))

    def _play(self, c: cmd.Play) -> cmd.Stopped | cmd.Playing | None:
        t = self._trainer()
        limit = t.config.epochs
        if limit and t.epoch >= limit:
            if not c.carry_on:
                return cmd.Stopped("limit", f"Epoch {limit:,} reached, where training stops: raise "
                                            "'Stop at epoch' (or set it to 0) to train on")
            # Decided here, where the epoch is known: a window's newest frame may still be
            # another run's (a fork from epoch 4 of a run stopped at 12 trains to 12, not 24).
            t.config = t.config.replace(epochs=t.epoch + limit)
            self.running = True
            return cmd.Playing(t.config, f"Epoch {limit:,} was the stop; training continues to epoch "
                                         f"{t.config.epochs:,} (Stop at epoch)")
        self.running = True
        return None

    def _pause(self, _c: cmd.Pause) -> None:
        self.running, self._to_step = False, 0
        if self.trainer is not None:
            self.runs.settle(self.trainer)

    def _step(self, c: cmd.Step) -> None:
        if not self.running:
            self._to_step += max(int(c.epochs), 0)

    def _set_speed(self, c: cmd.SetSpeed) -> float:
        speed = float(c.batches_per_second)
        if not (np.isfinite(speed) and speed >= 0):
            raise SpecError(f"the speed must be a number of batches per second >= 0, got {speed!r}")
        self.speed = speed
        self._credit = 0.0
        return speed

    def _restore(self, c: cmd.Restore) -> cmd.Opened:
        s = c.state
        meta = dict(s.meta)
        exp = Experiment(meta.get("name", s.dataset.name), meta.get("title", s.dataset.name),
                         meta.get("description", ""), dict(s.dataset.source) or {"kind": "table"},
                         s.net.spec, s.config, net_seed=int(meta.get("net_seed", 0)),
                         expect=dict(meta.get("expect", {})), report_every=int(meta.get("report_every", 0)))
        ds, net, trainer = exp.build(s.dataset)
        net.flat_params[...] = s.net.params
        trainer.history = History.from_dict(s.history) if len(s.history.get("epoch", ())) else History()
        trainer.epoch, trainer.step_count = int(s.epoch), int(s.step)
        self.meta = exp
        # The runs the old engine kept, from its journal, before installing clears them.
        got = None
        if self.journal is not None and s.run:
            got = self.journal.recover(int(s.generation), int(s.run), trainer.history, ds, net.flat_params,
                                       int(s.step))
        if got is not None:
            live = got.store.runs[got.store.live]
            if got.exact:  # paused where a checkpoint was kept: it goes on exactly as it would have
                last = live.checkpoints[-1]
                if last.config.optimizer == trainer.config.optimizer:
                    trainer.optimizer.load_state(last.optimizer)
                trainer.rng.bit_generator.state = _copy_state(last.rng)
            got.store.journal = self.journal
            got.store._boundary = trainer.step_count
            self.runs = got.store
        elif self.journal is not None:
            self.journal.clear()  # the old engine's runs belong to nothing open now
        self._install(ds, trainer)
        self.running, self._to_step = False, 0
        self.generation = int(s.generation)
        note = ""
        if got is not None:
            last = live.checkpoints[-1] if live.checkpoints else None
            if last is None or last.step != trainer.step_count:
                # The timeline reaches where the window's frame stood: a frame taken while
                # training, most likely mid-epoch, so kept as not exact, beside that epoch's
                # exact checkpoint and never instead of it.
                self.runs.keep(trainer, exact=False)
            note = (f"{got.runs} run{'s' if got.runs != 1 else ''} and {got.checkpoints} checkpoint"
                    f"{'s' if got.checkpoints != 1 else ''} came back")
            if got.lost:
                note += f" (lost: {got.lost})"
        self._journal_follows()
        return cmd.Opened(None, trainer.net.spec, trainer.config, self.generation, self._meta_fields(),
                          note=note)

    def _use_journal(self, c: cmd.UseJournal) -> None:
        from nnbench.journal import sweep

        sweep(Path(c.directory).parent)  # closed windows' journals, here and not on the GUI thread
        self.journal = Journal(c.directory)
        self.runs.journal = self.journal
        if self.trainer is not None:  # a new engine's first command must not overwrite the old index
            self._journal_follows()

    def notices(self) -> list[str]:
        """What the user should hear about that no command answers, each said once (the engine
        process sends them as they come): for now, a runs journal that stopped writing."""
        j = self.journal
        if j is None or not j.failed or j.told:
            return []
        j.told = True
        return [f"{j.failed[0].upper()}{j.failed[1:]}: if the engine dies now, its runs and checkpoints "
                "are lost (the live network still comes back). Training goes on."]

    def _journal_follows(self) -> None:
        if self.journal is not None:
            self.journal.generation = self.generation
            self.runs.changed()

    def _status(self, _c: cmd.Status) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "qt_modules": sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "PyQt5", "PyQt6",
                                                                               "shiboken6", "pyqtgraph")),
            "serial": self.serial,
            "epoch": self.epoch,
            "step": self.trainer.step_count if self.trainer is not None else 0,
            "optimizer_id": id(self.trainer.optimizer) if self.trainer is not None else 0,
            "generation": self.generation,
        }

    def state(self) -> cmd.EngineState:
        """The bench as data, enough for :class:`nnbench.commands.Restore`."""
        t = self._trainer()
        return cmd.EngineState(self.dataset, t.config, cmd.as_state(t.net.spec, t.net.flat_params),
                               t.history.to_dict(), t.epoch, t.step_count, self.generation,
                               self._meta_fields())

    # ---- training -----------------------------------------------------------------------------

    def steps(self) -> Iterator[TrainStep]:
        """The trainer's own loop, one batch per ``next()`` (the CLI reports from it)."""
        if self._steps is None:
            self._steps = self._trainer().steps()
        return self._steps

    def advance(self, seconds: float, clock: Callable[[], float] = time.perf_counter) -> list[cmd.Stopped]:
        """Train for about ``seconds`` while :attr:`active` (at :attr:`speed`, if set); returns
        why training stopped, if it did: the epoch limit, the end of a Step, divergence."""
        now = clock()
        last, self._last_advance = self._last_advance, now
        if not self.active:
            self._credit = 0.0
            return []
        budget: float = np.inf
        if self.speed > 0:
            elapsed = 0.0 if last is None else now - last
            self._credit = min(self._credit + elapsed * self.speed, max(1.0, self.speed * MAX_CREDIT_SECONDS))
            budget = np.floor(self._credit)
            if budget < 1:
                return []
        deadline = now + seconds
        steps = self.steps()
        t = self._trainer()
        done = 0
        try:
            while done < budget:
                step = next(steps)
                done += 1
                if step.epoch_end:
                    self.runs.epoch_end(t)
                    stop = self._end_of_epoch(t)
                    if stop is not None:
                        self.runs.settle(t)
                        self._credit -= done
                        return [stop]
                if clock() >= deadline:
                    break
        except TrainingDiverged as e:
            self._steps = None
            self.running, self._to_step = False, 0
            return [cmd.Stopped("diverged", str(e), e.restored_epoch, e.restored_loss, e.lr)]
        finally:
            self.runs.add_seconds(clock() - now)
        if self.speed > 0:
            self._credit -= done
        return []

    def run_until_stopped(self, timeout: float = 600.0) -> list[cmd.Stopped]:
        """Train until training stops by itself (tests and scripts: Step, then this)."""
        end = time.perf_counter() + timeout
        while self.active and time.perf_counter() < end:
            stopped = self.advance(0.05)
            if stopped:
                return stopped
        return []

    def _end_of_epoch(self, t: Trainer) -> cmd.Stopped | None:
        if self._to_step and not self.running:
            self._to_step -= 1
            return cmd.Stopped("step") if self._to_step == 0 else None
        limit = t.config.epochs
        if self.running and limit and t.epoch >= limit:
            self.running = False
            return cmd.Stopped("limit", f"Stopped at epoch {t.epoch:,} (the 'Stop at epoch' setting)")
        return None

    # ---- helpers ------------------------------------------------------------------------------

    def _trainer(self) -> Trainer:
        if self.trainer is None:
            raise IncompatibleError("there is no network yet: open an experiment or pick a dataset first")
        return self.trainer

    def _check_generation(self, generation: int | None, what: str) -> None:
        if generation is not None and generation != self.generation:
            raise IncompatibleError(f"{what}: another dataset or file was opened first")

    def _install(self, ds: Dataset, trainer: Trainer) -> None:
        self.dataset, self.trainer = ds, trainer
        self._steps = None
        self.serial += 1
        self.runs.installed(ds, trainer)

    def _continue(self, net: Network, config: TrainConfig) -> None:
        """Train ``net`` with ``config`` from here on, carrying on the epoch count, history and
        shuffling of the trainer in use."""
        old = self._trainer()
        trainer = make_trainer(net, config, self.dataset)
        trainer.epoch, trainer.step_count = old.epoch, old.step_count
        trainer.history = old.history
        trainer.rng = old.rng
        self._install(self.dataset, trainer)

    # ---- runs (nnbench.history) ---------------------------------------------------------------

    def _fork(self, c: cmd.Fork) -> Any:
        t = self._trainer()
        changes = dict(c.changes)
        if "hidden" in changes:
            base = t.net.spec
            check_fits(NetworkSpec(base.n_inputs, (*changes["hidden"], base.output)), self.dataset)
        seed = (self.meta.net_seed if self.meta is not None else 0) + 1 + t.step_count
        trainer = self.runs.fork(t, c.epoch, changes, c.run, c.name,
                                 lambda net, config: make_trainer(net, config, self.dataset), seed)
        return self._switched(trainer)

    def _set_live(self, c: cmd.SetLive) -> Any:
        t = self._trainer()
        if c.run == self.runs.live:
            return self._switched(t, install=False)
        trainer = self.runs.resume(t, c.run, lambda net, config: make_trainer(net, config, self.dataset))
        return self._switched(trainer)

    def _switched(self, trainer: Trainer, install: bool = True) -> Any:
        from nnbench.history import Switched

        if install:
            self._install(self.dataset, trainer)
            self.running, self._to_step = False, 0
            if self.meta is not None:
                self.meta = self.meta.replace(network=trainer.net.spec, training=trainer.config)
        return Switched(self.runs.live, trainer.net.spec, trainer.config, trainer.epoch)

    def _load_runs(self, saved: Any, name: str) -> None:
        """The runs a file holds (files without them keep the one run the load started)."""
        record = saved.extra.get("runs") if saved is not None else None
        if record is None:
            return
        budget = self.runs.budget  # the user's preference, not the file's
        self.runs = RunStore.from_file(record, saved.arrays, self._trainer().history, self.dataset, name)
        self.runs.journal = self.journal
        self.runs.set_budget(budget)


def _onnx_network(path: str):
    """An ``.onnx`` file's network (nnbench.export), so one without a dataset record opens on
    the dataset in use like a bare network file; None for any other file."""
    if not path.lower().endswith(".onnx"):
        return None
    from nnbench.export import read_onnx_network

    return read_onnx_network(path)


def _network(state: cmd.NetState) -> Network:
    net = Network(state.spec)
    if state.params.shape != net.flat_params.shape:
        raise IncompatibleError("stored weights do not match their network")
    net.flat_params[...] = state.params
    return net


def network_of(state: cmd.NetState) -> Network:
    """A live network from its data (the views evaluate frames with it)."""
    return _network(state)
