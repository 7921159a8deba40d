"""The timeline, forks, the runs list and the exports in the window, driven through its widgets."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from nnbench import commands as cmd
from nnbench.ui import dialogs
from nnbench.ui.app import configure_pyqtgraph
from nnbench.ui.main_window import MainWindow

WAIT = 20_000


def trained_window(qtbot, epochs: int = 30) -> MainWindow:
    configure_pyqtgraph()
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    s = window.session
    with qtbot.waitSignal(s.spec_changed, timeout=WAIT):
        window.start_default()
    with qtbot.waitSignal(s.config_changed, timeout=WAIT):
        window.epochs_box.setValue(epochs)
    window.train_action.trigger()
    qtbot.waitUntil(lambda: s.epoch >= epochs and not s.running, timeout=60_000)
    qtbot.waitUntil(lambda: epochs in window.timeline.epochs, timeout=WAIT)
    window.runs_action.trigger()  # the Runs button shows the runs list
    assert window.runs_dock.isVisible()
    return window


def shown_epoch(window: MainWindow) -> int:
    return window.plots_panel._last_frame.snapshot.epoch


def seek(qtbot, window: MainWindow, epoch: int, run: int | None = None) -> cmd.Seek:
    got = []
    window.session.call(cmd.Seek(epoch, run), got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT)
    return got[0]


def fork_at(qtbot, window: MainWindow, epoch: int) -> None:
    """Move the timeline's slider to ``epoch`` and click Fork from here, as a user does."""
    tl = window.timeline
    with qtbot.waitSignal(tl.shown, timeout=WAIT):
        tl.slider.setValue(tl.epochs.index(epoch))
    with qtbot.waitSignal(window.runs_client.switched, timeout=WAIT):
        QTest.mouseClick(tl.fork_button, Qt.MouseButton.LeftButton)


def click_plot_at_epoch(window: MainWindow, plot, epoch: float) -> None:
    vb = plot.getPlotItem().getViewBox()
    y = vb.viewRange()[1]
    scene = vb.mapViewToScene(QPointF(epoch, (y[0] + y[1]) / 2))
    pos = plot.mapFromScene(scene)
    QTest.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(int(pos.x()), int(pos.y())))


def test_the_timeline_shows_a_kept_epoch_in_every_view_until_live(qtbot):
    window = trained_window(qtbot)
    s, tl, plots = window.session, window.timeline, window.plots_panel
    live_surface = plots.surface.image.copy()
    tl.slider.setFocus()
    with qtbot.waitSignal(tl.shown, timeout=WAIT):
        QTest.keyClick(tl.slider, Qt.Key.Key_Home)
    assert s.pinned is not None and shown_epoch(window) == 0 and tl.epoch == 0
    at0 = seek(qtbot, window, 0)
    weights = plots._last_frame.snapshot.weights
    np.testing.assert_array_equal(np.concatenate([weights[k].ravel() for k in sorted(weights)]),
                                  np.concatenate([w.ravel() for w in _split(at0)]))
    assert not np.array_equal(plots.surface.image, live_surface)  # the surface as it was then
    assert window.network_view.weights is weights  # the diagram's connections too
    with qtbot.waitSignal(tl.shown, timeout=WAIT):
        QTest.keyClick(tl.slider, Qt.Key.Key_Right)
    assert shown_epoch(window) == tl.epochs[1] == 1
    assert all(m.isVisible() and m.value() == 1 for m in tl.markers)

    # A click on the loss curve goes to the nearest kept epoch.
    with qtbot.waitSignal(tl.shown, timeout=WAIT):
        click_plot_at_epoch(window, plots.loss_plot, 10.2)
    assert shown_epoch(window) == 10 and "epoch 10 of run 1" in tl.label.text()

    # Training on does not overwrite the checkpoint shown; Live comes back to the present.
    with qtbot.waitSignal(s.config_changed, timeout=WAIT):
        window.epochs_box.setValue(60)
    window.train_action.trigger()
    qtbot.waitUntil(lambda: s.epoch >= 60 and not s.running, timeout=60_000)
    assert shown_epoch(window) == 10
    with qtbot.waitSignal(s.pinned_changed, timeout=WAIT):
        QTest.mouseClick(tl.live_button, Qt.MouseButton.LeftButton)
    assert s.pinned is None and shown_epoch(window) == 60
    assert not any(m.isVisible() for m in tl.markers) and tl.label.text() == "live"
    window.close()


