"""The engine thread: owns the network and trainer, trains, and answers jobs between steps.

Every change to engine state (build, resize, reset, load, save, learning rate) is a *job*
submitted from the GUI thread and run here between two batches, so nothing ever touches the
network while a step is running and the GUI thread never waits for the engine. Progress goes
back as :class:`Frame` objects: the worker keeps only the newest one and signals at most one
pending frame at a time, so a fast engine cannot flood the event loop.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from nnbench.engine import Snapshot, Trainer
from nnbench.errors import NnbenchError, TrainingDiverged

FRAME_INTERVAL = 1 / 30  # seconds between frames at least
FRAME_BUDGET = 0.1  # share of worker time that building frames may take at most
# Share of wall time the GUI may spend drawing frames. While it draws, the engine thread waits
# (see EngineWorker.hold): a pure-Python training loop holding the GIL otherwise makes every
# one of the hundreds of Python<->Qt crossings in a repaint wait for it, and a 20 ms repaint
# took seconds.
GUI_BUDGET = 0.1
# Training runs in bursts of BURST seconds; after each burst the engine waits until the GUI
# thread has worked through its pending events (see burst_done). NumPy drops and retakes the
# GIL around every small BLAS call, and CPython then never counts the GUI thread's wait for the
# GIL as timed out: without this handshake the GUI thread starved for seconds at a time.
BURST = 0.020
ACK_TIMEOUT = 0.1  # a GUI stuck elsewhere cannot stall training for longer than this per burst


# A floor under the frame rate: when frames cost more than GUI_BUDGET allows at this rate, the
# GUI may take more (up to half the time), so a big network still moves at about 5 frames/s.
SLOWEST_FRAME = 0.2


def frame_interval(frame_cost: float, gui_cost: float) -> float:
    """Seconds between frames: FRAME_INTERVAL at least; longer when building (engine side) or
    drawing (GUI side) a frame would take more than its budget, but no longer than
    SLOWEST_FRAME unless a frame's drawing alone takes more than half of that."""
    by_budget = max(FRAME_INTERVAL, frame_cost / FRAME_BUDGET, gui_cost / GUI_BUDGET)
    return min(by_budget, max(SLOWEST_FRAME, 2 * gui_cost, frame_cost / FRAME_BUDGET))


@dataclass(frozen=True)
class Frame:
    """What the views draw: a training snapshot plus the network evaluated on the view grid."""

    snapshot: Snapshot
    grid_output: np.ndarray | None  # network output on the view grid (rows = grid points)
    grid_hidden: tuple[np.ndarray, ...] | None  # every layer's output on the grid
    data_output: np.ndarray | None  # network output on the training rows (small sets only)
    running: bool
    dataset: object = None  # the Dataset this frame was computed on (views skip stale frames)


