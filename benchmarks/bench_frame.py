"""What one frame of the 10x64 spiral costs the GUI thread, part by part.

    DISPLAY=:91 QT_QPA_PLATFORM=xcb python benchmarks/bench_frame.py [--frames 60]

A shown 1280x800 window trains the spiral with 10 hidden tanh layers of 64 neurons (Adam,
batch 10) for a moment; then, with training paused, it replays frames taken at two different
moments of that run, alternating so that every frame really changes the connections and the
heatmaps. For each frame it times, on the GUI thread: the diagram's update, the plots' update,
and the paint that follows (delivered at once, as Session does while the engine waits). It
prints the median and the spread (p10-p90, worst) of each, interleaved frame by frame. A 10 ms
QTimer's latency is then measured while the window trains live, as benchmarks/bench_gui.py does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QCoreApplication, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from nnbench.engine import LayerSpec  # noqa: E402
from nnbench.ui.app import configure_pyqtgraph  # noqa: E402
from nnbench.ui.main_window import MainWindow  # noqa: E402


def run_until(app: QApplication, condition, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("timed out")
        app.processEvents()


def spread(name: str, ms: list[float]) -> str:
    a = np.array(ms)
    return (
        f"{name:>10}: median {np.median(a):6.2f} ms   p10-p90 {np.percentile(a, 10):6.2f}-"
        f"{np.percentile(a, 90):6.2f}   worst {a.max():6.2f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--seconds", type=float, default=5.0, help="live run for the timer latency")
    args = ap.parse_args()
    threadpool_limits(limits=1, user_api="blas")
    app = QApplication(sys.argv[:1])
    configure_pyqtgraph()
    window = MainWindow()
    window.ask_before_losing_work = False  # a benchmark: nothing to save when it closes
    window.resize(1280, 800)
    window.show()
    s = window.session
    window.dataset_panel.select("generator", "spiral")
    run_until(app, lambda: s.dataset is not None and s.dataset.name.startswith("spiral") and not s.busy)
    s.set_hidden(tuple(LayerSpec(64, "tanh") for _ in range(10)))
    s.set_config(optimizer="adam", lr=0.01, batch_size=10)
    run_until(app, lambda: not s.busy and len(s.spec.hidden) == 10)
    frames = []
    seen = []
    s.frame.connect(seen.append)
    for _ in range(2):
        s.step()
        n = len(seen)
        run_until(app, lambda n=n: len(seen) > n and not s.running)
        frames.append(seen[-1])
    s.frame.disconnect(seen.append)

    parts = {"diagram": [], "plots": [], "paint": [], "total": []}
    view, plots = window.network_view, window.plots_panel
    for k in range(args.frames):
        frame = frames[k % 2]
        t0 = time.perf_counter()
        view._on_frame(frame)
        t1 = time.perf_counter()
        plots.show_frame(frame)
        window._on_frame(frame)
        t2 = time.perf_counter()
        QCoreApplication.sendPostedEvents()
        QCoreApplication.sendPostedEvents()
        t3 = time.perf_counter()
        for name, dt in (("diagram", t1 - t0), ("plots", t2 - t1), ("paint", t3 - t2), ("total", t3 - t0)):
            parts[name].append(1000 * dt)
        app.processEvents()
    print(
        f"one frame of the 10x64 spiral on the GUI thread ({args.frames} frames, "
        f"{QApplication.platformName()}, window {window.width()}x{window.height()}):"
    )
    for name, ms in parts.items():
        print(spread(name, ms))

    # Live: a 10 ms timer's lateness while the window trains.
    lat: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lat.append(1000 * (now - last[0]))
        last[0] = now

    drawn = [0]
    s.frame.connect(lambda _f: drawn.__setitem__(0, drawn[0] + 1))
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    s.train()
    run_until(app, lambda: s.running)
    timer.start()
    last[0] = time.perf_counter()
    end = time.monotonic() + args.seconds
    run_until(app, lambda: time.monotonic() > end, args.seconds + 10)
    timer.stop()
    s.pause()
    run_until(app, lambda: not s.running)
    a = np.array(lat)
    print(
        f"live {args.seconds:g} s: {drawn[0] / args.seconds:.1f} frames/s; 10 ms timer p50 "
        f"{np.median(a):.1f} / p99 {np.percentile(a, 99):.1f} / worst {a.max():.1f} ms"
    )
    window.close()
    run_until(app, lambda: not s.thread.isRunning())
    return 0


if __name__ == "__main__":
    sys.exit(main())
