"""Bring-your-own-data widgets: CSV import, MNIST loading and download, the digit views,
the drawing pad and the predict box. Waits on signals, never sleeps; files only in tmp_path."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest
from engine_helpers import engine_net
from mnist_server import Server
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from nnbench.data import write_idx
from nnbench.data.idx import idx_bytes
from nnbench.data.mnist import TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS
from nnbench.ui import colors, dialogs
from nnbench.ui.app import configure_pyqtgraph
from nnbench.ui.dataset_panel import DatasetPanel, MnistDialog
from nnbench.ui.draw_pad import DrawPad
from nnbench.ui.mnist_view import MnistView, confusion_matrix, mosaic
from nnbench.ui.predict_box import PredictBox
from nnbench.ui.session import Session

XOR = {"kind": "generator", "name": "xor", "n": 100, "noise": 0.1, "test_fraction": 0.5, "seed": 0}


@pytest.fixture
def session(qtbot):
    configure_pyqtgraph()
    s = Session()
    yield s
    s.shutdown()


def use(qtbot, session: Session, source=None, dataset=None) -> None:
    with qtbot.waitSignal(session.dataset_changed, timeout=10_000):
        if dataset is not None:
            session.set_dataset(dataset)
        else:
            session.set_source(source)


def digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), (np.arange(n) % 10).astype(np.uint8)


@pytest.fixture
def mnist_dir(tmp_path):
    """200 training and 30 test digits as the four IDX files (gzipped) in a folder."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    (tx, tl), (vx, vl) = digits(200, 1), digits(30, 2)
    for name, a in {TRAIN_IMAGES: tx, TRAIN_LABELS: tl, TEST_IMAGES: vx, TEST_LABELS: vl}.items():
        write_idx(folder / name, a)
    return folder


def load_digits(qtbot, session: Session, folder) -> MnistDialog:
    dlg = MnistDialog()
    qtbot.addWidget(dlg)
    dlg.dataset_ready.connect(session.set_dataset)
    with qtbot.waitSignal(session.dataset_changed, timeout=10_000):
        dlg.open_local(str(folder / TRAIN_IMAGES))
    return dlg


# ---- CSV ---------------------------------------------------------------------------------------


def open_csv(qtbot, panel: DatasetPanel, monkeypatch, path):
    monkeypatch.setattr(dialogs, "ask_csv_path", lambda parent: str(path))
    dlg = panel.open_csv_dialog()
    qtbot.waitUntil(lambda: dlg.table is not None or dlg.message.styleSheet() != "", timeout=10_000)
    return dlg


