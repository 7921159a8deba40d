"""Seeds x K: the window's experiment trained from K seeds at once, and what the seeds say.

The K copies train vectorised (:class:`nnbench.engine.stacked.StackedTrainer`) on a worker
QThread, with a progress bar and Cancel. The view shows the median loss and accuracy over seeds
with a 10-90 % band, a small picture of every seed's decision surface (2-D data) or fitted curve
(1-D data), and how many seeds reached the target; a click on a seed's picture makes that
network the live one (:meth:`nnbench.ui.session.Session.adopt_state`).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from nnbench import commands as cmd
from nnbench import sweep as sw
from nnbench.data import Dataset
from nnbench.errors import NnbenchError, SpecError
from nnbench.experiment import Experiment
from nnbench.ui.background import Background

MAX_PICTURES = 64  # small multiples drawn; the others still count in the curves and the line
PICTURE_RES = 40


def experiment_of(session: Any) -> Experiment:
    """The window's current experiment (dataset source, network, settings, seed) as data."""
    ds, meta = session.dataset, session.meta
    if ds is None or session.spec is None:
        raise SpecError("open a dataset first")
    source = dict(ds.source or {})
    if not isinstance(source.get("kind"), str):
        raise SpecError("this dataset has no source it can be rebuilt from")
    return Experiment(str(meta.get("name", ds.name)), str(meta.get("title", ds.name)),
                      str(meta.get("description", "")), source, session.spec, session.config,
                      net_seed=int(meta.get("net_seed", session.net_seed)),
                      expect=dict(meta.get("expect", {}) or {}))


@dataclass
class SeedsResult:
    """A finished (or cancelled) Seeds x K run, as plain arrays."""

    experiment: Experiment
    dataset: Dataset
    seeds: tuple[int, ...]
    history: dict[str, np.ndarray]  # (K, epochs) per column
    params: np.ndarray  # (K, P) flat parameters
    epoch: int
    steps: int
    reached: np.ndarray  # (K,) bool
    epochs_to_target: list[int | None]
    target: sw.Target | None
    pictures: np.ndarray | None  # (K, res, res) surfaces or (K, res) curves
    bounds: tuple[float, float, float, float]

    def state(self, k: int) -> cmd.EngineState:
        """Seed k as an engine state, to make it the live network."""
        exp = self.experiment
        history = {key: col[k].copy() for key, col in self.history.items()}
        meta = {"name": exp.name, "title": exp.title, "description": exp.description,
                "net_seed": int(self.seeds[k]), "expect": exp.expect, "report_every": exp.report_every}
        config = exp.training.replace(seed=int(self.seeds[k]))
        return cmd.EngineState(self.dataset, config, cmd.as_state(exp.network, self.params[k]), history,
                               self.epoch, self.steps, 0, meta)


def _grid(ds: Dataset, res: int) -> tuple[np.ndarray | None, tuple[float, float, float, float]]:
    x = np.concatenate([ds.x_train, ds.x_test]).astype(float) * ds.x_scale
    if ds.n_features == 2:
        lo, hi = x.min(axis=0), x.max(axis=0)
        pad = 0.05 * np.maximum(hi - lo, 1e-9)
        lo, hi = lo - pad, hi + pad
        xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], res), np.linspace(lo[1], hi[1], res))
        return np.column_stack([xx.ravel(), yy.ravel()]), (lo[0], hi[0], lo[1], hi[1])
    if ds.n_features == 1:
        lo, hi = float(x.min()), float(x.max())
        return np.linspace(lo, hi, 4 * res)[:, None], (lo, hi, 0.0, 0.0)
    return None, (0.0, 0.0, 0.0, 0.0)


class SeedsRunner(QObject):
    """Trains the K copies on its own thread; Cancel stops after the epoch in progress."""

    progressed = Signal(int)  # epochs done
    finished = Signal(object)  # a SeedsResult (also after Cancel: what was trained so far)
    failed = Signal(str)  # the text is for the user

    def __init__(self, exp: Experiment, ds: Dataset, seeds: tuple[int, ...], epochs: int,
                 target: sw.Target | None) -> None:
        super().__init__()
        self.exp, self.ds, self.seeds, self.epochs, self.target = exp, ds, seeds, epochs, target
        self.cancel = threading.Event()

    @Slot()
    def run(self) -> None:
        from threadpoolctl import threadpool_limits

        try:
            with threadpool_limits(limits=1, user_api="blas"):
                trainer = sw.stacked_trainer(self.exp, self.seeds, self.ds)
                trainer.run(self.epochs, self._on_epoch)
                result = self._result(trainer)
        except Exception as e:  # noqa: BLE001 - shown to the user, never a traceback
            self.failed.emit(str(e) if isinstance(e, NnbenchError) else f"{type(e).__name__}: {e}")
            return
        self.finished.emit(result)

    def _on_epoch(self, epoch: int) -> bool:
        self.progressed.emit(epoch)
        return not self.cancel.is_set()

    def _result(self, trainer) -> SeedsResult:
        rows = sw.seed_rows(trainer, self.target)
        grid, bounds = _grid(self.ds, PICTURE_RES)
        pictures = None
        if grid is not None:
            with np.errstate(all="ignore"):
                out = trainer.predict(grid)  # (K, G, outputs)
            pick = out[..., 0] if out.shape[-1] == 1 else np.argmax(out, axis=-1) / max(out.shape[-1] - 1, 1)
            pictures = pick.reshape(trainer.K, PICTURE_RES, PICTURE_RES) if self.ds.n_features == 2 else pick
        reached = np.array([r["epochs_to_target"] is not None for r in rows])
        return SeedsResult(self.exp, self.ds, tuple(trainer.net_seeds), trainer.history,
                           trainer.params.copy(), trainer.epoch, trainer.step_count, reached,
                           [r["epochs_to_target"] for r in rows], self.target, pictures, bounds)


