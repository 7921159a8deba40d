"""The learning-rate finder: train a copy of the network with rates rising exponentially, one
batch each, and watch where the loss falls fastest and where it blows up (Smith 2017, as
fastai's ``lr_find``). The network that trains is never touched."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nnbench.engine import Network, TrainConfig, Trainer
from nnbench.errors import TrainingDiverged
from nnbench.inspect import Progress, tick, work_copy

BLOW_UP = 4.0  # the smoothed loss this many times its lowest: stop
SMOOTH = 0.9  # exponential smoothing of the loss, with bias correction


@dataclass(frozen=True, eq=False)
class LrFind:
    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggested: float  # nan when no descent was found
    stopped: str  # why it stopped: "blew up", "diverged" or "last rate"


def find(net: Network, config: TrainConfig, x: np.ndarray, y: np.ndarray, *, lr_min: float = 1e-4,
         lr_max: float = 10.0, steps: int = 100, progress: Progress | None = None) -> LrFind:
    """Rates from ``lr_min`` to ``lr_max`` over ``steps`` batches of the training rows ``x``
    (batches as ``config`` sets them, the optimizer ``config``'s), on a copy of ``net``."""
    steps = max(int(steps), 2)
    lr_max = min(lr_max, 1e4)
    work = work_copy(net, None)
    lrs = lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))
    trainer = Trainer(work, config.replace(lr=float(lrs[0]), gradients="backprop", epochs=0), x, y,
                      classification=False)
    batches = trainer.steps()
    seen, smoothed, avg, best = [], [], 0.0, math.inf
    stopped = "last rate"
    for i, lr in enumerate(lrs):
        trainer.lr = float(lr)
        try:
            value = next(batches).loss
        except TrainingDiverged:
            stopped = "diverged"
            break
        if not math.isfinite(value):
            stopped = "diverged"
            break
        avg = SMOOTH * avg + (1 - SMOOTH) * value
        s = avg / (1 - SMOOTH ** (i + 1))
        seen.append(value)
        smoothed.append(s)
        best = min(best, s)
        tick(progress, i + 1, steps)
        if i > 2 and s > BLOW_UP * best:
            stopped = "blew up"
            break
    n = len(seen)
    lrs_seen, sm = lrs[:n], np.array(smoothed)
    return LrFind(lrs_seen, np.array(seen), sm, suggest(lrs_seen, sm), stopped)


def suggest(lrs: np.ndarray, smoothed: np.ndarray) -> float:
    """The rate where the smoothed loss falls steepest (per factor of rate), before its lowest
    point: the loss still falls fast there and is far from blowing up. The slope is a straight
    line fitted over a window of neighbours, so one noisy batch does not decide it."""
    n = len(lrs)
    if n < 5:
        return math.nan
    low = int(np.argmin(smoothed))
    skip = max(1, n // 10)  # the first few rates barely move the loss: noise
    if low <= skip:
        return math.nan
    half = max(2, n // 16)
    logs = np.log10(lrs)
    slopes = np.full(n, np.inf)
    for i in range(skip, low + 1):
        a, b = max(0, i - half), min(n, i + half + 1)
        slopes[i] = np.polyfit(logs[a:b], smoothed[a:b], 1)[0]
    i = int(np.argmin(slopes))
    return float(lrs[i]) if slopes[i] < 0 else math.nan
