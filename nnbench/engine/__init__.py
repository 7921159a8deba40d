"""The NumPy engine: dense networks, losses, optimizers, training, files. No Qt here."""

from nnbench.engine.network import Network
from nnbench.engine.spec import LayerSpec, NetworkSpec
from nnbench.engine.training import Snapshot, Step, TrainConfig, Trainer

__all__ = ["LayerSpec", "Network", "NetworkSpec", "Snapshot", "Step", "TrainConfig", "Trainer"]
