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

SIZE = 28
BRUSH_SIGMA = 0.9  # pixels: a soft round brush about as wide as an MNIST pen stroke
BRUSH_STRENGTH = 0.6  # ink added at the brush centre per dab


class Canvas(QWidget):
    """The pixels (0 blank .. 1 ink), painted with the mouse; shown black on white."""

    changed = Signal()  # the pixels changed (a dab or a clear)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pixels = np.zeros((SIZE, SIZE), dtype=np.float64)
        self._last: QPointF | None = None
        self.setFixedSize(140, 140)
        self.setCursor(Qt.CursorShape.CrossCursor)
        yy, xx = np.mgrid[0:SIZE, 0:SIZE]
        self._yy, self._xx = yy + 0.5, xx + 0.5  # pixel centres

    def clear(self) -> None:
        self.pixels[:] = 0.0
        self.update()
        self.changed.emit()

    def dab(self, x: float, y: float) -> None:
        """Ink around (x, y) in pixel units (0..28 across and down)."""
        d2 = (self._xx - x) ** 2 + (self._yy - y) ** 2
        self.pixels += BRUSH_STRENGTH * np.exp(-d2 / (2 * BRUSH_SIGMA**2))
        np.clip(self.pixels, 0.0, 1.0, out=self.pixels)
        self.update()

    def stroke(self, a: QPointF, b: QPointF) -> None:
        """Dabs every half pixel from a to b, then one changed signal."""
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
        grey = (255 - 255 * self.pixels).astype(np.uint8)
        image = QImage(grey.tobytes(), SIZE, SIZE, SIZE, QImage.Format.Format_Grayscale8)
        side = self._side()
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(235, 235, 235))
        p.drawImage(QRectF(0, 0, side, side), image)
        p.setPen(QColor(150, 150, 150))
        p.drawRect(QRectF(0, 0, side - 1, side - 1))
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
        right = QVBoxLayout()
        right.addWidget(self.note)
        right.addWidget(self.bars_plot, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(left)
        layout.addLayout(right, 1)
        self.setEnabled(False)

        self.clear_button.clicked.connect(self.canvas.clear)
        self.canvas.changed.connect(self._on_drawn)
        session.dataset_changed.connect(self._on_dataset_changed)

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

    @Slot()
    def _on_drawn(self) -> None:
        if self.dataset is None:
            return
        if self._pending:  # one request at a time; the latest drawing goes next
            self._dirty = True
            return
        self._pending, self._dirty = True, False
        ds = self.dataset
        # the pad's 0..1 ink is what the network is fed for MNIST (bytes times 1/255)
        rows = (self.canvas.pixels.reshape(1, -1) * 255).astype(np.uint8)
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
