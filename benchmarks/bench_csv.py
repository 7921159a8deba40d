"""CSV import throughput and peak memory, against NumPy's own C reader on the same file.

    python benchmarks/bench_csv.py            # a 100 MB numeric file, 5 runs of each
    python benchmarks/bench_csv.py --mb 20 --runs 3

Writes the file in a temporary folder (10 feature columns of decimals and a class column),
then runs, interleaved, each in a fresh process so that its peak RSS (``VmHWM``) is its own:
``table`` (``read_csv_table``, what the import dialog's preview reads), ``dataset``
(``dataset_from_csv`` with standardisation: the whole import) and ``loadtxt`` (``np.loadtxt``,
a reference C parser with no checks and no messages). Prints MB/s (median and range) and the
peak memory above the interpreter's own, as a multiple of the numeric data (rows x columns x 8
bytes). Targets: at least 20 MB/s, peak under 4x the numeric data.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEATURES = 10

CHILD = r"""
import json, resource, sys, time
def high_water():
    # VmHWM is this process's own peak; ru_maxrss on Linux starts from the parent's at fork
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
sys.path.insert(0, sys.argv[1])
import numpy as np
from nnbench.data.csvdata import dataset_from_csv, read_csv_table
mode, path = sys.argv[2], sys.argv[3]
features = [f"f{j}" for j in range(int(sys.argv[4]))]
base = high_water()
start = time.perf_counter()
if mode == "table":
    result = read_csv_table(path)
elif mode == "dataset":
    result = dataset_from_csv(path, features, "y", standardize=True)
else:
    result = np.loadtxt(path, delimiter=",", skiprows=1, comments=None)
seconds = time.perf_counter() - start
peak = high_water()
print(json.dumps({"seconds": seconds, "base": base, "peak": peak}))
"""


def make_file(path: Path, megabytes: float) -> int:
    """A numeric CSV of about ``megabytes`` MB; returns its number of data rows."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows, size, block = 0, 0, 50_000
    with open(path, "w") as f:
        f.write(",".join(f"f{j}" for j in range(FEATURES)) + ",y\n")
        while size < megabytes * 1e6:
            x = rng.normal(size=(block, FEATURES))
            y = rng.integers(0, 3, block)
            pairs = zip(x.tolist(), y.tolist(), strict=True)
            text = "".join(",".join(f"{v:.6f}" for v in row) + f",{t}\n" for row, t in pairs)
            f.write(text)
            size += len(text)
            rows += block
    return rows


def run(mode: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), mode, str(path), str(FEATURES)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=100.0, help="file size in MB (default 100)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each reader (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nnbench-bench-csv-") as tmp:
        path = Path(tmp) / "numbers.csv"
        t = time.perf_counter()
        rows = make_file(path, args.mb)
        mb = path.stat().st_size / 1e6
        numeric = rows * (FEATURES + 1) * 8
        print(f"{path.name}: {mb:.1f} MB, {rows:,} rows x {FEATURES + 1} columns "
              f"({numeric / 1e6:.0f} MB as float64), written in {time.perf_counter() - t:.1f} s")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
              f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")
        modes = ("table", "dataset", "loadtxt")
        results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
        for i in range(args.runs):  # interleaved, so a busy spell hits every reader alike
            for m in modes:
                results[m].append(run(m, path))
            rates = ", ".join(f"{m} {mb / results[m][-1]['seconds']:.1f} MB/s" for m in modes)
            print(f"  run {i + 1}: {rates}")
        print(f"\n{'reader':<9} {'MB/s median':>11} {'range':>13} {'peak RSS':>9} {'above base':>11} "
              f"{'x data':>7}")
        medians = {}
        for m in modes:
            rates = [mb / r["seconds"] for r in results[m]]
            extra = max(r["peak"] - r["base"] for r in results[m])
            peak = max(r["peak"] for r in results[m])
            medians[m] = statistics.median(rates)
            print(f"{m:<9} {medians[m]:>11.1f} {min(rates):>6.1f}-{max(rates):<6.1f} {peak / 1e6:>7.0f} MB "
                  f"{extra / 1e6:>8.0f} MB {extra / numeric:>6.2f}x")
        print(f"\ntable / loadtxt speed: {medians['table'] / medians['loadtxt']:.2f}; "
              f"dataset / loadtxt: {medians['dataset'] / medians['loadtxt']:.2f}")


if __name__ == "__main__":
    main()
