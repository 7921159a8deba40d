"""What keeping checkpoints costs training, and how fast the timeline redraws.

    python benchmarks/bench_history.py [--rounds 7] [--seconds 4]
    python benchmarks/bench_history.py --redraw        (the window side, offscreen Qt)

Training: three benches play the same experiment side by side, one keeping checkpoints (the
default 256 MB budget), one keeping them and writing them to a runs journal on disk as the
window's engine does (nnbench.journal), one keeping none (budget 0), trained in turn in 50 ms
slices of ``advance`` as the engine process trains; the figures are the paired ratios of their
speeds (without / with): median and spread over the rounds. It also prints the time spent copying
checkpoints as a share of the training time, which is the cost itself, measured directly.
Cases: 784-128-10 ReLU on MNIST-shaped data (60,000 x 784 uint8, batch 100, SGD) and the
2-10x64-1 tanh spiral (batch 10, Adam). BLAS on one thread, as in the engine process.
The machine's load (uptime) is printed before and after.

Redraw: a window on the 10x64 spiral after 60 epochs; each timeline move asks the engine for
the checkpoint, evaluates it on the view grid and draws every view: the time from the click
to the frame drawn, median and spread.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from nnbench import commands as cmd
from nnbench.bench import Bench
from nnbench.data import Dataset
from nnbench.engine import LayerSpec, TrainConfig
from nnbench.history import Checkpoint

SPIRAL = {"kind": "generator", "name": "spiral", "n": 200, "seed": 0}


def mnist_shaped(n: int = 70_000) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 784), dtype=np.uint8)
    labels = np.argmax((x[:, ::7] / 255.0 - 0.5) @ rng.standard_normal((112, 10)), axis=1)
    y = np.eye(10)[labels]
    return Dataset("mnist-shaped", "classification", x[:60_000], y[:60_000], x[60_000:], y[60_000:],
                   tuple(f"p{i}" for i in range(784)), tuple(map(str, range(10))),
                   source={"kind": "synthetic"}, x_scale=1 / 255, image_shape=(28, 28))


def make_bench(case: str, keep: bool) -> Bench:
    bench = Bench()
    if case == "mnist":
        config = TrainConfig(loss="cross_entropy", optimizer="sgd", lr=0.05, batch_size=100, epochs=0)
        bench.apply(cmd.SwitchData(dataset=mnist_shaped(), hidden=(LayerSpec(128, "relu"),), config=config))
    else:
        config = TrainConfig(loss="bce", optimizer="adam", lr=0.01, batch_size=10, epochs=0)
        bench.apply(cmd.SwitchData(source=SPIRAL, hidden=tuple(LayerSpec(64, "tanh") for _ in range(10)),
                                   config=config))
    if not keep:
        bench.apply(cmd.SetCheckpointBudget(0))
    return bench


def timed_epochs(bench: Bench, epochs: int) -> float:
    bench.apply(cmd.Step(epochs))
    t0 = time.perf_counter()
    stopped = bench.run_until_stopped()
    assert stopped == [cmd.Stopped("step")], stopped
    return time.perf_counter() - t0


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def training(rounds: int, seconds: float) -> None:
    """Both benches play, as the engine process plays them: ``advance`` in slices of 50 ms,
    the two in turn (the one that goes first alternates), so the machine's slow drifts (it is
    shared) fall on both alike. A round gives each bench ``seconds``; its ratio is the speed
    without checkpoints over the speed with them (steps per second), so above 1 is a cost."""
    import tempfile

    for case in ("spiral", "mnist"):
        without, with_ = make_bench(case, False), make_bench(case, True)
        journaled = make_bench(case, True)
        folder = tempfile.mkdtemp(prefix="nnbench-bench-journal-")
        journaled.apply(cmd.UseJournal(folder))  # as the window's engine keeps them: on disk too
        benches = (without, with_, journaled)
        for b in benches:
            timed_epochs(b, 1)  # warm-up: caches, first allocations
            b.apply(cmd.Play())
        ratios, ratios_j, rates = [], [], {id(b): [] for b in benches}
        copy0 = {id(b): b.runs.copy_seconds for b in benches}
        trained = {id(b): 0.0 for b in benches}
        for r in range(rounds):
            spent = {id(b): 0.0 for b in benches}
            steps = {id(b): 0 for b in benches}
            i = 0
            while min(spent.values()) < seconds:
                k = (r + i) % 3
                i += 1
                for b in benches[k:] + benches[:k]:  # who goes first rotates
                    s0, t0 = b.trainer.step_count, time.perf_counter()
                    assert b.advance(0.05) == []
                    spent[id(b)] += time.perf_counter() - t0
                    steps[id(b)] += b.trainer.step_count - s0
            for b in benches:
                rates[id(b)].append(steps[id(b)] / spent[id(b)])
                trained[id(b)] += spent[id(b)]
            ratios.append(rates[id(without)][-1] / rates[id(with_)][-1])
            ratios_j.append(rates[id(without)][-1] / rates[id(journaled)][-1])
        info = with_.apply(cmd.ListRuns())[0]
        info_j = journaled.apply(cmd.ListRuns())[0]
        one = Checkpoint.of(with_.trainer)
        t0 = time.perf_counter()
        for _ in range(20):
            Checkpoint.of(with_.trainer)
        copy_ms = (time.perf_counter() - t0) / 20 * 1000
        share = (with_.runs.copy_seconds - copy0[id(with_)]) / trained[id(with_)]
        share_j = (journaled.runs.copy_seconds - copy0[id(journaled)]) / trained[id(journaled)]
        on_disk = sum(f.stat().st_size for f in os.scandir(folder) if f.is_file())
        r, rj = np.array(ratios), np.array(ratios_j)
        print(f"{case}: {rounds} rounds of {seconds:g} s each, in 50 ms slices in turn, "
              f"epochs 1-{with_.epoch}; "
              f"speed without / with checkpoints: median {np.median(r):.3f} "
              f"(spread {r.min():.3f}-{r.max():.3f}); "
              f"without / with checkpoints and the journal on disk: median {np.median(rj):.3f} "
              f"(spread {rj.min():.3f}-{rj.max():.3f}); "
              f"median steps/s: {np.median(rates[id(without)]):,.0f} without, "
              f"{np.median(rates[id(with_)]):,.0f} with, {np.median(rates[id(journaled)]):,.0f} journaled; "
              f"{len(info.checkpoints)} checkpoints kept ({len(info_j.checkpoints)} journaled, "
              f"{on_disk / 2**20:.1f} MiB on disk), {one.nbytes / 2**20:.2f} MiB and "
              f"{copy_ms:.2f} ms each; "
              f"time spent keeping checkpoints: {100 * share:.2f} % of the training time in memory, "
              f"{100 * share_j:.2f} % with the journal")
        print(f"    checkpoint epochs: {info.checkpoints}")
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def redraw(rounds: int) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from nnbench.ui.app import configure_pyqtgraph
    from nnbench.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    configure_pyqtgraph()

    def run_until(condition, timeout: float = 60.0) -> None:
        loop, poll = QEventLoop(), QTimer()
        limit = time.perf_counter() + timeout
        poll.timeout.connect(lambda: (condition() or time.perf_counter() > limit) and loop.quit())
        poll.start(1)
        loop.exec()
        poll.stop()

    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    s = window.session
    s.set_hidden(tuple(LayerSpec(64, "tanh") for _ in range(10)))
    s.set_source(SPIRAL)
    run_until(lambda: s.spec is not None and not s.busy)
    s.set_hidden(tuple(LayerSpec(64, "tanh") for _ in range(10)))
    s.set_config(optimizer="adam", lr=0.01, batch_size=10, epochs=60)
    run_until(lambda: not s.busy)
    costs: list[float] = []
    s.frame.connect(lambda _f: costs.append(s.worker.gui_cost))  # the previous live frame's draw
    eval0, read0 = s.worker.timing["frame_eval"], s.worker.timing["frames_read"]
    s.train()
    run_until(lambda: s.epoch >= 60 and not s.running, timeout=300)
    live_eval = (s.worker.timing["frame_eval"] - eval0) / max(s.worker.timing["frames_read"] - read0, 1)
    live_draw = float(np.median(costs[2:])) if len(costs) > 3 else float("nan")
    timeline = window.timeline
    run_until(lambda: len(timeline.epochs) > 10)
    times, stages = [], []
    shown = [0]
    timeline.shown.connect(lambda _e: shown.__setitem__(0, shown[0] + 1))
    run_until(lambda: not s.busy)
    for i in range(rounds):
        timeline._seen_cache.clear()  # every move asks the engine: the first visit's cost
        for epoch in timeline.epochs:
            before = shown[0]
            t0 = time.perf_counter()
            timeline.show_epoch(epoch)
            run_until(lambda b=before: shown[0] > b, timeout=10)
            times.append(time.perf_counter() - t0)
            t = timeline.timing
            stages.append((t["answered"] - t["asked"], t["evaluated"] - t["answered"],
                           t["drawn"] - t["evaluated"]))
        if i == 0:
            times, stages = [], []  # the first pass warms the caches
    t = np.array(times) * 1000
    print(f"timeline redraw, 2-10x64-1 spiral, {len(timeline.epochs)} checkpoints x {rounds - 1} passes: "
          f"median {np.median(t):.1f} ms, p90 {np.percentile(t, 90):.1f} ms, "
          f"spread {t.min():.1f}-{t.max():.1f} ms")
    st = np.array(stages) * 1000
    print("    of which (median ms): engine answers the Seek {:.1f}, frame evaluated {:.1f}, every view "
          "drawn {:.1f}".format(*np.median(st, axis=0)))
    print(f"    a live frame of the same network while training, same window: evaluated "
          f"{1000 * live_eval:.1f} ms "
          f"(mean), drawn {1000 * live_draw:.1f} ms (median of {len(costs)})")
    window.ask_before_losing_work = False  # trained, so modified: the unsaved-work prompt would wait forever
    window.close()
    app.processEvents()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=4.0, help="training time per round and bench")
    parser.add_argument("--redraw", action="store_true", help="time the timeline in a window instead")
    args = parser.parse_args()
    print(f"load before: {load()}")
    with threadpool_limits(limits=1, user_api="blas"):
        if args.redraw:
            redraw(args.rounds)
        else:
            training(args.rounds, args.seconds)
    print(f"load after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
