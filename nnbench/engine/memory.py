"""How much memory a network needs, checked against what the machine has before anything is built.

A spec within :mod:`nnbench.engine.spec`'s limits can still need tens of GB (63 layers of 4,096
neurons hold a billion weights), so the loaders, :meth:`nnbench.experiment.Experiment.build` and
the CLI call :func:`check_memory` first and refuse with the figure instead of being killed.

    estimate_bytes(spec, batch=128, optimizer="adam")   # bytes, an upper estimate
    check_memory(spec, batch=128, optimizer="adam")     # TooLargeError when over what is free

No Qt here.
"""

from __future__ import annotations

import os
from itertools import pairwise
from pathlib import Path

import numpy as np

from nnbench.engine.spec import NetworkSpec
from nnbench.errors import TooLargeError

# Arrays the size of all the weights, besides the weights and their gradients: the optimizer's
# state (momentum a velocity, Adam two moments; their working space is a small fixed chunk), and
# the trainer's copy of the weights that divergence falls back to.
OPTIMIZER_COPIES = {"sgd": 0, "momentum": 1, "adam": 2}
TRAINER_COPIES = 1
EVAL_ROWS = 4096  # the trainer evaluates in chunks of this many rows
PREDICT_ROWS = 8192  # Network.predict's chunk
SMALL = 1 << 20  # the history, the step count and other small arrays of a trainer


def estimate_bytes(spec: NetworkSpec, *, batch: int, optimizer: str | None = "sgd",
                   dtype: str | None = None, eval_rows: int = EVAL_ROWS) -> int:
    """Bytes a network of ``spec`` needs: weights and gradients, then for training
    (``optimizer`` "sgd", "momentum" or "adam") the optimizer's state and the trainer's copies
    and every layer's buffers for ``batch`` rows and for evaluating ``eval_rows`` rows (the test
    set, in chunks of at most EVAL_ROWS); with ``optimizer`` None, inference on ``batch`` rows
    (in chunks of PREDICT_ROWS). ``dtype`` defaults to the spec's. The dataset itself is not
    counted. An estimate from above (within about 2x of what NumPy allocates), not a count."""
    item = np.dtype(dtype or spec.dtype).itemsize
    sizes = spec.sizes
    params = spec.n_params()
    largest = max(a * b for a, b in pairwise(sizes))
    # Building: weights and gradients, and one layer's initial weights drawn in float64.
    total = 2 * params * item + 2 * largest * 8
    rows = max(int(batch), 1)
    if optimizer is None:
        chunk = min(rows, PREDICT_ROWS)
        # forward without keeping: a layer's input and output at a time, plus the result
        widest = max(sizes)
        return total + chunk * (sizes[0] + 3 * widest) * item + rows * sizes[-1] * item
    total += (OPTIMIZER_COPIES.get(optimizer, 3) + TRAINER_COPIES) * params * item + SMALL
    # Training buffers per layer (z, a, dL/dz and dL/dx), kept for the full and the short batch,
    # the loss gradient and the batch cast to the network's floats.
    per_row = sum(3 * b + a for a, b in pairwise(sizes)) + sizes[-1] + sizes[0]
    total += 2 * rows * per_row * item
    # Evaluation keeps every layer's z and a for one chunk.
    total += min(max(int(eval_rows), 0), EVAL_ROWS) * (sizes[0] + 2 * sum(sizes[1:])) * item
    return total


def available_bytes() -> int | None:
    """Memory this process may still use: /proc/meminfo's MemAvailable, else the free physical
    pages; lowered to a cgroup's limit or the process's address-space limit (``ulimit -v``) when
    one is tighter. None when the system does not say."""
    found: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        found = None
    if found is None:
        try:
            found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            return None
    try:  # a container's limit (cgroup v2) can be far below the machine's memory
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
            found = min(found, max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            size = 0
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmSize:"):
                    size = int(line.split()[1]) * 1024
            found = min(found, max(soft - size, 0))
    except (ImportError, OSError, ValueError, IndexError):
        pass
    return found


def shape(spec: NetworkSpec) -> str:
    """``784-128-10``, repeated layers folded: ``2-4096x63-1``."""
    parts: list[tuple[int, int]] = []
    for n in spec.sizes:
        if parts and parts[-1][0] == n:
            parts[-1] = (n, parts[-1][1] + 1)
        else:
            parts.append((n, 1))
    return "-".join(f"{n}x{k}" if k > 2 else "-".join([str(n)] * k) for n, k in parts)


def human(n: float) -> str:
    """``1.5 GiB``, ``320 MiB``, ``12 KiB``, ``100 bytes``."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            value = n / size
            return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{int(n)} bytes"


def check_bytes(needed: int, what: str, *, available: int | None = None) -> None:
    """TooLargeError when ``needed`` bytes are more than the memory available (``available``
    overrides what the system reports, for tests); nothing when the system does not say."""
    free = available_bytes() if available is None else available
    if free is not None and needed > free:
        raise TooLargeError(f"{what} needs about {human(needed)} of memory, but only {human(free)} "
                            "is available")


def check_memory(spec: NetworkSpec, *, batch: int, optimizer: str | None = "sgd",
                 dtype: str | None = None, eval_rows: int = EVAL_ROWS, available: int | None = None) -> int:
    """:func:`estimate_bytes`, refused with TooLargeError (the figure and the memory available,
    in GiB/MiB) when over :func:`available_bytes` or ``available``. Returns the estimate."""
    needed = estimate_bytes(spec, batch=batch, optimizer=optimizer, dtype=dtype, eval_rows=eval_rows)
    doing = (f"training with {optimizer} in batches of {max(int(batch), 1):,} rows" if optimizer
             else "inference")
    try:
        check_bytes(needed, f"the {shape(spec)} network ({spec.n_params():,} weights, "
                    f"{dtype or spec.dtype}) for {doing}", available=available)
    except TooLargeError as e:
        raise TooLargeError(f"{e}: use fewer or smaller layers"
                            + (" or a smaller batch" if optimizer else "")) from None
    return needed
