"""The one model the panels share, as a thin client of the engine process.

It keeps what the views need (the dataset, the network spec and the training settings in
use, the newest frame) and turns the panels' calls into commands (:mod:`nnbench.commands`)
for the bench in the engine process (:class:`nnbench.ui.worker.EngineWorker`). Every answer
comes back through a signal; nothing here waits for the engine. If the engine process dies,
a new one is started holding the network and history of the last frame received.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from nnbench import commands as cmd
from nnbench import journal
from nnbench.bench import problem_defaults
from nnbench.commands import ParamEdit, StructureEdit
from nnbench.data import Dataset
from nnbench.engine import LayerSpec, NetworkSpec, TrainConfig
from nnbench.errors import SpecError
from nnbench.ui.app import collect_garbage_on_gui_thread
from nnbench.ui.turns import Turns
from nnbench.ui.worker import EngineWorker, Frame, ViewSetup

__all__ = ["ParamEdit", "Session", "StructureEdit", "View", "problem_defaults", "test_split", "view_for"]

_KEEP: Any = object()  # "leave this part of the structure as it is"
GRID_RES = 64  # the decision surface is evaluated on GRID_RES x GRID_RES points
COARSE_RES = 32  # ... or on this many, while training, when the full grid costs too much
CURVE_RES = 256
SHOW_ROWS = 64  # tables up to this many rows show every row's output


@dataclass(frozen=True)
class View:
    """Where the plots evaluate the network: a grid over the plane or points along x."""

    bounds: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max (y unused for 1-D)
    grid: np.ndarray | None
    res: int
    coarse: np.ndarray | None = None  # the same plane on COARSE_RES x COARSE_RES points


def view_for(ds: Dataset) -> View:
    x = np.concatenate([ds.x_train, ds.x_test]).astype(float) * ds.x_scale
    if ds.n_features == 2:
        lo, hi = x.min(axis=0), x.max(axis=0)
        pad = 0.05 * np.maximum(hi - lo, 1e-9)
        lo, hi = lo - pad, hi + pad
        def plane(res: int) -> np.ndarray:
            xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], res), np.linspace(lo[1], hi[1], res))
            return np.column_stack([xx.ravel(), yy.ravel()])  # row-major: rows follow y

        return View((lo[0], hi[0], lo[1], hi[1]), plane(GRID_RES), GRID_RES, plane(COARSE_RES))
    if ds.n_features == 1:
        lo, hi = float(x.min()), float(x.max())
        pad = 0.05 * max(hi - lo, 1e-9)
        grid = np.linspace(lo - pad, hi + pad, CURVE_RES)[:, None]
        return View((lo - pad, hi + pad, 0.0, 0.0), grid, CURVE_RES)
    return View((0.0, 0.0, 0.0, 0.0), None, 0)


def test_split(ds: Dataset) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The test rows, or None when a tiny table tests on its training rows."""
    if ds.x_test.shape == ds.x_train.shape and np.array_equal(ds.x_test, ds.x_train):
        return None, None
    return ds.x_test, ds.y_test


COST_WEIGHT = 0.25  # of the newest frame in the GUI's average cost per frame (the worker's pace)


