"""Fetching one file over HTTP(S): streamed, checksummed, cancellable, never left half-written."""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnbench.errors import DownloadError

CHUNK = 64 << 10

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


def _stream(
    response: Any,
    out: Any,
    url: str,
    name: str,
    expected: str,
    progress: Progress | None,
    cancel: Callable[[], bool] | None,
    max_bytes: int,
) -> None:
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    if total is not None and total > max_bytes:
        raise DownloadError(f"{url}: the server offers {total} bytes, more than the {max_bytes} expected")
    h, done = _digest(expected), 0
    while True:
        if cancel is not None and cancel():
            raise DownloadCancelled(f"download of {name} cancelled")
        block = response.read(CHUNK)
        if not block:
            break
        done += len(block)
        if done > max_bytes:
            raise DownloadError(f"{url}: the server sent more than the {max_bytes} bytes expected")
        out.write(block)
        h.update(block)
        if progress is not None:
            progress(name, done, total)
    # http.client returns b"" rather than raising when a body ends before its Content-Length
    if total is not None and done != total:
        raise DownloadError(f"{url}: truncated: got {done} of {total} bytes")
    if h.hexdigest() != expected.lower():
        raise DownloadError(f"{url}: checksum mismatch: got {h.hexdigest()}, expected {expected}")


def fetch(
    url: str,
    dest: Path,
    expected: str,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    timeout: float = 30.0,
    max_bytes: int = 64 << 20,
) -> None:
    """Stream ``url`` to ``dest.part``, check it against ``expected``, then rename it to ``dest``.

    ``progress(dest.name, done, total)`` follows each chunk, ``cancel()`` is asked before each.
    Any failure raises DownloadError and removes the part file.
    """
    part = dest.with_name(dest.name + ".part")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "nnbench"})
        with urllib.request.urlopen(request, timeout=timeout) as response, open(part, "wb") as out:
            _stream(response, out, url, dest.name, expected, progress, cancel, max_bytes)
        os.replace(part, dest)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: the server answered {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"{url}: cannot connect: {exc.reason}") from None
    except TimeoutError:
        raise DownloadError(f"{url}: no answer within {timeout:g} s") from None
    except (http.client.HTTPException, ConnectionError) as exc:
        raise DownloadError(f"{url}: the connection failed: {exc!r}") from None
    except OSError as exc:
        raise DownloadError(f"cannot write {part}: {exc.strerror or exc}") from None
    finally:
        part.unlink(missing_ok=True)
