"""The instruments' maths (Qt-free): the inspector's numbers are the engine's, the gradient
check catches a broken backward pass, the Hessian's top eigenvalue matches the dense one, and
2 / lambda_max is the stability limit of gradient descent through the engine."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnbench import commands as cmd
from nnbench import presets
from nnbench.bench import Bench
from nnbench.engine import LayerSpec, Network, NetworkSpec, TrainConfig, Trainer, activations, losses
from nnbench.errors import TrainingDiverged
from nnbench.inspect import (
    Cancelled,
    Progress,
    backprop,
    curvature,
    gradcheck,
    landscape,
    lr_finder,
    training_batch,
    work_copy,
)


def xor_bench() -> Bench:
    return Bench.from_experiment(presets.load_preset("xor-mlp"))


TANH_6_6 = (LayerSpec(6, "tanh"), LayerSpec(6, "tanh"))


def spiral_bench(hidden=TANH_6_6, rows: int = 60) -> Bench:
    bench = Bench()
    bench.apply(cmd.SwitchData(source={"kind": "generator", "name": "spiral", "n": rows, "noise": 0.0,
                                       "seed": 1}, hidden=hidden))
    return bench


NETS = {
    "xor-mlp (sigmoid, sse, no bias)": xor_bench,
    "spiral 2-6-6-1 tanh, bce": spiral_bench,
}


@pytest.mark.parametrize("make", NETS.values(), ids=NETS.keys())
def test_inspector_gradients_are_the_engines(make):
    bench = make()
    net, config = bench.net, bench.config
    x, y = training_batch(bench.dataset)
    t = backprop.trace(net, config.loss, x, y)
    engine = work_copy(net, None)
    value = engine.loss_and_backward(x, y, losses.get(config.loss))
    assert t.loss == pytest.approx(value, rel=1e-12)
    grads = t.gradients()
    names = [name for name, _, _ in engine.params_and_grads()]
    assert sorted(grads) == sorted(names)
    for name, _, g in engine.params_and_grads():
        np.testing.assert_allclose(grads[name], g, rtol=1e-10, atol=1e-14)
    # every layer's dL/dW is a_prev.T @ delta, as its formula says
    for layer in t.layers:
        np.testing.assert_allclose(layer.dW, layer.a_prev.T @ layer.delta, rtol=1e-12, atol=1e-15)
        assert f"dL/dW{layer.number} = a{layer.number - 1}.T @ delta{layer.number}" in layer.backward
    np.testing.assert_allclose(t.output, net.predict(x), rtol=1e-12)
    assert bench.net.flat_params.tobytes() == net.flat_params.tobytes()  # the live net untouched


def test_inspector_step_is_the_engines_update():
    bench = xor_bench()
    net, config = bench.net, bench.config
    x, y = training_batch(bench.dataset)
    before = net.weights()
    after = backprop.step(net, config, x, y)
    t = backprop.trace(net, config.loss, x, y)
    for name, g in t.gradients().items():  # plain SGD: W - lr dL/dW
        np.testing.assert_allclose(after[name], before[name] - config.lr * g, rtol=1e-12)
    bench.apply(cmd.Step(1))
    bench.run_until_stopped()
    for name, w in bench.net.weights().items():
        np.testing.assert_allclose(w, after[name], rtol=1e-12)


def test_softmax_output_is_fused_with_its_loss():
    spec = NetworkSpec(3, (LayerSpec(4, "relu"), LayerSpec(3, "softmax")))
    net = Network(spec, np.random.default_rng(2))
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((5, 3)), np.eye(3)[rng.integers(0, 3, 5)]
    t = backprop.trace(net, "cross_entropy", x, y)
    assert t.layers[-1].grad_a is None and "softmax" in t.layers[-1].backward[0]
    np.testing.assert_allclose(t.layers[-1].delta, (t.output - y) / 5, rtol=1e-12)


def test_gradient_check_agrees_with_a_correct_backward_pass():
    bench = spiral_bench()
    x, y = training_batch(bench.dataset, 20)
    result = gradcheck.check(bench.net, bench.config.loss, x, y)
    assert result.verdict == "agree" and result.error < 1e-6
    assert [layer.number for layer in result.layers] == [1, 2, 3]
    assert all(layer.checked == layer.total for layer in result.layers)


def test_gradient_check_catches_a_wrong_derivative(monkeypatch):
    bench = xor_bench()
    x, y = training_batch(bench.dataset)
    assert gradcheck.check(bench.net, "sse", x, y).verdict == "agree"

    # The sigmoid's derivative with the (1 - a) factor forgotten (the engine's backward works in place).
    def wrong(self, z, a, grad, scratch):
        grad *= a
        return grad

    monkeypatch.setattr(activations.Sigmoid, "backward", wrong)
    result = gradcheck.check(bench.net, "sse", x, y)
    assert result.verdict == "wrong"
    assert all(layer.verdict == "wrong" for layer in result.layers)


def test_gradient_check_samples_big_layers_and_can_be_cancelled():
    spec = NetworkSpec(30, (LayerSpec(40, "tanh"), LayerSpec(2, "softmax")))
    net = Network(spec, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 30)), np.eye(2)[rng.integers(0, 2, 8)]
    result = gradcheck.check(net, "cross_entropy", x, y, per_layer=50)
    assert [layer.checked for layer in result.layers] == [50, 50]
    assert result.layers[0].total == 30 * 40 + 40 and result.verdict == "agree"
    seen = []
    progress = Progress(lambda done, total: (seen.append(done), progress.cancel()))
    with pytest.raises(Cancelled):
        gradcheck.check(net, "cross_entropy", x, y, progress=progress)
    assert len(seen) == 1


HESSIAN_NETS = {
    "xor-mlp": xor_bench,
    "spiral 2-6-6-1 tanh": spiral_bench,
    "spiral 2-8-8-1 sigmoid": lambda: spiral_bench((LayerSpec(8, "sigmoid"), LayerSpec(8, "sigmoid")), 40),
}


@pytest.mark.parametrize("make", HESSIAN_NETS.values(), ids=HESSIAN_NETS.keys())
def test_power_iteration_matches_the_dense_hessian(make):
    bench = make()
    bench.apply(cmd.Step(30))  # off the initial weights
    bench.run_until_stopped()
    x, y = training_batch(bench.dataset)
    f = curvature.LossFunction(bench.net, bench.config.loss, x, y)
    assert f.size < 200
    dense = np.linalg.eigvalsh(curvature.hessian_from_values(f))[-1]  # loss values only, no backprop
    power = curvature.top_eigenvalue(f, iters=3000, tol=1e-13)
    assert power.converged
    assert abs(power.lambda_max - dense) / abs(dense) < 1e-4
    assert abs(curvature.dense_top_eigenvalue(f).lambda_max - dense) / abs(dense) < 1e-4


def quadratic(seed: int = 0):
    """A linear unit under the mean squared error: L(w) = mean((Xw - y)^2), Hessian 2 X'X / n."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((50, 3)) * np.array([3.0, 1.0, 0.5])
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.standard_normal((50, 1))
    net = Network(NetworkSpec(3, (LayerSpec(1, "linear", bias=False),)), np.random.default_rng(seed))
    return net, x, y, float(np.linalg.eigvalsh(2 * x.T @ x / len(x))[-1])


