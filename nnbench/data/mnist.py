"""MNIST: loading the IDX files or a Keras ``mnist.npz``, and downloading the IDX files."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnbench.data.arrays import class_targets
from nnbench.data.dataset import Dataset
from nnbench.data.download import DEADLINE, DownloadCancelled, Progress, fetch, file_matches
from nnbench.data.idx import MAX_BYTES, read_idx
from nnbench.errors import DownloadError, FileFormatError, SpecError
from nnbench.npyread import read_npz

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
CHECKSUMS = {  # md5 of the original gzipped files
    TRAIN_IMAGES: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    TRAIN_LABELS: "d53e105ee54ea40749a09fcbcd1e9432",
    TEST_IMAGES: "9fb629c4189551a2d022fa330f9573f3",
    TEST_LABELS: "ec29112dd5afa0611ce80d1b7f02629c",
}
DEFAULT_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MIRRORS = (DEFAULT_MIRROR, "https://storage.googleapis.com/cvdf-datasets/mnist/")
MAX_DOWNLOAD = 64 << 20  # the largest file is 9.9 MB; a mirror sending more is broken

__all__ = [
    "CHECKSUMS",
    "DEFAULT_MIRROR",
    "FILES",
    "MIRRORS",
    "DownloadCancelled",
    "default_cache_dir",
    "download_mnist",
    "load_mnist_dir",
    "load_mnist_files",
    "load_mnist_npz",
]


def default_cache_dir() -> Path:
    """``$NNBENCH_DATA_DIR/mnist``, else ``$XDG_DATA_HOME/nnbench/mnist``, else ``~/.local/share/...``."""
    if os.environ.get("NNBENCH_DATA_DIR"):
        return Path(os.environ["NNBENCH_DATA_DIR"]) / "mnist"
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "nnbench" / "mnist"


def _digits(
    images: np.ndarray, labels: np.ndarray, images_name: str, labels_name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Check one set of digits and flatten the images to ``(n, h*w)`` uint8."""
    if images.ndim != 3 or images.dtype != np.uint8:
        got = f"{images.ndim}-D {images.dtype}"
        raise FileFormatError(f"{images_name}: images must be n x height x width bytes, got {got}")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        got = f"{labels.ndim}-D {labels.dtype}"
        raise FileFormatError(f"{labels_name}: labels must be a 1-D list of integers, got {got}")
    if len(images) != len(labels):
        raise FileFormatError(
            f"{images_name} has {len(images)} images but {labels_name} {len(labels)} labels"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise FileFormatError(
            f"{labels_name}: labels must be digits 0-9, found {labels.min()}..{labels.max()}"
        )
    return images.reshape(len(images), -1), labels.astype(np.int64)


def _read_pair(
    images_path: str | os.PathLike[str], labels_path: str | os.PathLike[str]
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    return (
        *_digits(images, labels, Path(images_path).name, Path(labels_path).name),
        images.shape[1:],
    )


def _first(n: int | None, what: str, available: int) -> int:
    if n is None:
        return available
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= available:
        raise SpecError(f"{what} must be a whole number from 1 to {available}, got {n!r}")
    return int(n)


def _assemble(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray] | None,
    image_shape: tuple[int, ...],
    source: dict[str, Any],
    subset: int | None,
    test_subset: int | None,
    split: Sequence[int] | None,
) -> Dataset:
    if test is None:
        # one set only: first n_train digits to train on, last n_test to test on, no overlap
        x, labels = train
        n = len(x)
        if split is None:
            split = (n - max(1, n // 5), max(1, n // 5))
        if len(split) != 2 or not all(isinstance(v, int) and v >= 1 for v in split) or sum(split) > n:
            raise SpecError(f"split must be two counts >= 1 adding up to at most {n}, got {split!r}")
        train, test = (
            (x[: split[0]], labels[: split[0]]),
            (x[n - split[1] :], labels[n - split[1] :]),
        )
        source["split"] = [int(v) for v in split]
    elif split is not None:
        raise SpecError("split applies only when there is a single set of digits (no training files)")
    n_train = _first(subset, "subset", len(train[0]))
    n_test = _first(test_subset, "test subset", len(test[0]))
    source.update(subset=subset, test_subset=test_subset)
    h, w = image_shape
    return Dataset(
        name="mnist",
        task="classification",
        x_train=train[0][:n_train],
        y_train=class_targets(train[1][:n_train], 10, np.float32),
        x_test=test[0][:n_test],
        y_test=class_targets(test[1][:n_test], 10, np.float32),
        feature_names=tuple(f"pixel {r},{c}" for r in range(h) for c in range(w)),
        target_names=tuple(str(d) for d in range(10)),
        source=source,
        x_scale=1 / 255,
        image_shape=(int(h), int(w)),
    )


Paths = list[str | os.PathLike[str] | None]


def _from_files(paths: Paths, source: dict[str, Any], **options: Any) -> Dataset:
    images, labels, test_images, test_labels = paths
    if images is None or labels is None or (test_images is None) != (test_labels is None):
        raise SpecError("give the images and labels files, and both test files or neither")
    x, y, shape = _read_pair(images, labels)
    test = None
    if test_images is not None and test_labels is not None:
        tx, ty, tshape = _read_pair(test_images, test_labels)
        if tshape != shape:
            raise FileFormatError(f"test images are {tshape}, training images {shape}")
        test = (tx, ty)
    return _assemble((x, y), test, shape, source, **options)


def load_mnist_files(
    images_path: str | os.PathLike[str],
    labels_path: str | os.PathLike[str],
    test_images_path: str | os.PathLike[str] | None = None,
    test_labels_path: str | os.PathLike[str] | None = None,
    *,
    subset: int | None = None,
    test_subset: int | None = None,
    split: Sequence[int] | None = None,
) -> Dataset:
    """MNIST from IDX files. Without test files, ``split=(n_train, n_test)`` (default 80/20)
    cuts the one set into first-n_train training and last-n_test test digits.
    ``subset`` / ``test_subset`` keep only the first N of each.
    """
    paths: Paths = [images_path, labels_path, test_images_path, test_labels_path]
    source = {"kind": "mnist", "files": [None if p is None else str(p) for p in paths]}
    return _from_files(paths, source, subset=subset, test_subset=test_subset, split=split)


def _find(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def load_mnist_dir(
    directory: str | os.PathLike[str] | None = None,
    *,
    subset: int | None = None,
    test_subset: int | None = None,
    split: Sequence[int] | None = None,
) -> Dataset:
    """MNIST from the four standard files (gzipped or not) in ``directory`` (default: the cache).

    A directory with only the t10k files gives a split of those (see ``load_mnist_files``).
    """
    directory = Path(directory) if directory is not None else default_cache_dir()
    found = {name: _find(directory, name) for name in FILES}
    test = [found[TEST_IMAGES], found[TEST_LABELS]]
    train = [found[TRAIN_IMAGES], found[TRAIN_LABELS]]
    if None in test or (None in train and train != [None, None]):
        missing = ", ".join(n for n, p in found.items() if p is None)
        raise FileFormatError(f"{directory}: MNIST files missing: {missing}")
    paths: Paths = [*test, None, None] if train == [None, None] else [*train, *test]
    # the default cache is named, not spelled out, so a saved session works on another machine
    in_cache = directory.resolve() == default_cache_dir().resolve()
    source = {"kind": "mnist", **({"cache": True} if in_cache else {"path": str(directory)})}
    return _from_files(paths, source, subset=subset, test_subset=test_subset, split=split)


def load_mnist_npz(
    path: str | os.PathLike[str], *, subset: int | None = None, test_subset: int | None = None
) -> Dataset:
    """MNIST from a Keras-style ``mnist.npz`` (x_train, y_train, x_test, y_test); no pickles, and
    each array's header is checked against what the file holds before it is read."""
    name = Path(path).name
    keys = ("x_train", "y_train", "x_test", "y_test")
    arrays = read_npz(path, keys, MAX_BYTES, "mnist.npz")
    missing = set(keys) - set(arrays)
    if missing:
        raise FileFormatError(f"{name}: missing arrays {', '.join(sorted(missing))}")
    x, labels = _digits(arrays["x_train"], arrays["y_train"], f"{name}: x_train", f"{name}: y_train")
    tx, tlabels = _digits(arrays["x_test"], arrays["y_test"], f"{name}: x_test", f"{name}: y_test")
    shape = arrays["x_train"].shape[1:]
    if arrays["x_test"].shape[1:] != shape:
        raise FileFormatError(
            f"{name}: test images are {arrays['x_test'].shape[1:]}, training images {shape}"
        )
    source = {"kind": "mnist", "path": str(path)}
    return _assemble((x, labels), (tx, tlabels), shape, source, subset, test_subset, None)


def dataset_from_source(args: dict[str, Any]) -> Dataset:
    """``make()``'s MNIST branch: ``path`` (directory or .npz), ``files`` or ``cache``, plus options."""
    args = dict(args)
    opts = {k: args.pop(k) for k in ("subset", "test_subset", "split") if k in args}
    if set(args) == {"files"} and isinstance(args["files"], list) and len(args["files"]) == 4:
        return load_mnist_files(*args["files"], **opts)
    if set(args) == {"cache"} and args["cache"] is True:
        return load_mnist_dir(None, **opts)
    if set(args) == {"path"} and isinstance(args["path"], str):
        if args["path"].endswith(".npz"):
            if "split" in opts:
                raise SpecError("split applies only to a single set of IDX digits, not to an .npz")
            return load_mnist_npz(args["path"], **opts)
        return load_mnist_dir(args["path"], **opts)
    raise SpecError(
        f"an MNIST source needs 'path' (a string), 'files' (4 paths) or 'cache': true; got {args!r}"
    )


def download_mnist(
    cache_dir: str | os.PathLike[str] | None = None,
    mirror: str = DEFAULT_MIRROR,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    *,
    files: Sequence[str] = FILES,
    checksums: dict[str, str] | None = None,
    timeout: float = 30.0,
    deadline: float = DEADLINE,
) -> Path:
    """Download the MNIST files into ``cache_dir`` (default ``default_cache_dir()``); returns it.

    Files already there with the right checksum are skipped (reported as complete).
    ``progress(file, done, total)`` follows each block; ``cancel()`` is asked every 50 ms.
    The server must answer within ``timeout`` s and keep sending (see ``fetch``); all the
    files together must arrive within ``deadline`` s.
    """
    ends_at = time.monotonic() + deadline
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    table = CHECKSUMS if checksums is None else checksums
    unknown = [f for f in files if f not in table]
    if unknown:
        raise SpecError(f"no checksum known for {', '.join(unknown)}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {directory}: {exc.strerror or exc}") from None
    for name in files:
        dest = directory / name
        if file_matches(dest, table[name]):
            if progress is not None:
                size = dest.stat().st_size
                progress(name, size, size)
            continue
        if cancel is not None and cancel():
            raise DownloadCancelled(f"download of {name} cancelled")
        try:
            fetch(
                mirror.rstrip("/") + "/" + name,
                dest,
                table[name],
                progress,
                cancel,
                timeout,
                MAX_DOWNLOAD,
                deadline=deadline,
                ends_at=ends_at,
            )
        except DownloadError:
            # A corrupt cached copy must not outlive a failed retry; a good one that another
            # download put there meanwhile stays.
            if dest.exists() and not file_matches(dest, table[name]):
                dest.unlink(missing_ok=True)
            raise
    return directory
