"""Saving: a save killed mid-write, or one that cannot write, never costs the previous file or
the network in memory."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from nnbench.engine import Network, NetworkSpec, files
from nnbench.errors import NnbenchError

# A child that saves a 4096-4096-1 float64 network (about 128 MiB of weights) over and over,
# each time with different weights, and reports each completed save's checksum.
CHILD = r"""
import sys
import numpy as np
from nnbench.engine import Network, NetworkSpec, files

path = sys.argv[1]
net = Network(NetworkSpec.mlp([4096, 4096, 1]), np.random.default_rng(0))
for i in range(1000):
    w = net.weights()
    w["layer0.b"][:] = i
    net.set_weights(w)
    files.save(path, net)
    print(i, float(sum(v.sum() for v in net.weights().values())), flush=True)
"""


def _size(p) -> int:
    try:
        return p.stat().st_size
    except FileNotFoundError:  # renamed into place between listing and stat
        return -1


@pytest.mark.parametrize("written", [pytest.param(1, marks=pytest.mark.slow), 16 << 20,
                                     pytest.param(96 << 20, marks=pytest.mark.slow)])
def test_a_save_killed_mid_write_leaves_the_previous_file(tmp_path, written):
    path = tmp_path / "big.npz"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        first = child.stdout.readline().split()  # one complete save
        assert first, "the child saved nothing"
        # Wait until a later save has written ``written`` bytes of its temporary file, then kill it.
        deadline = time.monotonic() + 60
        while not [p for p in tmp_path.iterdir() if p.name.endswith(".part") and _size(p) >= written]:
            assert time.monotonic() < deadline, "no later save got that far"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        done = [first] + [line.split() for line in child.stdout.read().splitlines()]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    saved = files.load(path)  # the last completed save, whole
    checksums = {int(i): float(s) for i, s in done}
    index = int(saved.weights["layer0.b"][0])
    assert index in checksums
    assert float(sum(v.sum() for v in saved.weights.values())) == checksums[index]
    # The interrupted write may leave its temporary file; it never takes the file's name.
    npz = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".npz")
    assert npz == ["big.npz"]
    assert all(p.name.startswith(".big.npz.") for p in tmp_path.iterdir() if p.name != "big.npz")


def small_net(seed=1) -> Network:
    return Network(NetworkSpec.mlp([2, 3, 1]), np.random.default_rng(seed))


# Tests run as root, where chmod does not stop writes: these locations refuse root as well.
UNWRITABLE = {
    "parent is a file": lambda tmp: tmp / "a_file" / "net.npz",
    "parent is missing": lambda tmp: tmp / "missing" / "net.npz",
    "proc": lambda tmp: "/proc/nnbench-test.npz",
    "sys": lambda tmp: "/sys/nnbench-test.npz",
}


@pytest.mark.parametrize("where", sorted(UNWRITABLE))
def test_saving_where_nothing_can_be_written_says_so(tmp_path, where):
    (tmp_path / "a_file").write_text("x")
    net = small_net()
    before = net.weights()
    with pytest.raises(NnbenchError, match="cannot write in|could not save"):
        files.save(UNWRITABLE[where](tmp_path), net)
    for k, v in net.weights().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.fixture
def disk_of(tmp_path):
    """Let this process write at most ``limit`` bytes to any one file (as if the disk were full),
    with the signal that would kill it ignored so the write fails with EFBIG."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def set_limit(limit: int) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

    yield set_limit
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    signal.signal(signal.SIGXFSZ, old)


def test_a_full_disk_keeps_the_previous_file_and_no_temporary_file(tmp_path, disk_of):
    path = tmp_path / "net.npz"
    files.save(path, small_net(1))
    previous = path.read_bytes()
    big = Network(NetworkSpec.mlp([64, 64, 1]), np.random.default_rng(2))
    disk_of(4096)
    with pytest.raises(NnbenchError, match="could not save net.npz.*nothing was overwritten"):
        files.save(path, big)
    disk_of(resource.RLIM_INFINITY)
    assert path.read_bytes() == previous
    assert sorted(os.listdir(tmp_path)) == ["net.npz"]
    files.save(path, big)  # room again: the network in memory saves as it was
    np.testing.assert_array_equal(files.load(path).weights["layer0.W"], big.weights()["layer0.W"])
