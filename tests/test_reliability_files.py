"""Loader fuzzing: damaged and hostile network/experiment files load cleanly or raise NnbenchError.

A few hundred cases run in the default suite; ``python -m pytest -m slow`` runs over 10,000.
"""

from __future__ import annotations

import io
import json
import tracemalloc

import numpy as np
import pytest
from fuzz_helpers import (
    archive,
    check_load,
    flip,
    lie_sizes,
    members,
    meta_of,
    npy,
    npy_header_lie,
    region_cuts,
    saved_files,
    truncate,
    with_meta,
    zip_bomb,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnbench.engine import files
from nnbench.errors import FileFormatError, NnbenchError
from nnbench.experiment import load_experiment

FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
SLOW = settings(max_examples=2500, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    return saved_files(tmp_path_factory.mktemp("originals"))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "case.npz"


def run(scratch, data: bytes) -> str:
    scratch.write_bytes(data)
    return check_load(scratch)


# ---- strategies -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
META_KEYS = ["format", "version", "network", "training", "epoch", "step", "rng", "dataset", "extra"]
NESTED = [("network", "n_inputs"), ("network", "layers"), ("network", "init"), ("network", "dtype"),
          ("training", "lr"), ("training", "batch_size"), ("training", "loss"), ("training", "optimizer"),
          ("training", "epochs"), ("dataset", "kind"), ("extra", "experiment")]
DTYPES = ["<f4", "<f8", "<f2", ">f8", "<i8", "|u1", "|b1", "<c16", "<U3", "|S2", "|O", "<V8",
          "[('a', '<f8')]"]
shapes = st.lists(st.integers(0, 6), min_size=0, max_size=3).map(tuple)
huge_shapes = st.lists(st.sampled_from([0, 1, 3, 2**31, 2**40, 2**62, 2**63 - 1]),
                       min_size=1, max_size=3).map(tuple)


@st.composite
def structured(draw, original: bytes) -> bytes:
    """A well-formed archive whose content is wrong in one or two ways."""
    entries = members(original)
    names = sorted(entries)
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["meta_key", "meta_nested", "meta_drop", "meta_extra", "meta_raw",
                                     "shape", "dtype", "header_lie", "drop_member", "extra_member",
                                     "rename", "nan"]))
        member = draw(st.sampled_from(names))
        if kind.startswith("meta"):
            try:
                meta = meta_of(entries)
            except Exception:  # an earlier mutation already broke the record
                meta = {}
            if not isinstance(meta, dict):
                meta = {}
            if kind == "meta_key":
                meta[draw(st.sampled_from(META_KEYS))] = draw(json_values)
            elif kind == "meta_nested":
                outer, inner = draw(st.sampled_from(NESTED))
                if isinstance(meta.get(outer), dict):
                    meta[outer][inner] = draw(json_values)
            elif kind == "meta_drop":
                meta.pop(draw(st.sampled_from(META_KEYS)), None)
            elif kind == "meta_extra":
                meta[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
            if kind == "meta_raw":
                raw = draw(st.sampled_from([np.array("{"), np.array(b"{}"), np.array(["{}"]),
                                            np.array(1.0), np.array("[]"), np.array("1e999"),
                                            np.array("[" * 100_000 + "]" * 100_000)]))
                entries[files.META + ".npy"] = npy(raw)
            else:
                entries = with_meta(entries, meta)
        elif kind == "shape":
            entries[member] = npy(np.zeros(draw(shapes)))
        elif kind == "dtype":
            descr = draw(st.sampled_from(DTYPES))
            entries[member] = npy_header_lie(entries[member], draw(shapes), descr)
        elif kind == "header_lie":
            entries[member] = npy_header_lie(entries[member], draw(huge_shapes),
                                             draw(st.sampled_from(DTYPES)))
        elif kind == "drop_member":
            entries.pop(member, None)
        elif kind == "extra_member":
            name = draw(st.sampled_from(["opt.layer0.W.m.npy", "history.x.npy", "z.npy", "layer9.W.npy"]))
            entries[name] = npy(np.zeros(draw(shapes)))
        elif kind == "rename":
            new = draw(st.sampled_from(["../x.npy", "/etc/x.npy", "a/b.npy", "..\\x.npy", "x.txt",
                                        "layer0.W", "a/", ".npy", "nnbench.json.npy", "ü.npy"]))
            if member in entries:
                entries[new] = entries.pop(member)
        elif kind == "nan":
            try:
                arr = np.load(io.BytesIO(entries[member]), allow_pickle=False)
            except Exception:  # an earlier mutation already broke this member
                arr = np.zeros(0)
            if arr.dtype.kind == "f" and arr.size:
                arr = arr.copy()
                arr.flat[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
                entries[member] = npy(arr)
        names = sorted(entries) or ["none.npy"]
    return archive(entries, compress=draw(st.booleans()))


@st.composite
def byte_level(draw, original: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "lie", "splice"]))
    if kind == "flip":
        n = draw(st.integers(1, 8))
        pos = draw(st.lists(st.integers(0, len(original) - 1), min_size=n, max_size=n))
        masks = draw(st.lists(st.integers(1, 255), min_size=n, max_size=n))
        return flip(original, pos, masks)
    if kind == "truncate":
        return truncate(original, draw(st.integers(0, len(original))))
    if kind == "lie":
        return lie_sizes(original, draw(st.integers(0, 20)),
                         draw(st.sampled_from([0, 1, 7, 2**20, 2**31 - 1, 2**32 - 1])))
    at = draw(st.integers(0, len(original)))
    return original[:at] + draw(st.binary(max_size=64)) + original[at + draw(st.integers(0, 64)):]