def test_live_pressed_while_a_move_is_on_its_way_stays_live(qtbot):
    window = trained_window(qtbot, epochs=12)
    s, tl = window.session, window.timeline
    with qtbot.waitSignal(tl.shown, timeout=WAIT):
        tl.show_epoch(5)
    tl.show_epoch(3)  # the engine's answer and the worker's evaluation are still to come
    assert tl.live_button.isEnabled()
    QTest.mouseClick(tl.live_button, Qt.MouseButton.LeftButton)
    qtbot.wait(300)
    qtbot.waitUntil(lambda: not tl._asking, timeout=WAIT)
    assert s.pinned is None and tl.epoch is None and tl.label.text() == "live"
    # and a move after that is drawn as usual, by the worker thread
    with qtbot.waitSignal(tl.shown, timeout=WAIT):
        tl.show_epoch(3)
    assert s.pinned is not None and shown_epoch(window) == 3
    window.close()


def _split(seen) -> list[np.ndarray]:
    from nnbench.bench import network_of

    net = network_of(cmd.NetState(seen.spec, seen.params))
    w = net.weights()
    return [w[k] for k in sorted(w)]


def test_fork_from_here_then_the_runs_list_compares_renames_picks_and_deletes(qtbot):
    window = trained_window(qtbot)
    s, panel = window.session, window.runs_panel
    fork_at(qtbot, window, 10)
    assert s.pinned is None
    qtbot.waitUntil(lambda: s.epoch == 10, timeout=WAIT)  # the fork's own frames, from epoch 10
    with qtbot.waitSignal(s.config_changed, timeout=WAIT):
        window.lr_box.setValue(0.5)
    window.train_action.trigger()
    qtbot.waitUntil(lambda: s.epoch >= 30 and not s.running, timeout=60_000)
    window.runs_client.refresh()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2 and "lr 0.1 → 0.5" in panel.table.item(1, 1).text(),
                    timeout=WAIT)
    assert panel.table.item(1, 1).text().startswith("from run 1 at epoch 10")
    assert panel.table.item(1, 0).text() == "run 2  (live)" and panel.table.item(1, 4).text() == "30"

    # Check both runs: their curves overlay the plots, the fork's from its branch point.
    for row in (0, 1):
        panel.table.item(row, 0).setCheckState(Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: len(panel.curves) == 2
                    and all(c[0].xData is not None and len(c[0].xData) for c in panel.curves.values()),
                    timeout=WAIT)
    assert panel.curves[2][0].xData[0] == 10 and panel.curves[1][0].xData[0] == 1
    raw = panel.curves[1][0].yData.copy()
    panel.smoothing.setValue(90)
    smoothed = panel.curves[1][0].yData
    assert not np.allclose(smoothed, raw) and np.isclose(smoothed[0], raw[0])  # debiased: starts at the first

    # Rename run 1, make it live again (training goes on from where it was left), delete run 2.
    panel.table.item(0, 0).setText("base")
    qtbot.waitUntil(lambda: window.runs_client.run(1).name == "base", timeout=WAIT)
    panel.table.selectRow(panel.row_of(1))
    with qtbot.waitSignal(window.runs_client.switched, timeout=WAIT):
        QTest.mouseClick(panel.live_button, Qt.MouseButton.LeftButton)
    assert s.config.lr == 0.1
    qtbot.waitUntil(lambda: window.runs_client.live is not None and window.runs_client.live.id == 1,
                    timeout=WAIT)
    panel.table.selectRow(panel.row_of(2))
    QTest.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=WAIT)
    assert 2 not in panel.curves
    window.close()


