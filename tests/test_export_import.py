"""Reading ONNX files back: plain MLPs from elsewhere open as networks; anything else, and any
hostile file, gets a clear message naming what is wrong, before anything large is allocated."""

from __future__ import annotations

import os

import numpy as np
import pytest

from nnbench.errors import FileFormatError
from nnbench.experiment import load_experiment
from nnbench.export import read_onnx_network

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

F = TensorProto.FLOAT


def model(nodes, inits, n_in=2, n_out=1, elem=F, in_dims=None, opset=17):
    dims = in_dims or ["N", n_in]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", elem, dims)],
                          [helper.make_tensor_value_info("out", elem, ["N", n_out])], initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def write(tmp_path, m, name="m.onnx"):
    path = tmp_path / name
    path.write_bytes(m.SerializeToString() if not isinstance(m, bytes) else m)
    return path


def arr(name, a, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(a, dtype=dtype), name)


def raw_tensor(name, dims, data: bytes):
    """A tensor whose declared shape need not match what it holds (helper.make_tensor checks)."""
    t = TensorProto()
    t.name, t.data_type = name, F
    t.dims.extend(dims)
    t.raw_data = data
    return t


def torch_style_mlp(rng):
    """How torch.onnx writes nn.Sequential(Linear, ReLU, Linear, Sigmoid): Gemm with transB=1."""
    W1, b1, W2, b2 = rng.normal(size=(5, 2)), rng.normal(size=5), rng.normal(size=(1, 5)), rng.normal(size=1)
    nodes = [helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["a"], name="/fc1/Gemm", transB=1),
             helper.make_node("Relu", ["a"], ["b"], name="/relu/Relu"),
             helper.make_node("Gemm", ["b", "fc2.weight", "fc2.bias"], ["c"], name="/fc2/Gemm", transB=1),
             helper.make_node("Sigmoid", ["c"], ["out"], name="/sig/Sigmoid")]
    return model(nodes, [arr("fc1.weight", W1), arr("fc1.bias", b1), arr("fc2.weight", W2),
                         arr("fc2.bias", b2)])


def test_a_plain_mlp_from_elsewhere_opens_as_a_network(tmp_path):
    path = write(tmp_path, torch_style_mlp(np.random.default_rng(0)))
    saved = read_onnx_network(path)
    assert saved.spec.describe() == "2-5r-1s" and saved.spec.dtype == "float32"
    assert saved.dataset is None and saved.config is None
    x = np.random.default_rng(1).normal(size=(50, 2)).astype(np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    assert np.max(np.abs(saved.network().predict(x) - want)) < 1e-5
    # a network alone cannot be trained again: no dataset to rebuild
    with pytest.raises(FileFormatError, match="no dataset source"):
        load_experiment(path)


def test_matmul_add_and_leaky_relu_and_a_linear_hidden_layer(tmp_path):
    rng = np.random.default_rng(2)
    W1, b1, W2, W3, b3 = (rng.normal(size=s) for s in ((3, 4), (4,), (4, 4), (4, 2), (1, 2)))
    nodes = [helper.make_node("MatMul", ["input", "W1"], ["z1"], name="mm1"),
             helper.make_node("Add", ["z1", "b1"], ["z1b"], name="add1"),
             helper.make_node("LeakyRelu", ["z1b"], ["h1"], name="leaky", alpha=0.01),
             helper.make_node("MatMul", ["h1", "W2"], ["z2"], name="mm2"),  # linear, no bias
             helper.make_node("MatMul", ["z2", "W3"], ["z3"], name="mm3"),
             helper.make_node("Add", ["b3", "z3"], ["z3b"], name="add3"),
             helper.make_node("Softmax", ["z3b"], ["out"], name="soft", axis=1)]
    path = write(tmp_path, model(nodes, [arr("W1", W1), arr("b1", b1), arr("W2", W2), arr("W3", W3),
                                         arr("b3", b3)], n_in=3, n_out=2))
    spec = read_onnx_network(path).spec
    assert [(lay.units, lay.activation, lay.bias) for lay in spec.layers] == [
        (4, "leaky_relu", True), (4, "linear", False), (2, "softmax", True)]


def refused(tmp_path, m, *patterns):
    path = write(tmp_path, m)
    with pytest.raises(FileFormatError) as info:
        read_onnx_network(path)
    text = str(info.value)
    assert path.name in text
    for p in patterns:
        assert p in text, text
    return text


def test_an_unsupported_node_is_named_with_its_op_type(tmp_path):
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Gemm", ["input", "W", "b"], ["z"], name="dense"),
             helper.make_node("Cos", ["z"], ["out"], name="the_cosine")]
    refused(tmp_path, model(nodes, [arr("W", rng.normal(size=(2, 1))), arr("b", [0.0])]),
            "unsupported node 'the_cosine' (Cos)")
    conv = [helper.make_node("Conv", ["input", "W"], ["out"], name="conv1")]
    refused(tmp_path, model(conv, [arr("W", np.ones((1, 1, 1)))]), "unsupported node 'conv1' (Conv)")
    unnamed = [helper.make_node("Gemm", ["input", "W"], ["z"], name="dense"),
               helper.make_node("Erf", ["z"], ["out"])]
    refused(tmp_path, model(unnamed, [arr("W", np.ones((2, 1)))]), "unsupported node number 2 (Erf)")


