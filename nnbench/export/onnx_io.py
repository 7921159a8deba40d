"""Networks to ONNX and back, built node by node with ``onnx.helper`` (no torch needed).

The exported graph computes what the bench computes from a row as the data file holds it:
the input scaling recorded with the dataset (see :mod:`nnbench.export.scaling`), the input
features (2-D data), then one ``Gemm`` (``MatMul`` without a bias) per layer and its
activation. Initializers keep the ``.npz`` names (``layer0.W``...); every node has a name and a
docstring saying which layer it belongs to.

The reader takes untrusted files: it reads a bounded number of bytes, never follows external
data, checks every shape against the network limits before it decodes a tensor, and accepts a
plain chain of the nodes the bench knows; anything else is refused naming the first node that
does not fit.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from nnbench import __version__
from nnbench.engine import features as feature_maps
from nnbench.engine.files import MAX_FILE_BYTES, Saved, read_limited, write_atomic
from nnbench.engine.network import Network
from nnbench.engine.spec import MAX_INPUTS, MAX_LAYERS, MAX_UNITS, LayerSpec, NetworkSpec
from nnbench.engine.training import TrainConfig
from nnbench.errors import FileFormatError, NnbenchError
from nnbench.export.scaling import InputScaling

OPSET = 17
INSTALL_HINT = 'pip install "nnbench[export]"'
LEAKY_SLOPE = 0.01  # nnbench.engine.activations.LeakyReLU.slope
MAX_NODES = 16 * MAX_LAYERS + 64
_OPS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softmax": "Softmax"}
# Tensor and node names for the features (ONNX names are plain identifiers in most tools).
_FEATURE_IDS = {"x1": "x1", "x2": "x2", "x1^2": "x1_squared", "x2^2": "x2_squared",
                "x1*x2": "x1_times_x2", "sin(x1)": "sin_x1", "sin(x2)": "sin_x2"}


def require_onnx():
    """The onnx module, or an NnbenchError that says how to install it."""
    try:
        import onnx
    except ImportError:
        raise NnbenchError(f"ONNX export and import need the onnx package: {INSTALL_HINT}") from None
    return onnx


def layer_title(i: int, n_layers: int) -> str:
    return "output layer" if i == n_layers - 1 else f"hidden layer {i + 1}"


def _layer_id(i: int, n_layers: int) -> str:
    return "output" if i == n_layers - 1 else f"hidden{i + 1}"


# ---- export --------------------------------------------------------------------------------------


def to_onnx(
    net: Network,
    *,
    scaling: InputScaling | None = None,
    name: str = "nnbench",
    metadata: dict[str, Any] | None = None,
) -> Any:
    """The network (with ``scaling`` in front) as an ``onnx.ModelProto``, checked by onnx.checker."""
    onnx = require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    spec = net.spec
    dtype = net.dtype
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    nodes: list[Any] = []
    inits: list[Any] = []

    def const(tensor_name: str, value: Any, as_dtype: Any = dtype) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=as_dtype), tensor_name))
        return tensor_name

    def node(op: str, inputs: list[str], output: str, node_name: str, doc: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=node_name, doc_string=doc, **attrs))
        return output

    x = "x"
    if scaling is not None:
        arrays = scaling.arrays(dtype)
        if "input.mean" in arrays:
            x = node("Sub", [x, const("input.mean", arrays["input.mean"])], "x_centred",
                     "input_scaling/sub_mean", f"input scaling: minus the training mean ({scaling.why})")
        if "input.std" in arrays:
            x = node("Div", [x, const("input.std", arrays["input.std"])], "x_standardised",
                     "input_scaling/div_std",
                     f"input scaling: divided by the training standard deviation ({scaling.why})")
        if "input.scale" in arrays:
            x = node("Mul", [x, const("input.scale", arrays["input.scale"])], "x_scaled",
                     "input_scaling/mul_scale", f"input scaling: times {scaling.scale:.6g} ({scaling.why})")
    if spec.features is not None:
        split = const("features.split", [1, 1], np.int64)
        nodes.append(helper.make_node("Split", [x, split], ["x1", "x2"], name="features/split", axis=1,
                                      doc_string="input features: the two raw inputs x1 and x2 as columns"))
        made = []
        for feature in spec.features:
            fid = _FEATURE_IDS[feature]
            doc = f"input feature {feature}"
            if feature in ("x1", "x2"):
                made.append(feature)
            elif feature in ("x1^2", "x2^2"):
                v = feature[:2]
                made.append(node("Mul", [v, v], fid, f"features/{fid}", doc))
            elif feature == "x1*x2":
                made.append(node("Mul", ["x1", "x2"], fid, f"features/{fid}", doc))
            else:
                made.append(node("Sin", [feature[4:6]], fid, f"features/{fid}", doc))
        x = node("Concat", made, "features", "features/concat",
                 f"input features, the first layer's inputs in this order: {', '.join(spec.features)}",
                 axis=1)
    n = len(net.layers)
    for i, layer in enumerate(net.layers):
        lid, title = _layer_id(i, n), layer_title(i, n)
        n_in, n_out = layer.W.shape
        act = layer.activation.name
        w = const(f"layer{i}.W", layer.W)
        last = i == n - 1
        z = f"{lid}_z" if act != "linear" or not last else "y"
        if layer.b is not None:
            b = const(f"layer{i}.b", layer.b)
            node("Gemm", [x, w, b], z, f"{lid}/Gemm",
                 f"{title}: {n_out} {act} neuron(s), z = inputs ({n_in}) @ layer{i}.W + layer{i}.b")
        else:
            node("MatMul", [x, w], z, f"{lid}/MatMul",
                 f"{title}: {n_out} {act} neuron(s) without bias, z = inputs ({n_in}) @ layer{i}.W")
        out = "y" if last else lid
        doc = f"{title}: activation {act}"
        if act in _OPS:
            extra = {"axis": -1} if act == "softmax" else {}
            x = node(_OPS[act], [z], out, f"{lid}/{_OPS[act]}", doc, **extra)
        elif act == "leaky_relu" and dtype == np.float32:
            x = node("LeakyRelu", [z], out, f"{lid}/LeakyRelu", doc, alpha=LEAKY_SLOPE)
        elif act == "leaky_relu":
            # LeakyRelu holds its slope as a float32 attribute: 0.01 would be off by 2e-9 in float64.
            slope = const(f"layer{i}.leaky_slope", LEAKY_SLOPE)
            zs = node("Mul", [z, slope], f"{lid}_z_times_slope", f"{lid}/leaky_relu_mul",
                      f"{title}: leaky ReLU as max(z, {LEAKY_SLOPE} z), part 1")
            x = node("Max", [z, zs], out, f"{lid}/leaky_relu_max",
                     f"{title}: leaky ReLU as max(z, {LEAKY_SLOPE} z), part 2")
        else:
            x = z  # linear: z is the output
    features_text = ", ".join(spec.features) if spec.features is not None else None
    takes = f"rows of {spec.n_inputs} raw input(s), {dtype.name}"
    if scaling is not None:
        takes += f", scaled inside the graph ({scaling.describe()})"
    if features_text:
        takes += f"; input features {features_text} computed inside the graph"
    out_act = spec.output.activation
    gives = f"the output layer's {out_act} values, {spec.output.units} per row"
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("x", elem, ["batch", spec.n_inputs])],
        [helper.make_tensor_value_info("y", elem, ["batch", spec.output.units])], initializer=inits,
        doc_string=f"nnbench network {spec.describe()}: takes {takes}; gives {gives}.")
    graph.input[0].doc_string = takes
    graph.output[0].doc_string = gives
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="nnbench", producer_version=__version__,
                              doc_string=f"exported from nnbench {__version__}: {spec.describe()}")
    model.ir_version = 8  # the IR of opset 17, so older runtimes open it too
    meta = {"nnbench.network": json.dumps(spec.to_dict())}
    if scaling is not None:
        meta["nnbench.input_scaling"] = scaling.describe()
    for key, value in (metadata or {}).items():
        meta[f"nnbench.{key}"] = value if isinstance(value, str) else json.dumps(value)
    helper.set_model_props(model, meta)
    # every edge's shape in the file, so Netron shows them
    model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    return model


def save_onnx(net: Network, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Write :func:`to_onnx` to ``path`` atomically."""
    path = Path(path)
    write_atomic(path, to_onnx(net, **kwargs).SerializeToString())
    return path


