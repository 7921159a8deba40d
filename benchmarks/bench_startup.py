"""Cold start: from launching the app to its first painted window, and to the engine answering.

    QT_QPA_PLATFORM=xcb DISPLAY=:99 python benchmarks/bench_startup.py [--runs 5] [--against CHECKOUT]

Each run starts a fresh interpreter that opens the window as ``nnbench`` does and reports when
the main window is first painted and when the engine process has answered its first command.
The first run after an install is slower (cold file cache); the table gives every run, then the
median of the warm ones. ``--against`` times the first paint only, alternating between this
checkout and another one (``git worktree add /tmp/old COMMIT``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

OPEN = r"""
import sys, time
t0 = float(sys.argv[1])
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
from nnbench.ui.app import configure_pyqtgraph
from nnbench.ui.main_window import MainWindow

app = QApplication(sys.argv[:1])
configure_pyqtgraph()
window = MainWindow()
marks = {}

class Painted(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and "paint" not in marks:
            marks["paint"] = time.time() - t0
        return False

f = Painted()
window.installEventFilter(f)
"""

# Prints the marks KEYS names, in order, once all of them are in, and quits.
REPORT = r"""
def check():
    if all(k in marks for k in KEYS):
        print(" ".join(f"{marks[k]:.3f}" for k in KEYS), flush=True)
        window.close()
        app.quit()

timer = QTimer()
timer.timeout.connect(check)
timer.start(5)
app.exec()
"""

CHILD = OPEN + r"""
window.session.engine_ready.connect(lambda _: marks.setdefault("engine", time.time() - t0))
window.session.spec_changed.connect(lambda _: marks.setdefault("network", time.time() - t0))
window.show()
window.start_default()
KEYS = ("paint", "engine", "network")
""" + REPORT

# First paint only: runs on any version of nnbench, so two checkouts can be compared.
PAINT_ONLY = OPEN + r"""
window.show()
KEYS = ("paint",)
""" + REPORT


def compare(runs: int, other: str) -> int:
    """First paint of this checkout against the one at ``other``, in fresh interpreters that
    alternate (this, other, other, this, ...) so the machine's drift falls on both."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = {"this": here, "other": os.path.abspath(other)}
    times: dict[str, list[float]] = {k: [] for k in trees}
    for i in range(runs):
        for name in (("this", "other") if i % 2 == 0 else ("other", "this")):
            env = dict(os.environ, PYTHONPATH=trees[name])
            out = subprocess.run([sys.executable, "-c", PAINT_ONLY, repr(time.time())], capture_output=True,
                                 text=True, env=env, cwd=trees[name], timeout=120)
            if out.returncode != 0:
                print(out.stderr)
                return 1
            times[name].append(float(out.stdout.split()[0]))
    for name, t in times.items():
        warm = sorted(t[1:] or t)
        print(f"{name} ({trees[name]}): first paint median {warm[len(warm) // 2]:.2f} s of the warm runs; "
              f"all: {', '.join(f'{x:.2f}' for x in t)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", metavar="CHECKOUT", help="compare first paint with another checkout")
    args = parser.parse_args()
    if args.against:
        return compare(args.runs, args.against)
    env = dict(os.environ)
    rows = []
    for i in range(args.runs):
        out = subprocess.run([sys.executable, "-c", CHILD, repr(time.time())], capture_output=True, text=True,
                             env=env, timeout=120)
        if out.returncode != 0:
            print(out.stderr)
            return 1
        paint, engine, network = map(float, out.stdout.split())
        rows.append((paint, engine, network))
        print(f"run {i + 1}: first paint {paint:.2f} s, engine answering {engine:.2f} s, "
              f"default network shown {network:.2f} s")
    warm = sorted(rows[1:] or rows)
    mid = warm[len(warm) // 2]
    print(f"median of the warm runs: first paint {mid[0]:.2f} s, engine {mid[1]:.2f} s, "
          f"network {mid[2]:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
