"""A feed-forward network built from a :class:`NetworkSpec`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from nnbench.engine import features as feature_maps
from nnbench.engine.initializers import INITIALIZERS
from nnbench.engine.layers import Dense
from nnbench.engine.losses import Loss
from nnbench.engine.spec import NetworkSpec
from nnbench.errors import IncompatibleError, SpecError


class Param(NamedTuple):
    name: str  # "layer0.W", "layer0.b", ...
    value: np.ndarray
    grad: np.ndarray


class Parameters:
    """Every parameter with its gradient, by name and in order: ``for name, p, g in params``.

    ``p`` and ``g`` are views of two flat arrays, ``flat`` = (all parameters, all gradients),
    which is how an optimizer updates everything in a few whole-array operations.
    """

    def __init__(self, entries: list[tuple[str, np.ndarray, np.ndarray]],
                 params: np.ndarray, grads: np.ndarray) -> None:
        self._entries = [Param(*e) for e in entries]
        self.flat = (params, grads)

    def __iter__(self) -> Iterator[Param]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def weights(self) -> Iterator[Param]:
        """The weight matrices alone (what a penalty applies to), not the biases."""
        return (e for e in self._entries if e.name.endswith(".W"))


def _all_finite(arr: np.ndarray, rows: int = 4096) -> bool:
    """np.isfinite(arr).all(), a block of rows at a time (no mask as large as the data)."""
    return all(np.isfinite(arr[i : i + rows]).all() for i in range(0, len(arr), rows))


class Network:
    def __init__(self, spec: NetworkSpec, rng: np.random.Generator | None = None) -> None:
        self.spec = spec
        self.dtype = np.dtype(spec.dtype)
        self.features = spec.features  # None: the first layer sees the raw inputs
        sizes = spec.sizes
        self.layers = [
            Dense(n_in, n_out, layer.activation, layer.bias, self.dtype)
            for n_in, n_out, layer in zip(sizes, sizes[1:], spec.layers, strict=False)
        ]
        self._flatten()
        self._grad_out: np.ndarray | None = None
        self.initialize(rng if rng is not None else np.random.default_rng(0))

    def _flatten(self) -> None:
        # Every parameter (and every gradient) is a view into one flat array, in layer order,
        # so an optimizer step or a weight copy is one operation.
        named = [(f"layer{i}.{name}", p.shape) for i, layer in enumerate(self.layers)
                 for name, p, _ in layer.params_and_grads()]
        total = sum(int(np.prod(shape)) for _, shape in named)
        self.flat_params = np.zeros(total, dtype=self.dtype)
        self.flat_grads = np.zeros(total, dtype=self.dtype)
        views, offset = {}, 0
        for name, shape in named:
            n = int(np.prod(shape))
            views[name] = (self.flat_params[offset : offset + n].reshape(shape),
                           self.flat_grads[offset : offset + n].reshape(shape))
            offset += n
        for i, layer in enumerate(self.layers):
            W, dW = views[f"layer{i}.W"]
            b, db = views.get(f"layer{i}.b", (None, None))
            layer.bind(W, dW, b, db)
        entries = [(name, *views[name]) for name, _ in named]
        self._params = Parameters(entries, self.flat_params, self.flat_grads)

    def initialize(self, rng: np.random.Generator) -> None:
        """Fresh weights from the spec's initialiser; biases start at zero."""
        init = INITIALIZERS[self.spec.init]
        for layer in self.layers:
            init(rng, *layer.W.shape, layer.W)
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

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The outputs for rows already checked (see :meth:`predict`), in new arrays."""
        x = self.featurize(x)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def predict(self, x: np.ndarray, chunk: int = 8192) -> np.ndarray:
        """Outputs for any number of rows, in chunks so memory stays bounded."""
        x = self._check_input(x)
        if len(x) <= chunk:
            return self.forward(x)
        return np.concatenate([self.forward(x[i : i + chunk]) for i in range(0, len(x), chunk)])

    def activations(self, x: np.ndarray) -> list[np.ndarray]:
        """Every layer's output for ``x`` in one pass (the per-neuron views use this)."""
        x = self.featurize(self._check_input(x))
        out = []
        for layer in self.layers:
            x = layer.forward(x)
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

    def check_batch(self, x: np.ndarray, y: np.ndarray) -> None:
        """Refuse rows and targets the network cannot learn from, with a message saying why."""
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise IncompatibleError(f"the network takes rows of {self.n_inputs} input(s), "
                                    f"got shape {x.shape}")
        if y.ndim != 2 or y.shape[1] != self.n_outputs:
            hint = " (use y.reshape(-1, 1) for one output)" if y.ndim == 1 and self.n_outputs == 1 else ""
            raise IncompatibleError(f"the targets must be rows of {self.n_outputs} value(s), "
                                    f"got shape {y.shape}{hint}")
        if len(x) != len(y):
            raise IncompatibleError(f"{len(x)} input rows but {len(y)} target rows")
        if len(x) == 0:
            raise SpecError("no rows to train on")
        for what, arr in (("inputs", x), ("targets", y)):
            if arr.dtype.kind not in "fiub":
                raise IncompatibleError(f"the {what} must be numbers, got {arr.dtype}")
            if arr.dtype.kind == "f" and not _all_finite(arr):
                raise SpecError(f"the {what} hold NaN or infinite values: "
                                "training would make every weight NaN")

    def loss_and_backward(self, x: np.ndarray, y: np.ndarray, loss: Loss) -> float:
        """Forward, loss and every parameter gradient for one batch; returns the loss.

        The rows and targets are checked first (:meth:`check_batch`). Runs in buffers reused
        from batch to batch: the layers' ``x``, ``z`` and ``a`` are valid until the next call
        only (copy them to keep them).
        """
        self.check_batch(x, y)
        return self.train_pass(np.asarray(x), np.asarray(y, dtype=self.dtype), loss)

    def train_pass(self, x: np.ndarray, y: np.ndarray, loss: Loss) -> float:
        """:meth:`loss_and_backward` for rows already checked (the training loop's path)."""
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        a = x if self.features is None else self.featurize(x)
        for layer in self.layers:
            a = layer.train_forward(a)
        last = self.layers[-1]
        deep = len(self.layers) > 1
        out = self._grad_out
        if out is None or out.shape != a.shape:
            out = self._grad_out = np.empty_like(a)
        if loss.fused_activation == last.activation.name:
            value = loss.value_from_logits(last.z, a, y)
            grad = last.backward_z(loss.grad_logits(a, y, out=out), deep)
        else:
            value = loss.value_and_grad(a, y, out)
            grad = last.backward(out, deep)
        for i in range(len(self.layers) - 2, -1, -1):
            grad = self.layers[i].backward(grad, i > 0)
        return value

    def train_loss(self, x: np.ndarray, y: np.ndarray, loss: Loss) -> float:
        """The loss exactly as :meth:`train_pass` computes it, through the same reused buffers
        (no gradients): the test set's evaluation allocates nothing per chunk."""
        a = self.featurize(x if x.dtype == self.dtype else x.astype(self.dtype))
        for layer in self.layers:
            a = layer.train_forward(a)
        last = self.layers[-1]
        if loss.fused_activation == last.activation.name:
            return loss.value_from_logits(last.z, a, y)
        return loss.value(a, y)

    def loss(self, x: np.ndarray, y: np.ndarray, loss: Loss) -> tuple[float, np.ndarray]:
        """The loss exactly as :meth:`loss_and_backward` computes it, and the outputs, in new arrays."""
        h = self.featurize(x)
        for layer in self.layers[:-1]:
            h = layer.forward(h)
        last = self.layers[-1]
        z = last.pre_activation(h)
        a = last.activation.forward(z)
        if loss.fused_activation == last.activation.name:
            return loss.value_from_logits(z, a, y), a
        return loss.value(a, y), a

    def params_and_grads(self) -> Parameters:
        """``("layer0.W", W, dW), ...``: the one way optimizers, the penalty, the gradient check
        and files reach the parameters (views of :attr:`flat_params` and :attr:`flat_grads`)."""
        return self._params

    def weights(self) -> dict[str, np.ndarray]:
        """Copies of every parameter by name."""
        return {name: p.copy() for name, p, _ in self.params_and_grads()}

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Replace every parameter; checks all names and shapes before changing anything."""
        params = {name: p for name, p, _ in self.params_and_grads()}
        missing = sorted(set(params) - set(weights))
        extra = sorted(set(weights) - set(params))
        if missing or extra:
            raise IncompatibleError(f"weights do not match the network: missing {missing}, "
                                    f"unexpected {extra}")
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
        for depth, (mine, theirs) in enumerate(zip(self.layers, other.layers, strict=False)):
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