def test_branches_and_skips_are_not_an_mlp(tmp_path):
    W = arr("W", np.eye(2))
    nodes = [helper.make_node("Gemm", ["input", "W"], ["z"], name="dense"),
             helper.make_node("Tanh", ["z"], ["h"], name="tanh"),
             helper.make_node("Add", ["h", "input"], ["out"], name="skip")]
    refused(tmp_path, model(nodes, [W], n_out=2), "unsupported node 'skip' (Add)")
    two = [helper.make_node("Gemm", ["input", "W"], ["z"], name="dense"),
           helper.make_node("Tanh", ["z"], ["h"], name="tanh"),
           helper.make_node("Sigmoid", ["z"], ["out"], name="again")]
    refused(tmp_path, model(two, [W], n_out=2), "unsupported node 'again' (Sigmoid)", "one chain")


def test_wrong_shapes_are_named(tmp_path):
    nodes = [helper.make_node("Gemm", ["input", "W", "b"], ["z"], name="dense"),
             helper.make_node("Sigmoid", ["z"], ["out"], name="sig")]
    refused(tmp_path, model(nodes, [arr("W", np.ones((3, 4))), arr("b", np.ones(4))]),
            "weights 'W' has shape (3, 4)", "needs (2, 4)")
    refused(tmp_path, model(nodes, [arr("W", np.ones((2, 4))), arr("b", np.ones(5))]),
            "bias 'b' has shape (5,)")
    refused(tmp_path, model(nodes, [arr("W", np.ones((2, 4))), arr("b", np.ones(4))], in_dims=["N", 2, 2]),
            "3 dimension(s)")


def test_huge_declared_sizes_are_refused_before_anything_is_allocated(tmp_path):
    nodes = [helper.make_node("Gemm", ["input", "W"], ["out"], name="dense")]
    refused(tmp_path, model(nodes, [arr("W", np.ones((2, 1)))], in_dims=["N", 10**12]),
            "declares 1000000000000 input(s)")
    refused(tmp_path, model(nodes, [arr("W", np.ones((2, 1)))], in_dims=["N", "features"]),
            "an unknown number of input(s)")
    # a weight tensor that claims 2 x 4,000 (then 2 x 10^12) values and holds 8 bytes
    lying = raw_tensor("W", [2, 4000], np.ones(2, np.float32).tobytes())
    refused(tmp_path, model(nodes, [lying], n_out=4000), "declares 8000 values and holds 2")
    huge = raw_tensor("W", [2, 10**12], np.ones(2, np.float32).tobytes())
    refused(tmp_path, model(nodes, [huge]), "declares 1000000000000 neurons")


def test_external_data_is_never_followed(tmp_path):
    secret = tmp_path / "weights.bin"
    secret.write_bytes(np.ones(2, np.float32).tobytes())
    t = raw_tensor("W", [2, 1], b"")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    entry = t.external_data.add()
    entry.key, entry.value = "location", str(secret)
    nodes = [helper.make_node("Gemm", ["input", "W"], ["out"], name="dense")]
    refused(tmp_path, model(nodes, [t]), "external file")


def test_a_hidden_softmax_and_foreign_operator_sets_are_refused(tmp_path):
    nodes = [helper.make_node("Gemm", ["input", "W"], ["z"], name="dense"),
             helper.make_node("Softmax", ["z"], ["h"], name="soft"),
             helper.make_node("Gemm", ["h", "W2"], ["out"], name="dense2")]
    refused(tmp_path, model(nodes, [arr("W", np.ones((2, 2))), arr("W2", np.ones((2, 1)))]),
            "softmax is only for the output layer")
    custom = [helper.make_node("Gemm", ["input", "W"], ["out"], name="dense", domain="com.example")]
    m = model(custom, [arr("W", np.ones((2, 1)))])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    refused(tmp_path, m, "'com.example'")


def test_files_that_are_not_onnx_are_refused_clearly(tmp_path):
    for name, content in (("empty.onnx", b""), ("zip.onnx", b"PK\x03\x04 not onnx"),
                          ("noise.onnx", np.random.default_rng(0).bytes(4096)),
                          ("text.onnx", b"hello, world\n" * 10)):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(FileFormatError) as info:
            read_onnx_network(path)
        assert name in str(info.value)
    with pytest.raises(FileFormatError, match="cannot open"):
        read_onnx_network(tmp_path / "missing.onnx")
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.onnx"
        os.mkfifo(fifo)
        with pytest.raises(FileFormatError, match="not a regular file"):
            read_onnx_network(fifo)
        with pytest.raises(FileFormatError, match="not a regular file"):
            load_experiment(fifo)


def test_mutated_exports_load_or_are_refused_clearly(tmp_path):
    """Flipped bytes and truncations of a real export: a network or FileFormatError, nothing else."""
    from export_helpers import make_experiment
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from nnbench.export import export_experiment
    from nnbench.export.onnx_io import parse_onnx

    out = tmp_path / "net.onnx"
    export_experiment(make_experiment("2d-sigmoid-bce-features", "leaky_relu", "float64"), "onnx", out)
    good = out.read_bytes()

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.integers(0, len(good) - 1), st.integers(0, 255)), min_size=1, max_size=8),
           st.integers(1, len(good)))
    def check(flips, cut):
        data = bytearray(good[:cut])
        for at, value in flips:
            if at < len(data):
                data[at] = value
        try:
            parse_onnx(bytes(data), "mutated.onnx")
        except FileFormatError as e:
            assert "mutated.onnx" in str(e)

    check()
