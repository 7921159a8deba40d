"""The input scaling a saved experiment applies before its network sees a row.

nnbench keeps this scaling with the dataset, not the network: a CSV imported with
standardisation is stored standardised (its source records the training mean and standard
deviation), and MNIST keeps its bytes and scales them by 1/255 per batch. An export puts it in
front of the network so that the exported model takes the rows as they are in the data file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MNIST_SCALE = 1 / 255  # what nnbench.data.mnist gives as the dataset's x_scale


@dataclass(frozen=True)
class InputScaling:
    """``x -> (x - mean) / std * scale``, each step optional, in that order."""

    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    scale: float | None = None
    why: str = ""

    def apply(self, x: np.ndarray, dtype: np.dtype | str = np.float64) -> np.ndarray:
        """As the bench does it: standardise in float64 (the CSV import), then cast and scale."""
        out = np.asarray(x, dtype=np.float64 if self.mean is not None or self.std is not None else dtype)
        if self.mean is not None:
            out = out - self.mean
        if self.std is not None:
            out = out / self.std
        out = out.astype(dtype)
        if self.scale is not None:
            out = out * np.dtype(dtype).type(self.scale)
        return out

    def arrays(self, dtype: np.dtype | str) -> dict[str, np.ndarray]:
        """The constants by name, as the exported files store them."""
        out = {}
        if self.mean is not None:
            out["input.mean"] = np.asarray(self.mean, dtype=dtype)
        if self.std is not None:
            out["input.std"] = np.asarray(self.std, dtype=dtype)
        if self.scale is not None:
            out["input.scale"] = np.asarray(self.scale, dtype=dtype)
        return out

    def describe(self) -> str:
        steps = []
        if self.mean is not None:
            steps.append("minus the training mean")
        if self.std is not None:
            steps.append("divided by the training standard deviation")
        if self.scale is not None:
            steps.append(f"times {self.scale:.6g}")
        return ", ".join(steps) + (f" ({self.why})" if self.why else "")

    def matches(self, other: InputScaling | None, rtol: float = 1e-6) -> bool:
        """The same maths (constants equal to ``rtol``: a float32 graph rounds them)."""
        if other is None:
            return False

        def same(a: Any, b: Any) -> bool:
            if a is None or b is None:
                return a is None and b is None
            a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
            return a.size == b.size and bool(np.allclose(a.ravel(), b.ravel(), rtol=rtol, atol=0.0))

        return same(self.mean, other.mean) and same(self.std, other.std) and same(self.scale, other.scale)


def from_source(source: dict[str, Any] | None, n_inputs: int) -> InputScaling | None:
    """The scaling a dataset source implies, or None for data the network sees as it is.

    Only what the record itself says counts: a standardised CSV's mean and std (of the right
    length and finite), MNIST's 1/255. A record that claims standardisation without them gives
    None, and the export then takes the values the network sees.
    """
    if not isinstance(source, dict):
        return None
    kind = source.get("kind")
    if kind == "mnist":
        return InputScaling(scale=MNIST_SCALE, why="MNIST pixels 0-255 to 0-1")
    if kind == "csv" and source.get("standardize") is True:
        try:
            mean = np.asarray(source.get("mean"), dtype=np.float64)
            std = np.asarray(source.get("std"), dtype=np.float64)
        except (TypeError, ValueError):
            return None
        if mean.shape != (n_inputs,) or std.shape != (n_inputs,):
            return None
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
            return None
        return InputScaling(mean=mean, std=std, why="the CSV import's standardisation")
    return None