def describe(model_or_path: Any) -> str:
    """The graph as text, one node a line in order: name, op, inputs -> outputs."""
    onnx = require_onnx()
    model = model_or_path
    if isinstance(model_or_path, (str, os.PathLike)):
        model = onnx.load_model_from_string(read_limited(Path(model_or_path), MAX_FILE_BYTES, "an ONNX file"))
    g = model.graph
    shapes = {t.name: "x".join(str(d) for d in t.dims) for t in g.initializer}

    def arg(a: str) -> str:
        return f"{a}[{shapes[a]}]" if a in shapes else a

    def io(v: Any) -> str:
        dims = [d.dim_param or str(d.dim_value) for d in v.type.tensor_type.shape.dim]
        return f"{v.name}[{', '.join(dims)}]"

    lines = [f"graph {g.name!r} (opset {model.opset_import[0].version}): "
             f"{', '.join(io(v) for v in g.input)} -> {', '.join(io(v) for v in g.output)}"]
    width = max((len(n.name) for n in g.node), default=0)
    for k, n in enumerate(g.node, 1):
        attrs = "".join(f" {a.name}={onnx.helper.get_attribute_value(a)}" for a in n.attribute)
        lines.append(f"{k:3d}  {n.name:<{width}}  {n.op_type}({', '.join(arg(a) for a in n.input)})"
                     f"{attrs} -> {', '.join(n.output)}")
    return "\n".join(lines)