def test_csv_dialog_builds_the_chosen_columns(qtbot, session, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    path = tmp_path / "flowers.csv"
    lines = ["length,width,colour,kind"] + [
        f"{a:.2f},{b:.2f},{c:.1f},{'big' if a + b > 10 else 'small'}"
        for a, b, c in rng.uniform(2, 8, (40, 3))
    ]
    path.write_text("\n".join(lines) + "\n")
    panel = DatasetPanel(session)
    qtbot.addWidget(panel)
    dlg = open_csv(qtbot, panel, monkeypatch, path)
    assert dlg.preview.rowCount() == 40 and dlg.preview.columnCount() == 4
    assert dlg.target.currentText() == "kind" and "classification" in dlg.task.itemText(0)
    dlg.set_columns(["length", "width"], "kind")
    assert dlg.chosen_features() == ["length", "width"]
    with qtbot.waitSignal(session.dataset_changed, timeout=10_000):
        QTest.mouseClick(dlg.use_button, Qt.MouseButton.LeftButton)
    ds = session.dataset
    assert ds.source["kind"] == "csv" and ds.feature_names == ("length", "width")
    assert ds.target_names == ("big", "small") and ds.source["standardize"] is True
    assert abs(ds.x_train.mean()) < 1e-9  # standardised
    assert session.spec.n_inputs == 2 and not dlg.isVisible()
    assert panel.combo.currentData() == "own:csv" and "CSV" in panel.combo.currentText()  # named, not blank
    assert "2 input(s): length, width" in panel.info.text()


def test_csv_task_override_gives_regression(qtbot, session, tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    path.write_text("x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(30)))
    panel = DatasetPanel(session)
    qtbot.addWidget(panel)
    dlg = open_csv(qtbot, panel, monkeypatch, path)
    dlg.task.setCurrentIndex(dlg.task.findData("regression"))
    dlg.standardize.setChecked(False)
    with qtbot.waitSignal(session.dataset_changed, timeout=10_000):
        QTest.mouseClick(dlg.use_button, Qt.MouseButton.LeftButton)
    assert session.dataset.task == "regression" and session.spec.output.activation == "linear"


def test_bad_csv_names_line_and_column_and_keeps_the_dataset(qtbot, session, tmp_path, monkeypatch):
    use(qtbot, session, XOR)
    before = session.dataset
    panel = DatasetPanel(session)
    qtbot.addWidget(panel)

    bad_cell = tmp_path / "bad.csv"
    bad_cell.write_text("a,b,y\n1,2,0\n3,oops,1\n5,6,0\n")
    dlg = open_csv(qtbot, panel, monkeypatch, bad_cell)
    assert dlg.chosen_features() == ["a"]  # a text cell: b is not a feature
    dlg.set_columns(["a", "b"], "y")  # and cannot be ticked: it says so instead of failing later
    assert dlg.chosen_features() == ["a"]
    assert "text" in dlg.features.item(1).text() and "b" in dlg.message.text()
    assert dlg.isVisible() and session.dataset is before

    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,y\n1,2,0\n3,4\n5,6,0\n")
    monkeypatch.setattr(dialogs, "ask_csv_path", lambda parent: str(ragged))
    QTest.mouseClick(dlg.browse, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "ragged.csv: line" in dlg.message.text(), timeout=10_000)
    assert "line 3: 2 values, expected 3" in dlg.message.text() and not dlg.use_button.isEnabled()
    dlg.reject()
    assert session.dataset is before and session.dataset.name == "xor"


# ---- MNIST: loader thread, local files, download ----------------------------------------------


def test_mnist_from_local_files_through_the_loader(qtbot, session, mnist_dir):
    dlg = load_digits(qtbot, session, mnist_dir)
    ds = session.dataset
    assert ds.image_shape == (28, 28) and ds.x_train.dtype == np.uint8
    assert len(ds.x_train) == 200 and len(ds.x_test) == 30  # 10k asked, the files hold 200
    assert session.spec.n_inputs == 784 and session.spec.output.units == 10
    assert not dlg.loader.busy and dlg.progress.value() == 1000


def test_mnist_subset_and_bad_folder(qtbot, session, mnist_dir, tmp_path):
    dlg = MnistDialog()
    qtbot.addWidget(dlg)
    empty = tmp_path / "empty"
    empty.mkdir()
    with qtbot.waitSignal(dlg.loader.failed, timeout=10_000) as failed:
        dlg.open_local(str(empty))
    assert "missing" in failed.args[0] and "missing" in dlg.message.text()
    (mnist_dir / "a.npz").write_bytes(b"")  # not used: folder wins when a file in it is picked
    dlg.subset.setCurrentIndex(0)  # 1,000: more than the files hold -> all 200
    with qtbot.waitSignal(dlg.dataset_ready, timeout=10_000) as ready:
        dlg.open_local(str(mnist_dir))
    assert len(ready.args[0].x_train) == 200


@pytest.fixture
def server():
    (tx, tl), (vx, vl) = digits(200, 1), digits(30, 2)
    arrays = {TRAIN_IMAGES: tx, TRAIN_LABELS: tl, TEST_IMAGES: vx, TEST_LABELS: vl}
    # A stall sends 70 kB first, so the download has reported progress before it waits.
    s = Server({name: gzip.compress(idx_bytes(a), mtime=0) for name, a in arrays.items()}, stall_after=70_000)
    yield s
    s.close()


def download_dialog(qtbot, session, server, tmp_path) -> MnistDialog:
    panel = DatasetPanel(session)
    session._test_panel = panel  # qtbot holds widgets weakly; the dialog is the panel's child
    qtbot.addWidget(panel)
    dlg = panel.open_mnist_dialog()
    dlg.cache_dir = str(tmp_path / "cache")
    dlg.checksums = {n: hashlib.md5(d).hexdigest() for n, d in server.files.items()}
    dlg.mirror.setText(server.url)
    return dlg


def test_download_through_the_gui(qtbot, session, server, tmp_path):
    dlg = download_dialog(qtbot, session, server, tmp_path)
    seen: list[int] = []
    dlg.loader.progress.connect(lambda done, total: seen.append(done))
    with qtbot.waitSignal(session.dataset_changed, timeout=20_000):
        QTest.mouseClick(dlg.download_button, Qt.MouseButton.LeftButton)
    assert session.dataset.image_shape == (28, 28) and len(session.dataset.x_test) == 30
    assert seen and seen == sorted(seen) and dlg.progress.value() == 1000
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(server.files)
    assert not dlg.isVisible()
    # The mirror that worked is the next dialog's default.
    assert MnistDialog().mirror.text() == server.url


def test_download_cancel_keeps_nothing_partial(qtbot, session, server, tmp_path):
    use(qtbot, session, XOR)
    before = session.dataset
    server.mode = "stall"
    dlg = download_dialog(qtbot, session, server, tmp_path)
    with qtbot.waitSignal(dlg.loader.progress, timeout=20_000):
        QTest.mouseClick(dlg.download_button, Qt.MouseButton.LeftButton)
    assert dlg.cancel_button.isEnabled() and not dlg.download_button.isEnabled()
    with qtbot.waitSignal(dlg.loader.failed, timeout=20_000) as failed:
        QTest.mouseClick(dlg.cancel_button, Qt.MouseButton.LeftButton)
        server.release.set()  # the next chunk arrives; the loop sees the cancel before it
    assert failed.args == ["Cancelled"]
    qtbot.waitUntil(lambda: not dlg.loader.busy, timeout=10_000)
    assert dlg.download_button.isEnabled() and dlg.progress.value() == 0
    assert not any(p.name.endswith(".part") for p in (tmp_path / "cache").iterdir())
    assert session.dataset is before


def test_download_error_is_shown(qtbot, session, server, tmp_path):
    dlg = download_dialog(qtbot, session, server, tmp_path)
    dlg.checksums = {n: "0" * 32 for n in server.files}
    with qtbot.waitSignal(dlg.loader.failed, timeout=20_000) as failed:
        dlg.download()
    assert "checksum mismatch" in failed.args[0] and "checksum" in dlg.message.text()


# ---- views ------------------------------------------------------------------------------------


def test_mosaic_and_confusion_helpers():
    tiles = np.arange(3 * 2 * 2).reshape(3, 2, 2)
    m = mosaic(tiles, (2, 2), fill=-1)
    assert m.shape == (6, 6) and m[0, 0] == 0 and m[0, 4] == 4 and m[4, 4] == -1
    c = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    assert c.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]


def test_mnist_view_fills_after_a_step(qtbot, session, mnist_dir):
    view = MnistView(session)
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    load_digits(qtbot, session, mnist_dir)
    assert view.sample_image.image is not None and view.sample_labels.text(3) == "3"
    assert view.counts_bars.opts["height"].tolist() == [20] * 10
    session.step()
    qtbot.waitUntil(lambda: view.predicted_step > 0, timeout=20_000)
    assert view.confusion.shape == (10, 10) and view.confusion.sum() == 30
    assert view.weights_image.image is not None and view.weights_image.image.shape[2] == 3
    assert view.acc_train.getData()[0] is not None
    wrong = 30 - int(np.trace(view.confusion))
    shown = [t for t in view.gallery_labels.texts() if t]
    assert len(shown) == min(wrong, len(view.gallery_labels))

    # The diagram's hovered first-layer neuron: its 784 weights as one 28x28 image.
    mosaic_shape = view.weights_image.image.shape
    view.show_neuron(1, 3)
    w = view._weights[:, 3].reshape(28, 28)
    np.testing.assert_array_equal(view.weights_image.image,
                                  colors.diverging_rgb(w / np.abs(w).max(), 1.0))
    assert "neuron 4" in view.weights_plot.titleLabel.text
    view.show_neuron(2, 0)  # not the first layer: the mosaic again
    assert view.weights_image.image.shape == mosaic_shape and "of" in view.weights_plot.titleLabel.text


def test_mnist_view_waits_for_an_image_dataset(qtbot, session):
    view = MnistView(session)
    qtbot.addWidget(view)
    use(qtbot, session, XOR)
    assert view.dataset is None and view._stack.currentWidget() is view.placeholder


def test_draw_pad_gives_probabilities(qtbot, session, mnist_dir):
    pad = DrawPad(session)
    qtbot.addWidget(pad)
    pad.show()
    assert not pad.isEnabled()
    load_digits(qtbot, session, mnist_dir)
    assert pad.isEnabled()
    with qtbot.waitSignal(pad.probabilities, timeout=10_000) as got:
        QTest.mousePress(pad.canvas, Qt.MouseButton.LeftButton, pos=pad.canvas.rect().center())
    QTest.mouseRelease(pad.canvas, Qt.MouseButton.LeftButton, pos=pad.canvas.rect().center())
    p = got.args[0]
    assert p.shape == (10,) and p.sum() == pytest.approx(1.0) and (p >= 0).all()
    assert pad.canvas.pixels.max() > 0.5
    with qtbot.waitSignal(pad.probabilities, timeout=10_000):
        pad.canvas.stroke(QPointF(8, 5), QPointF(8, 22))
    pad.canvas.clear()
    assert pad.canvas.pixels.sum() == 0


def test_predict_box_matches_the_network(qtbot, session):
    box = PredictBox(session)
    qtbot.addWidget(box)
    use(qtbot, session, {"kind": "table", "name": "perceptron"})
    box.edit.setText("1, 0, 0")
    with qtbot.waitSignal(box.output_ready, timeout=10_000) as got:
        QTest.keyClick(box.edit, Qt.Key.Key_Return)
    expected = engine_net(qtbot, session).predict(np.array([[1.0, 0.0, 0.0]]))[0]  # engine idle
    np.testing.assert_allclose(got.args[0], expected)
    assert box.result.text().startswith("output: ")

    for text, says in (
        ("1,0", "got 2 value(s), the network takes 3"),
        ("1,x,0", "value 2 ('x') is not a number"),
        ("", "type 3 number(s)"),
        ("1,nan,0", "not a finite number"),
    ):
        box.edit.setText(text)
        QTest.keyClick(box.edit, Qt.Key.Key_Return)
        assert says in box.result.text(), text


def test_predict_box_standardises_like_the_csv(qtbot, session, tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    path.write_text("x,y\n" + "".join(f"{i},{2 * i + 1}\n" for i in range(30)))
    panel = DatasetPanel(session)
    box = PredictBox(session)
    qtbot.addWidget(panel)
    qtbot.addWidget(box)
    dlg = open_csv(qtbot, panel, monkeypatch, path)
    with qtbot.waitSignal(session.dataset_changed, timeout=10_000):
        QTest.mouseClick(dlg.use_button, Qt.MouseButton.LeftButton)
    src = session.dataset.source
    box.edit.setText("7")
    with qtbot.waitSignal(box.output_ready, timeout=10_000) as got:
        box.ask()
    row = (np.array([[7.0]]) - src["mean"]) / np.array(src["std"])
    np.testing.assert_allclose(got.args[0], engine_net(qtbot, session).predict(row)[0])


# ---- the editable table -----------------------------------------------------------------------


def test_edited_table_is_what_trains(qtbot, session):
    panel = DatasetPanel(session)
    qtbot.addWidget(panel)
    panel.show()
    with qtbot.waitSignal(session.dataset_changed, timeout=10_000):
        panel.select("table", "height-weight")
    editor = panel.table_editor
    assert editor.isVisible() and editor.grid.rowCount() == 4
    assert editor.grid.verticalHeaderItem(1).text() == "Bob"
    editor.grid.item(0, 0).setText("oops")
    assert editor.apply_button.isEnabled()
    editor.apply()
    assert "row 1, column 'weight'" in editor.message.text() and session.dataset.source == {
        "kind": "table",
        "name": "height-weight",
    }
    editor.grid.item(0, 0).setText("-3")
    editor.add_row()
    editor.grid.item(4, 0).setText("-20")
    editor.grid.item(4, 1).setText("-7")
    editor.grid.item(4, 2).setText("1")
    editor.grid.setCurrentCell(1, 0)
    editor.remove_row()  # Bob
    with qtbot.waitSignal(session.dataset_changed, timeout=10_000):
        QTest.mouseClick(editor.apply_button, Qt.MouseButton.LeftButton)
    ds = session.dataset
    assert ds.x_train.tolist() == [[-3, -1], [17, 4], [-15, -6], [-20, -7]]
    assert ds.row_labels == ("Alice", "Charlie", "Diana", "row 5")
    assert ds.target_names == ("male", "female") and session.spec.n_inputs == 2
    assert panel.combo.currentData() == "table:height-weight" and editor.isVisible()

    with qtbot.waitSignal(session.dataset_changed, timeout=10_000):
        panel.select("generator", "xor")
    assert not editor.isVisible()
