"""MNIST loaders on small generated files, and the downloader against a real local server."""

import gzip
import hashlib
import json
import socket
from pathlib import Path

import numpy as np
import pytest
from mnist_server import Server

from nnbench.data import (
    DownloadCancelled,
    default_cache_dir,
    download_mnist,
    load_mnist_dir,
    load_mnist_files,
    load_mnist_npz,
    make,
    read_idx,
    write_idx,
)
from nnbench.data.idx import idx_bytes
from nnbench.data.mnist import (
    CHECKSUMS,
    FILES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
)
from nnbench.errors import DownloadError, FileFormatError, SpecError

REAL = Path("/work/shared/datasets/mnist")


def digits(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), (np.arange(n) % 10).astype(np.uint8)


@pytest.fixture
def mnist_files():
    """The four standard files' gzipped bytes: 200 training digits, 30 test digits."""
    (tx, tl), (vx, vl) = digits(200, 1), digits(30, 2)
    arrays = {TRAIN_IMAGES: tx, TRAIN_LABELS: tl, TEST_IMAGES: vx, TEST_LABELS: vl}
    return {name: gzip.compress(idx_bytes(a), mtime=0) for name, a in arrays.items()}


def md5s(files):
    return {name: hashlib.md5(data).hexdigest() for name, data in files.items()}


# ---- loaders -------------------------------------------------------------------------------


def test_load_dir(tmp_path, mnist_files):
    for name, data in mnist_files.items():
        (tmp_path / name).write_bytes(data)
    ds = load_mnist_dir(tmp_path, subset=50, test_subset=20)
    assert ds.x_train.shape == (50, 784) and ds.x_train.dtype == np.uint8
    assert ds.y_train.shape == (50, 10) and ds.y_train.dtype == np.float32
    assert ds.x_test.shape == (20, 784) and ds.image_shape == (28, 28)
    assert ds.x_scale == pytest.approx(1 / 255) and ds.target_names == tuple("0123456789")
    assert ds.labels_of(ds.y_train).tolist() == [i % 10 for i in range(50)]
    assert np.array_equal(ds.x_train[3], digits(200, 1)[0][3].ravel())
    assert ds.features(ds.x_train).max() <= 1.0
    again = make(json.loads(json.dumps(ds.source)))
    assert np.array_equal(again.x_test, ds.x_test) and again.source == ds.source


def test_load_dir_accepts_unzipped_files(tmp_path, mnist_files):
    for name, data in mnist_files.items():
        (tmp_path / name.removesuffix(".gz")).write_bytes(gzip.decompress(data))
    assert len(load_mnist_dir(tmp_path).x_train) == 200


def test_test_files_only_are_split(tmp_path, mnist_files):
    for name in (TEST_IMAGES, TEST_LABELS):
        (tmp_path / name).write_bytes(mnist_files[name])
    ds = load_mnist_dir(tmp_path)
    assert len(ds.x_train) == 24 and len(ds.x_test) == 6 and ds.source["split"] == [24, 6]
    ds = load_mnist_dir(tmp_path, split=(10, 5))
    images = digits(30, 2)[0].reshape(30, -1)
    assert np.array_equal(ds.x_train, images[:10]) and np.array_equal(ds.x_test, images[25:])
    assert np.array_equal(make(ds.source).x_test, ds.x_test)
    with pytest.raises(SpecError, match="split"):
        load_mnist_dir(tmp_path, split=(20, 20))


