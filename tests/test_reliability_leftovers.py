"""Two leftovers of the reliability work: MNIST ``.npz`` files get the same hardened ``.npy``
reader as nnbench files, and the temporary file of a save killed mid-write is cleaned up by the
next save to that target without touching a live save's."""

from __future__ import annotations

import io
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from fuzz_helpers import archive, lie_sizes, npy, npy_header_lie

from nnbench.data import load_mnist_npz
from nnbench.engine import Network, NetworkSpec, files
from nnbench.errors import FileFormatError
from nnbench.npyread import read_npy

# ---- MNIST .npz ---------------------------------------------------------------------------------


def mnist_members(n_train: int = 12, n_test: int = 5) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    return {
        "x_train.npy": npy(rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)),
        "y_train.npy": npy(rng.integers(0, 10, n_train, dtype=np.uint8)),
        "x_test.npy": npy(rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)),
        "y_test.npy": npy(rng.integers(0, 10, n_test, dtype=np.uint8)),
    }


def refused_fast(path, match: str) -> FileFormatError:
    """load_mnist_npz(path) raises FileFormatError matching ``match``: one line naming the file,
    in well under a second, allocating under 32 MiB."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(FileFormatError, match=match) as info:
            load_mnist_npz(path)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The memory bound is the real check; the time bound only catches reading a huge payload
    # (generous, so a busy machine does not fail it).
    assert elapsed < 5.0 and peak < 32 << 20, (elapsed, peak)
    message = str(info.value)
    assert path.name in message and "\n" not in message
    return info.value


@pytest.mark.parametrize("compress", [False, True])
def test_a_valid_mnist_npz_still_loads(tmp_path, compress):
    path = tmp_path / "mnist.npz"
    (np.savez_compressed if compress else np.savez)(
        path, **{k.removesuffix(".npy"): np.load(io.BytesIO(v)) for k, v in mnist_members().items()}
    )
    ds = load_mnist_npz(path)
    expected = np.load(path)
    assert ds.x_train.shape == (12, 784) and ds.x_test.shape == (5, 784) and ds.image_shape == (28, 28)
    np.testing.assert_array_equal(ds.x_train, expected["x_train"].reshape(12, -1))
    np.testing.assert_array_equal(ds.y_test.argmax(1), expected["y_test"])


def test_members_without_the_npy_suffix_and_extra_members_are_fine(tmp_path):
    entries = {k.removesuffix(".npy"): v for k, v in mnist_members().items()}
    entries["notes.txt"] = b"not an array, and never read"
    path = tmp_path / "mnist.npz"
    path.write_bytes(archive(entries))
    assert load_mnist_npz(path).x_train.shape == (12, 784)


def test_fortran_order_and_big_endian_arrays_read_like_numpy(tmp_path):
    a = np.asfortranarray(np.arange(24, dtype=">i4").reshape(2, 3, 4))
    raw = npy(a)
    got = read_npy(io.BytesIO(raw), len(raw), "a.npy", "f.npz")
    np.testing.assert_array_equal(got, a)
    assert got.dtype == a.dtype and got.flags.writeable


@pytest.mark.parametrize("shape", [(2**40, 28, 28), (2**62,), (2**31, 2**31, 1), (3, 2**40, 28)])
def test_a_huge_declared_shape_is_refused_without_allocating(tmp_path, shape):
    entries = mnist_members()
    entries["x_train.npy"] = npy_header_lie(entries["x_train.npy"], shape, "|u1")
    path = tmp_path / "huge.npz"
    path.write_bytes(archive(entries, compress=True))
    refused_fast(path, r"huge.npz: x_train.npy declares shape .* but holds 9408 bytes")


def test_a_wrong_dtype_is_refused(tmp_path):
    path = tmp_path / "dtype.npz"
    entries = mnist_members()
    # float64 over the 9408 bytes of uint8 images: the sizes disagree
    entries["x_train.npy"] = npy_header_lie(entries["x_train.npy"], (12, 28, 28), "<f8")
    path.write_bytes(archive(entries))
    refused_fast(path, r"dtype.npz: x_train.npy declares shape \(12, 28, 28\) of float64")
    # the sizes agree, but these are not image bytes
    entries["x_train.npy"] = npy(np.zeros((12, 28, 28), np.float64))
    path.write_bytes(archive(entries))
    refused_fast(path, r"dtype.npz: x_train: images must be n x height x width bytes, got 3-D float64")
    # a dtype NumPy cannot even parse
    entries["x_train.npy"] = npy_header_lie(mnist_members()["x_train.npy"], (12, 28, 28), "<q9z")
    path.write_bytes(archive(entries))
    refused_fast(path, r"dtype.npz: x_train.npy has no valid .npy header")


@pytest.mark.parametrize("descr", ["|O", [("a", "<f8"), ("b", "|O")], "<V0"])
def test_object_and_empty_dtypes_are_refused_and_pickles_never_run(tmp_path, descr):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    entries = mnist_members()
    raw = pickle.dumps(np.array([Evil()], dtype=object))
    entries["y_train.npy"] = npy_header_lie(b"\x93NUMPY\x01\x00\x00\x00" + raw, (12,), descr)
    path = tmp_path / "evil.npz"
    path.write_bytes(archive(entries))
    refused_fast(path, r"evil.npz: y_train.npy (holds Python objects|declares items of)")
    assert not marker.exists()


def test_a_truncated_member_is_refused(tmp_path):
    entries = mnist_members()
    entries["x_test.npy"] = entries["x_test.npy"][:-100]  # the array cut short, the zip intact
    path = tmp_path / "cut.npz"
    path.write_bytes(archive(entries, compress=True))
    refused_fast(path, r"cut.npz: x_test.npy declares shape \(5, 28, 28\) of uint8 but holds 3820 bytes")
    entries["x_test.npy"] = entries["x_test.npy"][:30]  # cut inside the header
    path.write_bytes(archive(entries))
    refused_fast(path, r"cut.npz: x_test.npy has no valid .npy header")


def test_a_truncated_archive_is_refused(tmp_path):
    data = archive(mnist_members(), compress=True)
    path = tmp_path / "cut.npz"
    for cut in (0, 10, len(data) // 2, len(data) - 30):
        path.write_bytes(data[:cut])
        refused_fast(path, r"cut.npz: (not a readable mnist.npz|\w+\.npy is damaged)")


@pytest.mark.parametrize("value", [0, 100, 9000, 2**31 - 1, 2**32 - 1])
def test_lying_zip_sizes_are_refused_without_allocating(tmp_path, value):
    data = archive(mnist_members(), compress=True)
    path = tmp_path / "lies.npz"
    for which in range(4):
        path.write_bytes(lie_sizes(data, which, value))
        refused_fast(path, r"lies.npz: ")


def test_an_array_declared_over_the_limit_is_refused_before_reading(tmp_path):
    """A zip bomb (a member declaring 1.5 GiB) is refused from the zip header alone."""
    data = archive(mnist_members(), compress=True)
    path = tmp_path / "bomb.npz"
    path.write_bytes(lie_sizes(data, 0, 3 << 29))  # member 0 is x_train.npy
    refused_fast(path, r"bomb.npz: x_train.npy declares 1,610,612,736 bytes, over the 1,024 MiB allowed")


def test_special_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    refused_fast(fifo, "fifo.npz is not a regular file")
    refused_fast(tmp_path, f"{tmp_path.name} is not a regular file")
    refused_fast(tmp_path / "gone.npz", "cannot open gone.npz")


def test_missing_arrays_are_still_named(tmp_path):
    entries = mnist_members()
    del entries["y_test.npy"], entries["x_train.npy"]
    path = tmp_path / "part.npz"
    path.write_bytes(archive(entries))
    refused_fast(path, "part.npz: missing arrays x_train, y_test")


def test_an_array_twice_is_refused(tmp_path):
    entries = mnist_members()
    entries["x_train"] = entries["x_train.npy"]
    path = tmp_path / "twice.npz"
    path.write_bytes(archive(entries))
    refused_fast(path, "twice.npz holds x_train twice")


# ---- temporary files of killed saves ------------------------------------------------------------


def net(seed: int) -> Network:
    return Network(NetworkSpec.mlp([2, 3, 1]), np.random.default_rng(seed))


def same_weights(path, expected: Network) -> bool:
    got = files.load(path).weights
    return all(np.array_equal(got[k], v) for k, v in expected.weights().items())


def temps(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


H = files._HOST  # this machine, as temporary file names give it


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# A child that saves and is stopped between writing its temporary file and the rename.
STALLED_SAVE = r"""
import os, signal, sys
import numpy as np
from nnbench.engine import Network, NetworkSpec, files