def test_exports_write_csv_svg_and_png_that_read_back(qtbot, tmp_path, monkeypatch, errors):
    window = trained_window(qtbot, epochs=12)
    s, panel = window.session, window.runs_panel
    fork_at(qtbot, window, 4)
    with qtbot.waitSignal(s.config_changed, timeout=WAIT):
        window.lr_box.setValue(0.3)
    with qtbot.waitSignal(s.stopped, timeout=60_000):  # at the stop epoch, 12
        window.train_action.trigger()
    window.runs_client.refresh()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=WAIT)
    for row in (0, 1):
        panel.table.item(row, 0).setCheckState(Qt.CheckState.Checked)

    paths = iter([tmp_path / name for name in ("runs.csv", "loss.svg", "output.png", "win.png")])
    monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, **k: str(next(paths)))
    with qtbot.waitSignal(s.message, timeout=WAIT, check_params_cb=lambda t: t.startswith("Exported 2")):
        window.export_actions["csv"].trigger()
    rows = list(csv.DictReader(open(tmp_path / "runs.csv", encoding="utf-8")))
    # run 1: epochs 1-12; run 2: its own 1-4 and 5-12 after the fork
    assert len(rows) == 12 + 12, [(r["run"], r["epoch"], r["branch_epoch"]) for r in rows]
    fork = [r for r in rows if r["run"] == "2"]
    assert [int(r["epoch"]) for r in fork] == list(range(1, 13)) and fork[0]["branch_epoch"] == "4"
    assert {r["lr"] for r in fork} == {"0.3"} and {r["lr"] for r in rows if r["run"] == "1"} == {"0.1"}
    assert all(float(r["train_loss"]) > 0 for r in rows) and rows[0]["network"].startswith("2-")

    window.export_actions["loss"].trigger()
    svg = ET.parse(tmp_path / "loss.svg").getroot()
    assert svg.tag.endswith("svg")
    assert len([e for e in svg.iter() if e.tag.endswith("path") or e.tag.endswith("polyline")]) >= 3
    window.export_actions["output"].trigger()
    png = QImage(str(tmp_path / "output.png"))
    assert not png.isNull() and png.width() > 100
    window.export_actions["window"].trigger()
    shot = QImage(str(tmp_path / "win.png"))
    assert shot.width() == window.width() and shot.height() == window.height()
    # The plots' own right-click menu offers pyqtgraph's exporters too.
    assert any(a.text().startswith("Export") for a in window.plots_panel.loss_plot.scene().contextMenu)
    assert not errors
    window.close()


def test_train_pressed_as_a_fork_is_made_stops_at_the_stop_epoch_not_past_it(qtbot):
    window = trained_window(qtbot, epochs=12)
    s, tl = window.session, window.timeline
    with qtbot.waitSignal(tl.shown, timeout=WAIT):
        tl.slider.setValue(tl.epochs.index(4))
    # Train the moment the fork is made: the newest frame is still run 1's, at its stop epoch
    # 12, so a window that judged by it would move the stop to 24 (this test's CSV had 36 rows).
    window.runs_client.switched.connect(lambda _sw: window.train_action.trigger())
    with qtbot.waitSignal(s.stopped, timeout=60_000):
        QTest.mouseClick(tl.fork_button, Qt.MouseButton.LeftButton)
    got = []
    s.query_state(got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT)
    assert got[0].epoch == 12 and got[0].config.epochs == 12 and window.epochs_box.value() == 12
    window.close()


def test_saving_keeps_the_runs_and_latest_only_is_smaller(qtbot, tmp_path, monkeypatch):
    window = trained_window(qtbot, epochs=20)
    s = window.session
    fork_at(qtbot, window, 5)
    full, small = tmp_path / "full.npz", tmp_path / "small.npz"
    monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, **k: str(full))
    with qtbot.waitSignal(s.file_done, timeout=WAIT):
        window.save_action.trigger()
    window.latest_only_action.setChecked(True)
    monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, **k: str(small))
    with qtbot.waitSignal(s.file_done, timeout=WAIT):
        window.save_action.trigger()
    assert small.stat().st_size < full.stat().st_size
    with qtbot.waitSignal(s.file_done, timeout=WAIT):
        s.load(str(full))
    window.runs_client.refresh()
    qtbot.waitUntil(lambda: len(window.runs_client.runs) == 2, timeout=WAIT)
    assert window.runs_client.run(1).epochs == 20 and window.runs_client.live.id == 2
    window.close()


def test_a_deep_nets_checkpoint_draws_coarse_at_once_then_sharp_when_the_timeline_rests(qtbot):
    from test_ui_window import open_window

    from nnbench.engine import LayerSpec
    from nnbench.ui import session as session_module
    from nnbench.ui import worker

    window = open_window(qtbot)
    s, tl = window.session, window.timeline
    with qtbot.waitSignal(s.spec_changed, timeout=WAIT):
        s.set_hidden(tuple(LayerSpec(64, "tanh") for _ in range(10)))
    with qtbot.waitSignal(s.config_changed, timeout=WAIT):
        window.epochs_box.setValue(6)
    with qtbot.waitSignal(s.stopped, timeout=60_000):
        window.train_action.trigger()
    qtbot.waitUntil(lambda: 6 in tl.epochs, timeout=WAIT)
    full, coarse = session_module.GRID_RES ** 2, session_module.COARSE_RES ** 2
    # The stopped frame (it may come after the stopped signal): drawn on the full grid.
    qtbot.waitUntil(lambda: not s.last_frame.running, timeout=WAIT)
    assert s.last_frame.grid_output.shape[0] == full
    # The full grid of a 10x64 net costs more than COARSE_ABOVE on any machine we know; if not,
    # the quick path is not taken and this test says so instead of passing blindly.
    sizes = []
    s.frame.connect(lambda f: sizes.append(f.grid_output.shape[0]))
    with qtbot.waitSignal(tl.shown, timeout=WAIT):
        tl.slider.setValue(tl.epochs.index(2))
    assert sizes[-1] == coarse, f"drawn on {sizes[-1]} points: the full grid under {worker.COARSE_ABOVE} s?"
    qtbot.waitUntil(lambda: sizes[-1] == full, timeout=WAIT)  # sharpened once nothing more was asked
    assert s.pinned is not None and s.pinned.grid_output.shape[0] == full and tl.epoch == 2
    window.close()


