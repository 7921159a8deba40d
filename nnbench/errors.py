"""The project's own errors: every message is meant to be shown to a user as it is."""

import reprlib


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


class TooLargeError(SpecError):
    """Something that would need more memory than the machine has (the message gives the figure)."""


QUOTE_LIMIT = 60
_REPR = reprlib.Repr()  # keyword arguments only from Python 3.12
for _key, _value in (("maxlevel", 2), ("maxtuple", 6), ("maxlist", 6), ("maxarray", 6), ("maxdict", 4),
                     ("maxset", 6), ("maxfrozenset", 6), ("maxdeque", 6), ("maxstring", QUOTE_LIMIT),
                     ("maxlong", QUOTE_LIMIT), ("maxother", QUOTE_LIMIT)):
    setattr(_REPR, _key, _value)


def quote(value: object) -> str:
    """``repr(value)`` for a message, shortened: input is echoed, never in full (a 10 MB name must
    not give a 10 MB line). Every message that quotes what a user or a file gave uses this."""
    try:
        text = _REPR.repr(value)
    except Exception:  # noqa: BLE001 - a foreign object's repr (or a huge int's) may raise anything
        text = f"<{type(value).__name__}>"
    if isinstance(value, str) and len(value) > QUOTE_LIMIT:
        text += f" ({len(value):,} characters)"
    return text
