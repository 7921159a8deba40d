"""Losses over a batch: ``value(a, y)`` and ``grad(a, y) = dL/da``.

A loss may be *fused* with the output activation it is the natural partner of (sigmoid + binary
cross-entropy, softmax + cross-entropy): then the network asks it for ``dL/dz`` directly, which
is both cheaper and exact where ``dL/da`` would divide by a probability near 0.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


class Loss:
    name: str = ""
    fused_activation: str | None = None

    def value(self, a: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def grad(self, a: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """dL/da; written into ``out`` when given (the training loop's reused buffer)."""
        raise NotImplementedError

    def value_and_grad(self, a: np.ndarray, y: np.ndarray, out: np.ndarray) -> float:
        """The value, with dL/da written into ``out`` (one step of the training loop)."""
        value = self.value(a, y)
        self.grad(a, y, out=out)
        return value

    def value_from_logits(self, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> float:
        return self.value(a, y)

    def grad_logits(self, a: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name


class SumSquaredError(Loss):
    """L = sum((a - y)^2) over the batch: the from-scratch tutorials' "sum of squares"."""

    name = "sse"

    def value(self, a: np.ndarray, y: np.ndarray) -> float:
        d = a - y
        return float(np.vdot(d, d))

    def grad(self, a: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """dL/da = 2 (a - y)"""
        out = np.subtract(a, y, out=out)
        out *= 2.0
        return out

    def value_and_grad(self, a: np.ndarray, y: np.ndarray, out: np.ndarray) -> float:
        """L = sum((a - y)^2) and dL/da = 2 (a - y) into ``out``, with a - y computed once."""
        d = np.subtract(a, y, out=out)
        value = float(np.vdot(d, d))
        d *= 2.0
        return value


class MeanSquaredError(Loss):
    """L = mean((a - y)^2) over every sample and output."""

    name = "mse"

    def value(self, a: np.ndarray, y: np.ndarray) -> float:
        d = a - y
        return float(np.vdot(d, d)) / d.size

    def grad(self, a: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """dL/da = 2 (a - y) / size"""
        out = np.subtract(a, y, out=out)
        out *= 2.0 / a.size
        return out

    def value_and_grad(self, a: np.ndarray, y: np.ndarray, out: np.ndarray) -> float:
        """L = mean((a - y)^2) and dL/da = 2 (a - y) / size into ``out``, a - y computed once."""
        d = np.subtract(a, y, out=out)
        value = float(np.vdot(d, d)) / d.size
        d *= 2.0 / d.size
        return value


class BinaryCrossEntropy(Loss):
    """L = -mean_n sum_k [y log a + (1 - y) log(1 - a)]; fused with a sigmoid output."""

    name = "bce"
    fused_activation = "sigmoid"

    def value(self, a: np.ndarray, y: np.ndarray) -> float:
        a = np.clip(a, _EPS, 1.0 - _EPS)
        return float(-(y * np.log(a) + (1.0 - y) * np.log1p(-a)).sum() / len(a))

    def value_from_logits(self, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> float:
        # log(1 + e^z) - y z; logaddexp(0, z) neither overflows nor takes log(0).
        total = np.logaddexp(0.0, z)
        total -= y * z
        return float(np.add.reduce(total, axis=None)) / len(z)

    def grad(self, a: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """dL/da = (a - y) / (a (1 - a)) / n"""
        a = np.clip(a, _EPS, 1.0 - _EPS)
        return np.divide(a - y, a * (1.0 - a) * len(a), out=out)

    def grad_logits(self, a: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """dL/dz = (a - y) / n for a sigmoid output"""
        out = np.subtract(a, y, out=out)
        out *= 1.0 / len(a)
        return out


class SoftmaxCrossEntropy(Loss):
    """L = -mean_n sum_k y log a; fused with a softmax output."""

    name = "cross_entropy"
    fused_activation = "softmax"

    def value(self, a: np.ndarray, y: np.ndarray) -> float:
        return float(-(y * np.log(np.maximum(a, _EPS))).sum() / len(a))

    def value_from_logits(self, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> float:
        shifted = z - z.max(axis=1, keepdims=True)
        log_a = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return float(-(y * log_a).sum() / len(z))

    def grad(self, a: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """dL/da = -y / a / n"""
        return np.divide(-y, np.maximum(a, _EPS) * len(a), out=out)

    def grad_logits(self, a: np.ndarray, y: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """dL/dz = (a * sum_k y - y) / n for a softmax output (a - y for one-hot y)"""
        out = np.multiply(a, y.sum(axis=1, keepdims=True), out=out)
        out -= y
        out *= 1.0 / len(a)
        return out


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls for cls in (SumSquaredError, MeanSquaredError, BinaryCrossEntropy, SoftmaxCrossEntropy)
}
LOSS_TITLES = {
    "sse": "squared error (sum)",
    "mse": "squared error (mean)",
    "bce": "binary cross-entropy",
    "cross_entropy": "softmax cross-entropy",
}


def get(name: str) -> Loss:
    try:
        return LOSSES[name]()
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}") from None
