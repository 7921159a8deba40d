"""Finite-difference gradient check: compares backprop with central differences."""

from __future__ import annotations

import numpy as np

from nnbench.engine.losses import Loss
from nnbench.engine.network import Network


def numerical_gradients(net: Network, loss: Loss, x: np.ndarray, y: np.ndarray,
                        h: float = 1e-6) -> dict[str, np.ndarray]:
    """dL/dp for every parameter by (L(p + h) - L(p - h)) / 2h, one entry at a time.

    This is the "numerical_gradient" of the from-scratch MNIST tutorial: two full forward
    passes per parameter, which is why nobody trains this way.
    """
    grads = {}
    for name, p, _ in net.params_and_grads():
        g = np.zeros_like(p)
        flat_p, flat_g = p.reshape(-1), g.reshape(-1)
        for i in range(flat_p.size):
            keep = flat_p[i]
            flat_p[i] = keep + h
            up = net.loss(x, y, loss)[0]
            flat_p[i] = keep - h
            down = net.loss(x, y, loss)[0]
            flat_p[i] = keep
            flat_g[i] = (up - down) / (2 * h)
        grads[name] = g
    return grads


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a| + |b|, tiny): 0 for equal arrays, ~1 for unrelated ones."""
    denom = max(float(np.max(np.abs(a) + np.abs(b))), 1e-12)
    return float(np.max(np.abs(a - b))) / denom


def check(net: Network, loss: Loss, x: np.ndarray, y: np.ndarray, h: float = 1e-6) -> float:
    """The largest relative error between backprop and numerical gradients, over all params."""
    net.loss_and_backward(x, y, loss)
    analytic = {name: g.copy() for name, _, g in net.params_and_grads()}
    numeric = numerical_gradients(net, loss, x, y, h)
    return max(relative_error(analytic[k], numeric[k]) for k in analytic)
