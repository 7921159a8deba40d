"""Backprop against central differences for every activation, loss and layer position."""

import numpy as np
import pytest

from nnbench.engine import Network, NetworkSpec, gradcheck, losses
from nnbench.engine.activations import HIDDEN_ACTIVATIONS
from nnbench.engine.spec import LayerSpec

# (loss, output activation, outputs): fused pairs, unfused pairs and the regression case.
HEADS = [
    ("sse", "sigmoid", 1),
    ("mse", "linear", 2),
    ("mse", "tanh", 2),
    ("bce", "sigmoid", 1),
    ("bce", "sigmoid", 3),
    ("cross_entropy", "softmax", 4),
    ("mse", "softmax", 3),
    ("cross_entropy", "sigmoid", 3),
]


def _targets(rng, loss, k, n):
    if loss == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, n)]
    if loss == "bce":
        return rng.integers(0, 2, (n, k)).astype(float)
    return rng.normal(size=(n, k))


@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("loss,output,k", HEADS)
def test_backprop_matches_finite_differences(hidden, loss, output, k):
    rng = np.random.default_rng(7)
    net = Network(NetworkSpec.mlp([3, 5, 4, k], hidden, output, init="xavier"), rng)
    x = rng.normal(size=(6, 3))
    # Keep ReLU kinks away from the finite-difference step.
    x[np.abs(x) < 1e-3] = 0.5
    err = gradcheck.check(net, losses.get(loss), x, _targets(rng, loss, k, 6))
    assert err < 1e-6


def test_gradient_check_catches_a_wrong_gradient():
    rng = np.random.default_rng(0)
    net = Network(NetworkSpec.mlp([2, 3, 1], "tanh", "sigmoid"), rng)
    x, y = rng.normal(size=(5, 2)), rng.integers(0, 2, (5, 1)).astype(float)
    loss = losses.get("mse")
    net.loss_and_backward(x, y, loss)
    analytic = {name: g.copy() for name, _, g in net.params_and_grads()}
    analytic["layer0.W"][0, 0] += 0.1
    numeric = gradcheck.numerical_gradients(net, loss, x, y)
    assert gradcheck.relative_error(analytic["layer0.W"], numeric["layer0.W"]) > 1e-3


@pytest.mark.parametrize("bias", [True, False])
def test_layers_without_bias_and_single_neuron(bias):
    rng = np.random.default_rng(3)
    spec = NetworkSpec(3, (LayerSpec(1, "sigmoid", bias),), init="uniform")
    net = Network(spec, rng)
    x = rng.random((4, 3))
    y = rng.integers(0, 2, (4, 1)).astype(float)
    assert gradcheck.check(net, losses.get("sse"), x, y) < 1e-6
    assert len(list(net.params_and_grads())) == (2 if bias else 1)


def test_float32_network_trains_in_float32():
    rng = np.random.default_rng(0)
    net = Network(NetworkSpec.mlp([4, 8, 3], "relu", "softmax", dtype="float32"), rng)
    x = rng.normal(size=(10, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 10)]
    net.loss_and_backward(x, y, losses.get("cross_entropy"))
    assert all(p.dtype == np.float32 and g.dtype == np.float32 for _, p, g in net.params_and_grads())
    assert net.predict(x).dtype == np.float32
