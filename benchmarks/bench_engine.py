"""Time nnbench's engine against a hand-written NumPy loop and PyTorch CPU on the same work.

    python benchmarks/bench_engine.py [--quick] [--threads 1,2] [--no-torch] [--no-memory]
    nnbench bench                      (the same)

MLPs: MNIST-shaped synthetic data (60,000 x 784 float32, 10 classes from a random linear
teacher) through 784-128-10 and 784-512-256-10 ReLU nets, softmax cross-entropy, SGD (lr 0.05)
and Adam (lr 1e-3), batch 128; an epoch is 469 steps, timed on a third of one and scaled.
Beside the SGD figures, the GEMM limit, two ways: a loop of only the step's matrix products
(same shapes and layouts) timed in the same rounds as the rest, and ("best") each product
timed alone at its exact shape, best of 30, summed.

Tiny nets, float64 as the window trains them: the tutorial's 3-4-1 sigmoid XOR table (SSE,
full batch), a 2-8-1 XOR net (BCE, full batch, 200 points) and the 2-10x64-1 spiral (BCE,
Adam, batch 10). Then Adam's epoch 1 against epoch 5 (float32 moments turning subnormal once
units die), and the peak memory of a 784-4096-4096-10 SGD run: the API, the CLI and the
hand-written loop, each in a process of its own.

The variants of a case run round-robin, a few rounds each, so another busy process on the
machine slows them alike; each figure is the median over rounds with the spread (min-max), and
each ratio is the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from nnbench.data import generate, table, write_idx
from nnbench.engine import LayerSpec, Network, NetworkSpec, TrainConfig, Trainer

N_TRAIN, BATCH = 60_000, 128
STEPS_PER_EPOCH = -(-N_TRAIN // BATCH)  # 469: the last batch holds 96 rows
MLPS = {"784-128-10": [784, 128, 10], "784-512-256-10": [784, 512, 256, 10]}
LR = {"sgd": 0.05, "adam": 1e-3}
CASE_BUDGET = 5.0  # seconds of rounds after which a case stops repeating (after 2 rounds)
Runner = Callable[[int], float]


def mnist_like(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pixels in [0, 1) and labels a random linear teacher gives them: learnable, like digits."""
    rng = np.random.default_rng(seed)
    x = rng.random((N_TRAIN, 784), dtype=np.float32)
    labels = np.argmax((x - 0.5) @ rng.standard_normal((784, 10)).astype(np.float32), axis=1)
    return x, labels


def _timed(step: Callable[[], object]) -> Runner:
    def run(n_steps: int) -> float:
        start = time.perf_counter()
        for _ in range(n_steps):
            step()
        return time.perf_counter() - start

    return run


# ---- our engine ------------------------------------------------------------------------------------


def ours_mlp(sizes: list[int], opt: str, x: np.ndarray, labels: np.ndarray) -> Runner:
    y = np.eye(10, dtype=np.float32)[labels]
    spec = NetworkSpec.mlp(sizes, "relu", "softmax", init="he", dtype="float32")
    net = Network(spec, np.random.default_rng(0))
    config = TrainConfig(loss="cross_entropy", optimizer=opt, lr=LR[opt], batch_size=BATCH, seed=0)
    steps = Trainer(net, config, x, y, classification=True).steps()
    return _timed(lambda: next(steps))


TINY = {
    # name: (dataset, hidden layers, output, bias, settings)
    "3-4-1 tutorial": (lambda: table("xor3"), (4,), "sigmoid", "sigmoid", False,
                       dict(loss="sse", optimizer="sgd", lr=1.0, batch_size=0)),
    "2-8-1 xor": (lambda: generate("xor", n=200, noise=0.0, test_fraction=0.0, seed=0), (8,), "tanh",
                  "sigmoid", True, dict(loss="bce", optimizer="sgd", lr=0.5, batch_size=0)),
    "2-10x64-1 spiral": (lambda: generate("spiral", n=200, seed=0), (64,) * 10, "tanh", "sigmoid", True,
                         dict(loss="bce", optimizer="adam", lr=0.01, batch_size=10)),
}


def tiny_data(name: str) -> tuple[np.ndarray, np.ndarray]:
    ds = TINY[name][0]()
    return np.ascontiguousarray(ds.x_train, np.float64), np.ascontiguousarray(ds.y_train, np.float64)


