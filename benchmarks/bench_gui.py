"""Training inside the window against headless, and how responsive the window stays.

    QT_QPA_PLATFORM=xcb DISPLAY=:99 python benchmarks/bench_gui.py [--seconds 4] [--rounds 3]

For each case the same network and data train (1) headless with ``Trainer.steps()`` and (2) in
the app: a shown 1400x900 MainWindow whose engine process trains while the window redraws live.
Headless and app runs alternate (round-robin, ``--rounds`` times) so that a busy machine slows
both alike; the table gives medians and, in brackets, the spread (min-max) of app/headless.
Columns: steps per second both ways, their ratio, frames drawn per second, and the latency of
a 10 ms QTimer on the GUI thread (p50 / p99 / max) while training runs. BLAS is pinned to one
thread in both processes, as the app does. It also prints what starting an engine costs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from nnbench.data import Dataset, generate  # noqa: E402
from nnbench.engine import LayerSpec, Network, NetworkSpec, TrainConfig, Trainer  # noqa: E402
from nnbench.ui.app import configure_pyqtgraph  # noqa: E402
from nnbench.ui.main_window import MainWindow  # noqa: E402


def mnist_shaped(n: int = 6000) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 784), dtype=np.uint8)
    labels = np.argmax((x / 255.0 - 0.5) @ rng.standard_normal((784, 10)), axis=1)
    y = np.eye(10)[labels]
    return Dataset("mnist-shaped", "classification", x[:5000], y[:5000], x[5000:], y[5000:],
                   tuple(f"p{i}" for i in range(784)), tuple(map(str, range(10))),
                   source={"kind": "synthetic"}, x_scale=1 / 255, image_shape=(28, 28))


CASES = {
    # name: (dataset, hidden layers, training settings)
    "xor 2-8-1, full batch": (lambda: generate("xor", n=200, seed=0), (LayerSpec(8, "tanh"),),
                              dict(loss="bce", lr=0.1, batch_size=0)),
    "spiral 2-10x64-1, batch 10": (lambda: generate("spiral", n=200, seed=0),
                                   tuple(LayerSpec(64, "tanh") for _ in range(10)),
                                   dict(loss="bce", lr=0.01, optimizer="adam", batch_size=10)),
    "mnist-shaped 784-128-10, batch 128": (mnist_shaped, (LayerSpec(128, "relu"),),
                                           dict(loss="cross_entropy", lr=0.05, batch_size=128)),
}


def headless(ds: Dataset, hidden, settings, seconds: float) -> float:
    units = ds.n_outputs
    out = "softmax" if units > 1 else "sigmoid"
    spec = NetworkSpec(ds.n_features, (*hidden, LayerSpec(units, out)), "xavier",
                       "float32" if ds.x_train.dtype == np.uint8 else "float64")
    trainer = Trainer(Network(spec), TrainConfig(**settings), ds.x_train, ds.y_train, ds.x_test, ds.y_test,
                      x_scale=ds.x_scale, classification=True)
    steps = trainer.steps()
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds:
        next(steps)
        n += 1
    return n / (time.perf_counter() - start)


def run_until(condition, timeout: float = 60.0, poll_ms: int = 2) -> None:
    """Run a real event loop until ``condition()`` holds, looking every ``poll_ms``."""
    loop = QEventLoop()
    poll = QTimer()
    limit = time.perf_counter() + timeout
    poll.timeout.connect(lambda: (condition() or time.perf_counter() > limit) and loop.quit())
    poll.start(poll_ms)
    loop.exec()
    poll.stop()


def status(s) -> dict:
    got: list[dict] = []
    s.status(got.append)
    run_until(lambda: bool(got))
    got[0]["at"] = time.perf_counter()
    return got[0]


def open_window() -> MainWindow:
    window = MainWindow()
    window.ask_before_losing_work = False  # a benchmark: nothing to save when it closes
    window.resize(1400, 900)
    window.show()
    return window


def in_app(window: MainWindow, ds: Dataset, hidden, settings, seconds: float) -> dict:
    s = window.session
    ready = {"spec": False}
    s.spec_changed.connect(lambda _: ready.__setitem__("spec", True))
    s.set_dataset(ds)
    run_until(lambda: ready["spec"] and not s.busy)
    s.set_hidden(hidden)
    s.set_config(**settings)
    run_until(lambda: not s.busy)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    before = status(s)
    xpid = x_server_pid()
    cpu0 = cpu_seconds(s.worker.pid), cpu_seconds(os.getpid()), cpu_seconds(xpid)
    frames0 = window.plots_panel.frames_drawn
    eval0 = s.worker.timing["frame_eval"]
    timer.start(10)
    s.train()
    # Looking every 50 ms: the window's own work is what is measured, not this loop's.
    run_until(lambda: time.perf_counter() >= before["at"] + seconds, timeout=seconds + 30, poll_ms=50)
    after = status(s)
    cpu1 = cpu_seconds(s.worker.pid), cpu_seconds(os.getpid()), cpu_seconds(xpid)
    timer.stop()
    s.pause()
    run_until(lambda: not s.running and not s.busy)
    elapsed = after["at"] - before["at"]
    g = np.array(gaps[5:]) * 1000
    return {"rate": (after["step"] - before["step"]) / elapsed,
            "fps": (window.plots_panel.frames_drawn - frames0) / elapsed,
            "p50": float(np.percentile(g, 50)), "p99": float(np.percentile(g, 99)), "max": float(g.max()),
            "engine_cpu": (cpu1[0] - cpu0[0]) / elapsed, "window_cpu": (cpu1[1] - cpu0[1]) / elapsed,
            "x_cpu": (cpu1[2] - cpu0[2]) / elapsed,
            "eval_ms": 1000 * (s.worker.timing["frame_eval"] - eval0)
            / max(window.plots_panel.frames_drawn - frames0, 1)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def x_server_pid() -> int:
    """The pid of the Xvfb serving $DISPLAY, or 0."""
    display = os.environ.get("DISPLAY", "")
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"Xvfb") and display.encode() in argv:
                return int(entry)
    return 0


def startup_costs(rounds: int) -> None:
    """Window shown and engine answering, measured from creating the MainWindow."""
    shown, ready = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        window = open_window()
        QApplication.processEvents()
        shown.append(time.perf_counter() - t0)
        up: list = []
        window.session.engine_ready.connect(up.append)
        run_until(lambda up=up: bool(up))
        ready.append(time.perf_counter() - t0)
        window.close()
    print(f"window shown {1000 * np.median(shown):.0f} ms, engine process answering after "
          f"{1000 * np.median(ready):.0f} ms (median of {rounds}; spread {1000 * min(ready):.0f}-"
          f"{1000 * max(ready):.0f} ms)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--case", action="append", help="only these cases (substring match)")
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="blas")
    app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841
    configure_pyqtgraph()
    startup_costs(args.rounds)
    print(f"{'case':38} {'headless steps/s':>17} {'app steps/s':>12} {'app/headless':>20} "
          f"{'frames/s':>9} {'timer p50':>10} {'timer p99':>10} {'timer max':>10} {'frame eval':>11} "
          f"{'engine CPU':>11} {'window CPU':>11} {'X CPU':>6}")
    for name, (make, hidden, settings) in CASES.items():
        if args.case and not any(c in name for c in args.case):
            continue
        ds = make()
        base, app_runs = [], []
        for _ in range(args.rounds):  # interleaved: headless, app, headless, app...
            base.append(headless(ds, hidden, settings, args.seconds))
            window = open_window()
            app_runs.append(in_app(window, ds, hidden, settings, args.seconds))
            window.close()
        ratios = [r["rate"] / b for r, b in zip(app_runs, base, strict=True)]

        def med(key: str, runs=app_runs) -> float:
            return float(np.median([r[key] for r in runs]))

        print(f"{name:38} {np.median(base):17,.0f} {med('rate'):12,.0f} "
              f"{np.median(ratios):6.2f} [{min(ratios):.2f}-{max(ratios):.2f}] "
              f"{med('fps'):9.1f} {med('p50'):8.1f}ms {med('p99'):8.1f}ms {med('max'):8.1f}ms "
              f"{med('eval_ms'):9.2f}ms {med('engine_cpu'):10.2f} {med('window_cpu'):10.2f} "
              f"{med('x_cpu'):6.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
