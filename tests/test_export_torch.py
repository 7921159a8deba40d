"""The PyTorch export: the generated script builds the network with torch.nn, loads the weights
from the .weights.npz beside it and reproduces the engine's predictions. Skipped without torch (the
`bench` extra installs it); the whole matrix runs in the slow suite."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
from export_helpers import HEADS, TOL, cases, make_experiment, max_diff, training_rows

from nnbench.engine.activations import HIDDEN_ACTIVATIONS
from nnbench.export import export_experiment

torch = pytest.importorskip("torch")

# default suite: every activation once and every head once, in both precisions
QUICK = [c for k, c in enumerate(cases()) if k % len(HEADS) == (k // len(HEADS)) % len(HEADS)]
FULL = cases()


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(case, tmp_path):
    exp = case.experiment
    out = tmp_path / "net.py"
    export_experiment(exp, "torch", out)
    module = load_module(out, f"torch_export_{abs(hash(case.id))}")
    model = module.load()
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    assert len(linears) == len(exp.network.layers)
    assert [lin.bias is not None for lin in linears] == [lay.bias for lay in exp.network.layers]
    x = training_rows(exp)
    got = module.predict(x)
    assert got.dtype == np.dtype(case.dtype)
    assert max_diff(got, exp.saved.network().predict(x)) < TOL[case.dtype], case.id


def test_the_quick_cases_cover_every_activation_and_head():
    ids = [c.id for c in QUICK]
    assert all(any(f"-{a}-" in i for i in ids) for a in HIDDEN_ACTIVATIONS)
    assert all(any(i.startswith(h) for i in ids) for h in HEADS)


@pytest.mark.parametrize("case", QUICK, ids=[c.id for c in QUICK])
def test_torch_script_reproduces_the_engine(case, tmp_path):
    check(case, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", FULL, ids=[c.id for c in FULL])
def test_torch_script_reproduces_the_engine_everywhere(case, tmp_path):
    check(case, tmp_path)


def test_the_torch_script_is_short_and_has_one_line_per_layer(tmp_path):
    exp = make_experiment("2d-sigmoid-bce-features", "tanh", "float64")
    out = tmp_path / "xor.py"
    export_experiment(exp, "torch", out)
    text = out.read_text()
    assert "nnbench" not in text.split('"""', 2)[2]  # no import of nnbench after the docstring
    assert "nn.Linear(7, 6), nn.Tanh(),  # hidden layer 1" in text
    assert "nn.Linear(6, 5, bias=False), nn.Tanh(),  # hidden layer 2" in text
    assert "nn.Linear(5, 1), nn.Sigmoid(),  # output layer" in text
    assert len(text.splitlines()) < 100
    r = subprocess.run([sys.executable, "-I", str(out), "0.5,-1"], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    want = exp.saved.network().predict(np.array([[0.5, -1.0]]))[0, 0]
    assert float(r.stdout.strip(" []\n")) == pytest.approx(want, abs=1e-6)


def test_an_mnist_shaped_torch_export_takes_pixels(tmp_path):
    from test_export import mnist_shaped

    from nnbench.engine import Network
    from nnbench.engine.files import Saved

    exp = mnist_shaped()
    net = Network(exp.network, np.random.default_rng(0))
    exp = exp.replace(saved=Saved(spec=exp.network, weights=net.weights(), dataset=exp.dataset))
    out = tmp_path / "mnist.py"
    export_experiment(exp, "torch", out)
    module = load_module(out, "torch_mnist_export")
    pixels = np.random.default_rng(2).integers(0, 256, (200, 784)).astype(np.float32)
    want = net.predict(pixels * np.float32(1 / 255))
    assert max_diff(module.predict(pixels), want) < 1e-5


def test_an_mlp_exported_by_torch_onnx_opens_as_a_network(tmp_path):
    """The import's "plain MLP from elsewhere", written by torch.onnx itself."""
    import warnings

    pytest.importorskip("onnx")
    from nnbench.export import read_onnx_network

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8),
                                torch.nn.LeakyReLU(0.01), torch.nn.Linear(8, 3), torch.nn.Softmax(dim=1))
    x = torch.randn(20, 4)
    path = tmp_path / "torch_mlp.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated, and needs no onnxscript
        torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}})
    saved = read_onnx_network(path)
    assert saved.spec.describe() == "4-8t-8l-3s"
    with torch.no_grad():
        want = model(x).numpy()
    assert max_diff(saved.network().predict(x.numpy()), want) < 1e-5