def ours_tiny(name: str) -> Runner:
    _, hidden, act, out, bias, settings = TINY[name]
    x, y = tiny_data(name)
    spec = NetworkSpec(x.shape[1], (*(LayerSpec(u, act, bias) for u in hidden), LayerSpec(1, out, bias)),
                       "xavier", "float64")
    steps = Trainer(Network(spec, np.random.default_rng(0)), TrainConfig(seed=0, **settings), x, y).steps()
    return _timed(lambda: next(steps))


# ---- the same work written by hand in NumPy, the way tutorials do it ---------------------------------


class HandAdam:
    """torch.optim.Adam's formula, one parameter array at a time."""

    def __init__(self, params: list[np.ndarray], lr: float, b1=0.9, b2=0.999, eps=1e-8) -> None:
        self.params, self.lr, self.b1, self.b2, self.eps, self.t = params, lr, b1, b2, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        b1, b2, t = self.b1, self.b2, self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= self.lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + self.eps)


def hand_mlp(sizes: list[int], opt: str, x: np.ndarray, labels: np.ndarray) -> Runner:
    rng = np.random.default_rng(0)
    Ws = [(rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32)
          for a, b in zip(sizes, sizes[1:], strict=False)]
    bs = [np.zeros(b, np.float32) for b in sizes[1:]]
    y = np.eye(10, dtype=np.float32)[labels]
    adam = HandAdam(Ws + bs, LR[opt]) if opt == "adam" else None
    lr = LR[opt]
    state = {"order": rng.permutation(N_TRAIN), "at": 0}

    def step() -> None:
        if state["at"] >= N_TRAIN:
            state["order"], state["at"] = rng.permutation(N_TRAIN), 0
        idx = state["order"][state["at"] : state["at"] + BATCH]
        state["at"] += BATCH
        xb, yb = x[idx], y[idx]
        acts = [xb]
        for i, (W, b) in enumerate(zip(Ws, bs, strict=False)):
            z = acts[-1] @ W + b
            acts.append(np.maximum(z, 0) if i < len(Ws) - 1 else z)
        z = acts[-1]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        _loss = -np.log(p[np.arange(len(yb)), labels[idx]] + 1e-12).mean()
        g = (p - yb) / len(yb)
        dWs, dbs = [None] * len(Ws), [None] * len(Ws)
        for i in range(len(Ws) - 1, -1, -1):
            dWs[i], dbs[i] = acts[i].T @ g, g.sum(axis=0)
            if i:
                g = (g @ Ws[i].T) * (acts[i] > 0)
        if adam is not None:
            adam.step(dWs + dbs)
        else:
            for W, b, dW, db in zip(Ws, bs, dWs, dbs, strict=False):
                W -= lr * dW
                b -= lr * db

    return _timed(step)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def hand_tiny(name: str) -> Runner:
    _, hidden, act, _, bias, settings = TINY[name]
    x, y = tiny_data(name)
    rng = np.random.default_rng(0)
    sizes = [x.shape[1], *hidden, 1]
    Ws = [rng.normal(0, np.sqrt(2 / (a + b)), (a, b)) for a, b in zip(sizes, sizes[1:], strict=False)]
    bs = [np.zeros(b) for b in sizes[1:]] if bias else []
    lr, batch, loss_name = settings["lr"], settings["batch_size"] or len(x), settings["loss"]
    adam = HandAdam(Ws + bs, lr) if settings["optimizer"] == "adam" else None
    f = np.tanh if act == "tanh" else _sigmoid
    losses: list[float] = []
    state = {"order": rng.permutation(len(x)), "at": 0}

    def step() -> None:
        if batch < len(x):
            if state["at"] >= len(x):
                state["order"], state["at"] = rng.permutation(len(x)), 0
            idx = state["order"][state["at"] : state["at"] + batch]
            state["at"] += batch
            xb, yb = x[idx], y[idx]
        else:
            xb, yb = x, y
        acts = [xb]
        for i, W in enumerate(Ws):
            z = acts[-1] @ W
            if bias:
                z += bs[i]
            acts.append(f(z) if i < len(Ws) - 1 else _sigmoid(z))
        out = acts[-1]
        if loss_name == "sse":
            err = out - yb
            losses.append(float(np.vdot(err, err)))
            g = 2.0 * err * out * (1.0 - out)
        else:
            losses.append(float(-np.mean(yb * np.log(out) + (1 - yb) * np.log(1 - out))))
            g = (out - yb) / len(yb)
        grads_W, grads_b = [None] * len(Ws), [None] * len(Ws)
        for i in range(len(Ws) - 1, -1, -1):
            grads_W[i] = acts[i].T @ g
            if bias:
                grads_b[i] = g.sum(axis=0)
            if i:
                a = acts[i]
                g = (g @ Ws[i].T) * ((1.0 - a * a) if act == "tanh" else a * (1.0 - a))
        if adam is not None:
            adam.step(grads_W + (grads_b if bias else []))
        else:
            for i, W in enumerate(Ws):
                W -= lr * grads_W[i]
                if bias:
                    bs[i] -= lr * grads_b[i]

    return _timed(step)


