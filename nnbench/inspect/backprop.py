"""Backpropagation written out: every layer's forward values, the loss, then backwards each
layer's delta and gradients, with the formula of each step as the tutorials write it.

The numbers come from the engine's own pieces (``Dense.forward``, the loss's ``grad`` or
``grad_logits``, the activation's ``backward``, ``Dense.backward_z``) on a copy of the network,
and :func:`step` applies one update with the engine's own trainer; a test holds the gradients to
``Network.loss_and_backward``'s, so the inspector cannot show maths the engine does not do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnbench.engine import Network, TrainConfig, Trainer, losses
from nnbench.inspect import work_copy

# d a / d z for each activation, as the tutorials write it ("a" is the layer's output).
DERIVATIVES = {
    "sigmoid": "a{l} * (1 - a{l})",
    "tanh": "1 - a{l}^2",
    "relu": "[z{l} > 0]",
    "leaky_relu": "(1 if z{l} > 0 else 0.01)",
    "linear": "1",
}
LOSS_FORMULAS = {
    "sse": ("L = sum((a{L} - y)^2)", "dL/da{L} = 2 * (a{L} - y)"),
    "mse": ("L = mean((a{L} - y)^2)", "dL/da{L} = 2 * (a{L} - y) / size"),
    "bce": ("L = -mean_n sum_k [y log a{L} + (1 - y) log(1 - a{L})]",
            "dL/da{L} = (a{L} - y) / (a{L} * (1 - a{L})) / n"),
    "cross_entropy": ("L = -mean_n sum_k y log a{L}", "dL/da{L} = -y / a{L} / n"),
}
FUSED = {
    "bce": "delta{L} = dL/dz{L} = (a{L} - y) / n   (sigmoid and cross-entropy together)",
    "cross_entropy": "delta{L} = dL/dz{L} = (a{L} - y) / n   (softmax and cross-entropy together)",
}


@dataclass(frozen=True, eq=False)
class LayerTrace:
    """One layer of one forward and backward pass; ``number`` counts from 1 (a0 is the input)."""

    number: int
    activation: str
    a_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray | None
    z: np.ndarray
    a: np.ndarray
    grad_a: np.ndarray | None  # dL/da; None for an output fused with its loss
    delta: np.ndarray  # dL/dz
    dW: np.ndarray
    db: np.ndarray | None
    forward: tuple[str, ...]  # the forward formulas, in order
    backward: tuple[str, ...]  # the backward formulas, in order


@dataclass(frozen=True, eq=False)
class Trace:
    loss_name: str
    loss: float
    loss_formula: str
    x: np.ndarray  # a0: what the first layer sees (input features computed, if any)
    y: np.ndarray
    layers: tuple[LayerTrace, ...]

    @property
    def output(self) -> np.ndarray:
        return self.layers[-1].a

    def gradients(self) -> dict[str, np.ndarray]:
        """``{"layer0.W": dW, ...}``: the names of ``Network.params_and_grads``."""
        out = {}
        for i, t in enumerate(self.layers):
            out[f"layer{i}.W"] = t.dW
            if t.db is not None:
                out[f"layer{i}.b"] = t.db
        return out


def trace(net: Network, loss_name: str, x: np.ndarray, y: np.ndarray) -> Trace:
    """Forward and backward through a copy of ``net`` on the rows ``x`` (targets ``y``)."""
    work = work_copy(net, None)
    loss = losses.get(loss_name)
    x = np.asarray(x, dtype=work.dtype)
    y = np.asarray(y, dtype=work.dtype)
    if x.ndim == 1:
        x, y = x.reshape(1, -1), y.reshape(1, -1)
    a = x0 = work.featurize(x)
    for layer in work.layers:
        a = layer.train_forward(a)  # keeps x, z and a for the backward pass
    n_layers = len(work.layers)
    last = work.layers[-1]
    fused = loss.fused_activation == last.activation.name
    loss_formula, grad_formula = (f.replace("{L}", str(n_layers)) for f in LOSS_FORMULAS[loss_name])
    if fused:
        value = loss.value_from_logits(last.z, a, y)
        grad_a, delta = None, loss.grad_logits(a, y)
    else:
        value = loss.value(a, y)
        grad_a = loss.grad(a, y)
        # The engine's backward works in place: hand it copies, keep the values to show.
        delta = last.activation.backward(last.z, last.a, grad_a.copy(), np.empty_like(last.z))
    traces: list[LayerTrace] = []
    for i in range(n_layers - 1, -1, -1):
        layer, number = work.layers[i], i + 1
        grad_x = layer.backward_z(delta, need_input_grad=i > 0)
        traces.append(LayerTrace(
            number, layer.activation.name, layer.x.copy(), layer.W.copy(),
            None if layer.b is None else layer.b.copy(), layer.z.copy(), layer.a.copy(),
            None if grad_a is None else grad_a.copy(), delta.copy(), layer.dW.copy(),
            None if layer.db is None else layer.db.copy(),
            _forward_formulas(number, layer.activation.name, layer.b is not None),
            _backward_formulas(number, n_layers, layer.activation.name, layer.b is not None,
                               fused, grad_formula, loss_name),
        ))
        if i > 0:
            below = work.layers[i - 1]
            grad_a = grad_x.copy()  # a buffer the layer reuses
            delta = below.activation.backward(below.z, below.a, grad_a.copy(), np.empty_like(below.z))
    return Trace(loss_name, float(value), loss_formula, x0.copy(), y.copy(), tuple(reversed(traces)))


def _forward_formulas(k: int, act: str, bias: bool) -> tuple[str, ...]:
    z = f"z{k} = a{k - 1} @ W{k}" + (f" + b{k}" if bias else "")
    return z, f"a{k} = {act}(z{k})"


def _backward_formulas(k: int, n: int, act: str, bias: bool, fused: bool, grad_formula: str,
                       loss_name: str) -> tuple[str, ...]:
    deriv = DERIVATIVES.get(act, f"{act}'(z{k})").replace("{l}", str(k))
    if k == n:
        if fused:
            steps = [FUSED[loss_name].replace("{L}", str(n))]
        elif act == "softmax":
            steps = [grad_formula, f"delta{k} = a{k} * (dL/da{k} - sum_k(dL/da{k} * a{k}))"]
        else:
            steps = [grad_formula, f"delta{k} = dL/da{k} * {deriv}"]
    else:
        steps = [f"dL/da{k} = delta{k + 1} @ W{k + 1}.T", f"delta{k} = dL/da{k} * {deriv}"]
    steps.append(f"dL/dW{k} = a{k - 1}.T @ delta{k}")
    if bias:
        steps.append(f"dL/db{k} = sum over rows of delta{k}")
    return tuple(steps)


def step(net: Network, config: TrainConfig, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """The weights after one update on ``x``, by the engine's own trainer on a copy of ``net``
    (with a fresh optimizer: for momentum and Adam, the first step of a run)."""
    work = work_copy(net, None)
    x = np.asarray(x, dtype=work.dtype)
    y = np.asarray(y, dtype=work.dtype)
    trainer = Trainer(work, config.replace(gradients="backprop"), x, y)
    trainer.train_step(x, y)
    return work.weights()
