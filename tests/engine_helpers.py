"""Ask the engine process for its state through the session's public commands (tests only)."""

from __future__ import annotations

from nnbench.bench import network_of
from nnbench.commands import EngineState
from nnbench.engine import Network

WAIT = 10_000


def engine_state(qtbot, session, timeout: int = WAIT) -> EngineState:
    """The bench's state once the commands sent before this one have been carried out."""
    got: list[EngineState] = []
    session.query_state(got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=timeout)
    return got[0]


def engine_net(qtbot, session, timeout: int = WAIT) -> Network:
    """A copy of the engine's network as it is now."""
    return network_of(engine_state(qtbot, session, timeout).net)


def engine_status(qtbot, session, timeout: int = WAIT) -> dict:
    got: list[dict] = []
    session.status(got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=timeout)
    return got[0]


def wait_epoch(qtbot, session, epoch: int, timeout: int = WAIT, stopped: bool = True) -> None:
    """Wait until the frames show ``epoch`` epochs (and training stopped, if asked)."""
    qtbot.waitUntil(lambda: session.epoch >= epoch and not (stopped and session.running), timeout=timeout)


def silent_engine(conn, shm_name, blas_threads) -> None:
    """An engine process that starts and never says hello (tests of the start timeout): it
    reads what the window sends, answers nothing, and ends when the window closes the pipe."""
    try:
        while True:
            conn.recv()
    except (EOFError, OSError):
        return
