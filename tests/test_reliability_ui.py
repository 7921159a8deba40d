"""The window keeps what it had when a file, a save or a setting goes wrong, and trains
reproducibly: the same weights as the CLI for the same preset and epochs."""

from __future__ import annotations

import random

import numpy as np
import pytest
from engine_helpers import engine_net, engine_state
from test_ui_window import close_window, open_window

from nnbench import cli, presets
from nnbench.engine import LayerSpec, Network, NetworkSpec, files
from nnbench.errors import NnbenchError
from nnbench.experiment import make_trainer
from nnbench.ui import dialogs
from nnbench.ui.main_window import MainWindow

WAIT = 15_000
GRID = np.array([[x, y] for x in np.linspace(-6, 6, 5) for y in np.linspace(-6, 6, 5)])


def idle(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.session.busy == 0 and not window.session.running, timeout=WAIT)


def engine_weights(qtbot, window: MainWindow) -> dict[str, np.ndarray]:
    """The engine's weights, as the engine process holds them between two batches."""
    return engine_net(qtbot, window.session, WAIT).weights()


def train_epochs(qtbot, window: MainWindow, epochs: int) -> None:
    s = window.session
    with qtbot.waitSignal(s.config_changed, timeout=WAIT):
        s.set_config(epochs=epochs)
    window.train_action.trigger()
    qtbot.waitUntil(lambda: s.epoch >= epochs and not s.running, timeout=60_000)
    idle(qtbot, window)
    assert engine_state(qtbot, s).epoch == epochs


def assert_identical(a, b) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].tobytes() == b[k].tobytes(), k


# ---- files -----------------------------------------------------------------------------------------

