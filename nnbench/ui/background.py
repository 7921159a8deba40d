"""One long run at a time on a QThread of its own, for the Seeds x K and Sweep dialogs.

A runner is a QObject with a ``run()`` slot, a ``cancel`` :class:`threading.Event` it checks
between pieces of work, and ``progressed`` / ``finished`` / ``failed`` signals (queued to the
GUI thread, since the runner lives on the other thread).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread


class Background:
    def __init__(self) -> None:
        self.runner: QObject | None = None
        self.thread: QThread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None

    @property
    def cancelled(self) -> bool:
        return self.runner is not None and self.runner.cancel.is_set()

    def start(self, runner: QObject, on_progress: Callable[[Any], None], on_finished: Callable[[Any], None],
              on_failed: Callable[[str], None]) -> None:
        self.runner, self.thread = runner, QThread()
        runner.moveToThread(self.thread)
        self.thread.started.connect(runner.run)
        runner.progressed.connect(on_progress)
        runner.finished.connect(on_finished)
        runner.failed.connect(on_failed)
        self.thread.start()

    def cancel(self) -> None:
        if self.runner is not None:
            self.runner.cancel.set()

    def stop(self) -> None:
        """Cancel, then wait for the thread (the run ends at its next check)."""
        self.cancel()
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait()
        self.thread, self.runner = None, None
