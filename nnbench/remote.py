"""The engine process: a :class:`nnbench.bench.Bench` served over a pipe. No Qt here.

The window starts :func:`serve` in a child process (spawn). Messages are tuples:

window -> engine: ``("cmd", id, command)``, ``("frames", segment_name)``, ``("quit",)``
engine -> window: ``("hello", status)``, ``("reply", id, ok, result_or_text)``,
``("stopped", Stopped)``, ``("running", bool)``, ``("notice", text)``, ``("need_frames", bytes)``,
``("frames_ok", segment_name)``

Frames go through shared memory (:mod:`nnbench.frames`), at most every FRAME_INTERVAL while
training and once after every command, so the window always has the bench's latest state.
"""

from __future__ import annotations

import time
import traceback
from multiprocessing import shared_memory
from typing import Any

from nnbench.bench import Bench
from nnbench.commands import QUERIES
from nnbench.errors import NnbenchError

SLICE = 0.008  # seconds of training between two looks at the pipe
FRAME_INTERVAL = 1 / 40  # a little above the window's own cap (worker.MIN_FRAME_INTERVAL)


def serve(conn: Any, segment: str, blas_threads: int = 1) -> None:
    """Run the bench until told to quit or the window goes away."""
    from threadpoolctl import threadpool_limits

    from nnbench import frames

    if blas_threads:
        threadpool_limits(limits=blas_threads, user_api="blas")
    writer = frames.FrameWriter(shared_memory.SharedMemory(name=segment))
    bench = Bench()
    conn.send(("hello", bench.apply(_status())))
    was_active = False
    dirty = False
    asked = 0  # bytes asked for in a bigger segment, not yet given
    last_frame = 0.0
    try:
        while True:
            active = bench.active
            wait = 0.0 if active or dirty else None
            if conn.poll(wait):
                while True:
                    msg = conn.recv()
                    kind = msg[0]
                    if kind == "quit":
                        return
                    if kind == "cmd":
                        _, cid, command = msg
                        _reply(conn, cid, *_apply(bench, command))
                        dirty = dirty or not isinstance(command, QUERIES)
                    elif kind == "frames":
                        old, writer = writer, frames.FrameWriter(shared_memory.SharedMemory(name=msg[1]))
                        old.close()
                        asked = 0
                        conn.send(("frames_ok", msg[1]))
                        dirty = True
                    if not conn.poll(0):
                        break
            if bench.active and not was_active:  # reported even if it ends within this slice
                was_active = True
                conn.send(("running", True))
            for stop in bench.advance(SLICE):
                dirty = True
                conn.send(("stopped", stop))
            for text in bench.notices():
                conn.send(("notice", text))
            active = bench.active
            if active != was_active:
                was_active = active
                conn.send(("running", active))
                dirty = True
            now = time.perf_counter()
            if bench.trainer is not None and (dirty or (active and now - last_frame >= FRAME_INTERVAL)):
                hid, rows = writer.ack()
                need = writer.write(bench.frame(hid, rows))
                if not need:
                    conn.send(("frame",))
                elif need > asked:
                    asked = need
                    conn.send(("need_frames", need))
                last_frame = now
                dirty = False  # a frame that did not fit goes out once the bigger segment comes
            elif bench.trainer is None:
                dirty = False
    except (EOFError, BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        return  # the window went away
    finally:
        writer.close()


def _status():
    from nnbench.commands import Status

    return Status()


def _reply(conn: Any, cid: int, ok: bool, result: Any) -> None:
    try:
        conn.send(("reply", cid, ok, result))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        raise
    except Exception as e:  # an answer that cannot cross the pipe
        text = f"internal error: the answer could not be sent ({type(e).__name__}: {e})"
        conn.send(("reply", cid, False, text))


def _apply(bench: Bench, command: Any) -> tuple[bool, Any]:
    try:
        return True, bench.apply(command)
    except NnbenchError as e:
        return False, str(e)
    except MemoryError:
        return False, "not enough memory for that: the network or dataset is too large for this machine"
    except Exception as e:  # a bug must not kill the engine; report it instead
        return False, f"internal error: {type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"
