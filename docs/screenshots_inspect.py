"""Regenerate the README's "Look inside the learning" screenshots in a real window:

* ``screenshot-inspector.png``: the backprop inspector on the xor-mlp preset, one Step taken;
* ``screenshot-landscape.png``: the loss landscape of a 2-8-8-1 tanh net (inputs x1, x2, sin x1,
  sin x2) on the spiral after 300 epochs of Adam, on the
  plane of its training path (recorded every 2 epochs while it trained), the path drawn on it;
* ``screenshot-curvature.png``: lambda_max measured every 25 epochs on xor-mlp, the stability limit
  2/lambda_max by the learning rate.

Each is the whole X screen, taken with ImageMagick's ``import -window root``:

    Xvfb :75 -screen 0 1600x1000x24 &
    DISPLAY=:75 QT_QPA_PLATFORM=xcb python docs/screenshots_inspect.py docs
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication
from threadpoolctl import threadpool_limits

from nnbench.engine import LayerSpec
from nnbench.ui.app import configure_pyqtgraph
from nnbench.ui.main_window import MainWindow


def wait(app: QApplication, condition, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()


def settle(app: QApplication, seconds: float = 1.0) -> None:
    end = time.monotonic() + seconds
    wait(app, lambda: time.monotonic() > end)


def shoot(app: QApplication, out: str) -> None:
    settle(app)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["import", "-window", "root", out], check=True)
    print(out)  # noqa: T201 (a script: it says what it wrote)


def open_window(app: QApplication) -> MainWindow:
    window = MainWindow()
    window.setGeometry(0, 0, 1600, 1000)
    window.show()
    return window


def close(app: QApplication, window: MainWindow) -> None:
    window.inspect.close()
    window.close()
    wait(app, lambda: not window.session.thread.isRunning())


def inspector(app: QApplication, out: str) -> None:
    window = open_window(app)
    s = window.session
    window.open_example("xor-mlp")
    wait(app, lambda: s.dataset is not None and not s.busy)
    inspect = window.inspect
    inspect.setGeometry(0, 0, 1600, 1000)
    tab = inspect.backprop
    done = []
    tab.traced.connect(done.append)
    window.inspect_actions["backprop"].trigger()
    wait(app, lambda: bool(done))
    tab.step_button.click()
    wait(app, lambda: len(done) >= 2)
    tab.heat_box.setCurrentText("dL/dW1")
    shoot(app, out)
    close(app, window)


def landscape(app: QApplication, out: str) -> None:
    window = open_window(app)
    s = window.session
    window.dataset_panel.select("generator", "spiral")
    wait(app, lambda: s.dataset is not None and s.dataset.name.startswith("spiral") and not s.busy)
    s.set_hidden((LayerSpec(8, "tanh"), LayerSpec(8, "tanh")))
    wait(app, lambda: not s.busy)
    s.set_features(("x1", "x2", "sin(x1)", "sin(x2)"))
    wait(app, lambda: not s.busy)
    s.set_config(optimizer="adam", lr=0.01, batch_size=16)
    s.set_speed(600.0)  # about 50 epochs a second: a frame every epoch or two to record
    wait(app, lambda: not s.busy)
    inspect = window.inspect
    inspect.setGeometry(0, 0, 1600, 1000)
    window.inspect_actions["landscape"].trigger()
    tab = inspect.landscape
    tab.record_box.setValue(2)
    tab.record_check.setChecked(True)
    tab.points_box.setValue(41)
    s.set_config(epochs=300)
    s.train()
    wait(app, lambda: s.running)
    wait(app, lambda: not s.running, 180)
    wait(app, lambda: tab.path_button.isEnabled())
    drawn = []
    tab.drawn.connect(drawn.append)
    tab.path_button.click()
    wait(app, lambda: bool(drawn), 300)
    shoot(app, out)
    close(app, window)


def curvature(app: QApplication, out: str) -> None:
    window = open_window(app)
    s = window.session
    window.open_example("xor-mlp")
    wait(app, lambda: s.dataset is not None and not s.busy)
    inspect = window.inspect
    inspect.setGeometry(560, 130, 1040, 800)  # the main window's status bar stays in view
    window.inspect_actions["curvature"].trigger()
    tab = inspect.curvature
    tab.every_box.setValue(25)
    s.set_speed(100.0)
    wait(app, lambda: not s.busy)
    tab.every_check.setChecked(True)
    s.set_config(epochs=600)
    s.train()
    wait(app, lambda: s.running)
    wait(app, lambda: not s.running and not tab.jobs.busy, 120)
    shoot(app, out)
    close(app, window)


def main(folder: str) -> None:
    app = QApplication(sys.argv[:1])
    threadpool_limits(limits=1, user_api="blas")
    configure_pyqtgraph()
    inspector(app, str(Path(folder) / "screenshot-inspector.png"))
    landscape(app, str(Path(folder) / "screenshot-landscape.png"))
    curvature(app, str(Path(folder) / "screenshot-curvature.png"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs")
