"""What a :class:`nnbench.bench.Bench` is told to do, and what it answers: plain data.

Every command is a small frozen dataclass of numbers, strings, specs and arrays, so the same
command can be applied in-process (the CLI, the tests) or sent to the engine process (the
window). Results are plain data too: an answer never holds a live network or trainer, only
specs and copies of arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnbench.data import Dataset
from nnbench.engine import LayerSpec, NetworkSpec, TrainConfig

# ---- values that travel with commands and answers -------------------------------------------


@dataclass(frozen=True, eq=False)
class NetState:
    """A network as data: its spec and a copy of its flat parameters."""

    spec: NetworkSpec
    params: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.params.nbytes)


@dataclass(eq=False)
class StructureEdit:
    """A change of the network's shape (layers, neurons, activations, input features), as the
    undo history keeps it. ``left_before`` is the network as the edit left it, so undoing a
    removal brings back the removed neurons' own weights; ``left_after`` is set when the edit
    is undone, for the same reason on redo."""

    before: NetworkSpec
    before_loss: str
    after: NetworkSpec
    after_loss: str
    left_before: NetState | None
    left_after: NetState | None = None

    @property
    def text(self) -> str:
        return describe_change(self.before, self.after)


@dataclass(frozen=True)
class ParamEdit:
    """One weight (``i`` >= 0) or bias (``i`` == -1) typed in by the user."""

    layer: int
    i: int
    j: int
    before: float
    after: float

    @property
    def text(self) -> str:
        what = "bias" if self.i < 0 else "weight"
        return f"{what} in layer {self.layer + 1}: {self.before:+.4g} → {self.after:+.4g}"


def describe_change(a: NetworkSpec, b: NetworkSpec) -> str:
    """A few words for what changed between two structures (for Undo's menu text)."""
    if a.features != b.features:
        return "input features"
    if len(a.hidden) != len(b.hidden):
        return "add layer" if len(b.hidden) > len(a.hidden) else "remove layer"
    if a.output != b.output:
        return "output activation"
    for h, (x, y) in enumerate(zip(a.hidden, b.hidden, strict=False)):
        if x.units != y.units:
            return f"neurons of layer {h + 1}"
        if x != y:
            return f"activation of layer {h + 1}"
    return "network"


@dataclass(frozen=True, eq=False)
class Opened:
    """The answer to a dataset switch, a load or a restore: what the bench now holds.
    ``dataset`` is None when the command brought the dataset itself (the sender has it)."""

    dataset: Dataset | None
    spec: NetworkSpec
    config: TrainConfig
    generation: int
    meta: dict[str, Any] = field(default_factory=dict)  # the experiment's name, title, seeds...
    path: str | None = None  # the file it came from, if any
    note: str = ""  # what a restore brought back besides the network (runs, checkpoints)


@dataclass(frozen=True)
class Dropped:
    """An edit made on a network that is no longer open (another dataset or file came first)."""

    text: str


@dataclass(frozen=True, eq=False)
class EngineState:
    """Everything needed to put a bench back where a frame showed it (after an engine died)."""

    dataset: Dataset
    config: TrainConfig
    net: NetState
    history: dict[str, np.ndarray]
    epoch: int
    step: int
    generation: int
    meta: dict[str, Any] = field(default_factory=dict)  # the experiment's name, title, seeds...
    run: int = 0  # the live run the frame showed (a journal brings the other runs back)


# ---- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SwitchData:
    """Train on another dataset: from a source mapping (``nnbench.data.make``) or one already
    built. The network keeps the hidden layers asked for; its ends follow the dataset."""

    source: dict[str, Any] | None = None
    dataset: Dataset | None = None
    hidden: tuple[LayerSpec, ...] | None = None  # None: the hidden layers in use
    features: tuple[str, ...] | None = None
    config: TrainConfig | None = None  # None: the settings in use
    net_seed: int | None = None
    init: str | None = None  # the weights' initialiser; None: the one in use


@dataclass(frozen=True)
class Restructure:
    """New hidden layers, input features or output layer; weights that still fit are kept.
    ``memory`` supplies weights for parts the network in use lacks (undo of a removal);
    ``generation`` drops the edit if another dataset or file was opened after it was made."""

    hidden: tuple[LayerSpec, ...]
    features: tuple[str, ...] | None
    output: LayerSpec
    loss: str | None = None
    memory: NetState | None = None
    generation: int | None = None


@dataclass(frozen=True)
class SetConfig:
    """Change training settings; ``lr``, ``epochs`` and the regularization apply from the next
    batch with the same optimizer, anything else continues with a new trainer."""

    changes: dict[str, Any]


@dataclass(frozen=True)
class SetParam:
    """Set one weight (``i`` >= 0: from input ``i`` to neuron ``j``) or bias (``i`` == -1)."""

    layer: int
    i: int
    j: int
    value: float
    generation: int | None = None


@dataclass(frozen=True)
class Reset:
    """Fresh weights from ``seed`` and an empty history; the settings stay."""

    seed: int


@dataclass(frozen=True)
class Load:
    """Open an experiment (preset ``.json`` or trained ``.npz``) or a bare network file."""

    path: str


@dataclass(frozen=True)
class Save:
    """Write the experiment with its weights, optimizer state and history (atomically), and
    its runs with their checkpoints (``latest_only``: each run's last checkpoint alone)."""

    path: str
    latest_only: bool = False


@dataclass(frozen=True, eq=False)
class Predict:
    rows: np.ndarray


@dataclass(frozen=True)
class Play:
    """Train until paused, the epoch limit or divergence. At the limit already, ``carry_on``
    sets a new one as far again and trains (the window's Train button); without it, Play says
    the limit is reached and does nothing."""

    carry_on: bool = False


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Step:
    """Train ``epochs`` more epochs, then stop."""

    epochs: int = 1


@dataclass(frozen=True)
class SetSpeed:
    """Batches per second while training; 0 trains as fast as it can."""

    batches_per_second: float = 0.0


@dataclass(frozen=True, eq=False)
class Restore:
    """Put the bench back into ``state`` (a new engine after the old one died)."""

    state: EngineState


@dataclass(frozen=True)
class UseJournal:
    """Mirror the runs and checkpoints into ``directory`` from now on (nnbench.journal), so a
    Restore after this engine died brings them back. The window's own private directory."""

    directory: str


@dataclass(frozen=True)
class GetState:
    """Ask for the bench as data (an EngineState): network, settings, history, counters."""


@dataclass(frozen=True)
class Status:
    """Ask for the engine's own facts: process id, loaded modules, trainer identity."""


# ---- runs and checkpoints (nnbench.history) ---------------------------------------------------


@dataclass(frozen=True)
class Seek:
    """Ask for the network at the checkpoint of ``epoch`` of run ``run`` (None: the live run):
    a history.Seen. Training is not changed."""

    epoch: int
    run: int | None = None


@dataclass(frozen=True)
class Fork:
    """Start a new run from the checkpoint of ``epoch`` of run ``run`` (None: the live one),
    with ``changes`` (training settings, and "hidden": a tuple of LayerSpec); it becomes the
    live run, answered with a history.Switched. No changes: it trains on as the original did."""

    epoch: int
    changes: dict[str, Any] = field(default_factory=dict)
    run: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class SetLive:
    """Go on training run ``run`` from where it was left (a history.Switched)."""

    run: int


@dataclass(frozen=True)
class RenameRun:
    run: int
    name: str


@dataclass(frozen=True)
class DeleteRun:
    """Forget a run and its checkpoints (not the live one)."""

    run: int


@dataclass(frozen=True)
class ListRuns:
    """Ask for every run as a tuple of history.RunInfo."""


@dataclass(frozen=True)
class RunHistory:
    """Ask for one run's per-epoch history (a dict of arrays)."""

    run: int | None = None


@dataclass(frozen=True)
class SetCheckpointBudget:
    """Keep at most ``nbytes`` of checkpoints (0 keeps none); answers the usage as a dict."""

    nbytes: int


# ---- events the bench reports while it trains --------------------------------------------------


@dataclass(frozen=True)
class Playing:
    """Play with ``carry_on`` moved the epoch limit: the settings now in use, and what changed."""

    config: TrainConfig
    text: str


@dataclass(frozen=True)
class Stopped:
    """Training stopped by itself; ``reason`` is "limit" (the epoch limit), "step" or "diverged".
    After divergence, ``epoch`` and ``loss`` are those of the restored weights and ``lr`` the rate
    that overshot."""

    reason: str
    text: str = ""
    epoch: int = -1
    loss: float = float("nan")
    lr: float = float("nan")


# Commands that only read: the engine sends no new frame after them (after a timeline Seek, a
# frame nobody needed kept the window's worker evaluating the live network for 20 ms while the
# checkpoint waited).
QUERIES = (Predict, GetState, Status, Seek, ListRuns, RunHistory)

COMMANDS = (SwitchData, Restructure, SetConfig, SetParam, Reset, Load, Save, Predict, Play, Pause, Step,
            SetSpeed, Restore, GetState, Status, Seek, Fork, SetLive, RenameRun, DeleteRun, ListRuns,
            RunHistory, SetCheckpointBudget, UseJournal)


def as_state(spec: NetworkSpec, params: np.ndarray) -> NetState:
    """A NetState holding its own copy of ``params``."""
    return NetState(spec, np.array(params, copy=True))
