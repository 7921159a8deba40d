"""Regenerate the README's Seeds x K and Sweep screenshots in a real window.

* ``screenshot-seeds.png``: 2-D XOR with one hidden layer of 2 tanh neurons, 32 seeds: how
  many of them solve it, the median curves and band, every seed's decision surface;
* ``screenshot-sweep.png``: the Sweep dialog on the same data, lr x hidden neurons, 10 seeds.

    Xvfb :85 -screen 0 1600x1000x24 &
    DISPLAY=:85 QT_QPA_PLATFORM=xcb python docs/screenshots_seeds.py docs

Each picture is taken of the whole screen with ImageMagick's ``import -window root`` and cropped
to the dialog.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from nnbench.engine import LayerSpec
from nnbench.ui.app import configure_pyqtgraph
from nnbench.ui.main_window import MainWindow


def wait(app: QApplication, condition, timeout: float = 300.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()


def settle(app: QApplication, seconds: float = 1.5) -> None:
    end = time.monotonic() + seconds
    wait(app, lambda: time.monotonic() > end)


def shoot(dialog, out: Path) -> None:
    g = dialog.frameGeometry()
    subprocess.run(["import", "-window", "root", "-crop", f"{g.width()}x{g.height()}+{g.x()}+{g.y()}",
                    "+repage", str(out)], check=True)
    print(f"{out}: {dialog.windowTitle()}")  # noqa: T201 - a script reporting what it saved


def main(folder: str) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    configure_pyqtgraph()
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    s = window.session
    window.start_default()
    wait(app, lambda: s.spec is not None and not s.busy)
    s.set_hidden((LayerSpec(2, "tanh"),))
    s.set_config(lr=0.3)
    wait(app, lambda: s.spec is not None and len(s.spec.hidden) == 1 and not s.busy)

    seeds = window.open_seeds()
    seeds.move(0, 0)
    seeds.resize(1500, 940)
    seeds.k_spin.setValue(32)
    seeds.epochs_spin.setValue(300)
    seeds.target_edit.setText("test_acc>=0.95")
    seeds.run_button.click()
    wait(app, lambda: seeds.result is not None and not seeds.running)
    settle(app)
    shoot(seeds, out / "screenshot-seeds.png")
    print("  " + seeds.summary.text())  # noqa: T201 - a script reporting what it saved
    seeds.close()

    sweep = window.open_sweep()
    sweep.move(0, 0)
    sweep.resize(1300, 620)
    sweep.grid_edit.setText("lr=0.03,0.1,0.3,1; hidden=1,2,3,4,8")
    sweep.seeds_spin.setValue(10)
    sweep.epochs_spin.setValue(300)
    sweep.metric_combo.setCurrentText("final_test_acc")
    sweep.run_button.click()
    wait(app, lambda: sweep.status.text().startswith(("Done", "The sweep stopped")), timeout=900)
    settle(app)
    shoot(sweep, out / "screenshot-sweep.png")
    print("  " + sweep.status.text())  # noqa: T201 - a script reporting what it saved
    sweep.close()
    window.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs")