# ---- PyTorch, written the way its tutorials train ---------------------------------------------------


def torch_mlp(torch, sizes: list[int], opt: str, x: np.ndarray, labels: np.ndarray) -> Runner:
    torch.manual_seed(0)
    layers = []
    for a, b in zip(sizes, sizes[1:], strict=False):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    make = torch.optim.Adam if opt == "adam" else torch.optim.SGD
    optimizer = make(model.parameters(), lr=LR[opt])
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)
    state = {"order": torch.randperm(N_TRAIN), "at": 0}

    def step() -> None:
        if state["at"] >= N_TRAIN:
            state["order"], state["at"] = torch.randperm(N_TRAIN), 0
        idx = state["order"][state["at"] : state["at"] + BATCH]
        state["at"] += BATCH
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt[idx]), yt[idx])
        loss.backward()
        optimizer.step()
        loss.item()  # what a loop that records the loss waits for

    return _timed(step)


def torch_tiny(torch, name: str) -> Runner:
    _, hidden, act, out, bias, settings = TINY[name]
    x, y = tiny_data(name)
    torch.manual_seed(0)
    sizes = [x.shape[1], *hidden, 1]
    layers: list = []
    for a, b in zip(sizes, sizes[1:], strict=False):
        layers += [torch.nn.Linear(a, b, bias=bias, dtype=torch.float64),
                   torch.nn.Tanh() if act == "tanh" else torch.nn.Sigmoid()]
    sse = settings["loss"] == "sse"
    model = torch.nn.Sequential(*(layers if sse else layers[:-1]))  # BCE takes the logits
    make = torch.optim.Adam if settings["optimizer"] == "adam" else torch.optim.SGD
    optimizer = make(model.parameters(), lr=settings["lr"])
    bce = torch.nn.BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batch = settings["batch_size"] or len(x)
    state = {"order": torch.randperm(len(x)), "at": 0}

    def step() -> None:
        if batch < len(x):
            if state["at"] >= len(x):
                state["order"], state["at"] = torch.randperm(len(x)), 0
            idx = state["order"][state["at"] : state["at"] + batch]
            state["at"] += batch
            xb, yb = xt[idx], yt[idx]
        else:
            xb, yb = xt, yt
        optimizer.zero_grad(set_to_none=True)
        loss = ((model(xb) - yb) ** 2).sum() if sse else bce(model(xb), yb)
        loss.backward()
        optimizer.step()
        loss.item()

    return _timed(step)


# ---- measuring -------------------------------------------------------------------------------------


