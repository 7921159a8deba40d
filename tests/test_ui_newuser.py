"""A new user's first session (issue 10): no stale or wrong picture, the tutorials behave as
the README says. Driven through the widgets, with clicks where the user clicks; waits on
signals, never sleeps."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
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
    w.session.worker.pause()
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


def step(qtbot, w: MainWindow, n: int = 1) -> None:
    for _ in range(n):
        with qtbot.waitSignal(w.session.frame, timeout=20_000):
            click(w.toolbar.widgetForAction(w.step_action))
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
    ds = Dataset("digits", "classification", x[:50], y[:50], x[50:], y[50:],
                 tuple(f"p{i}" for i in range(784)), tuple(map(str, range(10))),
                 source={"kind": "mnist", "path": str(tmp_path)}, x_scale=1 / 255, image_shape=(28, 28))
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
    labels = [label.text for _, label in plots.class_legend.items]
    assert any("class 0" in t for t in labels) and any("class 1" in t for t in labels)
    assert any("test" in t for t in labels)
    assert plots.colour_bar.isVisible()
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
