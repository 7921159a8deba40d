"""The Sweep dialog: a grid of settings times K seeds, run off the GUI thread, shown as a heatmap.

The cells run through :func:`nnbench.sweep.run_sweep` on a worker QThread (the local process
pool by default), with a progress bar and Cancel; the heatmap is the median over seeds of one
metric over the first two swept settings. :func:`save_heatmap` draws the same heatmap into a
PNG without a window (the CLI's ``--heatmap``).
"""

from __future__ import annotations

import math
import os
import threading
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nnbench import sweep as sw
from nnbench.errors import NnbenchError
from nnbench.ui.background import Background

METRICS = ("final_test_acc", "final_train_acc", "best_test_acc", "final_test_loss", "final_train_loss",
           "epochs_to_target")


class HeatmapPlot(pg.PlotWidget):
    """One metric over two settings: a cell per pair of values, its median printed in it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.addItem(self.image)
        self.getPlotItem().setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self._texts: list[pg.TextItem] = []
        self.values = np.zeros((0, 0))

    def show_values(self, values: np.ndarray, xs: list[str], ys: list[str], xname: str, yname: str,
                    title: str = "") -> None:
        self.values = values
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1e-9
        self.image.setImage(np.nan_to_num(values, nan=lo, posinf=hi), levels=(lo, hi))
        self.image.setRect(0, 0, values.shape[1], values.shape[0])
        for t in self._texts:
            self.removeItem(t)
        self._texts = []
        for j in range(values.shape[0]):
            for i in range(values.shape[1]):
                v = values[j, i]
                label = "—" if not math.isfinite(v) else f"{v:.3g}"
                dark = not math.isfinite(v) or (v - lo) / (hi - lo) < 0.6
                t = pg.TextItem(label, color="w" if dark else "k", anchor=(0.5, 0.5))
                t.setPos(i + 0.5, j + 0.5)
                self.addItem(t)
                self._texts.append(t)
        plot = self.getPlotItem()
        plot.getAxis("bottom").setTicks([[(i + 0.5, x) for i, x in enumerate(xs)]])
        plot.getAxis("left").setTicks([[(j + 0.5, y) for j, y in enumerate(ys)]])
        plot.setLabel("bottom", xname)
        plot.setLabel("left", yname)
        plot.setTitle(title)
        plot.setRange(xRange=(0, values.shape[1]), yRange=(0, values.shape[0]), padding=0)


def save_heatmap(path: str, values: np.ndarray, xs: list[str], ys: list[str], xname: str, yname: str,
                 title: str = "", size: tuple[int, int] = (640, 480)) -> None:
    """Draw the heatmap into a PNG, with no window (offscreen Qt when no application runs)."""
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = pg.mkQApp()
    from pyqtgraph.exporters import ImageExporter

    plot = HeatmapPlot()
    plot.resize(*size)
    plot.show_values(values, xs, ys, xname, yname, title)
    plot.show()
    app.processEvents()
    exporter = ImageExporter(plot.getPlotItem())
    exporter.parameters()["width"] = size[0]
    if not exporter.export(str(path)) and not os.path.isfile(path):
        raise NnbenchError(f"could not write the heatmap to {path}")
    plot.close()
    plot.deleteLater()


class SweepRunner(QObject):
    """Runs one sweep on its own thread; Cancel sets an event the executor checks."""

    progressed = Signal(object)  # a sweep.Progress after every cell
    finished = Signal(object)  # the rows (all of them, or those done before Cancel)
    failed = Signal(str)  # the sweep stopped on an error: the text is for the user

    def __init__(self, sweep: sw.Sweep, executor: Any, out: str | None = None) -> None:
        super().__init__()
        self.sweep, self.executor, self.out = sweep, executor, out
        self.cancel = threading.Event()

    @Slot()
    def run(self) -> None:
        try:
            rows = sw.run_sweep(self.sweep, self.executor, out=self.out, progress=self.progressed.emit,
                                cancel=self.cancel)
        except Exception as e:  # noqa: BLE001 - shown to the user, never a traceback
            self.failed.emit(str(e) if isinstance(e, NnbenchError) else f"{type(e).__name__}: {e}")
            return
        self.finished.emit(rows)


class SweepDialog(QDialog):
    """Grid, seeds and epochs in; progress, a table of medians per cell and a heatmap out."""

    def __init__(self, experiment_fn, parent: QWidget | None = None, executor_fn=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sweep")
        self._experiment_fn = experiment_fn  # () -> Experiment: the window's current experiment
        self._executor_fn = executor_fn or (lambda: sw.LocalExecutor())
        self.sweep: sw.Sweep | None = None
        self.rows: list[dict[str, Any]] = []
        self._background = Background()
        self._runner: SweepRunner | None = None

        self.grid_edit = QLineEdit("lr=0.03,0.1,0.3; hidden=2,4,8")
        self.grid_edit.setToolTip("settings and values, separated by ';' (lr, hidden, batch_size, optimizer, "
                                  "activation, momentum, reg_rate, noise...)")
        self.seeds_spin = QSpinBox()
        self.seeds_spin.setRange(1, sw.MAX_SEEDS)
        self.seeds_spin.setValue(10)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 1_000_000)
        self.epochs_spin.setValue(100)
        self.metric_combo = QComboBox()
        self.metric_combo.addItems(METRICS)
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 0)
        self.heatmap = HeatmapPlot()
        self.heatmap.setMinimumSize(420, 320)

        form = QFormLayout()
        form.addRow("Grid", self.grid_edit)
        form.addRow("Seeds per cell", self.seeds_spin)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Heatmap of", self.metric_combo)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addLayout(buttons)
        left.addWidget(self.status)
        left.addWidget(self.table, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addWidget(self.heatmap, 1)
        self.resize(1100, 520)

        self.run_button.clicked.connect(self._on_run)
        self.cancel_button.clicked.connect(self._on_cancel)
        self.metric_combo.currentTextChanged.connect(self._on_metric)

    @property
    def running(self) -> bool:
        return self._background.running

    def _on_run(self) -> None:
        try:
            exp = self._experiment_fn()
            grid = sw.parse_grid([t.strip() for t in self.grid_edit.text().split(";") if t.strip()])
            sweep = sw.Sweep(exp, grid, tuple(range(self.seeds_spin.value())), self.epochs_spin.value(),
                             sw.default_target(exp, True))
        except NnbenchError as e:
            self.status.setText(str(e).replace("--grid ", ""))
            return
        self.sweep, self.rows = sweep, []
        self.progress.setRange(0, len(sweep.cells))
        self.progress.setValue(0)
        self.status.setText(f"{len(sweep.cells)} cell(s) x {len(sweep.seeds)} seed(s)…")
        self._runner = SweepRunner(sweep, self._executor_fn())
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._background.start(self._runner, self._on_progress, self._on_finished, self._on_failed)

    def _on_cancel(self) -> None:
        if self._background.running:
            self._background.cancel()
            self.status.setText("Cancelling…")

    @Slot(object)
    def _on_progress(self, p: sw.Progress) -> None:
        self.progress.setValue(p.done)
        if p.last is not None and self.sweep is not None:
            cell = self.sweep.cells[p.last["cell"]]
            self.rows.extend({**cell, **row} for row in p.last["rows"])
            self._show()

    @Slot(object)
    def _on_finished(self, rows: list) -> None:
        cancelled = self._background.cancelled
        self._stop_thread()
        self.rows = rows
        hit, total = sw.reached(rows)
        target = self.sweep.target if self.sweep else None
        keys = list(self.sweep.grid)
        done = len({tuple(sw.value_text(r[k]) for k in keys) for r in rows})
        text = f"{'Cancelled' if cancelled else 'Done'}: {done} of {len(self.sweep.cells)} cell(s)"
        if target is not None:
            text += f"; {hit} of {total} runs reached {target}"
        self.status.setText(text)
        self._show()

    @Slot(str)
    def _on_failed(self, text: str) -> None:
        self._stop_thread()
        self.status.setText(f"The sweep stopped: {text}")

    def _stop_thread(self) -> None:
        self._background.stop()
        self._runner = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _on_metric(self, _text: str) -> None:
        self._show()

    def _show(self) -> None:
        if self.sweep is None:
            return
        metric = self.metric_combo.currentText()
        keys = list(self.sweep.grid)
        # the table: one row per cell done, the median over seeds
        cells: dict[tuple, list[dict[str, Any]]] = {}
        for r in self.rows:
            cells.setdefault(tuple(sw.value_text(r[k]) for k in keys), []).append(r)
        order = [tuple(sw.value_text(c[k]) for k in keys) for c in self.sweep.cells]  # the grid's order
        cells = {key: cells[key] for key in sorted(cells, key=lambda key: order.index(key)
                                                   if key in order else len(order))}
        self.table.setColumnCount(len(keys) + 3)
        self.table.setHorizontalHeaderLabels([*keys, "seeds", f"median {metric}", "reached"])
        self.table.setRowCount(len(cells))
        for i, (values, rows) in enumerate(cells.items()):
            got = [r[metric] for r in rows if isinstance(r.get(metric), (int, float))]
            med = f"{np.median(got):.4g}" if got else "—"
            reached = sum(r.get("epochs_to_target") is not None for r in rows)
            for j, text in enumerate([*values, str(len(rows)), med, f"{reached}/{len(rows)}"]):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        if keys:
            values, xs, ys, xname, yname = sw.heatmap(self.sweep, self.rows, metric)
            self.heatmap.show_values(values, xs, ys, xname, yname, f"median {metric}")

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._background.stop()
        super().closeEvent(event)
