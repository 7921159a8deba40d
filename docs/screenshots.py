"""Regenerate the README's window screenshots in a real window:

* ``screenshot-xor.png``: the default experiment (2-D XOR, 2-4-4-1 tanh) mid-training;
* ``screenshot-perceptron.png``: the perceptron preset after its 10,000 steps;
* ``screenshot-curve.png``: the regression-curve preset, a hidden neuron's curve hovered;
* ``screenshot-mnist.png`` (with ``NNBENCH_MNIST_DIR`` set to a folder of MNIST files): a
  784-64-10 net after 3 epochs, a first-layer neuron hovered so its weights show large;
* ``screenshot-diagram.png``: a 3-hidden-layer net training on the spiral with four input
  features on, a hidden neuron hovered so the plots panel shows it large;
* ``screenshot-1024x700.png`` and ``screenshot-1280x800.png``: the default experiment trained a
  little, at the smallest size the window is made for and at its default size.

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 QT_QPA_PLATFORM=xcb python docs/screenshots.py docs
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from threadpoolctl import threadpool_limits

from nnbench.engine import LayerSpec
from nnbench.ui.app import configure_pyqtgraph
from nnbench.ui.main_window import MainWindow


def wait(app: QApplication, condition, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()


def open_window(app: QApplication, size: tuple[int, int] = (1400, 900)) -> MainWindow:
    window = MainWindow()
    window.ask_before_losing_work = False  # a script: nothing to save
    window.resize(*size)
    window.show()
    return window


def shoot(app: QApplication, window: MainWindow, out: str, settle: float = 1.0) -> None:
    """Let the last frame paint, save the window as ``out``, say what it shows, close it."""
    end = time.monotonic() + settle
    wait(app, lambda: time.monotonic() > end)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(out):
        raise OSError(f"could not write {out}")
    frame = window.session.last_frame
    history = frame.snapshot.history if frame is not None else {"test_acc": []}
    acc = float(history["test_acc"][-1]) if len(history["test_acc"]) else float("nan")
    tail = f", test acc {acc:.3f}" if acc == acc else ""  # NaN: no test set
    print(f"{out}: epoch {window.session.epoch}{tail}")  # noqa: T201 (a script that reports what it made)
    close(app, window)


def close(app: QApplication, window: MainWindow) -> None:
    window.close()
    wait(app, lambda: not window.session.thread.isRunning())


def xor(app: QApplication, out: str, size: tuple[int, int] = (1400, 900)) -> None:
    window = open_window(app, size)
    s = window.session
    window.start_default()
    wait(app, lambda: s.dataset is not None and not s.busy)
    s.set_config(lr=0.3)
    wait(app, lambda: not s.busy)
    s.train()
    wait(app, lambda: s.running)
    wait(app, lambda: s.epoch >= 150)
    s.pause()
    wait(app, lambda: not s.running)
    shoot(app, window, out)


def perceptron(app: QApplication, out: str) -> None:
    window = open_window(app)
    s = window.session
    window.open_example("perceptron")
    wait(app, lambda: s.dataset is not None and s.dataset.name.lower().startswith("perceptron")
         and not s.busy)
    s.train()
    wait(app, lambda: s.running)
    wait(app, lambda: not s.running, 120)  # the preset stops itself at epoch 10,000
    shoot(app, window, out)


def hover(window: MainWindow, column: int, index: int) -> None:
    view = window.network_view
    node = view.neuron(column, index)
    pos = QPointF(view.mapFromScene(node.sceneBoundingRect().center()))
    QApplication.sendEvent(view.viewport(), QMouseEvent(
        QEvent.Type.MouseMove, pos, view.viewport().mapToGlobal(pos), Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))


def curve(app: QApplication, out: str) -> None:
    window = open_window(app)
    s = window.session
    window.open_example("regression-curve")
    wait(app, lambda: s.dataset is not None and s.dataset.n_features == 1 and not s.busy)
    s.train()
    wait(app, lambda: s.running)
    wait(app, lambda: not s.running, 120)  # the preset stops itself
    hover(window, 1, 2)
    shoot(app, window, out)


def mnist(app: QApplication, out: str, folder: str) -> None:
    from nnbench.data import load_mnist_dir

    window = open_window(app)
    s = window.session
    s.set_dataset(load_mnist_dir(folder))
    wait(app, lambda: s.dataset is not None and s.dataset.image_shape is not None and not s.busy)
    s.set_hidden((LayerSpec(64, "relu"),))
    s.set_config(optimizer="adam", lr=0.001, batch_size=64)
    wait(app, lambda: not s.busy)
    for _ in range(3):
        s.step()
    wait(app, lambda: s.epoch >= 3 and not s.running, 120)
    hover(window, 1, 4)
    shoot(app, window, out)


def spiral(app: QApplication, out: str, train_seconds: float = 2.0) -> None:
    window = open_window(app)
    s = window.session
    window.dataset_panel.select("generator", "spiral")
    wait(app, lambda: s.dataset is not None and s.dataset.name.startswith("spiral") and not s.busy)
    s.set_hidden((LayerSpec(8, "tanh"), LayerSpec(8, "tanh"), LayerSpec(6, "tanh")))
    wait(app, lambda: not s.busy)
    s.set_features(("x1", "x2", "sin(x1)", "sin(x2)"))
    wait(app, lambda: not s.busy)
    s.set_config(optimizer="adam", lr=0.01, batch_size=16)
    wait(app, lambda: not s.busy)
    s.train()
    end = time.monotonic() + train_seconds
    wait(app, lambda: time.monotonic() > end, train_seconds + 5)
    s.pause()
    wait(app, lambda: not s.running)
    hover(window, 2, 3)
    s.step()  # one more frame, drawn with the hovered neuron
    wait(app, lambda: not s.running and not s.busy)
    shoot(app, window, out)


def main(folder: str) -> None:
    app = QApplication(sys.argv[:1])
    threadpool_limits(limits=1, user_api="blas")
    configure_pyqtgraph()
    xor(app, str(Path(folder) / "screenshot-xor.png"))
    for size in ((1024, 700), (1280, 800)):
        xor(app, str(Path(folder) / f"screenshot-{size[0]}x{size[1]}.png"), size)
    perceptron(app, str(Path(folder) / "screenshot-perceptron.png"))
    curve(app, str(Path(folder) / "screenshot-curve.png"))
    spiral(app, str(Path(folder) / "screenshot-diagram.png"))
    if os.environ.get("NNBENCH_MNIST_DIR"):  # real MNIST files are not in the repository
        mnist(app, str(Path(folder) / "screenshot-mnist.png"), os.environ["NNBENCH_MNIST_DIR"])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs")
