"""Instruments that look inside the learning: backprop step by step, the gradient check, the
learning-rate finder, the curvature of the loss and its landscape.

Qt-free, like the engine: each works on a *copy* of a network (:func:`work_copy`), through the
engine's own layers, losses, optimizers and trainer, so the numbers are the engine's and the
network that trains is never touched. Long computations take a :class:`Progress`, which reports
how far they are and raises :class:`Cancelled` once it is cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from nnbench.engine import Network
from nnbench.errors import NnbenchError


class Cancelled(NnbenchError):
    """The user cancelled a computation (nothing was changed)."""


class Progress:
    """``progress(done, total)`` reports; raises Cancelled once :meth:`cancel` was called."""

    def __init__(self, report: Callable[[int, int], None] | None = None) -> None:
        self.cancelled = False
        self._report = report

    def cancel(self) -> None:
        self.cancelled = True

    def __call__(self, done: int, total: int) -> None:
        if self.cancelled:
            raise Cancelled("cancelled")
        if self._report is not None:
            self._report(done, total)


def tick(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def work_copy(net: Network, dtype: str | None = "float64") -> Network:
    """A network with the same spec and weights (in ``dtype``; None keeps the network's)."""
    spec = net.spec if dtype is None or dtype == net.spec.dtype else replace(net.spec, dtype=dtype)
    copy = Network(spec)
    copy.flat_params[...] = net.flat_params
    return copy


def training_batch(dataset, rows: int = 0, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training rows ``start`` .. ``start + rows`` (``rows`` 0: all) as the network is fed them
    (scaled), in float64, with their targets: the batch the instruments look at."""
    n = len(dataset.x_train)
    start = min(max(int(start), 0), max(n - 1, 0))
    stop = n if rows <= 0 else min(start + int(rows), n)
    x = dataset.features(dataset.x_train[start:stop], np.float64)
    return x, np.asarray(dataset.y_train[start:stop], dtype=np.float64)
