"""The network diagram driven with real mouse clicks: the engine, the diagram and the layer
list agree after every edit; waits on signals, never sleeps."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import engine_net, engine_state
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from nnbench.engine import LayerSpec, NetworkSpec
from nnbench.ui import dialogs
from nnbench.ui.app import configure_pyqtgraph
from nnbench.ui.main_window import MainWindow
from nnbench.ui.network_view import NetworkView
from nnbench.ui.undo import StructureHistory


@pytest.fixture
def bench(qtbot):
    configure_pyqtgraph()
    window = MainWindow()
    qtbot.addWidget(window)
    # Once the main window holds the diagram and the history, test those; until then, our own.
    view = getattr(window, "network_view", None) or NetworkView(window.session)
    if view.parent() is None:
        qtbot.addWidget(view)
    history = getattr(window, "history", None) or StructureHistory(window.session)
    window.show()
    if view.parent() is None:
        view.resize(900, 600)
        view.show()
    with qtbot.waitSignal(window.session.spec_changed, timeout=10_000):
        window.start_default()
    yield window, view, history
    window.close()
    assert not window.session.thread.isRunning()


def click(qtbot, view: NetworkView, item, signal=None) -> None:
    pos = view.mapFromScene(item.sceneBoundingRect().center())
    if signal is None:
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
        return
    with qtbot.waitSignal(signal, timeout=10_000):
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def settled(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.session.busy, timeout=10_000)


def agree(qtbot, window, view: NetworkView, sizes: tuple[int, ...], acts: list[str]) -> None:
    """Engine, session, diagram and layer list all show the same network."""
    settled(qtbot, window)
    s = window.session
    assert s.spec.sizes == sizes
    assert [layer.activation for layer in s.spec.hidden] == acts
    assert engine_net(qtbot, s).spec == s.spec
    assert window.network_panel.hidden_layers() == s.spec.hidden
    assert len(view.columns) == len(sizes)
    for c, units in enumerate(sizes):
        assert len(view.columns[c]) == min(units, 16 if units <= 16 else 15)
    for h, layer in enumerate(s.spec.hidden):
        assert view.buttons[f"act{h}"].childItems()[0].text().startswith(layer.activation)


def test_clicks_build_the_network_and_undo_redo_walks_back(qtbot, bench, monkeypatch):
    window, view, history = bench
    s = window.session
    agree(qtbot, window, view, (2, 4, 4, 1), ["tanh", "tanh"])

    click(qtbot, view, view.buttons["add_layer"], s.spec_changed)
    agree(qtbot, window, view, (2, 4, 4, 4, 1), ["tanh"] * 3)

    click(qtbot, view, view.buttons["neurons+0"], s.spec_changed)
    agree(qtbot, window, view, (2, 5, 4, 4, 1), ["tanh"] * 3)

    click(qtbot, view, view.buttons["neurons-1"], s.spec_changed)
    agree(qtbot, window, view, (2, 5, 3, 4, 1), ["tanh"] * 3)

    monkeypatch.setattr(dialogs, "ask_choice", lambda parent, title, choices, current: "relu")
    click(qtbot, view, view.buttons["act2"], s.spec_changed)
    agree(qtbot, window, view, (2, 5, 3, 4, 1), ["tanh", "tanh", "relu"])

    click(qtbot, view, view.buttons["remove_layer"], s.spec_changed)
    agree(qtbot, window, view, (2, 5, 3, 1), ["tanh", "tanh"])

    # Undo walks back through every edit, redo forward again.
    assert history.can_undo and not history.can_redo
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        history.undo()
    agree(qtbot, window, view, (2, 5, 3, 4, 1), ["tanh", "tanh", "relu"])
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        history.undo()
    agree(qtbot, window, view, (2, 5, 3, 4, 1), ["tanh"] * 3)
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        history.redo()
    agree(qtbot, window, view, (2, 5, 3, 4, 1), ["tanh", "tanh", "relu"])

    # An edit from the layer list lands on the same stack and clears redo.
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        window.network_panel.neuron_box(0).setValue(7)
    agree(qtbot, window, view, (2, 7, 3, 4, 1), ["tanh", "tanh", "relu"])
    assert not history.can_redo
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        history.undo()
    agree(qtbot, window, view, (2, 5, 3, 4, 1), ["tanh", "tanh", "relu"])


def test_undo_actions_have_the_shortcuts(qtbot, bench):
    window, view, history = bench
    undo, redo = (window.undo_action, window.redo_action) if hasattr(window, "undo_action") \
        else history.actions(window)
    assert undo.shortcut().toString() == "Ctrl+Z"
    assert "Ctrl+Shift+Z" in [k.toString() for k in redo.shortcuts()]
    assert not undo.isEnabled()
    with qtbot.waitSignal(window.session.spec_changed, timeout=10_000):
        click(qtbot, view, view.buttons["add_layer"])
    assert undo.isEnabled() and not redo.isEnabled()
    with qtbot.waitSignal(window.session.spec_changed, timeout=10_000):
        undo.trigger()
    assert redo.isEnabled()
    agree(qtbot, window, view, (2, 4, 4, 1), ["tanh", "tanh"])


def test_clicking_a_connection_and_a_neuron_sets_weight_and_bias(qtbot, bench, monkeypatch):
    window, view, _ = bench
    s = window.session
    qtbot.waitUntil(lambda: bool(view.weights), timeout=10_000)
    edge = view.edge(1, 0, 0)  # hidden 1, neuron 1 -> hidden 2, neuron 1: no other line crosses its middle
    asked = []

    def ask(parent, title, label, value):
        asked.append(value)
        return 1.25

    monkeypatch.setattr(dialogs, "ask_number", ask)
    expected = float(engine_net(qtbot, s).layers[1].W[0, 0])
    assert "weight" in view.tooltip_at(view.mapFromScene(edge.sceneBoundingRect().center()))
    click(qtbot, view, edge)
    settled(qtbot, window)
    assert asked == [pytest.approx(expected)]
    assert engine_net(qtbot, s).layers[1].W[0, 0] == 1.25
    qtbot.waitUntil(lambda: view.weights["layer1.W"][0, 0] == 1.25, timeout=10_000)  # the diagram follows
    assert "+1.2500" in view.tooltip_at(view.mapFromScene(edge.sceneBoundingRect().center()))

    monkeypatch.setattr(dialogs, "ask_number", lambda parent, title, label, value: -0.5)
    click(qtbot, view, view.neuron(2, 3))  # column 2 = hidden layer 2 (engine layer 1), neuron 4
    settled(qtbot, window)
    assert engine_net(qtbot, s).layers[1].b[3] == -0.5

    # Cancelling changes nothing.
    monkeypatch.setattr(dialogs, "ask_number", lambda parent, title, label, value: None)
    before = engine_net(qtbot, s).weights()
    click(qtbot, view, view.neuron(1, 0))
    settled(qtbot, window)
    after = engine_net(qtbot, s).weights()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_adding_a_neuron_keeps_learned_weights(qtbot, bench):
    window, view, _ = bench
    s = window.session
    settled(qtbot, window)
    old = engine_net(qtbot, s).weights()
    click(qtbot, view, view.buttons["neurons+0"], s.spec_changed)
    settled(qtbot, window)
    new = engine_net(qtbot, s).weights()
    assert new["layer0.W"].shape == (2, 5)
    assert np.array_equal(new["layer0.W"][:, :4], old["layer0.W"])
    assert np.array_equal(new["layer1.W"][:4], old["layer1.W"])


def test_live_frames_colour_connections_and_fill_heatmaps(qtbot, bench):
    window, view, _ = bench
    s = window.session
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        s.set_hidden((LayerSpec(8, "tanh"), LayerSpec(6, "relu"), LayerSpec(4, "sigmoid")))
    s.train()
    qtbot.waitUntil(lambda: bool(view.weights) and view.weights["layer0.W"].shape == (2, 8)
                    and view.has_picture(view.neuron(3, 0)), timeout=10_000)
    s.pause()
    qtbot.waitUntil(lambda: not s.running, timeout=10_000)
    assert all(view.has_picture(n) for col in view.columns[1:] for n in col)
    W = view.weights["layer0.W"]
    for e in view.edges[0]:
        sign = e.level // 8
        assert sign == (1 if W[e.i, e.j] < 0 else 0)
    # Blue for positive, orange for negative; faint ones mixed towards white, and opaque (the
    # raster engine draws translucent antialiased lines ten times slower).
    for e in view.edges[0]:
        c = e.pen().color()
        assert c.alpha() == 255
        assert (c.blue() > c.red()) == (W[e.i, e.j] >= 0)


def test_wide_and_deep_networks_stay_bounded(qtbot, bench):
    window, view, _ = bench
    s = window.session
    wide = tuple(LayerSpec(64, "relu") for _ in range(10))
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        s.set_hidden(wide)
    settled(qtbot, window)
    assert len(view.columns) == 12
    assert all(len(col) == 15 for col in view.columns[1:-1])
    assert view.more[1].text() == "+49\nmore"
    assert sum(len(e) for e in view.edges) == 2 * 15 + 9 * 15 * 15 + 15
    qtbot.waitUntil(lambda: bool(view.weights) and view.weights["layer0.W"].shape == (2, 64), timeout=10_000)


def test_a_dense_diagram_restyles_its_lines_every_tenth_of_a_second_and_exactly_when_stopped(
        qtbot, bench, monkeypatch):
    import time

    from nnbench.ui import network_view

    window, view, _ = bench
    s = window.session
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        s.set_hidden(tuple(LayerSpec(64, "tanh") for _ in range(10)))
    settled(qtbot, window)
    assert sum(len(e) for e in view.edges) > network_view.AA_EDGES
    styled, frames = [], []
    real = view._style_edges
    monkeypatch.setattr(view, "_style_edges", lambda w: styled.append(time.monotonic()) or real(w))
    s.frame.connect(lambda f: frames.append(f.running))
    t0 = time.monotonic()
    s.train()
    qtbot.waitUntil(lambda: sum(frames) >= 15 and time.monotonic() - t0 > 1.0, timeout=30_000)
    s.pause()
    qtbot.waitUntil(lambda: not s.running and frames and not frames[-1], timeout=10_000)
    s.turns.flush()
    gaps = np.diff(styled[:-1])  # the stopped frame's restyle comes when it comes
    assert len(styled) < len(frames) and np.all(gaps >= network_view.EDGES_INTERVAL - 1e-3)
    W = view.weights["layer1.W"]  # the stopped frame's colours are its own weights'
    for e in view.edges[1]:
        assert e.level // 8 == (1 if W[e.i, e.j] < 0 else 0)


def test_hovering_a_neuron_says_which_and_gives_its_heatmap(qtbot, bench):
    window, view, _ = bench
    qtbot.waitUntil(lambda: bool(view._outputs), timeout=10_000)
    node = view.neuron(2, 1)
    with qtbot.waitSignal(view.neuron_hovered, timeout=5_000) as hovered:
        # QTest.mouseMove moves the cursor, which the offscreen platform does not report.
        pos = QPointF(view.mapFromScene(node.sceneBoundingRect().center()))
        move = QMouseEvent(QEvent.Type.MouseMove, pos, view.viewport().mapToGlobal(pos),
                           Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(view.viewport(), move)
    assert hovered.args == [2, 1]
    res = window.session.view.res
    assert view.neuron_output(2, 1).shape == (res, res)
    assert view.neuron_output(0, 1)[-1, 0] > view.neuron_output(0, 1)[0, 0]  # x2 grows along rows


def test_784_inputs_show_as_one_block(qtbot, bench):
    window, view, _ = bench
    settled(qtbot, window)
    spec = NetworkSpec.mlp([784, 32, 10], output="softmax")
    view._on_spec_changed(spec)  # as the session would for MNIST, without loading it
    assert len(view.columns[0]) == 1 and view.columns[0][0].index == -1
    assert len(view.edges[0]) == 15 and len(view.edges[1]) == 15 * 10
    weights = {"layer0.W": np.full((784, 32), -0.5), "layer1.W": np.ones((32, 10))}
    view._style_edges(weights)
    assert all(e.level // 8 == 1 for e in view.edges[0])  # negative mean: orange
    assert all(e.level // 8 == 0 for e in view.edges[1])


def test_ctrl_z_and_ctrl_shift_z_from_the_keyboard(qtbot, bench):
    window, view, history = bench
    s = window.session
    if not hasattr(window, "undo_action"):
        window.addActions(list(history.actions(window)))  # as the main window will
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    click(qtbot, view, view.buttons["neurons+1"], s.spec_changed)
    agree(qtbot, window, view, (2, 4, 5, 1), ["tanh", "tanh"])
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    agree(qtbot, window, view, (2, 4, 4, 1), ["tanh", "tanh"])
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        shift_ctrl = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        QTest.keyClick(window, Qt.Key.Key_Z, shift_ctrl)
    agree(qtbot, window, view, (2, 4, 5, 1), ["tanh", "tanh"])


def test_edits_while_training_keep_training(qtbot, bench):
    window, view, _ = bench
    s = window.session
    s.train()
    qtbot.waitUntil(lambda: s.running, timeout=10_000)
    click(qtbot, view, view.buttons["add_layer"], s.spec_changed)
    click(qtbot, view, view.buttons["neurons+2"], s.spec_changed)
    agree(qtbot, window, view, (2, 4, 4, 5, 1), ["tanh"] * 3)
    epoch = engine_state(qtbot, s).epoch
    qtbot.waitUntil(lambda: view.weights.get("layer2.W", np.empty(0)).shape == (4, 5)
                    and engine_state(qtbot, s).epoch > epoch, timeout=10_000)
    assert s.running
    s.pause()
    qtbot.waitUntil(lambda: not s.running, timeout=10_000)


def test_the_output_activation_can_be_overridden_and_the_loss_follows(qtbot, bench, monkeypatch):
    window, view, _ = bench
    s = window.session
    assert s.spec.output.activation == "sigmoid" and s.config.loss == "bce"
    monkeypatch.setattr(dialogs, "ask_choice", lambda parent, title, choices, current: "linear")
    click(qtbot, view, view.buttons["act_out"], s.spec_changed)
    settled(qtbot, window)
    assert s.spec.output.activation == "linear" and s.config.loss == "mse"
    assert engine_net(qtbot, s).spec == s.spec and engine_state(qtbot, s).config.loss == "mse"
    assert window.loss_box.currentData() == "mse"
    assert view.buttons["act_out"].childItems()[0].text().startswith("linear")
    # A structural edit afterwards keeps the override.
    click(qtbot, view, view.buttons["neurons+0"], s.spec_changed)
    agree(qtbot, window, view, (2, 5, 4, 1), ["tanh", "tanh"])
    assert s.spec.output.activation == "linear"


def hover(view: NetworkView, item) -> None:
    """A real mouse-move event over ``item`` (QTest.mouseMove moves the cursor, which the
    offscreen platform does not report)."""
    pos = QPointF(view.mapFromScene(item.sceneBoundingRect().center())) if item is not None else QPointF(2, 2)
    assert item is not None or view.item_at(pos.toPoint()) is None
    move = QMouseEvent(QEvent.Type.MouseMove, pos, view.viewport().mapToGlobal(pos),
                       Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), move)


def first_layer_rows(qtbot, s) -> dict[str, np.ndarray]:
    net = engine_net(qtbot, s)
    return {name: net.layers[0].W[k].copy() for k, name in enumerate(net.spec.input_names)}


def test_clicking_input_features_switches_them_and_keeps_weights(qtbot, bench):
    window, view, history = bench
    s = window.session
    settled(qtbot, window)
    assert set(view.feature_nodes) == {"x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"}
    assert [n.feature for n in view.columns[0]] == ["x1", "x2"]
    assert all(view.has_picture(n) for n in view.feature_nodes.values())  # each over the plane
    rows = first_layer_rows(qtbot, s)
    deeper = engine_net(qtbot, s).layers[1].W.copy()

    click(qtbot, view, view.feature_nodes["x1^2"], s.spec_changed)
    agree(qtbot, window, view, (3, 4, 4, 1), ["tanh", "tanh"])
    assert s.spec.features == ("x1", "x2", "x1^2") == engine_net(qtbot, s).spec.features
    assert [n.feature for n in view.columns[0]] == ["x1", "x2", "x1^2"]
    assert view.feature_nodes["x1^2"].on and not view.feature_nodes["sin(x1)"].on
    assert window.network_panel.table.cellWidget(0, 1).text().strip() == "3"
    now = first_layer_rows(qtbot, s)
    assert np.array_equal(now["x1"], rows["x1"]) and np.array_equal(now["x2"], rows["x2"])
    assert np.array_equal(engine_net(qtbot, s).layers[1].W, deeper)

    click(qtbot, view, view.feature_nodes["x1"], s.spec_changed)
    agree(qtbot, window, view, (2, 4, 4, 1), ["tanh", "tanh"])
    assert s.spec.features == ("x2", "x1^2")
    after = first_layer_rows(qtbot, s)
    assert np.array_equal(after["x2"], rows["x2"]) and np.array_equal(after["x1^2"], now["x1^2"])
    x = np.array([[0.3, -0.7]])
    net = engine_net(qtbot, s)
    first = net.layers[0]
    h = np.tanh(np.array([[-0.7, 0.09]]) @ first.W + first.b)
    np.testing.assert_allclose(net.activations(x)[0], h)  # x2 and x1² feed layer 1

    # The last feature on stays on.
    click(qtbot, view, view.feature_nodes["x2"], s.spec_changed)
    click(qtbot, view, view.feature_nodes["x1^2"])
    settled(qtbot, window)
    assert s.spec.features == ("x1^2",)

    # Undo walks back through the toggles to the raw inputs, with their first weights.
    for _ in range(3):
        with qtbot.waitSignal(s.spec_changed, timeout=10_000):
            history.undo()
        settled(qtbot, window)
    assert s.spec.features is None and s.spec.sizes == (2, 4, 4, 1)
    back = first_layer_rows(qtbot, s)
    assert np.array_equal(back["x1"], rows["x1"]) and np.array_equal(back["x2"], rows["x2"])


def test_features_train_live_and_stay_across_datasets(qtbot, bench):
    window, view, _ = bench
    s = window.session
    click(qtbot, view, view.feature_nodes["sin(x1)"], s.spec_changed)
    settled(qtbot, window)
    s.train()
    qtbot.waitUntil(lambda: view.weights.get("layer0.W", np.empty(0)).shape == (3, 4)
                    and engine_state(qtbot, s).epoch > 3, timeout=10_000)
    s.pause()
    qtbot.waitUntil(lambda: not s.running, timeout=10_000)
    assert len(view.edges[0]) == 3 * 4
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        s.set_source({"kind": "generator", "name": "circle", "n": 200, "noise": 0.0, "seed": 1})
    settled(qtbot, window)
    assert s.spec.features == ("x1", "x2", "sin(x1)")
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        s.set_source({"kind": "table", "name": "xor3"})  # 3 inputs: no features
    settled(qtbot, window)
    assert s.spec.features is None and not view.feature_nodes and s.spec.sizes[0] == 3
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        s.set_source({"kind": "generator", "name": "xor", "n": 100, "seed": 2})
    settled(qtbot, window)
    assert s.spec.features == ("x1", "x2", "sin(x1)")  # back on 2-D data, as the user left them


def test_undo_brings_back_a_removed_neurons_own_weights(qtbot, bench):
    window, view, history = bench
    s = window.session

    def train_epochs(n: int) -> None:
        target = engine_state(qtbot, s).epoch + n
        for _ in range(n):
            s.step()
        qtbot.waitUntil(lambda: s.epoch >= target and not s.running, timeout=10_000)
        settled(qtbot, window)

    train_epochs(5)
    before = engine_net(qtbot, s).weights()
    click(qtbot, view, view.buttons["neurons-0"], s.spec_changed)  # drops neuron 4 of layer 1
    agree(qtbot, window, view, (2, 3, 4, 1), ["tanh", "tanh"])
    train_epochs(5)
    trained = engine_net(qtbot, s).weights()
    assert not np.array_equal(trained["layer0.W"], before["layer0.W"][:, :3])

    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        history.undo()
    agree(qtbot, window, view, (2, 4, 4, 1), ["tanh", "tanh"])
    w = engine_net(qtbot, s).weights()
    assert np.array_equal(w["layer0.W"][:, 3], before["layer0.W"][:, 3])  # the removed neuron, as it was
    assert np.array_equal(w["layer0.b"][3], before["layer0.b"][3])
    assert np.array_equal(w["layer1.W"][3], before["layer1.W"][3])
    assert np.array_equal(w["layer0.W"][:, :3], trained["layer0.W"])  # the rest keeps what it learned
    assert np.array_equal(w["layer1.W"][:3], trained["layer1.W"])

    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        history.redo()
    agree(qtbot, window, view, (2, 3, 4, 1), ["tanh", "tanh"])
    assert np.array_equal(engine_net(qtbot, s).weights()["layer0.W"], trained["layer0.W"])


def test_weight_bias_and_output_edits_are_undoable(qtbot, bench, monkeypatch):
    window, view, history = bench
    s = window.session
    qtbot.waitUntil(lambda: bool(view.weights), timeout=10_000)
    old_w = float(engine_net(qtbot, s).layers[1].W[0, 0])
    old_b = float(engine_net(qtbot, s).layers[0].b[2])
    monkeypatch.setattr(dialogs, "ask_number", lambda parent, title, label, value: 2.5)
    click(qtbot, view, view.edge(1, 0, 0))
    settled(qtbot, window)
    click(qtbot, view, view.neuron(1, 2))
    settled(qtbot, window)
    monkeypatch.setattr(dialogs, "ask_choice", lambda parent, title, choices, current: "linear")
    click(qtbot, view, view.buttons["act_out"], s.spec_changed)
    settled(qtbot, window)
    net = engine_net(qtbot, s)
    assert (net.layers[1].W[0, 0], net.layers[0].b[2], s.config.loss) == (2.5, 2.5, "mse")
    assert window.undo_action.text() == "&Undo output activation"

    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        history.undo()
    settled(qtbot, window)
    assert s.spec.output.activation == "sigmoid" and s.config.loss == "bce"
    assert engine_state(qtbot, s).config.loss == "bce"
    assert window.undo_action.text().startswith("&Undo bias")
    history.undo()
    settled(qtbot, window)
    assert engine_net(qtbot, s).layers[0].b[2] == old_b
    history.undo()
    settled(qtbot, window)
    assert engine_net(qtbot, s).layers[1].W[0, 0] == old_w
    assert not history.can_undo
    history.redo()
    settled(qtbot, window)
    assert engine_net(qtbot, s).layers[1].W[0, 0] == 2.5
    qtbot.waitUntil(lambda: view.weights["layer1.W"][0, 0] == 2.5, timeout=10_000)


def test_hovering_shows_the_neuron_large_in_the_plots(qtbot, bench):
    window, view, _ = bench
    s = window.session
    plots = window.plots_panel
    s.step()
    qtbot.waitUntil(lambda: plots._last_frame is not None and bool(view._outputs), timeout=10_000)
    title = lambda: plots.output_plot.getPlotItem().titleLabel.text  # noqa: E731
    assert title() == "Decision surface"

    hover(view, view.neuron(2, 1))
    assert plots.hovered == (2, 1)
    assert title() == "Hidden layer 2, neuron 2 (tanh)"
    assert view.neuron(2, 1).pen().width() == 3  # the diagram marks which neuron is shown
    values = plots._last_frame.grid_hidden[1][:, 1].reshape(s.view.res, s.view.res)
    from nnbench.ui.colors import diverging_rgb
    np.testing.assert_array_equal(plots.surface.image, diverging_rgb(values, 1.0))

    hover(view, view.feature_nodes["x2"])
    assert plots.hovered == (0, 1) and title() == "Input feature x₂"
    np.testing.assert_allclose(plots.neuron_map(plots._last_frame)[0][:, 0], s.view.grid[::s.view.res, 1])

    hover(view, None)  # off every neuron: the network's output again
    assert plots.hovered == (-1, -1) and title() == "Decision surface"
    assert plots.surface.image.shape == (s.view.res, s.view.res, 3)
    assert view.neuron(2, 1).pen().width() != 3

    hover(view, view.neuron(3, 0))  # the output neuron, then a structural edit removes the view of it
    assert title() == "Output, neuron 1 (sigmoid)"
    click(qtbot, view, view.buttons["add_layer"], s.spec_changed)
    assert plots.hovered == (-1, -1) and title() == "Decision surface"


def test_layer_list_edits_keep_a_layer_without_bias(qtbot, bench):
    window, view, _ = bench
    s = window.session
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        s.set_hidden((LayerSpec(3, "sigmoid", bias=False),))
    settled(qtbot, window)
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        window.network_panel.neuron_box(0).setValue(5)
    settled(qtbot, window)
    assert s.spec.hidden == (LayerSpec(5, "sigmoid", bias=False),)
    assert engine_net(qtbot, s).layers[0].b is None
    click(qtbot, view, view.buttons["add_layer"], s.spec_changed)
    settled(qtbot, window)
    assert s.spec.hidden[1].bias is False


def test_ctrl_z_undoes_a_network_edit_from_a_focused_spin_box(qtbot, bench):
    window, view, _ = bench
    s = window.session
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    box = window.network_panel.neuron_box(0)
    box.setFocus()
    qtbot.waitUntil(box.hasFocus, timeout=5_000)
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        QTest.keyClick(box, Qt.Key.Key_Up)  # the arrow key steps the value: an edit
    agree(qtbot, window, view, (2, 5, 4, 1), ["tanh", "tanh"])
    assert window.network_panel.neuron_box(0).hasFocus()
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        QTest.keyClick(window.network_panel.neuron_box(0), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    agree(qtbot, window, view, (2, 4, 4, 1), ["tanh", "tanh"])


def test_one_dimensional_data_shows_each_neurons_curve(qtbot, bench):
    from nnbench import resources

    window, view, _ = bench
    s = window.session
    plots = window.plots_panel
    with qtbot.waitSignal(s.file_done, timeout=10_000):
        s.load(resources.preset_path("regression-curve"))  # a sine, 1-tanh-hidden-1
    assert s.dataset.n_features == 1 and not view.feature_nodes
    s.step()
    qtbot.waitUntil(lambda: plots._last_frame is not None and bool(view._outputs), timeout=10_000)
    assert all(view.has_picture(n) for col in view.columns for n in col)  # inputs too
    values = view.neuron_output(1, 2)
    assert values.shape == (s.view.res,)
    np.testing.assert_array_equal(values, plots._last_frame.grid_hidden[0][:, 2])

    title = lambda: plots.output_plot.getPlotItem().titleLabel.text  # noqa: E731
    hover(view, view.neuron(1, 2))
    assert plots.neuron_curve.isVisible()
    x, y = plots.neuron_curve.getData()
    np.testing.assert_array_equal(x, s.view.grid[:, 0])
    np.testing.assert_array_equal(y, values)
    assert title() == f"Fitted curve; orange: Hidden layer 1, neuron 3 ({s.spec.hidden[0].activation})"
    hover(view, None)
    assert not plots.neuron_curve.isVisible() and title() == "Fitted curve"

    # A sigmoid neuron's curve is its own 0..1 values (not the heatmaps' 2s - 1).
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        s.set_hidden((LayerSpec(8, "sigmoid"),))
    s.step()
    qtbot.waitUntil(lambda: plots._last_frame is not None and plots._last_frame.grid_hidden is not None
                    and plots._last_frame.grid_hidden[0].min() > 0
                    and len(view._outputs) == 2, timeout=10_000)
    hover(view, view.neuron(1, 2))
    np.testing.assert_array_equal(plots.neuron_curve.getData()[1], plots._last_frame.grid_hidden[0][:, 2])


def test_undoing_a_structural_edit_keeps_a_loss_chosen_since(qtbot, bench):
    window, view, history = bench
    s = window.session
    click(qtbot, view, view.buttons["neurons+0"], s.spec_changed)
    settled(qtbot, window)
    with qtbot.waitSignal(s.config_changed, timeout=10_000):
        window.loss_box.setCurrentIndex(window.loss_box.findData("mse"))
    settled(qtbot, window)
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        history.undo()
    agree(qtbot, window, view, (2, 4, 4, 1), ["tanh", "tanh"])
    assert s.config.loss == "mse" == engine_state(qtbot, s).config.loss


def test_an_edit_queued_behind_a_dataset_switch_is_dropped_not_misapplied(qtbot, bench):
    window, view, history = bench
    s = window.session
    settled(qtbot, window)
    messages: list[str] = []
    s.message.connect(messages.append)
    s.set_source({"kind": "generator", "name": "plane", "n": 100, "seed": 0})  # regression: linear + mse
    s.set_hidden((LayerSpec(3, "relu"),))  # made on the classification net still shown
    settled(qtbot, window)
    assert s.dataset.task == "regression"
    assert engine_net(qtbot, s).spec == s.spec and s.spec.output.activation == "linear"
    assert s.config.loss == "mse" == engine_state(qtbot, s).config.loss
    assert any("dropped" in m for m in messages)
    assert window.network_panel.hidden_layers() == s.spec.hidden
    assert not history.can_undo


def test_undo_waits_for_a_weight_edit_still_on_its_way(qtbot, bench):
    window, view, history = bench
    s = window.session
    click(qtbot, view, view.buttons["neurons+0"], s.spec_changed)
    settled(qtbot, window)
    s.set_weight(0, 0, 0, 3.0)
    history.undo()  # the weight edit has not come back yet: this must not undo the neuron
    settled(qtbot, window)
    assert s.spec.sizes == (2, 5, 4, 1) and engine_net(qtbot, s).layers[0].W[0, 0] == 3.0
    assert history.undo_text.startswith("weight")
    history.undo()
    settled(qtbot, window)
    assert engine_net(qtbot, s).layers[0].W[0, 0] != 3.0 and history.can_redo
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        history.undo()
    agree(qtbot, window, view, (2, 4, 4, 1), ["tanh", "tanh"])


def test_the_undo_history_keeps_its_stored_networks_within_a_budget(qtbot, bench, monkeypatch):
    from nnbench.ui import undo

    window, view, history = bench
    s = window.session
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        s.set_hidden((LayerSpec(64, "tanh"), LayerSpec(64, "tanh")))
    settled(qtbot, window)
    one = engine_net(qtbot, s).flat_params.nbytes
    monkeypatch.setattr(undo, "MEMORY_BUDGET", int(3.5 * one))
    for units in range(65, 72):
        s.set_hidden((LayerSpec(units, "tanh"), LayerSpec(64, "tanh")))
        settled(qtbot, window)
    assert history.stored_bytes() <= 3.5 * one + 8 * 8 * 72  # the newest few networks only
    assert history.stored_bytes() >= 3 * one
    for _ in range(7):  # every step still undoes; the oldest without their stored networks
        history.undo()
        settled(qtbot, window)
    assert s.spec.hidden == (LayerSpec(64, "tanh"), LayerSpec(64, "tanh"))


def test_an_undo_that_cannot_be_applied_stays_on_the_stack(qtbot, bench, monkeypatch, errors):
    import dataclasses

    from nnbench import commands

    window, view, history = bench
    s = window.session
    click(qtbot, view, view.buttons["neurons+0"], s.spec_changed)
    settled(qtbot, window)
    # The engine refuses the next structural change: it reaches the engine with an output layer
    # that does not fit the dataset, which the engine checks and refuses.
    real = s.worker.send

    def spoil(command):
        if isinstance(command, commands.Restructure):
            command = dataclasses.replace(command, output=dataclasses.replace(command.output, units=3))
        return real(command)

    monkeypatch.setattr(s.worker, "send", spoil)
    history.undo()
    settled(qtbot, window)
    assert errors and "3 out" in errors[-1]
    assert history.can_undo and not history.can_redo  # the edit is still there to undo
    assert s.spec.sizes == (2, 5, 4, 1) == engine_net(qtbot, s).spec.sizes
    monkeypatch.setattr(s.worker, "send", real)
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        history.undo()
    agree(qtbot, window, view, (2, 4, 4, 1), ["tanh", "tanh"])
