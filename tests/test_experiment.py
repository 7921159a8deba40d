"""Experiments: as data, as files, and built into a dataset, a network and a trainer."""

import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from nnbench import presets
from nnbench.engine import LayerSpec, NetworkSpec, TrainConfig, files
from nnbench.errors import FileFormatError, IncompatibleError, SpecError
from nnbench.experiment import Experiment, load_experiment, save_experiment


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def xor_experiment(epochs=200):
    return presets.load_preset("xor-mlp").with_training(epochs=epochs)


def test_round_trips_through_a_dict_and_json():
    for name, _ in presets.list_presets():
        exp = presets.load_preset(name)
        d = json.loads(json.dumps(exp.to_dict()))
        assert Experiment.from_dict(d) == exp


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda d: d.pop("network"), "needs 'network'"),
        (lambda d: d.update(colour="red"), "unknown experiment fields: colour"),
        (lambda d: d.update(net_seed=-1), "net_seed"),
        (lambda d: d.update(version=99), "version 99"),
        (lambda d: d["training"].update(lr=0), "learning rate"),
        (lambda d: d["training"].update(gradients="guess"), "gradients"),
        (lambda d: d["network"].update(n_inputs="three"), "n_inputs"),
        (lambda d: d.update(dataset=[1, 2]), "dataset"),
    ],
)
def test_bad_dicts_are_refused_with_the_field_named(change, message):
    d = xor_experiment().to_dict()
    change(d)
    with pytest.raises(SpecError, match=message):
        Experiment.from_dict(d)


def test_build_regenerates_the_same_run_from_its_seeds():
    exp = xor_experiment()
    runs = []
    for _ in range(2):
        _, net, trainer = exp.build()
        trainer.run(exp.training.epochs)
        runs.append(net.weights())
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_a_network_that_does_not_fit_the_dataset_is_refused():
    exp = xor_experiment().replace(network=NetworkSpec(2, (LayerSpec(1),)))
    with pytest.raises(IncompatibleError, match="2 in / 1 out.*3 input"):
        exp.build()


def test_saved_experiment_continues_from_its_weights(tmp_path):
    exp = xor_experiment(300)
    _, net, trainer = exp.build()
    trainer.run(300)
    path = save_experiment(tmp_path / "xor.npz", exp, net, trainer)
    loaded = load_experiment(path)
    assert loaded.name == "xor-mlp" and loaded.net_seed == exp.net_seed and loaded.expect == exp.expect
    assert loaded.dataset == exp.dataset and loaded.network == exp.network
    _, net2, trainer2 = loaded.build()
    assert trainer2.epoch == 300 and trainer2.history.n == 300
    assert all(np.array_equal(net.weights()[k], net2.weights()[k]) for k in net.weights())
    trainer2.run(10)
    assert trainer2.epoch == 310
    assert trainer2.history.last("train_loss") < trainer.history.column("train_loss")[9]


def test_continuing_is_bit_identical_to_training_straight_through(tmp_path):
    exp = presets.load_preset("regression-curve").with_training(epochs=20, optimizer="adam", lr=0.01)
    _, straight, t = exp.build()
    t.run(20)
    _, half, t1 = exp.build()
    t1.run(10)
    save_experiment(tmp_path / "half.npz", exp, half, t1)
    _, resumed, t2 = load_experiment(tmp_path / "half.npz").build()
    t2.run(10)
    assert all(np.array_equal(straight.weights()[k], resumed.weights()[k]) for k in straight.weights())


def test_preset_json_files_load_as_experiments(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(xor_experiment(5).to_dict()))
    exp = load_experiment(path)
    assert exp.training.epochs == 5 and exp.saved is None


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "valid JSON"),
        (b"{not json", "valid JSON"),
        (b"PK\x03\x04garbage", "damaged or not an nnbench file"),
        (b'{"format": "something-else"}', "not an nnbench experiment"),
        (b"\xff\xfe\x00", "valid JSON"),
    ],
)
def test_bad_files_raise_file_format_errors_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=message):
        load_experiment(path)


def test_a_network_file_without_a_dataset_is_refused(tmp_path):
    _, net, _ = xor_experiment().build()
    files.save(tmp_path / "bare.npz", net)
    with pytest.raises(FileFormatError, match="no dataset"):
        load_experiment(tmp_path / "bare.npz")


def test_missing_file_is_a_file_format_error(tmp_path):
    with pytest.raises(FileFormatError, match="cannot open"):
        load_experiment(tmp_path / "nothing.npz")


def test_numerical_gradients_train_like_backprop():
    exp = xor_experiment(20)
    _, back, t1 = exp.build()
    t1.run(20)
    _, num, t2 = exp.with_training(gradients="numerical").build()
    t2.run(20)
    assert np.allclose(t1.history.column("train_loss"), t2.history.column("train_loss"), rtol=1e-6)
    assert all(np.allclose(back.weights()[k], num.weights()[k], atol=1e-7) for k in back.weights())


def test_gradients_setting_is_saved_and_old_files_default_to_backprop(tmp_path):
    exp = xor_experiment(1).with_training(gradients="numerical")
    _, net, trainer = exp.build()
    trainer.run(1)
    save_experiment(tmp_path / "n.npz", exp, net, trainer)
    assert files.load(tmp_path / "n.npz").config.gradients == "numerical"
    d = TrainConfig().to_dict()
    d.pop("gradients")
    assert TrainConfig.from_dict(d).gradients == "backprop"
