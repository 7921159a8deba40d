"""Plots written as PNG files with pyqtgraph's exporter, for the headless commands
(``nnbench gradcheck``, ``lr-find``, ``curvature``). Works without a display: with no DISPLAY
the offscreen Qt platform is used."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from nnbench.inspect.figures import Figure

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf")


def _app():
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") \
            and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from nnbench.ui.app import configure_pyqtgraph

    app = QApplication.instance() or QApplication([])
    configure_pyqtgraph()
    return app


def save_png(path: str | os.PathLike, fig: Figure, width: int = 800, height: int = 500) -> Path:
    """Draw ``fig`` and write it to ``path`` (PNG)."""
    import pyqtgraph as pg
    from pyqtgraph.exporters import ImageExporter
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor

    app = _app()
    plot = pg.PlotWidget(background="w")
    # Laid out at its size and drawn, but never on screen (also under a real display).
    plot.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    plot.resize(width, height)
    plot.show()
    app.processEvents()
    item = plot.getPlotItem()
    item.setTitle(fig.title, color="k")
    item.setLabel("bottom", fig.x_label)
    item.setLabel("left", fig.y_label)
    item.setLogMode(x=fig.log_x, y=fig.log_y)
    item.showGrid(x=True, y=True, alpha=0.25)
    if any(s.name for s in fig.series):
        item.addLegend(offset=(10, 10), labelTextColor="k")
    for i, s in enumerate(fig.series):
        color = PALETTE[i % len(PALETTE)]
        x, y = np.asarray(s.x, float), np.asarray(s.y, float)
        if s.symbol:
            line = pg.mkPen(color, width=2) if s.joined else None
            item.plot(x, y, pen=line, symbol=s.symbol, symbolSize=6, symbolBrush=color, symbolPen=None,
                      name=s.name or None)
        else:
            pen = pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine if s.dashed else Qt.PenStyle.SolidLine)
            item.plot(x, y, pen=pen, name=s.name or None)
    for i, (value, label) in enumerate(fig.v_lines):
        pos = np.log10(value) if fig.log_x and value > 0 else value
        item.addItem(pg.InfiniteLine(pos, angle=90, pen=pg.mkPen("#444", width=1, style=Qt.PenStyle.DashLine),
                                     label=label, labelOpts={"color": "k", "position": 0.92 - 0.08 * i}))
    for value, label in fig.h_lines:
        pos = np.log10(value) if fig.log_y and value > 0 else value
        item.addItem(pg.InfiniteLine(pos, angle=0, pen=pg.mkPen("#444", width=1, style=Qt.PenStyle.DashLine),
                                     label=label, labelOpts={"color": "k", "position": 0.1}))
    item.enableAutoRange()
    app.processEvents()  # lay out the axes for the data before drawing
    exporter = ImageExporter(item)
    exporter.parameters()["width"] = width
    exporter.parameters()["background"] = QColor("white")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    exporter.export(str(tmp))
    if not tmp.is_file():
        from nnbench.errors import NnbenchError

        raise NnbenchError(f"the plot could not be written to {path}")
    os.replace(tmp, path)  # atomically: a reader never sees half a PNG
    plot.close()
    plot.deleteLater()
    return path
