"""The project's own errors: every message is meant to be shown to a user as it is."""


class NnbenchError(Exception):
    """Base class: anything nnbench refuses, with a message a user can act on."""


class SpecError(NnbenchError, ValueError):
    """A network, training or dataset setting that cannot work (a layer of 0 neurons, lr <= 0)."""


class FileFormatError(NnbenchError):
    """A file that is not a valid nnbench / IDX / CSV file: corrupt, truncated or foreign."""


class IncompatibleError(NnbenchError):
    """A valid network or file that does not fit what it is used with (wrong input size...)."""


class DownloadError(NnbenchError):
    """A download that failed: server error, truncated body, checksum mismatch."""


class TrainingDiverged(NnbenchError):
    """The loss became NaN or infinite; the trainer has restored the last finite weights."""

    def __init__(self, message: str, epoch: int, step: int, *, restored_epoch: int = 0,
                 restored_loss: float = float("nan"), lr: float = float("nan")) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step
        self.restored_epoch = restored_epoch  # the epoch whose weights are back (0: the start)
        self.restored_loss = restored_loss  # its training loss (NaN for the start)
        self.lr = lr  # the learning rate that overshot
