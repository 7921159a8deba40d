"""Activation functions: ``forward(z) -> a`` and ``backward(z, a, grad_a) -> grad_z``."""

from __future__ import annotations

import numpy as np


class Activation:
    name: str = ""

    def forward(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name


class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, z: np.ndarray) -> np.ndarray:
        # 0.5 * (1 + tanh(z / 2)) is the logistic function without exp overflow for large |z|.
        a = np.multiply(z, 0.5)
        np.tanh(a, out=a)
        a += 1.0
        a *= 0.5
        return a

    def backward(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """dL/dz = dL/da * a * (1 - a)"""
        return grad * a * (1.0 - a)


class Tanh(Activation):
    name = "tanh"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.tanh(z)

    def backward(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """dL/dz = dL/da * (1 - a^2)"""
        return grad * (1.0 - a * a)


class ReLU(Activation):
    name = "relu"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0.0)

    def backward(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """dL/dz = dL/da * [z > 0]"""
        return grad * (z > 0)


class LeakyReLU(Activation):
    name = "leaky_relu"
    slope = 0.01

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.where(z > 0, z, z * self.slope)

    def backward(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """dL/dz = dL/da * (1 if z > 0 else slope)"""
        return np.where(z > 0, grad, grad * self.slope)


class Linear(Activation):
    name = "linear"

    def forward(self, z: np.ndarray) -> np.ndarray:
        return z

    def backward(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """dL/dz = dL/da"""
        return grad


class Softmax(Activation):
    """Row-wise softmax; only meaningful on the output layer."""

    name = "softmax"

    def forward(self, z: np.ndarray) -> np.ndarray:
        e = z - z.max(axis=1, keepdims=True)
        np.exp(e, out=e)
        e /= e.sum(axis=1, keepdims=True)
        return e

    def backward(self, z: np.ndarray, a: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """dL/dz = a * (dL/da - sum(dL/da * a)) row by row (the Jacobian-vector product)"""
        return a * (grad - (grad * a).sum(axis=1, keepdims=True))


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
