"""K seeds stacked in one trainer end bit for bit where K separate engine runs end (float64)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from nnbench import presets
from nnbench.engine import LayerSpec, NetworkSpec, TrainConfig
from nnbench.experiment import Experiment
from nnbench.sweep import stacked_trainer


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def experiment(source, hidden, output, **training):
    n_in = 1 if source.get("name") in ("sine", "line", "quadratic") else 2
    features = training.pop("features", None)
    spec = NetworkSpec(n_in, (*hidden, output), training.pop("init", "xavier"), "float64", features)
    return Experiment("t", "t", "", source, spec, TrainConfig(**training), net_seed=0)


CASES = {
    "xor 2-8-1 full batch sgd bce": experiment(
        {"kind": "generator", "name": "xor", "n": 60, "seed": 0}, (LayerSpec(8, "tanh"),),
        LayerSpec(1, "sigmoid"), loss="bce", lr=0.3, epochs=25),
    "spiral relu batch 7 shuffled adam, features": experiment(
        {"kind": "generator", "name": "spiral", "n": 80, "seed": 1},
        (LayerSpec(6, "relu"), LayerSpec(5, "leaky_relu")), LayerSpec(1, "sigmoid"),
        loss="bce", optimizer="adam", lr=0.01, batch_size=7, epochs=6,
        features=("x1", "x2", "sin(x1)", "x1*x2")),
    "three classes softmax momentum l2, unshuffled batches": experiment(
        {"kind": "generator", "name": "spiral3", "n": 90, "seed": 2}, (LayerSpec(7, "sigmoid"),),
        LayerSpec(3, "softmax"), loss="cross_entropy", optimizer="momentum", lr=0.05, batch_size=16,
        shuffle=False, regularization="l2", reg_rate=0.01, epochs=8),
    "sine regression mse linear out, l1": experiment(
        {"kind": "generator", "name": "sine", "n": 50, "seed": 3}, (LayerSpec(5, "tanh"),),
        LayerSpec(1, "linear"), loss="mse", lr=0.05, batch_size=10, regularization="l1", reg_rate=0.001,
        epochs=7),
    "sse on a softmax output (not fused)": experiment(
        {"kind": "generator", "name": "spiral3", "n": 45, "seed": 4}, (LayerSpec(3, "tanh"),),
        LayerSpec(3, "softmax"), loss="sse", lr=0.1, epochs=10),
    "bce on a tanh output (not fused)": experiment(
        {"kind": "generator", "name": "circle", "n": 40, "seed": 5}, (LayerSpec(4, "relu"),),
        LayerSpec(1, "tanh"), loss="bce", lr=0.05, batch_size=8, epochs=5),
}


def separate(exp, seed):
    one = exp.replace(net_seed=seed).with_training(seed=seed)
    _, net, trainer = one.build()
    trainer.run(exp.training.epochs)
    return net.flat_params.copy(), trainer.history.to_dict()


@pytest.mark.parametrize("name", list(CASES))
def test_stacked_seeds_equal_separate_runs_bit_for_bit(name):
    exp = CASES[name]
    seeds = [3, 0, 11]
    stacked = stacked_trainer(exp, seeds)
    stacked.run(exp.training.epochs)
    assert stacked.alive.all()
    for k, seed in enumerate(seeds):
        params, history = separate(exp, seed)
        assert np.array_equal(stacked.params[k], params), f"seed {seed}: weights differ"
        mine = stacked.history_of(k)
        for key, column in history.items():
            assert np.array_equal(mine[key], column, equal_nan=True), f"seed {seed}: {key} differs"
        assert np.array_equal(stacked.network(k).flat_params, params)


def test_the_preset_xor_without_biases_matches_too():
    exp = presets.load_preset("xor-mlp").with_training(epochs=40)
    stacked = stacked_trainer(exp, [6, 7])
    stacked.run(40)
    for k, seed in enumerate([6, 7]):
        params, history = separate(exp, seed)
        assert np.array_equal(stacked.params[k], params)
        assert np.array_equal(stacked.history_of(k)["train_loss"], history["train_loss"])


def test_a_diverging_seed_is_frozen_at_its_best_and_the_others_go_on():
    exp = CASES["sine regression mse linear out, l1"].with_training(lr=40.0, regularization="none",
                                                                   reg_rate=0.0)
    stacked = stacked_trainer(exp, [0, 1])
    stacked.lr = np.array([40.0, 0.01])  # one copy overshoots, one does not
    stacked.run(5)
    assert not stacked.alive[0] and stacked.alive[1]
    assert stacked.diverged_at[0] >= 1
    assert np.all(np.isfinite(stacked.params[0]))
    loss = stacked.history["train_loss"]
    assert np.isnan(loss[0, -1]) and np.all(np.isfinite(loss[1]))


def test_too_many_copies_for_memory_are_refused_before_allocating():
    from nnbench.engine.stacked import StackedTrainer
    from nnbench.errors import SpecError

    spec = NetworkSpec(784, (LayerSpec(4096, "relu"), LayerSpec(10, "softmax")))
    x, y = np.zeros((60000, 784), np.uint8), np.zeros((60000, 10))
    with pytest.raises(SpecError, match="256 copies of this network .* GiB"):
        StackedTrainer(spec, TrainConfig(loss="cross_entropy"), range(256), x, y)
