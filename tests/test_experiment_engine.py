"""The engine's fast paths (flat parameters, reused buffers, cached features) change no result."""

import numpy as np

from nnbench.engine import Network, NetworkSpec, TrainConfig, Trainer


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return x, np.eye(3)[rng.integers(0, 3, n)]


def test_training_buffers_never_leak_into_predictions_or_activations():
    x, y = data()
    net = Network(NetworkSpec.mlp([3, 5, 3], "relu", "softmax"), np.random.default_rng(0))
    trainer = Trainer(net, TrainConfig(loss="cross_entropy", batch_size=16), x, y)
    trainer.run(1)
    before = net.predict(x)
    hidden = net.activations(x)
    kept = before.copy(), [h.copy() for h in hidden]
    trainer.run(1)
    assert np.array_equal(before, kept[0])
    assert all(np.array_equal(h, k) for h, k in zip(hidden, kept[1], strict=True))


def test_weights_are_views_of_the_flat_storage_after_set_weights_and_adopt():
    net = Network(NetworkSpec.mlp([2, 3, 1]), np.random.default_rng(0))
    w = {k: v + 1.0 for k, v in net.weights().items()}
    net.set_weights(w)
    net.adopt(Network(NetworkSpec.mlp([2, 2, 1]), np.random.default_rng(1)))
    flat = np.concatenate([p.ravel() for _, p, _ in net.params_and_grads()])
    assert np.array_equal(flat, net.flat_params)


def test_cached_uint8_features_train_exactly_like_per_batch_scaling(monkeypatch):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (60, 4), dtype=np.uint8)
    y = (x[:, :1] > 127).astype(float)

    def run():
        net = Network(NetworkSpec.mlp([4, 6, 1], dtype="float32"), np.random.default_rng(0))
        Trainer(net, TrainConfig(lr=0.5, batch_size=10), x, y, x_scale=1 / 255).run(5)
        return net.weights()

    cached = run()
    monkeypatch.setattr("nnbench.engine.training.FEATURE_CACHE_BYTES", 0)
    uncached = run()
    assert all(np.array_equal(cached[k], uncached[k]) for k in cached)


def test_numerical_gradients_of_a_float32_network_are_taken_in_float64():
    x, y = data(8)
    net = Network(NetworkSpec.mlp([3, 4, 3], "sigmoid", "softmax", dtype="float32"), np.random.default_rng(0))
    trainer = Trainer(net, TrainConfig(loss="cross_entropy", gradients="numerical"), x, y)
    trainer.numerical_gradients(trainer.features(x), trainer.y_train)
    numeric = net.flat_grads.copy()
    net.loss_and_backward(trainer.features(x), trainer.y_train, trainer.loss)
    assert np.allclose(numeric, net.flat_grads, atol=2e-6, rtol=1e-3)
