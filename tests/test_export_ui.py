"""File > Export Network as... driven through the menu; and an exported .onnx opened again."""

from __future__ import annotations

import tempfile

import numpy as np
import pytest
from test_ui_window import GRID, close_window, open_window, predictions

from nnbench.ui import dialogs

try:
    import onnxruntime as ort
except ImportError:
    ort = None
needs_onnx = pytest.mark.skipif(ort is None, reason="the export extra (onnx, onnxruntime) is not installed")


@pytest.fixture(autouse=True)
def snapshots_in_tmp_path(tmp_path, monkeypatch):
    """The exporter's temporary snapshot goes to the test's own folder (and must leave it)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    assert not list(folder.iterdir())


def export_menu_action(window):
    file_menu = window.menuBar().actions()[0].menu()
    return next(a for a in file_menu.actions() if a.text() == "&Export Network as…")


@needs_onnx
def test_export_from_the_file_menu_and_open_the_onnx_again(qtbot, tmp_path, monkeypatch, errors):
    window = open_window(qtbot)
    window.step_action.trigger()  # one epoch: the weights are not the initial ones
    qtbot.waitUntil(lambda: window.session.epoch == 1, timeout=10_000)
    qtbot.waitUntil(lambda: not window.session.running, timeout=10_000)
    out = tmp_path / "xor.onnx"
    monkeypatch.setattr(dialogs, "ask_export_path", lambda parent: (str(out), "onnx"))
    action = export_menu_action(window)
    assert action is window.export_action
    with qtbot.waitSignal(window.exporter.finished, timeout=20_000) as done:
        action.trigger()
    assert done.args == ["Exported xor.onnx"]
    before = predictions(qtbot, window, GRID)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert np.max(np.abs(session.run(None, {"x": GRID})[0] - before)) < 1e-12
    assert not [p for p in window.recent_files() if "nnbench-export-" in p]  # the snapshot is no recent file
    assert not errors
    close_window(window)

    other = open_window(qtbot)
    monkeypatch.setattr(dialogs, "ask_open_path", lambda *a, **k: str(out))
    with qtbot.waitSignal(other.session.file_done, timeout=10_000):
        other.open_action.trigger()
    np.testing.assert_array_equal(predictions(qtbot, other, GRID), before)
    assert other.session.dataset.name == "xor" and not errors
    close_window(other)


def test_a_numpy_export_and_a_failed_export(qtbot, tmp_path, monkeypatch, errors):
    window = open_window(qtbot)
    out = tmp_path / "net.py"
    monkeypatch.setattr(dialogs, "ask_export_path", lambda parent: (str(out), "numpy"))
    with qtbot.waitSignal(window.exporter.finished, timeout=20_000):
        window.export_action.trigger()
    assert out.is_file() and (tmp_path / "net.weights.npz").is_file()
    missing = tmp_path / "no such folder" / "net.onnx"
    monkeypatch.setattr(dialogs, "ask_export_path", lambda parent: (str(missing), "onnx"))
    with qtbot.waitSignal(window.exporter.failed, timeout=20_000):
        window.export_action.trigger()
    assert len(errors) == 1 and "Could not export to net.onnx" in errors[0]
    close_window(window)


@needs_onnx
def test_a_foreign_onnx_network_opens_on_the_dataset_in_use(qtbot, tmp_path, monkeypatch, errors):
    from test_export_import import torch_style_mlp, write

    path = write(tmp_path, torch_style_mlp(np.random.default_rng(0)), "foreign.onnx")
    window = open_window(qtbot)
    monkeypatch.setattr(dialogs, "ask_open_path", lambda *a, **k: str(path))
    with qtbot.waitSignal(window.session.file_done, timeout=10_000):
        window.open_action.trigger()
    assert window.session.spec.describe() == "2-5r-1s" and window.session.dataset.name == "xor"
    assert not errors
    close_window(window)
