"""Work spread over turns of the event loop, one piece a turn.

Qt delivers every posted event in one pass before it looks at timers again. A frame's views
each post their own paint (every pyqtgraph plot and the diagram is a scene of its own), so when
one handler updated them all, their paints ran back to back: 25-35 ms of the GUI thread with no
timer, input or other event in between, for a frame whose parts each take 2-9 ms. Handing the
views a frame one piece per turn puts a return to the event loop between one piece's paint and
the next piece: the longest stretch is one paint and one update.

A piece queued again before it ran replaces the waiting one in its place in the queue (the
newest frame wins), so a slow turn never builds a backlog.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from PySide6.QtCore import QObject, Qt, QTimer


class Turns(QObject):
    """A queue of pieces of work, each run in a turn of the event loop of its own."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: dict[Hashable, Callable[[], None]] = {}  # in order of first queueing
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._run_one)

    def later(self, key: Hashable, piece: Callable[[], None]) -> None:
        """Run ``piece`` in a turn of its own, after the pieces queued before it; a piece
        already waiting under ``key`` is replaced (and keeps its place)."""
        self._queue[key] = piece
        if not self._timer.isActive():
            self._timer.start()

    def drop(self, *keys: Hashable) -> None:
        """Forget the pieces waiting under ``keys`` (their work was done another way)."""
        for key in keys:
            self._queue.pop(key, None)

    def waiting(self, key: Hashable) -> bool:
        return key in self._queue

    def flush(self) -> None:
        """Run every waiting piece now, in order (tests, and before a picture is exported)."""
        while self._queue:
            self._run_one()

    def _run_one(self) -> None:
        if not self._queue:
            return
        key = next(iter(self._queue))
        piece = self._queue.pop(key)
        try:
            piece()
        finally:
            if self._queue and not self._timer.isActive():
                self._timer.start()
