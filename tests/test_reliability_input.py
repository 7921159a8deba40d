"""Bad input wherever a user can type or open something: each gets one clear NnbenchError, and
the CLI turns it into one line and a non-zero exit. Divergence in the CLI likewise."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from nnbench import cli, data, presets
from nnbench.data.csvdata import MAX_BYTES, dataset_from_csv, read_csv_table
from nnbench.engine import LayerSpec, Network, NetworkSpec, TrainConfig, Trainer
from nnbench.errors import FileFormatError, IncompatibleError, NnbenchError, SpecError
from nnbench.experiment import check_fits


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def one_error_line(capsys, argv, code=cli.EXIT_ERROR) -> str:
    assert cli.main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nnbench: error: "), err
    assert "Traceback" not in err[0]
    return err[0]


# ---- network and training settings ---------------------------------------------------------------

@pytest.mark.parametrize("units,message", [(0, "between 1 and"), (-3, "between 1 and"),
                                            (10**9, "between 1 and"), (4097, "between 1 and")])
def test_layer_sizes_out_of_range_are_refused(units, message):
    with pytest.raises(SpecError, match=message):
        NetworkSpec(2, (LayerSpec(units, "tanh"), LayerSpec(1, "sigmoid")))
    with pytest.raises(SpecError, match=message):
        NetworkSpec(2, (LayerSpec(units, "sigmoid"),))


@pytest.mark.parametrize("inputs", [0, -1, 10**7])
def test_input_counts_out_of_range_are_refused(inputs):
    with pytest.raises(SpecError, match="inputs"):
        NetworkSpec.mlp([inputs, 1])


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf"), 1e6])
def test_learning_rates_that_cannot_work_are_refused(lr):
    with pytest.raises(SpecError, match="learning rate"):
        TrainConfig(lr=lr)


def test_a_batch_larger_than_the_data_trains_as_one_full_batch():
    ds = data.make({"kind": "generator", "name": "xor", "n": 40, "seed": 1})
    net_a = Network(NetworkSpec.mlp([2, 4, 1]), np.random.default_rng(0))
    net_b = Network(NetworkSpec.mlp([2, 4, 1]), np.random.default_rng(0))
    big = Trainer(net_a, TrainConfig(batch_size=10_000, epochs=5), ds.x_train, ds.y_train)
    full = Trainer(net_b, TrainConfig(batch_size=0, epochs=5), ds.x_train, ds.y_train)
    assert big.batch_size == len(ds.x_train)
    big.run(5)
    full.run(5)
    assert big.step_count == full.step_count == 5
    for k, w in net_a.weights().items():
        np.testing.assert_array_equal(w, net_b.weights()[k])


def test_a_network_that_does_not_fit_the_dataset_is_refused():
    ds = data.make({"kind": "generator", "name": "xor", "n": 40, "seed": 1})
    with pytest.raises(IncompatibleError, match="3 in / 1 out.*2 input"):
        check_fits(NetworkSpec.mlp([3, 4, 1]), ds)
    with pytest.raises(IncompatibleError):
        Trainer(Network(NetworkSpec.mlp([3, 4, 1])), TrainConfig(), ds.x_train, ds.y_train)
    exp = presets.load_preset("xor-mlp")
    bad = exp.replace(network=NetworkSpec.mlp([5, 2, 1]))
    with pytest.raises(IncompatibleError):
        bad.build()


# ---- CSV ------------------------------------------------------------------------------------------

CSV_CASES = {
    "missing.csv": ("x,y,label\n1,2,0\n3,,1\n5,6,0\n", "line 3, column 'y': empty value"),
    "text.csv": ("x,y,label\n1,2,0\n3,abc,1\n5,6,0\n", "'abc' is not a number"),
    "single.csv": ("x,y,label\n1,2,0\n3,4,0\n5,6,0\n", "only one class"),
    "empty.csv": ("", "is empty"),
    "blank.csv": ("\n \n\n", "is empty"),
    "header_only.csv": ("x,y,label\n", "no data rows"),
    "ragged.csv": ("x,y,label\n1,2,0\n3,4\n", "line 3: 2 values, expected 3"),
    "nan.csv": ("x,y,label\n1,nan,0\n3,4,1\n", "not a finite number"),
    "binary.csv": (b"x,y\n\xff\xfe\x00", "not UTF-8"),
}


@pytest.mark.parametrize("name", sorted(CSV_CASES))
def test_bad_csv_files_get_a_message_naming_the_problem(tmp_path, name):
    text, message = CSV_CASES[name]
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(NnbenchError, match=message) as e:
        dataset_from_csv(path, ["x", "y"], "label", task="classification")
    assert name in str(e.value)


def test_a_2_gb_csv_is_refused_without_reading_it(tmp_path):
    import tracemalloc

    path = tmp_path / "huge.csv"
    with open(path, "wb") as f:
        f.truncate(2 << 30)  # sparse: takes no disk space
    tracemalloc.start()
    try:
        with pytest.raises(FileFormatError, match=r"huge.csv is 2048.0 MB; nnbench reads CSV files up to"):
            read_csv_table(path)
        with pytest.raises(FileFormatError):
            data.make({"kind": "csv", "path": str(path), "feature_columns": ["x"], "target_column": "y"})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20 < MAX_BYTES


def test_a_csv_column_that_is_not_there(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,y,label\n1,2,0\n3,4,1\n")
    with pytest.raises(SpecError, match="no column 'z'"):
        dataset_from_csv(path, ["x", "z"], "label")


# ---- the CLI --------------------------------------------------------------------------------------

def test_an_absurd_learning_rate_in_the_cli_is_one_line(capsys):
    line = one_error_line(capsys, ["train", "xor-mlp", "--lr", "1e6", "--epochs", "3"])
    assert "learning rate" in line
    for lr in ("0", "-1", "nan"):
        assert "learning rate" in one_error_line(capsys, ["train", "xor-mlp", "--lr", lr])


def test_divergence_in_the_cli_exits_non_zero_with_what_to_try(capsys):
    line = one_error_line(capsys, ["train", "regression-linear", "--lr", "500", "--epochs", "20"],
                          code=cli.EXIT_DIVERGED)
    assert "training diverged" in line and "Lower the learning rate (try 50)" in line


def test_divergence_exit_code_from_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "nnbench", "train", "regression-linear", "--lr", "500",
                           "--epochs", "20"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == cli.EXIT_DIVERGED
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("change,message", [
    (lambda d: d["network"]["layers"][0].update(units=0), "between 1 and"),
    (lambda d: d["network"]["layers"][0].update(units=10**6), "between 1 and"),
    (lambda d: d["training"].update(lr=-1), "learning rate"),
    (lambda d: d["network"].update(n_inputs=7), "does not fit|7 in"),
    (lambda d: d["dataset"].update(name="no-such-generator"), "no-such-generator"),
])
def test_bad_experiment_files_in_the_cli_are_one_line(capsys, tmp_path, change, message):
    import re

    d = presets.load_preset("xor-mlp").to_dict()
    change(d)
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(d))
    line = one_error_line(capsys, ["train", str(path), "--epochs", "1"])
    assert re.search(message, line), line


def test_a_csv_experiment_in_the_cli_with_a_bad_file_is_one_line(capsys, tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("x,y,label\n1,2,0\n3,4,0\n")
    d = presets.load_preset("xor-mlp").to_dict()
    d["dataset"] = {"kind": "csv", "path": str(csv), "feature_columns": ["x", "y"], "target_column": "label",
                    "task": "classification"}
    path = tmp_path / "exp.json"
    path.write_text(json.dumps(d))
    assert "only one class" in one_error_line(capsys, ["train", str(path), "--epochs", "1"])


# ---- special files: sizes on disk that lie, opens that block ------------------------------------

def special_files(tmp_path):
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    return {"dev_zero": "/dev/zero", "fifo": str(fifo), "directory": str(tmp_path)}


@pytest.mark.parametrize("kind", ["dev_zero", "fifo", "directory"])
def test_special_files_are_refused_without_reading_forever_or_blocking(tmp_path, kind):
    from nnbench.engine import files
    from nnbench.experiment import load_experiment

    path = special_files(tmp_path)[kind]
    with pytest.raises(FileFormatError, match="not a regular file"):
        read_csv_table(path)
    with pytest.raises(FileFormatError, match="not a regular file"):
        files.load(path)
    with pytest.raises(FileFormatError, match="not a regular file"):
        load_experiment(path)


def test_proc_files_that_report_zero_bytes_are_read_with_a_bound(tmp_path):
    from nnbench.engine import files

    with pytest.raises(FileFormatError, match="not an nnbench file"):
        files.load("/proc/self/status")  # st_size 0, content finite
    big = tmp_path / "grows.csv"
    big.write_text("x,y\n" + "1,2\n" * 1000)
    with pytest.raises(FileFormatError, match="up to"):
        read_csv_table(big, max_bytes=100)


def test_a_file_holding_more_than_it_reports_is_cut_at_the_limit():
    from nnbench.engine import files

    # /proc/self/status reports 0 bytes and holds over a kilobyte.
    with pytest.raises(FileFormatError, match="holds over"):
        files.read_limited(__import__("pathlib").Path("/proc/self/status"), 50, "a test")
    with pytest.raises(FileFormatError, match="holds more than"):
        read_csv_table("/proc/self/status", max_bytes=50)
