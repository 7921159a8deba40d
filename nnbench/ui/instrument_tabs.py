"""The instruments that compute for a while: gradient check, learning-rate finder, curvature
and loss landscape. Each asks the engine for its state, rebuilds a copy of the network and runs
on a thread of its own (:class:`nnbench.ui.instruments.JobBar`) with progress and Cancel."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nnbench import commands as cmd
from nnbench.bench import network_of
from nnbench.engine import Network
from nnbench.inspect import curvature, gradcheck, landscape, lr_finder, training_batch
from nnbench.ui.instruments import JobBar, plot_widget
from nnbench.ui.session import Session

PENS = [pg.mkPen(c, width=2) for c in ((8, 119, 189), (214, 39, 40), (44, 160, 44), (148, 103, 189))]
BRUSHES = [pg.mkBrush(c) for c in ((8, 119, 189), (214, 39, 40), (44, 160, 44), (148, 103, 189))]
DASH = pg.mkPen((90, 90, 90), width=1, style=Qt.PenStyle.DashLine)
LANDSCAPE_ROWS = 2000  # the landscape's loss is taken on at most this many training rows


def _rows_box(value: int, top: int = 100_000, special: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(0, top)
    box.setValue(value)
    if special:
        box.setSpecialValueText(special)
    return box


def _batch_rows(state: cmd.EngineState, wanted: int, cap: int) -> int:
    bs = state.config.batch_size
    default = bs if bs else len(state.dataset.x_train)
    return wanted if wanted > 0 else min(default, cap)


class _Tab(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.jobs = JobBar()

    def shutdown(self) -> None:
        self.jobs.shutdown()

    def _with_state(self, then) -> None:
        if self.jobs.busy:
            self.jobs.status.setText("Busy: wait or cancel first")
            return
        if self.session.spec is None:
            self.jobs.status.setText("No network yet")
            return
        self.session.query_state(then)


# ---- gradient check ------------------------------------------------------------------------------


class GradCheckTab(_Tab):
    """Backprop against float64 central differences, per layer, on the current batch."""

    checked = Signal(object)  # a gradcheck.GradCheck

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.result: gradcheck.GradCheck | None = None
        self.check_button = QPushButton("Check gradients")
        self.rows_box = _rows_box(0, special="one batch (at most 64 rows)")
        self.per_layer_box = _rows_box(0, special="all (40 a layer for big nets)")
        self.verdict = QLabel("")
        self.verdict.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["layer", "weights checked", "max relative error", "verdict"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMaximumHeight(160)
        self.plot = plot_widget("backprop dL/dw", "finite differences dL/dw")
        self.plot.getPlotItem().addLegend(offset=(10, 10))
        form = QFormLayout()
        form.addRow("Rows", self.rows_box)
        form.addRow("Weights per layer", self.per_layer_box)
        top = QHBoxLayout()
        top.addLayout(form)
        top.addWidget(self.check_button)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.jobs)
        layout.addWidget(self.verdict)
        layout.addWidget(self.table)
        layout.addWidget(self.plot, 1)
        self.check_button.clicked.connect(self._on_check)

    @Slot()
    def _on_check(self) -> None:
        self._with_state(self._start)

    def _start(self, state: cmd.EngineState) -> None:
        net = network_of(state.net)
        x, y = training_batch(state.dataset, _batch_rows(state, self.rows_box.value(), 64))
        per_layer = self.per_layer_box.value() or (0 if net.flat_params.size <= 2000 else 40)
        loss = state.config.loss
        self.jobs.start(lambda p: gradcheck.check(net, loss, x, y, per_layer=per_layer, progress=p),
                        f"Checking {net.flat_params.size:,} weights on {len(x)} row(s)", self._show)

    def _show(self, r: gradcheck.GradCheck) -> None:
        self.result = r
        colour = {"agree": "#2a7d2a", "close": "#b36b00", "wrong": "#c00000"}[r.verdict]
        self.verdict.setText(f"<b style='color:{colour}'>{gradcheck.VERDICTS[r.verdict]}</b>: the largest "
                             f"relative error is {r.error:.2e} (float64 central differences, h = {r.h:g}, on "
                             f"{r.rows} row(s))")
        self.table.setRowCount(len(r.layers))
        for i, la in enumerate(r.layers):
            for j, text in enumerate((str(la.number), f"{la.checked:,} of {la.total:,}", f"{la.error:.2e}",
                                      gradcheck.VERDICTS[la.verdict])):
                self.table.setItem(i, j, QTableWidgetItem(text))
        item = self.plot.getPlotItem()
        item.clear()
        lo = min(float(min(la.analytic.min(), la.numerical.min())) for la in r.layers)
        hi = max(float(max(la.analytic.max(), la.numerical.max())) for la in r.layers)
        item.plot([lo, hi], [lo, hi], pen=DASH, name="equal")
        for i, la in enumerate(r.layers):
            item.plot(la.analytic, la.numerical, pen=None, symbol="o", symbolSize=6, symbolPen=None,
                      symbolBrush=BRUSHES[i % len(BRUSHES)], name=f"layer {la.number}")
        self.checked.emit(r)


# ---- learning-rate finder ------------------------------------------------------------------------


class LrFinderTab(_Tab):
    """Rates rising exponentially over ~100 batches on a copy; the steepest fall is suggested."""

    found = Signal(object)  # an lr_finder.LrFind

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.result: lr_finder.LrFind | None = None
        self.min_box = QDoubleSpinBox()
        self.min_box.setDecimals(6)
        self.min_box.setRange(1e-6, 1.0)
        self.min_box.setValue(1e-4)
        self.max_box = QDoubleSpinBox()
        self.max_box.setDecimals(3)
        self.max_box.setRange(1e-3, 1e4)
        self.max_box.setValue(10.0)
        self.steps_box = _rows_box(100, 1000)
        self.steps_box.setMinimum(10)
        self.run_button = QPushButton("Find the learning rate")
        self.use_button = QPushButton("Use it")
        self.use_button.setEnabled(False)
        self.use_button.setToolTip("Set the suggested rate as the learning rate (from the next batch)")
        self.answer = QLabel("On a copy of the network: the network that trains is not touched.")
        self.answer.setWordWrap(True)
        self.plot = plot_widget("learning rate", "batch loss")
        item = self.plot.getPlotItem()
        item.setLogMode(x=True, y=False)
        self.raw = item.plot([], [], pen=None, symbol="o", symbolSize=4, symbolPen=None,
                             symbolBrush=BRUSHES[0])
        self.smooth = item.plot([], [], pen=PENS[1])
        self.mark = pg.InfiniteLine(angle=90, pen=pg.mkPen((44, 160, 44), width=2),
                                    label="suggested", labelOpts={"position": 0.9, "color": (44, 120, 44)})
        self.mark.setVisible(False)
        item.addItem(self.mark)
        form = QFormLayout()
        form.addRow("From rate", self.min_box)
        form.addRow("To rate", self.max_box)
        form.addRow("Batches", self.steps_box)
        top = QHBoxLayout()
        top.addLayout(form)
        buttons = QVBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.use_button)
        top.addLayout(buttons)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.jobs)
        layout.addWidget(self.answer)
        layout.addWidget(self.plot, 1)
        self.run_button.clicked.connect(self._on_run)
        self.use_button.clicked.connect(self._on_use)

    @Slot()
    def _on_run(self) -> None:
        self._with_state(self._start)

    def _start(self, state: cmd.EngineState) -> None:
        lo, hi, steps = self.min_box.value(), self.max_box.value(), self.steps_box.value()
        if not lo < hi:
            self.jobs.status.setText("The first rate must be below the last")
            return
        net = network_of(state.net)
        bs = state.config.batch_size or len(state.dataset.x_train)
        x, y = training_batch(state.dataset, bs * steps)
        config = state.config
        self.jobs.start(lambda p: lr_finder.find(net, config, x, y, lr_min=lo, lr_max=hi, steps=steps,
                                                 progress=p),
                        f"Training a copy at {steps} rising rates", self._show)

    def _show(self, r: lr_finder.LrFind) -> None:
        self.result = r
        self.raw.setData(r.lrs, r.losses)
        self.smooth.setData(r.lrs, r.smoothed)
        ok = math.isfinite(r.suggested)
        self.mark.setVisible(ok)
        self.use_button.setEnabled(ok)
        if ok:
            self.mark.setValue(math.log10(r.suggested))
            self.mark.label.setFormat(f"suggested {r.suggested:.3g}")
            note = " The loss was still falling at the last rate: try a higher one." \
                if r.stopped == "last rate" else ""
            self.answer.setText(f"Suggested learning rate <b>{r.suggested:.4g}</b>, where the smoothed loss "
                                f"falls "
                                f"fastest; stopped: {r.stopped} at {r.lrs[-1]:.3g}.{note} The network that "
                                "trains was not touched.")
            self.use_button.setText(f"Use {r.suggested:.3g}")
        else:
            self.answer.setText(f"No suggestion: the loss did not fall before it rose (stopped: "
                                f"{r.stopped}). "
                                "Try a lower first rate.")
        self.found.emit(r)

    @Slot()
    def _on_use(self) -> None:
        if self.result is not None and math.isfinite(self.result.suggested):
            self.session.set_config(lr=float(f"{self.result.suggested:.3g}"))


# ---- curvature -------------------------------------------------------------------------------------


class CurvatureTab(_Tab):
    """lambda_max of the loss Hessian by power iteration; 2 / lambda_max against the rate in use,
    on demand and, if asked, every N epochs while training."""

    measured = Signal(float, float, int)  # lambda_max, 2 / lambda_max, epoch

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.result: curvature.Curvature | None = None
        self.rows: list[tuple[int, float, float, float]] = []  # epoch, lambda, limit, lr
        self._next_epoch: int | None = None
        self.run_button = QPushButton("Compute lambda_max")
        self.rows_box = _rows_box(0, special="one batch (at most 256 rows)")
        self.iters_box = _rows_box(100, 10_000)
        self.iters_box.setMinimum(5)
        self.every_check = QCheckBox("every")
        self.every_box = _rows_box(50, 1_000_000)
        self.every_box.setMinimum(1)
        self.every_box.setSuffix(" epochs while training")
        self.answer = QLabel("Gradient descent with a rate above 2 / lambda_max oscillates and then diverges "
                             "along the Hessian's top eigenvector.")
        self.answer.setWordWrap(True)
        self.plot = plot_widget("epoch", "learning rate", "2 / lambda_max and the learning rate")
        item = self.plot.getPlotItem()
        item.setLogMode(x=False, y=True)
        item.addLegend(offset=(10, 10))
        self.limit_curve = item.plot([], [], pen=PENS[1], symbol="o", symbolSize=6, symbolBrush=BRUSHES[1],
                                     symbolPen=None, name="2 / lambda_max")
        self.lr_curve = item.plot([], [], pen=pg.mkPen((8, 119, 189), width=2, style=Qt.PenStyle.DashLine),
                                  name="learning rate")
        form = QFormLayout()
        form.addRow("Rows", self.rows_box)
        form.addRow("Power iterations", self.iters_box)
        every = QHBoxLayout()
        every.addWidget(self.every_check)
        every.addWidget(self.every_box)
        form.addRow("Also", every)
        top = QHBoxLayout()
        top.addLayout(form)
        top.addWidget(self.run_button)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.jobs)
        layout.addWidget(self.answer)
        layout.addWidget(self.plot, 1)
        self.run_button.clicked.connect(self._on_run)
        self.every_check.toggled.connect(self._on_every_toggled)
        session.frame.connect(self._on_frame)
        session.dataset_changed.connect(self._on_new_network)
        session.spec_changed.connect(self._on_new_network)

    @Slot()
    def _on_run(self) -> None:
        self._with_state(self._start)

    def _start(self, state: cmd.EngineState) -> None:
        net = network_of(state.net)
        x, y = training_batch(state.dataset, _batch_rows(state, self.rows_box.value(), 256))
        config = state.config
        l2 = config.reg_rate if config.regularization == "l2" else 0.0
        iters = self.iters_box.value()
        epoch = state.epoch

        def job(p):
            f = curvature.LossFunction(net, config.loss, x, y, l2=l2)
            return epoch, config.lr, curvature.top_eigenvalue(f, iters=iters, tol=1e-6, progress=p)

        self.jobs.start(job, f"Power iteration on {net.flat_params.size:,} weights, {len(x)} "
                             f"row(s)", self._show)

    def _show(self, answer) -> None:
        epoch, lr, c = answer
        self.result = c
        limit = c.stability_limit
        side = "below it: gradient descent is stable here" if lr < limit else \
            "<b style='color:#c00000'>above it: plain gradient descent must oscillate here</b>"
        self.answer.setText(f"lambda_max = <b>{c.lambda_max:.5g}</b> at epoch {epoch:,} ({c.iterations} "
                            f"power "
                            f"iterations{'' if c.converged else ', not converged'}); stability limit 2 / "
                            f"lambda_max "
                            f"= <b>{limit:.5g}</b>; the learning rate {lr:g} is {side}.")
        self.rows = [r for r in self.rows if r[0] != epoch] + [(epoch, c.lambda_max, limit, lr)]
        self.rows.sort()
        if self._next_epoch is not None:  # measured at the engine's epoch, which ran on meanwhile
            self._next_epoch = max(self._next_epoch, epoch + self.every_box.value())
        ep = np.array([r[0] for r in self.rows], float)
        limits = np.array([r[2] for r in self.rows])
        finite = np.isfinite(limits) & (limits > 0)
        self.limit_curve.setData(ep[finite], limits[finite])
        self.lr_curve.setData(ep, np.array([r[3] for r in self.rows]))
        self.measured.emit(c.lambda_max, limit, epoch)

    @Slot(bool)
    def _on_every_toggled(self, on: bool) -> None:
        self._next_epoch = self.session.epoch + self.every_box.value() if on else None
        if on:
            self._on_run()  # now, then every N epochs

    @Slot(object)
    def _on_frame(self, frame) -> None:
        if self._next_epoch is None or self.jobs.busy:
            return
        epoch = frame.snapshot.epoch
        if epoch >= self._next_epoch:
            self._next_epoch = epoch + self.every_box.value()
            self._on_run()

    @Slot(object)
    def _on_new_network(self, _value) -> None:
        self.rows = []
        self.limit_curve.setData([], [])
        self.lr_curve.setData([], [])
        if self._next_epoch is not None:
            self._next_epoch = 0


# ---- loss landscape --------------------------------------------------------------------------------


class LandscapeTab(_Tab):
    """The loss along initial -> current weights, and over a plane around the current weights:
    two filter-normalised random directions, or the plane of the recorded path (PCA)."""

    drawn = Signal(object)  # a landscape.Line or landscape.Plane

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.result = None
        self.path: list[np.ndarray] = []  # weights sampled from frames while recording
        self.path_epochs: list[int] = []
        self._path_spec = None
        self.line_button = QPushButton("1-D: initial → current")
        self.plane_button = QPushButton("2-D: random directions")
        self.path_button = QPushButton("2-D: plane of the path")
        self.path_button.setEnabled(False)
        self.record_check = QCheckBox("Record the path while training, every")
        self.record_box = _rows_box(10, 100_000)
        self.record_box.setMinimum(1)
        self.record_box.setSuffix(" epoch(s)")
        self.path_label = QLabel("no path recorded")
        self.points_box = _rows_box(21, 101)
        self.points_box.setMinimum(5)
        self.span_box = QDoubleSpinBox()
        self.span_box.setRange(0.05, 20.0)
        self.span_box.setValue(1.0)
        self.span_box.setSingleStep(0.25)
        self.seed_box = _rows_box(0, 1_000_000)
        self.answer = QLabel("")
        self.answer.setWordWrap(True)
        self.plot = plot_widget("alpha", "loss")
        item = self.plot.getPlotItem()
        self.curve = item.plot([], [], pen=PENS[0])
        self.image = pg.ImageItem()
        self.image.setColorMap(pg.colormap.get("viridis"))
        item.addItem(self.image)
        self.path_curve = item.plot([], [], pen=pg.mkPen("w", width=2), symbol="o", symbolSize=5,
                                    symbolBrush=pg.mkBrush(255, 255, 255), symbolPen=pg.mkPen("k"))
        self.here = item.plot([], [], pen=None, symbol="+", symbolSize=14, symbolPen=pg.mkPen("r", width=2))
        self.hover = QLabel("")
        form = QFormLayout()
        form.addRow("Points a side", self.points_box)
        form.addRow("Plane half-width", self.span_box)
        form.addRow("Direction seed", self.seed_box)
        record = QHBoxLayout()
        record.addWidget(self.record_check)
        record.addWidget(self.record_box)
        record.addWidget(self.path_label, 1)
        buttons = QVBoxLayout()
        for b in (self.line_button, self.plane_button, self.path_button):
            buttons.addWidget(b)
        top = QHBoxLayout()
        top.addLayout(form)
        top.addLayout(buttons)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(record)
        layout.addWidget(self.jobs)
        layout.addWidget(self.answer)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.hover)
        self.line_button.clicked.connect(lambda: self._with_state(self._start_line))
        self.plane_button.clicked.connect(lambda: self._with_state(self._start_plane))
        self.path_button.clicked.connect(lambda: self._with_state(self._start_path))
        session.frame.connect(self._on_frame)
        session.spec_changed.connect(self._on_new_network)
        session.dataset_changed.connect(self._on_new_network)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # --- the path ---------------------------------------------------------------------------
    @Slot(object)
    def _on_frame(self, frame) -> None:
        if not self.record_check.isChecked():
            return
        snap = frame.snapshot
        if self.path_epochs and snap.epoch < self.path_epochs[-1] + self.record_box.value():
            return
        w = np.concatenate([v.ravel() for v in snap.weights.values()]).astype(np.float64)
        if self.path and w.shape != self.path[-1].shape:
            self._on_new_network(None)
        self.path.append(w)
        self.path_epochs.append(snap.epoch)
        self.path_label.setText(f"{len(self.path)} point(s), epochs {self.path_epochs[0]:,} to "
                                f"{self.path_epochs[-1]:,}")
        self.path_button.setEnabled(len(self.path) >= 3)

    @Slot(object)
    def _on_new_network(self, _value) -> None:
        self.path, self.path_epochs = [], []
        self.path_label.setText("no path recorded")
        self.path_button.setEnabled(False)

    # --- jobs -------------------------------------------------------------------------------
    def _evaluator(self, state: cmd.EngineState) -> landscape.Evaluator:
        x, y = training_batch(state.dataset, LANDSCAPE_ROWS)
        return landscape.Evaluator(network_of(state.net), state.config.loss, x, y)

    def _start_line(self, state: cmd.EngineState) -> None:
        f = self._evaluator(state)
        seed = int(state.meta.get("net_seed", 0))
        start = Network(state.net.spec, np.random.default_rng(seed)).flat_params.astype(np.float64)
        points = max(self.points_box.value(), 11)
        self._line_note = (f"The loss on {len(f.x):,} training row(s) along the straight line from the "
                           f"initial "
                           f"weights (alpha 0) to the weights of epoch {state.epoch:,} (alpha 1). The bench "
                           f"keeps no copy of the initial weights: these are a fresh network from the "
                           f"experiment's seed {seed}, which is where a run starts unless the network was "
                           "edited or loaded from a file.")
        self.jobs.start(lambda p: landscape.line(f, start, f.center, points=points, progress=p),
                        "Loss along the line", self._show_line)

    def _start_plane(self, state: cmd.EngineState) -> None:
        f = self._evaluator(state)
        seed, span, points = self.seed_box.value(), self.span_box.value(), self.points_box.value()
        path = np.array(self.path) if len(self.path) and self.path[0].shape == f.center.shape else None
        self._plane_note = (f"The loss on {len(f.x):,} training row(s) over the plane through the weights "
                            f"of epoch "
                            f"{state.epoch:,} (the red cross) spanned by two random directions, "
                            f"filter-normalised "
                            "as in Li et al. 2018: each neuron's incoming weights in a direction have the "
                            "norm of "
                            "that neuron's own weights; biases are held still.")
        self.jobs.start(lambda p: landscape.random_plane(f, seed=seed, span=span, points=points, path=path,
                                                         progress=p),
                        f"Loss over {points} x {points} points", self._show_plane)

    def _start_path(self, state: cmd.EngineState) -> None:
        f = self._evaluator(state)
        if len(self.path) < 3 or self.path[0].shape != f.center.shape:
            self.jobs.status.setText("Record at least 3 points of the path first")
            return
        path = np.array(self.path)
        points = self.points_box.value()
        self._plane_note = (f"The loss over the plane of the path's first two principal directions (PCA of "
                            f"the "
                            f"{len(path)} weight vectors recorded from epoch {self.path_epochs[0]:,} to "
                            f"{self.path_epochs[-1]:,}), through the weights of epoch {state.epoch:,} (red "
                            f"cross); "
                            "the white line is the path. (Checkpoints are not kept by the bench yet: the "
                            "path is "
                            "what this tab recorded from the frames while it watched.)")
        self.jobs.start(lambda p: landscape.path_plane(f, path, points=points, progress=p),
                        f"Loss over {points} x {points} points", self._show_plane)

    def _show_line(self, line: landscape.Line) -> None:
        self.result = line
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "alpha (0: initial weights, 1: now)")
        item.setLabel("left", "loss")
        self.image.setVisible(False)
        self.path_curve.setData([], [])
        self.here.setData([1.0], [float(line.losses[np.argmin(np.abs(line.alphas - 1))])])
        self.curve.setData(line.alphas, line.losses)
        item.setAspectLocked(False)
        item.autoRange()
        self.answer.setText(self._line_note)
        self.drawn.emit(line)

    def _show_plane(self, plane: landscape.Plane) -> None:
        self.result = plane
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "alpha (first direction)")
        item.setLabel("left", "beta (second direction)")
        self.curve.setData([], [])
        z = np.log10(np.maximum(np.nan_to_num(plane.losses, nan=np.nanmax(plane.losses)), 1e-12))
        self.image.setImage(z, autoLevels=True)
        a, b = plane.alphas, plane.betas
        da, db = (a[-1] - a[0]) / max(len(a) - 1, 1), (b[-1] - b[0]) / max(len(b) - 1, 1)
        self.image.setRect(a[0] - da / 2, b[0] - db / 2, a[-1] - a[0] + da, b[-1] - b[0] + db)
        self.image.setVisible(True)
        if plane.path is not None:
            self.path_curve.setData(plane.path[:, 0], plane.path[:, 1])
        else:
            self.path_curve.setData([], [])
        self.here.setData([0.0], [0.0])
        item.autoRange()
        extra = ""
        if plane.explained is not None:
            extra = (f" The two directions hold {plane.explained[0]:.0%} and {plane.explained[1]:.0%} of the "
                     "path's variance.")
        elif plane.path is not None:
            extra = " The white line is the recorded path's (small) projection on the two random directions."
        self.answer.setText(self._plane_note + f" Colour: log10 of the loss, from "
                                               f"{np.nanmin(plane.losses):.4g} "
                            f"to {np.nanmax(plane.losses):.4g}." + extra)
        self.drawn.emit(plane)

    @Slot(object)
    def _on_mouse_moved(self, pos) -> None:
        r = self.result
        if not isinstance(r, landscape.Plane):
            return
        p = self.plot.getPlotItem().vb.mapSceneToView(pos)
        c = int(np.argmin(np.abs(r.alphas - p.x())))
        row = int(np.argmin(np.abs(r.betas - p.y())))
        self.hover.setText(f"alpha {r.alphas[c]:.3g}, beta {r.betas[row]:.3g}: loss {r.losses[row, c]:.5g}")
