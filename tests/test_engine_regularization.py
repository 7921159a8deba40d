"""L1 and L2 weight penalties: the gradient of the whole objective, and what they do."""

import numpy as np
import pytest

from nnbench.data import generate
from nnbench.engine import LayerSpec, Network, NetworkSpec, TrainConfig, Trainer
from nnbench.errors import SpecError


def _trainer(kind, rate, x, y, hidden=6, seed=0, **config):
    spec = NetworkSpec(2, (LayerSpec(hidden, "tanh"), LayerSpec(1, "sigmoid")))
    cfg = TrainConfig(loss="bce", regularization=kind, reg_rate=rate, **config)
    return Trainer(Network(spec, np.random.default_rng(seed)), cfg, x, y)


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_the_step_follows_the_gradient_of_loss_plus_penalty(kind):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 2))
    y = (rng.random((20, 1)) > 0.5).astype(float)
    trainer = _trainer(kind, 0.03, x, y)
    net = trainer.net
    net.loss_and_backward(x, y, trainer.loss)
    trainer.penalize()
    analytic = net.flat_grads.copy()

    def objective() -> float:
        value, _ = net.loss(x, y, trainer.loss)
        return value + trainer.penalty()

    h = 1e-6
    numeric = np.empty_like(analytic)
    for k in range(len(net.flat_params)):
        old = net.flat_params[k]
        net.flat_params[k] = old + h
        up = objective()
        net.flat_params[k] = old - h
        down = objective()
        net.flat_params[k] = old
        numeric[k] = (up - down) / (2 * h)
    assert np.max(np.abs(analytic - numeric)) / np.max(np.abs(numeric)) < 1e-6


def test_penalties_shrink_weights_and_l1_zeroes_them():
    ds = generate("circle", n=200, seed=0)
    norms, small = {}, {}
    for kind, rate in (("none", 0.0), ("l2", 0.01), ("l1", 0.01)):
        trainer = _trainer(kind, rate, ds.x_train, ds.y_train, hidden=8, optimizer="adam", lr=0.03)
        trainer.run(300)
        W = np.concatenate([layer.W.ravel() for layer in trainer.net.layers])
        norms[kind] = float(np.linalg.norm(W))
        small[kind] = float(np.mean(np.abs(W) < 0.02))
        assert trainer.history.last("train_acc") > 0.9  # still learns the circle
    assert norms["l2"] < 0.6 * norms["none"]
    assert small["l1"] > small["none"] + 0.2  # L1 drives many weights to (near) zero


def test_the_loss_history_is_the_data_loss_alone():
    ds = generate("xor", n=100, seed=0)
    a = _trainer("none", 0.0, ds.x_train, ds.y_train, shuffle=False)
    b = _trainer("l2", 0.5, ds.x_train, ds.y_train, shuffle=False)
    a.run(1)
    b.run(1)  # the same first epoch's batches on the same starting weights
    assert a.history.last("train_loss") == b.history.last("train_loss")
    assert b.penalty() > 0 and a.penalty() == 0


def test_bad_settings_are_refused():
    for bad in ({"regularization": "l3"}, {"reg_rate": -1.0}, {"reg_rate": float("nan")},
                {"reg_rate": 11.0}, {"reg_rate": True}):
        with pytest.raises(SpecError):
            TrainConfig(**bad)
    cfg = TrainConfig(regularization="l1", reg_rate=0.001)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert TrainConfig.from_dict({"loss": "mse"}).regularization == "none"  # older files
    assert "regularization" not in TrainConfig().to_dict()  # and files without a penalty stay as they were
