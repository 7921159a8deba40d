"""Export round trips: ONNX (checked, run in onnxruntime, read back), the plain NumPy script (run
where nnbench cannot be imported), and the input scaling of standardised CSV and MNIST data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from export_helpers import TOL, cases, make_experiment, max_diff, training_rows

from nnbench import data
from nnbench.engine import LayerSpec, Network, NetworkSpec, TrainConfig
from nnbench.experiment import Experiment, load_experiment, save_experiment
from nnbench.export import export, export_experiment, from_source, read_onnx_network

try:
    import onnx
    import onnxruntime as ort
except ImportError:  # the NumPy tests still run
    onnx = ort = None
needs_onnx = pytest.mark.skipif(onnx is None, reason="the export extra (onnx, onnxruntime) is not installed")

REAL_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"
CASES = cases()


def run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


@needs_onnx
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_onnx_matches_the_engine_and_reads_back_the_same_network(case, tmp_path):
    exp = case.experiment
    net = exp.saved.network()
    x = training_rows(exp).astype(case.dtype)
    out = tmp_path / "net.onnx"
    assert export_experiment(exp, "onnx", out) == [out]
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 17
    y = run_onnx(out, x)
    assert y.dtype == np.dtype(case.dtype)
    assert max_diff(y, net.predict(x)) < TOL[case.dtype]
    # back: the same spec, bit-identical weights, the dataset and training settings it recorded
    saved = read_onnx_network(out)
    assert saved.spec == net.spec
    for name, w in net.weights().items():
        np.testing.assert_array_equal(saved.weights[name], w, err_msg=name)
    assert saved.dataset == exp.dataset and saved.config == exp.training
    back = load_experiment(out)  # as File > Open and the CLI read it
    np.testing.assert_array_equal(back.saved.network().predict(x), net.predict(x))


@needs_onnx
@pytest.mark.parametrize("case", CASES[:: max(1, len(CASES) // 8)], ids=lambda c: c.id)
def test_onnx_names_and_docstrings_say_which_layer_is_which(case, tmp_path):
    out = tmp_path / "net.onnx"
    export_experiment(case.experiment, "onnx", out)
    g = onnx.load(str(out)).graph
    assert all(n.name and n.doc_string for n in g.node)
    layer_nodes = [n for n in g.node if n.op_type in ("Gemm", "MatMul")]
    assert [n.name.split("/")[0] for n in layer_nodes] == ["hidden1", "hidden2", "output"]
    assert "hidden layer 2" in layer_nodes[1].doc_string and "without bias" in layer_nodes[1].doc_string
    assert {t.name for t in g.initializer} >= {"layer0.W", "layer0.b", "layer1.W", "layer2.W", "layer2.b"}
    features = case.experiment.network.features
    concat = [n for n in g.node if n.op_type == "Concat"]
    if features is None:
        assert not concat
    else:
        assert ", ".join(features) in concat[0].doc_string
    assert "takes rows of" in g.doc_string


@needs_onnx
def test_the_exported_graph_lists_its_nodes_in_order(tmp_path):
    from nnbench.export.onnx_io import describe

    exp = make_experiment("2d-sigmoid-bce-features", "tanh", "float64")
    out = tmp_path / "net.onnx"
    export_experiment(exp, "onnx", out)
    lines = describe(out).splitlines()
    assert lines[0].startswith("graph '2d-sigmoid-bce-features' (opset 17): x[batch, 2] -> y[batch, 1]")
    ops = [line.split()[2].split("(")[0] for line in lines[1:]]
    assert ops == ["Split", "Mul", "Mul", "Mul", "Sin", "Sin", "Concat", "Gemm", "Tanh", "MatMul", "Tanh",
                   "Gemm", "Sigmoid"]


NUMPY_RUNNER = r"""
import importlib.util, json, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'nnbench':
            raise ImportError('nnbench is blocked here')
sys.meta_path.insert(0, Block())
try:
    import nnbench
except ImportError:
    pass
else:
    raise SystemExit('nnbench could be imported')
import numpy as np
results = {}
for job in json.loads(sys.argv[1]):
    spec = importlib.util.spec_from_file_location('exported', job['module'])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = np.load(job['rows'])
    np.save(job['result'], module.predict(x))
