"""The one container every dataset in nnbench is delivered in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Task = Literal["classification", "regression"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test arrays plus what a network and a plot need to know about them.

    ``x_*`` is ``(n, features)``: float64/float32, or uint8 with ``x_scale`` (MNIST keeps its
    bytes and is scaled per batch). ``y_*`` is always 2-D float: ``(n, 1)`` of 0/1 for binary
    classification, one-hot ``(n, k)`` for k >= 3 classes, ``(n, m)`` values for regression.
    ``source`` is a JSON-able description that :func:`nnbench.data.make` turns back into the
    same dataset (generator name, parameters and seed; or the table rows themselves).
    """

    name: str
    task: Task
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    source: dict[str, Any] = field(default_factory=dict)
    x_scale: float = 1.0
    image_shape: tuple[int, int] | None = None
    row_labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for part in ("x_train", "y_train", "x_test", "y_test"):
            if getattr(self, part).ndim != 2:
                raise ValueError(f"{part} must be 2-D, got shape {getattr(self, part).shape}")
        if len(self.x_train) != len(self.y_train) or len(self.x_test) != len(self.y_test):
            raise ValueError("x and y must have the same number of rows")

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.y_train.shape[1])

    @property
    def n_classes(self) -> int:
        """2 for binary (one sigmoid output), k for one-hot targets, 0 for regression."""
        if self.task != "classification":
            return 0
        return 2 if self.n_outputs == 1 else self.n_outputs

    @property
    def is_2d(self) -> bool:
        """Two input features: the plots can draw a decision surface over the plane."""
        return self.n_features == 2

    @staticmethod
    def labels_of(y: np.ndarray) -> np.ndarray:
        """Class indices from binary (n, 1) or one-hot (n, k) targets."""
        if y.shape[1] == 1:
            return (y[:, 0] > 0.5).astype(np.int64)
        return np.argmax(y, axis=1)

    def features(self, x: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """``x`` (rows of this dataset) as floats, scaled: what a network is fed."""
        out = np.asarray(x, dtype=dtype)
        if self.x_scale != 1.0:
            out = out * dtype(self.x_scale)
        return out
