"""Training inside the window against headless, and how responsive the window stays.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py [--seconds 5]

For each case the same network and data train (1) headless with ``Trainer.steps()`` and (2) in
the app: a shown MainWindow whose Session trains on its engine thread and redraws live. It
prints steps per second for both, the ratio app/headless, frames drawn, and the latency of a
10 ms QTimer on the GUI thread (p50 / p99) while training runs. BLAS is pinned to 1 thread, as
the app does.
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


def run_until(app: QApplication, condition, timeout: float = 60.0) -> None:
    """Run a real event loop (a Python busy-loop would itself fight for the GIL) until
    ``condition()`` holds."""
    loop = QEventLoop()
    poll = QTimer()
    poll.timeout.connect(lambda: (condition() or time.perf_counter() > limit) and loop.quit())
    limit = time.perf_counter() + timeout
    poll.start(5)
    loop.exec()
    poll.stop()


def in_app(app: QApplication, ds: Dataset, hidden, settings, seconds: float) -> dict:
    window = MainWindow()
    window.ask_before_losing_work = False  # a benchmark: nothing to save when it closes
    window.resize(1400, 900)
    window.show()
    s = window.session
    done = {"ready": False}
    s.spec_changed.connect(lambda _: done.__setitem__("ready", True))
    s.set_dataset(ds)
    run_until(app, lambda: done["ready"])
    s.set_hidden(hidden)
    s.set_config(**settings)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    run_until(app, lambda: not s.busy)
    start_step = s.worker.trainer.step_count
    for key in s.worker.timing:
        s.worker.timing[key] = 0.0
    frames0 = window.plots_panel.frames_drawn
    timer.start(10)
    s.train()
    start = time.perf_counter()
    end = start + seconds
    run_until(app, lambda: time.perf_counter() >= end)
    steps = s.worker.trainer.step_count - start_step  # read once; the thread keeps going
    elapsed = time.perf_counter() - start
    timing = {k: v / elapsed for k, v in s.worker.timing.items()}
    timer.stop()
    window.close()
    g = np.array(gaps[5:]) * 1000
    return {"rate": steps / elapsed, "frames": window.plots_panel.frames_drawn - frames0,
            "p50": float(np.percentile(g, 50)), "p99": float(np.percentile(g, 99)), "max": float(g.max()),
            "timing": timing}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    threadpool_limits(limits=1, user_api="blas")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure_pyqtgraph()
    print(f"{'case':38} {'headless steps/s':>17} {'app steps/s':>12} {'app/headless':>13} "
          f"{'frames/s':>9} {'timer p50':>10} {'timer p99':>10} {'timer max':>10}")
    for name, (make, hidden, settings) in CASES.items():
        ds = make()
        base = headless(ds, hidden, settings, args.seconds)
        r = in_app(app, ds, hidden, settings, args.seconds)
        print(f"{name:38} {base:17,.0f} {r['rate']:12,.0f} {r['rate'] / base:13.2f} "
              f"{r['frames'] / args.seconds:9.1f} {r['p50']:8.1f}ms {r['p99']:8.1f}ms {r['max']:8.1f}ms",
              flush=True)
        print("    engine thread's time: " + ", ".join(f"{k} {v:.0%}" for k, v in r["timing"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
