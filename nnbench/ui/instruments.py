"""Running an instrument off the GUI thread: a job on a QThread with progress and Cancel.

A job is a plain function of a :class:`nnbench.inspect.Progress`; it works on copies (a
network rebuilt from the engine's state), never on the network that trains. The bar shows how
far it is, Cancel stops it at its next progress report, and the result comes back as a signal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from nnbench.errors import NnbenchError
from nnbench.inspect import Cancelled, Progress

REPORT_EVERY = 0.05  # seconds between progress signals: the GUI redraws the bar, no faster


class Job(QThread):
    progressed = Signal(int, int)  # done, total: at most every REPORT_EVERY seconds
    succeeded = Signal(object)  # the function's result
    failed = Signal(str)  # the text of the error, or "Cancelled"

    def __init__(self, fn: Callable[[Progress], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self._last = 0.0
        self.progress = Progress(self._report)

    def _report(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last >= REPORT_EVERY or done >= total:
            self._last = now
            self.progressed.emit(int(done), int(total))

    def cancel(self) -> None:
        self.progress.cancel()

    def run(self) -> None:  # on the job's own thread
        try:
            result = self._fn(self.progress)
        except Cancelled:
            self.failed.emit("Cancelled")
        except NnbenchError as e:
            self.failed.emit(str(e))
        except Exception as e:  # noqa: BLE001 - a job that breaks says so; the bar must not stay busy
            self.failed.emit(f"the computation failed ({type(e).__name__}: {e})")
        else:
            self.succeeded.emit(result)


class JobBar(QWidget):
    """A progress bar, a Cancel button and a line of status, for one job at a time."""

    finished = Signal(object)  # the result of a job that succeeded
    failed = Signal(str)  # a job failed or was cancelled: the text shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job: Job | None = None
        self._on_done: Callable[[Any], None] | None = None
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)
        row.addWidget(self.status, 1)
        self.cancel_button.clicked.connect(self._on_cancel)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def start(self, fn: Callable[[Progress], Any], what: str, on_done: Callable[[Any], None]) -> bool:
        """Run ``fn`` on a thread of its own; ``on_done(result)`` on the GUI thread after."""
        if self.job is not None:
            self.status.setText("Busy: wait or cancel first")
            return False
        self.job = job = Job(fn, self)
        self._on_done = on_done
        self.bar.setRange(0, 0)  # busy until the first report
        self.cancel_button.setEnabled(True)
        self.status.setText(what + "…")
        job.progressed.connect(self._on_progressed)
        job.succeeded.connect(self._on_succeeded)
        job.failed.connect(self._on_failed)
        job.start()
        return True

    def shutdown(self) -> None:
        """Cancel a job still running and wait for its thread (the window is closing)."""
        if self.job is not None:
            self.job.cancel()
            self.job.wait()
            self.job = None

    def _finish(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.wait()
            job.deleteLater()
        self.cancel_button.setEnabled(False)
        self.bar.setRange(0, 1)

    @Slot()
    def _on_cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText("Cancelling…")

    @Slot(int, int)
    def _on_progressed(self, done: int, total: int) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(min(done, total))

    @Slot(object)
    def _on_succeeded(self, result: Any) -> None:
        self._finish()
        self.bar.setValue(1)
        self.status.setText("Done")
        if self._on_done is not None:
            self._on_done(result)
        self.finished.emit(result)

    @Slot(str)
    def _on_failed(self, text: str) -> None:
        self._finish()
        self.bar.setValue(0)
        self.status.setText(text)
        self.failed.emit(text)


def plot_widget(x_label: str, y_label: str, title: str = "") -> pg.PlotWidget:
    plot = pg.PlotWidget()
    item = plot.getPlotItem()
    item.setLabel("bottom", x_label)
    item.setLabel("left", y_label)
    if title:
        item.setTitle(title)
    item.showGrid(x=True, y=True, alpha=0.25)
    plot.setMinimumHeight(180)
    return plot
