"""The one model the panels share: the dataset, the network spec and the training settings in
use, and the engine thread that trains. Panels call its methods and listen to its signals;
everything slow is a job on the engine thread and comes back through a signal."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

from nnbench import data
from nnbench.data import Dataset
from nnbench.engine import LayerSpec, Network, NetworkSpec, TrainConfig, Trainer, files
from nnbench.errors import FileFormatError, IncompatibleError, SpecError
from nnbench.experiment import load_experiment
from nnbench.ui.worker import EngineWorker, Frame

_KEEP: Any = object()  # "leave this part of the structure as it is"
_STALE: Any = object()  # an edit that reached the engine after the dataset it was made on
GRID_RES = 64  # the decision surface is evaluated on GRID_RES x GRID_RES points
CURVE_RES = 256
SHOW_ROWS = 64  # tables up to this many rows show every row's output


@dataclass(frozen=True)
class View:
    """Where the plots evaluate the network: a grid over the plane or points along x."""

    bounds: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max (y unused for 1-D)
    grid: np.ndarray | None
    res: int


@dataclass
class StructureEdit:
    """A change of the network's shape (layers, neurons, activations, input features), as the
    undo history keeps it. ``left_before`` is the network as it was when the edit left it, so
    undoing a removal brings back the removed neurons' own weights; ``left_after`` is set when
    the edit is undone, for the same reason on redo."""

    before: NetworkSpec
    before_loss: str
    after: NetworkSpec
    after_loss: str
    left_before: Network | None
    left_after: Network | None = None

    @property
    def text(self) -> str:
        return _describe_change(self.before, self.after)


@dataclass(frozen=True)
class ParamEdit:
    """One weight (``i`` >= 0) or bias (``i`` == -1) typed in by the user."""

    layer: int
    i: int
    j: int
    before: float
    after: float

    @property
    def text(self) -> str:
        what = "bias" if self.i < 0 else "weight"
        return f"{what} in layer {self.layer + 1}: {self.before:+.4g} → {self.after:+.4g}"


def _describe_change(a: NetworkSpec, b: NetworkSpec) -> str:
    if a.features != b.features:
        return "input features"
    if len(a.hidden) != len(b.hidden):
        return "add layer" if len(b.hidden) > len(a.hidden) else "remove layer"
    if a.output != b.output:
        return "output activation"
    for h, (x, y) in enumerate(zip(a.hidden, b.hidden)):
        if x.units != y.units:
            return f"neurons of layer {h + 1}"
        if x != y:
            return f"activation of layer {h + 1}"
    return "network"


def problem_defaults(ds: Dataset) -> tuple[int, str, str]:
    """(output units, output activation, loss) that suit the dataset's task."""
    if ds.task == "regression":
        return ds.n_outputs, "linear", "mse"
    if ds.n_outputs == 1:
        return 1, "sigmoid", "bce"
    return ds.n_outputs, "softmax", "cross_entropy"