class Session(QObject):
    dataset_changed = Signal(object)  # the Dataset now in use (after it was built)
    spec_changed = Signal(object)  # the NetworkSpec now in use
    config_changed = Signal(object)  # the TrainConfig now in use
    frame = Signal(object)  # a Frame to draw: at most one waiting at a time
    running_changed = Signal(bool)  # training started (True) or stopped (False)
    message = Signal(str)  # a status line
    error = Signal(str)  # something went wrong; the text is for the user, state is unchanged
    diverged = Signal(str)  # the loss blew up and training paused; the text says what to try
    file_done = Signal(str)  # a file was saved or opened successfully: its path
    edited = Signal(object)  # a StructureEdit or ParamEdit the user made (the undo history listens)
    engine_died = Signal(str)  # the engine process died; a new one is starting (the text says what happened)
    restored = Signal(str)  # after engine_died, the new engine holds the network again: what else came back
    engine_ready = Signal(object)  # an engine process is up: its status (pid, modules) as a dict
    stopped = Signal(object)  # training stopped by itself: a commands.Stopped (limit, step, diverged)
    pinned_changed = Signal(bool)  # the views show a checkpoint (True) or the live network again (False)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        collect_garbage_on_gui_thread()  # before the first worker thread: see its docstring
        self.dataset: Dataset | None = None
        self.spec: NetworkSpec | None = None
        self.view: View | None = None
        self.config = TrainConfig(loss="bce", optimizer="sgd", lr=0.1, epochs=0)
        # The structure last asked for (edits may still be on their way to the engine), so
        # quick clicks compose: hidden layers, input features (2-D data) and the output layer.
        self.hidden: tuple[LayerSpec, ...] = (LayerSpec(4, "tanh"), LayerSpec(4, "tanh"))
        self.features: tuple[str, ...] | None = None
        self.output: LayerSpec | None = None
        self.edits_pending = 0  # edits (structure, weights) submitted and not yet answered
        # Which switch or load the views show; the engine drops edits made on an older one.
        self.generation = 0
        self.meta: dict[str, Any] = {}  # the open experiment's own fields (name, title, seeds)
        self.init = "xavier"
        self.net_seed = 0
        self.running = False
        self.busy = 0  # commands sent and not yet answered
        self.speed = 0.0  # batches per second; 0 = as fast as it can
        self.last_frame: Frame | None = None
        self.engine_status: dict[str, Any] = {}
        self.engine_failed = ""  # why no engine process could be started ("" while one runs)
        self._want_hidden = False
        self._callbacks: dict[int, tuple[Callable[[Any], None] | None, Callable[[str], None] | None]] = {}
        self._closing = False
        self.pinned: Frame | None = None  # a checkpoint's frame the views show instead of live ones
        self._pinned_net: Any = None
        # The views draw a training frame in pieces, a turn of the event loop each (see turns).
        self.turns = Turns(self)

        self.worker = EngineWorker()
        self.thread = QThread()
        self.thread.setObjectName("nnbench-engine")
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.finished.connect(self.thread.quit)
        self.worker.replied.connect(self._on_replied)
        self.worker.stopped.connect(self._on_stopped)
        self.worker.running_changed.connect(self._on_running_changed)
        self._frame_clock: tuple[float, float] | None = None  # (wall, thread CPU) at the last frame
        self.worker.frame_ready.connect(self._on_frame_ready)
        self.worker.died.connect(self._on_died)
        self.worker.notice.connect(self.message)  # e.g. the runs journal could not write
        self.worker.start_failed.connect(self._on_start_failed)
        self.worker.ready.connect(self._on_ready)
        self.thread.start()
        # The engine mirrors the runs into a private directory, so a new engine gets them back.
        try:
            self.journal_dir = journal.make_dir()
        except OSError:
            self.journal_dir = ""  # no temporary folder: a dead engine's runs are lost, nothing else
        self._use_journal()

    # --- commands -----------------------------------------------------------------------------
    def _call(self, command: Any, on_done=None, on_fail=None) -> int:
        if self.engine_failed:  # no engine to ask: refused at once, not waited for forever
            QTimer.singleShot(0, lambda: (on_fail or self.error.emit)(self.engine_failed))
            return -1
        cid = self.worker.send(command)
        self._callbacks[cid] = (on_done, on_fail)
        self.busy += 1
        return cid

    @Slot(int, bool, object)
    def _on_replied(self, cid: int, ok: bool, result: Any) -> None:
        if cid not in self._callbacks:
            return
        self.busy -= 1
        on_done, on_fail = self._callbacks.pop(cid)
        if ok:
            if on_done is not None:
                on_done(result)
        else:
            (on_fail or self.error.emit)(result)

    # --- what the panels call -----------------------------------------------------------------
    @property
    def epoch(self) -> int:
        """Epochs trained, as the newest frame shows them."""
        return self.last_frame.snapshot.epoch if self.last_frame is not None else 0

    def set_source(self, source: dict[str, Any]) -> None:
        """Switch to the dataset ``source`` describes; the network's ends follow it."""
        self._call(self._switch_command(source=source), self._adopt_result)

    def set_dataset(self, dataset: Dataset) -> None:
        """Switch to a dataset already built (off the GUI thread: a CSV import, MNIST)."""
        self._call(self._switch_command(dataset=dataset), lambda opened: self._adopt_result(opened, dataset))

    def _switch_command(self, **data: Any) -> cmd.SwitchData:
        return cmd.SwitchData(hidden=self.hidden, features=self.features, config=self.config,
                              net_seed=self.net_seed, init=self.init, **data)

    def set_hidden(self, hidden: tuple[LayerSpec, ...]) -> None:
        """New hidden layers; weights that still fit are kept, new neurons start fresh."""
        if self.spec is None:
            self.hidden = tuple(hidden)
            return
        self._restructure(hidden=tuple(hidden))

    def set_features(self, names: tuple[str, ...] | list[str]) -> None:
        """Which input features the first layer sees (2-D data only); the weights of the
        features that stay are kept, a feature switched on starts fresh."""
        if self.spec is None or self.spec.n_inputs != 2:
            self.error.emit("input features are for datasets with two inputs")
            return
        self._restructure(features=tuple(names))

    def set_output_activation(self, activation: str) -> None:
        """Override the output layer's activation (the dataset picks it; this overrides it).
        The loss follows: bce for sigmoid, cross-entropy for softmax, mse otherwise; the
        weights are kept."""
        if self.spec is None:
            return
        out = self.output or self.spec.output
        loss = {"sigmoid": "bce", "softmax": "cross_entropy"}.get(activation, "mse")
        self._restructure(output=LayerSpec(out.units, activation, out.bias), loss=loss)

    def restore_structure(self, spec: NetworkSpec, loss: str | None, memory: cmd.NetState | None,
                          on_left: Callable[[cmd.NetState], None] | None = None,
                          on_failed: Callable[[], None] | None = None) -> None:
        """Go back (or forward) to ``spec`` for undo/redo: weights come from the network in use
        where they fit, else from ``memory`` (the network as that structure left it), else
        fresh; ``loss`` None keeps the loss in use. Not recorded as a new edit; ``on_left`` gets
        the network this leaves; ``on_failed`` runs if nothing could be changed."""
        self._restructure(hidden=spec.hidden, features=spec.features, output=spec.output, loss=loss,
                          memory=memory, record=False, on_left=on_left, on_failed=on_failed)

    def _restructure(self, *, hidden=_KEEP, features=_KEEP, output=_KEEP, loss=None, memory=None,
                     record=True, on_left=None, on_failed=None) -> None:
        base = self.spec
        hidden = self.hidden if hidden is _KEEP else hidden
        features = self.features if features is _KEEP else features
        output = (self.output or base.output) if output is _KEEP else output
        try:
            spec = NetworkSpec(base.n_inputs, (*hidden, output), base.init, base.dtype,
                               features if base.n_inputs == 2 else None)
            config = self.config.replace(loss=loss) if loss is not None else self.config
        except SpecError as e:  # say why and put the views back to the network in use
            self.error.emit(str(e))
            self.spec_changed.emit(self.spec)
            if on_failed is not None:
                on_failed()
            return
        self.hidden, self.features, self.output, self.config = spec.hidden, spec.features, spec.output, config

        def done(edit: StructureEdit | cmd.Dropped | None) -> None:
            self.edits_pending -= 1
            if isinstance(edit, cmd.Dropped):
                self.message.emit(edit.text)
                if on_failed is not None:
                    on_failed()
            if edit is None or isinstance(edit, cmd.Dropped):
                self._requested_from(self.spec)
                self.spec_changed.emit(self.spec)
                return
            self.spec = edit.after
            if edit.after_loss != edit.before_loss:
                self.config = self.config.replace(loss=edit.after_loss)
                self.config_changed.emit(self.config)
            self.spec_changed.emit(self.spec)
            if on_left is not None:
                on_left(edit.left_before)
            if record:
                self.edited.emit(edit)

        def failed(text: str) -> None:
            self.edits_pending -= 1
            self.error.emit(text)
            self._requested_from(self.spec)
            self.spec_changed.emit(self.spec)
            if on_failed is not None:
                on_failed()

        self.edits_pending += 1
        self._call(cmd.Restructure(spec.hidden, spec.features, spec.output, loss, memory, self.generation),
                   done, failed)

    def _requested_from(self, spec: NetworkSpec | None) -> None:
        if spec is None:
            return
        self.hidden, self.output = spec.hidden, spec.output
        if spec.n_inputs == 2:  # other data has no features: the 2-D choice waits for 2-D data
            self.features = spec.features

    def set_config(self, **changes: Any) -> None:
        """Change training settings; a learning-rate change applies from the next batch."""
        try:
            config = self.config.replace(**changes)
        except Exception as e:  # SpecError: keep the old settings
            self.error.emit(str(e))
            self.config_changed.emit(self.config)
            return
        self.config = config

        def done(cfg: TrainConfig) -> None:
            self.config = cfg
            self.config_changed.emit(cfg)

        def failed(text: str) -> None:
            self.error.emit(text)
            self.config_changed.emit(self.config)

        self._call(cmd.SetConfig(dict(changes)), done, failed)

    def set_speed(self, batches_per_second: float) -> None:
        """Training speed: 0 is as fast as it can; otherwise this many batches a second."""
        self.speed = float(batches_per_second)
        self._call(cmd.SetSpeed(self.speed))

    def reset(self) -> None:
        """Fresh weights (a new seed each time) and an empty history; the settings stay."""
        self.net_seed += 1
        self.pause()
        self._call(cmd.Reset(self.net_seed), lambda _: self.message.emit("Network reset: fresh weights"))

    def train(self, carry_on: bool = False) -> None:
        """Train on; ``carry_on``: at the epoch limit, the engine sets one as far again (Play)."""

        def done(result: cmd.Stopped | cmd.Playing | None) -> None:
            if isinstance(result, cmd.Playing):
                self.config = result.config
                self.config_changed.emit(result.config)
                self.message.emit(result.text)
            elif isinstance(result, cmd.Stopped):
                self.message.emit(result.text)
                self.stopped.emit(result)

        self._call(cmd.Play(carry_on), done)

    def pause(self) -> None:
        self._call(cmd.Pause())

    def step(self) -> None:
        self._call(cmd.Step(1))

    def set_want_hidden(self, on: bool) -> None:
        self._want_hidden = bool(on)
        self._update_views()

    def save(self, path: str | Path, on_saved: Callable[[str], None] | None = None,
             latest_only: bool = False) -> None:
        """Write network, optimizer state, history and dataset source (atomically, off-thread),
        and the runs with their checkpoints (``latest_only``: each run's last one)."""

        def done(p: str) -> None:
            self.message.emit(f"Saved {Path(p).name}")
            self.file_done.emit(p)
            if on_saved:
                on_saved(p)

        self._call(cmd.Save(str(path), latest_only), done)

    def load(self, path: str | Path) -> None:
        """Open an experiment (a preset ``.json`` or a saved ``.npz``) or a bare network file;
        a bad file, or a network that does not fit, changes nothing and says why."""
        path = str(path)

        def done(opened: cmd.Opened) -> None:
            self._adopt_result(opened)
            self.message.emit(f"Opened {Path(path).name}")
            self.file_done.emit(path)

        self.pause()
        self._call(cmd.Load(path), done)

    def adopt_state(self, state: cmd.EngineState, on_done: Callable[[], None] | None = None) -> None:
        """Make a network trained elsewhere the live one (one seed of a Seeds x K run): the engine
        is put into ``state`` as after a restart, under a new generation so edits still on their
        way for the old network are dropped; the views follow as after a load."""
        self.pause()
        state = cmd.EngineState(state.dataset, state.config, state.net, state.history, state.epoch,
                                state.step, self.generation + 1, dict(state.meta))

        def done(opened: cmd.Opened) -> None:
            self._adopt_result(opened, state.dataset)
            if on_done is not None:
                on_done()

        self._call(cmd.Restore(state), done)

    def predict(self, rows: np.ndarray, on_result: Callable[[np.ndarray], None]) -> None:
        if self._pinned_net is not None:  # the views show a checkpoint: ask that network
            from PySide6.QtCore import QTimer

            out = self._pinned_net.predict(np.array(rows, dtype=float))
            QTimer.singleShot(0, lambda: on_result(out))
            return
        self._call(cmd.Predict(np.array(rows, dtype=float)), on_result)

    def status(self, on_result: Callable[[dict[str, Any]], None]) -> None:
        """The engine's own facts (process id, loaded modules, trainer serial), for tests."""
        self._call(cmd.Status(), on_result)

    def query_state(self, on_result: Callable[[cmd.EngineState], None]) -> None:
        """The engine's state as data: network, settings, history, counters (for tests, saves)."""
        self._call(cmd.GetState(), on_result)

    def kill_engine(self) -> None:
        """Kill the engine process as a crash would (tests, the lifecycle soak)."""
        self.worker.kill_engine()

    def shutdown(self) -> None:
        """End the engine process and the thread that owns it: safe while training, and twice."""
        self._closing = True
        if self.thread.isRunning():
            self.worker.stop()
            self.thread.quit()
            self.thread.wait()
        journal.remove_dir(self.journal_dir)

    def _use_journal(self) -> None:
        if self.journal_dir:
            self._call(cmd.UseJournal(self.journal_dir), None, lambda _text: None)

    # --- runs and checkpoints (the timeline and the runs list, nnbench.ui.timeline) ---------------
    def call(self, command: Any, on_done: Callable[[Any], None] | None = None,
             on_fail: Callable[[str], None] | None = None) -> None:
        """Send any command (nnbench.commands); the answer goes to ``on_done``, a refusal to
        ``on_fail`` (else the error signal)."""
        self._call(command, on_done, on_fail)

    def pin(self, frame: Frame, net: Any = None) -> None:
        """Show ``frame`` (a checkpoint's) in every view; live frames wait until unpin().
        ``net`` (the checkpoint's Network) answers predict() meanwhile, so the Digits tab and
        "Ask the network" ask the network shown."""
        was = self.pinned is not None
        self.pinned, self._pinned_net = frame, net
        self.frame.emit(frame)
        if not was:
            self.pinned_changed.emit(True)

    def unpin(self) -> None:
        """Back to the live network: the newest frame is drawn again."""
        if self.pinned is None:
            return
        self.pinned = self._pinned_net = None
        if self.last_frame is not None:
            self.frame.emit(self.last_frame)
        self.pinned_changed.emit(False)

    def adopt_run(self, spec: NetworkSpec, config: TrainConfig) -> None:
        """Another run is live (a fork, a run picked): its network and settings in the panels."""
        self.spec, self.config = spec, config
        self._requested_from(spec)
        self.spec_changed.emit(spec)
        self.config_changed.emit(config)

    # --- answers from the engine ----------------------------------------------------------------
    def _adopt_result(self, opened: cmd.Opened, dataset: Dataset | None = None) -> None:
        ds = opened.dataset if opened.dataset is not None else dataset
        self.dataset, self.spec, self.config = ds, opened.spec, opened.config
        self.generation, self.meta = opened.generation, dict(opened.meta)
        self.net_seed = int(self.meta.get("net_seed", self.net_seed))
        self.init = opened.spec.init
        self._requested_from(opened.spec)
        self.view = view_for(ds)
        self.last_frame = None
        if self.pinned is not None:
            self.pinned = None
            self.pinned_changed.emit(False)
        self._update_views()
        self.dataset_changed.emit(ds)
        self.spec_changed.emit(opened.spec)
        self.config_changed.emit(opened.config)

    def _update_views(self) -> None:
        ds = self.dataset
        if ds is None:
            return
        rows = ds.features(ds.x_train, np.float32 if ds.x_train.dtype == np.uint8 else np.float64) \
            if len(ds.x_train) <= SHOW_ROWS else None
        grid = self.view.grid if self.view is not None else None
        coarse = self.view.coarse if self.view is not None else None
        self.worker.set_views(ViewSetup(self.generation, ds, grid, rows, self._want_hidden, coarse))

    @Slot()
    def _on_frame_ready(self) -> None:
        frame = self.worker.take_frame()
        if frame is None or frame.generation != self.generation:
            return
        t0, cpu0 = time.perf_counter(), time.thread_time()
        self.last_frame = frame
        if self.pinned is not None:  # the views show a checkpoint: the live frame waits
            return
        self.frame.emit(frame)
        # What a frame costs this thread: the views' updates now, and the paints and layout
        # that follow as later events, which the handler's own time missed (it was half of it
        # for the 10x64 spiral). The thread's CPU time since the last frame holds both.
        # The pace follows the average: the curves redraw in one frame of three, and paced by
        # the last frame alone, the frame after them waited twice as long (XOR drew 28.6 frames
        # a second where its average cost allowed 34).
        handler = time.perf_counter() - t0
        last, self._frame_clock = self._frame_clock, (t0, cpu0)
        since = cpu0 - last[1] if last is not None and t0 - last[0] < 0.5 else 0.0
        cost = max(handler, since)
        w = self.worker
        w.gui_cost = cost if last is None else (1 - COST_WEIGHT) * w.gui_cost + COST_WEIGHT * cost

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        if running != self.running:
            self.running = running
            self.running_changed.emit(running)

    @Slot(object)
    def _on_stopped(self, stop: cmd.Stopped) -> None:
        self.stopped.emit(stop)
        if stop.reason == "diverged":
            self.diverged.emit(stop.text)
        elif stop.reason == "limit" and stop.text:
            self.message.emit(stop.text)

    @Slot(object)
    def _on_ready(self, status: dict) -> None:
        self.engine_status = dict(status)
        self.engine_ready.emit(self.engine_status)

    @Slot(str)
    def _on_died(self, text: str) -> None:
        if self._closing:
            return
        self._fail_pending("the engine stopped before it answered")
        if self.running:
            self.running = False
            self.running_changed.emit(False)
        f = self.worker.last_engine_frame
        state = None
        if f is not None and self.dataset is not None and f.generation == self.generation:
            history = self.worker.history()
            state = cmd.EngineState(self.dataset, self.config, cmd.as_state(f.spec, f.params), history,
                                    f.epoch, f.step, f.generation, self.meta, f.run)
        self.worker.restart()
        self._use_journal()
        if state is not None:
            note = f"{text} A new engine holds the network from epoch {f.epoch:,}: press Train to go on."

            def restored(opened: cmd.Opened) -> None:
                self.restored.emit(opened.note)
                if opened.note:  # short enough for the status bar of a 1024-wide window
                    self.message.emit(f"{text} New engine at epoch {f.epoch:,}; {opened.note}.")

            self._call(cmd.Restore(state), restored)
            if self.speed:
                self._call(cmd.SetSpeed(self.speed))
        elif self.dataset is not None:
            self.set_dataset(self.dataset)
            note = f"{text} A new engine started with a fresh network."
        else:
            note = f"{text} A new engine was started."
        self.engine_died.emit(note)
        self.message.emit(note)

    @Slot(str)
    def _on_start_failed(self, text: str) -> None:
        self.engine_failed = (f"{text}. Nothing can train or open until an engine runs: close this "
                              "window and start nnbench again.")
        self._fail_pending(self.engine_failed)
        self.error.emit(self.engine_failed)

    def _fail_pending(self, text: str) -> None:
        """The engine will not answer the commands still waiting: each says ``text`` instead."""
        pending, self._callbacks = self._callbacks, {}
        self.busy = self.edits_pending = 0
        for _on_done, on_fail in pending.values():
            if on_fail is not None:
                on_fail(text)

    # --- single parameters (the network diagram edits these) ------------------------------------
    def set_weight(self, layer: int, i: int, j: int, value: float,
                   on_done: Callable[[float], None] | None = None, record: bool = True,
                   on_failed: Callable[[], None] | None = None) -> None:
        """Set the weight from input ``i`` to neuron ``j`` of ``layer`` (between two steps)."""
        self._set_param(cmd.SetParam(layer, i, j, float(value), self.generation), on_done, record, on_failed)

    def set_bias(self, layer: int, j: int, value: float,
                 on_done: Callable[[float], None] | None = None, record: bool = True,
                 on_failed: Callable[[], None] | None = None) -> None:
        """Set the bias of neuron ``j`` of ``layer`` (between two steps)."""
        self._set_param(cmd.SetParam(layer, -1, j, float(value), self.generation), on_done, record, on_failed)

    def _set_param(self, command: cmd.SetParam, on_done, record: bool, on_failed=None) -> None:
        def done(result: ParamEdit) -> None:
            self.edits_pending -= 1
            if record:
                self.edited.emit(result)
            if on_done is not None:
                on_done(result.after)

        def failed(text: str) -> None:
            self.edits_pending -= 1
            self.error.emit(text)
            if on_failed is not None:
                on_failed()

        self.edits_pending += 1  # the undo history waits for this edit's record
        self._call(command, done, failed)
