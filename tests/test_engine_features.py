"""Input features for 2-D data: the map, the spec, gradients, adoption by name, files."""

import numpy as np
import pytest

from nnbench.engine import LayerSpec, Network, NetworkSpec, TrainConfig, Trainer, files, gradcheck
from nnbench.engine.features import FEATURES, expand
from nnbench.engine.losses import get as get_loss
from nnbench.errors import SpecError


def _spec(features, hidden=4):
    return NetworkSpec(2, (LayerSpec(hidden, "tanh"), LayerSpec(1, "sigmoid")), "xavier", "float64", features)


def test_expand_computes_each_feature():
    x = np.array([[0.5, -2.0], [1.0, 3.0]])
    got = expand(x, FEATURES)
    a, b = x[:, 0], x[:, 1]
    want = np.column_stack([a, b, a * a, b * b, a * b, np.sin(a), np.sin(b)])
    np.testing.assert_array_equal(got, want)
    assert expand(x.astype(np.float32), ("x1^2",)).dtype == np.float32


def test_spec_orders_features_and_rejects_bad_ones():
    assert _spec(["sin(x2)", "x1"]).features == ("x1", "sin(x2)")
    assert _spec(["x2", "x1"]).features is None  # the raw pair is the plain network
    assert _spec(["x1", "x1^2"]).sizes == (2, 4, 1)
    assert _spec(["x1", "x2", "x1^2", "sin(x1)"]).sizes == (4, 4, 1)
    for bad, why in ((["x3"], "unknown input feature"), (["x1", "x1"], "twice"), ([], "at least one")):
        with pytest.raises(SpecError, match=why):
            _spec(bad)
    with pytest.raises(SpecError, match="for 2 inputs"):
        NetworkSpec(3, (LayerSpec(1),), features=("x1",))
    with pytest.raises(SpecError, match="list of names"):
        NetworkSpec.from_dict({"n_inputs": 2, "layers": [{"units": 1}], "features": "x1"})


def test_spec_round_trips_through_dict():
    spec = _spec(["x1", "x1*x2", "sin(x1)"])
    assert NetworkSpec.from_dict(spec.to_dict()) == spec
    assert "features" not in _spec(None).to_dict()  # old files stay as they were


def test_network_takes_raw_rows_and_first_layer_sees_features():
    net = Network(_spec(["x1^2", "x2^2"]), np.random.default_rng(0))
    x = np.array([[1.0, 2.0], [-3.0, 0.5]])
    W, b = net.layers[0].W, net.layers[0].b
    hidden = np.tanh(np.column_stack([x[:, 0] ** 2, x[:, 1] ** 2]) @ W + b)
    np.testing.assert_allclose(net.activations(x)[0], hidden)
    assert net.predict(x).shape == (2, 1)


@pytest.mark.parametrize("features", [("x1", "x1^2", "x1*x2", "sin(x2)"), FEATURES, ("sin(x1)",)])
def test_backprop_matches_numerical_gradients_with_features(features):
    rng = np.random.default_rng(3)
    net = Network(_spec(features, hidden=5), rng)
    x = rng.normal(size=(12, 2))
    y = (rng.random((12, 1)) > 0.5).astype(float)
    assert gradcheck.check(net, get_loss("bce"), x, y) < 1e-6


def test_adopt_keeps_weights_of_features_that_stay():
    old = Network(_spec(["x1", "x2", "x1^2"]), np.random.default_rng(1))
    new = Network(_spec(["x1", "x1^2", "sin(x1)"]), np.random.default_rng(2))
    fresh_sin = new.layers[0].W[2].copy()
    new.adopt(old)
    np.testing.assert_array_equal(new.layers[0].W[0], old.layers[0].W[0])  # x1
    np.testing.assert_array_equal(new.layers[0].W[1], old.layers[0].W[2])  # x1^2
    np.testing.assert_array_equal(new.layers[0].W[2], fresh_sin)  # sin(x1) is new
    np.testing.assert_array_equal(new.layers[1].W, old.layers[1].W)


def test_circle_needs_squares_and_they_are_enough():
    """A net with no hidden layer cannot separate a disc from a ring on x1, x2, but can on
    x1^2, x2^2: the reason the features exist."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(400, 2))
    y = (np.hypot(x[:, 0], x[:, 1]) < 0.6).astype(float)[:, None]
    accs = {}
    for features in (None, ("x1^2", "x2^2")):
        spec = NetworkSpec(2, (LayerSpec(1, "sigmoid"),), "xavier", "float64", features)
        trainer = Trainer(Network(spec, np.random.default_rng(0)),
                          TrainConfig(loss="bce", optimizer="adam", lr=0.1), x, y)
        trainer.run(300)
        accs[features] = float(np.mean((trainer.net.predict(x) > 0.5) == y))
    assert accs[("x1^2", "x2^2")] > 0.97
    assert accs[None] < 0.8


def test_saved_network_keeps_its_features(tmp_path):
    net = Network(_spec(["x1", "sin(x1)", "sin(x2)"]), np.random.default_rng(4))
    path = tmp_path / "f.npz"
    files.save(path, net)
    loaded = files.load(path).network()
    assert loaded.spec == net.spec
    x = np.random.default_rng(5).normal(size=(6, 2))
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))
