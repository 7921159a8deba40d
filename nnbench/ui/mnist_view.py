"""Image datasets (MNIST): sample digits, class counts, the mean image; and while training,
accuracy curves, a confusion matrix, misclassified test digits and first-layer weights.

Test-set predictions run on the engine thread (``Session.predict``), on at most
``PREDICT_ROWS`` rows, at most every ``PREDICT_INTERVAL`` seconds while training, and once
more whenever training stops or the view is shown.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QGroupBox, QLabel, QScrollArea, QStackedLayout, QVBoxLayout, QWidget

from nnbench.data import Dataset
from nnbench.ui import colors
from nnbench.ui.axes import nice_ceiling
from nnbench.ui.draw_pad import DrawPad
from nnbench.ui.session import Session
from nnbench.ui.worker import Frame

PREDICT_ROWS = 2000
PREDICT_INTERVAL = 2.0  # seconds between test-set predictions while training
WEIGHTS_INTERVAL = 0.25  # seconds between weight-image redraws while training (32 tiles)
SAMPLE_GRID = (4, 8)  # rows, columns of sample digits
GALLERY_GRID = (4, 6)
WEIGHT_GRID = (4, 8)
PAD = 2  # pixels between tiles
LABEL_COLOR = (200, 30, 30)
CELL = 34  # pixels per confusion-matrix cell at least: "1,000" at 8 pt fits


def mosaic(images: np.ndarray, grid: tuple[int, int], fill: float = 0.0) -> np.ndarray:
    """``images`` (n, h, w[, c]) as one row-major picture of ``grid`` tiles; empty tiles ``fill``."""
    rows, cols = grid
    n, h, w = images.shape[:3]
    out = np.full((rows * (h + PAD) - PAD, cols * (w + PAD) - PAD, *images.shape[3:]), fill, images.dtype)
    for i in range(min(n, rows * cols)):
        r, c = divmod(i, cols)
        out[r * (h + PAD) : r * (h + PAD) + h, c * (w + PAD) : c * (w + PAD) + w] = images[i]
    return out


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """(k, k) counts: row = true class, column = predicted class."""
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (true, predicted), 1)
    return m


def _image_plot(
    layout: pg.GraphicsLayoutWidget, title: str, row: int, col: int, **kw
) -> tuple[pg.PlotItem, pg.ImageItem]:
    p = layout.addPlot(row=row, col=col, **kw)
    p.setTitle(title, color="#333", size="9pt")
    p.hideAxis("bottom")
    p.hideAxis("left")
    p.setMenuEnabled(False)
    p.setMouseEnabled(False, False)
    p.hideButtons()
    p.invertY(True)  # image row 0 at the top: digits upright
    p.setAspectLocked(True)
    img = pg.ImageItem()
    p.addItem(img)
    return p, img


class Labels(pg.GraphicsObject):
    """Short texts at fixed data positions, drawn unscaled by one item in one paint.

    One ``pg.TextItem`` per label cost 0.1 ms a ``setText`` (10 ms for the confusion matrix's
    hundred counts, every two seconds while training) and a transform update per item before
    every paint of the page; this item paints them all with one painter. ``anchor`` is the point
    of each text's box that sits on its position, as TextItem's: (0, 0) its top left, (0.5, 0.5)
    its centre.
    """

    def __init__(self, positions: np.ndarray, area: QRectF, color=(20, 20, 20), anchor=(0.0, 0.0),
                 font=None) -> None:
        """``area`` (data coordinates) holds every text: the tiles' or cells' own extent."""
        super().__init__()
        self.setZValue(10)  # over the image
        self._pos = np.asarray(positions, dtype=float).reshape(-1, 2)
        self._texts = [""] * len(self._pos)
        self._colors: list[QColor] = [QColor(*color)] * len(self._pos)
        self._anchor = anchor
        self._font = font if font is not None else _small_font()
        self._rect = QRectF(area)

    def __len__(self) -> int:
        return len(self._texts)

    def text(self, i: int) -> str:
        return self._texts[i]

    def texts(self) -> list[str]:
        return list(self._texts)

    def font(self) -> QFont:
        return self._font

    def set_texts(self, texts, colors=None) -> None:
        """Every label's text (missing ones empty) and, optionally, every label's colour."""
        texts = [str(t) for t in texts][: len(self._texts)]
        texts += [""] * (len(self._texts) - len(texts))
        new_colors = self._colors if colors is None else [QColor(*c) for c in colors]
        if texts != self._texts or new_colors != self._colors:
            self._texts, self._colors = texts, new_colors
            self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return self._rect

    def paint(self, painter, *args) -> None:
        if not any(self._texts):
            return
        to_device = painter.transform()
        painter.save()
        painter.resetTransform()
        painter.setFont(self._font)
        metrics = QFontMetrics(self._font)
        ax, ay = self._anchor
        height = metrics.height()
        for (x, y), text, color in zip(self._pos, self._texts, self._colors, strict=True):
            if not text:
                continue
            at = to_device.map(QPointF(x, y))
            width = metrics.horizontalAdvance(text)
            painter.setPen(color)
            painter.drawText(QRectF(at.x() - ax * width, at.y() - ay * height, width + 2, height),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, text)
        painter.restore()


def _tile_labels(plot: pg.PlotItem, grid: tuple[int, int], size: int, color=(20, 20, 20)) -> Labels:
    """One label at the top left of every tile of a mosaic."""
    rows, cols = np.divmod(np.arange(grid[0] * grid[1]), grid[1])
    area = QRectF(0, 0, grid[1] * (size + PAD), grid[0] * (size + PAD))
    labels = Labels(np.column_stack([cols * (size + PAD) + 1, rows * (size + PAD)]), area, color)
    plot.addItem(labels)
    return labels


class MnistView(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.dataset: Dataset | None = None
        self.confusion: np.ndarray | None = None
        self.predictions_done = 0
        self._pending = False
        self._last_request = -np.inf
        self.predicted_step = -1
        self._frame_step = -1
        self._first_layer_shape: tuple[int, int] | None = None
        self._last_weights = -np.inf
        self._weights: np.ndarray | None = None  # the last first-layer weights drawn
        self.hovered = -1  # the first-hidden-layer neuron hovered in the diagram, or -1
        self._last_frame: Frame | None = None
        self._acc_range: tuple[float, float] | None = None  # (last epoch shown, lowest accuracy)

        self.placeholder = QLabel("Open an image dataset (Dataset ▸ MNIST…) to see digits here.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("w")
        self.view.ci.layout.setSpacing(6)

        self.sample_plot, self.sample_image = _image_plot(self.view, "Training digits", 0, 0)
        self.sample_labels = _tile_labels(self.sample_plot, SAMPLE_GRID, 28)
        self.mean_plot, self.mean_image = _image_plot(self.view, "Mean image", 0, 1)
        self.counts_plot = self.view.addPlot(row=0, col=2)
        self.counts_plot.setTitle("Digits per class", color="#333", size="9pt")
        self.counts_plot.setMouseEnabled(False, False)
        self.counts_plot.hideButtons()
        self.counts_bars = pg.BarGraphItem(
            x=np.arange(10), height=np.zeros(10), width=0.7, brush=pg.mkBrush(*colors.BLUE)
        )
        self.counts_plot.addItem(self.counts_bars)
        self.acc_plot = self.view.addPlot(row=0, col=3)
        self.acc_plot.setTitle("Accuracy", color="#333", size="9pt")
        self.acc_plot.setLabel("bottom", "epoch")
        self.acc_plot.addLegend(offset=(-6, -6), labelTextColor="#333")
        self.acc_plot.showGrid(y=True, alpha=0.3)
        self.acc_plot.setYRange(0, 1.0, padding=0.02)
        self.acc_train = self.acc_plot.plot(pen=pg.mkPen(colors.BLUE, width=2), name="train")
        self.acc_test = self.acc_plot.plot(
            pen=pg.mkPen(colors.ORANGE, width=2, style=Qt.PenStyle.DashLine), name="test"
        )

        self.conf_plot, self.conf_image = _image_plot(self.view, "Test confusion", 1, 0)
        self.conf_plot.showAxis("left")
        self.conf_plot.showAxis("bottom")
        self.conf_plot.setLabel("left", "true")
        self.conf_plot.setLabel("bottom", "predicted")
        ticks = [[(i + 0.5, str(i)) for i in range(10)]]
        self.conf_plot.getAxis("left").setTicks(ticks)
        self.conf_plot.getAxis("bottom").setTicks(ticks)
        rows, cols = np.divmod(np.arange(100), 10)
        self.conf_texts = Labels(np.column_stack([cols + 0.5, rows + 0.5]), QRectF(0, 0, 10, 10),
                                  anchor=(0.5, 0.5))
        self.conf_plot.addItem(self.conf_texts)
        self.gallery_plot, self.gallery_image = _image_plot(self.view, "Wrong (red: predicted)", 1, 1)
        self.gallery_labels = _tile_labels(self.gallery_plot, GALLERY_GRID, 28, LABEL_COLOR)
        self.weights_plot, self.weights_image = _image_plot(self.view, "Layer 1 weights", 1, 2, colspan=2)
        grid = self.view.ci.layout
        grid.setColumnStretchFactor(0, 3)  # the sample grid and the confusion matrix need the room
        for col in (1, 2, 3):
            grid.setColumnStretchFactor(col, 2)
        grid.setRowStretchFactor(1, 5)
        grid.setRowStretchFactor(0, 4)
        self.pad = DrawPad(session)
        self.pad.setMaximumHeight(180)

        # Big enough that the confusion matrix holds its counts (10 cells of CELL px) and the
        # digits read; a smaller window scrolls the page instead of squeezing it (at 1280x800 the
        # matrix was 100 px wide, its counts cut to two characters).
        self.conf_plot.setMinimumSize(CELL * 10 + 50, CELL * 10 + 50)
        self._fit_minimum()
        page = QWidget()
        page_layout = QVBoxLayout(page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.addWidget(self.view, 1)
        pad_box = QGroupBox("Draw a digit: the network's answer follows live")
        QVBoxLayout(pad_box).addWidget(self.pad)
        page_layout.addWidget(pad_box)
        self.page = page
        scroll = QScrollArea()
        scroll.setWidget(page)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll = scroll
        stack = QStackedLayout(self)
        stack.addWidget(self.placeholder)
        stack.addWidget(scroll)
        self._stack = stack

        session.dataset_changed.connect(self._on_dataset_changed)
        session.frame.connect(self._on_frame)
        session.running_changed.connect(self._on_running_changed)
        if session.dataset is not None:  # made after the dataset was opened (built on first use)
            self._on_dataset_changed(session.dataset)

    @Slot()
    def _fit_minimum(self) -> None:
        """The view is as large as its plots need (titles and labels included): smaller, and the
        page scrolls instead of cutting the plots off."""
        self.view.ci.layout.invalidate()
        least = self.view.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize)
        self.view.setMinimumSize(int(least.width()) + 6, max(int(least.height()) + 6, CELL * 10 + 50 + 220))

    # --- slots --------------------------------------------------------------------------------
    @Slot(object)
    def _on_dataset_changed(self, ds: Dataset) -> None:
        self.confusion = None
        self._pending = False  # an answer for the old dataset is dropped in done()
        self.predicted_step = self._frame_step = -1
        self._first_layer_shape = None
        if ds.image_shape is None:
            self.dataset = None
            self._stack.setCurrentWidget(self.placeholder)
            return
        self.dataset = ds
        self._stack.setCurrentWidget(self.scroll)
        h, w = ds.image_shape
        labels = ds.labels_of(ds.y_train)
        n = SAMPLE_GRID[0] * SAMPLE_GRID[1]
        samples = ds.x_train[:n].reshape(-1, h, w)
        self._set_image(self.sample_plot, self.sample_image, 255 - mosaic(samples, SAMPLE_GRID), (0, 255))
        self.sample_labels.set_texts(ds.target_names[labels[i]] for i in range(len(samples)))
        mean = ds.x_train.mean(axis=0).reshape(h, w)
        self._set_image(self.mean_plot, self.mean_image, 255 - mean, (0, 255))
        counts = np.bincount(labels, minlength=ds.n_classes)
        self.counts_bars.setOpts(x=np.arange(len(counts)), height=counts)
        self.counts_plot.getAxis("bottom").setTicks([[(i, ds.target_names[i]) for i in range(len(counts))]])
        self.counts_plot.setYRange(0, max(1, counts.max()) * 1.05)
        self.acc_train.setData([], [])
        self.acc_test.setData([], [])
        self._acc_range, self._last_frame = None, None
        self.conf_image.clear()
        self.conf_texts.set_texts([])
        self.gallery_labels.set_texts([])
        self.gallery_image.clear()
        self.weights_image.clear()
        self._weights, self.hovered = None, -1
        QTimer.singleShot(0, self, self._fit_minimum)

    @Slot(object)
    def _on_frame(self, frame: Frame) -> None:
        ds = self.dataset
        if ds is None:
            return
        snap = frame.snapshot
        self._frame_step = snap.step
        self._last_frame = frame
        if not self.isVisible():
            # A hidden page still lays out and re-ticks its plots for every new point (its
            # scene works whether shown or not): that was 10 ms of each frame on the GUI
            # thread, spent on a tab nobody looked at. showEvent draws the last frame.
            return
        h = snap.history
        if len(h["epoch"]):
            self.acc_train.setData(h["epoch"], h["train_acc"])
            if np.isfinite(h["test_acc"]).any():
                self.acc_test.setData(h["epoch"], h["test_acc"])
            # Axes in steps, not every frame: new tick labels every frame relaid the page out.
            # The epochs up to the next round number, the accuracy from the tenth below the
            # lowest shown up to 1.
            acc = np.concatenate([h["train_acc"], h["test_acc"]])
            acc = acc[np.isfinite(acc)]
            lo = min(math.floor(float(acc.min()) * 10) / 10, 0.9) if acc.size else 0.0
            key = (nice_ceiling(max(float(h["epoch"][-1]), 1.0)), max(lo, 0.0))
            if key != self._acc_range:
                self._acc_range = key
                self.acc_plot.setXRange(0, key[0], padding=0.02)
                self.acc_plot.setYRange(key[1], 1.0, padding=0.02)
        now = time.monotonic()
        if not frame.running or now - self._last_weights >= WEIGHTS_INTERVAL:
            self._last_weights = now
            self._draw_weights(snap.weights.get("layer0.W"), ds.image_shape)
        if not frame.running or now - self._last_request >= PREDICT_INTERVAL:
            self.request_predictions()

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        if not running:
            self.request_predictions()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._last_frame is not None and self._last_frame.dataset is self.dataset:
            self._last_weights = -np.inf  # what changed while hidden, drawn now
            self._on_frame(self._last_frame)
        self.request_predictions()

    # --- predictions ------------------------------------------------------------------------
    def request_predictions(self) -> None:
        """Ask the engine for test-set outputs, unless a request is out or nothing changed."""
        ds = self.dataset
        if ds is None or self._pending or self._frame_step < 0 or self._frame_step == self.predicted_step:
            return
        if not self.isVisible():
            return
        x = ds.x_test[:PREDICT_ROWS]
        step = self._frame_step
        self._pending = True
        self._last_request = time.monotonic()

        def done(out: np.ndarray) -> None:
            self._pending = False
            if ds is self.dataset and len(out) == len(x):
                self.predicted_step = step
                self._show_predictions(ds, x, out)
                if not self.session.running:  # a step or a pause came in while this ran
                    self.request_predictions()

        self.session.predict(ds.features(x, np.float32), done)

    def _show_predictions(self, ds: Dataset, x: np.ndarray, out: np.ndarray) -> None:
        k = max(ds.n_classes, 2)
        true = ds.labels_of(ds.y_test[: len(x)])
        pred = np.argmax(out, axis=1) if out.shape[1] > 1 else (out[:, 0] > 0.5).astype(np.int64)
        m = confusion_matrix(true, pred, k)
        self.confusion = m
        self.predictions_done += 1
        # colour by share of the true class, so rare classes read as clearly as common ones
        share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        rgb = colors.diverging_rgb(np.where(np.eye(k, dtype=bool), share, -share), 1.0)
        self.conf_image.setImage(rgb, autoLevels=False, levels=(0, 255))
        self.conf_image.setRect(QRectF(0, 0, k, k))
        self.conf_plot.setRange(xRange=(0, k), yRange=(0, k), padding=0.02)
        texts, cell_colors = [], []
        for i in range(100):
            r, c = divmod(i, 10)
            inside = r < k and c < k
            texts.append(str(m[r, c]) if inside and m[r, c] else "")
            # white on the dark cells, dark on the pale ones
            cell_colors.append((255, 255, 255) if inside and share[r, c] > 0.5 else (20, 20, 20))
        self.conf_texts.set_texts(texts, cell_colors)
        acc = float(np.trace(m)) / max(1, len(true))
        self.conf_plot.setTitle(f"Test confusion: {acc:.1%} of {len(true):,}", color="#333", size="9pt")

        wrong = np.flatnonzero(pred != true)[: GALLERY_GRID[0] * GALLERY_GRID[1]]
        h, w = ds.image_shape
        tiles = 255 - x[wrong].reshape(-1, h, w)
        self._set_image(self.gallery_plot, self.gallery_image, mosaic(tiles, GALLERY_GRID, 255), (0, 255))
        self.gallery_labels.set_texts(ds.target_names[pred[w]] for w in wrong)
        self.gallery_plot.setTitle(
            f"{int((pred != true).sum()):,} wrong (red: predicted)", color="#333", size="9pt"
        )
        QTimer.singleShot(0, self, self._fit_minimum)

    @Slot(int, int)
    def show_neuron(self, column: int, index: int) -> None:
        """The diagram's hovered neuron: one of the first hidden layer's shows its 784 incoming
        weights as one large image in place of the mosaic; anything else goes back."""
        self.hovered = index if column == 1 else -1
        if self.dataset is not None and self.dataset.image_shape is not None and self._weights is not None:
            self._first_layer_shape = None  # the title changes
            self._draw_weights(self._weights, self.dataset.image_shape)

    def _draw_weights(self, w: np.ndarray | None, shape: tuple[int, int]) -> None:
        if w is None or w.shape[0] != shape[0] * shape[1]:
            return
        self._weights = w
        if 0 <= self.hovered < w.shape[1]:
            tile = w[:, self.hovered].reshape(shape)
            rgb = colors.diverging_rgb(tile / max(float(np.abs(tile).max()), 1e-12), 1.0)
            self._set_image(self.weights_plot, self.weights_image, rgb, (0, 255))
            self.weights_plot.setTitle(
                f"Layer 1, neuron {self.hovered + 1}: its {w.shape[0]} weights (blue +)",
                                       color="#333", size="9pt")
            self._first_layer_shape = None
            return
        n = min(w.shape[1], WEIGHT_GRID[0] * WEIGHT_GRID[1])
        cols = min(WEIGHT_GRID[1], n)
        grid = (int(np.ceil(n / cols)), cols)
        tiles = w[:, :n].T.reshape(n, *shape)
        limit = np.maximum(np.abs(tiles).max(axis=(1, 2), keepdims=True), 1e-12)
        rgb = colors.diverging_rgb(tiles / limit, 1.0)  # each neuron on its own scale
        self._set_image(self.weights_plot, self.weights_image, mosaic(rgb, grid, 255), (0, 255))
        if self._first_layer_shape != w.shape:
            self._first_layer_shape = w.shape
            self.weights_plot.setTitle(
                f"Layer 1 weights, {n} of {w.shape[1]} neurons (blue +)",
                color="#333",
                size="9pt",
            )

    @staticmethod
    def _set_image(plot: pg.PlotItem, item: pg.ImageItem, image: np.ndarray, levels) -> None:
        item.setImage(image, autoLevels=False, levels=levels)
        h, w = image.shape[:2]
        item.setRect(QRectF(0, 0, w, h))  # after setImage: setImage resets the transform
        plot.setRange(xRange=(0, w), yRange=(0, h), padding=0.01)


def _small_font() -> QFont:
    f = QFont()
    f.setPointSize(8)
    return f