def mutants(originals_):
    which = st.sampled_from(sorted(originals_))
    return which.flatmap(lambda k: st.one_of(byte_level(originals_[k]), structured(originals_[k])))


def fuzz(originals_, scratch_, config):
    outcomes: dict[str, int] = {}

    @config
    @given(mutants(originals_))
    def case(data):
        result = run(scratch_, data)
        outcomes[result] = outcomes.get(result, 0) + 1

    case()
    return outcomes


# ---- the tests --------------------------------------------------------------------------------

def test_the_originals_load(originals, scratch):
    for data in originals.values():
        assert run(scratch, data) in ("ok/refused", "ok/ok")


def test_truncated_at_every_region_boundary_is_refused(originals, scratch):
    count = 0
    for data in originals.values():
        for cut in region_cuts(data):
            if cut < len(data):
                assert run(scratch, data[:cut]) == "refused/refused", cut
                count += 1
    assert count > 100


def test_fuzzed_files_load_or_are_refused_cleanly(originals, scratch):
    outcomes = fuzz(originals, scratch, settings(FAST, max_examples=300))
    assert sum(outcomes.values()) >= 250 and "refused/refused" in outcomes


@pytest.mark.slow
def test_fuzzed_files_ten_thousand_cases(originals, scratch):
    total: dict[str, int] = {}
    for _ in range(5):  # five runs of 2,500: hypothesis stops early when it runs out of ideas
        for outcome, count in fuzz(originals, scratch, SLOW).items():
            total[outcome] = total.get(outcome, 0) + count
    print(f"fuzzed {sum(total.values())} cases (network load/experiment load): {total}")
    total = sum(total.values())
    assert total >= 10_000


@pytest.mark.parametrize("shape", [(2**62,), (2**31, 2**31), (2**40, 3), (3, 2**40)])
def test_huge_declared_array_sizes_allocate_nothing(originals, scratch, shape):
    entries = members(originals["bare"])
    entries["layer0.W.npy"] = npy_header_lie(entries["layer0.W.npy"], shape)
    tracemalloc.start()
    try:
        assert run(scratch, archive(entries)) == "refused/refused"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20


@pytest.mark.parametrize("value", [2**31 - 1, 2**32 - 1])
def test_lying_zip_sizes_allocate_nothing(originals, scratch, value):
    tracemalloc.start()
    try:
        for which in range(8):
            assert run(scratch, lie_sizes(originals["trained"], which, value)) == "refused/refused"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20


