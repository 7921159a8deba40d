"""The CSV importer on good files and on every kind of bad one, with line and column named."""

import json

import numpy as np
import pytest

from nnbench.data import dataset_from_csv, make, read_csv_table
from nnbench.errors import FileFormatError, SpecError

PEOPLE = "age,height,weight,species\n" + "".join(
    f"{20 + i},{150 + 3 * i}.5,{50 + 2 * i},{['cat', 'dog', 'emu'][i % 3]}\n" for i in range(30)
)


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_sniffs_delimiter_and_header(tmp_path, delimiter):
    t = read_csv_table(write(tmp_path, PEOPLE.replace(",", delimiter)))
    assert t.delimiter == delimiter and t.has_header
    assert t.columns == ("age", "height", "weight", "species")
    assert len(t.rows) == 30 and t.rows[0] == ["20", "150.5", "50", "cat"] and t.lines[0] == 2


def test_no_header_gets_numbered_columns(tmp_path):
    t = read_csv_table(write(tmp_path, "1,2\n3,4\n\n5,6\n"))
    assert not t.has_header and t.columns == ("column 1", "column 2")
    assert t.rows == [["1", "2"], ["3", "4"], ["5", "6"]] and t.lines == [1, 2, 4]


def test_semicolon_file_with_decimal_commas(tmp_path):
    ds = dataset_from_csv(write(tmp_path, "a;y\n1,5;0,25\n2,5;0,5\n3,5;1,5\n"), ["a"], "y", test_fraction=0)
    assert sorted(ds.x_train[:, 0]) == [1.5, 2.5, 3.5] and ds.task == "regression"


def test_string_classes_become_one_hot(tmp_path):
    ds = dataset_from_csv(write(tmp_path, PEOPLE), ["age", "height"], "species", test_fraction=0.2, seed=1)
    assert ds.task == "classification" and ds.target_names == ("cat", "dog", "emu")
    assert ds.y_train.shape == (24, 3) and ds.x_test.shape == (6, 2)
    assert ds.name == "data" and ds.feature_names == ("age", "height")
    # rows stay together through the shuffle: age 20 + i is a cat when i % 3 == 0
    labels = ds.labels_of(ds.y_train)
    assert np.array_equal(labels, (ds.x_train[:, 0].astype(int) - 20) % 3)


def test_binary_and_numeric_class_inference(tmp_path):
    text = "x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(10))
    ds = dataset_from_csv(write(tmp_path, text), ["x"], "y")
    assert ds.task == "classification" and ds.y_train.shape[1] == 1 and ds.target_names == ("0", "1")
    reg = "x,y\n" + "".join(f"{i},{i * 0.37}\n" for i in range(10))
    assert dataset_from_csv(write(tmp_path, reg, "r.csv"), ["x"], "y").task == "regression"
    many = "x,y\n" + "".join(f"{i},{i}\n" for i in range(40))
    assert dataset_from_csv(write(tmp_path, many, "m.csv"), ["x"], "y").task == "regression"
    forced = dataset_from_csv(write(tmp_path, text, "f.csv"), ["x"], "y", task="regression")
    assert forced.task == "regression"


def test_numeric_class_names_sort_numerically(tmp_path):
    text = "x,y\n" + "".join(f"{i},{[2, 10, 9][i % 3]}\n" for i in range(9))
    assert dataset_from_csv(write(tmp_path, text), ["x"], "y").target_names == ("2", "9", "10")


def test_standardize_uses_training_stats_and_round_trips(tmp_path):
    path = write(tmp_path, PEOPLE)
    ds = dataset_from_csv(path, ["age", "weight"], "height", standardize=True, test_fraction=0.3, seed=2)
    assert np.allclose(ds.x_train.mean(axis=0), 0) and np.allclose(ds.x_train.std(axis=0), 1)
    assert not np.allclose(ds.x_test.mean(axis=0), 0)
    assert len(ds.source["mean"]) == 2 and ds.source["task"] == "regression"
    again = make(json.loads(json.dumps(ds.source)))
    assert np.array_equal(again.x_train, ds.x_train) and np.array_equal(again.y_test, ds.y_test)


BAD = [
    ("", "data.csv is empty"),
    ("\n \n", "data.csv is empty"),
    ("a,b,y\n1,2,0\n3,4,1\n5,,0\n", "line 4, column 'b': empty value"),
    ("a,b,y\n1,2,0\n3,abc,1\n", "line 3, column 'b': 'abc' is not a number"),
    ("a,b,y\n1,2,0\n3,inf,1\n", "line 3, column 'b': 'inf' is not a finite number"),
    ("a,b,y\n1,2,0\n3,4\n", "line 3: 2 values, expected 3"),
    ("a,b,y\n1,2,1\n3,4,1\n", "column 'y' has only one class"),
    ("a,b,y\n1,2,0\n3,4,\n", "line 3, column 'y': empty value"),
    ("a,a,y\n1,2,0\n", "column name 'a' appears twice"),
    ("a,b,y\n", "no data rows"),
    ("a,b,y\n1,2,0\n", "needs at least 2 data rows"),
    (b"a,b,y\n1,2,0\n3,4,caf\xe9\n", "line 3: byte 0xe9 is not UTF-8"),
]


@pytest.mark.parametrize(("text", "words"), BAD)
def test_bad_files(tmp_path, text, words):
    with pytest.raises(FileFormatError, match=words) as err:
        dataset_from_csv(write(tmp_path, text), ["a", "b"], "y")
    assert "data.csv" in str(err.value)


def test_regression_target_must_be_numbers(tmp_path):
    with pytest.raises(FileFormatError, match="line 3, column 'y': 'x' is not a number"):
        dataset_from_csv(write(tmp_path, "a,y\n1,2\n3,x\n"), ["a"], "y", task="regression")


def test_too_many_classes(tmp_path):
    text = "a,y\n" + "".join(f"{i},c{i}\n" for i in range(150))
    with pytest.raises(FileFormatError, match="150 different values"):
        dataset_from_csv(write(tmp_path, text), ["a"], "y")


def test_size_limit_is_checked_before_reading(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "wb") as f:
        f.truncate(300 * 1024 * 1024)  # sparse: no disk used, and never read
    with pytest.raises(FileFormatError, match=r"big.csv is 300.0 MB; nnbench reads CSV files up to 200 MB"):
        read_csv_table(path)


@pytest.mark.parametrize(
    ("features", "target", "words"),
    [
        (["nope"], "species", "no column 'nope'"),
        ([], "species", "one or more distinct feature columns"),
        (["age"], "age", "different target column"),
    ],
)
def test_bad_column_choices(tmp_path, features, target, words):
    with pytest.raises(SpecError, match=words):
        dataset_from_csv(write(tmp_path, PEOPLE), features, target)
