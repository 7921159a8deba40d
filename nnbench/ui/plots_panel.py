"""The plots panel: what the network outputs over the data, and how training is going."""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Slot
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from nnbench.data import Dataset
from nnbench.engine import features as feature_maps
from nnbench.ui import colors
from nnbench.ui.axes import nice_ceiling
from nnbench.ui.mnist_view import MnistView
from nnbench.ui.session import Session, View
from nnbench.ui.worker import Frame, grid_side

TRAIN_PEN = pg.mkPen((8, 119, 189), width=2)
TEST_PEN = pg.mkPen((245, 147, 34), width=2, style=Qt.PenStyle.DashLine)


MAX_CURVE_POINTS = 1500
# While training, the loss and accuracy curves are redrawn at most this often (a frame that is
# not training always redraws them): they move a pixel in many frames, and their two plots were
# 8-10 ms of every frame's painting for the 2-8-1 XOR, more than the surface and the diagram.
CURVES_INTERVAL = 1 / 10
PIECES = (("plots", "output"), ("plots", "loss"), ("plots", "acc"))  # show_frame's turns
# Orange (negative, or class 0) through white to blue (positive, or class 1), as the surfaces.
_DIVERGING = pg.ColorMap(np.linspace(0.0, 1.0, 33), colors.diverging_rgb(np.linspace(-1.0, 1.0, 33), 1.0))


def _curves_title(what: str) -> str:
    """A plot title that says which line is which (blue solid train, orange dashed test)."""
    blue, orange = "#%02x%02x%02x" % colors.BLUE, "#%02x%02x%02x" % colors.ORANGE
    return (f"<span style='color:#333'>{what}:</span> <span style='color:{blue}'>━ train</span> "
            f"<span style='color:{orange}'>╍ test</span>")


def thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most ~MAX_CURVE_POINTS evenly strided points and always the last one: drawing cost
    must not grow with the number of epochs (100,000 epochs of a tiny net take seconds)."""
    n = len(x)
    if n <= MAX_CURVE_POINTS:
        return x, y
    stride = -(-n // MAX_CURVE_POINTS)
    idx = np.r_[np.arange(0, n - 1, stride), n - 1]
    return x[idx], y[idx]


class LogLabelAxis(pg.AxisItem):
    """On a log scale, labels 1, 2 and 5 times a power of ten only when a decade has many
    ticks: all of 0.06, 0.07, 0.08, 0.09 ran into each other."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph's name)
        strings = super().tickStrings(values, scale, spacing)
        if not self.logMode or len(values) <= 6:
            return strings
        keep = []
        for v, text in zip(values, strings, strict=False):
            m = 10.0 ** (v - np.floor(v))
            keep.append(text if min(abs(m - k) for k in (1, 2, 5, 10)) < 1e-6 else "")
        return keep


def _plot(title: str, x_label: str, y_label: str, axis: pg.AxisItem | None = None) -> pg.PlotWidget:
    w = pg.PlotWidget(background="w", axisItems={"left": axis} if axis is not None else None)
    item = w.getPlotItem()
    item.setTitle(title, color="#333", size="11pt")
    item.setLabel("bottom", x_label, color="#333")
    item.setLabel("left", y_label, color="#333")
    for axis in ("left", "bottom"):
        item.getAxis(axis).setTextPen("#333")
        item.getAxis(axis).setPen("#888")
    return w


STATUS_FLAGS = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap)