# ---- import --------------------------------------------------------------------------------------


@dataclass
class Imported:
    """What an ONNX file holds, checked: the network (as a :class:`Saved`) and the input scaling
    its graph applies in front of the network (None when it takes the network's inputs)."""

    saved: Saved
    scaling: InputScaling | None


@dataclass
class _Layer:
    W: np.ndarray
    b: np.ndarray | None = None
    activation: str | None = None  # None while the activation is still to come


def read_onnx(path: str | os.PathLike) -> Imported:
    """Read an ONNX file of a plain MLP; FileFormatError (naming the file) for anything else."""
    path = Path(path)
    return parse_onnx(read_limited(path, MAX_FILE_BYTES, "an ONNX file"), path.name)


def parse_onnx(data: bytes, name: str = "file") -> Imported:
    onnx = require_onnx()
    try:
        model = onnx.load_model_from_string(data)
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends: not an ONNX file
        raise FileFormatError(f"{name} is not an ONNX model ({type(e).__name__})") from None
    try:
        return _Reader(model, name).read()
    except FileFormatError:
        raise
    except NnbenchError as e:  # a SpecError from building the spec: the file's fault
        raise FileFormatError(f"{name}: {e}") from None
    except (IndexError, KeyError, ValueError, TypeError, AttributeError, OverflowError) as e:
        # a node or tensor malformed in a way no check above names (fuzzing's safety net)
        raise FileFormatError(f"{name} is a damaged ONNX model ({type(e).__name__}: {str(e)[:100]})") \
            from None