def test_missing_and_mismatched_files(tmp_path, mnist_files):
    (tmp_path / TEST_IMAGES).write_bytes(mnist_files[TEST_IMAGES])
    with pytest.raises(FileFormatError, match="MNIST files missing: .*t10k-labels"):
        load_mnist_dir(tmp_path)
    (tmp_path / TEST_LABELS).write_bytes(mnist_files[TRAIN_LABELS])  # 200 labels for 30 images
    with pytest.raises(FileFormatError, match="has 30 images but t10k-labels-idx1-ubyte.gz 200 labels"):
        load_mnist_dir(tmp_path)
    bad = write_idx(tmp_path / "labels.idx", np.array([1, 12], dtype=np.uint8))
    images = write_idx(tmp_path / "images.idx", np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(FileFormatError, match="labels.idx: labels must be digits 0-9"):
        load_mnist_files(images, bad)
    with pytest.raises(FileFormatError, match="labels.idx: images must be n x height x width"):
        load_mnist_files(bad, bad)
    good = write_idx(tmp_path / "good.idx", np.array([1, 2], dtype=np.uint8))
    with pytest.raises(SpecError, match="subset must be"):
        load_mnist_files(images, good, subset=0)


def test_npz(tmp_path):
    (tx, tl), (vx, vl) = digits(40, 3), digits(10, 4)
    path = tmp_path / "mnist.npz"
    np.savez_compressed(path, x_train=tx, y_train=tl, x_test=vx, y_test=vl)
    ds = load_mnist_npz(path, subset=30)
    assert ds.x_train.shape == (30, 784) and ds.x_test.shape == (10, 784)
    assert np.array_equal(make(ds.source).x_train, ds.x_train)


def test_npz_refuses_pickles_and_missing_arrays(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x_train=np.array([{"a": 1}], dtype=object))
    with pytest.raises(FileFormatError, match="evil.npz"):
        load_mnist_npz(path)
    np.savez(path, x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(FileFormatError, match="missing arrays x_test, y_test, y_train"):
        load_mnist_npz(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(FileFormatError, match="evil.npz: not a readable"):
        load_mnist_npz(path)


def test_cache_dir_source_names_the_cache_not_the_path(monkeypatch, tmp_path, mnist_files):
    monkeypatch.setenv("NNBENCH_DATA_DIR", str(tmp_path))
    for name, data in mnist_files.items():
        (tmp_path / "mnist").mkdir(exist_ok=True)
        (tmp_path / "mnist" / name).write_bytes(data)
    ds = load_mnist_dir(subset=10)
    assert ds.source == {"kind": "mnist", "cache": True, "subset": 10, "test_subset": None}
    assert np.array_equal(make(ds.source).x_train, ds.x_train)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("NNBENCH_DATA_DIR", str(tmp_path / "d"))
    assert default_cache_dir() == tmp_path / "d" / "mnist"
    monkeypatch.delenv("NNBENCH_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "nnbench" / "mnist"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_cache_dir() == Path.home() / ".local" / "share" / "nnbench" / "mnist"


@pytest.mark.skipif(not REAL.is_dir(), reason="no real MNIST test set on this machine")
def test_real_t10k_files():
    labels = read_idx(REAL / TEST_LABELS)
    assert len(labels) == 10000 and np.bincount(labels, minlength=10).sum() == 10000
    ds = load_mnist_dir(REAL)
    assert ds.x_train.shape == (8000, 784) and ds.x_test.shape == (2000, 784)
    assert ds.y_train.sum() + ds.y_test.sum() == 10000
    for name in (TEST_IMAGES, TEST_LABELS):
        assert hashlib.md5((REAL / name).read_bytes()).hexdigest() == CHECKSUMS[name]


# ---- downloads against a local server ----------------------------------------------------


@pytest.fixture
def server(mnist_files):
    s = Server(mnist_files)
    yield s
    s.close()


def leftovers(directory):
    return sorted(p.name for p in Path(directory).iterdir()) if Path(directory).exists() else []


def test_download_then_cache_hit(tmp_path, server, mnist_files):
    seen = []
    cache = tmp_path / "cache"
    out = download_mnist(cache, server.url, progress=lambda *a: seen.append(a), checksums=md5s(mnist_files))
    assert out == cache and leftovers(cache) == sorted(FILES)
    assert server.requests == list(FILES)
    assert seen[-1] == (TEST_LABELS, len(mnist_files[TEST_LABELS]), len(mnist_files[TEST_LABELS]))
    assert all(0 < done <= total for _, done, total in seen)
    assert len(load_mnist_dir(cache).x_train) == 200

    seen.clear()
    download_mnist(cache, server.url, progress=lambda *a: seen.append(a), checksums=md5s(mnist_files))
    assert server.requests == list(FILES)  # nothing asked the second time
    assert [s[0] for s in seen] == list(FILES) and all(s[1] == s[2] for s in seen)


def test_corrupt_cached_file_is_fetched_again(tmp_path, server, mnist_files):
    (tmp_path / TEST_LABELS).write_bytes(b"garbage")
    download_mnist(tmp_path, server.url, files=[TEST_LABELS], checksums=md5s(mnist_files))
    assert server.requests == [TEST_LABELS]
    assert (tmp_path / TEST_LABELS).read_bytes() == mnist_files[TEST_LABELS]


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("500", "answered 500"),
        ("404", "answered 404"),
        ("truncate", "truncated"),
        ("stall", "no answer within"),
    ],
)
def test_server_failures_leave_nothing(tmp_path, server, mnist_files, mode, words):
    server.mode = mode
    with pytest.raises(DownloadError, match=words):
        download_mnist(tmp_path / "c", server.url, checksums=md5s(mnist_files), timeout=0.3)
    assert leftovers(tmp_path / "c") == []


def test_checksum_mismatch_leaves_nothing(tmp_path, server, mnist_files):
    sums = {**md5s(mnist_files), TRAIN_IMAGES: "0" * 32}
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download_mnist(tmp_path, server.url, checksums=sums)
    assert leftovers(tmp_path) == []


def test_sha256_checksums_work(tmp_path, server, mnist_files):
    sums = {n: hashlib.sha256(d).hexdigest() for n, d in mnist_files.items()}
    download_mnist(tmp_path, server.url, files=[TEST_LABELS], checksums=sums)
    assert leftovers(tmp_path) == [TEST_LABELS]


def test_cancel_mid_file(tmp_path, server, mnist_files):
    assert len(mnist_files[TRAIN_IMAGES]) > 2 * 64 * 1024  # several chunks, so cancel falls mid-file
    seen = []
    with pytest.raises(DownloadCancelled, match="cancelled"):
        download_mnist(
            tmp_path,
            server.url,
            progress=lambda *a: seen.append(a),
            cancel=lambda: len(seen) >= 1,
            checksums=md5s(mnist_files),
        )
    assert len(seen) == 1 and seen[0][1] < seen[0][2]
    assert leftovers(tmp_path) == []


def test_unreachable_mirror(tmp_path):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match="cannot connect"):
        download_mnist(tmp_path, f"http://127.0.0.1:{port}/", files=[TEST_LABELS], timeout=2)
    assert leftovers(tmp_path) == []


def test_unknown_checksum_is_refused(tmp_path):
    with pytest.raises(SpecError, match="no checksum known for extra.gz"):
        download_mnist(tmp_path, "http://127.0.0.1:1/", files=["extra.gz"])
