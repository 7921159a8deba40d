"""Issue 11, downloads: a stalled or trickling mirror cannot hold a download (or its Cancel)
hostage, and two downloads into one cache never share a temporary file.

Every test runs against the local server in tests/mnist_server.py (real sockets on 127.0.0.1).
Timing bounds here are generous (the figures are in the README); they catch a download that
waits for a socket timeout or a 64 KB chunk, not a slow machine."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from mnist_server import Server

from nnbench.data import DownloadCancelled, download_mnist
from nnbench.data.download import fetch, file_matches
from nnbench.data.idx import idx_bytes
from nnbench.data.mnist import FILES, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS
from nnbench.errors import DownloadError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mnist_files():
    rng = np.random.default_rng(0)
    arrays = {
        TRAIN_IMAGES: rng.integers(0, 256, (200, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: (np.arange(200) % 10).astype(np.uint8),
        TEST_IMAGES: rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        TEST_LABELS: (np.arange(30) % 10).astype(np.uint8),
    }
    return {name: gzip.compress(idx_bytes(a), mtime=0) for name, a in arrays.items()}


@pytest.fixture
def server(mnist_files):
    s = Server(mnist_files, trickle_every=2.0)
    yield s
    s.close()


def md5s(files):
    return {name: hashlib.md5(data).hexdigest() for name, data in files.items()}


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def wait_until(condition, timeout=10.0) -> bool:
    """Poll ``condition`` every 10 ms (pytest-qt's waitUntil, without Qt); False on timeout."""
    tick, end = threading.Event(), time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        tick.wait(0.01)
    return True


class Background:
    """A download on a thread of its own; ``result`` is the exception it raised, or None."""

    def __init__(self, target=download_mnist, **kwargs):
        self.cancel = threading.Event()
        self.result: BaseException | None | str = "running"
        self.ended_at: float | None = None
        kwargs.setdefault("cancel", self.cancel.is_set)
        self.thread = threading.Thread(target=self._run, args=(target,), kwargs=kwargs, daemon=True)
        self.thread.start()

    def _run(self, target, **kwargs):
        try:
            target(**kwargs)
            self.result = None
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            self.result = exc
        self.ended_at = time.monotonic()

    def outcome(self, within: float) -> BaseException | None:
        """What the download raised, once it has ended; fails if it is still running after
        ``within`` seconds (before the fix, a trickle held a download for hours)."""
        self.thread.join(within)
        assert not self.thread.is_alive(), f"the download was still running after {within} s"
        return self.result


# ---- 12: cancel, deadline and stall rule on a trickling mirror -----------------------------


def test_cancel_on_a_trickling_mirror_takes_effect_at_once(tmp_path, server, mnist_files):
    server.mode = "trickle"  # each read gets a byte: no 64 KB chunk ever fills, no read times out
    server.trickle_every = 0.5
    job = Background(cache_dir=tmp_path, mirror=server.url, files=[TRAIN_IMAGES], checksums=md5s(mnist_files))
    assert wait_until(lambda: server.sent >= 3)  # the download is well into the body
    asked = time.monotonic()
    job.cancel.set()
    assert isinstance(job.outcome(5), DownloadCancelled)
    assert job.ended_at - asked < 2.0  # measured: well under 0.5 s (README, Reliability)
    assert leftovers(tmp_path) == []


def test_a_trickle_fails_the_stall_rule_with_a_message(tmp_path, server, mnist_files):
    server.mode = "trickle"
    server.trickle_every = 0.2  # 5 bytes/s: the socket is never quiet for long, and it never ends
    job = Background(
        cache_dir=tmp_path, mirror=server.url, files=[TRAIN_IMAGES], checksums=md5s(mnist_files), timeout=1.0
    )
    with pytest.raises(DownloadError, match=r"too slow: \d+ bytes in the last 1 s"):
        raise job.outcome(5)
    assert leftovers(tmp_path) == []


def test_overall_deadline(tmp_path, server, mnist_files):
    server.mode = "trickle"
    server.trickle_every = 0.05  # 20 bytes/s passes a stall rule of 10 bytes/s, but never finishes
    job = Background(
        fetch,
        url=server.url + TRAIN_IMAGES,
        dest=tmp_path / TRAIN_IMAGES,
        expected=md5s(mnist_files)[TRAIN_IMAGES],
        timeout=0.5,
        deadline=1.0,
        min_rate=10,
    )
    with pytest.raises(DownloadError, match=r"did not finish within 1 s"):
        raise job.outcome(4)
    assert leftovers(tmp_path) == []


def test_connection_setup_is_bounded_and_cancellable(tmp_path):
    import socket

    with socket.socket() as listener:  # accepts the connection (backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        started = time.monotonic()
        with pytest.raises(DownloadError, match="no answer within 0.5 s"):
            download_mnist(tmp_path, url, files=[TEST_LABELS], checksums={TEST_LABELS: "0" * 32}, timeout=0.5)
        assert time.monotonic() - started < 4
    bad = {TEST_LABELS: "0" * 32}
    with socket.socket() as listener:  # a fresh one: no earlier connection waits in its backlog
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        job = Background(cache_dir=tmp_path, mirror=url, files=[TEST_LABELS], checksums=bad)
        listener.settimeout(10)
        conn, _ = listener.accept()
        conn.settimeout(10)
        assert conn.recv(4096).startswith(b"GET ")  # the request is sent; the download waits
        asked = time.monotonic()
        job.cancel.set()
        result = job.outcome(5)
        conn.close()
        assert isinstance(result, DownloadCancelled) and job.ended_at - asked < 2.0


def test_cli_shows_progress_on_stderr_while_downloading(tmp_path, server):
    server.mode = "trickle"
    env = {**os.environ, "NNBENCH_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "nnbench", "train", "mnist-two-layer", "--mnist-mirror", server.url]
    child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(child.stderr.readline().decode()), daemon=True)
    reader.start()
    try:
        reader.join(20)  # the first line on stderr, or nothing after 20 s (the child is silent)
    finally:
        child.kill()
        child.wait()
        reader.join(5)
        child.stderr.close()
    assert lines and TRAIN_IMAGES in lines[0] and " B" in lines[0], lines


# ---- 13: two downloads into one cache --------------------------------------------------------


def test_two_downloads_into_one_cache_do_not_share_a_part_file(tmp_path, server, mnist_files):
    sums = md5s(mnist_files)
    first_gate, second_gate = threading.Event(), threading.Event()
    # The first download stalls after 70 kB; the second starts and stalls after 10 kB.
    server.gates = [(70_000, first_gate), (10_000, second_gate)]
    first_seen: list[int] = []
    second_seen: list[int] = []
    first = Background(
        cache_dir=tmp_path, mirror=server.url, files=[TRAIN_IMAGES], checksums=sums,
        progress=lambda name, done, total: first_seen.append(done),
    )
    assert wait_until(lambda: server.sent >= 70_000)
    wait_until(lambda: first_seen and first_seen[-1] == 70_000, 2)  # (before the fix: no 64 kB read ended)
    second = Background(
        cache_dir=tmp_path, mirror=server.url, files=[TRAIN_IMAGES], checksums=sums,
        progress=lambda name, done, total: second_seen.append(done),
    )
    assert wait_until(lambda: server.sent >= 80_000)
    wait_until(lambda: second_seen and second_seen[-1] == 10_000, 2)  # both have written what came
    first_gate.set()
    assert first.outcome(10) is None
    assert file_matches(tmp_path / TRAIN_IMAGES, sums[TRAIN_IMAGES]), "the first download cached a bad file"
    second.cancel.set()  # the second fails: it must not delete what the first cached
    second_gate.set()
    assert isinstance(second.outcome(10), DownloadCancelled)
    assert leftovers(tmp_path) == [TRAIN_IMAGES]
    assert (tmp_path / TRAIN_IMAGES).read_bytes() == mnist_files[TRAIN_IMAGES]


def test_a_second_download_that_fails_leaves_the_first_alone(tmp_path, server, mnist_files):
    sums = md5s(mnist_files)
    gate = threading.Event()
    server.gates = [(10_000, gate)]
    first = Background(cache_dir=tmp_path, mirror=server.url, files=[TEST_IMAGES], checksums=sums)
    assert wait_until(lambda: server.sent >= 10_000)
    assert wait_until(lambda: leftovers(tmp_path) != [])  # the first has its temporary file
    server.mode = "500"
    with pytest.raises(DownloadError, match="answered 500"):  # a second download fails
        download_mnist(tmp_path, server.url, files=[TEST_IMAGES], checksums=sums)
    server.mode = "ok"
    gate.set()
    assert first.outcome(10) is None  # before the fix, the second had deleted the first's file
    assert leftovers(tmp_path) == [TEST_IMAGES]
    assert file_matches(tmp_path / TEST_IMAGES, sums[TEST_IMAGES])


def test_stale_part_files_of_dead_downloads_are_removed(tmp_path, server, mnist_files):
    stale = tmp_path / f"{TEST_LABELS}.x-1-abc.part"
    stale.write_bytes(b"old")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    fresh = tmp_path / f"{TEST_LABELS}.y-2-def.part"  # maybe a live download elsewhere: kept
    fresh.write_bytes(b"new")
    download_mnist(tmp_path, server.url, files=[TEST_LABELS], checksums=md5s(mnist_files))
    assert leftovers(tmp_path) == sorted([TEST_LABELS, fresh.name])


def test_every_file_still_downloads(tmp_path, server, mnist_files):
    download_mnist(tmp_path, server.url, checksums=md5s(mnist_files))
    assert leftovers(tmp_path) == sorted(FILES)
