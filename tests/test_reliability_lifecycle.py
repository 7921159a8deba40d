"""The engine under random use through the window: train, pause, step, reset, change the network
or the dataset, kill the engine process, close. No crash, no Qt warning (pytest-qt fails on
those), no deadlock (every wait has a timeout) and no threads, processes, shared memory or memory
left behind.

30 sequences in the default suite; ``python -m pytest -m slow`` runs 500.
"""

from __future__ import annotations

import gc
import os
import random
import threading

import pytest
from engine_helpers import engine_state
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtTest import QTest

from nnbench.ui.app import configure_pyqtgraph
from nnbench.ui.main_window import MainWindow

WAIT = 15_000  # ms: any wait longer than this is a deadlock
ACTIONS = ("train", "pause", "step", "reset", "neurons", "add_layer", "remove_layer", "dataset", "lr",
           "batch", "kill", "close")


def children() -> list[int]:
    """Engine processes this one started that still exist, and zombie children of any kind
    (multiprocessing's resource tracker lives as long as the interpreter: it is not counted)."""
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if int(fields[1]) == os.getpid() and (fields[0] == "Z" or b"spawn_main" in cmdline):
                out.append(int(pid))
    return out


def segments() -> set[str]:
    """Shared-memory segments this process created and did not unlink (Linux: /dev/shm)."""
    mine = f"nnbench_{os.getpid()}_"
    return {n for n in os.listdir("/dev/shm") if n.startswith(mine)} if os.path.isdir("/dev/shm") else set()


def journals() -> set[str]:
    """Runs-journal directories (nnbench.journal) this process's windows made and left behind."""
    import tempfile

    from nnbench.journal import OWNER, PREFIX

    root = tempfile.gettempdir()
    out = set()
    for name in os.listdir(root):
        if name.startswith(PREFIX):
            try:
                with open(os.path.join(root, name, OWNER)) as f:
                    if f.read().strip() == str(os.getpid()):
                        out.add(name)
            except OSError:
                pass
    return out


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def settle(qtbot, window: MainWindow) -> None:
    """Wait until every job the window submitted has been answered."""
    qtbot.waitUntil(lambda: window.session.busy == 0, timeout=WAIT)


def open_window(qtbot) -> MainWindow:
    window = MainWindow()
    window.diverged = []
    window.session.diverged.connect(window.diverged.append)
    window.show()
    with qtbot.waitSignal(window.session.spec_changed, timeout=WAIT):
        window.start_default()
    return window


def dispose(window: MainWindow) -> None:
    thread = window.session.thread
    window.close()
    assert thread.isFinished(), "the engine thread outlived its window"
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()


def act(qtbot, window: MainWindow, action: str, rng: random.Random) -> None:
    s = window.session
    if action == "train":
        if not s.running:
            epoch, diverged = engine_state(qtbot, s).epoch, len(window.diverged)
            window.train_action.trigger()
            # Let it train a little: at least one epoch, or until it diverges (which can happen
            # within the first burst, before `running` was ever reported).
            qtbot.waitUntil(lambda: s.epoch > epoch or len(window.diverged) > diverged or not s.running,
                            timeout=WAIT)
    elif action == "pause":
        if s.running:
            window.train_action.trigger()
        qtbot.waitUntil(lambda: not s.running, timeout=WAIT)
    elif action == "step":
        window.step_action.trigger()
    elif action == "reset":
        window.reset_action.trigger()
    elif action == "neurons":
        box = window.network_panel.neuron_box(rng.randrange(len(s.spec.hidden))) if s.spec.hidden else None
        if box is not None:
            box.setValue(rng.randint(1, 12))
    elif action == "add_layer":
        if len(s.spec.hidden) < 4:
            QTest.mouseClick(window.network_panel.add_button, Qt.MouseButton.LeftButton)
    elif action == "remove_layer":
        if s.spec.hidden:
            QTest.mouseClick(window.network_panel.remove_button, Qt.MouseButton.LeftButton)
    elif action == "dataset":
        combo = window.dataset_panel.combo
        choices = [i for i in range(combo.count()) if combo.itemData(i) is not None]
        combo.setCurrentIndex(rng.choice(choices))
    elif action == "lr":
        window.lr_box.setValue(rng.choice([0.001, 0.03, 0.3, 3.0, 50.0]))
    elif action == "batch":
        window.batch_box.setValue(rng.choice([0, 1, 7, 32, 100_000]))
    elif action == "kill":
        pid = window.session.worker.pid
        with qtbot.waitSignal(window.session.engine_ready, timeout=WAIT):
            window.session.kill_engine()
        assert window.session.worker.pid != pid
    settle(qtbot, window)


def run_sequences(qtbot, n: int, seed: int, baseline: dict | None = None) -> dict[str, float]:
    """``n`` sequences; threads and memory are compared between sequence ``min(n // 5, 20)`` (after
    warm-up) and the end, or with ``baseline`` when given (a soak split into several tests)."""
    configure_pyqtgraph()
    rng = random.Random(seed)
    counts = {a: 0 for a in ACTIONS}
    marks: list[tuple[int, int, float]] = []
    window = open_window(qtbot)
    try:
        for i in range(n):
            window = sequence(qtbot, window, rng, counts, marks, i, n)
    finally:
        if window is not None:
            window.close()
    if baseline is not None:
        baseline.setdefault("mark", marks[0])
    (py0, os0, rss0), (py1, os1, rss1) = baseline["mark"] if baseline else marks[0], marks[-1]
    assert py1 <= py0, f"Python threads grew from {py0} to {py1}"
    assert os1 <= os0, f"OS threads grew from {os0} to {os1}"
    qtbot.waitUntil(lambda: not children(), timeout=WAIT)  # no engine process, no zombie
    assert not segments(), f"shared memory left behind: {segments()}"
    assert not journals(), f"runs journals left behind: {journals()}"
    return {"rss_growth_mb": rss1 - rss0, **counts}


def sequence(qtbot, window, rng, counts, marks, i, n):
    done = []
    for _ in range(rng.randint(2, 8)):
        action = rng.choice(ACTIONS)
        counts[action] += 1
        if action == "close":
            break
        done.append(action)
        try:
            act(qtbot, window, action, rng)
        except Exception as e:
            raise AssertionError(f"sequence {i}: {done} (dataset {window.session.dataset.name}, "
                                 f"lr {window.session.config.lr})") from e
    # Every sequence ends with the window closed, often mid-training, and a new one opened.
    dispose(window)
    gc.collect()
    if i in (min(n // 5, 20), n - 1):
        marks.append((threading.active_count(), os_threads(), rss_mb()))
    return open_window(qtbot) if i < n - 1 else None


def check_errors(errors: list[str]) -> None:
    # Divergence (an lr of 50) and a refused setting are expected messages; a bug is not.
    assert not [e for e in errors if "internal error" in e], errors


def test_thirty_random_sequences_through_the_window(qtbot, errors):
    result = run_sequences(qtbot, 30, seed=6)
    print(f"lifecycle: {result}")
    check_errors(errors)
    assert result["rss_growth_mb"] < 100


SOAK: dict = {}


@pytest.mark.slow
@pytest.mark.parametrize("part", range(5))
def test_five_hundred_random_sequences_through_the_window(qtbot, errors, part):
    """Five tests of 100 sequences (each under the 120 s faulthandler timeout); threads and memory
    are compared with the first part's warm-up mark across all 500."""
    result = run_sequences(qtbot, 100, seed=2026 + part, baseline=SOAK)
    print(f"lifecycle part {part}: {result}")
    check_errors(errors)
    assert result["rss_growth_mb"] < 40