def rounds(runners: dict[str, Runner], steps: int, max_rounds: int,
           budget: float = CASE_BUDGET) -> dict[str, list[float]]:
    """Seconds per step of every runner in each of up to ``max_rounds`` rounds, the runners
    taking turns within a round; at least 2 rounds (or max_rounds), then until ``budget``.
    On a machine so busy that a round would take over half the budget, rounds get fewer steps."""
    warm = max(steps // 10, 3)
    per_step = sum(run(warm) for run in runners.values()) / warm  # warm-up: buffers, caches, threads
    steps = max(10, min(steps, int(budget / 2 / max(per_step, 1e-9))))
    out: dict[str, list[float]] = {name: [] for name in runners}
    start = time.perf_counter()
    for r in range(max_rounds):
        order = list(runners.items())
        if r % 2:
            order.reverse()  # neither variant always runs first
        for name, run in order:
            out[name].append(run(steps) / steps)
        if r + 1 >= min(2, max_rounds) and time.perf_counter() - start > budget:
            break
    return out


def _gemm_shapes(sizes: list[int], batch: int) -> list[tuple[tuple[int, int], tuple[int, int], bool, bool]]:
    """The matrix products of one training step, as (a shape, b shape, a transposed, b transposed)."""
    shapes = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        shapes.append(((batch, n_in), (n_in, n_out), False, False))  # z = x @ W
        shapes.append(((n_in, batch), (batch, n_out), True, False))  # dW = x.T @ dz
        if i:
            shapes.append(((batch, n_out), (n_out, n_in), False, True))  # dx = dz @ W.T
    return shapes


def _gemm_operands(sizes: list[int], batch: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    ops = []
    for (m, k), (_, n), a_t, b_t in _gemm_shapes(sizes, batch):
        a = rng.random((k, m) if a_t else (m, k), dtype=np.float32)
        b = rng.random((n, k) if b_t else (k, n), dtype=np.float32)
        ops.append((a.T if a_t else a, b.T if b_t else b, np.empty((m, n), np.float32)))
    return ops


def gemm_limit(sizes: list[int], batch: int = BATCH, repeats: int = 30) -> float:
    """Seconds per step if every matrix product of the step ran at the best rate OpenBLAS
    reaches at its exact shape and layout (measured here, each alone, best of ``repeats``)."""
    total = 0.0
    for a, b, out in _gemm_operands(sizes, batch):
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            np.matmul(a, b, out=out)
            best = min(best, time.perf_counter() - t)
        total += best
    return total


def gemm_step(sizes: list[int], batch: int = BATCH) -> Runner:
    """Only the step's matrix products, in a loop: the limit, timed in the same rounds as the rest."""
    ops = _gemm_operands(sizes, batch)

    def step() -> None:
        for a, b, out in ops:
            np.matmul(a, b, out=out)

    return _timed(step)


def adam_epochs(x: np.ndarray, labels: np.ndarray, epochs: int = 5) -> list[float]:
    """Seconds of each of ``epochs`` full Adam epochs of the 784-512-256-10 net, one thread."""
    y = np.eye(10, dtype=np.float32)[labels]
    net = Network(NetworkSpec.mlp(MLPS["784-512-256-10"], "relu", "softmax", init="he", dtype="float32"),
                  np.random.default_rng(0))
    trainer = Trainer(net, TrainConfig(loss="cross_entropy", optimizer="adam", lr=LR["adam"],
                                       batch_size=BATCH, seed=0), x, y, classification=True)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        trainer.run(1)
        times.append(time.perf_counter() - start)
    return times


# ---- peak memory: each run in a process of its own ------------------------------------------------

MEMORY_SIZES = [784, 4096, 4096, 10]
MEMORY_ROWS = (1280, 1000)  # training rows (10 steps of batch 128), test rows evaluated at epoch end


def _memory_data(folder: Path) -> None:
    rng = np.random.default_rng(0)
    for n, images, labels in ((MEMORY_ROWS[0], "train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                              (MEMORY_ROWS[1], "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")):
        write_idx(folder / images, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / labels, rng.integers(0, 10, n).astype(np.uint8))


def _memory_experiment(folder: Path) -> dict:
    layers = [{"units": u, "activation": "relu", "bias": True} for u in MEMORY_SIZES[1:-1]]
    return {
        "format": "nnbench-experiment", "version": 1, "name": "memory-4096",
        "dataset": {"kind": "mnist", "path": str(folder)},
        "network": {"n_inputs": 784,
                    "layers": [*layers, {"units": 10, "activation": "softmax", "bias": True}],
                    "init": "he", "dtype": "float32"},
        "training": {"loss": "cross_entropy", "optimizer": "sgd", "lr": 0.01, "batch_size": BATCH,
                     "epochs": 1, "seed": 0, "shuffle": True},
    }


def memory_child(kind: str, folder: Path) -> None:
    """Run one epoch (and the test evaluation) the ``kind`` way; the parent reads our peak."""
    from nnbench.data import load_mnist_dir

    ds = load_mnist_dir(folder)
    if kind == "api":
        net = Network(NetworkSpec.mlp(MEMORY_SIZES, "relu", "softmax", init="he", dtype="float32"),
                      np.random.default_rng(0))
        trainer = Trainer(net, TrainConfig(loss="cross_entropy", lr=0.01, batch_size=BATCH), ds.x_train,
                          ds.y_train, ds.x_test, ds.y_test, x_scale=1 / 255)
        trainer.run(1)
        return
    rng = np.random.default_rng(0)
    sizes = MEMORY_SIZES
    Ws = [(rng.standard_normal((a, b), dtype=np.float32) * np.float32(np.sqrt(2 / a))) for a, b in
          zip(sizes, sizes[1:], strict=False)]
    bs = [np.zeros(b, np.float32) for b in sizes[1:]]

    def forward(xb):
        acts = [xb]
        for i, (W, b) in enumerate(zip(Ws, bs, strict=False)):
            z = acts[-1] @ W + b
            acts.append(np.maximum(z, 0) if i < len(Ws) - 1 else z)
        return acts

    order = rng.permutation(len(ds.x_train))
    for at in range(0, len(order), BATCH):
        idx = order[at : at + BATCH]
        acts = forward(ds.x_train[idx].astype(np.float32) / 255)
        z = acts[-1]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        g = (e / e.sum(axis=1, keepdims=True) - ds.y_train[idx]) / len(idx)
        for i in range(len(Ws) - 1, -1, -1):
            dW, db = acts[i].T @ g, g.sum(axis=0)
            if i:
                g = (g @ Ws[i].T) * (acts[i] > 0)
            Ws[i] -= 0.01 * dW
            bs[i] -= 0.01 * db
    for at in range(0, len(ds.x_test), BATCH):  # the test set, a batch at a time
        forward(ds.x_test[at : at + BATCH].astype(np.float32) / 255)


def peak_mib(cmd: list[str]) -> float:
    """The peak resident memory of ``cmd``, run with this checkout's nnbench and one BLAS thread."""
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=root)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err.strip()[-300:]}")
    return usage.ru_maxrss / 1024  # KiB on Linux


def memory() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _memory_data(folder)
        exp = folder / "memory.json"
        exp.write_text(json.dumps(_memory_experiment(folder)))
        me = [sys.executable, str(Path(__file__).resolve())]
        return {
            "hand-written": peak_mib([*me, "--memory-child", "hand", str(folder)]),
            "API (Trainer)": peak_mib([*me, "--memory-child", "api", str(folder)]),
            "CLI (nnbench train)": peak_mib([sys.executable, "-m", "nnbench", "train", str(exp),
                                             "--threads", "1"]),
        }


# ---- report ----------------------------------------------------------------------------------------


def blas_kernel() -> str:
    parts = []
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            api, version, arch = info.get("internal_api"), info.get("version"), info.get("architecture")
            parts.append(f"{api} {version} kernel {arch}")
    core = os.environ.get("OPENBLAS_CORETYPE")
    parts.append(f"OPENBLAS_CORETYPE={core}" if core else "OPENBLAS_CORETYPE unset")
    return ", ".join(parts)


def _med(values: list[float], scale: float, fmt: str) -> str:
    v = np.asarray(values) * scale
    return f"{np.median(v):{fmt}} [{v.min():{fmt}}-{v.max():{fmt}}]"


def _ratio(a: list[float], b: list[float]) -> str:
    r = np.asarray(a) / np.asarray(b)
    return f"{np.median(r):.2f} [{r.min():.2f}-{r.max():.2f}]"


def main(threads: list[int] | None = None, quick: bool = False, torch: bool = True,
         with_memory: bool = True) -> int:
    started = time.perf_counter()
    threads = threads or [1, 2]
    torch_mod = None
    if torch:
        try:
            import torch as torch_mod
        except ImportError:
            print("PyTorch is not installed: timing our engine and NumPy only (pip install 'nnbench[bench]')")
    max_rounds = 1 if quick else 5
    mlp_steps = 20 if quick else STEPS_PER_EPOCH // 3
    load = os.getloadavg()
    print(f"nnbench engine benchmark: numpy {np.__version__}, {blas_kernel()}, {os.cpu_count()} CPUs"
          + (f", torch {torch_mod.__version__}" if torch_mod else "")
          + f"; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"median [min-max] over up to {max_rounds} round-robin rounds; MLP epoch = {STEPS_PER_EPOCH} steps "
          f"of batch {BATCH}, timed on {mlp_steps} and scaled; ratios are medians of per-round ratios")
    if load[0] > (os.cpu_count() or 1):
        print(f"warning: the load average ({load[0]:.1f}) is above the number of CPUs: other processes "
              "compete for them, the figures (above all with 2 threads) are not the engine's alone")
    x, labels = mnist_like()
    for n in threads:
        with threadpool_limits(limits=n):
            if torch_mod is not None:
                torch_mod.set_num_threads(n)
            print(f"\n{n} BLAS thread(s)")
            print(f"{'case':<24} {'ours s/epoch':>20} {'numpy s/epoch':>20} {'torch s/epoch':>20} "
                  f"{'ours/torch':>17} {'ours/numpy':>17} {'GEMM-only s/epoch':>20} {'ours/GEMM':>17} "
                  f"{'best':>8} {'ours/b':>6}")
            for opt in ("sgd", "adam"):
                for name, sizes in MLPS.items():
                    runners = {"ours": ours_mlp(sizes, opt, x, labels),
                               "numpy": hand_mlp(sizes, opt, x, labels)}
                    if torch_mod is not None:
                        runners["torch"] = torch_mlp(torch_mod, sizes, opt, x, labels)
                    if opt == "sgd":
                        runners["gemm"] = gemm_step(sizes)
                    r = rounds(runners, mlp_steps, max_rounds)
                    e = STEPS_PER_EPOCH
                    cells = [f"{name + ' ' + opt:<24}", f"{_med(r['ours'], e, '.3f'):>20}",
                             f"{_med(r['numpy'], e, '.3f'):>20}",
                             f"{_med(r['torch'], e, '.3f') if 'torch' in r else '-':>20}",
                             f"{_ratio(r['ours'], r['torch']) if 'torch' in r else '-':>17}",
                             f"{_ratio(r['ours'], r['numpy']):>17}"]
                    if opt == "sgd":
                        best = gemm_limit(sizes) * e
                        cells += [f"{_med(r['gemm'], e, '.3f'):>20}", f"{_ratio(r['ours'], r['gemm']):>17}",
                                  f"{best:>8.3f}", f"{np.median(r['ours']) * e / best:>6.2f}"]
                    print(" ".join(cells), flush=True)
            print(f"{'case':<24} {'ours us/step':>20} {'numpy us/step':>20} {'torch us/step':>20} "
                  f"{'ours/torch':>17} {'ours/numpy':>17}")
            for name in TINY:
                runners = {"ours": ours_tiny(name), "numpy": hand_tiny(name)}
                if torch_mod is not None:
                    runners["torch"] = torch_tiny(torch_mod, name)
                steps = 200 if quick else (1000 if "spiral" in name else 3000)
                r = rounds(runners, steps, max_rounds, budget=2.0)
                print(" ".join([f"{name:<24}", f"{_med(r['ours'], 1e6, '.1f'):>20}",
                                f"{_med(r['numpy'], 1e6, '.1f'):>20}",
                                f"{_med(r['torch'], 1e6, '.1f') if 'torch' in r else '-':>20}",
                                f"{_ratio(r['ours'], r['torch']) if 'torch' in r else '-':>17}",
                                f"{_ratio(r['ours'], r['numpy']):>17}"]), flush=True)
    if not quick:
        with threadpool_limits(limits=1):
            t = adam_epochs(x, labels)
        print(f"\nAdam 784-512-256-10, 1 thread, s per epoch: {' '.join(f'{v:.2f}' for v in t)}; "
              f"epoch 5 / epoch 1 = {t[-1] / t[0]:.2f}")
    if with_memory and not quick:
        peaks = memory()
        base = peaks["hand-written"]
        print(f"\npeak memory, 784-4096-4096-10 SGD, {MEMORY_ROWS[0]} training + {MEMORY_ROWS[1]} test rows: "
              + ", ".join(f"{k} {v:.0f} MiB ({v / base:.2f}x)" for k, v in peaks.items()))
    load = os.getloadavg()
    print(f"\ntook {time.perf_counter() - started:.0f} s; "
          f"load average now {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--memory-child":
        with threadpool_limits(limits=1):
            memory_child(sys.argv[2], Path(sys.argv[3]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    a = parser.parse_args()
    sys.exit(main([int(t) for t in a.threads.split(",")], a.quick, not a.no_torch, not a.no_memory))
