"""The README's runs screenshot: two forked runs overlaid, the timeline at an early epoch.

    Xvfb :65 -screen 0 1600x1000x24 &
    DISPLAY=:65 QT_QPA_PLATFORM=xcb python docs/screenshot_runs.py docs/screenshot-runs.png

The spiral set with input features x1, x2, sin x1, sin x2, 8-8-6 tanh, Adam lr 0.01, batch 16,
trained 400 epochs (run 1); forked at epoch 63 with lr 0.003 and trained to 400 too (run 2);
both runs checked in the Runs list (smoothing 0.6), the timeline moved
back to epoch 25 of run 1. The screen is taken with ImageMagick's
``import -window root``.
"""

from __future__ import annotations

import subprocess
import sys
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from threadpoolctl import threadpool_limits

from nnbench.engine import LayerSpec
from nnbench.ui.app import configure_pyqtgraph
from nnbench.ui.main_window import MainWindow

EPOCHS, FORK, EARLY = 400, 63, 25


def wait(app: QApplication, condition, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()


def main(out: str) -> None:
    app = QApplication(sys.argv[:1])
    threadpool_limits(limits=1, user_api="blas")
    configure_pyqtgraph()
    window = MainWindow()
    window.move(0, 0)
    window.resize(1600, 975)
    window.show()
    s = window.session
    window.dataset_panel.select("generator", "spiral")
    wait(app, lambda: s.dataset is not None and s.dataset.name.startswith("spiral") and not s.busy)
    s.set_hidden((LayerSpec(8, "tanh"), LayerSpec(8, "tanh"), LayerSpec(6, "tanh")))
    wait(app, lambda: not s.busy)
    s.set_features(("x1", "x2", "sin(x1)", "sin(x2)"))
    s.set_config(optimizer="adam", lr=0.01, batch_size=16, epochs=EPOCHS)
    window.runs_action.trigger()  # show the runs list
    window.resizeDocks([window.runs_dock], [470], Qt.Orientation.Horizontal)
    wait(app, lambda: not s.busy)
    s.train()
    wait(app, lambda: s.epoch >= EPOCHS and not s.running)
    tl, client, panel = window.timeline, window.runs_client, window.runs_panel
    wait(app, lambda: EPOCHS in tl.epochs)
    tl.show_epoch(FORK)
    wait(app, lambda: tl.epoch == FORK)
    tl.fork_here()
    # The fork's own frame first: until it comes, the window's newest frame is still epoch 400
    # of run 1, and the wait for the end of training below would pass at once.
    wait(app, lambda: len(client.runs) == 2 and not s.busy and s.epoch == FORK and s.pinned is None)
    s.set_config(lr=0.003)
    wait(app, lambda: not s.busy)
    s.train()
    wait(app, lambda: s.epoch >= EPOCHS and not s.running)
    client.refresh()
    wait(app, lambda: not s.busy and client.run(2) is not None and client.run(2).epochs == EPOCHS)
    for row in range(panel.table.rowCount()):
        panel.table.item(row, 0).setCheckState(Qt.CheckState.Checked)
    wait(app, lambda: len(panel.curves) == 2 and not s.busy)
    panel.smoothing.setValue(60)
    panel.table.selectRow(panel.row_of(1))  # the timeline scrubs run 1
    wait(app, lambda: client.shown == 1)
    tl.show_epoch(EARLY)
    wait(app, lambda: tl.epoch == EARLY and not s.busy)
    end = time.monotonic() + 1.0
    wait(app, lambda: time.monotonic() > end)  # let every view paint
    subprocess.run(["import", "-window", "root", out], check=True)
    print(f"wrote {out}")  # noqa: T201 (a script that reports what it made)
    window.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot-runs.png")
