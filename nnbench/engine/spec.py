"""Architecture as data: a frozen spec that builds a network and that a network gives back."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from nnbench.engine import features as feature_maps
from nnbench.engine.activations import ACTIVATIONS
from nnbench.engine.initializers import INITIALIZERS
from nnbench.errors import SpecError, quote

# The limits, defined here only: the layer list and the diagram read them from this module.
MAX_UNITS = 4096  # neurons in one layer
MAX_INPUTS = 100_000
MAX_LAYERS = 64  # layers with weights, the output layer included
MAX_HIDDEN = MAX_LAYERS - 1
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class LayerSpec:
    """One dense layer: ``units`` neurons, their activation, and whether they have a bias."""

    units: int
    activation: str = "sigmoid"
    bias: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"units": self.units, "activation": self.activation, "bias": self.bias}

    @classmethod
    def from_dict(cls, d: Any) -> LayerSpec:
        if not isinstance(d, dict):
            raise SpecError(f"a layer must be a mapping, got {type(d).__name__}")
        units = d.get("units")
        activation = d.get("activation", "sigmoid")
        bias = d.get("bias", True)
        if not isinstance(units, int) or isinstance(units, bool):
            raise SpecError(f"layer 'units' must be an integer, got {quote(units)}")
        if not isinstance(activation, str):
            raise SpecError(f"layer 'activation' must be a name, got {quote(activation)}")
        if not isinstance(bias, bool):
            raise SpecError(f"layer 'bias' must be true or false, got {quote(bias)}")
        return cls(units, activation, bias)


@dataclass(frozen=True)
class NetworkSpec:
    """A feed-forward net: ``n_inputs`` then dense ``layers``; the last layer is the output.

    ``features`` (2 inputs only) names the input features the first layer sees, computed from
    the raw (x1, x2): see :mod:`nnbench.engine.features`. None means the raw inputs; the
    raw pair (x1, x2) is stored as None too, so equal networks have equal specs.
    """

    n_inputs: int
    layers: tuple[LayerSpec, ...]
    init: str = "xavier"
    dtype: str = "float64"
    features: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        if self.features is not None:
            names = feature_maps.normalize(self.features)
            object.__setattr__(self, "features", None if names == feature_maps.RAW else names)
        self.validate()

    def validate(self) -> None:
        if not isinstance(self.n_inputs, int) or not 1 <= self.n_inputs <= MAX_INPUTS:
            raise SpecError(f"the number of inputs must be between 1 and {MAX_INPUTS}, "
                            f"got {quote(self.n_inputs)}")
        if not self.layers:
            raise SpecError("a network needs at least an output layer")
        if len(self.layers) > MAX_LAYERS:
            raise SpecError(f"at most {MAX_LAYERS} layers, got {len(self.layers)}")
        for i, layer in enumerate(self.layers):
            where = "the output layer" if i == len(self.layers) - 1 else f"hidden layer {i + 1}"
            if not isinstance(layer.units, int) or not 1 <= layer.units <= MAX_UNITS:
                raise SpecError(f"{where} must have between 1 and {MAX_UNITS} neurons, "
                                f"got {quote(layer.units)}")
            if layer.activation not in ACTIVATIONS:
                raise SpecError(f"{where}: unknown activation {quote(layer.activation)}")
            if layer.activation == "softmax" and i != len(self.layers) - 1:
                raise SpecError(f"{where}: softmax is only for the output layer")
            if layer.activation == "softmax" and layer.units < 2:
                raise SpecError("a softmax output needs at least 2 neurons")
        if self.features is not None and self.n_inputs != 2:
            raise SpecError(f"input features are for 2 inputs, this network has {self.n_inputs}")
        if self.init not in INITIALIZERS:
            raise SpecError(f"unknown initialiser {quote(self.init)}; known: {', '.join(INITIALIZERS)}")
        if self.dtype not in DTYPES:
            raise SpecError(f"dtype must be float32 or float64, got {quote(self.dtype)}")

    @classmethod
    def mlp(
        cls,
        sizes: list[int] | tuple[int, ...],
        hidden: str = "tanh",
        output: str = "sigmoid",
        *,
        init: str = "xavier",
        dtype: str = "float64",
        bias: bool = True,
    ) -> NetworkSpec:
        """``mlp([2, 8, 1])``: inputs, hidden sizes, output size."""
        if len(sizes) < 2:
            raise SpecError("give at least an input size and an output size")
        layers = [LayerSpec(n, hidden, bias) for n in sizes[1:-1]]
        layers.append(LayerSpec(sizes[-1], output, bias))
        return cls(sizes[0], tuple(layers), init, dtype)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Input width the first layer sees (the number of features on), then each layer's units."""
        return (len(self.input_names or ()) or self.n_inputs, *(layer.units for layer in self.layers))

    @property
    def input_names(self) -> tuple[str, ...] | None:
        """The features the first layer sees, by name; None for data that is not 2-D."""
        if self.features is not None:
            return self.features
        return feature_maps.RAW if self.n_inputs == 2 else None

    @property
    def hidden(self) -> tuple[LayerSpec, ...]:
        return self.layers[:-1]

    @property
    def output(self) -> LayerSpec:
        return self.layers[-1]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """``{"layer0.W": (inputs, neurons), "layer0.b": (neurons,), ...}``, as the network built
        from this spec names its parameters; computed without building anything."""
        sizes, shapes = self.sizes, {}
        for i, (a, b, layer) in enumerate(zip(sizes, sizes[1:], self.layers, strict=False)):
            shapes[f"layer{i}.W"] = (a, b)
            if layer.bias:
                shapes[f"layer{i}.b"] = (b,)
        return shapes

    def n_params(self) -> int:
        sizes = self.sizes
        pairs = zip(sizes, sizes[1:], self.layers, strict=False)
        return sum(a * b + (b if layer.bias else 0) for a, b, layer in pairs)

    def with_io(self, n_inputs: int, n_outputs: int, output_activation: str | None = None) -> NetworkSpec:
        """The same hidden layers fitted to another dataset's input and output sizes."""
        out = self.output
        out = replace(out, units=n_outputs, activation=output_activation or out.activation)
        features = self.features if n_inputs == 2 else None
        return replace(self, n_inputs=n_inputs, layers=(*self.hidden, out), features=features)

    def describe(self) -> str:
        first = f"{self.n_inputs}" if self.features is None else f"2[{','.join(self.features)}]"
        parts = [first] + [f"{layer.units}{layer.activation[0]}" for layer in self.layers]
        return "-".join(parts)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "n_inputs": self.n_inputs,
            "layers": [layer.to_dict() for layer in self.layers],
            "init": self.init,
            "dtype": self.dtype,
        }
        if self.features is not None:
            d["features"] = list(self.features)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> NetworkSpec:
        if not isinstance(d, dict):
            raise SpecError(f"a network spec must be a mapping, got {type(d).__name__}")
        layers = d.get("layers")
        if not isinstance(layers, list):
            raise SpecError("a network spec needs a list of 'layers'")
        n_inputs = d.get("n_inputs")
        if not isinstance(n_inputs, int) or isinstance(n_inputs, bool):
            raise SpecError(f"'n_inputs' must be an integer, got {quote(n_inputs)}")
        init = d.get("init", "xavier")
        dtype = d.get("dtype", "float64")
        if not isinstance(init, str) or not isinstance(dtype, str):
            raise SpecError("'init' and 'dtype' must be names")
        if len(layers) > MAX_LAYERS:
            raise SpecError(f"at most {MAX_LAYERS} layers, got {len(layers)}")
        features = d.get("features")
        if features is not None:
            if not isinstance(features, list) or len(features) > len(feature_maps.FEATURES):
                raise SpecError(f"'features' must be a list of names, got {quote(features)}")
            features = tuple(features)
        return cls(n_inputs, tuple(LayerSpec.from_dict(x) for x in layers), init, dtype, features)