def train_quadratic(net, x, y, lr, steps=400):
    trainer = Trainer(work_copy(net), TrainConfig(loss="mse", optimizer="sgd", lr=lr, shuffle=False), x, y)
    first = trainer.evaluate(x, y)["loss"]
    try:
        trainer.run(steps)
    except TrainingDiverged:
        return first, math.inf
    return first, trainer.evaluate(x, y)["loss"]


def test_stability_limit_on_a_quadratic_through_the_engine():
    net, x, y, known = quadratic()
    lam = curvature.top_eigenvalue(curvature.LossFunction(net, "mse", x, y), iters=500, tol=1e-12).lambda_max
    assert lam == pytest.approx(known, rel=1e-6)
    best = float(np.mean((x @ np.linalg.lstsq(x, y, rcond=None)[0] - y) ** 2))
    first, last = train_quadratic(net, x, y, 1.9 / lam)
    assert last == pytest.approx(best, rel=1e-6)
    first, last = train_quadratic(net, x, y, 2.1 / lam)
    assert last > 1e6 * first  # diverged (the trainer raises once it explodes)
    assert curvature.stability_limit(lam) == pytest.approx(2 / known, rel=1e-6)


def test_lr_finder_leaves_the_network_alone_and_suggests_a_working_rate():
    net, x, y, known = quadratic(1)
    before = net.flat_params.copy()
    config = TrainConfig(loss="mse", optimizer="sgd", lr=0.001, shuffle=False)
    result = lr_finder.find(net, config, x, y, lr_min=1e-4, lr_max=10.0, steps=100)
    assert np.array_equal(net.flat_params, before)
    assert result.stopped in ("blew up", "diverged")  # 10 is far past 2 / lambda here
    assert np.all(np.diff(result.lrs) > 0) and len(result.lrs) == len(result.losses)
    assert 1e-4 < result.suggested < 2 / known
    _, last = train_quadratic(net, x, y, result.suggested, steps=200)
    assert last < 0.1 * float(np.mean(y ** 2))


