"""Activation functions: ``forward(z) -> a`` and, in place, ``backward(z, a, grad, scratch)``.

``forward`` allocates its result (predictions, the gradient check); the training loop calls
``forward_into``, which writes ``a`` into a reused buffer. ``backward`` turns ``grad = dL/da``
into ``dL/dz`` in place, with ``scratch`` (same shape) as working space, and returns it.
"""

from __future__ import annotations

import numpy as np


class Activation:
    name: str = ""

    def forward(self, z: np.ndarray) -> np.ndarray:
        return self.forward_into(z, np.empty_like(z))

    def forward_into(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name


class Sigmoid(Activation):
    name = "sigmoid"

    def forward_into(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        # 0.5 * (1 + tanh(z / 2)) is the logistic function without exp overflow for large |z|.
        np.multiply(z, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1.0
        out *= 0.5
        return out

    def backward(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        """dL/dz = dL/da * a * (1 - a)"""
        np.subtract(1.0, a, out=scratch)
        scratch *= a
        grad *= scratch
        return grad


class Tanh(Activation):
    name = "tanh"

    def forward_into(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        return np.tanh(z, out=out)

    def backward(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        """dL/dz = dL/da * (1 - a^2)"""
        np.multiply(a, a, out=scratch)
        np.subtract(1.0, scratch, out=scratch)
        grad *= scratch
        return grad


class ReLU(Activation):
    name = "relu"

    def forward_into(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0.0, out=out)

    def backward(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        """dL/dz = dL/da * [z > 0]"""
        np.greater(z, 0.0, out=scratch)
        grad *= scratch
        return grad


class LeakyReLU(Activation):
    name = "leaky_relu"
    slope = 0.01

    def forward_into(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        # max(z, slope z) is z above 0 and slope z below, for a slope under 1
        np.multiply(z, self.slope, out=out)
        return np.maximum(z, out, out=out)

    def backward(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        """dL/dz = dL/da * (1 if z > 0 else slope)"""
        np.greater(z, 0.0, out=scratch)
        scratch *= 1.0 - self.slope
        scratch += self.slope
        grad *= scratch
        return grad


class Linear(Activation):
    name = "linear"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return z

    def forward_into(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        return z  # a is z: no copy

    def backward(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        """dL/dz = dL/da"""
        return grad


class Softmax(Activation):
    """Row-wise softmax; only meaningful on the output layer."""

    name = "softmax"

    def forward_into(self, z: np.ndarray, out: np.ndarray) -> np.ndarray:
        np.subtract(z, z.max(axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out

    def backward(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        """dL/dz = a * (dL/da - sum_k dL/da * a), row by row (the Jacobian-vector product)"""
        np.multiply(grad, a, out=scratch)
        grad -= scratch.sum(axis=1, keepdims=True)
        grad *= a
        return grad


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Linear, Softmax)
}
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "linear")


def get(name: str) -> Activation:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        known = ", ".join(ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; known: {known}") from None