class StatusText(QWidget):
    """A line or two of text that changes every frame without asking any layout to run again
    (a QLabel's setText does, and the relayout repainted the whole window every frame)."""

    def __init__(self, lines: int = 2, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(lines * self.fontMetrics().lineSpacing() + 2)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 (as QLabel says it)
        if text != self._text:
            self._text = text
            self.setToolTip(text)
            self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(200, self.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(0, self.height())

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        painter.setFont(self.fitting_font())
        painter.drawText(self.rect(), STATUS_FLAGS, self._text)
        painter.end()

    def fitting_font(self) -> QFont:
        """The widget's font, smaller if need be so the text fits its lines: a narrow panel
        (a 1024 px wide window) wrapped the two lines into four and cut the losses off. The
        tooltip has the text at full size."""
        font = QFont(self.font())
        size = font.pointSizeF()
        while size > 6 and QFontMetrics(font).boundingRect(self.rect(), STATUS_FLAGS, self._text).height() \
                > self.height():
            size -= 0.5
            font.setPointSizeF(size)
        return font


class PlotsPanel(QTabWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.dataset: Dataset | None = None
        self.view: View | None = None
        self.frames_drawn = 0
        self.hovered = (-1, -1)  # the diagram's neuron under the pointer: (column, index)
        self._last_frame: Frame | None = None
        self._stale = False  # frames came while the Training tab was hidden
        self._curves_at = -np.inf  # time.monotonic() of the curves' last update
        self.divergence_note = ""
        self._x_hi: dict[pg.PlotWidget, float] = {}  # each curve plot's epoch axis, as last set
        self._curves_of: object = None  # the history the curves were last drawn from (not while training)
        self._y_key = None

        # Output: decision surface, fitted curve, or per-row bars.
        self.output_plot = _plot("Output", "x1", "x2")
        self.output_plot.setMinimumSize(240, 220)
        self.surface = pg.ImageItem()
        self.output_plot.addItem(self.surface)
        self.fit_curve = pg.PlotDataItem(pen=pg.mkPen((20, 20, 20), width=2.5))
        self.output_plot.addItem(self.fit_curve)
        # 1-D data: the diagram's hovered neuron, its output along x
        self.neuron_curve = pg.PlotDataItem(pen=pg.mkPen(colors.ORANGE, width=2.5))
        self.neuron_curve.setVisible(False)
        self.output_plot.addItem(self.neuron_curve)
        self.target_bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=None,
                                           pen=pg.mkPen("#333", width=1.5))
        self.output_bars = pg.BarGraphItem(x=[], height=[], width=0.45, brush=pg.mkBrush(8, 119, 189, 200))
        self.output_plot.addItem(self.target_bars)
        self.output_plot.addItem(self.output_bars)
        self.train_points = pg.ScatterPlotItem(size=8, pen=pg.mkPen("w", width=1))
        self.test_points = pg.ScatterPlotItem(size=8, pen=pg.mkPen("#222", width=1.2))
        self.output_plot.addItem(self.train_points)
        self.output_plot.addItem(self.test_points)
        for z, item in enumerate((self.train_points, self.test_points)):  # always over the surface
            item.setZValue(10 + z)
        # Which colour is which class, and (two classes or regression) a colour bar for the surface.
        # Under the plot as wrapped text: inside the plot it covered points, and a legend item in
        # the plot's own layout made a narrow plot wider than its view (cut off on the right).
        self.class_legend = QLabel()
        self.class_legend.setWordWrap(True)
        self.class_legend.setTextFormat(Qt.TextFormat.RichText)
        self.colour_bar = pg.ColorBarItem(values=(0, 1), width=14, colorMap=_DIVERGING, interactive=False,
                                          colorMapMenu=False, pen="#888")
        self.colour_bar.setVisible(False)
        self._bar_in_layout = False
        self.output_note = QLabel()
        self.output_note.setWordWrap(True)

        # Loss and accuracy curves, train solid and test dashed.
        self.loss_plot = _plot("Loss", "epoch", "loss", LogLabelAxis("left"))
        # No SI prefix: on a log axis it turned 0.06-0.7 into "60-700 (x0.001)".
        self.loss_plot.getPlotItem().getAxis("left").enableAutoSIPrefix(False)
        # Which line is which goes in the title: a legend inside the plot sat on the curves.
        self.loss_plot.getPlotItem().setTitle(_curves_title("Loss"), size="11pt")
        self.loss_train = self.loss_plot.plot(pen=TRAIN_PEN, name="train")
        self.loss_test = self.loss_plot.plot(pen=TEST_PEN, name="test")
        self.acc_plot = _plot("Accuracy", "epoch", "accuracy")
        self.acc_plot.getPlotItem().setTitle(_curves_title("Accuracy"), size="11pt")
        self.acc_plot.setYRange(0, 1.02)
        # Three labels: a short plot had six run into each other.
        self.acc_plot.getPlotItem().getAxis("left").setTicks([[(0, "0"), (0.5, "0.5"), (1, "1")],
                                                              [(v, "") for v in (0.25, 0.75)]])
        self.acc_train = self.acc_plot.plot(pen=TRAIN_PEN, name="train")
        self.acc_test = self.acc_plot.plot(pen=TEST_PEN, name="test")
        for curve in (self.loss_train, self.loss_test, self.acc_train, self.acc_test):
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        self.log_loss = QCheckBox("log scale")
        self.log_loss.setChecked(True)
        # Three lines, any width, wrapped: a narrow panel still shows it all.
        self.status = StatusText(3)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.output_plot, 1)
        left_layout.addWidget(self.class_legend)
        left_layout.addWidget(self.output_note)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.loss_plot, 3)
        right_layout.addWidget(self.acc_plot, 2)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.log_loss)
        right_layout.addLayout(row)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.addTab(split, "Training")

        # Weights: one heatmap per layer, inputs across, neurons down.
        self.weights_view = pg.GraphicsLayoutWidget()
        self.weights_view.setBackground("w")
        self.weight_images: list[pg.ImageItem] = []
        self.weight_bars: list[pg.ColorBarItem] = []
        self.addTab(self.weights_view, "Weights")

        # Digits: samples, confusion matrix, misclassified digits, drawing pad (image data).
        # Built on first use (image data, or the tab clicked): it took a quarter of a second of
        # the window's cold start, for a tab most datasets never show.
        self._digits_page: QWidget = QWidget()  # the tab's page: a stand-in, then the view
        self._mnist_view: MnistView | None = None
        self.addTab(self._digits_page, "Digits")

        self.log_loss.toggled.connect(self._on_log_toggled)
        self.currentChanged.connect(self._on_tab_changed)
        session.dataset_changed.connect(self._on_dataset_changed)
        session.frame.connect(self.show_frame)
        session.running_changed.connect(self._on_running_changed)
        self._on_log_toggled(True)

    @Slot(int, int)
    def show_neuron(self, column: int, index: int) -> None:
        """Show neuron ``index`` of diagram column ``column`` large in place of the decision
        surface (column 0: an input feature); (-1, -1) goes back to the network's output."""
        self.hovered = (column, index)
        ds = self.dataset
        if ds is None or not (ds.n_features == 2 or (ds.n_features == 1 and ds.task == "regression")):
            return
        if self._last_frame is not None and self._last_frame.dataset is ds:
            self._draw_output(self._last_frame, ds)
        else:
            self.neuron_curve.setVisible(False)
            self._title_surface()

    def neuron_map(self, frame: Frame | None) -> tuple[np.ndarray, float, str] | None:
        """(values over the view grid as (res, res), colour limit, title) of the hovered neuron;
        for 1-D data the values along x, (res,)."""
        column, index = self.hovered
        spec, view = self.session.spec, self.view
        if column < 0 or spec is None or view is None or view.grid is None \
                or view.grid.shape[1] not in (1, 2):
            return None
        if column == 0 and view.grid.shape[1] == 1:
            values, limit = view.grid[:, 0], 1.0
            name = self.dataset.feature_names[0] if self.dataset is not None else "x"
            title = f"Input {name}"
        elif column == 0:
            names = spec.input_names
            if names is None or index >= len(names):
                return None
            values = feature_maps.expand(view.grid, (names[index],))[:, 0]
            limit = float(np.max(np.abs(values))) or 1.0
            title = f"Input feature {feature_maps.LABELS[names[index]]}"
        else:
            if frame is None or frame.grid_hidden is None or frame.grid_output is None:
                return None
            outputs = (*frame.grid_hidden, frame.grid_output)
            if column - 1 >= len(outputs) or column - 1 >= len(spec.layers) \
                    or index >= outputs[column - 1].shape[1]:
                return None
            values = outputs[column - 1][:, index]
            act = spec.layers[column - 1].activation
            if view.grid.shape[1] == 1:  # a curve: the neuron's own values, as the diagram draws them
                limit = 1.0
            elif act in ("sigmoid", "softmax"):  # a heatmap: 0..1 onto the diverging scale
                values, limit = 2.0 * values - 1.0, 1.0
            elif act == "tanh":
                limit = 1.0
            else:
                limit = float(np.max(np.abs(values))) or 1.0
            where = "Output" if column - 1 == len(spec.layers) - 1 else f"Hidden layer {column}"
            title = f"{where}, neuron {index + 1} ({act})"
        if view.grid.shape[1] == 1:
            return values, limit, title
        side = grid_side(values)
        return values.reshape(side, side), limit, title

    def _title_surface(self, text: str | None = None) -> None:
        classify = self.dataset is not None and self.dataset.task == "classification"
        if self.dataset is not None and self.dataset.n_features == 1:
            text = f"Fitted curve; orange: {text}" if text else "Fitted curve"
        text = text or ("Decision surface" if classify else "Fitted surface")
        if text != self.output_plot.getPlotItem().titleLabel.text:  # a new title costs a relayout
            self.output_plot.getPlotItem().setTitle(text, color="#333", size="11pt")

    def note_divergence(self, text: str) -> None:
        """Show ``text`` in place of the last epoch's losses until training goes on."""
        self.divergence_note = text
        self.status.setText(text)

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        if running:
            self.divergence_note = ""

    @property
    def mnist_view(self) -> MnistView:
        """The Digits tab's view, built the first time it is needed."""
        if self._mnist_view is None:
            view = self._mnist_view = MnistView(self.session)
            index, current = self.indexOf(self._digits_page), self.currentIndex()
            blocked = self.blockSignals(True)  # the same tab, another page: no tab change
            self.removeTab(index)
            self.insertTab(index, view, "Digits")
            self.setCurrentIndex(current)
            self.blockSignals(blocked)
            self._digits_page.deleteLater()
            self._digits_page = view
        return self._mnist_view

    @Slot(int, int)
    def show_digits_neuron(self, column: int, index: int) -> None:
        """The diagram's hovered neuron, for the Digits tab (if it was ever built)."""
        if self._mnist_view is not None:
            self._mnist_view.show_neuron(column, index)

    @Slot(int)
    def _on_tab_changed(self, index: int) -> None:
        if self.widget(index) is self._digits_page:
            self.mnist_view  # noqa: B018 (built on first view)
        # The weights are drawn only while their tab shows: opened while paused, draw the last frame.
        if self.widget(index) is self.weights_view and self._last_frame is not None:
            self._draw_weights(self._last_frame.snapshot.weights)
        elif index == 0 and self._stale and self._last_frame is not None:
            self.frames_drawn -= 1  # the same frame again, not a new one
            self.show_frame(self._last_frame)

    @Slot(bool)
    def _on_log_toggled(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=on)
        self._y_key = None
        if self._last_frame is not None:
            history = self._last_frame.snapshot.history
            self._fit_loss(history)

    @Slot(object)
    def _on_dataset_changed(self, ds: Dataset) -> None:
        self.dataset = ds
        self.view = self.session.view
        self._last_frame = None
        self._curves_of = None
        self.divergence_note = ""
        self._bar_key = None
        self._x_hi.clear()
        self._y_key = None
        self.hovered = (-1, -1)
        if ds.image_shape is not None:
            self.mnist_view  # noqa: B018 (built now, with this dataset)
            self.setCurrentWidget(self._digits_page)
        elif self.currentWidget() is self._digits_page:  # its tab is empty for other data
            self.setCurrentIndex(0)
        self.output_plot.getPlotItem().getAxis("bottom").setTicks(None)  # a table's row labels go
        self._show_classes(ds)
        for item in (self.surface, self.fit_curve, self.neuron_curve, self.target_bars, self.output_bars):
            item.setVisible(False)
        self.train_points.setData([])
        self.test_points.setData([])
        plot = self.output_plot.getPlotItem()
        classify = ds.task == "classification"
        self.acc_plot.setVisible(classify)
        for curve in (self.loss_train, self.loss_test, self.acc_train, self.acc_test):
            curve.setData([], [])
        self._weights_layout = None
        note = ""
        if ds.n_features == 2:
            plot.setTitle("Decision surface" if classify else "Fitted surface")
            plot.setLabel("bottom", ds.feature_names[0])
            plot.setLabel("left", ds.feature_names[1])
            self._scatter_2d(ds)
            x0, x1, y0, y1 = self.view.bounds
            self.surface.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
            self.surface.setVisible(True)
            plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
            # Equal scales where the two inputs are comparable; height (cm) against weight (kg)
            # at one scale was a thin strip in a square box.
            ratio = (x1 - x0) / max(y1 - y0, 1e-12)
            plot.setAspectLocked(1 / 3 <= ratio <= 3)
            note = "filled: training points; rings: test points" if len(ds.x_test) else ""
        elif ds.n_features == 1 and ds.task == "regression":
            plot.setTitle("Fitted curve")
            plot.setLabel("bottom", ds.feature_names[0])
            plot.setLabel("left", ds.target_names[0])
            plot.setAspectLocked(False)
            self.train_points.setData(ds.x_train[:, 0], ds.y_train[:, 0], brush=pg.mkBrush(8, 119, 189, 160))
            self.test_points.setData(ds.x_test[:, 0], ds.y_test[:, 0], brush=pg.mkBrush(255, 255, 255, 0))
            self.fit_curve.setVisible(True)
            plot.enableAutoRange()
        elif len(ds.x_train) <= 64:
            plot.setTitle("Output per row (outline: target)")
            plot.setLabel("bottom", "row")
            plot.setLabel("left", "output")
            plot.setAspectLocked(False)
            n = len(ds.x_train)
            self.target_bars.setOpts(x=np.arange(n), height=ds.y_train[:, 0], width=0.7)
            self.target_bars.setVisible(True)
            self.output_bars.setVisible(True)
            labels = ds.row_labels or tuple("".join(f"{v:g}" for v in row) for row in ds.x_train)
            plot.getAxis("bottom").setTicks([list(enumerate(labels))])
            plot.setRange(xRange=(-0.6, n - 0.4), yRange=(0, 1.05), padding=0)
            note = "bars: the network's output for each row; outlines: the target"
        else:
            plot.setTitle("Output")
            note = f"{ds.n_features} inputs: no plane to draw; see the loss and accuracy curves"
        self.output_note.setText(note)

    def _show_classes(self, ds: Dataset) -> None:
        """The class legend and the colour bar that explain the surface (2-D data)."""
        plot = self.output_plot.getPlotItem()
        parts = []
        two_d = ds.n_features == 2
        if two_d and ds.task == "classification":
            cols = colors.class_colors(max(ds.n_classes, 2))
            for k in range(max(ds.n_classes, 2)):
                name = ds.target_names[k] if k < len(ds.target_names) else str(k)
                hex_colour = "#%02x%02x%02x" % tuple(int(c) for c in cols[k])
                dot = f"<span style='color:{hex_colour}; font-size:14pt'>●</span>"
                parts.append(f"{dot}&nbsp;class&nbsp;{name}")
        if two_d and len(ds.x_test):
            parts.append("<span style='color:#888; font-size:14pt'>●</span>&nbsp;training")
            parts.append("<span style='color:#888; font-size:14pt'>○</span>&nbsp;test")
        self.class_legend.setText("&nbsp;&nbsp; ".join(parts))
        self.class_legend.setVisible(bool(parts))
        bar = self.colour_bar
        wanted = two_d and (ds.task == "regression" or ds.n_classes <= 2)
        if wanted and not self._bar_in_layout:
            plot.layout.addItem(bar, 2, 5)
            plot.layout.setColumnFixedWidth(4, 5)
            self._bar_in_layout = True
        elif not wanted and self._bar_in_layout:
            plot.layout.removeItem(bar)
            self._bar_in_layout = False
        bar.setVisible(wanted)
        if not wanted:
            return
        self._bar_scale()
        bar.axis.setTextPen("#333")

    def _bar_scale(self, neuron_limit: float | None = None) -> None:
        """The colour bar's scale: the surface's (P(class 1), or the target), or the hovered
        neuron's own (-limit..limit) while it is shown in place of the surface."""
        ds, bar = self.dataset, self.colour_bar
        if ds is None or not self._bar_in_layout:
            return
        if neuron_limit is not None:
            levels, label = (-neuron_limit, neuron_limit), "neuron output"
        elif ds.task == "regression":
            lim = float(np.max(np.abs(ds.y_train))) or 1.0
            levels, label = (-lim, lim), ds.target_names[0] if ds.target_names else "output"
        else:
            name = ds.target_names[1] if len(ds.target_names) > 1 else "1"
            levels, label = (0.0, 1.0), f"P(class {name})"
        if (levels, label) != getattr(self, "_bar_key", None):  # a new scale costs a relayout
            self._bar_key = (levels, label)
            bar.setLevels(levels)
            bar.axis.setLabel(label, color="#333")

    def _scatter_2d(self, ds: Dataset) -> None:
        if ds.task == "classification":
            cols = colors.class_colors(max(ds.n_classes, 2))
            brush_train = [pg.mkBrush(*c) for c in cols[Dataset.labels_of(ds.y_train)]]
            brush_test = [pg.mkBrush(*c) for c in cols[Dataset.labels_of(ds.y_test)]]
        else:
            lim = float(np.max(np.abs(ds.y_train))) or 1.0
            brush_train = [pg.mkBrush(*c) for c in colors.diverging_rgb(ds.y_train[:, 0], lim)]
            brush_test = [pg.mkBrush(*c) for c in colors.diverging_rgb(ds.y_test[:, 0], lim)]
        self.train_points.setData(ds.x_train[:, 0], ds.x_train[:, 1], brush=brush_train)
        # Test points: a ring of their class colour round a white centre, which stands out on
        # any part of the surface (filled ones in the class colour sank into it).
        ring = pg.mkBrush("w")
        self.test_points.setData(ds.x_test[:, 0], ds.x_test[:, 1], brush=ring, symbol="o", size=9,
                                 pen=[pg.mkPen(b.color(), width=2.5) for b in brush_test])

    @Slot(object)
    def show_frame(self, frame: Frame) -> None:
        """Draw ``frame``. While training, the output, the loss curves and the accuracy curves
        each get a turn of the event loop of their own (nnbench.ui.turns): their three plots'
        paints used to run back to back with the diagram's. Any other frame is drawn whole at
        once, and pieces of an older frame still waiting are dropped."""
        ds = self.dataset
        if ds is None or frame.dataset is not ds:
            return  # computed before a dataset switch reached this view
        self.frames_drawn += 1
        self._last_frame = frame
        if self.currentIndex() != 0:
            # The curves and the output are on the Training tab: a hidden plot still re-ticks
            # and lays out for every new point. _on_tab_changed draws the last frame.
            self._stale = True
            self.session.turns.drop(*PIECES)
            if self.currentIndex() == 1:
                self._draw_weights(frame.snapshot.weights)
            return
        self._stale = False
        snap = frame.snapshot
        h = snap.history
        # Log scale needs positive values; a perfect fit's 0 loss is drawn at 1e-12.
        if not len(h["epoch"]):  # a reset: nothing of the old run stays, its axes neither
            self._curves_of = None
            self._x_hi.clear()
            self._y_key = None
            self.divergence_note = ""
        self._draw_status(snap, h)
        now = time.monotonic()
        # While training the curves move a pixel in many frames: at most every CURVES_INTERVAL.
        curves = not (frame.running and len(h["epoch"]) and now - self._curves_at < CURVES_INTERVAL)
        if curves:
            self._curves_at = now
        if not frame.running:
            self.session.turns.drop(*PIECES)
            # Timeline moves bring the same history each time (only the marker moves): the
            # curves are drawn once for it, not at every move.
            if curves and h is not self._curves_of:
                self._draw_loss(frame)
                self._draw_acc(frame)
                self._curves_of = h
            self._draw_output(frame, ds)
            return
        self._curves_of = None
        turns = self.session.turns
        turns.later(PIECES[0], lambda: self._piece(frame, lambda: self._draw_output(frame, ds)))
        if curves:
            turns.later(PIECES[1], lambda: self._piece(frame, lambda: self._draw_loss(frame)))
            turns.later(PIECES[2], lambda: self._piece(frame, lambda: self._draw_acc(frame)))

    def _piece(self, frame: Frame, draw) -> None:
        """A waiting piece of ``frame``: drawn unless the data or the tab changed meanwhile."""
        if frame.dataset is not self.dataset:
            return
        if self.currentIndex() != 0:
            self._stale = True
            return
        draw()

    def _draw_loss(self, frame: Frame) -> None:
        h = frame.snapshot.history
        epochs = h["epoch"]
        self.loss_train.setData(*thin(epochs, np.maximum(h["train_loss"], 1e-12)))
        if len(epochs) and np.isfinite(h["test_loss"][-1]):
            self.loss_test.setData(*thin(epochs, np.maximum(h["test_loss"], 1e-12)))
        else:
            self.loss_test.setData([], [])
        self._fit_epochs(self.loss_plot, epochs)
        self._fit_loss(h)

    def _draw_acc(self, frame: Frame) -> None:
        if frame.dataset.task != "classification":
            return
        h = frame.snapshot.history
        epochs = h["epoch"]
        self.acc_train.setData(*thin(epochs, h["train_acc"]))
        if len(epochs) and np.isfinite(h["test_acc"][-1]):
            self.acc_test.setData(*thin(epochs, h["test_acc"]))
        else:
            self.acc_test.setData([], [])
        self._fit_epochs(self.acc_plot, epochs)

    def _draw_status(self, snap, h) -> None:
        # Two lines of their own, so a narrow panel never cuts the losses off.
        text = f"epoch {snap.epoch:,}   step {snap.step:,}   lr {snap.lr:g}"
        if len(h["train_loss"]):
            text += f"\nloss: train {h['train_loss'][-1]:.4g}"
            if np.isfinite(h["test_loss"][-1]):
                text += f"   test {h['test_loss'][-1]:.4g}"
        # After a divergence the last epochs' losses are those of weights no longer in use: the
        # note that says which weights are back stays until training goes on.
        self.status.setText(self.divergence_note or text)

    # Axes move in steps, not every frame: epochs up to the next round number (see
    # nice_ceiling), the loss to whole decades (log scale) or the next round number (linear).
    # New tick labels at every frame cost the GUI thread most of a frame's drawing and made the
    # axes jitter.
    def _fit_epochs(self, plot: pg.PlotWidget, epochs: np.ndarray) -> None:
        x_hi = nice_ceiling(max(float(epochs[-1]) if len(epochs) else 0.0, 10.0))
        if x_hi != self._x_hi.get(plot):
            self._x_hi[plot] = x_hi
            plot.setXRange(0, x_hi, padding=0.02)

    def _fit_loss(self, h) -> None:
        values = np.concatenate([h["train_loss"], h["test_loss"]])
        values = values[np.isfinite(values)]
        if not values.size:
            key = (-1, 0) if self.log_loss.isChecked() else (0.0, 1.0)
            if key != self._y_key:
                self._y_key = key
                self.loss_plot.setYRange(*key, padding=0.02)
            return
        lo, hi = max(float(values.min()), 1e-12), max(float(values.max()), 1e-12)
        if self.log_loss.isChecked():
            key = (math.floor(math.log10(lo)), max(math.ceil(math.log10(hi)), math.floor(math.log10(lo)) + 1))
        else:
            key = (0.0, nice_ceiling(hi))
        if key != self._y_key:
            self._y_key = key
            self.loss_plot.setYRange(*key, padding=0.02)

    def _draw_output(self, frame: Frame, ds: Dataset) -> None:
        out = frame.grid_output
        hovered = self.neuron_map(frame) if self.hovered[0] >= 0 else None
        if ds.n_features == 1 and ds.task == "regression":
            if hovered is not None:
                self.neuron_curve.setData(self.view.grid[:, 0], hovered[0])
            self.neuron_curve.setVisible(hovered is not None)
            self._title_surface(hovered[2] if hovered is not None else None)
        if hovered is not None and ds.n_features == 2:
            values, limit, title = hovered
            self._bar_scale(limit)
            self.surface.setImage(colors.diverging_rgb(values, limit), autoLevels=False, levels=(0, 255))
            x0, x1, y0, y1 = self.view.bounds
            self.surface.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
            self._title_surface(title)
            return
        if out is not None and ds.n_features == 2 and self.view is not None:
            self._title_surface()
            self._bar_scale()
            res = grid_side(out)
            if ds.task == "classification":
                rgb = colors.surface_rgb(colors.probabilities(out), (res, res))
            else:
                lim = float(np.max(np.abs(ds.y_train))) or 1.0
                rgb = colors.diverging_rgb(out[:, 0].reshape(res, res), lim)
            self.surface.setImage(rgb, autoLevels=False, levels=(0, 255))
            x0, x1, y0, y1 = self.view.bounds
            # After setImage: a rect set while the item had no image scales the new one wrongly.
            self.surface.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        elif out is not None and ds.n_features == 1 and ds.task == "regression":
            self.fit_curve.setData(self.view.grid[:, 0], out[:, 0])
        elif frame.data_output is not None and self.output_bars.isVisible():
            n = len(frame.data_output)
            self.output_bars.setOpts(x=np.arange(n), height=frame.data_output[:, 0], width=0.45)

    def _draw_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Every layer's weights as a heatmap: a row per neuron, a column per input, each layer
        with its own colour bar (orange negative, blue positive, symmetric about zero)."""
        names = sorted((k for k in weights if k.endswith(".W")), key=lambda k: int(k[5:-2]))
        layout = tuple(weights[k].shape for k in names)
        if len(self.weight_images) != len(names) or getattr(self, "_weights_layout", None) != layout:
            self.weights_view.clear()
            self.weight_images, self.weight_bars = [], []
            spec = self.session.spec
            inputs = spec.input_names if spec is not None else None
            for i, k in enumerate(names):
                p = self.weights_view.addPlot(row=i, col=0)
                n_in, n_out = weights[k].shape
                p.setTitle(f"layer {i + 1}: {n_in} inputs → {n_out} neurons", color="#333", size="10pt")
                p.setLabel("left", "neuron", color="#333")
                p.setLabel("bottom", "input" if i == 0 else f"neuron of layer {i}", color="#333")
                for side in ("left", "bottom"):
                    p.getAxis(side).setTextPen("#333")
                    p.getAxis(side).setPen("#888")
                if n_out <= 20:
                    p.getAxis("left").setTicks([[(j + 0.5, str(j + 1)) for j in range(n_out)]])
                if n_in <= 20:
                    labels = ([feature_maps.LABELS.get(n, n) for n in inputs] if i == 0 and inputs
                              and len(inputs) == n_in else [str(j + 1) for j in range(n_in)])
                    p.getAxis("bottom").setTicks([[(j + 0.5, t) for j, t in enumerate(labels)]])
                p.invertY(True)  # neuron 1 at the top
                p.setMenuEnabled(False)
                p.hideButtons()
                img = pg.ImageItem()
                img.setColorMap(_DIVERGING)
                p.addItem(img)
                p.setAspectLocked(False)
                bar = pg.ColorBarItem(values=(-1, 1), width=12, colorMap=_DIVERGING, interactive=False,
                                      colorMapMenu=False, pen="#888")
                bar.setImageItem(img, insert_in=p)
                bar.axis.setTextPen("#333")
                self.weight_images.append(img)
                self.weight_bars.append(bar)
            self._weights_layout = layout
        for img, bar, k in zip(self.weight_images, self.weight_bars, names, strict=True):
            w = weights[k].T  # neurons down, inputs across
            lim = float(np.max(np.abs(w))) if w.size else 1.0
            lim = lim if lim > 0 and np.isfinite(lim) else 1.0
            img.setImage(w, autoLevels=False, levels=(-lim, lim))
            img.setRect(QRectF(0, 0, w.shape[1], w.shape[0]))
            bar.setLevels((-lim, lim))