class _SeedBox(pg.ViewBox):
    """One seed's small picture; a click asks for that seed to go live."""

    def __init__(self, k: int, on_click) -> None:
        super().__init__(enableMouse=False, lockAspect=False, enableMenu=False)
        self.k, self._on_click = k, on_click

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph's name)
        ev.accept()
        self._on_click(self.k)


class SeedsDialog(QDialog):
    """K, epochs and the target in; median curves with a band, a picture per seed, a count out."""

    seed_chosen = Signal(int)  # a seed's picture was clicked: index into the run's seeds

    def __init__(self, session: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Seeds x K")
        self.session = session
        self.result: SeedsResult | None = None
        self._background = Background()
        self._runner: SeedsRunner | None = None
        self.boxes: list[_SeedBox] = []

        self.k_spin = QSpinBox()
        self.k_spin.setRange(2, sw.MAX_SEEDS)
        self.k_spin.setValue(16)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 1_000_000)
        epochs = session.config.epochs if session.config.epochs > 0 else 300
        self.epochs_spin.setValue(epochs)
        self.target_edit = QLineEdit()
        self.target_edit.setPlaceholderText("e.g. test_acc>=0.95 (empty: the experiment's expect)")
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.summary = QLabel("Train the current experiment from K seeds at once.")
        self.summary.setWordWrap(True)
        font = self.summary.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.summary.setFont(font)

        self.loss_plot = pg.PlotWidget(background="w", title="loss: median and 10-90 % of seeds")
        self.loss_plot.setLogMode(y=True)
        self.acc_plot = pg.PlotWidget(background="w", title="accuracy: median and 10-90 % of seeds")
        self.acc_plot.setYRange(0, 1.02)
        self._curves = {}
        for plot, keys in ((self.loss_plot, ("train_loss", "test_loss")),
                           (self.acc_plot, ("train_acc", "test_acc"))):
            plot.setLabel("bottom", "epoch")
            plot.addLegend(offset=(-10, 10))
            for key, color in zip(keys, ((31, 119, 180), (255, 127, 14)), strict=True):
                # the band's edges are drawn (faintly): FillBetweenItem fills between drawn curves,
                # and a PlotDataItem follows the plot's log scale where a bare curve would not
                lo = pg.PlotDataItem(pen=pg.mkPen((*color, 90)))
                hi = pg.PlotDataItem(pen=pg.mkPen((*color, 90)))
                band = pg.FillBetweenItem(lo, hi, brush=(*color, 50))
                median = plot.plot(pen=pg.mkPen(color, width=2), name=key.replace("_", " "))
                plot.addItem(lo)
                plot.addItem(hi)
                plot.addItem(band)
                self._curves[key] = (median, lo, hi)
        self.pictures = pg.GraphicsLayoutWidget()
        self.pictures.setBackground("w")
        self.pictures.setMinimumSize(420, 420)
        self.pictures.setToolTip("Each seed's network; green: reached the target. Click one to make it live.")

        form = QFormLayout()
        form.addRow("Seeds (K)", self.k_spin)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Target", self.target_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addLayout(buttons)
        left.addWidget(self.summary)
        left.addWidget(self.loss_plot, 1)
        left.addWidget(self.acc_plot, 1)
        right = QVBoxLayout()
        right.addWidget(QLabel("Every seed (click one to make it the live network):"))
        right.addWidget(self.pictures, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addLayout(right, 1)
        self.resize(1200, 760)

        self.run_button.clicked.connect(self._on_run)
        self.cancel_button.clicked.connect(self._on_cancel)
        self.seed_chosen.connect(self._on_seed_chosen)

    @property
    def running(self) -> bool:
        return self._background.running

    # ---- running ---------------------------------------------------------------------------

    def _on_run(self) -> None:
        try:
            exp = experiment_of(self.session)
            ds = self.session.dataset
            text = self.target_edit.text().strip()
            same = ds.x_test.shape == ds.x_train.shape and np.array_equal(ds.x_test, ds.x_train)
            has_test = not same and len(ds.x_test) > 0
            target = sw.parse_target(text) if text else \
                sw.default_target(exp, has_test, ds.task == "classification")
        except NnbenchError as e:
            self.summary.setText(str(e).replace("--target ", "target "))
            return
        first = exp.net_seed
        seeds = tuple(range(first, first + self.k_spin.value()))
        epochs = self.epochs_spin.value()
        self.progress.setRange(0, epochs)
        self.progress.setValue(0)
        self.summary.setText(f"Training {len(seeds)} seeds for {epochs:,} epochs…")
        self._runner = SeedsRunner(exp.with_training(epochs=epochs), ds, seeds, epochs, target)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._background.start(self._runner, self.progress.setValue, self._on_finished, self._on_failed)

    def _on_cancel(self) -> None:
        if self._background.running:
            self._background.cancel()

    @Slot(object)
    def _on_finished(self, result: SeedsResult) -> None:
        cancelled = self._background.cancelled
        self._stop_thread()
        self.result = result
        self._show(result, cancelled)

    @Slot(str)
    def _on_failed(self, text: str) -> None:
        self._stop_thread()
        self.summary.setText(f"The run stopped: {text}")

    def _stop_thread(self) -> None:
        self._background.stop()
        self._runner = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    # ---- showing ---------------------------------------------------------------------------

    def _show(self, r: SeedsResult, cancelled: bool = False) -> None:
        K = len(r.seeds)
        hit = int(r.reached.sum())
        where = f" after {r.epoch:,} epoch(s) (cancelled)" if cancelled else f" in {r.epoch:,} epochs"
        if r.target is not None:
            self.summary.setText(f"{hit} of {K} seeds reached {r.target}{where}.")
        else:
            self.summary.setText(f"{K} seeds trained{where} (no target for this experiment).")
        epochs = r.history["epoch"][0] if r.history["epoch"].shape[1] else np.zeros(0)
        for key, (median, lo, hi) in self._curves.items():
            col = r.history[key]
            if not col.shape[1] or not np.isfinite(col).any():
                for item in (median, lo, hi):
                    item.setData([], [])
                continue
            if "loss" in key:
                col = np.maximum(col, 1e-12)
            with np.errstate(all="ignore"), _quiet_nan_warnings():
                p10, p50, p90 = np.nanpercentile(col, [10, 50, 90], axis=0)
            ok = np.isfinite(p50)
            median.setData(epochs[ok], p50[ok])
            lo.setData(epochs[ok], p10[ok])
            hi.setData(epochs[ok], p90[ok])
        self._show_pictures(r)

    def _show_pictures(self, r: SeedsResult) -> None:
        self.pictures.clear()
        self.boxes = []
        K = min(len(r.seeds), MAX_PICTURES)
        cols = max(1, math.ceil(math.sqrt(K)))
        cmap = pg.colormap.get("CET-D1")
        x0, x1, y0, y1 = r.bounds
        ds = r.dataset
        for k in range(K):
            box = _SeedBox(k, self.seed_chosen.emit)
            color = (46, 160, 67) if r.reached[k] else (200, 60, 60)
            box.setBorder(pg.mkPen(color, width=3))
            self.pictures.addItem(box, row=k // cols, col=k % cols)
            if r.pictures is not None and r.pictures.ndim == 3:
                img = pg.ImageItem(np.nan_to_num(r.pictures[k], nan=0.5), axisOrder="row-major",
                                   levels=(0.0, 1.0))
                img.setColorMap(cmap)
                img.setRect(x0, y0, x1 - x0, y1 - y0)
                box.addItem(img)
                x = ds.x_train.astype(float) * ds.x_scale
                labels = Dataset.labels_of(ds.y_train)
                spots = pg.ScatterPlotItem(x[:, 0], x[:, 1], size=3, pen=None,
                                           brush=[pg.mkBrush("k") if c else pg.mkBrush("w") for c in labels])
                box.addItem(spots)
                box.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
            elif r.pictures is not None:
                grid = np.linspace(x0, x1, r.pictures.shape[1])
                x = ds.x_train[:, 0].astype(float) * ds.x_scale
                box.addItem(pg.ScatterPlotItem(x, ds.y_train[:, 0], size=3, pen=None, brush=(120, 120, 120)))
                box.addItem(pg.PlotCurveItem(grid, r.pictures[k], pen=pg.mkPen(color, width=2)))
            self.boxes.append(box)

    # ---- a seed goes live ------------------------------------------------------------------

    @Slot(int)
    def _on_seed_chosen(self, k: int) -> None:
        r = self.result
        if r is None or not 0 <= k < len(r.seeds):
            return
        seed = r.seeds[k]
        self.summary.setText(f"Seed {seed} is now the live network"
                             + (f" (reached {r.target} at epoch {r.epochs_to_target[k]})."
                                if r.epochs_to_target[k] is not None else "."))
        self.session.adopt_state(r.state(k))

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._background.stop()
        super().closeEvent(event)


class _quiet_nan_warnings:  # noqa: N801 - a tiny context manager
    """nanpercentile warns on all-NaN epochs (every seed diverged): those are simply not drawn."""

    def __enter__(self) -> None:
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc) -> None:
        self._w.__exit__(*exc)
