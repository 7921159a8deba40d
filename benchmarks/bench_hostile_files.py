"""Peak memory of nnbench on hostile files (issue 11): each case run as `nnbench train/predict`
in a child process under an address-space limit, reporting the child's peak resident memory
(ru_maxrss) and its last line of output.

    python benchmarks/bench_hostile_files.py [--tree PATH] [--limit-gib 5]

``--tree`` runs another checkout's code (e.g. an export of main) for a before/after comparison.
Writes its files in a temporary folder only.
"""

from __future__ import annotations

import argparse
import bz2
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

MiB = 1 << 20
CHILD = """
import json, resource, sys


def peak():  # VmHWM: ru_maxrss would include the parent's memory from before exec
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from nnbench import cli
try:
    code = cli.main(sys.argv[2:])
except BaseException as e:
    code = "raised " + type(e).__name__
print("RESULT", json.dumps({"code": code, "maxrss": peak()}),
      file=sys.stderr)
"""


def npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def raw_zip(entries) -> bytes:
    out, central = b"", b""
    for name, method, body, size, crc in entries:
        n = name.encode()
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc,
                               len(body), size, len(n), 0, 0, 0, 0, 0, len(out)) + n
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(body), size,
                           len(n), 0) + n + body
    return out + central + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                                       len(central), len(out), 0)


def bz2_zeros(size: int) -> bytes:
    c = bz2.BZ2Compressor(9)
    return b"".join(c.compress(bytes(MiB)) for _ in range(size // MiB)) + c.flush()


def meta_npy(network: dict, training: bool = False) -> bytes:
    meta = {"format": "nnbench", "version": 1, "network": network,
            "dataset": {"kind": "generator", "name": "xor", "n": 200}}
    if training:
        meta.update(training={"loss": "bce", "optimizer": "sgd"}, epoch=0, step=0)
    return npy(np.array(json.dumps(meta)))


def mlp(sizes) -> dict:
    return {"n_inputs": sizes[0], "layers": [{"units": n, "activation": "tanh"} for n in sizes[1:]]}


def cases(folder: Path) -> list[tuple[str, list[str]]]:
    out = []
    net = mlp([2, 3, 1])
    members = {"nnbench.json.npy": meta_npy(net, True), "layer0.W.npy": npy(np.zeros((2, 3))),
               "layer0.b.npy": npy(np.zeros(3)), "layer1.W.npy": npy(np.zeros((3, 1))),
               "layer1.b.npy": npy(np.zeros(1))}
    # 1. a bzip2 member declaring 100 bytes that holds 2 GiB of zeros
    rest = [(k, 0, v, len(v), zlib.crc32(v)) for k, v in members.items() if k != "layer0.W.npy"]
    p = folder / "bzip2.npz"
    p.write_bytes(raw_zip([*rest, ("layer0.W.npy", 12, bz2_zeros(2048 * MiB), 100, 0)]))
    out.append((f"bzip2 member, 2 GiB of zeros declared as 100 bytes ({p.stat().st_size:,} bytes)",
                ["train", str(p), "--epochs", "1"]))
    # 2. a Keras-style mnist.npz whose labels are such a member
    x, y = npy(np.zeros((2, 28, 28), np.uint8)), npy(np.zeros(2, np.uint8))
    p = folder / "mnist.npz"
    p.write_bytes(raw_zip([("x_train.npy", 0, x, len(x), zlib.crc32(x)),
                           ("y_train.npy", 0, y, len(y), zlib.crc32(y)),
                           ("x_test.npy", 0, x, len(x), zlib.crc32(x)),
                           ("y_test.npy", 12, bz2_zeros(1024 * MiB), 80, 0)]))
    exp = {"name": "m", "dataset": {"kind": "mnist", "path": str(p)}, "network": mlp([784, 10]),
           "training": {"loss": "bce"}}
    (folder / "mnist.json").write_text(json.dumps(exp))
    out.append((f"mnist.npz with a bzip2 member of 1 GiB ({p.stat().st_size:,} bytes)",
                ["train", str(folder / "mnist.json"), "--epochs", "1"]))
    # 3. the record of a 100000-1500-1 network and no weights
    p = folder / "json-only.npz"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("nnbench.json.npy", meta_npy(mlp([100_000, 1500, 1])))
    p.write_bytes(buf.getvalue())
    out.append((f"record of a 100000-1500-1 network, no weights ({p.stat().st_size:,} bytes)",
                ["predict", str(p), "--input", "0"]))
    # 4. a 65 MB file declaring 480 MB (within the old 8x allowance)
    p = folder / "lying.npz"
    big = dict(members, **{"layer0.W.npy": npy(np.zeros((2, 27_000_000))),
                           "padding.npy": npy(np.random.default_rng(0).integers(0, 255, 64 * MiB, np.uint8))})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, v in big.items():
            zf.writestr(k, v)
    p.write_bytes(buf.getvalue())
    out.append((f"2-3-1 network whose weights declare 432 MB ({p.stat().st_size / MiB:.0f} MiB file)",
                ["train", str(p), "--epochs", "1"]))
    # 5. a 2-row table whose label is 1,000,000,000
    exp = {"name": "t", "dataset": {"kind": "table", "name": "t", "columns": ["x", "y"],
                                    "rows": [[0, 0], [1, 1_000_000_000]]},
           "network": mlp([1, 4, 1]), "training": {"loss": "bce"}}
    (folder / "label.json").write_text(json.dumps(exp))
    out.append(("2-row table with the label 1,000,000,000",
                ["train", str(folder / "label.json"), "--epochs", "1"]))
    # 6. 63 hidden layers of 4,096: within every spec limit
    exp = {"name": "deep", "dataset": {"kind": "generator", "name": "xor", "n": 200},
           "network": mlp([2, *[4096] * 63, 1]),
           "training": {"loss": "bce", "optimizer": "adam", "batch_size": 32}}
    (folder / "deep.json").write_text(json.dumps(exp))
    out.append(("2-4096x63-1 network, Adam", ["train", str(folder / "deep.json"), "--epochs", "1"]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", default=str(Path(__file__).resolve().parent.parent))
    ap.add_argument("--limit-gib", type=float, default=5.0)
    args = ap.parse_args()
    limit = int(args.limit_gib * (1 << 30))
    env = dict(os.environ, PYTHONPATH=args.tree, OPENBLAS_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        for title, argv in cases(Path(tmp)):
            proc = subprocess.run([sys.executable, "-c", CHILD, str(limit), *argv], capture_output=True,
                                  text=True, env=env, cwd=tmp, timeout=600)
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            result = next((json.loads(line[7:]) for line in lines if line.startswith("RESULT ")), None)
            said = next((line for line in reversed(lines) if not line.startswith("RESULT ")), "")
            peak = f"{result['maxrss'] / MiB:,.0f} MiB" if result else f"died ({proc.returncode})"
            print(f"{title}\n    peak {peak}, exit {result and result['code']}: {said[:160]}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
