"""Seeds vectorised against one run after another, and sweeps on a pool or Dask against serial.

    python benchmarks/bench_sweep.py [--rounds 3] [--quick] [--no-dask]

Each comparison runs its two sides alternately (A B, then B A, ...) for ``--rounds`` rounds, so
a busy machine slows both alike; it prints the median seconds of each side, the ratio of the
medians and, in brackets, the spread (min-max) of the per-round ratios. BLAS is held to one
thread everywhere (the pool's and Dask's workers too). The load average is printed before and
after, because this machine is shared.

1. K = 32 seeds of XOR 2-8-1 (200 points, full batch, tanh/sigmoid, bce): one StackedTrainer
   against 32 separate ``Experiment.build`` + ``Trainer.run`` (float64, and float32 too).
   Also the 4-row XOR table (3-8-1), where a step is nearly all Python overhead.
2. 32 seeds of the spiral 2-10x64-1 (batch 10, Adam, tanh), the same way.
3. A 3x3 grid (lr x hidden) x 10 seeds of XOR: the local process pool (one worker per core,
   started inside the timing) against the cells one after another in this process.
4. The same sweep on a Dask LocalCluster (2 worker processes, 1 thread each, started before the
   timing, as an existing cluster would be) against the local pool.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from threadpoolctl import threadpool_limits

from nnbench.engine import LayerSpec, NetworkSpec, TrainConfig
from nnbench.experiment import Experiment
from nnbench.sweep import LocalExecutor, SerialExecutor, Sweep, parse_grid, run_sweep, stacked_trainer


def xor(dtype: str = "float64", epochs: int = 200) -> Experiment:
    spec = NetworkSpec(2, (LayerSpec(8, "tanh"), LayerSpec(1, "sigmoid")), dtype=dtype)
    source = {"kind": "generator", "name": "xor", "n": 200, "noise": 0.0, "test_fraction": 0.0, "seed": 0}
    return Experiment("xor-2-8-1", "", "", source, spec, TrainConfig(loss="bce", lr=0.1, epochs=epochs))


def xor_table(dtype: str = "float64", epochs: int = 1000) -> Experiment:
    """The 4-row XOR table (with its bias column), 3-8-1: a step is almost all Python overhead."""
    spec = NetworkSpec(3, (LayerSpec(8, "tanh"), LayerSpec(1, "sigmoid")), dtype=dtype)
    return Experiment("xor-table-3-8-1", "", "", {"kind": "table", "name": "xor3"}, spec,
                      TrainConfig(loss="bce", lr=0.5, epochs=epochs))


def spiral(dtype: str = "float64", epochs: int = 3) -> Experiment:
    spec = NetworkSpec(2, (*(LayerSpec(64, "tanh") for _ in range(10)), LayerSpec(1, "sigmoid")), dtype=dtype)
    source = {"kind": "generator", "name": "spiral", "n": 200, "seed": 0}
    return Experiment("spiral-10x64", "", "", source, spec,
                      TrainConfig(loss="bce", optimizer="adam", lr=0.01, batch_size=10, epochs=epochs))


def vectorised(exp: Experiment, k: int) -> float:
    ds = exp.make_dataset()
    start = time.perf_counter()
    trainer = stacked_trainer(exp, range(k), ds)
    trainer.run(exp.training.epochs)
    return time.perf_counter() - start


def sequential(exp: Experiment, k: int) -> float:
    ds = exp.make_dataset()
    start = time.perf_counter()
    for seed in range(k):
        _, _, trainer = exp.replace(net_seed=seed).with_training(seed=seed).build(ds)
        trainer.run(exp.training.epochs)
    return time.perf_counter() - start


def paired(name: str, a_name: str, a, b_name: str, b, rounds: int) -> None:
    """Alternate a and b; print medians, the ratio b/a of the medians and the per-round spread."""
    times: dict[str, list[float]] = {a_name: [], b_name: []}
    for r in range(rounds):
        order = [(a_name, a), (b_name, b)] if r % 2 == 0 else [(b_name, b), (a_name, a)]
        for label, fn in order:
            times[label].append(fn())
    ratios = [tb / ta for ta, tb in zip(times[a_name], times[b_name], strict=True)]
    ma, mb = statistics.median(times[a_name]), statistics.median(times[b_name])
    print(f"{name}: {a_name} {ma:.3f} s, {b_name} {mb:.3f} s -> {b_name}/{a_name} = {mb / ma:.2f}x "
          f"(per round {min(ratios):.2f}-{max(ratios):.2f}, {rounds} rounds)", flush=True)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    p.add_argument("--no-dask", action="store_true")
    p.add_argument("--only", choices=("seeds", "pool", "dask"), help="run one part")
    args = p.parse_args()
    rounds = 1 if args.quick else args.rounds
    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "-", load(), flush=True)
    k = 32
    with threadpool_limits(limits=1, user_api="blas"):
        for dtype in ("float64", "float32") if args.only in (None, "seeds") else ():
            e = xor(dtype, 20 if args.quick else 200)
            paired(f"XOR 2-8-1, K={k}, {e.training.epochs} epochs, {dtype}", "vectorised",
                   lambda e=e: vectorised(e, k), "sequential", lambda e=e: sequential(e, k), rounds)
        if args.only in (None, "seeds"):
            e = xor_table("float64", 100 if args.quick else 1000)
            paired(f"XOR table 3-8-1 (4 rows), K={k}, {e.training.epochs} epochs, float64", "vectorised",
                   lambda e=e: vectorised(e, k), "sequential", lambda e=e: sequential(e, k), rounds)
        for dtype in ("float64", "float32") if args.only in (None, "seeds") else ():
            e = spiral(dtype, 1 if args.quick else 3)
            paired(f"spiral 2-10x64-1 batch 10 Adam, K={k}, {e.training.epochs} epochs, {dtype}",
                   "vectorised", lambda e=e: vectorised(e, k), "sequential", lambda e=e: sequential(e, k),
                   rounds)

    grid = parse_grid(["lr=0.03,0.1,0.3", "hidden=4,8,16"])
    epochs = 30 if args.quick else 300
    sweep = Sweep(xor("float64", epochs), grid, tuple(range(10)), epochs)

    def timed(executor) -> float:
        start = time.perf_counter()
        rows = run_sweep(sweep, executor)
        assert len(rows) == 90
        return time.perf_counter() - start

    if args.only in (None, "pool"):
        with threadpool_limits(limits=1, user_api="blas"):
            paired("3x3 grid x 10 seeds, XOR 2-8-1, 300 epochs", "local pool",
                   lambda: timed(LocalExecutor()), "serial", lambda: timed(SerialExecutor()), rounds)
    if not args.no_dask and args.only in (None, "dask"):
        try:
            import distributed
        except ImportError:
            print("Dask: not installed (pip install -e '.[cluster]'); skipped")
        else:
            from nnbench.sweep import DaskExecutor

            with distributed.LocalCluster(n_workers=os.cpu_count() or 2, threads_per_worker=1, processes=True,
                                          dashboard_address=None, silence_logs=50) as cluster, \
                    distributed.Client(cluster) as client:
                paired("the same sweep", "local pool", lambda: timed(LocalExecutor()), "Dask LocalCluster",
                       lambda: timed(DaskExecutor(client=client)), rounds)
    print("after:", load())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
