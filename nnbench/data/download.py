"""Fetching one file over HTTP(S): streamed, checksummed, cancellable, never left half-written.

The socket is read on a helper thread that hands blocks over a bounded queue; the calling
thread waits on that queue in short polls, so Cancel, the overall deadline and the stall rule
take effect within ``POLL`` seconds whatever the server does (a server sending one byte every
two seconds never lets a blocking ``read(64 KB)`` return, and never trips a per-read timeout).
Each download writes its own temporary file beside the target, so two downloads into one
cache cannot mix their bytes or delete each other's work.
"""

from __future__ import annotations

import glob
import hashlib
import http.client
import os
import queue
import re
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnbench.errors import DownloadError

CHUNK = 64 << 10
POLL = 0.05  # seconds between looks at cancel(), the deadline and the stall rule
DEADLINE = 600.0  # seconds for a whole download; MNIST's 11.6 MB at 20 kB/s
MIN_RATE = 1024  # bytes/s: less than this over a stall window is a stalled mirror
STALE_PART = 3600.0  # seconds: an untouched temporary file this old belongs to a dead download

Progress = Callable[[str, int, int | None], None]  # (file name, bytes done, bytes total or None)


class DownloadCancelled(DownloadError):
    """The user cancelled the download; nothing partial was kept."""


def _digest(expected: str) -> Any:
    # the length of the hex digest tells MD5 from SHA-256
    return hashlib.md5(usedforsecurity=False) if len(expected) == 32 else hashlib.sha256()


def file_matches(path: Path, expected: str) -> bool:
    """``path`` exists and its MD5 or SHA-256 (by length) is the ``expected`` hex digest."""
    if not path.is_file():
        return False
    h = _digest(expected)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return bool(h.hexdigest() == expected.lower())


class _Reader(threading.Thread):
    """Opens ``request`` and puts ("headers", response), ("data", block)... or ("error", exc)
    on ``items``; b"" ends the body. Stops soon after ``stop`` is set (see ``abort``)."""

    def __init__(self, request: urllib.request.Request, timeout: float) -> None:
        super().__init__(name="nnbench-download", daemon=True)
        self.request, self.timeout = request, timeout
        self.items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=64)  # at most 4 MB in flight
        self.stop = threading.Event()
        self.response: Any = None

    def run(self) -> None:
        try:
            response = urllib.request.urlopen(self.request, timeout=self.timeout)
        except BaseException as exc:  # noqa: BLE001 (handed to the waiting thread)
            self._put(("error", exc))
            return
        self.response = response
        try:
            if self._put(("headers", response)):
                while not self.stop.is_set():
                    block = response.read1(CHUNK)  # what has arrived, at least one byte
                    if not self._put(("data", block)) or not block:
                        break
        except BaseException as exc:  # noqa: BLE001
            self._put(("error", exc))
        finally:
            response.close()

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self.stop.is_set():
            try:
                self.items.put(item, timeout=POLL)
                return True
            except queue.Full:
                continue
        return False

    def abort(self) -> None:
        """Stop, and wake a read blocked on the socket (a shutdown needs no lock the read holds)."""
        self.stop.set()
        sock = getattr(getattr(getattr(self.response, "fp", None), "raw", None), "_sock", None)
        if isinstance(sock, socket.socket):
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass  # already closed
        self.join(0.2)  # a woken read ends at once; a connect still in progress is left to its timeout


def _network_error(url: str, exc: BaseException, timeout: float) -> DownloadError:
    if isinstance(exc, urllib.error.HTTPError):
        return DownloadError(f"{url}: the server answered {exc.code} {exc.reason}")
    if isinstance(exc, urllib.error.URLError):
        if isinstance(exc.reason, TimeoutError):
            return DownloadError(f"{url}: no answer within {timeout:g} s")
        return DownloadError(f"{url}: cannot connect: {exc.reason}")
    if isinstance(exc, TimeoutError):
        return DownloadError(f"{url}: no answer within {timeout:g} s")
    if isinstance(exc, (http.client.HTTPException, OSError)):
        return DownloadError(f"{url}: the connection failed: {exc!r}")
    return DownloadError(f"{url}: the download failed: {exc!r}")


