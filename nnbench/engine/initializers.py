"""Weight initialisers: ``init(rng, n_in, n_out, out)`` fills ``out``, of shape (n_in, n_out).

Each draws its float64 numbers a block of rows at a time, in the order one draw of the whole
matrix would give them (the same weights), so a 4096 x 4096 layer never needs a float64 copy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Initializer = Callable[[np.random.Generator, int, int, np.ndarray], None]
_BLOCK = 1 << 18  # numbers drawn at a time


def _fill(out: np.ndarray, draw: Callable[[tuple[int, int]], np.ndarray]) -> None:
    n_in, n_out = out.shape
    rows = max(1, _BLOCK // max(n_out, 1))
    for r in range(0, n_in, rows):
        out[r : r + rows] = draw((min(rows, n_in - r), n_out))


def uniform(rng: np.random.Generator, n_in: int, n_out: int, out: np.ndarray) -> None:
    """U(-1, 1): the from-scratch tutorials' ``2 * random((n_in, n_out)) - 1``."""
    _fill(out, lambda shape: 2.0 * rng.random(shape) - 1.0)


def normal(rng: np.random.Generator, n_in: int, n_out: int, out: np.ndarray) -> None:
    """N(0, 0.01^2): "Deep Learning from Scratch"'s ``0.01 * randn``."""
    _fill(out, lambda shape: 0.01 * rng.standard_normal(shape))


def xavier(rng: np.random.Generator, n_in: int, n_out: int, out: np.ndarray) -> None:
    """Glorot uniform: U(-l, l) with l = sqrt(6 / (n_in + n_out)); suits sigmoid and tanh."""
    limit = np.sqrt(6.0 / (n_in + n_out))
    _fill(out, lambda shape: rng.uniform(-limit, limit, shape))


def he(rng: np.random.Generator, n_in: int, n_out: int, out: np.ndarray) -> None:
    """He normal: N(0, 2 / n_in); suits ReLU."""
    scale = np.sqrt(2.0 / n_in)
    _fill(out, lambda shape: rng.standard_normal(shape) * scale)


INITIALIZERS: dict[str, Initializer] = {
    "uniform": uniform,
    "normal": normal,
    "xavier": xavier,
    "he": he,
}
