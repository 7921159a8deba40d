"""Built-in experiments, one per classic from-scratch tutorial (``nnbench/presets_data/*.json``)."""

from __future__ import annotations

import json

from nnbench import resources
from nnbench.errors import FileFormatError, NnbenchError, SpecError, quote
from nnbench.experiment import Experiment

# The order File > Examples and ``nnbench presets`` show them in: simplest first.
ORDER = (
    "perceptron",
    "xor-mlp",
    "height-weight",
    "height-weight-noisy",
    "regression-linear",
    "regression-curve-linear",
    "regression-curve",
    "circle-features",
    "mnist-two-layer",
)


def names() -> list[str]:
    """Every preset name: the known order first, then any other JSON file in the folder."""
    found = {p.stem for p in resources.presets_dir().glob("*.json")}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def list_presets() -> list[tuple[str, str]]:
    """``[(name, title), ...]`` for a menu; a broken file is listed with its error as the title."""
    out = []
    for name in names():
        try:
            out.append((name, load_preset(name).title))
        except NnbenchError as e:
            out.append((name, f"(unreadable: {e})"))
    return out


def load_preset(name: str) -> Experiment:
    """The preset ``name``; SpecError if there is no such preset."""
    path = resources.preset_path(name)
    if not path.is_file():
        known = ", ".join(names()) or "none"
        raise SpecError(f"no preset named {quote(name)}; presets: {known}")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FileFormatError(f"preset {name}: {e}") from None
    try:
        return Experiment.from_dict(d)
    except NnbenchError as e:
        raise FileFormatError(f"preset {name}: {e}") from None
