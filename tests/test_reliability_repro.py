"""Reproducibility, headless: the same experiment and seed give bit-identical weights."""

from __future__ import annotations

import numpy as np
import pytest

from nnbench import cli, presets
from nnbench.engine import files

PRESETS = ["xor-mlp", "height-weight-noisy", "regression-curve"]


def headless_weights(name: str, epochs: int, seed: int | None = None) -> dict[str, np.ndarray]:
    exp = presets.load_preset(name).with_training(epochs=epochs)
    if seed is not None:
        exp = exp.with_training(seed=seed).replace(net_seed=seed)
    _, net, trainer = exp.build()
    trainer.run(epochs)
    return net.weights()


def assert_identical(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype
        assert a[k].tobytes() == b[k].tobytes(), k


@pytest.mark.parametrize("name", PRESETS)
def test_two_headless_runs_give_bit_identical_weights(name):
    assert_identical(headless_weights(name, 30), headless_weights(name, 30))
    assert_identical(headless_weights(name, 30, seed=7), headless_weights(name, 30, seed=7))
    different = headless_weights(name, 30, seed=8)
    assert any(different[k].tobytes() != v.tobytes() for k, v in headless_weights(name, 30, seed=7).items())


@pytest.mark.parametrize("name", PRESETS)
def test_the_cli_gives_the_same_weights_as_the_library_and_as_itself(name, tmp_path, capsys):
    out = []
    for i in range(2):
        path = tmp_path / f"run{i}.npz"
        assert cli.main(["train", name, "--epochs", "30", "--save", str(path)]) == 0
        out.append(files.load(path).weights)
    capsys.readouterr()
    assert_identical(out[0], out[1])
    assert_identical(out[0], headless_weights(name, 30))


def test_a_saved_run_continued_equals_one_long_run(tmp_path, capsys):
    """Train 20 epochs, save, continue 10 in the CLI: the same bits as 30 epochs at once."""
    name = "height-weight-noisy"
    path = tmp_path / "half.npz"
    assert cli.main(["train", name, "--epochs", "20", "--save", str(path)]) == 0
    assert cli.main(["train", str(path), "--epochs", "10", "--save", str(tmp_path / "full.npz")]) == 0
    capsys.readouterr()
    assert_identical(files.load(tmp_path / "full.npz").weights, headless_weights(name, 30))
