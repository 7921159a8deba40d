"""Every preset, run headless, reproduces its tutorial's result."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from nnbench import presets, resources
from nnbench.data import write_idx
from nnbench.errors import FileFormatError, SpecError
from nnbench.experiment import compare_gradients

REAL_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


@pytest.fixture(autouse=True)
def one_blas_thread():
    # Small matrices gain nothing from a second thread, and lose a lot when the machine is busy.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def fake_mnist(folder: Path, n_train: int = 3000, n_test: int = 200, seed: int = 0) -> Path:
    """MNIST-shaped IDX files: ten random 28x28 patterns plus noise, one per digit."""
    rng = np.random.default_rng(seed)
    patterns = rng.random((10, 28, 28)) < 0.2
    for n, images, labels in ((n_train, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                              (n_test, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")):
        digits = rng.integers(0, 10, n).astype(np.uint8)
        pixels = patterns[digits] * 180.0 + rng.normal(0, 40, (n, 28, 28))
        write_idx(folder / images, np.clip(pixels, 0, 255).astype(np.uint8))
        write_idx(folder / labels, digits)
    return folder


def train(name: str, **changes):
    exp = presets.load_preset(name)
    if changes:
        exp = exp.with_training(**changes)
    ds, net, trainer = exp.build()
    trainer.run(exp.training.epochs)
    return exp, ds, net, trainer


def test_every_preset_is_listed_with_a_title():
    listed = dict(presets.list_presets())
    assert list(listed) == list(presets.ORDER)
    assert all(title and not title.startswith("(unreadable") for title in listed.values())
    for name in listed:
        exp = presets.load_preset(name)
        assert exp.name == name and exp.description and exp.expect


def test_perceptron_answers_0_9999_for_1_0_0():
    exp, _, net, trainer = train("perceptron")
    assert trainer.epoch == 10_000
    expected = exp.expect["predict"]
    out = net.predict(np.array([expected["input"]], dtype=float))[0, 0]
    assert out == pytest.approx(expected["output"], abs=expected["tolerance"])
    assert round(float(out), 4) == 0.9999


def test_xor_mlp_predictions_and_a_loss_that_only_falls():
    exp, ds, net, trainer = train("xor-mlp")
    out = net.predict(ds.x_train).ravel()
    assert np.all(np.abs(out - exp.expect["outputs"]) < exp.expect["tolerance"]), out
    loss = trainer.history.column("train_loss")
    assert len(loss) == 1500 and np.all(np.diff(loss) <= 0)


def test_height_weight_classifies_all_four_people_and_the_new_ones():
    exp, ds, net, trainer = train("height-weight")
    assert exp.training.batch_size == 1 and exp.training.lr == 0.1 and exp.report_every == 10
    assert trainer.history.last("train_acc") == 1.0
    out = net.predict(ds.x_train).ravel()
    assert np.array_equal(out > 0.5, ds.y_train.ravel() > 0.5)
    classify = exp.expect["classify"]
    predicted = (net.predict(np.array(classify["inputs"], dtype=float)).ravel() > 0.5).astype(int)
    assert predicted.tolist() == classify["classes"]


def test_height_weight_noisy_generalises():
    exp, _, _, trainer = train("height-weight-noisy")
    assert trainer.history.last("train_acc") >= exp.expect["train_acc_min"]
    assert trainer.history.last("test_acc") >= exp.expect["test_acc_min"]


def test_regression_line_and_curve_with_and_without_a_hidden_activation():
    line = train("regression-linear")[3].history.last("train_loss")
    flat_exp, _, _, flat = train("regression-curve-linear")
    bent_exp, _, _, bent = train("regression-curve")
    assert line < presets.load_preset("regression-linear").expect["train_loss_max"]
    flat_loss, bent_loss = flat.history.last("train_loss"), bent.history.last("train_loss")
    assert flat_loss > flat_exp.expect["train_loss_min"]
    assert bent_loss < bent_exp.expect["train_loss_max"]
    assert flat_loss > 5 * bent_loss  # the linear net clearly fails on the curve


def test_circle_features_one_neuron_draws_a_circle_only_on_squared_inputs():
    exp, _, net, trainer = train("circle-features")
    assert net.spec.features == ("x1^2", "x2^2") and net.spec.sizes == (2, 1)
    assert trainer.history.last("train_acc") >= exp.expect["train_acc_min"]
    assert trainer.history.last("test_acc") >= exp.expect["test_acc_min"]
    raw = exp.replace(network=replace(exp.network, features=None))
    _, _, raw_trainer = raw.build()
    raw_trainer.run(exp.training.epochs)
    assert raw_trainer.history.last("test_acc") <= exp.expect["raw_inputs_acc_max"]


def test_mnist_two_layer_learns_mnist_shaped_digits(tmp_path):
    exp = presets.load_preset("mnist-two-layer")
    net_spec = exp.network
    assert net_spec.sizes == (784, 50, 10) and net_spec.layers[0].activation == "sigmoid"
    assert (exp.training.batch_size, exp.training.lr, exp.training.optimizer) == (100, 0.1, "sgd")
    exp = exp.replace(dataset={"kind": "mnist", "path": str(fake_mnist(tmp_path))}).with_training(epochs=8)
    _, _, trainer = exp.build()
    trainer.run(8)
    h = trainer.history
    loss = h.column("train_loss")
    assert np.all(np.diff(loss) < 0) and loss[-1] < 1.0
    assert h.last("test_acc") > 0.9 and np.all(np.isfinite(h.column("test_loss")))


def test_mnist_numerical_gradients_match_backprop_and_are_far_slower(tmp_path):
    exp = presets.load_preset("mnist-two-layer")
    exp = exp.replace(dataset={"kind": "mnist", "path": str(fake_mnist(tmp_path, 200, 20))})
    r = compare_gradients(exp, rows=1, steps=1)
    assert r["max_relative_difference"] < 1e-4
    assert r["numerical_loss"] == pytest.approx(r["backprop_loss"], rel=1e-5)
    assert r["numerical_s_per_step"] > 100 * r["backprop_s_per_step"]


@pytest.mark.skipif(not (REAL_MNIST / "t10k-images-idx3-ubyte.gz").is_file(), reason="no real MNIST here")
def test_mnist_two_layer_on_real_digits():
    # The t10k set only: 8,000 digits to train on, 2,000 to test; 17 epochs = 1,360 steps.
    exp = presets.load_preset("mnist-two-layer").replace(dataset={"kind": "mnist", "path": str(REAL_MNIST)})
    _, _, trainer = exp.build()
    trainer.run(exp.training.epochs)
    assert trainer.history.last("test_acc") > 0.88


def test_unknown_and_broken_presets_are_refused_clearly():
    with pytest.raises(SpecError, match="no preset named 'nope'"):
        presets.load_preset("nope")
    with pytest.raises(SpecError, match="not a preset name"):
        presets.load_preset("../etc/passwd")
    assert resources.preset_path("xor-mlp").is_file()
    assert not isinstance(FileFormatError("x"), SpecError)
