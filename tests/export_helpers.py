"""Trained experiments for the export tests: every activation, each loss head, features on and
off, float32 and float64, 1-D and 2-D data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnbench.engine import LayerSpec, NetworkSpec, TrainConfig
from nnbench.engine.activations import HIDDEN_ACTIVATIONS
from nnbench.engine.features import FEATURES
from nnbench.experiment import Experiment

# (dataset source, output activation, loss, input features)
HEADS = {
    "2d-sigmoid-bce-features": ({"kind": "generator", "name": "xor", "n": 120, "seed": 1}, "sigmoid", "bce",
                                FEATURES),
    "2d-softmax-ce": ({"kind": "generator", "name": "blobs", "n": 120, "seed": 2}, "softmax", "cross_entropy",
                      None),
    "2d-tanh-sse-some-features": ({"kind": "generator", "name": "circle", "n": 120, "seed": 3}, "tanh", "sse",
                                  ("x1^2", "sin(x2)", "x1*x2")),
    "1d-linear-mse": ({"kind": "generator", "name": "sine", "n": 120, "seed": 4}, "linear", "mse", None),
}
DTYPES = ("float32", "float64")
TOL = {"float32": 1e-5, "float64": 1e-12}


@dataclass
class Case:
    id: str
    experiment: Experiment
    dtype: str


def cases(activations=HIDDEN_ACTIVATIONS, heads=tuple(HEADS), dtypes=DTYPES) -> list[Case]:
    out = []
    for dtype in dtypes:
        for act in activations:
            for head in heads:
                out.append(Case(f"{head}-{act}-{dtype}", make_experiment(head, act, dtype), dtype))
    return out


def make_experiment(head: str, activation: str, dtype: str, epochs: int = 3) -> Experiment:
    """A short training run: the weights are trained, not only initialised."""
    source, out_act, loss, features = HEADS[head]
    n_inputs = 1 if head.startswith("1d") else 2
    units = {"blobs": 3}.get(source["name"], 1)
    # one layer without bias, as the tutorial presets have
    layers = (LayerSpec(6, activation), LayerSpec(5, activation, bias=False), LayerSpec(units, out_act))
    spec = NetworkSpec(n_inputs, layers, "xavier", dtype, features)
    exp = Experiment(head, head, "", source, spec, TrainConfig(loss=loss, optimizer="adam", lr=0.01,
                                                                   epochs=epochs, batch_size=20))
    _, _, trainer = exp.build()
    trainer.run(epochs)
    from nnbench.engine.files import Saved

    net = trainer.net
    saved = Saved(spec=spec, weights=net.weights(), config=exp.training, dataset=source)
    return exp.replace(saved=saved)


def training_rows(exp: Experiment) -> np.ndarray:
    return exp.make_dataset().x_train


def max_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))
