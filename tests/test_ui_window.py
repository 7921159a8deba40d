"""The window end to end, driven through its widgets; waits on signals, never sleeps."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import engine_net, engine_state, engine_status
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from nnbench.ui import dialogs
from nnbench.ui.app import configure_pyqtgraph
from nnbench.ui.main_window import MainWindow

GRID = np.array([[x, y] for x in np.linspace(-6, 6, 7) for y in np.linspace(-6, 6, 7)])


def open_window(qtbot) -> MainWindow:
    configure_pyqtgraph()
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.session.spec_changed, timeout=10_000):
        window.start_default()
    return window


def close_window(window: MainWindow) -> None:
    window.close()
    assert not window.session.thread.isRunning()


def predictions(qtbot, window: MainWindow, rows: np.ndarray) -> np.ndarray:
    result = []
    window.session.predict(rows, result.append)
    qtbot.waitUntil(lambda: bool(result), timeout=10_000)
    return result[0]


def last_train_loss(window: MainWindow) -> float:
    frame = window.session.last_frame
    loss = frame.snapshot.history["train_loss"] if frame else []
    return float(loss[-1]) if len(loss) else np.inf


def test_default_experiment_is_ready(qtbot):
    window = open_window(qtbot)
    s = window.session
    assert s.dataset.name == "xor" and s.spec.n_inputs == 2 and s.spec.output.activation == "sigmoid"
    assert window.network_panel.table.rowCount() == len(s.spec.hidden) + 2
    close_window(window)


def test_build_train_save_and_load_gives_the_same_predictions(qtbot, tmp_path, monkeypatch, errors):
    window = open_window(qtbot)
    s, panel = window.session, window.network_panel

    # Build 2-8-6-1 through the panel: add a layer, set neurons and activations.
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        QTest.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    assert len(s.spec.hidden) == 3
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        QTest.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        panel.neuron_box(0).setValue(8)
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        panel.neuron_box(1).setValue(6)
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        panel.activation_box(1).setCurrentText("relu")
    assert s.spec.sizes == (2, 8, 6, 1)
    assert [layer.activation for layer in s.spec.hidden] == ["tanh", "relu"]
    assert engine_net(qtbot, window.session).spec == s.spec  # the engine follows the view

    with qtbot.waitSignal(s.config_changed, timeout=10_000):
        window.lr_box.setValue(0.5)
    assert s.config.lr == 0.5

    with qtbot.waitSignal(s.running_changed, timeout=10_000):
        window.train_action.trigger()
    qtbot.waitUntil(lambda: last_train_loss(window) < 0.15, timeout=60_000)
    with qtbot.waitSignal(s.running_changed, timeout=10_000) as paused:
        window.train_action.trigger()
    assert paused.args == [False]
    assert window.plots_panel.frames_drawn > 0

    path = tmp_path / "xor.npz"
    monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, **k: str(path))
    with qtbot.waitSignal(s.message, timeout=10_000):
        window.save_action.trigger()
    before = predictions(qtbot, window, GRID)
    close_window(window)

    other = open_window(qtbot)
    monkeypatch.setattr(dialogs, "ask_open_path", lambda *a, **k: str(path))
    with qtbot.waitSignal(other.session.spec_changed, timeout=10_000):
        other.open_action.trigger()
    assert other.session.spec == s.spec
    assert other.network_panel.hidden_layers() == s.spec.hidden
    after = predictions(qtbot, other, GRID)
    np.testing.assert_array_equal(before, after)
    assert not errors
    close_window(other)


def test_a_damaged_file_changes_nothing_and_says_why(qtbot, tmp_path, monkeypatch, errors):
    window = open_window(qtbot)
    before = predictions(qtbot, window, GRID)
    spec = window.session.spec
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a real archive")
    monkeypatch.setattr(dialogs, "ask_open_path", lambda *a, **k: str(bad))
    with qtbot.waitSignal(window.session.error, timeout=10_000):
        window.open_action.trigger()
    assert errors and "bad.npz" in errors[0]
    assert window.session.spec == spec
    np.testing.assert_array_equal(predictions(qtbot, window, GRID), before)
    close_window(window)


def test_a_network_for_other_data_is_refused(qtbot, tmp_path, monkeypatch, errors):
    from nnbench.engine import Network, NetworkSpec, files

    path = tmp_path / "three_inputs.npz"
    files.save(path, Network(NetworkSpec.mlp([3, 4, 1])))  # no dataset recorded
    window = open_window(qtbot)
    monkeypatch.setattr(dialogs, "ask_open_path", lambda *a, **k: str(path))
    with qtbot.waitSignal(window.session.error, timeout=10_000):
        window.open_action.trigger()
    assert "3 input(s)" in errors[0]
    assert window.session.spec.n_inputs == 2
    close_window(window)


def test_step_trains_exactly_one_epoch(qtbot):
    window = open_window(qtbot)
    for expected in (1, 2):
        qtbot.waitUntil(lambda: not window.session.running, timeout=10_000)
        window.step_action.trigger()
        qtbot.waitUntil(lambda expected=expected: window.session.epoch == expected, timeout=10_000)
    qtbot.waitUntil(lambda: not window.session.running, timeout=10_000)
    assert engine_state(qtbot, window.session).epoch == 2
    close_window(window)


def test_divergence_pauses_with_a_message_and_finite_weights(qtbot, errors):
    window = open_window(qtbot)
    with qtbot.waitSignal(window.session.dataset_changed, timeout=10_000):
        window.dataset_panel.select("generator", "line")
    with qtbot.waitSignal(window.session.config_changed, timeout=10_000):
        window.lr_box.setValue(90.0)
    with qtbot.waitSignal(window.session.diverged, timeout=30_000):
        window.train_action.trigger()
    qtbot.waitUntil(lambda: not window.session.running, timeout=10_000)
    assert "Lower the learning rate" in errors[-1]
    out = predictions(qtbot, window, np.array([[0.0], [0.5]]))
    assert np.all(np.isfinite(out))
    close_window(window)


def test_closing_while_training_stops_the_thread_cleanly(qtbot):
    window = open_window(qtbot)
    with qtbot.waitSignal(window.session.running_changed, timeout=10_000):
        window.train_action.trigger()
    qtbot.waitUntil(lambda: window.plots_panel.frames_drawn >= 3, timeout=20_000)
    thread = window.session.thread
    window.close()
    assert thread.isFinished()


def test_every_dataset_in_the_panel_builds_a_fitting_network(qtbot, errors):
    window = open_window(qtbot)
    combo = window.dataset_panel.combo
    for i in range(combo.count()):
        if combo.itemData(i) is None:
            continue
        with qtbot.waitSignal(window.session.spec_changed, timeout=10_000):
            combo.setCurrentIndex(i)
        ds, spec = window.session.dataset, window.session.spec
        assert (spec.n_inputs, spec.output.units) == (ds.n_features, ds.n_outputs)
        window.step_action.trigger()
        qtbot.waitUntil(lambda: window.session.epoch >= 1, timeout=10_000)
    assert not errors
    close_window(window)


def test_perceptron_example_reproduces_the_tutorial_in_the_window(qtbot, errors):
    window = open_window(qtbot)
    with qtbot.waitSignal(window.session.spec_changed, timeout=10_000):
        window.example_actions["perceptron"].trigger()
    s = window.session
    assert s.dataset.name == "perceptron" and s.spec.sizes == (3, 1)
    assert s.config.epochs == 10_000
    window.train_action.trigger()
    # The preset's epoch limit pauses training by itself.
    qtbot.waitUntil(lambda: s.epoch == 10_000 and not s.running, timeout=60_000)
    out = predictions(qtbot, window, np.array([[1.0, 0.0, 0.0]]))
    assert out[0, 0] == pytest.approx(0.99993704, abs=2e-6)
    assert not errors
    close_window(window)


def test_saved_and_opened_files_appear_under_open_recent(qtbot, tmp_path, monkeypatch, errors):
    from PySide6.QtCore import QSettings

    QSettings().remove("recent_files")
    window = open_window(qtbot)
    paths = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for path in paths:
        monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, p=path, **k: str(p))
        with qtbot.waitSignal(window.session.file_done, timeout=10_000):
            window.save_action.trigger()
    assert window.recent_files()[:2] == [str(paths[1].resolve()), str(paths[0].resolve())]
    window._fill_recent()
    actions = window.recent_menu.actions()
    assert [a.text() for a in actions[:2]] == ["b.npz", "a.npz"]
    with qtbot.waitSignal(window.session.file_done, timeout=10_000):
        actions[1].trigger()  # opens a.npz
    assert window.recent_files()[0] == str(paths[0].resolve())
    close_window(window)


def test_regularization_set_in_the_toolbar_applies_live_and_is_saved(qtbot, tmp_path):
    from nnbench.engine import files

    window = open_window(qtbot)
    s = window.session
    s.train()
    qtbot.waitUntil(lambda: s.running, timeout=10_000)
    before = engine_status(qtbot, s)
    with qtbot.waitSignal(s.config_changed, timeout=10_000):
        window.reg_box.setCurrentIndex(window.reg_box.findData("l2"))
    with qtbot.waitSignal(s.config_changed, timeout=10_000):
        window.reg_rate_box.setValue(0.05)
    config = engine_state(qtbot, s).config
    assert (config.regularization, config.reg_rate) == ("l2", 0.05)
    after = engine_status(qtbot, s)
    # Applied from the next batch: the same trainer, the same optimizer state.
    assert (after["serial"], after["optimizer_id"]) == (before["serial"], before["optimizer_id"])
    assert s.running
    s.pause()
    qtbot.waitUntil(lambda: not s.running, timeout=10_000)
    path = tmp_path / "reg.npz"
    with qtbot.waitSignal(s.file_done, timeout=10_000):
        s.save(path)
    saved = files.load(path).config
    assert (saved.regularization, saved.reg_rate) == ("l2", 0.05)
    close_window(window)


def test_curve_axes_move_in_steps_and_cover_the_data(qtbot):
    from nnbench.ui.axes import nice_ceiling

    assert [nice_ceiling(v) for v in (0.3, 1, 1.01, 2, 3, 7, 10, 11, 548, 4999)] == \
        [pytest.approx(v) for v in (0.3, 1, 1.5, 2, 3, 8, 10, 15, 600, 5000)]
    window = open_window(qtbot)
    s, plots = window.session, window.plots_panel
    s.train()
    qtbot.waitUntil(lambda: s.epoch > 30 and plots._last_frame is not None
                    and plots._last_frame.snapshot.epoch > 30, timeout=10_000)
    s.pause()
    # the frame that says training stopped redraws the curves (while training they wait 0.1 s)
    qtbot.waitUntil(lambda: not s.running and not plots._last_frame.running, timeout=10_000)
    h = plots._last_frame.snapshot.history
    (x0, x1), (y0, y1) = plots.loss_plot.getPlotItem().getViewBox().viewRange()
    assert x1 >= h["epoch"][-1] and x1 <= 1.05 * nice_ceiling(h["epoch"][-1])  # a step, not the data's edge
    losses = np.log10(np.concatenate([h["train_loss"], h["test_loss"]]))
    assert y0 <= losses.min() and y1 >= losses.max()  # log axis: whole decades around the data
    plots.log_loss.setChecked(False)
    (_, _), (y0, y1) = plots.loss_plot.getPlotItem().getViewBox().viewRange()
    assert y0 <= 0 and y1 >= np.max(np.concatenate([h["train_loss"], h["test_loss"]]))
    close_window(window)
