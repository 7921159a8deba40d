"""The dense layer: ``a = act(x @ W + b)``, with its parameters and gradients side by side."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nnbench.engine import activations


class Dense:
    def __init__(self, n_in: int, n_out: int, activation: str, bias: bool, dtype: np.dtype) -> None:
        self.activation = activations.get(activation)
        self.W = np.zeros((n_in, n_out), dtype=dtype)
        self.dW = np.zeros_like(self.W)
        self.b = np.zeros(n_out, dtype=dtype) if bias else None
        self.db = np.zeros(n_out, dtype=dtype) if bias else None
        self.x: np.ndarray | None = None
        self.z: np.ndarray | None = None
        self.a: np.ndarray | None = None

    def forward(self, x: np.ndarray, keep: bool = True) -> np.ndarray:
        z = x @ self.W
        if self.b is not None:
            z += self.b
        a = self.activation.forward(z)
        if keep:
            self.x, self.z, self.a = x, z, a
        return a

    def backward(self, grad_a: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """dL/dz = act'(z) * dL/da, then as :meth:`backward_z`."""
        return self.backward_z(self.activation.backward(self.z, self.a, grad_a), need_input_grad)

    def backward_z(self, grad_z: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """dL/dW = x.T @ dL/dz; dL/db = sum_n dL/dz; dL/dx = dL/dz @ W.T"""
        np.matmul(self.x.T, grad_z, out=self.dW)
        if self.db is not None:
            np.sum(grad_z, axis=0, out=self.db)
        return grad_z @ self.W.T if need_input_grad else None

    def params_and_grads(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        yield "W", self.W, self.dW
        if self.b is not None:
            yield "b", self.b, self.db
