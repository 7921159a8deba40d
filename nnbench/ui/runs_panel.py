"""The runs list: compare runs, overlay their curves, rename, delete, pick the live one; export.

One row per run (its name, what differs from its parent, best test loss and accuracy, epochs,
time). Checked runs' loss and accuracy curves overlay the plots in one colour each, a fork
drawn from its branch point; a smoothing control applies TensorBoard's exponential moving
average to them. Exports: the checked runs' history as CSV (nnbench.history.runs_csv), every
plot as PNG or SVG through pyqtgraph's exporters, the whole window as PNG.
:func:`install` adds all of it to the main window: the timeline under the window, the runs
list in a dock (hidden until its Runs button is pressed), File > Export Plots and History and
the "latest only" save option.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401 (pg.exporters)
from PySide6.QtCore import QEvent, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from nnbench import commands as cmd
from nnbench.history import RunInfo, runs_csv
from nnbench.ui import dialogs
from nnbench.ui.timeline import RunsClient, Timeline

COLUMNS = ("Run", "Differs from parent", "Loss", "Acc.", "Epochs", "Time")
COLUMN_TIPS = ("Double-click to rename; check to overlay its curves", "Where it branched and what it changed",
               "Best test loss (training loss when there is no test set)",
               "Best test accuracy (training accuracy when there is no test set)", "Epochs trained",
               "Training time")
DIFFERS_MIN = 130  # pixels: narrower, the text wrapped into a column of single words
PALETTE = ((214, 39, 40), (44, 160, 44), (148, 103, 189), (140, 86, 75), (227, 119, 194), (23, 190, 207),
           (188, 189, 34), (127, 127, 127), (31, 119, 180), (255, 127, 14))
CSV_FILTER = "CSV (*.csv);;All files (*)"
PLOT_FILTER = "PNG image (*.png);;SVG drawing (*.svg)"


def colour(rid: int) -> tuple[int, int, int]:
    return PALETTE[(rid - 1) % len(PALETTE)]


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average, debiased so it starts at the first
    value; NaNs are skipped (they stay NaN)."""
    if weight <= 0 or not len(values):
        return values
    out = np.full(len(values), np.nan)
    last, n = 0.0, 0
    for i, v in enumerate(values):
        if not math.isfinite(v):
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out[i] = last / (1 - weight**n)
    return out


def export_plot(item, path: str) -> None:
    """A plot (PlotItem, or a whole scene) as PNG or SVG, by the file's extension, through
    pyqtgraph's exporters."""
    if not path.lower().endswith(".svg"):
        pg.exporters.ImageExporter(item).export(path)
        return
    try:
        pg.exporters.SVGExporter(item).export(path)
    except ValueError:
        # pyqtgraph 0.14's SVG exporter cannot parse the "Z" (close path) that Qt 6.11 writes
        # for a plot's view box (pyqtgraph issue #3485): Qt's own SVG writer draws it instead.
        _qt_svg(item, path)


def _qt_svg(item, path: str) -> None:
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    scene = item if hasattr(item, "sceneRect") and not hasattr(item, "sceneBoundingRect") else item.scene()
    rect = scene.sceneRect() if scene is item else item.sceneBoundingRect()
    gen = QSvgGenerator()
    gen.setFileName(path)
    gen.setSize(rect.size().toSize())
    gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
    gen.setTitle("nnbench plot")
    painter = QPainter(gen)
    try:
        scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
    finally:
        painter.end()


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