class EngineWorker(QObject):
    frame_ready = Signal()  # a new Frame waits in take_frame(); not emitted again until taken
    state_changed = Signal(bool)  # training started (True) or paused/stopped (False)
    diverged = Signal(str)  # the loss blew up; training is paused, the message says what to do
    job_done = Signal(int, object)  # a submitted job returned: (job id, result)
    job_failed = Signal(int, str)  # a submitted job raised: (job id, message for the user)
    finished = Signal()  # the loop has ended; the thread may quit
    burst_done = Signal()  # a burst of training ended; the engine waits for acknowledge()

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self._jobs: deque[tuple[int, Callable[[EngineWorker], Any]]] = deque()
        self._ids = itertools.count(1)
        self._running = False
        self._epochs_to_step = 0
        self._stop = False
        self._latest: Frame | None = None
        self._frame_pending = False
        self._frame_cost = 0.0
        # Where the engine thread's time goes (seconds), for benchmarks/bench_gui.py.
        self.timing = {"train": 0.0, "wait_gui": 0.0, "wait_draw": 0.0, "frames": 0.0}
        self._free = threading.Event()  # cleared while the GUI thread draws a frame
        self._free.set()
        self.gui_cost = 0.0  # seconds the GUI took to draw the last frame (set by the GUI)
        self._ack = threading.Event()
        # Engine state, touched only on the worker thread (inside jobs and the loop):
        self.trainer: Trainer | None = None
        self.dataset = None  # the nnbench.data.Dataset the trainer trains on
        self.grid: np.ndarray | None = None  # points where the views evaluate the network
        self.data_rows: np.ndarray | None = None  # rows whose outputs the views show
        self.epoch_limit = 0  # pause when this epoch is reached; 0 = no limit
        self.want_hidden = False  # views want every layer's output on the grid
        self.generation = 0  # counts dataset switches and file loads (see Session._generation)

    # --- called from the GUI thread -------------------------------------------------------
    def submit(self, job: Callable[[EngineWorker], Any]) -> int:
        """Run ``job(worker)`` on the engine thread between steps; returns its id."""
        with self._cond:
            job_id = next(self._ids)
            self._jobs.append((job_id, job))
            self._cond.notify()
        return job_id

    def play(self) -> None:
        with self._cond:
            self._running = True
            self._cond.notify()

    def pause(self) -> None:
        with self._cond:
            self._running = False
            self._epochs_to_step = 0
            self._cond.notify()

    def step_epoch(self) -> None:
        with self._cond:
            if not self._running:
                self._epochs_to_step += 1
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()

    def acknowledge(self) -> None:
        """The GUI thread has drained its events since the last burst: train on."""
        self._ack.set()

    def hold(self) -> None:
        """The GUI is about to draw: the engine waits between steps until :meth:`release`."""
        self._free.clear()

    def release(self, cost: float = 0.0) -> None:
        """The GUI has drawn (in ``cost`` seconds); the engine carries on."""
        self.gui_cost = cost
        self._free.set()

    def take_frame(self) -> Frame | None:
        # No lock (see _end_of_epoch): one attribute read and one write, each atomic.
        self._frame_pending = False
        return self._latest

    @property
    def running(self) -> bool:
        return self._running

    # --- the engine thread -----------------------------------------------------------------
    def _active(self) -> bool:
        return (self._running or self._epochs_to_step > 0) and self.trainer is not None

    @Slot()
    def run(self) -> None:
        steps = None
        last_frame = 0.0
        was_active = False
        while True:
            active = self._active()
            if active != was_active:
                was_active = active
                self.state_changed.emit(active)
            with self._cond:
                while not (self._stop or self._jobs or self._active()):
                    if was_active:  # a pause that landed after the check above
                        was_active = False
                        self.state_changed.emit(False)
                    self._cond.wait()
                if self._stop:
                    break
                jobs = list(self._jobs)
                self._jobs.clear()
            if jobs:
                before = self.trainer
                for job_id, job in jobs:
                    self._run_job(job_id, job)
                if self.trainer is not before:
                    steps = None  # a new trainer needs a fresh training loop
                self.publish_frame()
                last_frame = time.perf_counter()
                continue
            if steps is None:
                steps = self.trainer.steps()
            try:
                t_burst = time.perf_counter()
                deadline = t_burst + BURST
                while True:
                    if not self._free.is_set():
                        t_hold = time.perf_counter()
                        self._free.wait(0.5)  # bounded: a GUI that never releases cannot stall us
                        self.timing["wait_draw"] += time.perf_counter() - t_hold
                    step = next(steps)
                    if step.epoch_end and self._end_of_epoch():
                        break
                    if time.perf_counter() > deadline or self._jobs or self._stop:
                        break
            except TrainingDiverged as e:
                steps = None
                self._halt()
                self.publish_frame()
                self.diverged.emit(str(e))
                continue
            t_ack = time.perf_counter()
            self.timing["train"] += t_ack - t_burst
            self._ack.clear()
            self.burst_done.emit()
            self._ack.wait(ACK_TIMEOUT)  # the GUI has the GIL to itself meanwhile (see BURST)
            self.timing["wait_gui"] += time.perf_counter() - t_ack
            now = time.perf_counter()
            if not self._active():
                self.publish_frame()
                last_frame = now
            elif now - last_frame >= frame_interval(self._frame_cost, self.gui_cost):
                if not self._frame_pending:
                    self.publish_frame()
                    last_frame = now
        self.finished.emit()

    def _end_of_epoch(self) -> bool:
        """Handle Step and the epoch limit; True when training should stop here.

        Runs after every epoch (every step for full-batch sets), so it takes no lock: attribute
        reads and writes are atomic under the GIL, and a GUI thread waiting for a lock that
        this loop re-takes thousands of times a second was starved for seconds.
        """
        if self._epochs_to_step and not self._running:
            self._epochs_to_step -= 1
            return self._epochs_to_step == 0
        if self.epoch_limit and self.trainer.epoch >= self.epoch_limit:
            self._running = False
            return True
        return False

    def _halt(self) -> None:
        with self._cond:
            self._running = False
            self._epochs_to_step = 0

    def _run_job(self, job_id: int, job: Callable[[EngineWorker], Any]) -> None:
        try:
            result = job(self)
        except NnbenchError as e:
            self.job_failed.emit(job_id, str(e))
        except Exception as e:  # a bug must not kill the engine thread; report it instead
            self.job_failed.emit(job_id, f"internal error: {type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}")
        else:
            self.job_done.emit(job_id, result)

    def publish_frame(self) -> None:
        """Build a Frame from the trainer's current state (engine thread only)."""
        if self.trainer is None:
            return
        t0 = time.perf_counter()
        net = self.trainer.net
        grid_output = grid_hidden = data_output = None
        if self.grid is not None:
            if self.want_hidden:
                layers = net.activations(self.grid)
                grid_hidden, grid_output = tuple(layers[:-1]), layers[-1]
            else:
                grid_output = net.predict(self.grid)
        if self.data_rows is not None:
            data_output = net.predict(self.trainer.features(self.data_rows))
        frame = Frame(self.trainer.snapshot(), grid_output, grid_hidden, data_output, self._running, self.dataset)
        self._frame_cost = time.perf_counter() - t0
        self.timing["frames"] += self._frame_cost
        self._latest = frame
        if self._frame_pending:
            return  # the GUI has not drawn the previous one yet; it will take this one
        self._frame_pending = True
        self.frame_ready.emit()
