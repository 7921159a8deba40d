"""An experiment saved in the window continues in the CLI from the saved weights."""

import json

import numpy as np
import pytest
from engine_helpers import engine_net, engine_state
from test_ui_window import close_window, open_window

from nnbench import cli
from nnbench.engine import files
from nnbench.ui import dialogs


def test_window_save_then_cli_train_continues(qtbot, tmp_path, monkeypatch, capsys):
    window = open_window(qtbot)
    s = window.session
    with qtbot.waitSignal(s.config_changed, timeout=10_000):
        window.epochs_box.setValue(300)  # the epoch limit pauses training by itself
    with qtbot.waitSignal(s.config_changed, timeout=10_000):
        window.lr_box.setValue(0.5)
    window.train_action.trigger()
    qtbot.waitUntil(lambda: s.epoch == 300 and not s.running, timeout=60_000)
    path = tmp_path / "gui.npz"
    monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, **k: str(path))
    with qtbot.waitSignal(s.message, timeout=10_000):
        window.save_action.trigger()
    saved_loss = float(engine_state(qtbot, s).history["train_loss"][-1])
    close_window(window)

    more = tmp_path / "more.npz"
    assert cli.main(["train", str(path), "--epochs", "20", "--json", "--save", str(more)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["epochs"] == 320 and result["epochs_run"] == 20
    # Continued from the trained weights: a fresh network starts near 0.69 (chance) on XOR.
    assert result["loss"] < saved_loss * 1.5 < 0.5
    more = files.load(tmp_path / "more.npz")
    assert more.epoch == 320 and len(more.history["epoch"]) == 320
    np.testing.assert_array_equal(more.history["train_loss"][:300], files.load(path).history["train_loss"])


def test_cli_rejects_a_damaged_gui_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04garbage")
    assert cli.main(["train", str(bad), "--epochs", "1"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nnbench: error:") and "bad.npz" in err[0]


@pytest.fixture(autouse=True)
def _no_dialogs(monkeypatch):
    monkeypatch.setattr(dialogs, "show_error", lambda *a: None)


def test_features_chosen_in_the_window_survive_save_open_and_the_cli(qtbot, tmp_path, capsys):
    window = open_window(qtbot)
    s = window.session
    for name in ("x1^2", "sin(x2)"):
        with qtbot.waitSignal(s.spec_changed, timeout=10_000):
            window.network_view.toggle_feature(name)
    qtbot.waitUntil(lambda: not s.busy, timeout=10_000)
    s.step()
    qtbot.waitUntil(lambda: s.epoch >= 1 and not s.running and not s.busy, timeout=10_000)
    path = tmp_path / "features.npz"
    with qtbot.waitSignal(s.file_done, timeout=10_000):
        s.save(path)
    grid = s.view.grid
    expected = engine_net(qtbot, s).predict(grid)
    close_window(window)

    other = open_window(qtbot)
    with qtbot.waitSignal(other.session.file_done, timeout=10_000):
        other.session.load(path)
    o = other.session
    assert o.spec.features == ("x1", "x2", "x1^2", "sin(x2)") == o.features
    assert [n.feature for n in other.network_view.columns[0]] == ["x1", "x2", "x1^2", "sin(x2)"]
    np.testing.assert_array_equal(engine_net(qtbot, o).predict(grid), expected)
    close_window(other)

    assert cli.main(["predict", str(path), "--input", f"{grid[5, 0]},{grid[5, 1]}", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["outputs"]
    np.testing.assert_allclose(np.ravel(out), expected[5], rtol=1e-12)
