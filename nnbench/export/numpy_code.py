"""A network as one plain NumPy ``.py`` (``predict(x)``) with its weights in an ``.npz`` beside it.

The generated module needs NumPy only, not nnbench, and computes what the engine computes with
the same operations (the sigmoid as 0.5 (1 + tanh(z / 2)), the softmax shifted by the row's
maximum), so its outputs match the bench's to rounding.
"""

from __future__ import annotations

import textwrap

from nnbench import __version__
from nnbench.engine.network import Network
from nnbench.export.scaling import InputScaling

_ACTIVATIONS = {
    "sigmoid": "0.5 * (1.0 + np.tanh(0.5 * z))",
    "tanh": "np.tanh(z)",
    "relu": "np.maximum(z, 0.0)",
    "leaky_relu": "np.maximum(z, z * 0.01)",
    "linear": "z",
    "softmax": "_softmax(z)",
}

_FEATURES = {
    "x1": "x1", "x2": "x2", "x1^2": "x1 * x1", "x2^2": "x2 * x2", "x1*x2": "x1 * x2",
    "sin(x1)": "np.sin(x1)", "sin(x2)": "np.sin(x2)",
}


def header(net: Network, scaling: InputScaling | None, what: str, weights_name: str) -> str:
    """The generated module's docstring: what it takes and gives."""
    spec = net.spec
    example = ",".join(["0.5"] * min(spec.n_inputs, 3)) + (",..." if spec.n_inputs > 3 else "")
    takes = f"rows of {spec.n_inputs} input(s) ({net.dtype.name}) as the network takes them"
    if scaling is not None:
        takes = (f"rows of {spec.n_inputs} input(s) as the data file holds them, scaled here as the "
                 f"bench does: {scaling.describe()}")
    if spec.features is not None:
        takes += f"; the first layer sees the input features {', '.join(spec.features)}"
    paragraphs = [
        f"nnbench network {spec.describe()} as {what} (exported by nnbench {__version__}).",
        "",
        f"Takes {takes}. Gives the output layer's {spec.output.activation} values, "
        f"{spec.output.units} per row. The weights are in {weights_name}, beside this file.",
        "",
        f"Run it: python {{this file}} {example}",
    ]
    lines = [textwrap.fill(p, 96) if p else "" for p in paragraphs]
    return '"""' + "\n".join(lines) + '\n"""\n'


def source(net: Network, scaling: InputScaling | None, weights_name: str) -> str:
    """The module's text."""
    spec = net.spec
    lines = [header(net, scaling, "plain NumPy", weights_name).replace("{this file}", "THIS_FILE.py")]
    lines += [
        "from pathlib import Path",
        "",
        "import numpy as np",
        "",
        f"DTYPE = np.{net.dtype.name}",
        f"N_INPUTS = {spec.n_inputs}",
        f'WEIGHTS = Path(__file__).with_name("{weights_name}")',
        "",
        "with np.load(WEIGHTS) as _f:  # allow_pickle is False by default",
        "    _W = {name: _f[name] for name in _f.files}",
        "",
        "",
        "def _softmax(z):",
        "    e = np.exp(z - z.max(axis=1, keepdims=True))",
        "    return e / e.sum(axis=1, keepdims=True)",
        "",
        "",
        "def predict(x):",
        '    """Outputs for one row or an (n, N_INPUTS) array of rows."""',
        "    x = np.asarray(x, dtype=np.float64)",
        "    if x.ndim == 1:",
        "        x = x.reshape(1, -1)",
        "    if x.ndim != 2 or x.shape[1] != N_INPUTS:",
        '        raise ValueError(f"expected rows of {N_INPUTS} input(s), got shape {x.shape}")',
    ]
    if scaling is not None and scaling.mean is not None:
        lines.append('    x = x - _W["input.mean"]  # the CSV import\'s standardisation, in float64')
    if scaling is not None and scaling.std is not None:
        lines.append('    x = x / _W["input.std"]')
    lines.append("    x = x.astype(DTYPE)")
    if scaling is not None and scaling.scale is not None:
        lines.append(f'    x = x * _W["input.scale"]  # {scaling.why}')
    if spec.features is not None:
        lines.append("    x1, x2 = x[:, 0], x[:, 1]")
        lines.append(f"    x = np.stack([{', '.join(_FEATURES[f] for f in spec.features)}], axis=1)"
                     f"  # input features {', '.join(spec.features)}")
    n = len(net.layers)
    for i, layer in enumerate(net.layers):
        title = "output layer" if i == n - 1 else f"hidden layer {i + 1}"
        bias = f' + _W["layer{i}.b"]' if layer.b is not None else ""
        act = layer.activation.name
        lines.append(f'    z = x @ _W["layer{i}.W"]{bias}  # {title}: {layer.W.shape[1]} {act} neuron(s)')
        lines.append(f"    x = {_ACTIVATIONS[act]}")
    lines += [
        "    return x",
        "",
        "",
        'if __name__ == "__main__":',
        "    import sys",
        "",
        "    rows = [[float(v) for v in arg.split(\",\")] for arg in sys.argv[1:]]",
        "    print(predict(np.array(rows)) if rows else __doc__)",
        "",
    ]
    return "\n".join(lines)
