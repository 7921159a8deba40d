"""Time nnbench's engine against PyTorch CPU (when importable) on the same work, same threads.

    python benchmarks/bench_engine.py [--quick] [--threads 1,2] [--no-torch]
    nnbench bench                      (the same)

Cases: MNIST-shaped synthetic data (60,000 x 784 float32, 10 classes from a random linear
teacher) through 784-128-10 and 784-512-256-10 ReLU MLPs, softmax cross-entropy, plain SGD, batch
128, one epoch = 469 steps; and the tiny 2-8-1 tanh/sigmoid XOR net, 10,000 full-batch steps on
200 points. Each figure is the best of a few interleaved rounds, so another busy process on
the machine disturbs the comparison as little as it can; the ratio is ours / torch.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from nnbench.data import generate
from nnbench.engine import Network, NetworkSpec, TrainConfig, Trainer

N_TRAIN, BATCH, TINY_STEPS = 60_000, 128, 10_000
STEPS_PER_EPOCH = -(-N_TRAIN // BATCH)  # 469: the last batch holds 96 rows
CASE_BUDGET = 9.0  # seconds one case may take before it stops repeating
MLPS = {"784-128-10": [784, 128, 10], "784-512-256-10": [784, 512, 256, 10]}


def mnist_like(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pixels in [0, 1) and labels a random linear teacher gives them: learnable, like digits."""
    rng = np.random.default_rng(seed)
    x = rng.random((N_TRAIN, 784), dtype=np.float32)
    labels = np.argmax((x - 0.5) @ rng.standard_normal((784, 10)).astype(np.float32), axis=1)
    return x, labels


def xor_points() -> tuple[np.ndarray, np.ndarray]:
    ds = generate("xor", n=200, noise=0.0, test_fraction=0.0, seed=0)
    return ds.x_train.astype(np.float32), ds.y_train.astype(np.float32)


# ---- our engine ------------------------------------------------------------------------------------


def ours_mlp(sizes: list[int], x: np.ndarray, labels: np.ndarray) -> Callable[[int], float]:
    y = np.eye(10, dtype=np.float32)[labels]
    spec = NetworkSpec.mlp(sizes, "relu", "softmax", init="he", dtype="float32")
    net = Network(spec, np.random.default_rng(0))
    config = TrainConfig(loss="cross_entropy", optimizer="sgd", lr=0.05, batch_size=BATCH, seed=0)
    trainer = Trainer(net, config, x, y, classification=True)
    steps = trainer.steps()

    def run(n_steps: int) -> float:
        start = time.perf_counter()
        for _ in range(n_steps):
            s = next(steps)
        elapsed = time.perf_counter() - start
        assert np.isfinite(s.loss)
        return elapsed

    return run


def ours_tiny(x: np.ndarray, y: np.ndarray) -> Callable[[int], float]:
    net = Network(NetworkSpec.mlp([2, 8, 1], "tanh", "sigmoid", dtype="float32"), np.random.default_rng(0))
    trainer = Trainer(net, TrainConfig(loss="bce", optimizer="sgd", lr=0.5, batch_size=0, seed=0), x, y)
    steps = trainer.steps()

    def run(n_steps: int) -> float:
        start = time.perf_counter()
        for _ in range(n_steps):
            next(steps)
        return time.perf_counter() - start

    return run


# ---- PyTorch, written the way its tutorials train ---------------------------------------------------


def torch_mlp(torch, sizes: list[int], x: np.ndarray, labels: np.ndarray) -> Callable[[int], float]:
    torch.manual_seed(0)
    layers = []
    for a, b in zip(sizes, sizes[1:], strict=False):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)
    state = {"order": torch.randperm(N_TRAIN), "at": 0}

    def run(n_steps: int) -> float:
        start = time.perf_counter()
        for _ in range(n_steps):
            if state["at"] >= N_TRAIN:
                state["order"], state["at"] = torch.randperm(N_TRAIN), 0
            idx = state["order"][state["at"] : state["at"] + BATCH]
            state["at"] += BATCH
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        elapsed = time.perf_counter() - start
        assert torch.isfinite(loss).item()
        return elapsed

    return run


def torch_tiny(torch, x: np.ndarray, y: np.ndarray) -> Callable[[int], float]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def run(n_steps: int) -> float:
        start = time.perf_counter()
        for _ in range(n_steps):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xt), yt).backward()
            opt.step()
        return time.perf_counter() - start

    return run


# ---- measuring -------------------------------------------------------------------------------------


