import math

import numpy as np
import pytest

from nnbench.engine import Network, NetworkSpec, TrainConfig, Trainer
from nnbench.engine.initializers import INITIALIZERS
from nnbench.engine.spec import LayerSpec
from nnbench.errors import IncompatibleError, SpecError, TrainingDiverged

XOR3_X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
XOR3_Y = np.array([[0], [1], [1], [0]], dtype=float)


def test_xor_table_reaches_low_loss_in_1500_seeded_steps():
    net = Network(NetworkSpec.mlp([3, 4, 1], "sigmoid", "sigmoid", init="uniform"), np.random.default_rng(1))
    trainer = Trainer(net, TrainConfig(loss="sse", optimizer="sgd", lr=1.0, seed=1), XOR3_X, XOR3_Y)
    history = trainer.run(1500)
    loss = history.column("train_loss")
    assert len(loss) == 1500
    assert loss[-1] < 0.01, loss[-1]
    out = net.predict(XOR3_X).ravel()
    assert np.all(np.abs(out - XOR3_Y.ravel()) < 0.1), out


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.5), ("momentum", 0.1), ("adam", 0.01)])
def test_every_optimizer_learns_2d_xor_with_minibatches(optimizer, lr):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (200, 2))
    y = ((x[:, 0] * x[:, 1]) > 0).astype(float)[:, None]
    net = Network(NetworkSpec.mlp([2, 8, 8, 1], "tanh", "sigmoid"), np.random.default_rng(0))
    trainer = Trainer(net, TrainConfig(loss="bce", optimizer=optimizer, lr=lr, batch_size=20, seed=0), x, y)
    trainer.run(150)
    assert trainer.history.last("train_acc") > 0.9


@pytest.mark.parametrize("init", list(INITIALIZERS))
def test_initialisers_are_seeded_and_scaled(init):
    spec = NetworkSpec.mlp([50, 40, 1], init=init)
    a = Network(spec, np.random.default_rng(5)).weights()["layer0.W"]
    b = Network(spec, np.random.default_rng(5)).weights()["layer0.W"]
    c = Network(spec, np.random.default_rng(6)).weights()["layer0.W"]
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    expected_std = {"uniform": 1 / math.sqrt(3), "normal": 0.01, "xavier": math.sqrt(2 / 90),
                    "he": math.sqrt(2 / 50)}
    assert a.std() == pytest.approx(expected_std[init], rel=0.1)


def test_same_seed_gives_bit_identical_weights():
    def run():
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 2))
        y = (x[:, :1] > 0).astype(float)
        net = Network(NetworkSpec.mlp([2, 5, 1], "relu", "sigmoid"), np.random.default_rng(3))
        Trainer(net, TrainConfig(batch_size=8, seed=11, optimizer="adam", lr=0.01), x, y).run(20)
        return net.weights()

    a, b = run(), run()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_divergence_stops_and_keeps_last_finite_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 1)) * 10
    y = 3 * x
    net = Network(NetworkSpec.mlp([1, 1], output="linear"), np.random.default_rng(0))
    trainer = Trainer(net, TrainConfig(loss="mse", lr=50.0), x, y)
    with pytest.raises(TrainingDiverged) as info:
        trainer.run(1000)
    assert "Lower the learning rate" in str(info.value)
    assert all(np.all(np.isfinite(p)) for _, p, _ in net.params_and_grads())
    trainer.lr = 0.001  # the user lowers the rate and continues
    trainer.run(200)
    assert trainer.history.last("train_loss") < 1.0


def test_test_set_metrics_are_recorded():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 2))
    y = (x[:, :1] + x[:, 1:] > 0).astype(float)
    net = Network(NetworkSpec.mlp([2, 4, 1]), rng)
    trainer = Trainer(net, TrainConfig(lr=0.5), x[:80], y[:80], x[80:], y[80:])
    trainer.run(50)
    h = trainer.history
    assert h.n == 50 and np.all(np.isfinite(h.column("test_loss"))) and h.last("test_acc") > 0.8


def test_uint8_inputs_are_scaled_per_batch():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (60, 4), dtype=np.uint8)
    y = (x[:, :1] > 127).astype(float)
    net = Network(NetworkSpec.mlp([4, 6, 1], dtype="float32"), rng)
    trainer = Trainer(net, TrainConfig(lr=0.5, batch_size=10), x, y, x_scale=1 / 255)
    trainer.run(100)
    assert trainer.history.last("train_acc") > 0.9


@pytest.mark.parametrize(
    "make",
    [
        lambda: NetworkSpec(2, (LayerSpec(0, "relu"), LayerSpec(1))),
        lambda: NetworkSpec(2, (LayerSpec(10**6, "relu"), LayerSpec(1))),
        lambda: NetworkSpec(0, (LayerSpec(1),)),
        lambda: NetworkSpec(2, (LayerSpec(3, "softmax"), LayerSpec(1))),
        lambda: NetworkSpec(2, (LayerSpec(3, "swish"),)),
        lambda: TrainConfig(lr=0),
        lambda: TrainConfig(lr=-1),
        lambda: TrainConfig(lr=float("nan")),
        lambda: TrainConfig(batch_size=-5),
    ],
)
def test_impossible_settings_are_refused_clearly(make):
    with pytest.raises(SpecError):
        make()


def test_data_that_does_not_fit_the_network_is_refused():
    net = Network(NetworkSpec.mlp([3, 2, 1]))
    with pytest.raises(IncompatibleError, match="3 in / 1 out"):
        Trainer(net, TrainConfig(), np.zeros((4, 2)), np.zeros((4, 1)))


def test_spec_round_trips_and_repr_is_one_line():
    spec = NetworkSpec.mlp([784, 50, 10], "sigmoid", "softmax", init="normal", dtype="float32")
    assert NetworkSpec.from_dict(spec.to_dict()) == spec
    assert repr(Network(spec)) == "Network(784-50[sigmoid]-10[softmax], init=normal, float32)"
    assert spec.n_params() == 784 * 50 + 50 + 50 * 10 + 10


def test_adopt_keeps_learned_weights_when_a_neuron_is_added():
    old = Network(NetworkSpec.mlp([2, 3, 1]), np.random.default_rng(0))
    new = Network(NetworkSpec.mlp([2, 4, 1]), np.random.default_rng(1))
    fresh = new.weights()["layer0.W"][:, 3].copy()
    new.adopt(old)
    w_old, w_new = old.weights(), new.weights()
    assert np.array_equal(w_new["layer0.W"][:, :3], w_old["layer0.W"])
    assert np.array_equal(w_new["layer0.W"][:, 3], fresh)
    assert np.array_equal(w_new["layer1.W"][:3], w_old["layer1.W"])
