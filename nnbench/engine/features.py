"""Input features for 2-D data, as in TensorFlow Playground: the network sees any subset of
x1, x2, x1², x2², x1·x2, sin(x1), sin(x2) computed from the two raw inputs.

The feature map is part of the network (its spec names the features on): the network still
takes the raw (x1, x2) rows, so plots, predictions and saved files work on the data as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from nnbench.errors import SpecError, quote

_MAPS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda a, b: a,
    "x2": lambda a, b: b,
    "x1^2": lambda a, b: a * a,
    "x2^2": lambda a, b: b * b,
    "x1*x2": lambda a, b: a * b,
    "sin(x1)": lambda a, b: np.sin(a),
    "sin(x2)": lambda a, b: np.sin(b),
}
FEATURES: tuple[str, ...] = tuple(_MAPS)  # the canonical order: weights rows follow it
RAW: tuple[str, ...] = ("x1", "x2")
LABELS = {"x1": "x₁", "x2": "x₂", "x1^2": "x₁²", "x2^2": "x₂²", "x1*x2": "x₁x₂",
          "sin(x1)": "sin x₁", "sin(x2)": "sin x₂"}


def normalize(names: Sequence[str]) -> tuple[str, ...]:
    """The feature names in canonical order; unknown, repeated or no names are a SpecError."""
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise SpecError(f"features must be a list of names, got {quote(names)}")
    unknown = [n for n in names if n not in _MAPS]
    if unknown:
        raise SpecError(f"unknown input feature {quote(unknown[0])}; known: {', '.join(FEATURES)}")
    if len(set(names)) != len(names):
        raise SpecError("an input feature is listed twice")
    if not names:
        raise SpecError("at least one input feature must be on")
    return tuple(n for n in FEATURES if n in names)


def expand(x: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """(n, 2) raw rows -> (n, len(names)) feature rows, in the dtype of ``x``."""
    a, b = x[:, 0], x[:, 1]
    out = np.empty((len(x), len(names)), dtype=x.dtype)
    for k, name in enumerate(names):
        out[:, k] = _MAPS[name](a, b)
    return out
