"""A network as a short PyTorch ``.py``: ``torch.nn`` modules, one line per layer, with the
weights loaded from the ``.npz`` beside it (the file this package writes for every code export).
"""

from __future__ import annotations

from nnbench.engine.network import Network
from nnbench.export.numpy_code import header
from nnbench.export.scaling import InputScaling

_MODULES = {
    "sigmoid": "nn.Sigmoid()",
    "tanh": "nn.Tanh()",
    "relu": "nn.ReLU()",
    "leaky_relu": "nn.LeakyReLU(0.01)",
    "softmax": "nn.Softmax(dim=1)",
}
_FEATURES = {
    "x1": "x1", "x2": "x2", "x1^2": "x1 * x1", "x2^2": "x2 * x2", "x1*x2": "x1 * x2",
    "sin(x1)": "torch.sin(x1)", "sin(x2)": "torch.sin(x2)",
}


def source(net: Network, scaling: InputScaling | None, weights_name: str) -> str:
    spec = net.spec
    dtype = net.dtype.name
    lines = [header(net, scaling, "PyTorch", weights_name).replace("{this file}", "THIS_FILE.py")]
    lines += [
        "import functools",
        "from pathlib import Path",
        "",
        "import numpy as np",
        "import torch",
        "from torch import nn",
        "",
        f'WEIGHTS = Path(__file__).with_name("{weights_name}")',
        "",
    ]
    if scaling is not None:
        lines += [
            "",
            "class InputScaling(nn.Module):",
            f'    """{scaling.describe()}: what the bench does before the first layer."""',
            "",
            "    def __init__(self, n):",
            "        super().__init__()",
            '        self.register_buffer("mean", torch.zeros(n, dtype=torch.float64))',
            '        self.register_buffer("std", torch.ones(n, dtype=torch.float64))',
            '        self.register_buffer("scale", torch.ones((), dtype=torch.float64))',
            "",
            "    def forward(self, x):",
            "        dtype = x.dtype",
            "        # standardised in float64, as the bench does",
            "        x = (x.to(torch.float64) - self.mean) / self.std",
            "        return x.to(dtype) * self.scale.to(dtype)",
            "",
        ]
    if spec.features is not None:
        lines += [
            "",
            "class Features(nn.Module):",
            f'    """The input features {", ".join(spec.features)}, from the two raw inputs x1, x2."""',
            "",
            "    def forward(self, x):",
            "        x1, x2 = x[:, 0], x[:, 1]",
            f"        return torch.stack([{', '.join(_FEATURES[f] for f in spec.features)}], dim=1)",
            "",
        ]
    lines += ["", "def build():",
              '    """The network, with fresh weights (load() puts the trained ones in)."""',
              "    return nn.Sequential("]
    if scaling is not None:
        lines.append(f"        InputScaling({spec.n_inputs}),")
    if spec.features is not None:
        lines.append("        Features(),")
    n = len(net.layers)
    for i, layer in enumerate(net.layers):
        title = "output layer" if i == n - 1 else f"hidden layer {i + 1}"
        n_in, n_out = layer.W.shape
        bias = "" if layer.b is not None else ", bias=False"
        act = layer.activation.name
        module = _MODULES.get(act)
        comment = f"  # {title}: {n_out} {act} neuron(s)"
        if module is None:  # linear: the Linear module alone
            lines.append(f"        nn.Linear({n_in}, {n_out}{bias}),{comment}")
        else:
            lines.append(f"        nn.Linear({n_in}, {n_out}{bias}), {module},{comment}")
    lines += [
        "    )",
        "",
        "",
        "def load(path=WEIGHTS):",
        '    """build() with the trained weights (layerK.W is inputs x neurons: nn.Linear holds its',
        '    transpose)."""',
        f"    model = build().to(torch.{dtype})",
        "    with np.load(path) as w, torch.no_grad():",
        "        dense = [m for m in model if isinstance(m, nn.Linear)]",
        "        for k, layer in enumerate(dense):",
        '            layer.weight.copy_(torch.from_numpy(w[f"layer{k}.W"].T))',
        "            if layer.bias is not None:",
        '                layer.bias.copy_(torch.from_numpy(w[f"layer{k}.b"]))',
    ]
    if scaling is not None:
        lines += [
            "        scaling = model[0]",
            "        for name in (\"mean\", \"std\", \"scale\"):",
            '            if f"input.{name}" in w:',
            '                getattr(scaling, name).copy_(torch.from_numpy(w[f"input.{name}"]))',
        ]
    lines += [
        "    return model.eval()",
        "",
        "",
        "def predict(x):",
        '    """Outputs (a NumPy array) for one row or an array of rows."""',
        "    x = torch.as_tensor(np.asarray(x, dtype=np.float64))",
        "    x = x.reshape(1, -1) if x.ndim == 1 else x",
        "    with torch.no_grad():",
        f"        return trained()(x.to(torch.{dtype})).numpy()",
        "",
        "",
        "@functools.cache",
        "def trained():",
        '    """load(), once."""',
        "    return load()",
        "",
        "",
        'if __name__ == "__main__":',
        "    import sys",
        "",
        "    rows = [[float(v) for v in arg.split(\",\")] for arg in sys.argv[1:]]",
        "    print(predict(rows) if rows else __doc__)",
        "",
    ]
    return "\n".join(lines)
