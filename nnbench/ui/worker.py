"""The window's side of the engine process: one worker, on its own QThread, that owns it.

The engine (a :class:`nnbench.bench.Bench`, see :mod:`nnbench.remote`) runs in a child process
started with spawn, so training never holds the window's GIL. This worker sends the commands
the session gives it, waits on the pipe for answers (a blocking wait releases the GIL), turns
them into signals, and reads frames from shared memory. It evaluates each frame's network on
the views' grid here, off the GUI thread and outside the engine, where it costs training
nothing. A dead engine is a signal, not a crash; the session decides to start a new one.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing as mp
import queue
import signal
import socket
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import wait
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from nnbench import frames, remote
from nnbench.bench import Frame as BenchFrame
from nnbench.engine import Network, NetworkSpec, Snapshot
from nnbench.engine.training import HISTORY_KEYS

FIRST_SEGMENT = 1 << 20  # bytes per frame slot to start with; grown when a frame needs more
MIN_FRAME_INTERVAL = 1 / 36
# While training, a network whose full grid takes longer than this to evaluate is drawn from the
# coarse grid (a quarter of the points), so a deep net still moves at 20 frames a second; a
# frame that is not training (paused, stopped, a step's end) always gets the full grid.
COARSE_ABOVE = 0.008
GUI_SHARE = 0.5  # of the window's core, for drawing frames (the GUI thread's CPU per frame)
EVAL_SHARE = 0.25  # ... and for evaluating them here
WINDOW_SHARE = 0.55  # ... and for both: more, and the engine on the other core lost speed to the window
QUIT_WAIT = 0.5  # seconds an engine may take to quit before it is terminated
REFINE_AFTER = 0.06  # seconds with nothing asked before a quick evaluation gets its full grid
START_WAIT = 60.0  # seconds a new engine may take to say hello (about 1 s here) before it is given up
VIEW_DTYPE = "float32"


def _inputs(setup: ViewSetup) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """The view's grid, its coarse grid and the data rows in VIEW_DTYPE."""

    def view(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else np.ascontiguousarray(a, dtype=VIEW_DTYPE)

    return view(setup.grid), view(setup.coarse_grid), view(setup.data_rows)


def _evaluate(nets: dict, spec: NetworkSpec, params: np.ndarray, setup: ViewSetup, grid: np.ndarray | None,
              rows: np.ndarray | None) -> tuple | None:
    """(grid output, every hidden layer on the grid, output on the rows) of the network ``spec``
    with ``params``, or None if they do not fit. The pictures are evaluated in float32: two to
    three times faster than float64 on the 64x64 grid and exact enough for a colour; the engine
    trains in the network's own dtype. ``nets`` caches one network per spec."""
    net = nets.get(spec)
    if net is None:
        if len(nets) > 8:
            nets.clear()
        net = nets[spec] = Network(replace(spec, dtype=VIEW_DTYPE))
    if net.flat_params.shape != params.shape:
        return None
    net.flat_params[...] = params
    grid_output = grid_hidden = data_output = None
    if grid is not None:
        if setup.want_hidden:
            layers = net.activations(grid)
            grid_hidden, grid_output = tuple(layers[:-1]), layers[-1]
        else:
            grid_output = net.predict(grid)
    if rows is not None:
        data_output = net.predict(rows)
    return grid_output, grid_hidden, data_output


def grid_side(values: np.ndarray) -> int:
    """The side of the square grid a 2-D frame's ``values`` (one row per point) were evaluated on."""
    return math.isqrt(len(values))


def _weights(spec: NetworkSpec, params: np.ndarray) -> dict[str, np.ndarray]:
    """The frame's weights by name ("layer0.W"...), as views of its own flat copy, in its dtype."""
    out, offset = {}, 0
    sizes = spec.sizes
    for i, layer in enumerate(spec.layers):
        n_in, n_out = sizes[i], sizes[i + 1]
        out[f"layer{i}.W"] = params[offset : offset + n_in * n_out].reshape(n_in, n_out)
        offset += n_in * n_out
        if layer.bias:
            out[f"layer{i}.b"] = params[offset : offset + n_out]
            offset += n_out
    return out


@dataclass(frozen=True)
class Frame:
    """What the views draw: a training snapshot plus the network evaluated on the view grid
    (2-D data: the full grid, or the coarse one while a deep net trains; see grid_side)."""

    snapshot: Snapshot
    grid_output: np.ndarray | None  # network output on the view grid (rows = grid points)
    grid_hidden: tuple[np.ndarray, ...] | None  # every layer's output on the grid
    data_output: np.ndarray | None  # network output on the training rows (small sets only)
    running: bool
    dataset: object = None  # the Dataset this frame was computed on (views skip stale frames)
    generation: int = 0


@dataclass(frozen=True, eq=False)
class ViewSetup:
    """Where the views evaluate frames of one generation (set by the session)."""

    generation: int
    dataset: object
    grid: np.ndarray | None
    data_rows: np.ndarray | None  # rows as the network takes them (scaled), or None
    want_hidden: bool = False
    coarse_grid: np.ndarray | None = None  # the grid's plane on fewer points (see COARSE_ABOVE)


class _History:
    """The engine's history, assembled from the rows each frame brings."""

    def __init__(self) -> None:
        self.id = -1
        self.n = 0
        self._data = np.full((len(HISTORY_KEYS), 256), np.nan)

    def take(self, f: BenchFrame) -> dict[str, np.ndarray]:
        if f.history_id != self.id:
            self.id, self.n = f.history_id, 0
        start = min(f.history_start, self.n)
        rows = len(f.history["epoch"])
        end = start + rows
        if end > self._data.shape[1]:
            grown = np.full((len(HISTORY_KEYS), max(2 * self._data.shape[1], end)), np.nan)
            grown[:, : self.n] = self._data[:, : self.n]
            self._data = grown
        for i, key in enumerate(HISTORY_KEYS):
            self._data[i, start:end] = f.history[key]
        self.n = end
        # Views of rows that are never written again while this history lasts: no copy.
        return {key: self._data[i, : self.n] for i, key in enumerate(HISTORY_KEYS)}

    def as_dict(self) -> dict[str, np.ndarray]:
        return {key: self._data[i, : self.n].copy() for i, key in enumerate(HISTORY_KEYS)}


class EngineWorker(QObject):
    ready = Signal(object)  # the engine process is up and answering: its status (a dict)
    replied = Signal(int, bool, object)  # an answer: (command id, ok, result or message for the user)
    stopped = Signal(object)  # training stopped by itself: a commands.Stopped (limit, step, diverged)
    running_changed = Signal(bool)  # the engine started (True) or stopped (False) training
    frame_ready = Signal()  # a new Frame waits in take_frame(); not emitted again until it is taken
    evaluated = Signal(int, object)  # evaluate()'s answer: (token, Frame or None)
    notice = Signal(str)  # the engine has something to tell the user that no command answers
    died = Signal(str)  # the engine process ended without being asked to; the text says how
    start_failed = Signal(str)  # no engine process could be started; the text says why
    finished = Signal()  # the worker's loop ended (after stop()); the thread may quit

    def __init__(self, blas_threads: int = 1) -> None:
        super().__init__()
        self.blas_threads = blas_threads
        self._ids = itertools.count(1)
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._stop = False
        self._restart = False
        self._starting: float | None = None  # perf_counter() when the engine in start was spawned
        self._refine: tuple[int, list] | None = None  # a quick evaluation's full grid, still to do
        self._asked_at = 0.0  # perf_counter() of the last command or evaluation asked for
        self._setup: ViewSetup | None = None
        self._latest: Frame | None = None
        self._pending = False
        self._frame_waiting = False
        self.last_engine_frame: BenchFrame | None = None  # newest frame of any generation, as sent
        self.gui_cost = 0.0  # seconds the GUI took to draw the last frame (set by the session)
        self.pid = 0
        self.timing = {"frames_read": 0, "frame_eval": 0.0}
        # Engine-process state, touched only on the worker thread:
        self._proc: Any = None
        self._conn: Any = None
        self._sender: _Sender | None = None
        self._named: dict[str, Any] = {}  # SharedMemory this side created whose names still exist
        self._reader: frames.FrameReader | None = None
        self._history = _History()
        self._nets: dict[NetworkSpec, Network] = {}
        self._evals: queue.SimpleQueue = queue.SimpleQueue()  # (token, network to evaluate...)
        self._next_frame_at = 0.0
        self._last_setup: ViewSetup | None = None
        self._snapshot_history: dict[str, np.ndarray] | None = None
        self._inputs: tuple | None = None  # (setup, grid, coarse grid, rows) in VIEW_DTYPE
        self._full_cost: dict[NetworkSpec, float] = {}  # seconds a full-grid evaluation took

    # ---- called from the GUI thread ------------------------------------------------------------
    def send(self, command: Any) -> int:
        """Queue ``command`` for the engine; its answer comes as ``replied(id, ...)``."""
        cid = next(self._ids)
        self._asked_at = time.perf_counter()  # one float assignment: atomic (see _evaluate_requests)
        self._outbox.put(("cmd", cid, command))
        self._wake()
        return cid

    def set_views(self, setup: ViewSetup) -> None:
        self._setup = setup  # one reference assignment: atomic
        self._frame_waiting = True
        self._wake()

    def take_frame(self) -> Frame | None:
        frame, self._latest = self._latest, None
        self._pending = False
        self._wake()
        return frame

    def restart(self) -> None:
        """Start a new engine process (after ``died``); commands sent since go to it."""
        self._restart = True
        self._wake()

    def stop(self) -> None:
        self._stop = True
        self._wake()

    def kill_engine(self) -> None:
        """SIGKILL the engine process (tests and the lifecycle soak)."""
        proc = self._proc
        if proc is not None and proc.pid:
            try:
                import os

                os.kill(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, OSError):
                pass

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except (BlockingIOError, OSError):
            pass  # already has a wake-up waiting (or closing)

    # ---- the worker thread ------------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        self._try_start()
        try:
            while not self._stop:
                waitables: list[Any] = [self._wake_r]
                if self._conn is not None:
                    waitables += [self._conn, self._proc.sentinel]
                due = []  # when to wake up without a message
                if self._frame_waiting and not self._pending and self._reader is not None:
                    due.append(self._next_frame_at)
                if self._refine is not None:  # to sharpen the timeline's picture
                    due.append(self._asked_at + REFINE_AFTER)
                if self._starting is not None:  # no hello yet: to give it up in time
                    due.append(self._starting + START_WAIT)
                timeout = max(0.001, min(due) - time.perf_counter()) if due else None
                ready = wait(waitables, timeout)
                if self._wake_r in ready:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except (BlockingIOError, OSError):
                        pass
                if self._stop:
                    break
                if self._restart:
                    self._restart = False
                    self._end_process(kill=True)
                    self._try_start()
                    continue
                if self._conn is not None:
                    self._receive()
                if self._starting is not None and time.perf_counter() > self._starting + START_WAIT:
                    self._end_process(kill=True)
                    self.start_failed.emit(f"The engine process did not answer within {START_WAIT:.0f} s of "
                                           "starting")
                self._evaluate_requests()
                self._maybe_frame()
        finally:
            self._end_process(kill=False)
            self._wake_r.close()
            self._wake_w.close()
            self.finished.emit()

    def _try_start(self) -> None:
        """Start an engine; if it cannot start (no memory for a process, a script without the
        ``if __name__ == "__main__"`` guard that spawn needs), clean up and say why."""
        try:
            self._start()
        except Exception as e:  # noqa: BLE001 (whatever it was, the window says it and stays)
            self._end_process(kill=True)
            first = str(e).strip().splitlines()[:1]
            self.start_failed.emit(f"The engine process could not start: {type(e).__name__}: "
                                   f"{first[0] if first else ''}")

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        shm = frames.create(FIRST_SEGMENT)
        self._named[shm.name] = shm
        self._reader = frames.FrameReader(shm)
        self._history = _History()
        self._last_setup = None
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=remote.serve, args=(child, shm.name, self.blas_threads), daemon=True,
                           name="nnbench-engine")
        proc.start()
        child.close()
        self._proc, self._conn, self.pid = proc, parent, proc.pid
        self._starting = time.perf_counter()
        self._sender = _Sender(parent, self._outbox, self.replied)

    def _receive(self) -> None:
        conn = self._conn
        try:
            while conn.poll(0):
                self._handle(conn.recv())
        except (EOFError, OSError):
            pass
        if not self._proc.is_alive():
            self._on_dead()

    def _handle(self, msg: tuple) -> None:
        kind = msg[0]
        if kind == "frame":
            self._frame_waiting = True
        elif kind == "reply":
            self.replied.emit(msg[1], msg[2], msg[3])
        elif kind == "stopped":
            self.stopped.emit(msg[1])
        elif kind == "notice":
            self.notice.emit(str(msg[1]))
        elif kind == "running":
            self.running_changed.emit(bool(msg[1]))
        elif kind == "hello":
            self._starting = None
            # Both sides have the segment mapped: its name is no longer needed.
            self._unlink(self._reader.shm.name)
            self.ready.emit(msg[1])
        elif kind == "need_frames":
            shm = frames.create(2 * int(msg[1]))
            self._named[shm.name] = shm
            self._outbox.put(("frames", shm.name))
        elif kind == "frames_ok":
            shm = self._named.get(msg[1])
            if shm is not None:
                self._unlink(msg[1])
                if self._reader is not None:
                    self._reader.close()
                self._reader = frames.FrameReader(shm)

    def _maybe_frame(self) -> None:
        reader = self._reader
        if reader is None or self._pending:
            return
        new, changed = reader.has_new(), self._setup is not self._last_setup
        if not (new or changed):
            self._frame_waiting = False
            return
        self._frame_waiting = True
        if time.perf_counter() < self._next_frame_at:
            return  # the wait's timeout brings us back
        f = None
        if new:
            f = reader.read()
            if f is None:
                return  # lapped by the writer: the next tick reads the newer one
            self.last_engine_frame = f
            self.timing["frames_read"] += 1
            self._snapshot_history = self._history.take(f)
            reader.acknowledge(self._history.id, self._history.n)
        else:
            f = self.last_engine_frame
        self._frame_waiting = False
        if f is None:
            return
        t0 = time.perf_counter()
        frame = self._view_frame(f)
        if frame is None:
            return
        self._latest = frame
        self._pending = True
        eval_cost = time.perf_counter() - t0
        # Drawing (GUI thread) and evaluating (here) share the window's core, the engine has the
        # other: drawing may take half of it and evaluating a quarter, so input and timers stay
        # prompt and the engine keeps its core.
        # The GUI's figure is all its thread did since the last frame; whatever else kept it
        # busy, the views still get four frames a second.
        # The shares are of the time from one frame's start to the next one's, so the wait counts
        # from before this frame's evaluation (counted after it, every frame came an evaluation
        # later than its pace: the spiral drew 18 frames a second where its pace allowed 22).
        gui_wait = min(self.gui_cost / GUI_SHARE, 0.25)
        self._next_frame_at = t0 + max(MIN_FRAME_INTERVAL, gui_wait, eval_cost / EVAL_SHARE,
                                       (self.gui_cost + eval_cost) / WINDOW_SHARE)
        self.frame_ready.emit()

    def _view_frame(self, f: BenchFrame) -> Frame | None:
        setup = self._setup
        self._last_setup = setup
        if setup is None or setup.generation != f.generation:
            return None
        t0 = time.perf_counter()
        grid, coarse, rows = self._view_inputs(setup)
        full = coarse is None or not f.running or self._full_cost.get(f.spec, 0.0) <= COARSE_ABOVE
        outputs = _evaluate(self._nets, f.spec, f.params, setup, grid if full else coarse, rows)
        if outputs is None:
            return None
        if full and grid is not None:
            self._remember_cost(f.spec, time.perf_counter() - t0)
        history = self._snapshot_history or {key: np.zeros(0) for key in HISTORY_KEYS}
        n = len(history["epoch"])
        weights = _weights(f.spec, f.params)  # views of the frame's own copy
        snap = Snapshot(epoch=f.epoch, step=f.step, lr=f.lr, weights=weights, history=history,
                        last_loss=float(history["train_loss"][n - 1]) if n else float("nan"))
        self.timing["frame_eval"] += time.perf_counter() - t0
        return Frame(snap, *outputs, f.running, setup.dataset, f.generation)

    def _remember_cost(self, spec: NetworkSpec, seconds: float) -> None:
        """What the full grid took for ``spec`` (a few specs kept)."""
        if len(self._full_cost) > 8:
            self._full_cost.clear()
        self._full_cost[spec] = seconds

    def _view_inputs(self, setup: ViewSetup) -> tuple[np.ndarray | None, ...]:
        cached = self._inputs
        if cached is None or cached[0] is not setup:
            cached = self._inputs = (setup, *_inputs(setup))
        return cached[1:]

    def evaluate(self, spec: NetworkSpec, params: np.ndarray, epoch: int, step: int, lr: float,
                 quick: bool = False) -> int:
        """Evaluate any network (a checkpoint the timeline shows) on the views' grid, on this
        worker's thread (it took 17-27 ms of the GUI thread for the 10x64 spiral); the Frame
        comes as ``evaluated(token, frame or None)``. Returns the token. ``quick``: a network
        whose full grid is costly (over COARSE_ABOVE) is answered on the coarse grid first, then
        on the full grid again under the same token, unless another evaluation was asked for
        meanwhile (a drag across the timeline draws each position quickly, the last one sharp)."""
        token = next(self._ids)
        self._asked_at = time.perf_counter()
        self._evals.put((token, quick, spec, np.array(params, copy=True), epoch, step, lr))
        self._wake()
        return token

    def _evaluate_requests(self) -> None:
        while True:
            try:
                token, quick, *request = self._evals.get_nowait()
            except queue.Empty:
                break
            coarse = quick and self._full_cost.get(request[0], 0.0) > COARSE_ABOVE
            self._refine = (token, request) if coarse else None
            self.evaluated.emit(token, self._frame_of(*request, coarse=coarse))
        # The full grid waits until nothing was asked for REFINE_AFTER: while the timeline is
        # dragged, the next move's Seek would wait behind it (this thread reads the answers).
        if self._refine is not None and self._evals.empty() \
                and time.perf_counter() - self._asked_at >= REFINE_AFTER:
            token, request = self._refine
            self._refine = None
            self.evaluated.emit(token, self._frame_of(*request))

    def _frame_of(self, spec: NetworkSpec, params: np.ndarray, epoch: int, step: int,
                  lr: float, coarse: bool = False) -> Frame | None:
        """A view Frame of any network on the full grid (``coarse``: the coarse one), as
        _view_frame makes the engine's; the curves keep the history the frames brought. Worker
        thread only (it uses the worker's network cache): other threads ask through
        :meth:`evaluate`."""
        setup = self._setup
        if setup is None:
            return None
        grid, coarse_grid, rows = self._view_inputs(setup)
        use = coarse_grid if coarse and coarse_grid is not None else grid
        t0 = time.perf_counter()
        outputs = _evaluate(self._nets, spec, params, setup, use, rows)
        if outputs is None:
            return None
        if use is grid and grid is not None:
            self._remember_cost(spec, time.perf_counter() - t0)
        history = self._snapshot_history or {key: np.zeros(0) for key in HISTORY_KEYS}
        snap = Snapshot(epoch=epoch, step=step, lr=lr, weights=_weights(spec, np.array(params, copy=True)),
                        history=history, last_loss=float("nan"))
        return Frame(snap, *outputs, False, setup.dataset, setup.generation)

    def history(self) -> dict[str, np.ndarray]:
        """A copy of the history assembled so far (for a restore after the engine died)."""
        return self._history.as_dict()

    def _on_dead(self) -> None:
        code = self._proc.exitcode
        self._end_process(kill=True)
        if code is not None and code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
            if code == -signal.SIGKILL:
                how += " (out of memory, or from outside)"
        else:
            how = f"exited with code {code}"
        self.died.emit(f"The engine process {how}.")

    def _end_process(self, kill: bool) -> None:
        proc, conn, sender = self._proc, self._conn, self._sender
        self._proc = self._conn = self._sender = None
        self._starting = None
        if sender is not None:
            sender.stop()
        if proc is not None:
            if not kill and proc.is_alive():
                try:
                    conn.send(("quit",))
                except (OSError, EOFError, ValueError):
                    pass
                proc.join(QUIT_WAIT)
            if proc.is_alive():
                proc.terminate()
                proc.join(0.3)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
            try:
                proc.close()
            except ValueError:
                pass
        if conn is not None:
            conn.close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        for name in list(self._named):
            shm = self._named[name]
            self._unlink(name)
            try:
                shm.close()
            except BufferError:
                pass

    def _unlink(self, name: str) -> None:
        shm = self._named.pop(name, None)
        if shm is None:
            return
        try:
            shm.unlink()
        except FileNotFoundError:
            pass


class _Sender:
    """Sends the outbox's messages to one engine on a thread of its own, so that a large command
    (a dataset) never keeps the worker from reading a large answer: each would otherwise wait
    for the other to empty its side of the pipe."""

    def __init__(self, conn: Any, outbox: queue.SimpleQueue, replied: Any) -> None:
        self.conn, self.outbox, self.replied = conn, outbox, replied
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="nnbench-engine-send", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.outbox.get(timeout=0.1)
            except queue.Empty:
                continue
            if msg is None:
                continue
            if self._stop.is_set():
                self.outbox.put(msg)  # for the next engine
                return
            try:
                self.conn.send(msg)
            except (OSError, EOFError, ValueError):
                if msg[0] == "cmd":
                    self.replied.emit(msg[1], False, "the engine stopped before it could take this")
                return

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(1.0)
