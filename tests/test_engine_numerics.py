"""The engine's numbers: divergence from the first batch, one loss scale, clear errors at the
boundary, and optimizers that follow the formulas they state (PyTorch's)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from nnbench import presets
from nnbench.engine import Network, NetworkSpec, TrainConfig, Trainer, losses, optimizers
from nnbench.engine.spec import LayerSpec
from nnbench.errors import IncompatibleError, SpecError, TrainingDiverged

# ---- 17: divergence in the first epoch ---------------------------------------------------------


def test_divergence_in_the_first_epoch_is_caught_and_the_starting_weights_come_back():
    exp = presets.load_preset("regression-curve").with_training(lr=10.0, epochs=1)
    _, net, trainer = exp.build()
    start = net.flat_params.copy()
    with pytest.raises(TrainingDiverged) as info:
        trainer.run(1)
    assert trainer.epoch == 0  # caught inside the first epoch, not after it
    assert "starting weights were restored" in str(info.value)
    assert np.array_equal(net.flat_params, start)


def test_the_lowest_loss_named_is_a_real_one():
    exp = presets.load_preset("regression-curve").with_training(lr=10.0, epochs=2)
    _, _, trainer = exp.build()
    with pytest.raises(TrainingDiverged) as info:
        trainer.run(2)
    assert "e+3" not in str(info.value) and "e+2" not in str(info.value)


def test_cli_first_epoch_divergence_exits_3_and_saves_nothing(tmp_path):
    target = tmp_path / "f.npz"
    r = subprocess.run([sys.executable, "-m", "nnbench", "train", "regression-curve", "--lr", "10",
                        "--epochs", "1", "--save", str(target)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr
    assert "diverged" in r.stderr and not target.exists()


def test_batch_size_one_noise_is_not_divergence():
    # Single rows range over orders of magnitude; only blocks of rows set the bar.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + rng.normal(0, 1, (200, 1))
    net = Network(NetworkSpec.mlp([3, 8, 1], "tanh", "linear"), np.random.default_rng(1))
    trainer = Trainer(net, TrainConfig(loss="mse", lr=0.01, batch_size=1), x, y)
    trainer.run(5)
    assert trainer.epoch == 5


# ---- 18: train and test loss on one scale --------------------------------------------------------


@pytest.mark.parametrize("loss", ["sse", "mse", "bce"])
@pytest.mark.parametrize("batch", [1, 10, 0])
def test_train_and_test_loss_agree_on_the_same_rows(loss, batch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 2))
    y = (x[:, :1] * x[:, 1:] > 0).astype(float)
    net = Network(NetworkSpec.mlp([2, 6, 1], "tanh", "sigmoid"), np.random.default_rng(0))
    # A learning rate small enough that the weights hardly move within the epoch.
    trainer = Trainer(net, TrainConfig(loss=loss, lr=1e-9, batch_size=batch), x, y, x.copy(), y.copy())
    trainer.run(1)
    h = trainer.history
    assert h.last("train_loss") == pytest.approx(h.last("test_loss"), rel=1e-6)
    # and both are what the whole set's loss is
    value, _ = net.loss(x, y, losses.get(loss))
    assert h.last("test_loss") == pytest.approx(value, rel=1e-6)


def test_the_sum_loss_of_a_smaller_test_set_is_put_on_the_training_set_scale():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 2))
    y = rng.normal(size=(100, 1))
    net = Network(NetworkSpec.mlp([2, 4, 1], "tanh", "linear"), np.random.default_rng(0))
    trainer = Trainer(net, TrainConfig(loss="sse", lr=1e-9, batch_size=10), x, y, x[:25], y[:25])
    trainer.run(1)
    sse_25, _ = net.loss(x[:25], y[:25], losses.get("sse"))
    assert trainer.history.last("test_loss") == pytest.approx(sse_25 * 100 / 25, rel=1e-6)


# ---- 19: bad data is refused at the boundary ----------------------------------------------------


def _net():
    return Network(NetworkSpec.mlp([2, 3, 1], "tanh", "sigmoid"), np.random.default_rng(0))


@pytest.mark.parametrize("where", ["x_train", "y_train", "x_test"])
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_data_is_refused_before_training(where, bad):
    rng = np.random.default_rng(0)
    data = {"x_train": rng.normal(size=(20, 2)), "y_train": np.ones((20, 1)),
            "x_test": rng.normal(size=(5, 2)), "y_test": np.ones((5, 1))}
    data[where][3, 0] = bad
    with pytest.raises(SpecError, match="NaN or infinite"):
        Trainer(_net(), TrainConfig(), data["x_train"], data["y_train"], data["x_test"], data["y_test"])


def test_one_dimensional_targets_get_a_clear_message():
    with pytest.raises(IncompatibleError, match=r"reshape\(-1, 1\)"):
        Trainer(_net(), TrainConfig(), np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(IncompatibleError, match="targets"):
        _net().loss_and_backward(np.zeros((4, 2)), np.zeros(4), losses.get("bce"))


def test_loss_and_backward_refuses_empty_and_mismatched_batches():
    net = _net()
    with pytest.raises(SpecError, match="no rows"):
        net.loss_and_backward(np.zeros((0, 2)), np.zeros((0, 1)), losses.get("mse"))
    with pytest.raises(IncompatibleError, match="5 input rows but 4 target rows"):
        net.loss_and_backward(np.zeros((5, 2)), np.zeros((4, 1)), losses.get("mse"))
    with pytest.raises(SpecError, match="NaN or infinite"):
        net.loss_and_backward(np.full((3, 2), np.inf), np.zeros((3, 1)), losses.get("mse"))


# ---- 20: each optimizer follows the formula it states (PyTorch's) --------------------------------


def _trajectory(name, lr_at, steps=25, dtype="float64", **kw):
    """Our optimizer on a fixed quadratic-ish problem; the gradient of each step is recorded."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 3))
    y = np.eye(2)[rng.integers(0, 2, 16)]
    net = Network(NetworkSpec.mlp([3, 4, 2], "tanh", "softmax", dtype=dtype), np.random.default_rng(0))
    opt = optimizers.make(name, net.params_and_grads(), lr_at(0), **kw)
    start, grads = net.flat_params.astype(np.float64), []
    for t in range(steps):
        opt.lr = lr_at(t)
        net.loss_and_backward(x.astype(dtype), y.astype(dtype), losses.get("cross_entropy"))
        grads.append(net.flat_grads.astype(np.float64))
        opt.step()
    return start, grads, net.flat_params.astype(np.float64)


