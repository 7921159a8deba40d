"""Issue 11, items 8 and 10 in the command line: a name UTF-8 cannot encode, a mirror that is not
an address, and input echoed in full."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnbench import cli, presets
from nnbench.errors import quote

ROOT = Path(__file__).resolve().parent.parent


def nnbench(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "nnbench", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env=env)


def test_a_name_with_a_lone_surrogate_trains_saves_and_loads(tmp_path):
    exp = presets.load_preset("xor-mlp").to_dict()
    exp["name"] = "xor \ud800 run"
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(exp))  # JSON keeps it as the escape \\ud800
    saved = tmp_path / "odd.npz"
    run = nnbench("train", str(path), "--epochs", "3", "--save", str(saved))
    assert run.returncode == 0, run.stderr
    assert "training xor \\ud800 run" in run.stdout and "internal error" not in run.stderr
    again = nnbench("train", str(saved), "--epochs", "1")
    assert again.returncode == 0 and "continuing from epoch 3" in again.stdout, again.stderr


@pytest.mark.parametrize("mirror", ["not a url", "ftp://example.org/mnist/", "http://", "https://[::1/x",
                                    "http://host:99999/", "file:///etc/"])
def test_a_mirror_that_is_not_an_http_address_is_a_usage_error(tmp_path, capsys, mirror):
    exp = presets.load_preset("mnist-two-layer").to_dict()
    path = tmp_path / "mnist.json"
    path.write_text(json.dumps(exp))
    code = cli.main(["train", str(path), "--epochs", "1", "--mnist-mirror", mirror])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE, err
    assert "is not an http:// or https:// address" in err and "internal error" not in err


def test_a_mirror_that_is_not_an_address_in_a_real_process(tmp_path):
    exp = presets.load_preset("mnist-two-layer").to_dict()
    path = tmp_path / "mnist.json"
    path.write_text(json.dumps(exp))
    run = nnbench("train", str(path), "--epochs", "1", "--mnist-mirror", "not a url",
                  env={"NNBENCH_DATA_DIR": str(tmp_path / "empty")})
    assert run.returncode == cli.EXIT_USAGE and "'not a url' is not an http" in run.stderr, run.stderr


def test_good_mirrors_pass():
    for mirror in ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://127.0.0.1:8000/m/"):
        assert cli._mirror(mirror) == mirror


@pytest.mark.parametrize("where", ["name", "activation", "loss", "dataset", "n_inputs", "unknown field"])
def test_a_ten_megabyte_value_is_not_echoed_in_full(tmp_path, capsys, where):
    huge = "x" * (10 << 20)
    exp = presets.load_preset("xor-mlp").to_dict()
    if where == "name":
        exp["name"], exp["description"] = huge, [huge]  # a huge name, and the wrong type beside it
    elif where == "activation":
        exp["network"]["layers"][0]["activation"] = huge
    elif where == "loss":
        exp["training"]["loss"] = huge
    elif where == "dataset":
        exp["dataset"] = {"kind": "generator", "name": huge}
    elif where == "n_inputs":
        exp["network"]["n_inputs"] = huge
    else:
        exp[huge] = 1
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(exp))
    code = cli.main(["train", str(path), "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR and err.startswith("nnbench: error: "), err[:300]
    assert len(err) < 1000, err[:300]


def test_a_huge_argument_is_not_echoed_in_full(capsys):
    code = cli.main(["train", "y" * 100_000])
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR and len(err) < 400, err[:400]


def test_quote_keeps_short_values_as_repr_and_cuts_long_ones():
    assert quote("abc") == "'abc'" and quote(5) == "5" and quote(None) == "None"
    long = quote("z" * 10_000_000)
    assert len(long) < 120 and "10,000,000 characters" in long
    assert len(quote(list(range(10**6)))) < 60
    assert len(quote({"k": "v" * 10**6})) < 120
    assert quote(10**5000) == "<int>"  # repr would raise (over 4,300 digits)


@pytest.mark.parametrize("key", ["lr", "momentum", "reg_rate"])
def test_a_rate_of_400_digits_is_one_line(tmp_path, capsys, key):
    exp = presets.load_preset("xor-mlp").to_dict()
    exp["training"][key] = 10**400
    path = tmp_path / "digits.json"
    path.write_text(json.dumps(exp))
    code = cli.main(["train", str(path), "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR and f"'{key}' is far out of range" in err and "internal error" not in err
    assert len(err) < 300


@pytest.mark.parametrize("key", ["seed", "batch_size"])
def test_a_count_of_400_digits_still_trains(tmp_path, capsys, key):
    exp = presets.load_preset("xor-mlp").to_dict()
    exp["training"][key] = 10**400
    path = tmp_path / "digits.json"
    path.write_text(json.dumps(exp))
    assert cli.main(["train", str(path), "--epochs", "2"]) == 0, capsys.readouterr().err
