"""The headless command line: output, files, and one-line errors with non-zero exit codes."""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from nnbench import cli, presets
from nnbench.data import write_idx

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def nnbench(*argv, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "nnbench", *argv], capture_output=True, text=True,
                          env=env, timeout=120, **kw)


def test_presets_lists_every_preset(capsys):
    code, out, _ = run(capsys, "presets")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names == list(presets.ORDER)


def test_train_json_prints_final_metrics_on_the_last_line(capsys):
    code, out, _ = run(capsys, "train", "xor-mlp", "--json")
    assert code == 0
    m = last_json(out)
    assert m["epochs"] == 1500 and m["accuracy"] == 1.0 and m["loss"] < 0.01 and m["seconds"] > 0
    assert "epoch 1500" in out


def test_height_weight_prints_the_loss_every_10_epochs(capsys):
    code, out, _ = run(capsys, "train", "height-weight", "--epochs", "50")
    assert code == 0
    epochs = [int(line.split()[1]) for line in out.splitlines() if line.startswith("epoch ")]
    assert epochs == [10, 20, 30, 40, 50]
    assert all("loss" in line for line in out.splitlines() if line.startswith("epoch "))


def test_seed_and_epochs_override_the_experiment(capsys):
    a = last_json(run(capsys, "train", "xor-mlp", "--epochs", "30", "--seed", "3", "--json")[1])
    b = last_json(run(capsys, "train", "xor-mlp", "--epochs", "30", "--seed", "4", "--json")[1])
    c = last_json(run(capsys, "train", "xor-mlp", "--epochs", "30", "--seed", "3", "--json")[1])
    assert a["epochs"] == 30 and a["loss"] == c["loss"] != b["loss"]


def test_saved_experiment_continues_from_its_weights(capsys, tmp_path):
    saved = tmp_path / "xor.npz"
    code, out, _ = run(capsys, "train", "xor-mlp", "--epochs", "200", "--save", str(saved), "--json")
    assert code == 0 and saved.is_file()
    first = last_json(out)
    fresh = last_json(run(capsys, "train", "xor-mlp", "--epochs", "50", "--json")[1])
    code, out, _ = run(capsys, "train", str(saved), "--json", "--epochs", "50")
    assert code == 0 and "continuing from epoch 200" in out
    resumed = last_json(out)
    assert resumed["epochs"] == 250 and resumed["epochs_run"] == 50
    assert resumed["loss"] < first["loss"] < fresh["loss"]


def test_a_network_file_saved_by_the_window_continues_headless(capsys, tmp_path):
    # The GUI saves with files.save(path, net, trainer, dataset=source) and no experiment record.
    from nnbench.engine import files

    exp = presets.load_preset("xor-mlp").with_training(epochs=100)
    ds, net, trainer = exp.build()
    trainer.run(100)
    files.save(tmp_path / "gui.npz", net, trainer, dataset=ds.source)
    code, out, _ = run(capsys, "train", str(tmp_path / "gui.npz"), "--json", "--epochs", "20")
    assert code == 0
    m = last_json(out)
    assert m["epochs"] == 120 and m["loss"] < trainer.history.last("train_loss")


def test_predict_prints_the_trained_networks_output(capsys, tmp_path):
    saved = tmp_path / "perceptron.npz"
    assert run(capsys, "train", "perceptron", "--save", str(saved))[0] == 0
    code, out, _ = run(capsys, "predict", str(saved), "--input", "1,0,0")
    assert code == 0 and out.startswith("1,0,0 -> 0.9999")
    code, out, _ = run(capsys, "predict", str(saved), "--input", "1,0,0", "--input", "0,1,1", "--json")
    outputs = np.array(json.loads(out)["outputs"])
    assert outputs.shape == (2, 1) and outputs[0, 0] > 0.99 and outputs[1, 0] < 0.01


