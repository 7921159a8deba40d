"""The dense layer: ``a = act(x @ W + b)``, with its parameters and gradients side by side."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nnbench.engine import activations

# Batch sizes whose training buffers a layer keeps: a full batch and the short last one, the
# test set's chunks, with room.
_KEEP_BUFFERS = 4


class Dense:
    def __init__(self, n_in: int, n_out: int, activation: str, bias: bool, dtype: np.dtype) -> None:
        self.activation = activations.get(activation)
        self.W = np.zeros((n_in, n_out), dtype=dtype)
        self.dW = np.zeros_like(self.W)
        self.b = np.zeros(n_out, dtype=dtype) if bias else None
        self.db = np.zeros(n_out, dtype=dtype) if bias else None
        # The training step's input, pre-activation and output (views of reused buffers).
        self.x: np.ndarray | None = None
        self.z: np.ndarray | None = None
        self.a: np.ndarray | None = None
        self._buffers: dict[int, tuple[np.ndarray, ...]] = {}
        self._n = -1  # the batch size of the buffers below
        self._bufs: tuple[np.ndarray, ...] = ()

    def bind(self, W: np.ndarray, dW: np.ndarray, b: np.ndarray | None, db: np.ndarray | None) -> None:
        """Move the parameters into the given arrays (views of the network's flat storage)."""
        W[...] = self.W
        dW[...] = self.dW
        self.W, self.dW = W, dW
        if self.b is not None:
            b[...] = self.b
            db[...] = self.db
            self.b, self.db = b, db

    def pre_activation(self, x: np.ndarray) -> np.ndarray:
        """z = x @ W + b, in a new array."""
        z = x @ self.W
        if self.b is not None:
            z += self.b
        return z

    def forward(self, x: np.ndarray) -> np.ndarray:
        """a = act(x @ W + b), in new arrays: for predictions, nothing is kept."""
        return self.activation.forward(self.pre_activation(x))

    # ---- the training path: buffers reused from batch to batch ---------------------------------

    def _buffers_for(self, n: int) -> tuple[np.ndarray, ...]:
        if n == self._n:
            return self._bufs
        bufs = self._buffers.get(n)
        if bufs is None:
            if len(self._buffers) >= _KEEP_BUFFERS:
                self._buffers.clear()
            n_in, n_out = self.W.shape
            dtype = self.W.dtype
            # z, a, scratch for the activation's backward, dL/dx for the layer below
            bufs = (np.empty((n, n_out), dtype), np.empty((n, n_out), dtype),
                    np.empty((n, n_out), dtype), np.empty((n, n_in), dtype))
            self._buffers[n] = bufs
        self._n, self._bufs = n, bufs
        return bufs

    def train_forward(self, x: np.ndarray) -> np.ndarray:
        """As :meth:`forward`, keeping ``x``, ``z`` and ``a`` for :meth:`backward`; ``z`` and ``a``
        live in reused buffers, valid until the next call with the same number of rows."""
        z, a, _, _ = self._bufs if len(x) == self._n else self._buffers_for(len(x))
        np.matmul(x, self.W, out=z)
        if self.b is not None:
            z += self.b
        self.x, self.z = x, z
        self.a = self.activation.forward_into(z, a)
        return self.a

    def backward(self, grad_a: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """dL/dz = act'(z) * dL/da (in place in ``grad_a``), then as :meth:`backward_z`."""
        # the buffers of the forward pass that made self.z
        grad_z = self.activation.backward(self.z, self.a, grad_a, self._bufs[2])
        return self.backward_z(grad_z, need_input_grad)

    def backward_z(self, grad_z: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """dL/dW = x.T @ dL/dz; dL/db = sum_n dL/dz; dL/dx = dL/dz @ W.T (into a reused buffer)"""
        if len(grad_z) == 1:
            np.multiply(self.x.T, grad_z, out=self.dW)  # the outer product: a matmul over 1 is slow
        else:
            np.matmul(self.x.T, grad_z, out=self.dW)
        if self.db is not None:
            np.add.reduce(grad_z, axis=0, out=self.db)  # np.sum without its Python wrapper
        if not need_input_grad:
            return None
        return np.matmul(grad_z, self.W.T, out=self._bufs[3])

    def params_and_grads(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        yield "W", self.W, self.dW
        if self.b is not None:
            yield "b", self.b, self.db