def view_for(ds: Dataset) -> View:
    x = np.concatenate([ds.x_train, ds.x_test]).astype(float) * ds.x_scale
    if ds.n_features == 2:
        lo, hi = x.min(axis=0), x.max(axis=0)
        pad = 0.05 * np.maximum(hi - lo, 1e-9)
        lo, hi = lo - pad, hi + pad
        gx = np.linspace(lo[0], hi[0], GRID_RES)
        gy = np.linspace(lo[1], hi[1], GRID_RES)
        xx, yy = np.meshgrid(gx, gy)  # row-major: rows follow y
        grid = np.column_stack([xx.ravel(), yy.ravel()])
        return View((lo[0], hi[0], lo[1], hi[1]), grid, GRID_RES)
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

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
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
        # Which switch or load the views show; edits made on it are dropped if they reach the
        # engine after a newer one (they were made on another network).
        self._generation = 0
        self.init = "xavier"
        self.net_seed = 0
        self.running = False
        self.busy = 0  # jobs submitted and not yet answered
        self._callbacks: dict[int, tuple[Callable[[Any], None] | None, Callable[[str], None] | None]] = {}

        self.worker = EngineWorker()
        self.thread = QThread()
        self.thread.setObjectName("nnbench-engine")
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.finished.connect(self.thread.quit)
        self.worker.frame_ready.connect(self._on_frame_ready)
        self.worker.state_changed.connect(self._on_state_changed)
        self.worker.diverged.connect(self._on_diverged)
        self.worker.job_done.connect(self._on_job_done)
        self.worker.job_failed.connect(self._on_job_failed)
        self.worker.burst_done.connect(self._on_burst_done)
        self.thread.start()

    # --- jobs ---------------------------------------------------------------------------
    def _call(self, job, on_done=None, on_fail=None) -> int:
        job_id = self.worker.submit(job)
        self._callbacks[job_id] = (on_done, on_fail)
        self.busy += 1
        return job_id

    @Slot(int, object)
    def _on_job_done(self, job_id: int, result: Any) -> None:
        self.busy -= 1
        on_done, _ = self._callbacks.pop(job_id, (None, None))
        if on_done is not None:
            on_done(result)

    @Slot(int, str)
    def _on_job_failed(self, job_id: int, text: str) -> None:
        self.busy -= 1
        _, on_fail = self._callbacks.pop(job_id, (None, None))
        (on_fail or self.error.emit)(text)

    # --- what the panels call -----------------------------------------------------------
    def set_source(self, source: dict[str, Any]) -> None:
        """Switch to the dataset ``source`` describes; the network's ends follow it."""
        self._switch(lambda: data.make(source))

    def set_dataset(self, dataset: Dataset) -> None:
        """Switch to a dataset already built (off the GUI thread: a CSV import, MNIST)."""
        self._switch(lambda: dataset)

    def _switch(self, make_dataset: Callable[[], Dataset]) -> None:
        hidden, init, seed, config, features = self.hidden, self.init, self.net_seed, self.config, self.features

        def job(w: EngineWorker):
            ds = make_dataset()
            units, out_act, loss = problem_defaults(ds)
            spec = NetworkSpec(ds.n_features, (*hidden, LayerSpec(units, out_act)), init, _dtype(ds),
                               features if ds.n_features == 2 else None)
            cfg = config.replace(loss=loss, batch_size=_batch_for(ds, config.batch_size))
            net = Network(spec, np.random.default_rng(seed))
            _install(w, ds, Trainer(net, cfg, *_arrays(ds), x_scale=ds.x_scale, classification=ds.task == "classification"))
            return ds, spec, cfg, _next_generation(w)

        self._call(job, self._adopt_result)

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

    def restore_structure(self, spec: NetworkSpec, loss: str | None, memory: Network | None,
                          on_left: Callable[[Network], None] | None = None,
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
        seed, generation = self.net_seed, self._generation
        self.hidden, self.features, self.output, self.config = spec.hidden, spec.features, spec.output, config

        def job(w: EngineWorker):
            if w.generation != generation:
                return _STALE  # a dataset switch or a load got there first
            old = w.trainer
            before, before_loss = old.net.spec, old.config.loss
            if spec == before and config.loss == before_loss:
                return None
            left = _copy(old.net)
            net = Network(spec, np.random.default_rng(seed + 1 + old.step_count))
            if memory is not None:
                net.adopt(memory)
            net.adopt(old.net)  # what the network in use has learned wins over the memory
            _install(w, w.dataset, _continue(old, net, config, w.dataset))
            return StructureEdit(before, before_loss, spec, config.loss, left)

        def done(edit: StructureEdit | None) -> None:
            self.edits_pending -= 1
            if edit is _STALE:
                self.message.emit("The network edit was dropped: another dataset or file was opened first")
                if on_failed is not None:
                    on_failed()
            if edit is None or edit is _STALE:
                self.spec_changed.emit(self.spec)
                return
            self.spec = edit.after
            if edit.after_loss != edit.before_loss:
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
        self._call(job, done, failed)

    def _requested_from(self, spec: NetworkSpec) -> None:
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
        # These apply from the next batch; anything else makes a new trainer (same weights).
        only_lr = set(changes) <= {"lr", "epochs", "regularization", "reg_rate"}

        def job(w: EngineWorker):
            # The changes on top of the engine's own settings: a snapshot taken here on the GUI
            # side could be older than a dataset switch still on its way (its loss, its batch).
            if w.trainer is None:
                w.epoch_limit = config.epochs
                return config
            cfg = w.trainer.config.replace(**changes)
            w.epoch_limit = cfg.epochs
            if only_lr:
                if cfg.lr != w.trainer.lr:
                    w.trainer.lr = cfg.lr
                w.trainer.config = cfg
            else:
                _install(w, w.dataset, _continue(w.trainer, w.trainer.net, cfg, w.dataset))
            return cfg

        def done(cfg: TrainConfig) -> None:
            self.config = cfg
            self.config_changed.emit(cfg)

        self._call(job, done)

    def reset(self) -> None:
        """Fresh weights (a new seed each time) and an empty history; the settings stay."""
        self.net_seed += 1
        seed, config = self.net_seed, self.config

        def job(w: EngineWorker):
            net = Network(w.trainer.net.spec, np.random.default_rng(seed))
            _install(w, w.dataset, Trainer(net, config, *_arrays(w.dataset), x_scale=w.dataset.x_scale,
                                           classification=w.dataset.task == "classification"))

        self.pause()
        self._call(job, lambda _: self.message.emit("Network reset: fresh weights"))

    def train(self) -> None:
        self.worker.play()

    def pause(self) -> None:
        self.worker.pause()

    def step(self) -> None:
        self.worker.step_epoch()

    def set_want_hidden(self, on: bool) -> None:
        def job(w: EngineWorker):
            w.want_hidden = on

        self._call(job)

    def save(self, path: str | Path, on_saved: Callable[[str], None] | None = None) -> None:
        """Write network, optimizer state, history and dataset source (atomically, off-thread)."""
        path = str(path)

        def job(w: EngineWorker):
            files.save(path, w.trainer.net, w.trainer, dataset=w.dataset.source)
            return path

        def done(p: str) -> None:
            self.message.emit(f"Saved {Path(p).name}")
            self.file_done.emit(p)
            if on_saved:
                on_saved(p)

        self._call(job, done)

    def load(self, path: str | Path) -> None:
        """Open an experiment (a preset ``.json`` or a saved ``.npz``) or a bare network file;
        a bad file, or a network that does not fit, changes nothing and says why."""
        path = str(path)
        current = self.dataset

        def job(w: EngineWorker):
            if not Path(path).is_file():  # a FIFO or device would block this thread on open
                raise FileFormatError(f"{Path(path).name} is not a regular file")
            try:
                with open(path, "rb") as f:
                    is_zip = f.read(2) == b"PK"
            except OSError as e:
                raise FileFormatError(f"cannot open {Path(path).name}: {e.strerror or e}") from e
            saved = files.load(path) if is_zip else _onnx_network(path)
            if saved is None or saved.dataset is not None:
                ds, net, trainer = load_experiment(path).build()
            else:  # weights alone: they must fit the dataset in use
                ds = current
                if ds is None or saved.spec.n_inputs != ds.n_features or saved.spec.output.units != ds.n_outputs:
                    raise IncompatibleError(
                        f"{Path(path).name} holds a network for {saved.spec.n_inputs} input(s) and "
                        f"{saved.spec.output.units} output(s); the dataset {getattr(ds, 'name', '?')!r} "
                        f"has {getattr(ds, 'n_features', '?')} and {getattr(ds, 'n_outputs', '?')}"
                    )
                net = saved.network()
                trainer = Trainer(net, saved.config or w.trainer.config, *_arrays(ds), x_scale=ds.x_scale,
                                  classification=ds.task == "classification")
                saved.restore(trainer)
            _install(w, ds, trainer)
            return ds, net.spec, trainer.config, _next_generation(w)

        def done(result) -> None:
            self._adopt_result(result)
            self.message.emit(f"Opened {Path(path).name}")
            self.file_done.emit(path)

        self.pause()
        self._call(job, done)

    def predict(self, rows: np.ndarray, on_result: Callable[[np.ndarray], None]) -> None:
        rows = np.array(rows, dtype=float)
        self._call(lambda w: w.trainer.net.predict(rows), on_result)

    def shutdown(self) -> None:
        """Stop the engine thread and wait for it: safe to call while training, and twice."""
        if self.thread.isRunning():
            self.worker.stop()
            self.thread.quit()
            self.thread.wait()

    # --- answers from the engine ----------------------------------------------------------
    def _adopt_result(self, result) -> None:
        ds, spec, cfg, self._generation = result
        self.dataset, self.spec, self.config = ds, spec, cfg
        self._requested_from(spec)
        self.view = view_for(ds)
        self.dataset_changed.emit(ds)
        self.spec_changed.emit(spec)
        self.config_changed.emit(cfg)

    def _on_spec_built(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self.spec_changed.emit(spec)

    @Slot()
    def _on_burst_done(self) -> None:
        # A zero timer fires once the events already queued (paints, input, timers) are handled.
        QTimer.singleShot(0, self.worker.acknowledge)

    @Slot()
    def _on_frame_ready(self) -> None:
        frame: Frame | None = self.worker.take_frame()
        if frame is None:
            return
        # The views draw and repaint synchronously while the engine holds off (see worker.hold).
        t0 = time.perf_counter()
        self.worker.hold()
        try:
            self.frame.emit(frame)
            # Deliver the updates and paints the views just queued (twice: painting can queue
            # more), so that they too happen while the engine waits.
            QCoreApplication.sendPostedEvents()
            QCoreApplication.sendPostedEvents()
        finally:
            self.worker.release(time.perf_counter() - t0)

    @Slot(bool)
    def _on_state_changed(self, running: bool) -> None:
        self.running = running
        self.running_changed.emit(running)

    @Slot(str)
    def _on_diverged(self, text: str) -> None:
        self.diverged.emit(text)

    # --- single parameters (the network diagram edits these) ------------------------------
    def set_weight(self, layer: int, i: int, j: int, value: float,
                   on_done: Callable[[float], None] | None = None, record: bool = True,
                   on_failed: Callable[[], None] | None = None) -> None:
        """Set the weight from input ``i`` to neuron ``j`` of ``layer`` (between two steps)."""
        self._set_param(ParamEdit(layer, i, j, 0.0, float(value)), on_done, record, on_failed)

    def set_bias(self, layer: int, j: int, value: float,
                 on_done: Callable[[float], None] | None = None, record: bool = True,
                 on_failed: Callable[[], None] | None = None) -> None:
        """Set the bias of neuron ``j`` of ``layer`` (between two steps)."""
        self._set_param(ParamEdit(layer, -1, j, 0.0, float(value)), on_done, record, on_failed)

    def _set_param(self, edit: ParamEdit, on_done, record: bool, on_failed=None) -> None:
        layer, i, j, value = edit.layer, edit.i, edit.j, edit.after
        generation = self._generation

        def job(w: EngineWorker):
            if w.generation != generation:
                raise IncompatibleError("the weight was not set: another dataset or file was opened first")
            if i < 0:
                p = _param(w, layer, "b")
                if not 0 <= j < p.shape[0]:
                    raise IncompatibleError(f"layer {layer + 1} has no neuron {j + 1} any more")
                at = (j,)
            else:
                p = _param(w, layer, "W")
                if not (0 <= i < p.shape[0] and 0 <= j < p.shape[1]):
                    raise IncompatibleError(f"layer {layer + 1} has no weight ({i + 1}, {j + 1}) any more")
                at = (i, j)
            before = float(p[at])
            p[at] = value
            return replace(edit, before=before, after=float(p[at]))

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
        self._call(job, done, failed)

# --- helpers that run on the engine thread -------------------------------------------------
def _onnx_network(path: str):
    """An ``.onnx`` file's network (nnbench.export), so one without a dataset record opens on
    the dataset in use like a bare network file; None for any other file."""
    if not path.lower().endswith(".onnx"):
        return None
    from nnbench.export import read_onnx_network

    return read_onnx_network(path)


def _dtype(ds: Dataset) -> str:
    return "float32" if ds.x_train.dtype == np.uint8 else "float64"


def _batch_for(ds: Dataset, wanted: int) -> int:
    if ds.image_shape is not None and wanted == 0:
        return 100  # full-batch on 60,000 images would be one slow step per epoch
    return wanted


def _arrays(ds: Dataset):
    x_test, y_test = test_split(ds)
    return ds.x_train, ds.y_train, x_test, y_test


def _next_generation(w: EngineWorker) -> int:
    w.generation += 1
    return w.generation


def _install(w: EngineWorker, ds: Dataset, trainer: Trainer) -> None:
    view = view_for(ds)
    w.dataset = ds
    w.trainer = trainer
    w.grid = view.grid
    w.data_rows = ds.x_train if len(ds.x_train) <= SHOW_ROWS else None
    w.epoch_limit = trainer.config.epochs


def _continue(old: Trainer, net: Network, config: TrainConfig, ds: Dataset) -> Trainer:
    """A trainer for ``net`` that carries on ``old``'s epoch count, history and shuffling."""
    trainer = Trainer(net, config, *_arrays(ds), x_scale=ds.x_scale, classification=ds.task == "classification")
    trainer.epoch, trainer.step_count = old.epoch, old.step_count
    trainer.history = old.history
    trainer.rng = old.rng
    return trainer


def _copy(net: Network) -> Network:
    clone = Network(net.spec)
    clone.flat_params[...] = net.flat_params
    return clone


def _param(w: EngineWorker, layer: int, name: str) -> np.ndarray:
    layers = w.trainer.net.layers if w.trainer is not None else []
    p = getattr(layers[layer], name) if 0 <= layer < len(layers) else None
    if p is None:
        raise IncompatibleError(f"the network has no {name} in layer {layer + 1}")
    return p
