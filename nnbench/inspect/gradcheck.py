"""The gradient check, layer by layer: backprop against central differences in float64.

``(L(p + h) - L(p - h)) / 2h`` for each weight (or a sample of each layer's weights, for big
layers) on a float64 copy of the network, against ``Network.loss_and_backward``'s gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnbench.engine import Network, losses
from nnbench.inspect import Progress, tick, work_copy

H = 1e-6
AGREE = 1e-6  # float64 central differences of smooth functions land far below this
CLOSE = 1e-3  # kinks (ReLU at 0) or a loss near its floor can land here
VERDICTS = {"agree": "backprop agrees", "close": "close (a kink such as ReLU's, or rounding)",
            "wrong": "DISAGREE: the backward pass is wrong"}


@dataclass(frozen=True, eq=False)
class LayerCheck:
    number: int  # from 1
    names: tuple[str, ...]  # "layer0.W", "layer0.b"
    analytic: np.ndarray  # the checked entries, flat
    numerical: np.ndarray
    checked: int
    total: int
    error: float  # max |a - n| / max(|a| + |n|) over the checked entries
    verdict: str  # "agree", "close" or "wrong"


@dataclass(frozen=True, eq=False)
class GradCheck:
    layers: tuple[LayerCheck, ...]
    h: float
    rows: int

    @property
    def error(self) -> float:
        return max(layer.error for layer in self.layers)

    @property
    def verdict(self) -> str:
        return verdict(self.error)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a| + |b|, tiny): 0 for equal arrays, ~1 for unrelated ones."""
    if a.size == 0:
        return 0.0
    denom = max(float(np.max(np.abs(a) + np.abs(b))), 1e-12)
    return float(np.max(np.abs(a - b))) / denom


def verdict(error: float) -> str:
    return "agree" if error < AGREE else "close" if error < CLOSE else "wrong"


def check(net: Network, loss_name: str, x: np.ndarray, y: np.ndarray, *, h: float = H,
          per_layer: int = 0, seed: int = 0, progress: Progress | None = None) -> GradCheck:
    """Check every layer of a float64 copy of ``net`` on the rows ``x``; ``per_layer`` > 0
    checks at most that many weights of each layer (drawn with ``seed``), 0 all of them."""
    work = work_copy(net)
    loss = losses.get(loss_name)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    work.loss_and_backward(x, y, loss)
    grads = work.flat_grads.copy()
    rng = np.random.default_rng(seed)
    spans: list[tuple[int, list[str], int, int]] = []  # layer, names, start, stop in flat storage
    offset = 0
    for i, layer in enumerate(work.layers):
        size = sum(p.size for _, p, _ in layer.params_and_grads())
        spans.append((i, [f"layer{i}.{n}" for n, _, _ in layer.params_and_grads()], offset, offset + size))
        offset += size
    picks = []
    for _, _, start, stop in spans:
        idx = np.arange(start, stop)
        if 0 < per_layer < idx.size:
            idx = np.sort(rng.choice(idx, per_layer, replace=False))
        picks.append(idx)
    total = sum(len(p) for p in picks)
    done = 0
    p = work.flat_params
    results = []
    for (i, names, start, stop), idx in zip(spans, picks, strict=True):
        numerical = np.empty(len(idx))
        for k, j in enumerate(idx):
            keep = p[j]
            p[j] = keep + h
            up = work.loss(x, y, loss)[0]
            p[j] = keep - h
            down = work.loss(x, y, loss)[0]
            p[j] = keep
            numerical[k] = (up - down) / (2 * h)
            done += 1
            if done % 16 == 0:
                tick(progress, done, total)
        analytic = grads[idx]
        err = relative_error(analytic, numerical)
        results.append(LayerCheck(i + 1, tuple(names), analytic, numerical, len(idx), stop - start, err,
                                  verdict(err)))
    tick(progress, total, total)
    return GradCheck(tuple(results), h, len(x))
