"""Take a trained network elsewhere: ONNX, a PyTorch script or a plain NumPy script.

    export(network, "onnx", "net.onnx", scaling=...)      # one .onnx file
    export(network, "torch", "net.py")                    # net.py + net.weights.npz
    export(network, "numpy", "net.py")                    # net.py + net.weights.npz
    export_experiment(experiment, kind, out)              # a saved experiment, with its scaling

Every export takes the rows the bench takes from the data file: the input scaling recorded with
the dataset (a standardised CSV, MNIST's 1/255) is put in front of the network. ONNX needs the
optional ``onnx`` package (``pip install "nnbench[export]"``); it is imported only when used.
No Qt here.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from nnbench.engine.files import write_atomic
from nnbench.engine.network import Network
from nnbench.errors import FileFormatError, NnbenchError, SpecError
from nnbench.export.scaling import InputScaling, from_source

KINDS = ("onnx", "torch", "numpy")
SUFFIXES = {"onnx": ".onnx", "torch": ".py", "numpy": ".py"}

__all__ = ["KINDS", "InputScaling", "export", "export_experiment", "from_source", "network_of",
           "read_onnx_network", "weights_path"]


def weights_path(out: str | os.PathLike) -> Path:
    """Where a code export keeps its weights: ``net.py`` -> ``net.weights.npz`` beside it (not
    ``net.npz``: exporting ``xor.npz`` to ``xor.py`` must not overwrite the experiment)."""
    out = Path(out)
    return out.with_name(f"{out.stem}.weights.npz")


def export(
    network: Network,
    kind: str,
    out: str | os.PathLike,
    *,
    scaling: InputScaling | None = None,
    name: str = "nnbench",
    metadata: dict[str, Any] | None = None,
) -> list[Path]:
    """Write ``network`` as ``kind`` to ``out``; returns the files written (each atomically)."""
    if kind not in KINDS:
        raise SpecError(f"unknown export kind {kind!r}; choose one of {', '.join(KINDS)}")
    out = Path(out)
    want = SUFFIXES[kind]
    if out.suffix.lower() != want:
        raise SpecError(f"a {kind} export is a {want} file; got {out.name!r}")
    if kind == "onnx":
        from nnbench.export import onnx_io

        return [onnx_io.save_onnx(network, out, scaling=scaling, name=name, metadata=metadata)]
    from nnbench.export import numpy_code, torch_code

    weights = weights_path(out)
    _refuse_overwriting_an_experiment(weights)
    arrays = network.weights()
    if scaling is not None:
        arrays.update(scaling.arrays(network.dtype))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    module = torch_code if kind == "torch" else numpy_code
    text = module.source(network, scaling, weights.name).replace("THIS_FILE.py", out.name)
    write_atomic(weights, buf.getbuffer())
    write_atomic(out, text.encode("utf-8"))
    return [out, weights]


def _refuse_overwriting_an_experiment(path: Path) -> None:
    """A code export rewrites its weights file; never an nnbench experiment that has that name."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            is_experiment = "nnbench.json.npy" in zf.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return  # absent, or not a zip: nothing of nnbench's to lose
    if is_experiment:
        raise NnbenchError(f"{path.name} is an nnbench experiment: the export's weights would overwrite it; "
                           "choose another name for the script")


def network_of(experiment: Any) -> tuple[Network, bool]:
    """The experiment's network (its saved weights, else the initial ones) and whether trained."""
    if experiment.saved is not None:
        return experiment.saved.network(), True
    return Network(experiment.network, np.random.default_rng(experiment.net_seed)), False


def export_experiment(
    experiment: Any, kind: str, out: str | os.PathLike, *, scaling: bool = True
) -> list[Path]:
    """Export an experiment's network with the input scaling its dataset record implies (or
    without, ``scaling=False``: then the export takes what the network itself is fed)."""
    net, _ = network_of(experiment)
    sc = from_source(experiment.dataset, net.n_inputs) if scaling else None
    metadata = {"dataset": experiment.dataset, "training": experiment.training.to_dict(),
                "extra": {"experiment": {"name": experiment.name, "title": experiment.title,
                                         "description": experiment.description}}}
    return export(net, kind, out, scaling=sc, name=experiment.name, metadata=metadata)


def read_onnx_network(path: str | os.PathLike):
    """The checked :class:`~nnbench.engine.files.Saved` of an ONNX file, refusing a graph whose
    input scaling the bench cannot reproduce: nnbench keeps scaling with the dataset, so the
    graph's must be the one its dataset record implies (or absent)."""
    from nnbench.export import onnx_io

    imported = onnx_io.read_onnx(path)
    saved = imported.saved
    if imported.scaling is not None:
        implied = from_source(saved.dataset, saved.spec.n_inputs)
        if not imported.scaling.matches(implied):
            raise FileFormatError(
                f"{Path(path).name} scales its inputs before the first layer ({imported.scaling.describe()}) "
                "and records no dataset that scales the same way; nnbench keeps input scaling with the "
                "dataset, so it cannot open this network as it is")
    return saved
