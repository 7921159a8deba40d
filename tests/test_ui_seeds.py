"""Seeds x K and the Sweep dialog in the window, driven by real clicks."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from nnbench.engine import LayerSpec, NetworkSpec, TrainConfig
from nnbench.experiment import Experiment
from nnbench.sweep import SerialExecutor
from nnbench.ui.app import configure_pyqtgraph
from nnbench.ui.main_window import MainWindow
from nnbench.ui.sweep_dialog import SweepDialog


def open_window(qtbot) -> MainWindow:
    configure_pyqtgraph()
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.session.spec_changed, timeout=10_000):
        window.start_default()
    return window


def click(widget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def engine_state(qtbot, session):
    got = []
    session.query_state(got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=10_000)
    return got[0]


def test_seeds_run_shows_the_band_the_pictures_and_a_click_makes_a_seed_live(qtbot):
    window = open_window(qtbot)
    window.seeds_action.trigger()
    view = window.seeds_dialog
    qtbot.waitExposed(view)
    view.k_spin.setValue(5)
    view.epochs_spin.setValue(15)
    click(view.run_button)
    qtbot.waitUntil(lambda: view.result is not None and not view.running, timeout=30_000)
    r = view.result
    assert "of 5 seeds reached train_acc>=0.95" in view.summary.text() or "test_acc" in view.summary.text()
    assert len(view.boxes) == 5 and r.pictures.shape == (5, 40, 40)
    median, lo, hi = view._curves["train_loss"]
    m, a, b = median.yData, lo.yData, hi.yData
    assert len(m) == 15 and np.all(a <= m + 1e-12) and np.all(m <= b + 1e-12)
    # one seed's picture, clicked for real
    k = 3
    box = view.boxes[k]
    gv = view.pictures
    centre = gv.mapFromScene(box.sceneBoundingRect().center())
    with qtbot.waitSignal(window.session.spec_changed, timeout=10_000):
        QTest.mouseClick(gv.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(centre.x(), centre.y()))
    assert f"Seed {r.seeds[k]} is now the live network" in view.summary.text()
    state = engine_state(qtbot, window.session)
    assert np.array_equal(state.net.params, r.params[k])
    assert state.epoch == 15 and len(state.history["epoch"]) == 15
    window.close()


def test_seeds_run_can_be_cancelled(qtbot):
    window = open_window(qtbot)
    view = window.open_seeds()
    view.k_spin.setValue(4)
    view.epochs_spin.setValue(1_000_000)
    click(view.run_button)
    qtbot.waitUntil(lambda: view.progress.value() >= 2, timeout=30_000)
    click(view.cancel_button)
    qtbot.waitUntil(lambda: view.result is not None and not view.running, timeout=30_000)
    assert "cancelled" in view.summary.text()
    assert 2 <= view.result.epoch < 1_000_000
    window.close()


def xor_experiment():
    spec = NetworkSpec(2, (LayerSpec(4, "tanh"), LayerSpec(1, "sigmoid")))
    return Experiment("xor", "xor", "", {"kind": "generator", "name": "xor", "n": 40, "seed": 0}, spec,
                      TrainConfig(loss="bce", lr=0.3))


def test_sweep_dialog_runs_the_grid_and_shows_the_heatmap(qtbot):
    dialog = SweepDialog(xor_experiment, executor_fn=SerialExecutor)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.grid_edit.setText("lr=0.1,0.3,1; hidden=2,4")
    dialog.seeds_spin.setValue(3)
    dialog.epochs_spin.setValue(5)
    dialog.metric_combo.setCurrentText("final_test_acc")
    click(dialog.run_button)
    qtbot.waitUntil(lambda: not dialog.running and dialog.status.text().startswith("Done"), timeout=30_000)
    assert dialog.progress.value() == 6 and dialog.table.rowCount() == 6
    values = dialog.heatmap.values
    assert values.shape == (2, 3) and np.all(np.isfinite(values)) and np.all((0 <= values) & (values <= 1))
    assert "of 18 runs reached" in dialog.status.text()


class GatedExecutor(SerialExecutor):
    """The serial executor, holding the second cell until ``gate`` opens (at most 30 s): the
    test opens it from Cancel's click, so Cancel lands between two cells however fast the cells
    are (XOR cells stop at their target, and in a loaded full-suite run all eight once finished
    before the click)."""

    def __init__(self, gate: threading.Event) -> None:
        self.gate = gate

    def results(self, tasks, cancelled):
        from nnbench.sweep import run_cell

        for i, task in enumerate(tasks):
            if i == 1:
                self.gate.wait(30)
            if cancelled():
                return
            yield run_cell(task)


def test_sweep_dialog_bad_grid_is_one_line_and_cancel_keeps_what_finished(qtbot):
    gate = threading.Event()
    dialog = SweepDialog(xor_experiment, executor_fn=lambda: GatedExecutor(gate))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.cancel_button.clicked.connect(gate.set)  # after the dialog's own slot: the cancel is set first
    dialog.grid_edit.setText("lr=0.1,x")
    click(dialog.run_button)
    assert dialog.status.text() == "'lr=0.1,x': 'x' is not a number" and not dialog.running
    dialog.grid_edit.setText("lr=0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8")
    dialog.epochs_spin.setValue(3000)
    dialog.seeds_spin.setValue(2)
    click(dialog.run_button)
    qtbot.waitUntil(lambda: dialog.progress.value() >= 1, timeout=30_000)
    click(dialog.cancel_button)
    qtbot.waitUntil(lambda: not dialog.running, timeout=30_000)
    assert dialog.status.text().startswith("Cancelled")
    assert dialog.table.rowCount() == 1  # the cell done before Cancel, and no other


def test_seeds_on_a_fitted_curve_show_each_seeds_curve(qtbot):
    window = open_window(qtbot)
    s = window.session
    with qtbot.waitSignal(s.dataset_changed, timeout=10_000):
        window.open_example("regression-curve")
    qtbot.waitUntil(lambda: not s.busy, timeout=10_000)
    view = window.open_seeds()
    view.k_spin.setValue(3)
    view.epochs_spin.setValue(5)
    click(view.run_button)
    qtbot.waitUntil(lambda: view.result is not None and not view.running, timeout=30_000)
    r = view.result
    assert r.pictures.ndim == 2 and r.pictures.shape[0] == 3 and len(view.boxes) == 3
    assert "3 seeds trained in 5 epochs (no target" in view.summary.text()
    window.close()
