"""The window's engine process: it imports no Qt, survives being killed, and leaves nothing behind."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from engine_helpers import engine_state, engine_status
from test_reliability_lifecycle import children, journals, segments
from test_ui_window import close_window, open_window

WAIT = 15_000


def test_the_engine_runs_in_its_own_process_without_qt(qtbot):
    window = open_window(qtbot)
    try:
        status = engine_status(qtbot, window.session)
        assert status["pid"] != os.getpid() and status["pid"] == window.session.worker.pid
        assert status["qt_modules"] == []  # the child imports no Qt, no pyqtgraph
    finally:
        close_window(window)


def test_a_killed_engine_is_replaced_by_one_holding_the_last_frames_network(qtbot, errors):
    window = open_window(qtbot)
    s = window.session
    try:
        s.train()
        qtbot.waitUntil(lambda: s.epoch >= 20, timeout=WAIT)
        old_pid = s.worker.pid
        with qtbot.waitSignal(s.engine_died, timeout=WAIT) as died, \
                qtbot.waitSignal(s.engine_ready, timeout=WAIT):
            s.kill_engine()
        # The last frame the window received is what the new engine holds, exactly.
        last = s.worker.last_engine_frame
        assert "SIGKILL" in died.args[0] and f"epoch {last.epoch:,}" in died.args[0]
        assert not s.running and s.worker.pid != old_pid
        assert "engine process was killed" in window.statusBar().currentMessage()
        state = engine_state(qtbot, s)
        np.testing.assert_array_equal(state.net.params, last.params)
        assert state.epoch == last.epoch and state.net.spec == s.spec
        assert len(state.history["epoch"]) == last.epoch  # the history came along too
        # Training goes on from there.
        s.train()
        qtbot.waitUntil(lambda: s.epoch > last.epoch + 5, timeout=WAIT)
        s.pause()
        qtbot.waitUntil(lambda: not s.running, timeout=WAIT)
        assert not [e for e in errors if "internal error" in e]
    finally:
        close_window(window)


def test_closing_the_window_ends_the_engine_at_once_and_leaves_no_shared_memory(qtbot):
    window = open_window(qtbot)
    s = window.session
    s.train()
    qtbot.waitUntil(lambda: s.running and s.epoch > 2, timeout=WAIT)
    pid = s.worker.pid
    start = time.perf_counter()
    close_window(window)
    took = time.perf_counter() - start
    assert took < 2.0, f"closing took {took:.2f} s"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not children() and not segments() and not journals()


def test_a_killed_engine_leaves_no_shared_memory_behind(qtbot):
    window = open_window(qtbot)
    s = window.session
    try:
        for _ in range(3):
            with qtbot.waitSignal(s.engine_ready, timeout=WAIT):
                s.kill_engine()
            qtbot.waitUntil(lambda: not segments(), timeout=WAIT)
    finally:
        close_window(window)
    assert not children() and not segments()


def test_frames_larger_than_the_first_segment_still_reach_the_views(qtbot):
    from nnbench.engine import LayerSpec
    from nnbench.ui.worker import FIRST_SEGMENT

    window = open_window(qtbot)
    s = window.session
    try:
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (300, 784), dtype=np.uint8)
        y = np.eye(10)[rng.integers(0, 10, 300)]
        from nnbench.data import Dataset

        ds = Dataset("wide", "classification", x[:200], y[:200], x[200:], y[200:],
                     tuple(f"p{i}" for i in range(784)), tuple(map(str, range(10))),
                     source={"kind": "synthetic"}, x_scale=1 / 255, image_shape=(28, 28))
        with qtbot.waitSignal(s.dataset_changed, timeout=WAIT):
            s.set_dataset(ds)
        with qtbot.waitSignal(s.spec_changed, timeout=WAIT):
            s.set_hidden((LayerSpec(600, "relu"),))
        assert 4 * 784 * 600 > FIRST_SEGMENT  # one frame's weights do not fit the first segment
        s.step()
        qtbot.waitUntil(lambda: s.last_frame is not None and s.last_frame.snapshot.epoch == 1
                        and s.last_frame.snapshot.weights["layer0.W"].shape == (784, 600), timeout=WAIT)
        assert not segments()  # the grown segment's name is gone too
    finally:
        close_window(window)


def test_the_speed_control_slows_training_to_batches_a_second(qtbot):
    from engine_helpers import engine_status
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    window = open_window(qtbot)
    s = window.session
    try:
        box = window.speed_box
        assert box.currentData() == 0.0  # as fast as it can, by default
        box.setFocus()
        QTest.keyClick(box, Qt.Key.Key_End)  # the slowest: one batch a second
        assert box.currentData() == 1.0 and s.speed == 1.0
        before = engine_status(qtbot, s)
        start = time.perf_counter()
        s.train()
        qtbot.waitUntil(lambda: s.running, timeout=WAIT)
        qtbot.wait(1500)
        after = engine_status(qtbot, s)
        elapsed = time.perf_counter() - start
        done = after["step"] - before["step"]
        assert 1 <= done <= elapsed * 1.0 + 2  # a batch a second, never a burst
        s.pause()
        QTest.keyClick(box, Qt.Key.Key_Home)
        assert s.speed == 0.0
    finally:
        close_window(window)


def _window_without_engine(qtbot):
    from nnbench.ui.app import configure_pyqtgraph
    from nnbench.ui.main_window import MainWindow

    configure_pyqtgraph()
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    return window


def _refused_at_once(qtbot, s) -> str:
    from nnbench import commands as cmd

    failed: list[str] = []
    s.call(cmd.Status(), None, failed.append)
    qtbot.waitUntil(lambda: bool(failed), timeout=2000)
    assert s.busy == 0
    return failed[0]


def test_an_engine_that_never_answers_is_given_up_and_the_window_says_why(qtbot, monkeypatch, errors):
    import types

    import engine_helpers

    from nnbench.ui import worker

    monkeypatch.setattr(worker, "START_WAIT", 1.0)
    monkeypatch.setattr(worker, "remote", types.SimpleNamespace(serve=engine_helpers.silent_engine))
    window = _window_without_engine(qtbot)
    s = window.session
    with qtbot.waitSignal(s.error, timeout=WAIT) as got:
        window.start_default()
    assert "did not answer within 1 s" in got.args[0] and "start nnbench again" in got.args[0]
    assert errors and "did not answer" in errors[-1]  # a dialog, not only the status line
    assert "did not answer" in _refused_at_once(qtbot, s)  # later commands do not wait forever
    close_window(window)
    assert not children() and not segments()


def test_an_engine_that_cannot_be_spawned_leaves_nothing_and_says_why(qtbot, monkeypatch, errors):
    import multiprocessing as mp

    from nnbench.ui import worker

    spawn = mp.get_context("spawn")

    class NoProcesses:
        def __getattr__(self, name):
            return getattr(spawn, name)

        def Process(self, *a, **k):  # noqa: N802 (multiprocessing's name)
            p = spawn.Process(*a, **k)
            p.start = lambda: (_ for _ in ()).throw(OSError(11, "Resource temporarily unavailable"))
            return p

    monkeypatch.setattr(worker.mp, "get_context", lambda _kind: NoProcesses())
    window = _window_without_engine(qtbot)
    s = window.session
    qtbot.waitUntil(lambda: bool(s.engine_failed), timeout=WAIT)
    assert "could not start: BlockingIOError" in s.engine_failed
    assert "temporarily unavailable" in s.engine_failed
    assert not segments()  # the frame segment made for it is gone
    assert "could not start" in _refused_at_once(qtbot, s)
    close_window(window)
    assert not children() and not segments()


def test_a_runs_journal_that_cannot_write_is_said_in_the_status_bar_and_training_goes_on(qtbot, errors):
    import shutil
    from pathlib import Path

    window = open_window(qtbot)
    s = window.session
    try:
        engine_status(qtbot, s)  # the engine runs, with its journal
        folder = Path(s.journal_dir)
        shutil.rmtree(folder)
        folder.write_text("not a folder")  # every write into it fails now
        with qtbot.waitSignal(s.message, timeout=WAIT,
                              check_params_cb=lambda text: "could not be kept on disk" in text):
            s.train()
        qtbot.waitUntil(lambda: s.epoch >= 5, timeout=WAIT)
        s.pause()
        qtbot.waitUntil(lambda: not s.running, timeout=WAIT)
        assert not errors
    finally:
        close_window(window)
    assert not Path(s.journal_dir).exists()