def test_a_zip_bomb_is_refused_before_it_expands(scratch):
    bomb = zip_bomb(256 << 20)  # 256 MiB of zeros in about 256 KiB
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    try:
        scratch.write_bytes(bomb)
        with pytest.raises(FileFormatError, match="declares|no nnbench.json record"):
            files.load(scratch)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20


@pytest.mark.parametrize("name", ["../x.npy", "../../etc/passwd.npy", "/abs.npy", "dir/layer0.W.npy",
                                  "..\\x.npy"])
def test_zip_slip_names_are_refused_and_nothing_is_written(originals, scratch, name):
    entries = members(originals["bare"])
    entries[name] = entries.pop("layer0.W.npy")
    scratch.write_bytes(archive(entries))
    before = sorted(p.name for p in scratch.parent.parent.iterdir())
    with pytest.raises(FileFormatError, match="unexpected entry"):
        files.load(scratch)
    assert sorted(p.name for p in scratch.parent.parent.iterdir()) == before


def test_a_pickled_member_is_refused_without_running_it(originals, scratch, tmp_path):
    import pickle

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    entries = members(originals["bare"])
    raw = pickle.dumps(np.array([Evil()], dtype=object))
    entries["layer0.W.npy"] = npy_header_lie(b"\x93NUMPY\x01\x00\x00\x00" + raw, (1,), "|O")
    assert run(scratch, archive(entries)) == "refused/refused"
    assert not marker.exists()


# ---- experiment .json files -------------------------------------------------------------------

@settings(FAST, max_examples=150)
@given(st.data())
def test_fuzzed_experiment_json_loads_or_is_refused(tmp_path_factory, data):
    from nnbench import presets

    d = presets.load_preset(data.draw(st.sampled_from(presets.names()))).to_dict()
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from([*d, "colour"]))
        target = d
        if isinstance(d.get(key), dict) and data.draw(st.booleans()):
            target = d[key]
            key = data.draw(st.sampled_from([*target, "x"] if target else ["x"]))
        if data.draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = data.draw(json_values)
    text = json.dumps(d)
    if data.draw(st.booleans()):
        text = text[: data.draw(st.integers(0, len(text)))]
    path = tmp_path_factory.mktemp("json") / "exp.json"
    path.write_text(text)
    try:
        load_experiment(path)
    except NnbenchError as e:
        assert str(e)


def test_other_kinds_of_file_are_refused(tmp_path):
    cases = {"empty.npz": b"", "pk.npz": b"PK", "text.json": b"hello", "bin.json": bytes(range(256)),
             "nested.json": b"[" * 200_000, "huge_int.json": b'{"version": 1' + b"0" * 5000 + b"}"}
    for name, raw in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(NnbenchError):
            load_experiment(tmp_path / name)
    with pytest.raises(NnbenchError):
        load_experiment(tmp_path)  # a directory
    with pytest.raises(NnbenchError):
        load_experiment(tmp_path / "missing.npz")
    assert np.isfinite(0)


# ---- IDX (MNIST) files --------------------------------------------------------------------------

@settings(FAST, max_examples=200)
@given(st.booleans(), st.data())
def test_fuzzed_idx_files_load_or_are_refused(gz, data):
    import gzip

    from nnbench.data.idx import idx_bytes, read_idx

    raw = idx_bytes(np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5))
    if gz:
        raw = gzip.compress(raw, mtime=0)
    kind = data.draw(st.sampled_from(["flip", "truncate", "splice"]))
    if kind == "flip":
        raw = flip(raw, data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=4)),
                   data.draw(st.lists(st.integers(1, 255), min_size=4, max_size=4)))
    elif kind == "truncate":
        raw = truncate(raw, data.draw(st.integers(0, len(raw))))
    else:
        at = data.draw(st.integers(0, 16))
        raw = raw[:at] + data.draw(st.binary(max_size=16)) + raw[at:]
    try:
        array = read_idx(raw)
    except FileFormatError as e:
        assert str(e)
    else:
        assert array.size * array.itemsize <= 4 * len(raw) + 64 or gz