def test_numerical_gradients_report_time_per_step_beside_backprop(capsys):
    argv = ["train", "xor-mlp", "--gradients", "numerical", "--rows", "4", "--steps", "3", "--json"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "numerical:" in out and "backprop:" in out and "times slower" in out
    r = last_json(out)
    assert r["numerical_s_per_step"] > r["backprop_s_per_step"] and r["max_relative_difference"] < 1e-6


def test_mnist_from_a_data_dir(capsys, tmp_path):
    rng = np.random.default_rng(0)
    patterns = rng.random((10, 28, 28)) < 0.2
    for n, images, labels in ((600, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                              (100, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")):
        digits = rng.integers(0, 10, n).astype(np.uint8)
        write_idx(tmp_path / images, (patterns[digits] * 200).astype(np.uint8))
        write_idx(tmp_path / labels, digits)
    argv = ["train", "mnist-two-layer", "--data-dir", str(tmp_path), "--epochs", "2", "--json"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    m = last_json(out)
    assert m["epochs"] == 2 and 0 <= m["test_accuracy"] <= 1 and m["steps"] == 12


def test_mnist_missing_and_not_downloadable_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NNBENCH_DATA_DIR", str(tmp_path / "cache"))
    argv = ["train", "mnist-two-layer", "--mnist-mirror", "http://127.0.0.1:9/", "--epochs", "1"]
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert err.startswith("nnbench: error:") and len(err.strip().splitlines()) == 1


def test_a_progress_bar_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(cli, "_is_tty", lambda stream: True)
    ticks = iter(range(0, 10**6))
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(ticks))
    code, out, err = run(capsys, "train", "xor-mlp", "--epochs", "20")
    assert code == 0 and "[" in err and "epoch" in err and "\r" in err
    assert "epoch 20" in out


@pytest.mark.parametrize(
    "argv,code,message",
    [
        (["train", "no-such-preset"], 1, "no such file or preset"),
        (["train", "xor-mlp", "--epochs", "many"], 2, "not a whole number"),
        (["train", "xor-mlp", "--epochs", "-3"], 2, "negative"),
        (["train", "xor-mlp", "--lr", "0"], 1, "learning rate"),
        (["train"], 2, "required"),
        (["predict", "no-such-file.npz", "--input", "1"], 1, "no such file"),
        (["frobnicate", "now"], 2, "unknown command"),
        (["train", "regression-linear", "--lr", "50"], 3, "training diverged"),
    ],
)
def test_errors_are_one_line_with_a_non_zero_exit(capsys, argv, code, message):
    got, _, err = run(capsys, *argv)
    assert got == code
    assert err.startswith("nnbench: error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_bad_files_are_one_line_errors(capsys, tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    code, _, err = run(capsys, "train", str(garbage))
    assert code == 1 and "damaged or not an nnbench file" in err and len(err.strip().splitlines()) == 1
    saved = tmp_path / "p.npz"
    run(capsys, "train", "perceptron", "--epochs", "1", "--save", str(saved))
    code, _, err = run(capsys, "predict", str(saved), "--input", "1,0")
    assert code == 1 and "3 input(s)" in err
    code, _, err = run(capsys, "predict", str(saved), "--input", "1,x,0")
    assert code == 2 and "numbers separated by commas" in err


def test_no_arguments_opens_the_window_and_a_file_opens_in_it(capsys, monkeypatch, tmp_path):
    opened = []
    fake = types.ModuleType("nnbench.ui.app")
    fake.main = lambda path=None: opened.append(path) or 0
    monkeypatch.setitem(sys.modules, "nnbench.ui.app", fake)
    import nnbench.ui

    monkeypatch.setattr(nnbench.ui, "app", fake, raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert cli.main([]) == 0
    path = tmp_path / "x.json"
    path.write_text(json.dumps(presets.load_preset("xor-mlp").to_dict()))
    assert cli.main([str(path)]) == 0
    assert opened == [None, str(path)]


def test_subprocess_exit_codes_and_no_traceback(tmp_path):
    ok = nnbench("train", "xor-mlp", "--epochs", "5", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout.splitlines()[-1])["epochs"] == 5
    bad = nnbench("train", "nope")
    assert bad.returncode == 1 and bad.stderr.startswith("nnbench: error:") and "Traceback" not in bad.stderr
    usage = nnbench("train", "xor-mlp", "--bogus")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    diverged = nnbench("train", "regression-linear", "--lr", "50")
    assert diverged.returncode == 3 and "diverged" in diverged.stderr


@pytest.mark.slow
def test_bench_quick_prints_ratios(capsys):
    code, out, _ = run(capsys, "bench", "--quick", "--threads", "1")
    assert code == 0 and "us/step" in out


def test_train_features_switch_the_first_layers_inputs(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "circle-features", "--json")
    assert code == 0 and "2[x1^2,x2^2]" in out and last_json(out)["test_accuracy"] >= 0.98
    code, out, _ = run(capsys, "train", "circle-features", "--features", "x1,x2", "--json")
    assert code == 0 and last_json(out)["test_accuracy"] < 0.75  # a line cannot split a disc from a ring
    saved = tmp_path / "c.npz"
    code, out, _ = run(capsys, "train", "circle-features", "--features", "x2,sin(x1)", "--epochs", "3",
                       "--save", str(saved))
    assert code == 0
    code, out, _ = run(capsys, "predict", str(saved), "--input", "0.5,-1", "--json")
    assert code == 0
    from nnbench.engine import files
    net = files.load(saved).network()
    assert net.spec.features == ("x2", "sin(x1)")
    printed = np.array(last_json(out)["outputs"], dtype=float)
    np.testing.assert_allclose(printed.ravel(), net.predict(np.array([[0.5, -1.0]])).ravel())
    for bad, why in (("x3", "unknown input feature 'x3'"), ("x1,x1", "listed twice")):
        code, _, err = run(capsys, "train", "circle-features", "--features", bad)
        assert code != 0 and why in err and "Traceback" not in err
    code, _, err = run(capsys, "train", str(saved), "--features", "x1")
    assert code != 0 and "not to trained weights" in err


def test_train_regularization_options(capsys, tmp_path):
    from nnbench.engine import files

    norms = {}
    for kind in ("none", "l2"):
        path = tmp_path / f"{kind}.npz"
        code, out, _ = run(capsys, "train", "circle-features", "--features", "x1,x2,x1^2,x2^2",
                           "--regularization", kind, "--reg-rate", "0.5", "--save", str(path), "--json")
        assert code == 0
        saved = files.load(path)
        assert saved.config.regularization == kind
        norms[kind] = np.linalg.norm(saved.weights["layer0.W"])
    assert norms["l2"] < 0.8 * norms["none"]
    code, _, err = run(capsys, "train", "circle-features", "--reg-rate", "-1")
    assert code != 0 and "regularization rate" in err and "Traceback" not in err
