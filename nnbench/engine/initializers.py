"""Weight initialisers: ``init(rng, n_in, n_out, dtype) -> W`` of shape (n_in, n_out)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Initializer = Callable[[np.random.Generator, int, int, np.dtype], np.ndarray]


def uniform(rng: np.random.Generator, n_in: int, n_out: int, dtype: np.dtype) -> np.ndarray:
    """U(-1, 1): the from-scratch tutorials' ``2 * random((n_in, n_out)) - 1``."""
    return (2.0 * rng.random((n_in, n_out)) - 1.0).astype(dtype)


def normal(rng: np.random.Generator, n_in: int, n_out: int, dtype: np.dtype) -> np.ndarray:
    """N(0, 0.01^2): "Deep Learning from Scratch"'s ``0.01 * randn``."""
    return (0.01 * rng.standard_normal((n_in, n_out))).astype(dtype)


def xavier(rng: np.random.Generator, n_in: int, n_out: int, dtype: np.dtype) -> np.ndarray:
    """Glorot uniform: U(-l, l) with l = sqrt(6 / (n_in + n_out)); suits sigmoid and tanh."""
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, (n_in, n_out)).astype(dtype)


def he(rng: np.random.Generator, n_in: int, n_out: int, dtype: np.dtype) -> np.ndarray:
    """He normal: N(0, 2 / n_in); suits ReLU."""
    return (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(dtype)


INITIALIZERS: dict[str, Initializer] = {
    "uniform": uniform,
    "normal": normal,
    "xavier": xavier,
    "he": he,
}