def test_landscape_line_ends_at_the_two_weights_and_plane_centre_is_the_loss():
    bench = spiral_bench()
    start = Network(bench.spec, np.random.default_rng(bench.meta.net_seed)).flat_params.copy()
    bench.apply(cmd.Step(20))
    bench.run_until_stopped()
    x, y = training_batch(bench.dataset)
    f = landscape.Evaluator(bench.net, bench.config.loss, x, y)
    line = landscape.line(f, start, f.center, points=11, beyond=0.0)
    assert line.alphas[0] == 0.0 and line.alphas[-1] == 1.0
    assert line.losses[-1] == pytest.approx(bench.net.loss(x, y, losses.get("bce"))[0], rel=1e-12)
    fresh = Network(bench.spec, np.random.default_rng(bench.meta.net_seed))
    assert line.losses[0] == pytest.approx(fresh.loss(x, y, losses.get("bce"))[0], rel=1e-12)
    plane = landscape.random_plane(f, points=5, span=0.5)
    assert plane.losses.shape == (5, 5)
    assert plane.losses[2, 2] == pytest.approx(line.losses[-1], rel=1e-12)


def test_filter_normalised_direction_matches_each_neurons_norm():
    net = Network(NetworkSpec(2, (LayerSpec(5, "tanh"), LayerSpec(1, "sigmoid"))), np.random.default_rng(0))
    d = landscape.filter_normalized(net, np.random.default_rng(1))
    dn = work_copy(net)
    dn.flat_params[...] = d
    for mine, theirs in zip(dn.layers, net.layers, strict=True):
        np.testing.assert_allclose(np.linalg.norm(mine.W, axis=0), np.linalg.norm(theirs.W, axis=0))
        assert not np.any(mine.b)


def test_pca_of_a_path_on_a_plane_recovers_it():
    rng = np.random.default_rng(0)
    center = rng.standard_normal(20)
    u, v = np.linalg.qr(rng.standard_normal((20, 2)))[0].T
    coords = rng.standard_normal((12, 2)) * [3.0, 1.0]
    path = center + coords[:, :1] * u + coords[:, 1:] * v
    d1, d2, explained = landscape.pca_directions(path, center)
    assert sum(explained) == pytest.approx(1.0)
    back = landscape.project(path, center, d1, d2)
    np.testing.assert_allclose(center + back[:, :1] * d1 + back[:, 1:] * d2, path, atol=1e-10)