def test_a_killed_engine_gives_back_every_run_and_the_timeline_still_scrubs_them(qtbot, errors):
    from pathlib import Path

    window = trained_window(qtbot, epochs=20)
    s, panel = window.session, window.runs_panel
    fork_at(qtbot, window, 10)
    qtbot.waitUntil(lambda: s.epoch == 10, timeout=WAIT)
    window.train_action.trigger()
    qtbot.waitUntil(lambda: s.epoch >= 20 and not s.running, timeout=60_000)
    got = []
    s.call(cmd.ListRuns(), got.append)  # asked directly: the runs list may still show an older answer
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT)
    before = [(r.id, r.parent, r.branch_epoch, r.epochs, r.checkpoints) for r in got[0]]
    assert len(before) == 2
    at4 = seek(qtbot, window, 4, run=1).params.copy()

    journal_dir = Path(s.journal_dir)
    assert (journal_dir / "index.json").is_file()
    with qtbot.waitSignal(s.restored, timeout=WAIT) as restored:
        s.kill_engine()
    assert "2 runs" in restored.args[0]
    qtbot.waitUntil(lambda: [(r.id, r.parent, r.branch_epoch, r.epochs, r.checkpoints)
                             for r in window.runs_client.runs] == before, timeout=WAIT)
    assert panel.table.rowCount() == 2 and "2 runs" in window.statusBar().currentMessage()
    assert seek(qtbot, window, 4, run=1).params.tobytes() == at4.tobytes(), errors
    # The parent can be made live again in the new engine, from where it was left.
    panel.table.selectRow(panel.row_of(1))
    with qtbot.waitSignal(window.runs_client.switched, timeout=WAIT):
        QTest.mouseClick(panel.live_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: s.epoch == 20, timeout=WAIT)
    window.close()
    assert not journal_dir.exists()  # the window's journal goes with it


def test_timeline_moves_move_the_marker_and_leave_the_curves_as_drawn(qtbot):
    window = trained_window(qtbot, epochs=12)
    tl, panel = window.timeline, window.plots_panel
    drawn = []
    original = panel.loss_train.setData
    panel.loss_train.setData = lambda *a, **k: (drawn.append(len(a[0]) if a else 0), original(*a, **k))
    for epoch in (2, 5, 10):
        with qtbot.waitSignal(tl.shown, timeout=WAIT):
            tl.show_epoch(epoch)
        assert all(m.value() == epoch and m.isVisible() for m in tl.markers)
    assert len(drawn) <= 1  # at most once, for the history they all share
    assert len(panel.loss_train.xData) >= 12  # and the curve is still the whole run
    # A new history (training on) is drawn again.
    with qtbot.waitSignal(window.session.pinned_changed, timeout=WAIT):
        tl.go_live()
    with qtbot.waitSignal(window.session.config_changed, timeout=WAIT):
        window.epochs_box.setValue(14)
    before = len(drawn)
    window.train_action.trigger()
    qtbot.waitUntil(lambda: window.session.epoch >= 14 and not window.session.running, timeout=WAIT)
    qtbot.waitUntil(lambda: len(drawn) > before and panel.loss_train.xData[-1] == 14, timeout=WAIT)
    window.close()


def test_the_runs_list_fits_a_1024_window_and_its_differences_stay_readable(qtbot):
    from nnbench.ui.runs_panel import DIFFERS_MIN

    window = trained_window(qtbot, epochs=12)
    window.resize(1024, 700)
    panel = window.runs_panel
    fork_at(qtbot, window, 5)
    window.runs_client.refresh()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2 and "from run 1" in panel.table.item(1, 1).text(),
                    timeout=WAIT)
    qtbot.wait(50)
    # The dock's own widgets no longer ask for more room than a 1024-wide window has.
    assert window.minimumSizeHint().width() <= 1024 and window.width() <= 1024
    assert panel.table.horizontalHeader().sectionSize(1) >= DIFFERS_MIN
    line = panel.table.fontMetrics().height()
    assert panel.table.rowHeight(1) <= 3 * line  # "from run 1 at epoch 5: ..." in two lines, not a word each
    window.close()
