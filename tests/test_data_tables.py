"""The built-in tables hold exactly the rows of the exercises; edited tables round-trip."""

import json

import numpy as np
import pytest

from nnbench.data import TABLES, make, table, table_from_rows, table_source
from nnbench.errors import SpecError


def test_perceptron():
    ds = table("perceptron")
    assert ds.x_train.tolist() == [[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]]
    assert ds.y_train.tolist() == [[0], [1], [1], [0]]
    assert ds.feature_names == ("X1", "X2", "X3")
    assert np.array_equal(ds.x_test, ds.x_train) and np.array_equal(ds.y_test, ds.y_train)
    assert ds.task == "classification" and ds.n_classes == 2


def test_xor3_is_x1_xor_x2():
    ds = table("xor3")
    assert ds.x_train.tolist() == [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
    x = ds.x_train.astype(int)
    assert ds.y_train[:, 0].tolist() == (x[:, 0] ^ x[:, 1]).tolist() == [0, 1, 1, 0]


def test_height_weight():
    ds = table("height-weight")
    assert ds.row_labels == ("Alice", "Bob", "Charlie", "Diana")
    assert ds.feature_names == ("weight", "height")
    assert ds.x_train.tolist() == [[-2, -1], [25, 6], [17, 4], [-15, -6]]
    assert ds.y_train[:, 0].tolist() == [1, 0, 0, 1]
    assert ds.target_names[1] == "female"


def test_noisy_height_weight_is_fixed_and_split():
    a, b = table("height-weight-noisy"), table("height-weight-noisy")
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert len(a.x_train) + len(a.x_test) == 80 and len(a.x_test) == 20
    y = np.concatenate([a.y_train, a.y_test])[:, 0]
    assert y.sum() == 40
    x = np.concatenate([a.x_train, a.x_test])
    # women lighter and shorter on average, as in the small table
    assert x[y == 1].mean(axis=0)[0] < x[y == 0].mean(axis=0)[0]


@pytest.mark.parametrize("name", list(TABLES))
def test_sources_round_trip(name):
    ds = table(name)
    assert ds.source == {"kind": "table", "name": name}
    full = json.loads(json.dumps(table_source(name)))
    for again in (make(ds.source), make(full)):
        assert np.array_equal(again.x_train, ds.x_train) and np.array_equal(again.y_test, ds.y_test)
        assert again.row_labels == ds.row_labels and again.target_names == ds.target_names


def test_edited_table_round_trips():
    ds = table_from_rows("mine", ["a", "b", "c"], [[1, 2, 0], [3, 4, 2], [5, 6, 1]])
    assert ds.y_train.shape == (3, 3) and ds.target_names == ("0", "1", "2")
    assert np.array_equal(make(json.loads(json.dumps(ds.source))).y_train, ds.y_train)
    reg = table_from_rows("r", ["a", "y1", "y2"], [[1, 2, 3], [4, 5, 6]], task="regression", n_features=1)
    assert reg.y_train.tolist() == [[2, 3], [5, 6]] and reg.target_names == ("y1", "y2")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"rows": []}, "no rows"),
        ({"rows": [[1, 2]]}, "row 1: 2 values for 3 columns"),
        ({"rows": [[1, "x", 0]]}, "row 1, column 'b'"),
        ({"rows": [[1, 2, 0.5]]}, "whole numbers"),
        ({"rows": [[1, 2, 0]], "n_features": 3}, "leaves no target"),
        ({"rows": [[1, 2, 0]], "task": "ranking"}, "task must be"),
        ({"rows": [[1, 2, 0]], "row_labels": ["a", "b"]}, "2 row labels for 1 rows"),
    ],
)
def test_bad_edited_tables(kwargs, words):
    with pytest.raises(SpecError, match=words):
        table_from_rows("t", ["a", "b", "y"], **kwargs)


def test_unknown_table():
    with pytest.raises(SpecError, match="unknown table 'nope'"):
        table("nope")