class RunsPanel(QWidget):
    """The runs list, the overlay of checked runs' curves, smoothing and the checkpoint budget."""

    def __init__(self, client: RunsClient, plots_panel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.session = client.session
        self.plots = plots_panel
        self.checked: set[int] = set()
        self.histories: dict[int, dict[str, np.ndarray]] = {}  # runs' histories, by id
        self._epochs_of: dict[int, int] = {}  # epochs when each history was fetched
        self.curves: dict[int, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self._filling = False

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setWordWrap(True)
        for col, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # What differs takes the room left, but never less than DIFFERS_MIN: a narrow dock
        # scrolls sideways instead (Stretch squeezed it to a word per line at 1024 wide).
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        self.table.viewport().installEventFilter(self)
        self.live_button = QPushButton("Make live")
        self.live_button.setToolTip("Train this run on from where it was left")
        self.delete_button = QPushButton("Delete")
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.setToolTip("The checked runs' history: one row per epoch per run, with its settings")
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setAccessibleName("smoothing")
        self.smoothing.setToolTip("Smoothing of the overlaid curves (an exponential moving average, as "
                                  "TensorBoard's)")
        self.smoothing_label = QLabel("smoothing 0.00")
        self.budget = QSpinBox()
        self.budget.setRange(0, 65536)
        self.budget.setValue(int(QSettings().value("checkpoint_mb", 256)))
        self.budget.setSuffix(" MB")
        self.budget.setKeyboardTracking(False)
        self.budget.setAccessibleName("checkpoint memory")
        self.budget.setToolTip("Memory for checkpoints, all runs together (0 keeps none)")
        self.usage = QLabel()
        self.usage.setWordWrap(True)  # its one line set the dock's minimum: at 1024 wide the window grew

        buttons = QHBoxLayout()
        for b in (self.live_button, self.delete_button, self.csv_button):
            buttons.addWidget(b)
        smooth_row = QHBoxLayout()
        smooth_row.addWidget(self.smoothing_label)
        smooth_row.addWidget(self.smoothing, 1)
        budget_row = QHBoxLayout()
        budget_row.addWidget(QLabel("Checkpoints"))
        budget_row.addWidget(self.budget)
        budget_row.addWidget(self.usage, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addLayout(smooth_row)
        layout.addLayout(budget_row)

        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.live_button.clicked.connect(self._on_make_live)
        self.delete_button.clicked.connect(self._on_delete)
        self.csv_button.clicked.connect(self.export_csv_dialog)
        self.smoothing.valueChanged.connect(self._on_smoothing)
        self.budget.valueChanged.connect(self._on_budget)
        client.runs_changed.connect(self._on_runs_changed)
        self.session.dataset_changed.connect(self._on_dataset_changed)

    # ---- the table -----------------------------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize \
                and event.size().width() != event.oldSize().width():
            QTimer.singleShot(0, self._fit_columns)  # after the resize settles
        return super().eventFilter(watched, event)

    def _fit_columns(self) -> None:
        header = self.table.horizontalHeader()
        others = sum(header.sectionSize(c) for c in range(len(COLUMNS)) if c != 1)
        room = self.table.viewport().width() - others
        header.resizeSection(1, max(DIFFERS_MIN, room))
        self.table.resizeRowsToContents()

    @Slot(object)
    def _on_runs_changed(self, runs: tuple[RunInfo, ...]) -> None:
        self._filling = True
        selected = self.selected()
        self.table.setRowCount(len(runs))
        for row, r in enumerate(runs):
            name = QTableWidgetItem(r.name + ("  (live)" if r.live else ""))
            name.setData(Qt.ItemDataRole.UserRole, r.id)
            flags = Qt.ItemFlag
            name.setFlags(flags.ItemIsEnabled | flags.ItemIsSelectable | flags.ItemIsEditable
                          | flags.ItemIsUserCheckable)
            name.setCheckState(Qt.CheckState.Checked if r.id in self.checked else Qt.CheckState.Unchecked)
            name.setForeground(pg.mkColor(*colour(r.id)))
            name.setToolTip(f"{r.spec}; {r.config.get('optimizer', '')}, lr {r.config.get('lr', '')}")
            differs = ", ".join(f"{k} {v}" for k, v in r.changes.items())
            if r.parent is not None or r.branch_epoch is not None:
                parent = self.client.run(r.parent)
                where = f"from {parent.name if parent else 'a deleted run'} at epoch {r.branch_epoch:,}"
                differs = f"{where}: {differs or 'nothing changed'}"
            cells = (name, QTableWidgetItem(differs or "(a first run)"),
                     QTableWidgetItem("" if math.isnan(r.best_loss) else f"{r.best_loss:.4g}"),
                     QTableWidgetItem("" if math.isnan(r.best_acc) else f"{100 * r.best_acc:.1f} %"),
                     QTableWidgetItem(f"{r.epochs:,}"), QTableWidgetItem(_duration(r.seconds)))
            for col, item in enumerate(cells):
                if col:
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                self.table.setItem(row, col, item)
            if r.id == selected:
                self.table.selectRow(row)
        self._fit_columns()
        self._filling = False
        ids = {r.id for r in runs}
        self.checked &= ids
        for rid in list(self.curves):
            if rid not in ids:
                self._drop_curves(rid)
        self._fetch_checked()
        budget = cmd.SetCheckpointBudget(self.budget.value() << 20)  # answers the usage too
        self.session.call(budget, self._show_usage, lambda _t: None)

    def selected(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def row_of(self, rid: int) -> int:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == rid:
                return row
        return -1

    @Slot(QTableWidgetItem)
    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 0:
            return
        rid = item.data(Qt.ItemDataRole.UserRole)
        on = item.checkState() == Qt.CheckState.Checked
        if on != (rid in self.checked):
            (self.checked.add if on else self.checked.discard)(rid)
            if on:
                self._fetch(rid)
            else:
                self._drop_curves(rid)
        run = self.client.run(rid)
        text = item.text().removesuffix("  (live)").strip()
        if run is not None and text and text != run.name:
            self.session.call(cmd.RenameRun(rid, text), lambda _r: self.client.refresh())

    @Slot()
    def _on_selection(self) -> None:
        if self._filling:
            return
        rid = self.selected()
        run = self.client.run(rid)
        self.client.shown = None if run is None or run.live else rid
        self.client.runs_changed.emit(self.client.runs)

    @Slot()
    def _on_make_live(self) -> None:
        rid = self.selected()
        if rid is not None:
            self.session.pause()
            self.client.switch(cmd.SetLive(rid))

    @Slot()
    def _on_delete(self) -> None:
        rid = self.selected()
        if rid is not None:
            self.session.call(cmd.DeleteRun(rid), lambda _r: self.client.refresh())

    @Slot(object)
    def _on_dataset_changed(self, _ds) -> None:
        for rid in list(self.curves):
            self._drop_curves(rid)
        self.checked.clear()
        self.histories.clear()
        self._epochs_of.clear()

    # ---- overlaid curves -----------------------------------------------------------------------
    def _fetch_checked(self) -> None:
        for rid in self.checked:
            run = self.client.run(rid)
            if run is not None and self._epochs_of.get(rid) != run.epochs:
                self._fetch(rid)

    def _fetch(self, rid: int) -> None:
        run = self.client.run(rid)

        def done(h: dict[str, np.ndarray]) -> None:
            self.histories[rid] = h
            self._epochs_of[rid] = run.epochs if run is not None else 0
            self._draw(rid)

        self.session.call(cmd.RunHistory(rid), done, lambda _t: None)

    def _draw(self, rid: int) -> None:
        run, h = self.client.run(rid), self.histories.get(rid)
        if run is None or h is None or rid not in self.checked:
            return
        if rid not in self.curves:
            pen = pg.mkPen(*colour(rid), width=2)
            loss = pg.PlotDataItem(pen=pen, name=run.name)
            acc = pg.PlotDataItem(pen=pen)
            self.plots.loss_plot.addItem(loss)
            self.plots.acc_plot.addItem(acc)
            self.curves[rid] = (loss, acc)
        loss_curve, acc_curve = self.curves[rid]
        w = self.smoothing.value() / 100
        epochs = h["epoch"]
        start = 0
        if run.branch_epoch is not None:  # a fork: from its branch point on
            start = int(np.searchsorted(epochs, run.branch_epoch))
        loss_key = "test_loss" if np.isfinite(h["test_loss"]).any() else "train_loss"
        acc_key = "test_acc" if np.isfinite(h["test_acc"]).any() else "train_acc"
        loss = smooth(h[loss_key], w)[start:]
        acc = smooth(h[acc_key], w)[start:]
        loss_curve.setData(epochs[start:], np.maximum(loss, 1e-12))
        acc_curve.setData(epochs[start:], acc)

    def _drop_curves(self, rid: int) -> None:
        pair = self.curves.pop(rid, None)
        if pair is not None:
            self.plots.loss_plot.removeItem(pair[0])
            self.plots.acc_plot.removeItem(pair[1])

    @Slot(int)
    def _on_smoothing(self, value: int) -> None:
        self.smoothing_label.setText(f"smoothing {value / 100:.2f}")
        for rid in self.curves:
            self._draw(rid)

    @Slot(int)
    def _on_budget(self, mb: int) -> None:
        QSettings().setValue("checkpoint_mb", int(mb))
        self.session.call(cmd.SetCheckpointBudget(int(mb) << 20), self._show_usage)

    def _show_usage(self, usage: dict) -> None:
        self.usage.setText(f"{usage['used'] / 2**20:,.1f} of {usage['budget'] / 2**20:,.0f} MB used, "
                           f"{usage['checkpoints']:,} kept")

    # ---- exports -------------------------------------------------------------------------------
    def export_csv_dialog(self) -> None:
        path = dialogs.ask_save_path(self, "Export the checked runs' history", "runs.csv", CSV_FILTER)
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> None:
        """Write the checked runs' (or, none checked, every run's) history, as the engine has
        them now: the runs are listed afresh, then each history is fetched."""
        self.session.call(cmd.ListRuns(), lambda runs: self._export_runs(path, tuple(runs)))

    def _export_runs(self, path: str, listed: tuple[RunInfo, ...]) -> None:
        runs = tuple(r for r in listed if r.id in self.checked) or listed
        got: dict[int, dict[str, np.ndarray]] = {}

        def one(rid: int):
            def done(h: dict[str, np.ndarray]) -> None:
                got[rid] = h
                if len(got) == len(runs):
                    from nnbench.engine.files import write_atomic

                    try:
                        write_atomic(Path(path), runs_csv(runs, got).encode("utf-8"))
                    except Exception as e:  # NnbenchError: a folder that cannot be written
                        self.session.error.emit(str(e))
                        return
                    self.session.message.emit(f"Exported {len(runs)} run(s) to {Path(path).name}")
            return done

        for r in runs:
            self.session.call(cmd.RunHistory(r.id), one(r.id))


def install(window) -> None:
    """Add the timeline, the runs list, File > Export and "latest only" saves to the main window."""
    session, plots = window.session, window.plots_panel
    window.runs_client = RunsClient(session, window)
    window.timeline = Timeline(window.runs_client, plots)
    bar = QToolBar("Timeline")
    bar.setObjectName("timeline")
    bar.setMovable(False)
    bar.addWidget(window.timeline)
    window.addToolBar(Qt.ToolBarArea.BottomToolBarArea, bar)
    window.runs_panel = RunsPanel(window.runs_client, plots)
    dock = QDockWidget("Runs", window)
    dock.setObjectName("runs")
    dock.setWidget(window.runs_panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.runs_dock = dock
    # Hidden until asked for (the Runs button at the timeline's end): at 1024x700 a dock would
    # squeeze the plots.
    dock.hide()
    toggle = dock.toggleViewAction()
    toggle.setText("Runs")
    toggle.setToolTip("The runs list: compare, overlay, rename, delete, pick the live run, export")
    bar.addAction(toggle)
    window.runs_action = toggle

    file_menu = window.menuBar().actions()[0].menu()
    before = file_menu.actions()[-2]  # the separator above Quit
    window.latest_only_action = QAction("Save Checkpoints: Latest Only", window)
    window.latest_only_action.setCheckable(True)
    window.latest_only_action.setToolTip("Keep files small: each run's last checkpoint only")
    file_menu.insertAction(before, window.latest_only_action)
    export = QMenu("Export Plots and &History", file_menu)
    file_menu.insertMenu(before, export)
    window.export_menu = export
    targets = (("Loss Plot…", "loss", lambda: plots.loss_plot.getPlotItem()),
               ("Accuracy Plot…", "accuracy", lambda: plots.acc_plot.getPlotItem()),
               ("Output Plot…", "output", lambda: plots.output_plot.getPlotItem()),
               ("Weights…", "weights", lambda: plots.weights_view.scene()),
               ("Network Diagram…", "network", lambda: window.network_view.scene()))
    window.export_actions = {}
    for title, name, item in targets:
        action = export.addAction(title)
        action.triggered.connect(lambda _=False, n=name, i=item: _export_plot(window, n, i()))
        window.export_actions[name] = action
    export.addSeparator()
    csv_action = export.addAction("History of Checked Runs (CSV)…")
    csv_action.triggered.connect(window.runs_panel.export_csv_dialog)
    window.export_actions["csv"] = csv_action
    win_action = export.addAction("Window as PNG…")
    win_action.triggered.connect(lambda: _export_window(window))
    window.export_actions["window"] = win_action


def _export_plot(window, name: str, item) -> None:
    path = dialogs.ask_save_path(window, f"Export the {name} plot", f"{name}.png", PLOT_FILTER)
    if not path:
        return
    if not path.lower().endswith((".png", ".svg")):
        path += ".png"
    try:
        export_plot(item, path)
    except Exception as e:  # an unwritable folder: say so, never a traceback
        window.session.error.emit(f"could not export {Path(path).name}: {e}")
        return
    window.session.message.emit(f"Exported {Path(path).name}")


def _export_window(window) -> None:
    path = dialogs.ask_save_path(window, "Export the window", "nnbench.png", "PNG image (*.png)")
    if not path:
        return
    if not path.lower().endswith(".png"):
        path += ".png"
    if not window.grab().save(path, "PNG"):
        window.session.error.emit(f"could not write {Path(path).name}")
        return
    window.session.message.emit(f"Exported {Path(path).name}")