def _replay(name, start, grads, lr_at, mu=0.9, b1=0.9, b2=0.999, eps=1e-8):
    """The stated formula, written out plainly (torch.optim's SGD, SGD with momentum, Adam)."""
    p, v, m = start.copy(), np.zeros_like(start), np.zeros_like(start)
    for t, g in enumerate(grads, start=1):
        lr = lr_at(t - 1)
        if name == "sgd":
            p = p - lr * g
        elif name == "momentum":
            v = mu * v + g
            p = p - lr * v
        else:
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
            p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def _lr_schedule(t):
    return 0.05 if t < 10 else 0.01  # a learning rate changed mid-run


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_optimizer_trajectory_matches_its_formula(name):
    start, grads, end = _trajectory(name, _lr_schedule)
    assert np.allclose(end, _replay(name, start, grads, _lr_schedule), rtol=1e-12, atol=1e-14)


def test_momentum_applies_a_new_learning_rate_to_the_whole_velocity():
    # After the change the step is lr_new * v: the velocity keeps no trace of the old rate.
    start, grads, end = _trajectory("momentum", _lr_schedule, steps=11)
    keras_like = start.copy()
    v = np.zeros_like(start)
    for t, g in enumerate(grads):
        v = 0.9 * v - _lr_schedule(t) * g
        keras_like = keras_like + v
    assert not np.allclose(end, keras_like, rtol=1e-6)


def test_adam_first_step_with_a_tiny_gradient_is_torchs():
    # torch.optim.Adam: the first step is lr * g / (|g| + eps) = 0.0909 for g = 1e-7, lr 0.1.
    net = Network(NetworkSpec(1, (LayerSpec(1, "linear", False),)), np.random.default_rng(0))
    opt = optimizers.make("adam", net.params_and_grads(), 0.1)
    before = float(net.flat_params[0])
    net.flat_grads[0] = 1e-7
    opt.step()
    assert before - float(net.flat_params[0]) == pytest.approx(0.1 * 1e-7 / (1e-7 + 1e-8), rel=1e-9)


def test_adam_in_float32_flushes_moments_before_they_turn_subnormal():
    start, grads, end = _trajectory("adam", lambda t: 0.01, steps=40, dtype="float32")
    net = Network(NetworkSpec.mlp([1, 1], output="linear", dtype="float32"), np.random.default_rng(0))
    opt = optimizers.make("adam", net.params_and_grads(), 0.01)
    net.flat_grads[:] = 1.0
    opt.step()
    net.flat_grads[:] = 0.0  # the unit stops getting gradient: m decays by 0.9 a step
    tiny = np.finfo(np.float32).tiny
    for _ in range(2000):
        opt.step()
        m = np.abs(opt._m)
        assert not np.any((m > 0) & (m < tiny)), "a subnormal first moment"
    assert np.all(opt._m == 0)
    # and the float32 trajectory still follows the formula to float32 precision
    assert np.allclose(end, _replay("adam", start, grads, lambda t: 0.01), rtol=1e-4, atol=1e-6)


def test_momentum_state_from_older_files_is_converted():
    net = Network(NetworkSpec.mlp([2, 1], output="linear"), np.random.default_rng(0))
    opt = optimizers.make("momentum", net.params_and_grads(), 0.1)
    opt.load_state({"layer0.W.v": np.full((2, 1), -0.02), "layer0.b.v": np.full(1, 0.01)})
    assert np.allclose(opt.state()["layer0.W.velocity"], 0.2)
    assert np.allclose(opt.state()["layer0.b.velocity"], -0.1)


def test_the_trainer_and_a_saved_file_agree_on_the_stated_forms(tmp_path):
    # Saving and continuing gives the same weights as training straight through.
    from nnbench.engine import files

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    y = (x[:, :1] > 0).astype(float)
    for name in ("momentum", "adam"):
        cfg = TrainConfig(optimizer=name, lr=0.05, batch_size=8, seed=2)
        straight = Trainer(Network(NetworkSpec.mlp([2, 4, 1]), np.random.default_rng(1)), cfg, x, y)
        straight.run(6)
        first = Trainer(Network(NetworkSpec.mlp([2, 4, 1]), np.random.default_rng(1)), cfg, x, y)
        first.run(3)
        path = files.save(tmp_path / f"{name}.npz", first.net, first)
        saved = files.load(path)
        net = saved.network()
        second = Trainer(net, saved.config, x, y)
        saved.restore(second)
        second.run(3)
        assert np.array_equal(net.flat_params, straight.net.flat_params), name
        assert json.loads(json.dumps(second.history.to_dict()["epoch"].tolist()))[-1] == 6
