"""Run the CLI in a child process under an address-space limit and report its peak memory, so a
test of a memory blow-up fails cleanly (MemoryError in the child) instead of taking the machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

GiB = 1 << 30

_CHILD = """
import json, resource, sys


def peak():  # VmHWM: ru_maxrss would include the parent's memory from before exec
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
limit, out = int(sys.argv[1]), sys.argv[2]
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from nnbench import cli
try:
    code = cli.main(sys.argv[3:])
except BaseException as e:
    code = f"raised {type(e).__name__}"
with open(out, "w") as f:
    json.dump({"code": code, "maxrss": peak()}, f)
"""


def run_cli_limited(args: list[str], tmp_path: Path, limit: int = 2 * GiB,
                    timeout: float = 120) -> tuple[object, str, int]:
    """(exit code, stderr, peak resident bytes) of ``nnbench ARGS`` run under ``limit`` bytes of
    address space, with one BLAS thread."""
    out = tmp_path / "child-result.json"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(limit), str(out), *args],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=Path(__file__).resolve().parent.parent)
    if not out.exists():
        return f"died ({proc.returncode})", proc.stderr, 0
    result = json.loads(out.read_text())
    return result["code"], proc.stderr, result["maxrss"]
