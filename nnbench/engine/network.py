"""A feed-forward network built from a :class:`NetworkSpec`."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nnbench.engine import features as feature_maps
from nnbench.engine.initializers import INITIALIZERS
from nnbench.engine.layers import Dense
from nnbench.engine.losses import Loss
from nnbench.engine.spec import NetworkSpec
from nnbench.errors import IncompatibleError


class Network:
    def __init__(self, spec: NetworkSpec, rng: np.random.Generator | None = None) -> None:
        self.spec = spec
        self.dtype = np.dtype(spec.dtype)
        self.features = spec.features  # None: the first layer sees the raw inputs
        sizes = spec.sizes
        self.layers = [
            Dense(n_in, n_out, layer.activation, layer.bias, self.dtype)
            for n_in, n_out, layer in zip(sizes, sizes[1:], spec.layers)
        ]
        self._flatten()
        self._grad_out: np.ndarray | None = None
        self.initialize(rng if rng is not None else np.random.default_rng(0))

    def _flatten(self) -> None:
        # Every parameter (and every gradient) is a view into one flat array, in
        # params_and_grads order, so an optimizer step or a weight copy is one operation.
        shapes = [p.shape for _, p, _ in self.params_and_grads()]
        total = sum(int(np.prod(s)) for s in shapes)
        self.flat_params = np.zeros(total, dtype=self.dtype)
        self.flat_grads = np.zeros(total, dtype=self.dtype)
        offset = 0

        def views(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
            nonlocal offset
            n = int(np.prod(shape))
            p = self.flat_params[offset : offset + n].reshape(shape)
            g = self.flat_grads[offset : offset + n].reshape(shape)
            offset += n
            return p, g

        for layer in self.layers:
            W, dW = views(layer.W.shape)
            b, db = views(layer.b.shape) if layer.b is not None else (None, None)
            layer.bind(W, dW, b, db)

    def initialize(self, rng: np.random.Generator) -> None:
        """Fresh weights from the spec's initialiser; biases start at zero."""
        init = INITIALIZERS[self.spec.init]
        for layer in self.layers:
            layer.W[...] = init(rng, *layer.W.shape, self.dtype)
            if layer.b is not None:
                layer.b[...] = 0.0

    def __repr__(self) -> str:
        parts = [str(self.spec.n_inputs) if self.features is None else f"2[{','.join(self.features)}]"]
        parts += [f"{layer.W.shape[1]}[{layer.activation.name}]" for layer in self.layers]
        return f"Network({'-'.join(parts)}, init={self.spec.init}, {self.spec.dtype})"

    @property
    def n_inputs(self) -> int:
        return self.spec.n_inputs

    @property
    def n_outputs(self) -> int:
        return self.spec.output.units

    def featurize(self, x: np.ndarray) -> np.ndarray:
        """What the first layer sees: the raw rows, or the input features computed from them."""
        return x if self.features is None else feature_maps.expand(x, self.features)

    def forward(self, x: np.ndarray, keep: bool = True) -> np.ndarray:
        x = self.featurize(x)
        for layer in self.layers:
            x = layer.forward(x, keep)
        return x

    def predict(self, x: np.ndarray, chunk: int = 8192) -> np.ndarray:
        """Outputs for any number of rows, in chunks so memory stays bounded."""
        x = self._check_input(x)
        if len(x) <= chunk:
            return self.forward(x, keep=False)
        return np.concatenate([self.forward(x[i : i + chunk], keep=False) for i in range(0, len(x), chunk)])

    def activations(self, x: np.ndarray) -> list[np.ndarray]:
        """Every layer's output for ``x`` in one pass (the per-neuron views use this)."""
        x = self.featurize(self._check_input(x))
        out = []
        for layer in self.layers:
            x = layer.forward(x, keep=False)
            out.append(x)
        return out

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise IncompatibleError(
                f"this network takes {self.n_inputs} input(s) per row, got shape {x.shape}"
            )
        return x

    def loss_and_backward(self, x: np.ndarray, y: np.ndarray, loss: Loss) -> float:
        """Forward, loss and every parameter gradient for one batch; returns the loss.

        Runs in buffers reused from batch to batch: the layers' ``x``, ``z`` and ``a`` are valid
        until the next call only (copy them to keep them).
        """
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        a = self.featurize(x)
        for layer in self.layers:
            a = layer.train_forward(a)
        last = self.layers[-1]
        deep = len(self.layers) > 1
        out = self._grad_out
        if out is None or out.shape != a.shape:
            out = self._grad_out = np.empty_like(a)
        if loss.fused_activation == last.activation.name:
            value = loss.value_from_logits(last.z, a, y)
            grad = last.train_backward_z(loss.grad_logits(a, y, out=out), deep)
        else:
            value = loss.value(a, y)
            grad = last.train_backward(loss.grad(a, y, out=out), deep)
        for i in range(len(self.layers) - 2, -1, -1):
            grad = self.layers[i].train_backward(grad, i > 0)
        return value

    def loss(self, x: np.ndarray, y: np.ndarray, loss: Loss) -> tuple[float, np.ndarray]:
        """The loss exactly as :meth:`loss_and_backward` computes it, and the outputs."""
        a = self.forward(x)
        last = self.layers[-1]
        if loss.fused_activation == last.activation.name:
            return loss.value_from_logits(last.z, a, y), a
        return loss.value(a, y), a

    def params_and_grads(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """``("layer0.W", W, dW), ...``: what optimizers, the gradient check and files use."""
        for i, layer in enumerate(self.layers):
            for name, p, g in layer.params_and_grads():
                yield f"layer{i}.{name}", p, g

    def weights(self) -> dict[str, np.ndarray]:
        """Copies of every parameter by name."""
        return {name: p.copy() for name, p, _ in self.params_and_grads()}

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Replace every parameter; checks all names and shapes before changing anything."""
        params = {name: p for name, p, _ in self.params_and_grads()}
        missing = sorted(set(params) - set(weights))
        extra = sorted(set(weights) - set(params))
        if missing or extra:
            raise IncompatibleError(f"weights do not match the network: missing {missing}, unexpected {extra}")
        for name, p in params.items():
            w = np.asarray(weights[name])
            if w.shape != p.shape:
                raise IncompatibleError(f"{name} has shape {w.shape}, the network needs {p.shape}")
        for name, p in params.items():
            p[...] = weights[name]

    def adopt(self, other: Network) -> None:
        """Keep what still applies from ``other``: the overlapping block of every layer pair
        that sits at the same depth. New neurons and layers keep their fresh initialisation.
        First-layer rows of 2-D nets follow the input features by name, so switching a feature
        on or off keeps the weights of the features that stay."""
        mine_in, theirs_in = self.spec.input_names, other.spec.input_names
        for depth, (mine, theirs) in enumerate(zip(self.layers, other.layers)):
            c = min(mine.W.shape[1], theirs.W.shape[1])
            if depth == 0 and mine_in is not None and theirs_in is not None:
                for r, name in enumerate(mine_in):
                    if name in theirs_in:
                        mine.W[r, :c] = theirs.W[theirs_in.index(name), :c]
            else:
                r = min(mine.W.shape[0], theirs.W.shape[0])
                mine.W[:r, :c] = theirs.W[:r, :c]
            if mine.b is not None and theirs.b is not None:
                mine.b[:c] = theirs.b[:c]