def best_of(runners: dict[str, Callable[[int], float]], steps: int, repeats: int,
            budget: float = CASE_BUDGET) -> tuple[dict[str, float], int]:
    """Seconds for ``steps`` steps, best of up to ``repeats`` rounds (at least two unless the
    caller asks for one), the runners interleaved in each round; stops early once a case has
    used ``budget`` seconds, so the whole run stays under two minutes on a busy machine."""
    for run in runners.values():
        run(max(steps // 20, 5))  # warm-up: buffers, caches, thread pools
    best = {name: float("inf") for name in runners}
    start, rounds = time.perf_counter(), 0
    while rounds < repeats:
        for name, run in runners.items():
            best[name] = min(best[name], run(steps))
        rounds += 1
        if rounds >= min(2, repeats) and time.perf_counter() - start > budget:
            break
    return best, rounds


def blas_kernel() -> str:
    parts = []
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            api, version, arch = info.get("internal_api"), info.get("version"), info.get("architecture")
            parts.append(f"{api} {version} kernel {arch}")
    core = os.environ.get("OPENBLAS_CORETYPE")
    parts.append(f"OPENBLAS_CORETYPE={core}" if core else "OPENBLAS_CORETYPE unset")
    return ", ".join(parts)


def main(threads: list[int] | None = None, quick: bool = False, torch: bool = True) -> int:
    threads = threads or [1, 2]
    torch_mod = None
    if torch:
        try:
            import torch as torch_mod
        except ImportError:
            print("PyTorch is not installed: timing our engine only (pip install 'nnbench[bench]')")
    repeats = 1 if quick else 4
    epoch_steps = 60 if quick else STEPS_PER_EPOCH
    tiny_steps = 1000 if quick else TINY_STEPS
    print(f"nnbench engine benchmark: numpy {np.__version__}, {blas_kernel()}, {os.cpu_count()} CPUs"
          + (f", torch {torch_mod.__version__}" if torch_mod else ""))
    print(f"best of up to {repeats} interleaved rounds; MLP epoch = {STEPS_PER_EPOCH} steps of batch {BATCH}"
          + (f" (timed on {epoch_steps} steps, scaled)" if epoch_steps != STEPS_PER_EPOCH else "")
          + f"; tiny net {tiny_steps} full-batch steps")
    x, labels = mnist_like()
    xor_x, xor_y = xor_points()
    header = (f"{'threads':>7} {'case':<16} {'ours s/epoch':>12} {'torch s/epoch':>13} {'ours us/step':>12} "
              f"{'torch us/step':>13} {'ours/torch':>10} {'rounds':>6}")
    print(header)
    for n in threads:
        with threadpool_limits(limits=n):
            if torch_mod is not None:
                torch_mod.set_num_threads(n)
            cases = [(name, sizes) for name, sizes in MLPS.items()] + [("2-8-1 xor", None)]
            for name, sizes in cases:
                if sizes is None:
                    runners = {"ours": ours_tiny(xor_x, xor_y)}
                    if torch_mod is not None:
                        runners["torch"] = torch_tiny(torch_mod, xor_x, xor_y)
                    steps = tiny_steps
                else:
                    runners = {"ours": ours_mlp(sizes, x, labels)}
                    if torch_mod is not None:
                        runners["torch"] = torch_mlp(torch_mod, sizes, x, labels)
                    steps = epoch_steps
                best, rounds = best_of(runners, steps, repeats)
                print(_row(n, name, best, steps) + f" {rounds:>6}", flush=True)
    return 0


def _row(n: int, name: str, best: dict[str, float], steps: int) -> str:
    per_step = {k: v / steps for k, v in best.items()}
    per_epoch = {k: v * STEPS_PER_EPOCH for k, v in per_step.items()}
    ours, theirs = per_step["ours"], per_step.get("torch")
    tiny = name.startswith("2-8-1")
    ours_epoch = "-" if tiny else f"{per_epoch['ours']:.3f}"
    torch_epoch = "-" if tiny or theirs is None else f"{per_epoch['torch']:.3f}"
    torch_step = "-" if theirs is None else f"{theirs * 1e6:.1f}"
    ratio = "-" if theirs is None else f"{ours / theirs:.2f}"
    cells = [f"{n:>7}", f"{name:<16}", f"{ours_epoch:>12}", f"{torch_epoch:>13}", f"{ours * 1e6:>12.1f}",
             f"{torch_step:>13}", f"{ratio:>10}"]
    return " ".join(cells)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--no-torch", action="store_true")
    a = parser.parse_args()
    sys.exit(main([int(t) for t in a.threads.split(",")], a.quick, not a.no_torch))
