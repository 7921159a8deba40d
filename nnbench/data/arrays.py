"""Small array helpers shared by the dataset builders: targets, shuffling, splitting."""

from __future__ import annotations

import numpy as np

from nnbench.errors import SpecError, quote


def class_targets(labels: np.ndarray, n_classes: int, dtype: type = np.float64) -> np.ndarray:
    """Class indices as targets: ``(n, 1)`` of 0/1 for two classes, one-hot ``(n, k)`` above."""
    labels = np.asarray(labels, dtype=np.int64)
    if n_classes == 2:
        return labels.reshape(-1, 1).astype(dtype)
    out: np.ndarray = np.zeros((len(labels), n_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def check_split_params(test_fraction: float, seed: int) -> None:
    """Refuse a split the builders cannot honour, with the offending value in the message."""
    if not isinstance(test_fraction, (int, float)) or not 0.0 <= test_fraction <= 0.9:
        raise SpecError(f"test fraction must be between 0 and 0.9, got {quote(test_fraction)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SpecError(f"seed must be a whole number >= 0, got {quote(seed)}")


def n_test_rows(n: int, test_fraction: float) -> int:
    """Rows set aside for testing; at least one row always stays for training."""
    return min(int(round(n * test_fraction)), n - 1)


def shuffle_split(
    x: np.ndarray, y: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle rows with ``rng``, then cut off the last ``test_fraction`` as the test set."""
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    cut = len(x) - n_test_rows(len(x), test_fraction)
    return x[:cut], y[:cut], x[cut:], y[cut:]
