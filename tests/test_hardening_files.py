"""Hostile network files from the independent test corpus (issue 11): each refused with the
project's message, without using more memory than the network it describes needs."""

from __future__ import annotations

import bz2
import io
import json
import struct
import tracemalloc
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from fuzz_helpers import archive, members, meta_of, npy, saved_files, with_meta

from nnbench import cli
from nnbench.data import mnist
from nnbench.engine import Network, NetworkSpec, files
from nnbench.errors import FileFormatError

MiB = 1 << 20


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    return saved_files(tmp_path_factory.mktemp("originals"))


def raw_zip(entries: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip of (name, method, body, declared size, crc) members, written as given: no check."""
    out, central = b"", b""
    for name, method, body, size, crc in entries:
        n = name.encode()
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc,
                               len(body), size, len(n), 0, 0, 0, 0, 0, len(out)) + n
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(body), size,
                           len(n), 0) + n + body
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central),
                      len(out), 0)
    return out + central + end


def bzip2_of_zeros(size: int) -> bytes:
    c = bz2.BZ2Compressor(9)
    chunk = bytes(MiB)
    return b"".join(c.compress(chunk) for _ in range(size // MiB)) + c.flush()


def peak_while(fn) -> tuple[BaseException | None, int]:
    """(what ``fn`` raised, the peak traced allocation in bytes while it ran)."""
    tracemalloc.start()
    raised = None
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - returned for the test to judge
        raised = e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return raised, peak


def one_error_line(capsys, argv) -> str:
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == cli.EXIT_ERROR, err
    assert err.count("\n") == 0 and err.startswith("nnbench: error: "), err
    assert "internal error" not in err
    return err


# ---- 1, 8: members that cannot be read within their declared size -----------------------------

def test_a_bzip2_member_is_refused_unread(originals, tmp_path):
    entries = members(originals["bare"])
    rest = [(k, 0, v, len(v), zlib.crc32(v)) for k, v in entries.items() if k != "layer0.W.npy"]
    bomb = ("layer0.W.npy", 12, bzip2_of_zeros(64 * MiB), 100, 0)  # declares 100 bytes
    path = tmp_path / "bomb.npz"
    path.write_bytes(raw_zip([*rest, bomb]))
    assert path.stat().st_size < 8 * 1024
    raised, peak = peak_while(lambda: files.load(path))
    assert isinstance(raised, FileFormatError) and "bzip2" in str(raised), raised
    assert "bomb.npz" in str(raised)
    assert peak < 4 * MiB  # Python's zipfile would have inflated all 64 MiB


def test_a_bzip2_member_in_a_keras_mnist_npz_is_refused_unread(tmp_path):
    x = npy(np.zeros((2, 28, 28), np.uint8))
    y = npy(np.zeros(2, np.uint8))
    entries = [(k, 0, v, len(v), zlib.crc32(v)) for k, v in
               (("x_train.npy", x), ("y_train.npy", y), ("x_test.npy", x))]
    entries.append(("y_test.npy", 12, bzip2_of_zeros(64 * MiB), 80, 0))
    path = tmp_path / "mnist.npz"
    path.write_bytes(raw_zip(entries))
    raised, peak = peak_while(lambda: mnist.load_mnist_npz(path))
    assert isinstance(raised, FileFormatError) and "bzip2" in str(raised), raised
    assert peak < 4 * MiB


@pytest.mark.parametrize("honest", [True, False])
def test_an_lzma_member_is_refused_with_a_message(originals, tmp_path, capsys, honest):
    entries = members(originals["trained"])
    path = tmp_path / "lzma.npz"
    if honest:  # a real LZMA member: readable, but not within a bound, so never read
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for k, v in entries.items():
                zf.writestr(k, v, compress_type=zipfile.ZIP_LZMA if k == "layer0.W.npy" else 0)
        path.write_bytes(buf.getvalue())
    else:  # marked LZMA, holding garbage: raised LZMAError
        raw = [(k, 0, v, len(v), zlib.crc32(v)) for k, v in entries.items() if k != "layer0.W.npy"]
        path.write_bytes(raw_zip([*raw, ("layer0.W.npy", 14, b"\x09\x14\x05\x00garbage" * 4, 200, 0)]))
    err = one_error_line(capsys, ["train", str(path), "--epochs", "1"])
    assert "LZMA" in err and "lzma.npz" in err


# ---- 11: a name held twice -------------------------------------------------------------------

@pytest.mark.parametrize("member", ["layer0.W.npy", "nnbench.json.npy"])
def test_a_member_held_twice_is_refused(originals, tmp_path, member):
    entries = members(originals["bare"])
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as zf:
        warnings.simplefilter("ignore")  # zipfile warns "Duplicate name"
        for k, v in entries.items():
            zf.writestr(k, v)
        if member == "layer0.W.npy":
            zf.writestr(member, npy(np.full((2, 3), 7.0)))
        else:
            zf.writestr(member, entries[member])
    path = tmp_path / "twice.npz"
    path.write_bytes(buf.getvalue())
    with pytest.raises(FileFormatError, match=f"twice.npz holds '{member}' twice"):
        files.load(path)


# ---- 2, 4: sizes bounded by the architecture ---------------------------------------------------

def test_a_record_without_weights_is_refused_before_building_the_network(originals, tmp_path):
    entries = members(originals["bare"])
    meta = meta_of(entries)
    meta["network"] = NetworkSpec.mlp([20000, 1500, 1]).to_dict()  # 30 M weights, 240 MB
    path = tmp_path / "json-only.npz"
    path.write_bytes(archive({files.META + ".npy": with_meta(entries, meta)[files.META + ".npy"]}))
    raised, peak = peak_while(lambda: files.load(path))
    assert isinstance(raised, FileFormatError), raised
    assert "json-only.npz has no weights for layer0.W" in str(raised)
    assert peak < 4 * MiB


def test_weights_of_the_wrong_shape_are_refused_before_they_are_read(originals, tmp_path):
    # Within the old allowance (8 times the file's size): a 2-3-1 network whose first weights
    # declare 6.4 MB of zeros, beside 1 MiB of noise that makes the file large enough.
    entries = members(originals["bare"])
    entries["layer0.W.npy"] = npy(np.zeros((2, 400_000)))
    entries["padding.npy"] = npy(np.random.default_rng(0).integers(0, 255, MiB, dtype=np.uint8))
    path = tmp_path / "lying.npz"
    path.write_bytes(archive(entries, compress=True))
    assert 8 * path.stat().st_size > 6_400_000
    raised, peak = peak_while(lambda: files.load(path))
    assert isinstance(raised, FileFormatError), raised
    assert "layer0.W declares 6,400,128 bytes; a 2x3 parameter needs at most" in str(raised)
    assert peak < path.stat().st_size + 2 * MiB  # the file itself, not what it declares


def test_history_longer_than_the_epochs_trained_is_refused_unread(originals, tmp_path):
    entries = members(originals["trained"])
    epochs = meta_of(entries)["epoch"]
    for key in ("epoch", "train_loss", "test_loss", "train_acc", "test_acc"):
        entries[f"history.{key}.npy"] = npy(np.zeros(500_000))
    path = tmp_path / "history.npz"
    path.write_bytes(archive(entries, compress=True))
    raised, peak = peak_while(lambda: files.load(path))
    assert isinstance(raised, FileFormatError), raised
    assert f"more than {epochs} epochs of history" in str(raised)
    assert peak < 4 * MiB


# ---- 6: numbers that overflowed ----------------------------------------------------------------

def write_meta_change(originals, tmp_path, change) -> str:
    entries = members(originals["trained"])
    meta = meta_of(entries)
    change(meta)
    path = tmp_path / "changed.npz"
    path.write_bytes(archive(with_meta(entries, meta)))
    return str(path)


def _set_rng(meta, key, value):
    if key in ("state", "inc"):
        meta["rng"]["state"][key] = value
    else:
        meta["rng"][key] = value


@pytest.mark.parametrize("change,message", [
    (lambda m: m.update(epoch=10**400), "'epoch' must be a whole number"),
    (lambda m: m.update(step=-(10**400)), "'step' must be a whole number"),
    (lambda m: _set_rng(m, "state", -1), "random generator's state is damaged"),
    (lambda m: _set_rng(m, "inc", 2**200), "random generator's state is damaged"),
    (lambda m: _set_rng(m, "state", 1.5), "random generator's state is damaged"),
    (lambda m: _set_rng(m, "uinteger", 2**40), "random generator's state is damaged"),
    (lambda m: _set_rng(m, "has_uint32", -1), "random generator's state is damaged"),
    (lambda m: m.update(rng={"bit_generator": "PCG64"}), "random generator's state is damaged"),
])
def test_counters_and_generator_states_that_overflowed_get_a_message(originals, tmp_path, capsys,
                                                                      change, message):
    path = write_meta_change(originals, tmp_path, change)
    err = one_error_line(capsys, ["train", path, "--epochs", "1"])
    assert message in err and "changed.npz" in err


def write_opt_change(originals, tmp_path, key, value) -> str:
    entries = members(originals["trained"])  # trained with Adam
    assert f"opt.{key}.npy" in entries
    entries[f"opt.{key}.npy"] = npy(value)
    path = tmp_path / "opt.npz"
    path.write_bytes(archive(entries))
    return str(path)


@pytest.mark.filterwarnings("error")  # damaged state once printed warning after warning
@pytest.mark.parametrize("key,value,message", [
    ("t", np.array([np.nan]), "step count nan is not a whole number"),
    ("t", np.array([np.inf]), "step count inf is not a whole number"),
    ("t", np.array([-1]), "step count -1.0 is not a whole number"),
    ("t", np.array([2.5]), "step count 2.5 is not a whole number"),
    ("layer0.W.m", np.full((3, 4), np.nan), "opt.layer0.W.m holds NaN or infinite values"),
    ("layer0.W.v", np.full((3, 4), -1.0), "negative second moments"),
    ("layer0.W.m", np.full((3, 4), 1e100), "not moments Adam can reach"),
    ("layer0.W.v", np.zeros((3, 5)), "opt.layer0.W.v has shape (3, 5), the network needs (3, 4)"),
])
def test_damaged_optimizer_state_gets_one_message(originals, tmp_path, capsys, key, value, message):
    path = write_opt_change(originals, tmp_path, key, value)
    err = one_error_line(capsys, ["train", path, "--epochs", "2"])
    assert message in err and "opt.npz" in err


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("key,value", [("opt.layer0.W.m", 1e200), ("opt.layer0.W.v", 1e300),
                                       ("layer0.W", 1e155), ("layer1.W", -1e308)])
def test_values_too_large_to_compute_with_are_refused(originals, tmp_path, capsys, key, value):
    entries = members(originals["trained"])
    shape = np.load(io.BytesIO(entries[f"{key}.npy"])).shape
    entries[f"{key}.npy"] = npy(np.full(shape, value))
    path = tmp_path / "large.npz"
    path.write_bytes(archive(entries))
    err = one_error_line(capsys, ["train", str(path), "--epochs", "2"])
    assert f"{key} holds values above 1.34e+154, too large to compute with in float64" in err


def test_undamaged_optimizer_state_still_continues_exactly(originals, tmp_path):
    path = tmp_path / "ok.npz"
    path.write_bytes(originals["trained"])
    saved = files.load(path)
    assert set(saved.optimizer_state) == {"t", *(f"{p}.{m}" for p in saved.weights for m in "mv")}
    assert saved.optimizer_state["t"].dtype == np.int64 and saved.optimizer_state["t"][0] > 0


# ---- 9: finite only before the conversion ------------------------------------------------------

@pytest.mark.filterwarnings("error")
def test_float64_weights_that_overflow_float32_are_refused(tmp_path, capsys):
    spec = NetworkSpec.mlp([2, 3, 1], dtype="float32")
    path = tmp_path / "big.npz"
    files.save(path, Network(spec))
    entries = members(path.read_bytes())
    entries["layer0.W.npy"] = npy(np.full((2, 3), 1e300))
    path.write_bytes(archive(entries))
    err = one_error_line(capsys, ["predict", str(path), "--input", "1,0"])
    assert "layer0.W holds NaN or infinite values as float32" in err


def test_float64_weights_that_fit_float32_load_converted(tmp_path):
    spec = NetworkSpec.mlp([2, 3, 1], dtype="float32")
    path = tmp_path / "fits.npz"
    files.save(path, Network(spec))
    entries = members(path.read_bytes())
    entries["layer0.W.npy"] = npy(np.full((2, 3), 0.25))
    path.write_bytes(archive(entries))
    w = files.load(path).weights["layer0.W"]
    assert w.dtype == np.float32 and np.all(w == 0.25)


def test_the_record_has_a_bound_of_its_own(originals, tmp_path):
    entries = members(originals["bare"])
    meta = meta_of(entries)
    meta["extra"] = {"padding": "x" * (2 * MiB)}  # 8 MiB as a .npy of UCS-4
    path = tmp_path / "record.npz"
    path.write_bytes(archive(with_meta(entries, meta), compress=True))
    raised, peak = peak_while(lambda: files.load(path))
    assert isinstance(raised, FileFormatError) and "the nnbench.json record declares" in str(raised)
    assert peak < 4 * MiB


def test_members_of_no_use_to_the_network_are_not_read(originals, tmp_path):
    entries = members(originals["bare"])
    entries["layer7.W.npy"] = b"not even a .npy"
    path = tmp_path / "extra.npz"
    path.write_bytes(archive(entries))
    assert files.load(path).spec == files.loads(originals["bare"]).spec


def test_a_json_record_in_the_file_is_still_plain_numpy(originals):
    f = np.load(io.BytesIO(originals["trained"]))
    assert json.loads(str(f["nnbench.json"]))["format"] == "nnbench"
