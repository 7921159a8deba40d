"""A new user's first session (issue 10): no stale or wrong picture, the tutorials behave as
the README says. Driven through the widgets, with clicks where the user clicks; waits on
signals, never sleeps."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import engine_state
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from nnbench.ui.app import configure_pyqtgraph
from nnbench.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, errors):
    configure_pyqtgraph()
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.session.spec_changed, timeout=10_000):
        w.start_default()
    yield w
    w.session.pause()
    w.close()
    assert not w.session.thread.isRunning()


def idle(qtbot, w: MainWindow) -> None:
    qtbot.waitUntil(lambda: not w.session.busy and not w.session.running, timeout=20_000)


def choose(qtbot, w: MainWindow, kind: str, name: str) -> None:
    with qtbot.waitSignal(w.session.dataset_changed, timeout=10_000):
        w.dataset_panel.select(kind, name)
    idle(qtbot, w)


def open_example(qtbot, w: MainWindow, name: str) -> None:
    with qtbot.waitSignal(w.session.dataset_changed, timeout=10_000):
        w.open_example(name)
    idle(qtbot, w)


def click(widget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def step(qtbot, w: MainWindow, n: int = 1, timeout: int = 20_000) -> None:
    for _ in range(n):
        epoch = w.session.epoch
        click(w.toolbar.widgetForAction(w.step_action))
        qtbot.waitUntil(lambda e=epoch: w._epoch > e, timeout=timeout)  # the step's own frame came
        idle(qtbot, w)


def curve_len(curve) -> int:
    x, _ = curve.getData()
    return 0 if x is None else len(x)


# --- 1. a table's row labels do not stay on later plots -------------------------------------
def test_row_labels_of_a_table_leave_with_the_table(qtbot, window):
    open_example(qtbot, window, "perceptron")
    axis = window.plots_panel.output_plot.getPlotItem().getAxis("bottom")
    assert axis._tickLevels is not None  # the rows 001, 011, ... as labels
    for kind, name in (("generator", "sine"), ("generator", "spiral"), ("table", "height-weight")):
        if window.dataset_panel.combo.findData(f"{kind}:{name}") < 0:
            continue
        choose(qtbot, window, kind, name)
        if kind == "generator":
            assert axis._tickLevels is None, name
    choose(qtbot, window, "generator", "circle")
    assert axis._tickLevels is None


# --- 2. Reset clears both curves and the axes at once -------------------------------------
def test_reset_clears_the_test_curve_and_the_old_axes_at_once(qtbot, window):
    step(qtbot, window, 3)
    plots = window.plots_panel
    assert curve_len(plots.loss_test) == 3 and curve_len(plots.loss_train) == 3
    with qtbot.waitSignal(window.session.frame, timeout=10_000):
        click(window.toolbar.widgetForAction(window.reset_action))
    idle(qtbot, window)
    assert curve_len(plots.loss_train) == 0
    assert curve_len(plots.loss_test) == 0
    assert curve_len(plots.acc_test) == 0
    assert window.epoch_label.text().strip() == "epoch 0"


# --- 3. the Weights tab draws when opened, with axes and a colour bar ---------------------
def test_weights_tab_opened_while_paused_shows_the_weights_with_a_scale(qtbot, window):
    step(qtbot, window)
    plots = window.plots_panel
    tab_bar = plots.tabBar()
    QTest.mouseClick(tab_bar, Qt.MouseButton.LeftButton, pos=tab_bar.tabRect(1).center())
    assert plots.currentWidget() is plots.weights_view
    assert len(plots.weight_images) == len(window.session.spec.layers)
    for img, bar in zip(plots.weight_images, plots.weight_bars, strict=True):
        assert img.image is not None and img.image.size
        low, high = bar.levels()
        assert low < 0 < high and low == -high
    first = plots.weights_view.ci.getItem(0, 0)
    assert first.getAxis("left").isVisible() and first.getAxis("bottom").isVisible()
    assert "neuron" in first.getAxis("left").labelText


# --- 4. after divergence the status and the learning rate tell the truth ---------------------
def test_after_divergence_the_status_and_the_rate_follow(qtbot, window):
    choose(qtbot, window, "generator", "line")
    with qtbot.waitSignal(window.session.config_changed, timeout=10_000):
        window.lr_box.setValue(90.0)
    with qtbot.waitSignal(window.session.diverged, timeout=30_000):
        window.train_action.trigger()
    idle(qtbot, window)
    qtbot.waitUntil(lambda: window.session.config.lr == pytest.approx(9.0), timeout=10_000)
    assert window.lr_box.value() == pytest.approx(9.0)
    assert "restored" in window.plots_panel.status.text()


# --- 5. leaving MNIST or a CSV leaves nothing behind ------------------------------------------
def test_the_dataset_box_names_own_data_and_the_digits_tab_goes(qtbot, window, tmp_path):
    from nnbench.data import Dataset

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (60, 784), dtype=np.uint8)
    y = np.eye(10)[np.arange(60) % 10]
    ds = Dataset(
        "digits",
        "classification",
        x[:50],
        y[:50],
        x[50:],
        y[50:],
        tuple(f"p{i}" for i in range(784)),
        tuple(map(str, range(10))),
        source={"kind": "mnist", "path": str(tmp_path)},
        x_scale=1 / 255,
        image_shape=(28, 28),
    )
    with qtbot.waitSignal(window.session.dataset_changed, timeout=10_000):
        window.session.set_dataset(ds)
    idle(qtbot, window)
    panel = window.dataset_panel
    assert panel.combo.currentText().strip()  # not blank: it names the data in use
    assert "digits" in panel.combo.currentText()
    assert not panel.points.isVisible() and not panel.regenerate.isVisible()  # no stale generator fields
    assert window.plots_panel.currentWidget() is window.plots_panel.mnist_view
    choose(qtbot, window, "generator", "circle")
    assert panel.points.isVisible() and panel.points.isEnabled()
    assert window.plots_panel.currentWidget() is not window.plots_panel.mnist_view
    # and the digits can be chosen again from the box, without loading them again
    with qtbot.waitSignal(window.session.dataset_changed, timeout=10_000):
        panel.combo.setCurrentIndex(panel.combo.findText(panel.combo.itemText(panel.combo.count() - 1)))
    assert window.session.dataset is ds


# --- 6. the decision surface says which colour is which ------------------------------------
def test_the_surface_has_a_class_legend_a_colour_bar_and_visible_test_points(qtbot, window):
    plots = window.plots_panel
    step(qtbot, window)
    legend = plots.class_legend.text().replace("&nbsp;", " ")
    assert plots.class_legend.isVisible() and "class 0" in legend and "class 1" in legend and "test" in legend
    assert plots.colour_bar.isVisible() and "P(class" in plots.colour_bar.axis.labelText
    plots.show_neuron(1, 0)  # a hovered neuron shown large: the bar gives its scale, not P(class 1)
    assert "neuron" in plots.colour_bar.axis.labelText
    plots.show_neuron(-1, -1)
    assert "P(class" in plots.colour_bar.axis.labelText
    assert plots.test_points.zValue() > plots.surface.zValue()
    # a ring (white centre) round the test points, so they stand out on the surface
    assert plots.test_points.opts["brush"].color().name() == "#ffffff"
    # no legend sits on the loss or accuracy curves
    assert plots.loss_plot.getPlotItem().legend is None and plots.acc_plot.getPlotItem().legend is None
    assert "train" in plots.loss_plot.getPlotItem().titleLabel.text


def test_height_weight_surface_is_not_a_strip(qtbot, window):
    choose(qtbot, window, "table", "height-weight")
    vb = window.plots_panel.output_plot.getPlotItem().getViewBox()
    assert not vb.state["aspectLocked"]


# --- 11. unsaved work: the title says so, and quitting or replacing it asks ---------------
def test_title_names_the_file_and_marks_unsaved_training(qtbot, window, monkeypatch, tmp_path):
    from nnbench.ui import dialogs

    assert window.windowTitle() == "untitled[*] — nnbench" and not window.isWindowModified()
    step(qtbot, window)
    assert window.isWindowModified()
    path = tmp_path / "mine.npz"
    monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, **k: str(path))
    with qtbot.waitSignal(window.session.file_done, timeout=10_000):
        window.save_action.trigger()
    assert window.windowTitle().startswith("mine.npz") and not window.isWindowModified()
    step(qtbot, window)
    assert window.isWindowModified()  # trained since the save
    open_example(qtbot, window, "xor-mlp")  # (the fixture discards)
    assert window.windowTitle().startswith("xor-mlp.json") and not window.isWindowModified()


def test_ctrl_q_with_unsaved_work_asks_and_cancel_keeps_the_window(qtbot, window, monkeypatch):
    from nnbench.ui import dialogs

    step(qtbot, window, 2)
    asked = []
    monkeypatch.setattr(dialogs, "ask_unsaved", lambda parent, what: asked.append(what) or "cancel")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    QTest.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert asked == ["quitting"] and window.isVisible()
    # Replacing the network asks too, and Cancel keeps it: an example, Regenerate, another dataset.
    before = window.session.dataset
    window.open_example("perceptron")
    click(window.dataset_panel.regenerate)
    window.dataset_panel.select("generator", "circle")
    qtbot.wait(200)  # nothing was asked of the engine: give a wrong switch the time to show
    assert window.session.dataset is before and len(asked) == 4
    assert window.dataset_panel.combo.currentData() == "generator:xor"  # the box went back
    monkeypatch.setattr(dialogs, "ask_unsaved", lambda parent, what: "discard")  # let the fixture close it


def test_quitting_with_save_writes_the_file_then_closes(qtbot, window, monkeypatch, tmp_path):
    from nnbench.ui import dialogs

    step(qtbot, window)
    path = tmp_path / "on-quit.npz"
    monkeypatch.setattr(dialogs, "ask_unsaved", lambda parent, what: "save")
    monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, **k: str(path))
    window.close()
    assert path.is_file() and not window.isVisible()


# --- 12. the CSV dialog's path field -----------------------------------------------------
def test_csv_path_typed_and_enter_reads_that_file_not_the_previous(qtbot, window, monkeypatch, tmp_path):
    from nnbench.ui import dialogs

    first, second, broken = tmp_path / "first.csv", tmp_path / "second.csv", tmp_path / "broken.csv"
    first.write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    second.write_text("p,q,r,label\n1,2,3,x\n4,5,6,y\n7,8,9,x\n1,1,1,y\n")
    broken.write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8\n")
    monkeypatch.setattr(dialogs, "ask_csv_path", lambda parent: str(first))
    dlg = window.dataset_panel.open_csv_dialog()
    qtbot.waitUntil(lambda: dlg.table is not None, timeout=10_000)
    before = window.session.dataset
    dlg.path_edit.selectAll()
    QTest.keyClicks(dlg.path_edit, str(second))
    assert not dlg.use_button.isEnabled()  # the preview is of another file than the one typed
    QTest.keyClick(dlg.path_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dlg.table is not None and dlg.table.path.name == "second.csv", timeout=10_000)
    assert dlg.isVisible() and window.session.dataset is before  # Enter read the file, imported nothing
    assert dlg.preview.columnCount() == 4
    dlg.path_edit.selectAll()
    QTest.keyClicks(dlg.path_edit, str(broken))
    QTest.keyClick(dlg.path_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "line 5" in dlg.message.text(), timeout=10_000)
    assert dlg.preview.rowCount() == 0  # no rows of the previous file under the error
    assert not dlg.use_button.isEnabled()
    dlg.reject()


def test_a_text_column_says_so_and_cannot_be_ticked(qtbot, window, monkeypatch, tmp_path):
    from nnbench.ui import dialogs

    path = tmp_path / "mixed.csv"
    path.write_text("size,colour,y\n1,red,0\n2,blue,1\n3,red,0\n4,blue,1\n")
    monkeypatch.setattr(dialogs, "ask_csv_path", lambda parent: str(path))
    dlg = window.dataset_panel.open_csv_dialog()
    qtbot.waitUntil(lambda: dlg.table is not None, timeout=10_000)
    item = dlg.features.item(1)
    assert "text" in item.text() and not item.flags() & Qt.ItemFlag.ItemIsUserCheckable
    rect = dlg.features.visualItemRect(item)
    QTest.mouseClick(dlg.features.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert dlg.chosen_features() == ["size"]
    assert "colour" in dlg.message.text()
    dlg.reject()


# --- 13. the MNIST preset, offline, asks for the digits and runs -------------------------
def _fake_mnist(folder):
    from nnbench.data import write_idx
    from nnbench.data.mnist import TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS

    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in ((TRAIN_IMAGES, 120), (TEST_IMAGES, 30)):
        write_idx(folder / name, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
    for name, n in ((TRAIN_LABELS, 120), (TEST_LABELS, 30)):
        write_idx(folder / name, (np.arange(n) % 10).astype(np.uint8))
    return folder


def own_settings(tmp_path):
    """Settings in this test's own folder: the test-mode settings file is shared by every test
    process on the machine, and another one clearing it lost the remembered folder."""
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))


def test_mnist_preset_offline_offers_the_dialog_then_runs(qtbot, window, monkeypatch, tmp_path):
    from nnbench.data.mnist import TRAIN_IMAGES
    from nnbench.ui import dialogs

    monkeypatch.setenv("NNBENCH_DATA_DIR", str(tmp_path / "empty-cache"))
    own_settings(tmp_path)
    folder = _fake_mnist(tmp_path / "mine")
    window.open_example("mnist-two-layer")
    dlg = window.dataset_panel.mnist_dialog
    assert dlg is not None and dlg.isVisible() and "MNIST" in dlg.message.text()
    assert not window.last_error  # no "files missing" dead end
    monkeypatch.setattr(dialogs, "ask_mnist_path", lambda parent: str(folder / TRAIN_IMAGES))
    with qtbot.waitSignal(window.session.dataset_changed, timeout=20_000):
        click(dlg.local_button)
    idle(qtbot, window)
    s = window.session
    assert s.dataset.image_shape == (28, 28)
    assert [(h.units, h.activation) for h in s.spec.hidden] == [(50, "sigmoid")]
    assert s.spec.init == "normal" and s.spec.output.activation == "softmax"
    assert (s.config.lr, s.config.batch_size, s.config.epochs, s.config.optimizer) == (0.1, 100, 17, "sgd")
    assert window.windowTitle().startswith("mnist-two-layer.json")
    step(qtbot, window)  # and it trains

    # The next time, the files the user opened are found without asking.
    dlg.hide()
    with qtbot.waitSignal(window.session.dataset_changed, timeout=20_000):
        window.open_example("mnist-two-layer")
    assert window.session.dataset.image_shape == (28, 28)


# --- 14. "Train on this table" keeps the tutorial's setup ---------------------------------
def test_training_on_an_edited_table_keeps_the_presets_loss_and_bias(qtbot, window):
    open_example(qtbot, window, "perceptron")
    s = window.session
    assert s.config.loss == "sse" and s.spec.output.bias is False
    editor = window.dataset_panel.table_editor
    click(editor.add_button)
    with qtbot.waitSignal(s.dataset_changed, timeout=10_000):
        click(editor.apply_button)
    qtbot.waitUntil(
        lambda: s.config.loss == "sse" and s.spec.output.bias is False and not s.busy, timeout=10_000
    )
    assert len(s.dataset.x_train) == 5
    state = engine_state(qtbot, s)
    assert state.config.loss == "sse" and state.net.spec.output.bias is False


# --- 16. "Ask the net" shows enough digits, and forgets an input for other data ---------------
def test_ask_the_net_shows_eight_digits_and_clears_on_a_new_dataset(qtbot, window):
    open_example(qtbot, window, "perceptron")
    box = window.predict_box
    QTest.keyClicks(box.edit, "1,0,0")
    with qtbot.waitSignal(box.output_ready, timeout=10_000) as got:
        QTest.keyClick(box.edit, Qt.Key.Key_Return)
    value = float(got.args[0][0])
    assert f"{value:.8g}" in box.result.text()
    choose(qtbot, window, "generator", "circle")
    assert box.edit.text() == "" and box.result.text() == ""


# --- 17. Train after "Stop at epoch" says what it does ------------------------------------
def test_train_after_the_stop_epoch_continues_to_a_new_limit_and_says_so(qtbot, window):
    with qtbot.waitSignal(window.session.config_changed, timeout=10_000):
        window.epochs_box.setValue(3)
    train = window.toolbar.widgetForAction(window.train_action)
    click(train)
    qtbot.waitUntil(lambda: not window.session.running and window._epoch == 3, timeout=20_000)
    with qtbot.waitSignal(window.session.config_changed, timeout=10_000):  # the engine moved it
        click(train)
    assert window.epochs_box.value() == 6 and "6" in window.statusBar().currentMessage()
    assert window.session.config.epochs == 6
    qtbot.waitUntil(lambda: not window.session.running and window._epoch == 6, timeout=20_000)
    idle(qtbot, window)
    assert engine_state(qtbot, window.session).epoch == 6


# --- 18. Redo has the platform's keys, once -------------------------------------------------
def test_redo_has_the_platform_keys_once():
    from PySide6.QtGui import QKeySequence

    configure_pyqtgraph()
    window = MainWindow()
    try:
        keys = [k.toString() for k in window.redo_action.shortcuts()]
        assert keys == [k.toString() for k in QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)]
        assert len(keys) == len(set(keys))
    finally:
        window.close()


# --- 15. the drawing pad prepares a drawing as MNIST's digits were made --------------------
MNIST_DIR = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


def test_mnist_style_fits_the_box_and_centres_the_mass():
    from nnbench.ui.draw_pad import mnist_style

    drawing = np.zeros((112, 112))
    drawing[5:105, 70:100] = 1.0  # a tall bar, far right
    image = mnist_style(drawing)
    rows, cols = np.flatnonzero(image.max(axis=1) > 0.05), np.flatnonzero(image.max(axis=0) > 0.05)
    assert rows[-1] - rows[0] + 1 == 20 and cols[-1] - cols[0] + 1 == 6  # 20 high, aspect kept
    yy, xx = np.mgrid[0:28, 0:28] + 0.5
    assert (
        abs((image * yy).sum() / image.sum() - 14) <= 0.5
        and abs((image * xx).sum() / image.sum() - 14) <= 0.5
    )
    assert not mnist_style(np.zeros((112, 112))).any()


@pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(), reason="real MNIST digits absent"
)
def test_real_digits_drawn_large_and_off_centre_are_read_right(qtbot, window):
    from nnbench.data import load_mnist_dir
    from nnbench.engine import LayerSpec
    from nnbench.ui.draw_pad import RES, resize

    s = window.session
    ds = load_mnist_dir(MNIST_DIR)
    with qtbot.waitSignal(s.dataset_changed, timeout=30_000):
        s.set_dataset(ds)
    s.set_hidden((LayerSpec(64, "relu"),))
    s.set_config(optimizer="adam", lr=0.001, batch_size=64)
    idle(qtbot, window)
    step(qtbot, window, 2, timeout=90_000)
    pad = window.plots_panel.mnist_view.pad
    window.plots_panel.setCurrentWidget(window.plots_panel.mnist_view)
    assert pad.isEnabled()
    right = 0
    n = 40
    labels = ds.labels_of(ds.y_test[:n])
    for k in range(n):
        digit = ds.x_test[k].reshape(28, 28) / 255.0
        big = np.clip(resize(digit, 80, 80), 0, 1)  # drawn back nearly three times as large...
        drawing = np.zeros((RES, RES))
        drawing[2:82, 30:110] = big  # ...and off-centre, up and to the right
        pad.canvas.pixels[:] = drawing
        with qtbot.waitSignal(pad.probabilities, timeout=10_000) as got:
            pad.canvas.changed.emit()
        right += int(np.argmax(got.args[0]) == labels[k])
        assert pad.net_input.image.shape == (28, 28) and pad.net_input.image.max() > 0.5  # shown
    assert right >= 0.8 * n, f"{right} of {n} read right"


def test_the_pad_answers_again_after_another_network_is_opened(qtbot, window, tmp_path):
    folder = _fake_mnist(tmp_path / "digits")
    from nnbench.data import load_mnist_dir

    s = window.session
    with qtbot.waitSignal(s.dataset_changed, timeout=20_000):
        s.set_dataset(load_mnist_dir(folder))
    idle(qtbot, window)
    pad = window.plots_panel.mnist_view.pad
    with qtbot.waitSignal(pad.probabilities, timeout=10_000):
        pad.canvas.stroke(QPointF(8, 5), QPointF(8, 22))
    with qtbot.waitSignal(pad.probabilities, timeout=20_000) as got:  # reopened: the bars come back
        s.set_dataset(load_mnist_dir(folder))
    assert got.args[0].sum() == pytest.approx(1.0)
    assert pad.bars.opts["height"].sum() == pytest.approx(1.0)
