"""A training frame is drawn in pieces, a turn of the event loop each (nnbench.ui.turns)."""

from __future__ import annotations

import dataclasses

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from test_ui_window import open_window

from nnbench.ui.turns import Turns


class Receiver(QObject):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def event(self, ev: QEvent) -> bool:
        if ev.type() == QEvent.Type.User:
            self.log.append("posted")
            return True
        return super().event(ev)


def test_pieces_run_in_order_one_a_turn_and_a_requeued_piece_keeps_its_place(qtbot):
    turns, log = Turns(), []
    turns.later("a", lambda: log.append("a1"))
    turns.later("b", lambda: log.append("b"))
    turns.later("a", lambda: log.append("a2"))  # replaces a1, still first
    turns.later("c", lambda: log.append("c"))
    turns.drop("c")
    assert log == [] and turns.waiting("a")  # nothing runs inside the call that queues
    qtbot.waitUntil(lambda: not turns.waiting("b"), timeout=2000)
    assert log == ["a2", "b"]


def test_what_a_piece_posts_and_a_due_timer_run_before_the_next_piece(qtbot):
    """The point of it: a piece's paints (posted events) and the timers that fell due while it
    ran come before the next piece, not after all of them."""
    turns, log = Turns(), []
    receiver = Receiver(log)
    probe = QTimer()
    probe.setSingleShot(True)
    probe.timeout.connect(lambda: log.append("timer"))

    def first() -> None:
        log.append("first")
        QCoreApplication.postEvent(receiver, QEvent(QEvent.Type.User))
        probe.start(0)

    turns.later("first", first)
    turns.later("second", lambda: log.append("second"))
    qtbot.waitUntil(lambda: "second" in log and "timer" in log, timeout=2000)
    assert log.index("first") < log.index("posted") < log.index("second")
    assert log.index("timer") < log.index("second")


def test_flush_runs_everything_waiting_now():
    turns, log = Turns(), []
    for key in "xyz":
        turns.later(key, lambda k=key: log.append(k))
    turns.flush()
    assert log == ["x", "y", "z"] and not turns.waiting("x")


def test_a_training_frame_draws_in_later_turns_and_a_stopped_frame_drops_what_waits(qtbot):
    window = open_window(qtbot)
    s, plots = window.session, window.plots_panel
    qtbot.waitUntil(lambda: s.last_frame is not None, timeout=10_000)
    base = s.last_frame
    s.frame.disconnect(plots.show_frame)  # only this test's frames: a late engine frame would draw too
    blank = np.zeros_like(base.grid_output)
    early = dataclasses.replace(base, grid_output=blank, running=True)
    plots.show_frame(early)
    assert s.turns.waiting(("plots", "output"))  # not drawn in the frame's own handler
    # A frame that is not training is drawn whole at once; the older one's piece never follows.
    plots.show_frame(base)
    after = plots.surface.image.copy()
    assert not s.turns.waiting(("plots", "output"))
    qtbot.wait(50)
    np.testing.assert_array_equal(plots.surface.image, after)
    # And a training frame's piece does draw, a turn later.
    plots.show_frame(early)
    qtbot.waitUntil(lambda: not s.turns.waiting(("plots", "output")), timeout=2000)
    assert not np.array_equal(plots.surface.image, after)  # the blank output's colours
    window.close()


def test_the_status_under_the_curves_shrinks_to_fit_a_narrow_panel(qtbot):
    from PySide6.QtGui import QFontMetrics

    from nnbench.ui.plots_panel import STATUS_FLAGS, StatusText

    status = StatusText(2)
    qtbot.addWidget(status)
    status.setText("epoch 293   step 2,950   lr 0.01\nloss: train 0.6821   test 0.7159")
    status.resize(600, status.height())
    assert status.fitting_font().pointSizeF() == status.font().pointSizeF()  # room: full size
    status.resize(150, status.height())  # the 1024x700 window's panel wrapped it into four lines
    assert QFontMetrics(status.font()).boundingRect(status.rect(), STATUS_FLAGS, status.text()).height() \
        > status.height()
    font = status.fitting_font()
    assert font.pointSizeF() < status.font().pointSizeF()
    fitted = QFontMetrics(font).boundingRect(status.rect(), STATUS_FLAGS, status.text())
    assert fitted.height() <= status.height()
