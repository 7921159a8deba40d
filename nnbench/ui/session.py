"""The one model the panels share: the dataset, the network spec and the training settings in
use, and the engine thread that trains. Panels call its methods and listen to its signals;
everything slow is a job on the engine thread and comes back through a signal."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
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

GRID_RES = 64  # the decision surface is evaluated on GRID_RES x GRID_RES points
CURVE_RES = 256
SHOW_ROWS = 64  # tables up to this many rows show every row's output


@dataclass(frozen=True)
class View:
    """Where the plots evaluate the network: a grid over the plane or points along x."""

    bounds: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max (y unused for 1-D)
    grid: np.ndarray | None
    res: int


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

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.spec: NetworkSpec | None = None
        self.view: View | None = None
        self.config = TrainConfig(loss="bce", optimizer="sgd", lr=0.1, epochs=0)
        self.hidden: tuple[LayerSpec, ...] = (LayerSpec(4, "tanh"), LayerSpec(4, "tanh"))
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
        hidden, init, seed, config = self.hidden, self.init, self.net_seed, self.config

        def job(w: EngineWorker):
            ds = make_dataset()
            units, out_act, loss = problem_defaults(ds)
            spec = NetworkSpec(ds.n_features, (*hidden, LayerSpec(units, out_act)), init, _dtype(ds))
            cfg = config.replace(loss=loss, batch_size=_batch_for(ds, config.batch_size))
            net = Network(spec, np.random.default_rng(seed))
            _install(w, ds, Trainer(net, cfg, *_arrays(ds), x_scale=ds.x_scale, classification=ds.task == "classification"))
            return ds, spec, cfg

        self._call(job, self._adopt_result)

    def set_hidden(self, hidden: tuple[LayerSpec, ...]) -> None:
        """New hidden layers; weights that still fit are kept, new neurons start fresh."""
        if self.spec is None:
            self.hidden = tuple(hidden)
            return
        try:
            spec = NetworkSpec(self.spec.n_inputs, (*hidden, self.spec.output), self.spec.init, self.spec.dtype)
        except SpecError as e:  # say why and put the views back to the network in use
            self.error.emit(str(e))
            self.spec_changed.emit(self.spec)
            return
        seed, config = self.net_seed, self.config

        def job(w: EngineWorker):
            old = w.trainer
            net = Network(spec, np.random.default_rng(seed + 1 + old.step_count))
            net.adopt(old.net)
            trainer = _continue(old, net, config, w.dataset)
            _install(w, w.dataset, trainer)
            return spec

        self.hidden = tuple(hidden)
        self._call(job, self._on_spec_built)

    def set_config(self, **changes: Any) -> None:
        """Change training settings; a learning-rate change applies from the next batch."""
        try:
            config = self.config.replace(**changes)
        except Exception as e:  # SpecError: keep the old settings
            self.error.emit(str(e))
            self.config_changed.emit(self.config)
            return
        self.config = config
        only_lr = set(changes) <= {"lr", "epochs"}

        def job(w: EngineWorker):
            w.epoch_limit = config.epochs
            if w.trainer is None:
                return config
            if only_lr:
                w.trainer.lr = config.lr
                w.trainer.config = config
            else:
                _install(w, w.dataset, _continue(w.trainer, w.trainer.net, config, w.dataset))
            return config

        self._call(job, lambda c: self.config_changed.emit(c))

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
            saved = files.load(path) if is_zip else None
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
            return ds, net.spec, trainer.config

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
        ds, spec, cfg = result
        self.dataset, self.spec, self.config = ds, spec, cfg
        self.hidden = spec.hidden
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
                   on_done: Callable[[float], None] | None = None) -> None:
        """Set the weight from input ``i`` to neuron ``j`` of ``layer`` (between two steps)."""

        def job(w: EngineWorker):
            W = _param(w, layer, "W")
            if not (0 <= i < W.shape[0] and 0 <= j < W.shape[1]):
                raise IncompatibleError(f"layer {layer + 1} has no weight ({i}, {j}) any more")
            W[i, j] = value
            return float(W[i, j])

        self._call(job, on_done)

    def set_bias(self, layer: int, j: int, value: float,
                 on_done: Callable[[float], None] | None = None) -> None:
        """Set the bias of neuron ``j`` of ``layer`` (between two steps)."""

        def job(w: EngineWorker):
            b = _param(w, layer, "b")
            if not 0 <= j < b.shape[0]:
                raise IncompatibleError(f"layer {layer + 1} has no neuron {j + 1} any more")
            b[j] = value
            return float(b[j])

        self._call(job, on_done)


    def set_output_activation(self, activation: str) -> None:
        """Override the output layer's activation (the dataset picks it; this overrides it).
        The loss follows: bce for sigmoid, cross-entropy for softmax, mse otherwise; the
        weights are kept."""
        from nnbench.errors import SpecError

        if self.spec is None:
            return
        try:
            out = LayerSpec(self.spec.output.units, activation, self.spec.output.bias)
            spec = NetworkSpec(self.spec.n_inputs, (*self.hidden, out), self.spec.init, self.spec.dtype)
        except SpecError as e:
            self.error.emit(str(e))
            return
        loss = {"sigmoid": "bce", "softmax": "cross_entropy"}.get(activation, "mse")
        config = self.config.replace(loss=loss)
        seed = self.net_seed

        def job(w: EngineWorker):
            old = w.trainer
            net = Network(spec, np.random.default_rng(seed + 1 + old.step_count))
            net.adopt(old.net)
            _install(w, w.dataset, _continue(old, net, config, w.dataset))
            return spec, config

        def done(result) -> None:
            self.spec, self.config = result
            self.spec_changed.emit(self.spec)
            self.config_changed.emit(self.config)

        self._call(job, done)

# --- helpers that run on the engine thread -------------------------------------------------
def _dtype(ds: Dataset) -> str:
    return "float32" if ds.x_train.dtype == np.uint8 else "float64"


def _batch_for(ds: Dataset, wanted: int) -> int:
    if ds.image_shape is not None and wanted == 0:
        return 100  # full-batch on 60,000 images would be one slow step per epoch
    return wanted


def _arrays(ds: Dataset):
    x_test, y_test = test_split(ds)
    return ds.x_train, ds.y_train, x_test, y_test


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


def _param(w: EngineWorker, layer: int, name: str) -> np.ndarray:
    layers = w.trainer.net.layers if w.trainer is not None else []
    p = getattr(layers[layer], name) if 0 <= layer < len(layers) else None
    if p is None:
        raise IncompatibleError(f"the network has no {name} in layer {layer + 1}")
    return p
