"""`nnbench export`, and ONNX files in `nnbench predict` and `nnbench train`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnbench import cli

ROOT = Path(__file__).resolve().parents[1]
BLOCK = (
    "import sys\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in {blocked!r}:\n"
    "            raise ImportError('blocked in this test: ' + name)\n"
    "sys.meta_path.insert(0, Block())\n"
)


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_blocked(blocked: tuple[str, ...], *argv: str) -> subprocess.CompletedProcess:
    code = BLOCK.format(blocked=blocked) + f"from nnbench.cli import main\nsys.exit(main({list(argv)!r}))\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def trained(tmp_path, capsys):
    path = tmp_path / "xor.npz"
    code, _, _ = run(capsys, "train", "xor-mlp", "--epochs", "200", "--save", str(path))
    assert code == 0
    return path


def test_export_to_onnx_prints_the_graph_and_predicts_like_the_file(trained, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "xor.onnx"
    code, text, err = run(capsys, "export", str(trained), "--to", "onnx", "--out", str(out))
    assert code == 0, err
    assert f"wrote {out}" in text and "MatMul(x, layer0.W[3x4])" in text and "output/Sigmoid" in text
    rows = ["1,0,0", "0,1,1", "1,1,0"]
    _, from_npz, _ = run(capsys, "predict", str(trained), *sum((["--input", r] for r in rows), []), "--json")
    _, from_onnx, _ = run(capsys, "predict", str(out), *sum((["--input", r] for r in rows), []), "--json")
    assert from_npz == from_onnx
    x = np.array([[float(v) for v in r.split(",")] for r in rows])
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    import json

    assert np.max(np.abs(session.run(None, {"x": x})[0] - np.array(json.loads(from_npz)["outputs"]))) < 1e-12
    # an exported ONNX records its dataset: it trains on, like the .npz
    code, text, err = run(capsys, "train", str(out), "--epochs", "5")
    assert code == 0, err
    assert "continuing" not in text and "done: 5 epoch(s)" in text


def test_export_to_numpy_and_torch_writes_the_script_and_its_weights(trained, tmp_path, capsys):
    for kind in ("numpy", "torch"):
        out = tmp_path / kind / "xor.py"
        out.parent.mkdir()
        code, text, err = run(capsys, "export", str(trained), "--to", kind, "--out", str(out))
        assert code == 0, err
        weights = out.with_name("xor.weights.npz")
        assert out.is_file() and weights.is_file()
        assert f"wrote {out} and {weights}" in text
        np.load(weights)["layer0.W"]  # plain NumPy reads the weights


def test_an_untrained_preset_exports_its_initial_weights_with_a_note(tmp_path, capsys):
    pytest.importorskip("onnx")
    code, text, err = run(capsys, "export", "circle-features", "--to", "onnx", "--out",
                          str(tmp_path / "c.onnx"))
    assert code == 0 and "not trained" in err
    assert "features/x1_squared" in text and "features/sin_x1" not in text


def test_export_errors_are_one_line_with_the_usual_exit_codes(trained, tmp_path, capsys):
    code, _, err = run(capsys, "export", str(trained), "--to", "onnx", "--out", str(tmp_path / "x.py"))
    assert code == 2 and "does not end in .onnx" in err
    code, _, err = run(capsys, "export", str(trained), "--to", "keras", "--out", str(tmp_path / "x.h5"))
    assert code == 2 and "invalid choice" in err
    code, _, err = run(capsys, "export", str(trained), "--to", "numpy")
    assert code == 2 and "--out" in err
    code, _, err = run(capsys, "export", str(tmp_path / "missing.npz"), "--to", "numpy", "--out",
                       str(tmp_path / "x.py"))
    assert code == 1 and "no such file" in err
    code, _, err = run(capsys, "export", str(trained), "--to", "numpy", "--out",
                       str(tmp_path / "no" / "x.py"))
    assert code == 1 and err.startswith("nnbench: error: cannot write in") and err.count("\n") == 1


def test_a_damaged_onnx_file_is_one_line_too(tmp_path, capsys):
    pytest.importorskip("onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    code, _, err = run(capsys, "predict", str(bad), "--input", "1,0,0")
    assert code == 1 and err.startswith("nnbench: error: bad.onnx") and err.count("\n") == 1


def test_without_the_onnx_extra_the_message_says_how_to_install_it(trained, tmp_path):
    r = run_blocked(("onnx", "onnxruntime"), "export", str(trained), "--to", "onnx", "--out",
                    str(tmp_path / "x.onnx"))
    assert r.returncode == 1
    assert 'pip install "nnbench[export]"' in r.stderr and "Traceback" not in r.stderr
    # the NumPy export needs neither onnx nor Qt
    r = run_blocked(("onnx", "onnxruntime", "PySide6", "pyqtgraph", "torch"), "export", str(trained),
                    "--to", "numpy", "--out", str(tmp_path / "x.py"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "x.weights.npz").is_file()


def test_a_bare_network_file_exports_and_predicts(tmp_path, capsys):
    from nnbench.engine import Network, NetworkSpec, files

    net = Network(NetworkSpec.mlp([2, 3, 1]), np.random.default_rng(0))
    path = files.save(tmp_path / "bare.npz", net)  # weights only: no dataset, no training
    code, text, err = run(capsys, "export", str(path), "--to", "numpy", "--out", str(tmp_path / "bare.py"))
    assert code == 0, err
    assert (tmp_path / "bare.weights.npz").is_file()
    # the natural name for the script: the experiment beside it stays as it was
    before = path.read_bytes()
    code, _, err = run(capsys, "export", str(path), "--to", "torch", "--out", str(tmp_path / "bare.py"))
    assert code == 0 and path.read_bytes() == before
    sneaky = tmp_path / "other.weights.npz"
    files.save(sneaky, net)
    code, _, err = run(capsys, "export", str(path), "--to", "numpy", "--out", str(tmp_path / "other.py"))
    assert code == 1 and "would overwrite it" in err and files.load(sneaky).spec == net.spec
    code, text, err = run(capsys, "predict", str(path), "--input", "0.5,-1", "--json")
    assert code == 0, err
    import json

    assert json.loads(text)["outputs"] == net.predict(np.array([[0.5, -1.0]])).tolist()