assert not [m for m in sys.modules if m.startswith('nnbench')]
print('ran', len(json.loads(sys.argv[1])))
"""


def test_numpy_scripts_match_the_engine_without_nnbench(tmp_path):
    jobs, expected = [], []
    for k, case in enumerate(CASES):
        folder = tmp_path / f"c{k}"
        folder.mkdir()
        exp = case.experiment
        written = export_experiment(exp, "numpy", folder / "net.py")
        assert written == [folder / "net.py", folder / "net.weights.npz"]
        x = training_rows(exp)
        np.save(folder / "rows.npy", x)
        jobs.append({"module": str(written[0]), "rows": str(folder / "rows.npy"),
                     "result": str(folder / "result.npy")})
        expected.append(exp.saved.network().predict(x))
    # -I: no PYTHONPATH, no current folder; the blocker refuses the editable install too
    r = subprocess.run([sys.executable, "-I", "-c", NUMPY_RUNNER, json.dumps(jobs)], capture_output=True,
                       text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"ran {len(CASES)}"
    for case, job, want in zip(CASES, jobs, expected, strict=True):
        got = np.load(job["result"])
        assert got.dtype == np.dtype(case.dtype), case.id
        assert max_diff(got, want) < TOL[case.dtype], case.id


def test_a_numpy_script_runs_from_the_command_line(tmp_path):
    exp = make_experiment("2d-softmax-ce", "relu", "float64")
    out = tmp_path / "blobs.py"
    export_experiment(exp, "numpy", out)
    text = out.read_text()
    assert "import nnbench" not in text and "from nnbench" not in text
    r = subprocess.run([sys.executable, "-I", str(out), "0.5,-1", "1,2"], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    want = exp.saved.network().predict(np.array([[0.5, -1], [1, 2]]))
    got = np.array([[float(v) for v in line.strip(" []").split()] for line in r.stdout.strip().splitlines()])
    assert max_diff(got, want) < 1e-6  # printed with NumPy's 8 digits


# ---- input scaling ------------------------------------------------------------------------------


def write_csv(path: Path, n: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal([170, 65, 40], [10, 12, 9], (n, 3))
    y = (x[:, 0] - 170 + 0.5 * (x[:, 1] - 65) > 0).astype(int)
    rows = [f"{a:.3f},{b:.3f},{c:.3f},{t}" for (a, b, c), t in zip(x, y, strict=True)]
    lines = ["height,weight,age,label", *rows]
    path.write_text("\n".join(lines) + "\n")
    return np.round(x, 3)


@pytest.mark.parametrize("kind", [pytest.param("onnx", marks=needs_onnx), "numpy"])
def test_a_standardised_csv_network_takes_the_raw_csv_values(kind, tmp_path):
    raw = write_csv(tmp_path / "people.csv")
    ds = data.dataset_from_csv(tmp_path / "people.csv", ["height", "weight", "age"], "label",
                               standardize=True)
    spec = NetworkSpec(3, (LayerSpec(4, "tanh"), LayerSpec(1, "sigmoid")))
    exp = Experiment("people", "people", "", ds.source, spec, TrainConfig(epochs=20))
    _, net, trainer = exp.build(ds)
    trainer.run(20)
    path = save_experiment(tmp_path / "people.npz", exp, net, trainer)
    saved_exp = load_experiment(path)
    scaling = from_source(saved_exp.dataset, 3)
    assert scaling is not None and scaling.mean is not None and scaling.std is not None
    # What the bench computes for a raw row: the dataset standardises, the network runs.
    want = net.predict((raw - np.asarray(ds.source["mean"])) / np.asarray(ds.source["std"]))
    out = tmp_path / ("people.onnx" if kind == "onnx" else "people.py")
    export_experiment(saved_exp, kind, out)
    if kind == "onnx":
        got = run_onnx(out, raw)
        nodes = [n.op_type for n in onnx.load(str(out)).graph.node]
        assert nodes[:2] == ["Sub", "Div"]
        back = read_onnx_network(out)  # the graph's scaling is the one its dataset record implies
        np.testing.assert_array_equal(back.network().predict(ds.x_train), net.predict(ds.x_train))
    else:
        import importlib.util

        module_spec = importlib.util.spec_from_file_location("people_export", out)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        got = module.predict(raw)
    assert max_diff(got, want) < 1e-12
    # without the scaling, the export takes what the network is fed
    plain = tmp_path / ("plain.onnx" if kind == "onnx" else "plain.py")
    export_experiment(saved_exp, kind, plain, scaling=False)
    if kind == "onnx":
        assert max_diff(run_onnx(plain, ds.x_train), net.predict(ds.x_train)) < 1e-12


@needs_onnx
def test_an_onnx_graph_that_scales_without_a_dataset_saying_so_is_refused(tmp_path):
    from nnbench.errors import FileFormatError
    from nnbench.export import InputScaling

    net = Network(NetworkSpec.mlp([3, 4, 1]), np.random.default_rng(0))
    out = tmp_path / "scaled.onnx"
    export(net, "onnx", out, scaling=InputScaling(mean=np.zeros(3), std=np.full(3, 2.0)))
    with pytest.raises(FileFormatError, match="scales its inputs"):
        read_onnx_network(out)


def mnist_shaped(dtype: str = "float32") -> Experiment:
    spec = NetworkSpec(784, (LayerSpec(64, "relu"), LayerSpec(10, "softmax")), "normal", dtype)
    return Experiment("mnist", "mnist", "", {"kind": "mnist", "cache": True}, spec,
                      TrainConfig(loss="cross_entropy", batch_size=100))


@pytest.mark.parametrize("kind", [pytest.param("onnx", marks=needs_onnx), "numpy"])
def test_an_mnist_shaped_network_takes_pixels_0_to_255(kind, tmp_path):
    exp = mnist_shaped()
    net = Network(exp.network, np.random.default_rng(0))
    net.layers[0].b[...] = np.random.default_rng(1).normal(0, 0.1, 64)
    from nnbench.engine.files import Saved

    exp = exp.replace(saved=Saved(spec=exp.network, weights=net.weights(), config=exp.training,
                                  dataset=exp.dataset))
    pixels = np.random.default_rng(2).integers(0, 256, (300, 784)).astype(np.uint8)
    want = net.predict(pixels.astype(np.float32) * np.float32(1 / 255))  # what the Trainer feeds it
    out = tmp_path / ("mnist.onnx" if kind == "onnx" else "mnist.py")
    export_experiment(exp, kind, out)
    if kind == "onnx":
        got = run_onnx(out, pixels.astype(np.float32))
        ops = [n.op_type for n in onnx.load(str(out)).graph.node]
        assert ops == ["Mul", "Gemm", "Relu", "Gemm", "Softmax"]
        back = load_experiment(out)
        assert back.network == exp.network  # init "normal" too, from the recorded spec
        assert back.dataset == exp.dataset
    else:
        import importlib.util

        module_spec = importlib.util.spec_from_file_location("mnist_export", out)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        got = module.predict(pixels)
    assert max_diff(got, want) < 1e-5


@needs_onnx
@pytest.mark.skipif(not (REAL_MNIST / "t10k-images-idx3-ubyte.gz").is_file(), reason="no real MNIST here")
def test_a_network_trained_on_real_mnist_digits_exports_to_onnx(tmp_path):
    source = {"kind": "mnist", "path": str(REAL_MNIST), "subset": 2000, "test_subset": 500}
    spec = NetworkSpec(784, (LayerSpec(32, "sigmoid"), LayerSpec(10, "softmax")), "normal", "float32")
    exp = Experiment("mnist", "mnist", "", source, spec,
                     TrainConfig(loss="cross_entropy", batch_size=100, lr=0.5, epochs=1))
    ds, net, trainer = exp.build()
    trainer.run(1)
    path = save_experiment(tmp_path / "mnist.npz", exp, net, trainer)
    out = tmp_path / "mnist.onnx"
    export_experiment(load_experiment(path), "onnx", out)
    got = run_onnx(out, ds.x_train.astype(np.float32))  # the digits' bytes as they are in the file
    want = net.predict(ds.features(ds.x_train, np.float32))
    assert max_diff(got, want) < 1e-5
    assert (got.argmax(1) == want.argmax(1)).all()