def _remove_stale_parts(dest: Path) -> None:
    """Temporary files of downloads that died (killed, power cut) without removing them.

    A live download writes at least every stall window and ends within its deadline, so a file
    untouched for an hour is nobody's."""
    now = time.time()
    for p in [*dest.parent.glob(glob.escape(dest.name) + ".*.part"), dest.with_name(dest.name + ".part")]:
        try:
            if now - p.stat().st_mtime > STALE_PART:
                p.unlink()
        except OSError:
            pass  # gone already, or not ours to remove


def _part_file(dest: Path) -> tuple[int, Path]:
    host = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:40] or "host"
    fd, name = tempfile.mkstemp(prefix=f"{dest.name}.{host}-{os.getpid()}-", suffix=".part", dir=dest.parent)
    return fd, Path(name)


def fetch(
    url: str,
    dest: Path,
    expected: str,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    timeout: float = 30.0,
    max_bytes: int = 64 << 20,
    *,
    deadline: float = DEADLINE,
    min_rate: float = MIN_RATE,
    ends_at: float | None = None,
) -> None:
    """Stream ``url`` to a temporary file beside ``dest``, check it, then rename it to ``dest``.

    ``progress(dest.name, done, total)`` follows each block received; ``cancel()`` is asked
    every ``POLL`` seconds. The server must answer within ``timeout`` seconds and then send at
    least ``min_rate`` bytes/s over every ``timeout``-second window, and the whole download
    must end within ``deadline`` seconds (or by the monotonic time ``ends_at``, for a download
    of several files). Any failure raises DownloadError and removes the temporary file.
    """
    started = time.monotonic()
    ends_at = started + deadline if ends_at is None else ends_at
    _remove_stale_parts(dest)
    request = urllib.request.Request(url, headers={"User-Agent": "nnbench"})
    reader = _Reader(request, timeout)
    reader.start()
    part: Path | None = None
    out: Any = None
    try:
        h, done, total = _digest(expected), 0, None
        window_start, window_bytes, answered = started, 0, False
        while True:
            if cancel is not None and cancel():
                raise DownloadCancelled(f"download of {dest.name} cancelled")
            now = time.monotonic()
            if now >= ends_at:
                raise DownloadError(f"{url}: did not finish within {deadline:g} s (got {done} bytes)")
            if now - window_start >= timeout:
                if not answered or window_bytes == 0:
                    raise DownloadError(f"{url}: no answer within {timeout:g} s")
                if window_bytes < min_rate * timeout:
                    raise DownloadError(
                        f"{url}: too slow: {window_bytes} bytes in the last {timeout:g} s "
                        f"(at least {min_rate:g} bytes/s needed)"
                    )
                window_start, window_bytes = now, 0
            try:
                kind, value = reader.items.get(timeout=POLL)
            except queue.Empty:
                continue
            if kind == "error":
                raise _network_error(url, value, timeout)
            if kind == "headers":
                length = value.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                if total is not None and total > max_bytes:
                    raise DownloadError(
                        f"{url}: the server offers {total} bytes, more than the {max_bytes} expected"
                    )
                fd, part = _part_file(dest)
                out = os.fdopen(fd, "wb")
                answered, window_start, window_bytes = True, time.monotonic(), 0
                continue
            if not value:
                break
            done += len(value)
            window_bytes += len(value)
            if done > max_bytes:
                raise DownloadError(f"{url}: the server sent more than the {max_bytes} bytes expected")
            out.write(value)
            h.update(value)
            if progress is not None:
                progress(dest.name, done, total)
        # http.client returns b"" rather than raising when a body ends before its Content-Length
        if total is not None and done != total:
            raise DownloadError(f"{url}: truncated: got {done} of {total} bytes")
        if h.hexdigest() != expected.lower():
            raise DownloadError(f"{url}: checksum mismatch: got {h.hexdigest()}, expected {expected}")
        out.close()
        # What is renamed is what was checked: the file on disk, not only the bytes that went by.
        if part is None or not file_matches(part, expected):
            raise DownloadError(f"{part}: changed on disk during the download; not kept")
        os.replace(part, dest)
        part = None
    except OSError as exc:
        raise DownloadError(f"cannot write {part or dest}: {exc.strerror or exc}") from None
    finally:
        reader.abort()
        if out is not None:
            out.close()
        if part is not None:
            part.unlink(missing_ok=True)