def fuzzed_refusals(original: bytes, n: int, seed: int) -> list[bytes]:
    """``n`` random byte-level mutants of ``original`` that the loader refuses."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        b = bytearray(original)
        if rng.random() < 0.5:
            for _ in range(rng.randint(1, 6)):
                b[rng.randrange(len(b))] ^= rng.randint(1, 255)
        else:
            del b[rng.randrange(len(b)):]
        try:
            files.loads(bytes(b))
        except NnbenchError:
            out.append(bytes(b))
    return out


def test_fuzzed_files_opened_in_the_window_change_nothing(qtbot, tmp_path, monkeypatch, errors):
    window = open_window(qtbot)
    s = window.session
    window.step_action.trigger()
    qtbot.waitUntil(lambda: s.epoch == 1, timeout=WAIT)
    idle(qtbot, window)
    good = tmp_path / "good.npz"
    with qtbot.waitSignal(s.message, timeout=WAIT):
        s.save(good)
    before, spec, epoch = engine_weights(qtbot, window), s.spec, engine_state(qtbot, s).epoch
    bad = tmp_path / "bad.npz"
    monkeypatch.setattr(dialogs, "ask_open_path", lambda *a, **k: str(bad))
    for i, data in enumerate(fuzzed_refusals(good.read_bytes(), 8, seed=6)):
        bad.write_bytes(data)
        with qtbot.waitSignal(s.error, timeout=WAIT):
            window.open_action.trigger()
        assert len(errors) == i + 1 and "internal error" not in errors[-1]
        assert s.spec == spec and engine_state(qtbot, s).epoch == epoch
        assert_identical(engine_weights(qtbot, window), before)
    close_window(window)


@pytest.mark.parametrize("where", ["parent is a file", "proc"])
def test_a_failed_save_says_so_and_keeps_the_work(qtbot, tmp_path, monkeypatch, errors, where):
    # As root chmod stops nothing: a path under a regular file or under /proc fails for root too.
    (tmp_path / "a_file").write_text("x")
    target = tmp_path / "a_file" / "net.npz" if where == "parent is a file" else "/proc/nnbench.npz"
    window = open_window(qtbot)
    s = window.session
    window.step_action.trigger()
    qtbot.waitUntil(lambda: s.epoch == 1, timeout=WAIT)
    idle(qtbot, window)
    before = engine_weights(qtbot, window)
    monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, **k: str(target))
    with qtbot.waitSignal(s.error, timeout=WAIT):
        window.save_action.trigger()
    assert errors and "cannot write in" in errors[-1] and "internal error" not in errors[-1]
    assert_identical(engine_weights(qtbot, window), before)
    window.step_action.trigger()  # and work goes on
    qtbot.waitUntil(lambda: s.epoch == 2, timeout=WAIT)
    close_window(window)


# ---- settings --------------------------------------------------------------------------------------

def test_bad_settings_in_the_window_are_refused_and_the_old_ones_kept(qtbot, errors):
    window = open_window(qtbot)
    s = window.session
    config = s.config
    for change in ({"lr": 0.0}, {"lr": -1.0}, {"lr": float("nan")}, {"batch_size": -5}):
        with qtbot.waitSignal(s.error, timeout=WAIT):
            s.set_config(**change)
        assert s.config == config
    assert all("internal error" not in e for e in errors)
    close_window(window)


def test_a_hidden_layer_of_zero_neurons_is_an_error_message_not_an_exception(qtbot, errors):
    window = open_window(qtbot)
    s = window.session
    spec = s.spec
    try:
        with qtbot.waitSignal(s.error, timeout=WAIT):
            s.set_hidden((LayerSpec(0, "tanh"),))
        idle(qtbot, window)
        assert engine_net(qtbot, s).spec == spec and s.hidden == spec.hidden
    finally:
        close_window(window)


def test_a_batch_larger_than_the_data_trains_full_batch_in_the_window(qtbot, errors):
    window = open_window(qtbot)
    s = window.session
    with qtbot.waitSignal(s.config_changed, timeout=WAIT):
        window.batch_box.setValue(100_000)
    train_epochs(qtbot, window, 3)
    assert engine_state(qtbot, s).step == 3  # one step per epoch: the whole set is one batch
    assert not errors
    close_window(window)


def test_hidden_layer_sizes_out_of_range_cannot_reach_the_engine(qtbot):
    window = open_window(qtbot)
    box = window.network_panel.neuron_box(0)
    assert box.minimum() >= 1 and box.maximum() <= 4096
    close_window(window)


# ---- reproducibility -------------------------------------------------------------------------------

def test_two_window_runs_give_bit_identical_weights_and_match_headless(qtbot, errors):
    runs = []
    for _ in range(2):
        window = open_window(qtbot)
        train_epochs(qtbot, window, 25)
        runs.append(engine_weights(qtbot, window))
        s = window.session
        ds, spec, config = s.dataset, s.spec, s.config
        close_window(window)
    assert_identical(runs[0], runs[1])
    # The same by hand: the session builds the network from net_seed 0 and trains on the same split.
    net = Network(spec, np.random.default_rng(0))
    make_trainer(net, config, ds).run(25)
    assert_identical(net.weights(), runs[0])
    assert not errors


@pytest.mark.parametrize("name,epochs", [("xor-mlp", 40), ("height-weight-noisy", 20),
                                         ("regression-curve", 20)])
def test_a_preset_trained_in_the_window_matches_the_cli(qtbot, tmp_path, capsys, errors, name, epochs):
    window = open_window(qtbot)
    with qtbot.waitSignal(window.session.spec_changed, timeout=WAIT):
        window.example_actions[name].trigger()
    train_epochs(qtbot, window, epochs)
    gui = engine_weights(qtbot, window)
    close_window(window)
    path = tmp_path / "cli.npz"
    assert cli.main(["train", name, "--epochs", str(epochs), "--save", str(path)]) == 0
    capsys.readouterr()
    assert_identical(gui, files.load(path).weights)
    assert presets.load_preset(name).network == NetworkSpec.from_dict(files.load(path).spec.to_dict())
    assert not errors


def test_a_pause_right_after_train_is_always_reported(qtbot, errors):
    # The engine's state lives in one place (the bench in the engine process) and every change
    # is a command answered in order: a pause racing the start of training cannot be lost.
    window = open_window(qtbot)
    s = window.session
    try:
        for _ in range(20):
            s.train()
            s.pause()
            idle(qtbot, window)
            assert not s.running
            assert engine_state(qtbot, s) is not None
        s.train()
        qtbot.waitUntil(lambda: s.running, timeout=WAIT)
        s.pause()
        qtbot.waitUntil(lambda: not s.running, timeout=WAIT)
        epoch = engine_state(qtbot, s).epoch
        idle(qtbot, window)
        assert engine_state(qtbot, s).epoch == epoch  # paused for real: no more epochs
    finally:
        close_window(window)


def test_opening_a_fifo_in_the_window_is_refused_at_once(qtbot, tmp_path, monkeypatch, errors):
    import os

    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    window = open_window(qtbot)
    monkeypatch.setattr(dialogs, "ask_open_path", lambda *a, **k: str(fifo))
    try:
        with qtbot.waitSignal(window.session.error, timeout=2000):
            window.open_action.trigger()
        assert "not a regular file" in errors[-1]
    finally:
        # Unblock the engine thread (a writer appears and leaves) so the window can close.
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass  # nobody was reading: the load did not block
        idle(qtbot, window)
        close_window(window)
