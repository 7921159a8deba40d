"""An experiment: everything needed to run a training again, and its weights once trained.

A preset is an experiment as JSON (``nnbench/presets_data/NAME.json``); a trained experiment is an
``.npz`` network file (:mod:`nnbench.engine.files`) whose record also carries the dataset source
and the experiment's own fields, so ``load_experiment`` reads either and ``build()`` continues
training from the saved weights.
"""

from __future__ import annotations

import json
import math
import os
import stat
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from nnbench import data
from nnbench.data import Dataset
from nnbench.engine import Network, NetworkSpec, TrainConfig, Trainer, files
from nnbench.engine.files import Saved
from nnbench.engine.memory import check_memory
from nnbench.errors import FileFormatError, IncompatibleError, NnbenchError, SpecError, quote

FORMAT = "nnbench-experiment"
VERSION = 1
MAX_JSON_BYTES = 16 << 20
# Fields an experiment file may hold besides the format record.
_FIELDS = ("name", "title", "description", "dataset", "network", "training", "net_seed", "expect",
           "report_every")
# The experiment's own fields, kept in a network file's ``extra`` record.
_EXTRA = ("name", "title", "description", "net_seed", "expect", "report_every")


@dataclass(frozen=True)
class Experiment:
    """A dataset source, a network spec, training settings and seeds; optionally saved weights.

    ``expect`` records the result the preset's tutorial reports (for tests and the user);
    ``report_every`` is how often (in epochs) a headless run prints a line, 0 for automatic.
    """

    name: str
    title: str
    description: str
    dataset: dict[str, Any]
    network: NetworkSpec
    training: TrainConfig
    net_seed: int = 0
    expect: dict[str, Any] = field(default_factory=dict)
    report_every: int = 0
    saved: Saved | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for key in ("name", "title", "description"):
            if not isinstance(getattr(self, key), str):
                raise SpecError(f"experiment {key!r} must be text, got {quote(getattr(self, key))}")
        if not isinstance(self.dataset, dict) or not isinstance(self.dataset.get("kind"), str):
            raise SpecError("an experiment's 'dataset' must be a source mapping with a 'kind'")
        if not isinstance(self.network, NetworkSpec):
            raise SpecError("an experiment's 'network' must be a NetworkSpec")
        if not isinstance(self.training, TrainConfig):
            raise SpecError("an experiment's 'training' must be a TrainConfig")
        if not _whole(self.net_seed):
            raise SpecError(f"'net_seed' must be a whole number >= 0, got {quote(self.net_seed)}")
        if not isinstance(self.expect, dict):
            raise SpecError("'expect' must be a mapping")
        if not _whole(self.report_every):
            raise SpecError(f"'report_every' must be a whole number >= 0, got {quote(self.report_every)}")

    # ---- as data ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The experiment as JSON-able data (without saved weights)."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "dataset": self.dataset,
            "network": self.network.to_dict(),
            "training": self.training.to_dict(),
            "net_seed": self.net_seed,
            "report_every": self.report_every,
            "expect": self.expect,
        }

    @classmethod
    def from_dict(cls, d: Any) -> Experiment:
        """Checked: raises SpecError naming the bad field."""
        if not isinstance(d, dict):
            raise SpecError(f"an experiment must be a mapping, got {type(d).__name__}")
        if d.get("format", FORMAT) != FORMAT:
            raise SpecError(f"not an nnbench experiment (format {quote(d.get('format'))})")
        version = d.get("version", VERSION)
        if not isinstance(version, int) or not 1 <= version <= VERSION:
            raise SpecError(f"experiment format version {quote(version)} is not supported (this nnbench "
                            f"reads {VERSION})")
        unknown = sorted(set(d) - set(_FIELDS) - {"format", "version"})
        if unknown:
            names = ", ".join(k if len(k) <= 40 else quote(k) for k in unknown[:5])
            raise SpecError(f"unknown experiment fields: {names}"
                            + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
        missing = [k for k in ("dataset", "network", "training") if k not in d]
        if missing:
            raise SpecError(f"an experiment needs {', '.join(repr(k) for k in missing)}")
        return cls(
            name=d.get("name", "experiment"),
            title=d.get("title", d.get("name", "experiment")),
            description=d.get("description", ""),
            dataset=d["dataset"],
            network=NetworkSpec.from_dict(d["network"]),
            training=TrainConfig.from_dict(d["training"]),
            net_seed=d.get("net_seed", 0),
            expect=d.get("expect", {}),
            report_every=d.get("report_every", 0),
        )

    def replace(self, **changes: Any) -> Experiment:
        return replace(self, **changes)

    def with_training(self, **changes: Any) -> Experiment:
        """The same experiment with some training settings changed (``epochs=``, ``seed=``...)."""
        return replace(self, training=self.training.replace(**changes))

    # ---- running ---------------------------------------------------------------------------

    def make_dataset(self) -> Dataset:
        """Regenerate (or reload) the dataset from its source; SpecError/FileFormatError if bad."""
        return data.make(self.dataset)

    def build(self, dataset: Dataset | None = None) -> tuple[Dataset, Network, Trainer]:
        """The dataset, a network from ``net_seed`` and a trainer; with saved weights, the network
        holds them and the trainer continues where the file stopped (epochs, optimizer, history).
        TooLargeError, before anything is allocated, when training would need more memory than
        there is (see :func:`nnbench.engine.memory.check_memory`)."""
        ds = dataset if dataset is not None else self.make_dataset()
        check_fits(self.network, ds)
        rows = len(ds.x_train)
        check_memory(self.network, batch=min(self.training.batch_size or rows, rows),
                     optimizer=self.training.optimizer, eval_rows=len(ds.x_test))
        net = Network(self.network, np.random.default_rng(self.net_seed))
        if self.saved is not None:
            net.set_weights(self.saved.weights)
        trainer = make_trainer(net, self.training, ds)
        if self.saved is not None:
            self.saved.restore(trainer)
        return ds, net, trainer


def make_trainer(net: Network, config: TrainConfig, ds: Dataset) -> Trainer:
    """The one place a trainer is made: ``net`` on ``ds`` with ``config``."""
    # A tiny table's test set is its training set: evaluating it twice would only cost time.
    same = ds.x_test.shape == ds.x_train.shape and np.array_equal(ds.x_test, ds.x_train)
    x_test, y_test = (None, None) if same or len(ds.x_test) == 0 else (ds.x_test, ds.y_test)
    return Trainer(net, config, ds.x_train, ds.y_train, x_test, y_test,
                   x_scale=ds.x_scale, classification=ds.task == "classification")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_fits(spec: NetworkSpec, ds: Dataset) -> None:
    """IncompatibleError unless the network's input and output sizes are the dataset's."""
    if spec.n_inputs != ds.n_features or spec.output.units != ds.n_outputs:
        raise IncompatibleError(
            f"the network is {spec.n_inputs} in / {spec.output.units} out, but dataset {quote(ds.name)} "
            f"has {ds.n_features} input(s) and {ds.n_outputs} output(s)"
        )


# ---- files -------------------------------------------------------------------------------------


def save_experiment(
    path: str | os.PathLike, experiment: Experiment, net: Network, trainer: Trainer | None,
    runs: tuple[dict[str, Any], dict[str, np.ndarray]] | None = None,
) -> Path:
    """Write a trained experiment: weights, optimizer state, history, dataset source and the
    experiment's fields, atomically (see :func:`nnbench.engine.files.save`); ``runs`` is the
    runs' record and checkpoint arrays (nnbench.history.RunStore.to_file), if any."""
    extra: dict[str, Any] = {"experiment": {k: getattr(experiment, k) for k in _EXTRA}}
    more = None
    if runs is not None:
        extra["runs"], more = runs
    return files.save(path, net, trainer, dataset=experiment.dataset, extra=extra, more=more)


def load_experiment(path: str | os.PathLike) -> Experiment:
    """An experiment from a preset-style ``.json`` file, a trained ``.npz`` or an ``.onnx`` that
    records its dataset; FileFormatError (naming the file) for anything that is not one."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":  # an exported (or foreign) ONNX network: nnbench.export
        from nnbench.export import read_onnx_network

        return _from_saved(read_onnx_network(path), path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # opening a FIFO would block
            raise FileFormatError(f"{path.name} is not a regular file")
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise FileFormatError(f"cannot open {path}: {e.strerror or e}") from None
    if head.startswith(b"PK"):
        return _from_saved(files.load(path), path)
    return _from_json(path)


def _from_json(path: Path) -> Experiment:
    raw = files.read_limited(path, MAX_JSON_BYTES, "an experiment file")
    try:
        d = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # ValueError: bad UTF-8, bad JSON, a 5000-digit integer
        raise FileFormatError(f"{path.name} is neither an nnbench network file nor valid JSON ({e})") \
            from None
    try:
        return Experiment.from_dict(d)
    except NnbenchError as e:
        raise FileFormatError(f"{path.name}: {e}") from None


def _from_saved(saved: Saved, path: Path) -> Experiment:
    if saved.dataset is None:
        raise FileFormatError(f"{path.name} holds a network but no dataset source: it cannot be trained "
                              "again")
    fields = saved.extra.get("experiment", {})
    if not isinstance(fields, dict):
        fields = {}
    d = {k: fields[k] for k in _EXTRA if k in fields}
    d.setdefault("name", path.stem)
    d.setdefault("title", d["name"])
    d.update(dataset=saved.dataset, network=saved.spec.to_dict(),
             training=(saved.config or TrainConfig()).to_dict())
    try:
        return replace(Experiment.from_dict(d), saved=saved)
    except NnbenchError as e:
        raise FileFormatError(f"{path.name}: {e}") from None


# ---- numerical against backprop gradients ------------------------------------------------------


def compare_gradients(experiment: Experiment, rows: int = 10, steps: int = 2,
                      dataset: Dataset | None = None) -> dict[str, float]:
    """Time ``steps`` training steps on the first ``rows`` training rows with numerical gradients,
    then the same steps from the same weights with backprop; also the largest relative difference
    between the two gradients at the first step. Returns plain numbers for a report."""
    if not (_whole(rows) and rows >= 1 and _whole(steps) and steps >= 1):
        raise SpecError("rows and steps must be whole numbers >= 1")
    base = experiment.with_training(batch_size=0, shuffle=False)
    ds = dataset if dataset is not None else experiment.make_dataset()
    ds = replace(ds, x_train=ds.x_train[:rows], y_train=ds.y_train[:rows],
                 x_test=ds.x_test[:0], y_test=ds.y_test[:0], row_labels=None)
    result: dict[str, float] = {"rows": float(len(ds.x_train)), "steps": float(steps),
                                "params": float(experiment.network.n_params())}
    grads = {}
    for mode in ("numerical", "backprop"):
        _, net, trainer = base.with_training(gradients=mode).build(ds)
        x = trainer.features(trainer.x_train)
        start = time.perf_counter()
        for i in range(steps):
            loss = trainer.train_step(x, trainer.y_train)
            if i == 0:
                grads[mode] = net.flat_grads.astype(np.float64)
        result[f"{mode}_s_per_step"] = (time.perf_counter() - start) / steps
        result[f"{mode}_loss"] = float(loss)
    a, b = grads["numerical"], grads["backprop"]
    scale = max(float(np.max(np.abs(a) + np.abs(b))), 1e-12)
    result["max_relative_difference"] = float(np.max(np.abs(a - b))) / scale
    ratio = result["numerical_s_per_step"] / max(result["backprop_s_per_step"], 1e-12)
    result["slowdown"] = ratio if math.isfinite(ratio) else 0.0
    return result