class _Reader:
    """Walks the nodes in order, keeping what each tensor is, and builds the network."""

    def __init__(self, model: Any, name: str) -> None:
        from onnx import TensorProto

        self.onnx_tp = TensorProto
        self.model = model
        self.name = name
        self.graph = model.graph
        self.consts: dict[str, Any] = {}  # name -> TensorProto, decoded only once checked
        self.kinds: dict[str, tuple] = {}  # tensor name -> what it is
        self.layers: list[_Layer] = []
        self.current = ""  # the tensor the next layer must take
        self.width = 0
        self.mean = self.std = None
        self.scale: float | None = None
        self.stage = 0  # 0 raw input, 1 minus mean, 2 divided, 3 scaled, 4 features, 5 layers
        self.feature_order: list[str] | None = None
        self._index = 0

    def fail(self, text: str) -> FileFormatError:
        return FileFormatError(f"{self.name}: {text}")

    def unsupported(self, node: Any, why: str = "") -> FileFormatError:
        label = f"{node.name!r}" if node.name else f"number {self._index + 1}"
        return self.fail(
            f"unsupported node {label} ({node.op_type}){': ' + why if why else ''}; nnbench imports plain "
            "MLPs: Gemm, or MatMul and Add, with Sigmoid, Tanh, Relu, LeakyRelu or Softmax after each")

    # -- the frame: opsets, the input, the output
    def read(self) -> Imported:
        g = self.graph
        for op in self.model.opset_import:
            if op.domain not in ("", "ai.onnx"):
                raise self.fail(f"uses the operator set {op.domain!r}; nnbench reads the standard ONNX "
                                "operators only")
        if len(g.node) > MAX_NODES or len(g.initializer) > 4 * MAX_NODES:
            raise self.fail(f"holds {len(g.node)} nodes: far more than an MLP of {MAX_LAYERS} layers")
        for t in g.initializer:
            self.consts[t.name] = t
        inputs = [v for v in g.input if v.name not in self.consts]
        if len(inputs) != 1 or len(g.output) != 1:
            raise self.fail(f"has {len(inputs)} input(s) and {len(g.output)} output(s); "
                            "an MLP has one of each")
        x = inputs[0]
        tt = x.type.tensor_type
        if tt.elem_type not in (self.onnx_tp.FLOAT, self.onnx_tp.DOUBLE):
            raise self.fail(f"input {x.name!r} is not float or double (ONNX type {tt.elem_type})")
        self.dtype = "float32" if tt.elem_type == self.onnx_tp.FLOAT else "float64"
        dims = list(tt.shape.dim)
        if len(dims) != 2:
            raise self.fail(f"input {x.name!r} has {len(dims)} dimension(s); "
                            "an MLP takes rows (batch, inputs)")
        n = dims[1].dim_value if dims[1].HasField("dim_value") else 0
        if not 1 <= n <= MAX_INPUTS:
            declared = n if n else "an unknown number of"
            raise self.fail(f"input {x.name!r} declares {declared} input(s) per row; "
                            f"nnbench needs a fixed number from 1 to {MAX_INPUTS}")
        self.n_inputs = self.width = n
        self.current = x.name
        self.kinds[x.name] = ("input",)
        for self._index, node in enumerate(g.node):
            self.visit(node)
        if not self.layers:
            raise self.fail("has no dense layer (Gemm or MatMul)")
        if g.output[0].name != self.current:
            raise self.fail(f"its output {g.output[0].name!r} is not the last layer's output")
        last = self.layers[-1]
        if last.activation is None:
            last.activation = "linear"
        return self.build()

    # -- constants, checked before they are decoded
    def array(self, tensor_name: str, shapes: list[tuple[int, ...]], what: str, node: Any) -> np.ndarray:
        t = self.consts.get(tensor_name)
        if t is None:
            raise self.unsupported(node, f"its {what} {tensor_name!r} is not a constant in the file")
        dims = tuple(int(d) for d in t.dims)
        if dims not in shapes:
            want = " or ".join(str(s) for s in shapes)
            raise self.fail(f"{what} {tensor_name!r} has shape {dims}, node {node.name!r} needs {want}")
        if t.data_location == self.onnx_tp.EXTERNAL or t.external_data:
            raise self.fail(f"{what} {tensor_name!r} is kept in an external file; nnbench reads "
                            "self-contained ONNX files only")
        tp = self.onnx_tp
        types = {tp.FLOAT: (np.float32, t.float_data), tp.DOUBLE: (np.float64, t.double_data),
                 tp.INT64: (np.int64, t.int64_data)}
        if t.data_type not in types:
            raise self.fail(f"{what} {tensor_name!r} is not float, double or int64 (ONNX type {t.data_type})")
        np_type, typed = types[t.data_type]
        count = int(np.prod(dims, dtype=np.int64)) if dims else 1
        if t.HasField("raw_data"):
            held = len(t.raw_data) // np.dtype(np_type).itemsize
            if len(t.raw_data) != count * np.dtype(np_type).itemsize:
                raise self.fail(f"{what} {tensor_name!r} declares {count} values and holds {held}")
            arr = np.frombuffer(t.raw_data, dtype=np.dtype(np_type).newbyteorder("<")).reshape(dims)
        else:
            if len(typed) != count:
                raise self.fail(f"{what} {tensor_name!r} declares {count} values and holds {len(typed)}")
            arr = np.asarray(typed, dtype=np_type).reshape(dims)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise self.fail(f"{what} {tensor_name!r} holds NaN or infinite values")
        return arr

    def is_const(self, tensor_name: str) -> bool:
        return tensor_name in self.consts

    # -- one node
    def visit(self, node: Any) -> None:
        if node.domain not in ("", "ai.onnx"):
            raise self.unsupported(node, f"operator set {node.domain!r}")
        if len(node.output) != (2 if node.op_type == "Split" else 1):
            raise self.unsupported(node, "unexpected number of outputs")
        handler = getattr(self, f"op_{node.op_type}", None)
        if handler is None:
            raise self.unsupported(node)
        if node.op_type != "Constant" and not (node.input and node.input[0]):
            raise self.unsupported(node, "it has no input")
        for out in node.output:
            if out in self.kinds or out in self.consts:
                raise self.unsupported(node, f"it writes {out!r} a second time")
        handler(node)

    def attrs(self, node: Any) -> dict[str, Any]:
        from onnx import helper

        return {a.name: helper.get_attribute_value(a) for a in node.attribute}

    def take_current(self, node: Any, tensor: str) -> None:
        if tensor != self.current:
            raise self.unsupported(node, f"it takes {tensor!r}, not the output of the node before it "
                                         "(an MLP is one chain)")

    def set_current(self, tensor: str, kind: tuple, width: int) -> None:
        self.kinds[tensor] = kind
        self.current, self.width = tensor, width

    def op_Constant(self, node: Any) -> None:  # noqa: N802 (ONNX's names)
        a = self.attrs(node)
        if set(a) != {"value"}:
            raise self.unsupported(node, "only a tensor 'value' constant")
        a["value"].name = node.output[0]
        self.consts[node.output[0]] = a["value"]

    def op_Identity(self, node: Any) -> None:  # noqa: N802
        self.take_current(node, node.input[0])
        self.set_current(node.output[0], self.kinds[node.input[0]], self.width)

    # scaling: Sub, Div, Mul by constants on the input, in this order, before anything else
    def _scaling(self, node: Any, stage: int, what: str) -> np.ndarray | None:
        if self.stage >= stage or self.kinds.get(node.input[0], ("",))[0] != "input":
            return None
        if len(node.input) != 2 or not self.is_const(node.input[1]):
            return None
        self.take_current(node, node.input[0])
        shapes = [(self.width,), (1, self.width)] + ([(), (1,)] if stage == 3 else [])
        value = self.array(node.input[1], shapes, what, node).astype(np.float64).ravel()
        self.stage = stage
        self.set_current(node.output[0], ("input",), self.width)
        return value

    def op_Sub(self, node: Any) -> None:  # noqa: N802
        self.mean = self._scaling(node, 1, "mean")
        if self.mean is None:
            raise self.unsupported(node, "a Sub is only read as input scaling (input minus a constant)")

    def op_Div(self, node: Any) -> None:  # noqa: N802
        self.std = self._scaling(node, 2, "standard deviation")
        if self.std is None:
            raise self.unsupported(node, "a Div is only read as input scaling (input over a constant)")
        if np.any(self.std == 0):
            raise self.fail(f"node {node.name!r} divides an input by 0")

    def op_Mul(self, node: Any) -> None:  # noqa: N802
        if len(node.input) != 2:
            raise self.unsupported(node)
        a, b = (self.kinds.get(i, ("",)) for i in node.input)
        if a[0] == "input":
            value = self._scaling(node, 3, "scale")
            if value is None:
                raise self.unsupported(node)
            if value.size == 1:
                self.scale = float(value[0])
            else:  # one factor per input: fold it into the standard deviation
                self.std = (self.std if self.std is not None else np.ones(self.width)) / value
            return
        if a[0] == "column" and b[0] == "column" and self.stage == 4:
            names = sorted({a[1], b[1]})
            feature = f"{names[0]}^2" if len(names) == 1 else "x1*x2"
            self.kinds[node.output[0]] = ("feature", feature)
            return
        if a[0] == "z" and node.input[0] == self.current and self.is_const(node.input[1]):
            slope = self.array(node.input[1], [(), (1,)], "leaky ReLU slope", node).ravel()[0]
            if abs(float(slope) - LEAKY_SLOPE) > 1e-6:
                raise self.unsupported(node, f"a leaky ReLU slope of {float(slope):g}; "
                                             f"nnbench's is {LEAKY_SLOPE}")
            self.kinds[node.output[0]] = ("leaky_part", node.input[0])
            return
        raise self.unsupported(node)

    def op_Max(self, node: Any) -> None:  # noqa: N802
        ins = list(node.input)
        if len(ins) == 2 and self.current in ins:
            other = ins[1 - ins.index(self.current)]
            if self.kinds.get(other) == ("leaky_part", self.current):
                self.activate(node, "leaky_relu")
                return
        raise self.unsupported(node, "a Max is only read as a leaky ReLU, max(z, 0.01 z)")

    # features: two columns of the (scaled) 2-input rows, products and sines of them, a Concat
    def _columns_ok(self, node: Any) -> None:
        if self.stage > 4 or self.width != 2:
            raise self.unsupported(node, "input features need the 2 inputs, before the first layer")
        if self.kinds.get(node.input[0], ("",))[0] != "input":
            raise self.unsupported(node, "it does not take the input rows")
        self.take_current(node, node.input[0])
        self.stage = 4

    def op_Split(self, node: Any) -> None:  # noqa: N802
        self._columns_ok(node)
        a = self.attrs(node)
        if a.get("axis", 0) not in (1, -1):
            raise self.unsupported(node, "a Split of the rows, not of the columns")
        if len(node.input) > 1 and node.input[1]:
            split = self.array(node.input[1], [(2,)], "split sizes", node)
            if list(split) != [1, 1]:
                raise self.unsupported(node, f"split sizes {list(split)}, not [1, 1]")
        elif a.get("split", [1, 1]) != [1, 1]:
            raise self.unsupported(node, "split sizes other than [1, 1]")
        self.kinds[node.output[0]] = ("column", "x1")
        self.kinds[node.output[1]] = ("column", "x2")

    def op_Slice(self, node: Any) -> None:  # noqa: N802
        self._columns_ok(node)
        ins = list(node.input) + [""] * 5
        starts, ends, axes = (self.array(ins[k], [(1,)], what, node)[0] if ins[k] else None
                              for k, what in ((1, "slice start"), (2, "slice end"), (3, "slice axis")))
        if ins[4] or axes not in (1, -1) or starts not in (0, 1) or ends != starts + 1:
            raise self.unsupported(node, "only one column of the 2 inputs, x[:, k:k+1]")
        self.kinds[node.output[0]] = ("column", f"x{int(starts) + 1}")

    def op_Sin(self, node: Any) -> None:  # noqa: N802
        kind = self.kinds.get(node.input[0], ("",))
        if kind[0] != "column":
            raise self.unsupported(node, "a Sin is only read as an input feature sin(x1) or sin(x2)")
        self.kinds[node.output[0]] = ("feature", f"sin({kind[1]})")

    def op_Concat(self, node: Any) -> None:  # noqa: N802
        if self.stage != 4 or self.attrs(node).get("axis") not in (1, -1):
            raise self.unsupported(node, "a Concat is only read as the input features, along the columns")
        names = []
        for i in node.input:
            kind = self.kinds.get(i, ("",))
            if kind[0] not in ("column", "feature"):
                raise self.unsupported(node, f"its input {i!r} is not an input feature")
            names.append(kind[1])
        if len(set(names)) != len(names):
            raise self.unsupported(node, "an input feature appears twice")
        self.feature_order = names
        self.stage = 5
        self.set_current(node.output[0], ("hidden",), len(names))

    # layers
    def _close_layer(self) -> None:
        if self.layers and self.layers[-1].activation is None:
            self.layers[-1].activation = "linear"

    def _dense(self, node: Any, w_name: str, b_name: str | None, trans_b: bool) -> None:
        if len(self.layers) >= MAX_LAYERS:
            raise self.fail(f"has more than {MAX_LAYERS} layers")
        self.take_current(node, node.input[0])
        self._close_layer()
        t = self.consts.get(w_name)
        if t is None:
            raise self.unsupported(node, f"its weights {w_name!r} are not a constant in the file")
        if len(t.dims) != 2:
            raise self.fail(f"weights {w_name!r} of node {node.name!r} have {len(t.dims)} "
                            "dimension(s), not 2")
        units = int(t.dims[0] if trans_b else t.dims[1])
        if not 1 <= units <= MAX_UNITS:
            raise self.fail(f"node {node.name!r} declares {units} neurons; nnbench allows 1 to {MAX_UNITS}")
        shape = (units, self.width) if trans_b else (self.width, units)
        W = self.array(w_name, [shape], "weights", node)
        W = W.T if trans_b else W
        b = None
        if b_name:
            b = self.array(b_name, [(units,), (1, units)], "bias", node).ravel()
        self.layers.append(_Layer(W, b))
        self.stage = 5
        self.set_current(node.output[0], ("z", bool(b_name)), units)

    def op_Gemm(self, node: Any) -> None:  # noqa: N802
        a = self.attrs(node)
        if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
            raise self.unsupported(node, "a Gemm with transA, alpha or beta other than the defaults")
        if len(node.input) not in (2, 3):
            raise self.unsupported(node)
        bias = node.input[2] if len(node.input) == 3 and node.input[2] else None
        self._dense(node, node.input[1], bias, bool(a.get("transB", 0)))

    def op_MatMul(self, node: Any) -> None:  # noqa: N802
        self._dense(node, node.input[1], None, False)

    def op_Add(self, node: Any) -> None:  # noqa: N802
        ins = list(node.input)
        if len(ins) == 2 and self.current in ins and self.kinds.get(self.current) == ("z", False):
            other = ins[1 - ins.index(self.current)]
            layer = self.layers[-1]
            if layer.b is None and self.is_const(other):
                units = layer.W.shape[1]
                layer.b = self.array(other, [(units,), (1, units)], "bias", node).ravel()
                self.set_current(node.output[0], ("z", True), units)
                return
        raise self.unsupported(node, "an Add is only read as a layer's bias, right after its MatMul")

    def activate(self, node: Any, activation: str) -> None:
        if not self.layers or self.kinds.get(self.current, ("",))[0] != "z":
            raise self.unsupported(node, "an activation comes right after a layer's Gemm or MatMul")
        self.layers[-1].activation = activation
        self.set_current(node.output[0], ("hidden",), self.width)

    def _activation(self, node: Any, activation: str) -> None:
        self.take_current(node, node.input[0])
        self.activate(node, activation)

    def op_Sigmoid(self, node: Any) -> None:  # noqa: N802
        self._activation(node, "sigmoid")

    def op_Tanh(self, node: Any) -> None:  # noqa: N802
        self._activation(node, "tanh")

    def op_Relu(self, node: Any) -> None:  # noqa: N802
        self._activation(node, "relu")

    def op_LeakyRelu(self, node: Any) -> None:  # noqa: N802
        alpha = self.attrs(node).get("alpha", 0.01)
        if abs(alpha - LEAKY_SLOPE) > 1e-6:
            raise self.unsupported(node, f"a leaky ReLU slope of {alpha:g}; nnbench's is {LEAKY_SLOPE}")
        self._activation(node, "leaky_relu")

    def op_Softmax(self, node: Any) -> None:  # noqa: N802
        opset = next((o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx")), OPSET)
        axis = self.attrs(node).get("axis", -1 if opset >= 13 else 1)
        if axis not in (1, -1):
            raise self.unsupported(node, "a softmax across the rows, not along each row")
        self._activation(node, "softmax")

    # -- the network
    def build(self) -> Imported:
        layers = [LayerSpec(int(layer.W.shape[1]), layer.activation, layer.b is not None)
                  for layer in self.layers]
        features = None
        first = self.layers[0].W
        if self.feature_order is not None:
            features = feature_maps.normalize(self.feature_order)
            first = first[[self.feature_order.index(f) for f in features]]  # rows in canonical order
        spec = NetworkSpec(self.n_inputs, tuple(layers), "xavier", self.dtype, features)
        weights = {}
        for i, layer in enumerate(self.layers):
            weights[f"layer{i}.W"] = np.array(first if i == 0 else layer.W, dtype=self.dtype)
            if layer.b is not None:
                weights[f"layer{i}.b"] = np.array(layer.b, dtype=self.dtype)
        net = Network(spec)
        net.set_weights(weights)  # checks every shape against the spec
        meta = {p.key: p.value for p in self.model.metadata_props}
        # The graph is what counts; the recorded spec only gives back the initialiser's name.
        try:
            recorded = NetworkSpec.from_dict(_json(meta.get("nnbench.network")))
        except NnbenchError:
            recorded = None
        if recorded is not None and replace(recorded, init=spec.init) == spec:
            spec = recorded
        saved = Saved(spec=spec, weights=weights)
        dataset = _json(meta.get("nnbench.dataset"))
        saved.dataset = dataset if isinstance(dataset, dict) else None
        training = _json(meta.get("nnbench.training"))
        if isinstance(training, dict):
            try:
                saved.config = TrainConfig.from_dict(training)
            except NnbenchError:
                saved.config = None
        extra = _json(meta.get("nnbench.extra"))
        saved.extra = extra if isinstance(extra, dict) else {}
        scaling = None
        if self.mean is not None or self.std is not None or self.scale is not None:
            scaling = InputScaling(self.mean, self.std, self.scale, why="read from the ONNX graph")
        return Imported(saved, scaling)


def _json(text: str | None) -> Any:
    if text is None or len(text) > 16 << 20:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
