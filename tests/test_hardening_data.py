"""Issue 11, item 7: every field of every dataset source, given a value of the wrong type, gets
the project's message naming the field, never a TypeError from inside a builder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nnbench import cli, presets
from nnbench.data import make
from nnbench.errors import NnbenchError

BAD_VALUES = [5, -1, 2.5, "text", True, None, [], [1, "a"], [[1], [2]], {"a": 1}, [None]]


def sources(tmp_path) -> dict[str, dict]:
    csv = tmp_path / "points.csv"
    csv.write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    npz = tmp_path / "mnist.npz"
    x = np.zeros((4, 28, 28), np.uint8)
    y = np.array([0, 1, 2, 3], np.uint8)
    np.savez(npz, x_train=x, y_train=y, x_test=x, y_test=y)
    return {
        "generator": {"kind": "generator", "name": "spiral", "n": 40, "noise": 0.1, "test_fraction": 0.5,
                      "seed": 0},
        "blobs": {"kind": "generator", "name": "blobs", "n": 40, "classes": 3},
        "table": {"kind": "table", "name": "t", "columns": ["a", "b", "y"], "rows": [[0, 1, 0], [1, 0, 1]],
                  "task": "classification", "n_features": 2, "row_labels": ["r1", "r2"],
                  "target_names": ["no", "yes"], "test_fraction": 0.0, "seed": 0},
        "csv": {"kind": "csv", "path": str(csv), "feature_columns": ["a", "b"], "target_column": "y",
                "task": "classification", "standardize": True, "test_fraction": 0.25, "seed": 0},
        "mnist": {"kind": "mnist", "path": str(npz), "subset": 2, "test_subset": 2},
        "mnist-files": {"kind": "mnist", "files": [str(npz), str(npz), None, None], "split": [2, 1]},
    }


def cases(tmp_path):
    for label, source in sources(tmp_path).items():
        for key in source:
            for value in BAD_VALUES:
                yield label, key, {**source, key: value}


def test_the_base_sources_build(tmp_path):
    for label, source in sources(tmp_path).items():
        if label != "mnist-files":  # IDX files, not an npz: refused, which is the point there
            make(source)


def test_every_field_of_the_wrong_type_gets_a_message(tmp_path):
    refused, wrong = 0, []
    for label, key, source in cases(tmp_path):
        try:
            make(source)
        except NnbenchError as e:
            refused += 1
            assert len(str(e)) < 400, (label, key, str(e))
        except Exception as e:  # noqa: BLE001 - what this test is about
            wrong.append(f"{label}.{key} = {source[key]!r}: {type(e).__name__}: {e}")
    assert not wrong, f"{len(wrong)} cases:\n" + "\n".join(wrong)
    assert refused > 250


def test_a_wrong_type_names_the_field():
    with pytest.raises(NnbenchError, match="'columns' must be a list of texts, got 5"):
        make({"kind": "table", "name": "t", "columns": 5, "rows": [[0, 1]]})
    with pytest.raises(NnbenchError, match="'rows' must be a list of lists of numbers"):
        make({"kind": "table", "name": "t", "columns": ["a", "b"], "rows": [[0, {"x": 1}]]})
    with pytest.raises(NnbenchError, match="'split' must be a list of whole numbers or null, got 5"):
        make({"kind": "mnist", "path": "x.npz", "split": 5})


def test_in_the_cli_a_wrong_type_is_one_line(tmp_path, capsys):
    exp = presets.load_preset("xor-mlp").to_dict()
    exp["dataset"] = {"kind": "table", "name": "t", "columns": 5, "rows": [[0, 1]]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(exp))
    assert cli.main(["train", str(path), "--epochs", "1"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("nnbench: error: ") and "'columns' must be a list of texts" in err
    assert "internal error" not in err
