"""The Inspect window, driven by clicks: every instrument computes on a copy, shows the engine's
own numbers and leaves the network that trains alone (except "Use it", which sets the rate)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from engine_helpers import engine_net, engine_state
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from nnbench.engine import losses
from nnbench.inspect import landscape, training_batch
from nnbench.ui.app import configure_pyqtgraph
from nnbench.ui.main_window import MainWindow

WAIT = 20_000


def click(widget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def open_window(qtbot, preset: str | None = "xor-mlp") -> MainWindow:
    configure_pyqtgraph()
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.session.spec_changed, timeout=WAIT):
        if preset is None:
            window.start_default()
        else:
            window.open_example(preset)
    return window


def close_window(window: MainWindow) -> None:
    window.close()
    assert not window.session.thread.isRunning()


def test_backprop_inspector_shows_the_engines_gradients_and_steps_a_copy(qtbot, errors):
    window = open_window(qtbot)
    inspect, s = window.inspect, window.session
    tab = inspect.backprop
    with qtbot.waitSignal(tab.traced, timeout=WAIT) as got:
        window.inspect_actions["backprop"].trigger()
    t = got.args[0]
    assert inspect.isVisible() and inspect.tabs.currentWidget() is tab
    assert len(t.x) == 4  # the whole XOR table: the batch it trains on

    net = engine_net(qtbot, s)
    state = engine_state(qtbot, s)
    x, y = training_batch(state.dataset)
    value = net.loss_and_backward(x, y, losses.get("sse"))
    assert t.loss == pytest.approx(value, rel=1e-12)
    for name, _, g in net.params_and_grads():
        np.testing.assert_allclose(t.gradients()[name], g, rtol=1e-10)
    text = tab.text.toPlainText()
    for formula in ("z1 = a0 @ W1", "a2 = sigmoid(z2)", "L = sum((a2 - y)^2)", "dL/da2 = 2 * (a2 - y)",
                    "delta1 = dL/da1 * a1 * (1 - a1)", "dL/dW1 = a0.T @ delta1"):
        assert formula in text
    assert f"{t.loss:.6g}" in text

    before = net.weights()
    with qtbot.waitSignal(tab.stepped, timeout=WAIT) as stepped:
        click(tab.step_button)
    after = stepped.args[0]
    for name, g in t.gradients().items():
        np.testing.assert_allclose(after[name], before[name] - s.config.lr * g, rtol=1e-12)
    assert "before and after" in tab.text.toPlainText()
    live = engine_net(qtbot, s)
    assert np.array_equal(live.flat_params, net.flat_params)  # the engine's network did not move

    # one row: a table of one row, and the heatmap's hover names the entry under the mouse
    tab.row_box.setValue(2)
    with qtbot.waitSignal(tab.traced, timeout=WAIT) as got:
        tab.count_box.setValue(1)
    assert len(got.args[0].x) == 1
    tab.heat_box.setCurrentText("W1")
    assert tab.image.image.shape[:2] == (3, 4)
    close_window(window)


def test_gradient_check_button_reports_each_layer(qtbot, errors):
    window = open_window(qtbot)
    window.inspect_actions["gradcheck"].trigger()
    tab = window.inspect.gradcheck
    with qtbot.waitSignal(tab.checked, timeout=WAIT) as got:
        click(tab.check_button)
    r = got.args[0]
    assert r.verdict == "agree" and r.error < 1e-6
    assert tab.table.rowCount() == 2 and tab.table.item(1, 3).text() == "backprop agrees"
    assert "backprop agrees" in tab.verdict.text()
    assert not errors
    close_window(window)


def test_lr_finder_suggests_and_use_it_sets_the_learning_rate(qtbot, errors):
    window = open_window(qtbot, preset="circle-features")
    s = window.session
    window.inspect_actions["lr"].trigger()
    tab = window.inspect.lr
    before = engine_net(qtbot, s).flat_params.copy()
    with qtbot.waitSignal(tab.found, timeout=60_000) as got:
        click(tab.run_button)
    r = got.args[0]
    assert math.isfinite(r.suggested) and tab.use_button.isEnabled()
    assert np.array_equal(engine_net(qtbot, s).flat_params, before)  # the finder trained a copy
    assert len(tab.raw.xData) == len(r.lrs)
    with qtbot.waitSignal(s.config_changed, timeout=WAIT):
        click(tab.use_button)
    assert s.config.lr == pytest.approx(float(f"{r.suggested:.3g}"))
    assert engine_state(qtbot, s).config.lr == pytest.approx(s.config.lr)
    assert window.lr_box.value() == pytest.approx(s.config.lr, rel=1e-4)
    close_window(window)


def test_curvature_on_demand_and_every_n_epochs_with_the_limit_by_the_rate(qtbot, errors):
    window = open_window(qtbot)
    s = window.session
    window.inspect_actions["curvature"].trigger()
    tab = window.inspect.curvature
    with qtbot.waitSignal(tab.measured, timeout=WAIT) as got:
        click(tab.run_button)
    lam, limit, epoch = got.args
    assert epoch == 0 and limit == pytest.approx(2 / lam)
    assert lam == pytest.approx(0.6074, rel=1e-3)  # xor-mlp's initial weights (the CLI says the same)
    assert f"{limit:.3g}" in window.stability_note.label.text()
    assert "Stability limit" in window.lr_box.toolTip()

    tab.every_box.setValue(100)
    with qtbot.waitSignal(tab.measured, timeout=WAIT):
        click(tab.every_check)
    s.set_speed(200.0)  # full-batch XOR: 200 epochs a second, so frames come every few epochs
    s.set_config(epochs=300)
    s.train()
    qtbot.waitUntil(lambda: len(tab.rows) >= 3, timeout=60_000)
    epochs = [row[0] for row in tab.rows]
    assert epochs[0] == 0 and all(b - a >= 100 for a, b in zip(epochs, epochs[1:], strict=False))
    assert len(tab.limit_curve.xData) == len(tab.rows)
    s.pause()
    tab.every_check.setChecked(False)
    qtbot.waitUntil(lambda: not tab.jobs.busy, timeout=WAIT)
    close_window(window)


def test_landscape_line_plane_path_and_cancel(qtbot, errors):
    window = open_window(qtbot, preset=None)  # the 2-D XOR default
    s = window.session
    window.inspect_actions["landscape"].trigger()
    tab = window.inspect.landscape
    tab.points_box.setValue(7)

    with qtbot.waitSignal(tab.drawn, timeout=WAIT) as got:
        click(tab.line_button)
    line = got.args[0]
    assert isinstance(line, landscape.Line) and "seed" in tab.answer.text()
    state = engine_state(qtbot, s)
    x, y = training_batch(state.dataset, 2000)
    net = engine_net(qtbot, s)
    at_now = line.losses[np.argmin(np.abs(line.alphas - 1.0))]
    assert at_now == pytest.approx(net.loss(x, y, losses.get(state.config.loss))[0], rel=1e-9)

    with qtbot.waitSignal(tab.drawn, timeout=WAIT) as got:
        click(tab.plane_button)
    plane = got.args[0]
    assert plane.kind == "random" and plane.losses.shape == (7, 7)
    assert plane.losses[3, 3] == pytest.approx(at_now, rel=1e-9)

    click(tab.record_check)
    tab.record_box.setValue(2)
    # A step ends with a frame of its own, so each step adds one point whatever the frame rate.
    for _ in range(8):
        epoch = s.epoch
        s.step()
        qtbot.waitUntil(lambda e=epoch: bool(tab.path_epochs) and tab.path_epochs[-1] > e or
                        s.epoch > e and not s.running and s.last_frame is not None
                        and s.last_frame.snapshot.epoch > e, timeout=WAIT)
    assert len(tab.path) >= 4 and tab.path_epochs == sorted(tab.path_epochs)
    assert all(b - a >= 2 for a, b in zip(tab.path_epochs, tab.path_epochs[1:], strict=False))
    assert tab.path_button.isEnabled()
    with qtbot.waitSignal(tab.drawn, timeout=WAIT) as got:
        click(tab.path_button)
    plane = got.args[0]
    assert plane.kind == "pca" and plane.path.shape == (len(tab.path), 2)
    assert sum(plane.explained) <= 1.0 + 1e-9

    tab.points_box.setValue(101)
    with qtbot.waitSignal(tab.jobs.failed, timeout=WAIT) as failed:
        click(tab.plane_button)
        qtbot.waitUntil(lambda: tab.jobs.busy, timeout=WAIT)
        click(tab.jobs.cancel_button)
    assert failed.args[0] == "Cancelled" and not tab.jobs.busy
    assert tab.jobs.status.text() == "Cancelled"
    close_window(window)
