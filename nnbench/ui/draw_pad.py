"""A 28x28 pad to draw a digit on, and the network's class probabilities for it, live."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from nnbench.data import Dataset
from nnbench.ui import colors
from nnbench.ui.session import Session

SIZE = 28  # what the network sees: MNIST's 28x28
UP = 4  # the pad is drawn at UP times that, so a digit shrunk to fit keeps its shape
RES = SIZE * UP
BRUSH_SIGMA = 1.2  # pad units (1/28 of its side): a soft round brush like an MNIST pen stroke
BRUSH_STRENGTH = 0.6  # ink added at the brush centre per dab
BOX = 20  # MNIST's digits were fitted into 20x20 and centred by their centre of mass in 28x28
INK = 0.05  # what counts as ink when finding the drawing's bounding box


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights that average each output pixel over the input it covers."""
    edges_out = np.linspace(0.0, n_in, n_out + 1)
    lo, hi = edges_out[:-1, None], edges_out[1:, None]
    left, right = np.arange(n_in)[None, :], np.arange(1, n_in + 1)[None, :]
    overlap = np.clip(np.minimum(hi, right) - np.maximum(lo, left), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def resize(image: np.ndarray, h: int, w: int) -> np.ndarray:
    """``image`` to (h, w) by area averaging (no aliasing when shrinking a lot)."""
    return _area_matrix(image.shape[0], h) @ image @ _area_matrix(image.shape[1], w).T


def mnist_style(pixels: np.ndarray) -> np.ndarray:
    """A drawing (0 blank .. 1 ink, any size) as MNIST's digits were made: its bounding box fitted
    into 20x20 keeping the aspect ratio, then placed in 28x28 with its centre of mass in the
    middle. A blank drawing gives zeros."""
    out = np.zeros((SIZE, SIZE))
    rows, cols = np.flatnonzero(pixels.max(axis=1) > INK), np.flatnonzero(pixels.max(axis=0) > INK)
    if not len(rows):
        return out
    crop = pixels[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = BOX / max(crop.shape)
    h, w = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    box = np.clip(resize(crop, h, w), 0.0, 1.0)
    mass = box.sum()
    cy = (box.sum(axis=1) @ (np.arange(h) + 0.5)) / mass
    cx = (box.sum(axis=0) @ (np.arange(w) + 0.5)) / mass
    oy, ox = round(SIZE / 2 - cy), round(SIZE / 2 - cx)
    # paste, clipped to the field (a very lopsided drawing may not fit once centred)
    y0, x0 = max(oy, 0), max(ox, 0)
    y1, x1 = min(oy + h, SIZE), min(ox + w, SIZE)
    out[y0:y1, x0:x1] = box[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    return out


def _grey_image(pixels: np.ndarray) -> QImage:
    grey = np.ascontiguousarray((255 - 255 * np.clip(pixels, 0, 1)).astype(np.uint8))
    h, w = grey.shape
    return QImage(grey.tobytes(), w, h, w, QImage.Format.Format_Grayscale8).copy()


class Canvas(QWidget):
    """The drawing (0 blank .. 1 ink at RES x RES), painted with the mouse; black on white."""

    changed = Signal()  # the pixels changed (a dab or a clear)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pixels = np.zeros((RES, RES), dtype=np.float64)
        self._last: QPointF | None = None
        self.setFixedSize(140, 140)
        self.setCursor(Qt.CursorShape.CrossCursor)
        yy, xx = np.mgrid[0:RES, 0:RES]
        self._yy, self._xx = (yy + 0.5) / UP, (xx + 0.5) / UP  # pixel centres, in pad units

    def clear(self) -> None:
        self.pixels[:] = 0.0
        self.update()
        self.changed.emit()

    def dab(self, x: float, y: float) -> None:
        """Ink around (x, y) in pad units (0..28 across and down)."""
        r = 4 * BRUSH_SIGMA
        y0, y1 = max(int((y - r) * UP), 0), min(int((y + r) * UP) + 1, RES)
        x0, x1 = max(int((x - r) * UP), 0), min(int((x + r) * UP) + 1, RES)
        if y0 >= y1 or x0 >= x1:
            return
        d2 = (self._xx[y0:y1, x0:x1] - x) ** 2 + (self._yy[y0:y1, x0:x1] - y) ** 2
        patch = self.pixels[y0:y1, x0:x1]
        patch += BRUSH_STRENGTH * np.exp(-d2 / (2 * BRUSH_SIGMA**2))
        np.clip(patch, 0.0, 1.0, out=patch)
        self.update()

    def stroke(self, a: QPointF, b: QPointF) -> None:
        """Dabs every half unit from a to b, then one changed signal."""
        steps = max(1, int(np.hypot(b.x() - a.x(), b.y() - a.y()) * 2))
        for t in np.linspace(0.0, 1.0, steps + 1)[1:] if steps > 1 else (1.0,):
            self.dab(a.x() + (b.x() - a.x()) * t, a.y() + (b.y() - a.y()) * t)
        self.changed.emit()

    def _side(self) -> float:
        return min(self.width(), self.height())

    def _to_pixels(self, pos: QPointF) -> QPointF:
        side = self._side()
        return QPointF(pos.x() * SIZE / side, pos.y() * SIZE / side)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton:
            self._last = self._to_pixels(event.position())
            self.stroke(self._last, self._last)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._last is not None:
            p = self._to_pixels(event.position())
            self.stroke(self._last, p)
            self._last = p

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._last = None

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        side = self._side()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.fillRect(self.rect(), QColor(235, 235, 235))
        p.drawImage(QRectF(0, 0, side, side), _grey_image(self.pixels))
        p.setPen(QColor(150, 150, 150))
        p.drawRect(QRectF(0, 0, side - 1, side - 1))
        p.end()


class NetInput(QWidget):
    """The 28x28 image the network is given for the drawing, shown large with its pixels."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = np.zeros((SIZE, SIZE))
        self.setFixedSize(2 * SIZE + 2, 2 * SIZE + 2)
        self.setToolTip("What the network sees: the drawing fitted into 20x20 and centred by its "
                        "centre of mass in 28x28, as MNIST's digits were made")

    def set_image(self, image: np.ndarray) -> None:
        self.image = image
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.drawImage(QRectF(1, 1, 2 * SIZE, 2 * SIZE), _grey_image(self.image))
        p.setPen(QColor(150, 150, 150))
        p.drawRect(QRectF(0, 0, self.width() - 1, self.height() - 1))
        p.end()


class DrawPad(QWidget):
    probabilities = Signal(object)  # (k,) class probabilities for the drawing, summing to 1

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.dataset: Dataset | None = None
        self._pending = False
        self._dirty = False

        self.canvas = Canvas()
        self.net_input = NetInput()
        self.clear_button = QPushButton("Clear")
        self.note = QLabel("Draw a digit with the mouse")
        self.note.setWordWrap(True)
        self.bars_plot = pg.PlotWidget()
        self.bars_plot.setBackground("w")
        self.bars_plot.setMouseEnabled(False, False)
        self.bars_plot.hideButtons()
        self.bars_plot.setYRange(0, 1.0)
        self.bars_plot.setMinimumSize(160, 110)
        self.bars = pg.BarGraphItem(
            x=np.arange(10), height=np.zeros(10), width=0.7, brush=pg.mkBrush(*colors.BLUE)
        )
        self.bars_plot.addItem(self.bars)

        left = QVBoxLayout()
        left.addWidget(self.canvas)
        left.addWidget(self.clear_button)
        left.addStretch(1)
        seen = QVBoxLayout()
        seen_label = QLabel("The net sees")
        seen.addWidget(seen_label)
        seen.addWidget(self.net_input)
        seen.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.note)
        right.addWidget(self.bars_plot, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(left)
        layout.addLayout(seen)
        layout.addLayout(right, 1)
        self.setEnabled(False)

        self.clear_button.clicked.connect(self.canvas.clear)
        self.canvas.changed.connect(self._on_drawn)
        session.dataset_changed.connect(self._on_dataset_changed)
        if session.dataset is not None:  # made after the dataset was opened (built on first use)
            self._on_dataset_changed(session.dataset)

    @Slot(object)
    def _on_dataset_changed(self, ds: Dataset) -> None:
        fits = ds.n_features == SIZE * SIZE and ds.task == "classification"
        self.dataset = ds if fits else None
        self._pending = False
        self.setEnabled(fits)
        self.note.setText(
            "Draw a digit with the mouse" if fits else "The pad needs a 28x28 image dataset (MNIST)"
        )
        if fits:
            k = max(ds.n_classes, 2)
            self.bars.setOpts(x=np.arange(k), height=np.zeros(k))
            names = ds.target_names if len(ds.target_names) == k else [str(i) for i in range(k)]
            self.bars_plot.getAxis("bottom").setTicks([[(i, names[i]) for i in range(k)]])
            if self.canvas.pixels.any():  # the drawing stays: the new network answers it
                self._on_drawn()

    @Slot()
    def _on_drawn(self) -> None:
        if self.dataset is None:
            return
        if self._pending:  # one request at a time; the latest drawing goes next
            self._dirty = True
            return
        self._pending, self._dirty = True, False
        ds = self.dataset
        image = mnist_style(self.canvas.pixels)
        self.net_input.set_image(image)
        # 0..1 ink as MNIST's bytes (the dataset scales them by 1/255)
        rows = np.round(image.reshape(1, -1) * 255).astype(np.uint8)
        self.session.predict(ds.features(rows), lambda out: self._on_output(ds, out))

    def _on_output(self, ds: Dataset, out: np.ndarray) -> None:
        self._pending = False
        if ds is not self.dataset:
            return
        p = colors.probabilities(out)[0]
        self.bars.setOpts(height=p)
        best = int(np.argmax(p))
        self.note.setText(
            f"Looks like {ds.target_names[best] if best < len(ds.target_names) else best} ({p[best]:.0%})"
        )
        self.probabilities.emit(p)
        if self._dirty:
            self._on_drawn()