def stall(fd):
    print("written", flush=True)
    signal.pause()  # until the test's SIGKILL

os.fsync = stall
files.save(sys.argv[1], Network(NetworkSpec.mlp([2, 3, 1]), np.random.default_rng(9)))
"""


def test_the_temporary_file_of_a_killed_save_is_removed_by_the_next_save(tmp_path):
    path = tmp_path / "net.npz"
    first = net(1)
    files.save(path, first)
    root = str(Path(__file__).resolve().parents[1])  # this checkout's nnbench, wherever pytest runs
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    child = subprocess.Popen([sys.executable, "-c", STALLED_SAVE, str(path)], stdout=subprocess.PIPE,
                             text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "written"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    leftover = temps(tmp_path)
    assert len(leftover) == 1 and leftover[0].startswith(f".net.npz.{H}-{child.pid}-")
    assert same_weights(path, first)  # the killed save cost nothing
    second = net(2)
    files.save(path, second)
    assert temps(tmp_path) == [] and sorted(os.listdir(tmp_path)) == ["net.npz"]
    assert same_weights(path, second)


def test_only_stale_temporary_files_of_the_same_target_are_removed(tmp_path):
    dead, old = dead_pid(), time.time() - 2 * files.STALE_AFTER
    stale = [f".net.npz.{H}-{dead}-abc123_x.part",      # a process that died mid-save
             f".net.npz.0badc0df-{dead}-old_x.part",    # another machine's, over STALE_AFTER old
             f".net.npz.{H}-{os.getpid()}-zz9.part",     # ours, not being written: a reused pid
             ".net.npz.k2j_9x0a.part"]               # an older nnbench's, over STALE_AFTER old
    kept = [".net.npz.q1w2e3r4.part",                # an older nnbench's, recent: maybe live
            f".other.npz.{H}-{dead}-abc123_x.part",      # another target's
            f".net.npz.x.{H}-{dead}-abc123_x.part",      # the target "net.npz.x"'s
            f".net.npz.{H}-{dead}-abc.part.keep",        # not a temporary file name
            f".net.npz.0badc0de-{dead}-abc123_x.part",   # another machine's (a shared folder), recent
            "notes.txt"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"half a save")
    os.utime(tmp_path / stale[1], (old, old))
    os.utime(tmp_path / stale[3], (old, old))
    (tmp_path / f".net.npz.{H}-{dead}-dir.part").mkdir()  # a folder of that name is not ours
    files.save(tmp_path / "net.npz", net(1))
    assert sorted(os.listdir(tmp_path)) == sorted([*kept, "net.npz", f".net.npz.{H}-{dead}-dir.part"])
    assert same_weights(tmp_path / "net.npz", net(1))


def test_a_live_process_temporary_file_is_kept_until_it_is_old(tmp_path):
    # A live process: it waits for input that never comes, until the test kills it.
    live = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        temp = tmp_path / f".net.npz.{H}-{live.pid}-abc.part"
        temp.write_bytes(b"a save in progress")
        files.save(tmp_path / "net.npz", net(1))
        assert temp.exists()  # another process is still writing it
        old = time.time() - 2 * files.STALE_AFTER
        os.utime(temp, (old, old))  # untouched for hours: that pid is someone else now
        files.save(tmp_path / "net.npz", net(2))
        assert not temp.exists()
    finally:
        live.kill()
        live.wait()


def test_a_save_in_another_thread_keeps_its_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "net.npz"
    real_fsync = os.fsync
    started, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow_fsync(fd):
        if threading.current_thread().name == "slow-save":
            started.set()
            assert release.wait(10)
        real_fsync(fd)

    def slow_save():
        try:
            files.save(path, net(1))
        except BaseException as e:  # reported below
            errors.append(e)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    thread = threading.Thread(target=slow_save, name="slow-save")
    thread.start()
    try:
        assert started.wait(10)
        (mine,) = temps(tmp_path)
        assert mine.startswith(f".net.npz.{H}-{os.getpid()}-")
        files.save(path, net(2))  # this process, same target, while the other save is writing
        assert (tmp_path / mine).exists()
        assert same_weights(path, net(2))
    finally:
        release.set()
        thread.join(10)
    assert not errors and not thread.is_alive()
    assert same_weights(path, net(1)) and temps(tmp_path) == []


def test_an_interrupted_save_removes_its_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "net.npz"
    files.save(path, net(1))

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.save(path, net(2))
    assert sorted(os.listdir(tmp_path)) == ["net.npz"]
    assert same_weights(path, net(1))
