"""Every generator: shapes, balance, ranges, determinism, round trip through make()."""

import json

import numpy as np
import pytest

from nnbench.data import GENERATORS, generate, make
from nnbench.errors import SpecError

ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def same(a, b):
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ARRAYS)


@pytest.mark.parametrize("name", list(GENERATORS))
def test_shapes_dtypes_and_ranges(name):
    info = GENERATORS[name]
    ds = generate(name, n=201, noise=0.2, test_fraction=0.3, seed=3)
    assert len(ds.x_train) + len(ds.x_test) == 201
    assert len(ds.x_test) == 60
    assert ds.x_train.dtype == np.float64 and ds.y_train.dtype == np.float64
    assert ds.n_features == info.n_features
    assert ds.task == info.task
    x = np.concatenate([ds.x_train, ds.x_test])
    assert np.all(np.isfinite(x))
    if info.n_features == 2:
        assert ds.feature_names == ("x1", "x2")
        assert x.min() >= -6 and x.max() <= 6
        assert np.ptp(x, axis=0).min() > 6  # fills the plane, not a corner of it
    else:
        assert ds.feature_names == ("x",)
        assert x.min() >= -1 and x.max() <= 1
    if info.task == "regression":
        assert ds.target_names == ("y",) and ds.n_outputs == 1 and ds.n_classes == 0


@pytest.mark.parametrize("name", [n for n, i in GENERATORS.items() if i.task == "classification"])
def test_classes_are_balanced(name):
    ds = generate(name, n=301)
    y = np.concatenate([ds.y_train, ds.y_test])
    k = GENERATORS[name].n_classes
    assert ds.n_classes == k
    assert set(np.unique(y)) == {0.0, 1.0}
    if k == 2:
        assert y.shape == (301, 1)
        counts = np.bincount(y[:, 0].astype(int))
    else:
        assert y.shape == (301, k)
        assert np.all(y.sum(axis=1) == 1)
        counts = y.sum(axis=0)
    assert counts.max() - counts.min() <= 1
    assert len(ds.target_names) == k


def test_blobs_takes_a_class_count():
    ds = generate("blobs", n=100, classes=5)
    assert ds.y_train.shape[1] == 5 and ds.source["classes"] == 5
    two = generate("blobs", n=100, classes=2)
    assert two.y_train.shape[1] == 1 and two.n_classes == 2


@pytest.mark.parametrize("name", list(GENERATORS))
def test_seeded_and_round_trips(name):
    ds = generate(name, n=50, seed=7)
    assert same(ds, generate(name, n=50, seed=7))
    assert not np.array_equal(ds.x_train, generate(name, n=50, seed=8).x_train)
    again = make(json.loads(json.dumps(ds.source)))
    assert same(ds, again)
    assert again.source == ds.source and again.target_names == ds.target_names


def test_leaves_the_global_seed_alone():
    np.random.seed(1)
    before = np.random.get_state()[1].copy()
    generate("spiral", seed=5)
    assert np.array_equal(np.random.get_state()[1], before)


def test_no_noise_gives_the_exact_curve():
    ds = generate("line", noise=0.0)
    assert np.allclose(ds.y_train, 0.8 * ds.x_train + 0.1)


def test_test_fraction_zero_gives_an_empty_test_set():
    ds = generate("circle", n=10, test_fraction=0.0)
    assert ds.x_test.shape == (0, 2) and ds.y_test.shape == (0, 1)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"name": "nope"}, "unknown generator 'nope'"),
        ({"name": "spiral", "n": 3}, "number of points"),
        ({"name": "spiral", "n": 10.5}, "number of points"),
        ({"name": "spiral", "noise": -0.1}, "noise must be"),
        ({"name": "spiral", "noise": float("nan")}, "noise must be"),
        ({"name": "spiral", "test_fraction": 0.95}, "test fraction"),
        ({"name": "spiral", "test_fraction": -0.1}, "test fraction"),
        ({"name": "spiral", "seed": -1}, "seed"),
        ({"name": "spiral", "classes": 3}, "unknown parameter"),
        ({"name": "blobs", "classes": 1}, "classes must be"),
        ({"name": "blobs", "n": 8, "classes": 5}, "too few"),
    ],
)
def test_bad_parameters(kwargs, words):
    with pytest.raises(SpecError, match=words):
        generate(**kwargs)


@pytest.mark.parametrize("name", [n for n, i in GENERATORS.items() if i.task == "classification"])
def test_labels_follow_the_geometry(name):
    # at the default noise a 1-nearest-neighbour classifier does well: classes are regions
    ds = generate(name, n=400)
    d = ((ds.x_test[:, None, :] - ds.x_train[None]) ** 2).sum(axis=-1)
    predicted = ds.labels_of(ds.y_train)[d.argmin(axis=1)]
    assert (predicted == ds.labels_of(ds.y_test)).mean() > 0.85


@pytest.mark.parametrize("name", [n for n, i in GENERATORS.items() if i.task == "regression"])
def test_noise_moves_targets_not_points(name):
    # the same seed at another noise level keeps the points, so a noise slider only blurs
    clean, noisy = generate(name, n=2000, noise=0.0), generate(name, n=2000, noise=0.2)
    assert np.array_equal(clean.x_train, noisy.x_train)
    assert np.abs(clean.y_train).max() <= 1.0 + 1e-9
    assert 0.18 < np.std(noisy.y_train - clean.y_train) < 0.22
