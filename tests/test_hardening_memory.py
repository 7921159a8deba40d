"""Issue 11, items 3 and 5: networks and datasets that would need more memory than there is are
refused before anything is allocated, with the figure; the estimate is checked against what
NumPy really allocates."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from hardening_helpers import GiB, run_cli_limited

from nnbench.data import make
from nnbench.engine import LayerSpec, NetworkSpec, TrainConfig
from nnbench.engine.memory import SMALL, available_bytes, check_memory, estimate_bytes, human, shape
from nnbench.errors import SpecError, TooLargeError
from nnbench.experiment import Experiment

MiB = 1 << 20
SPIRAL = {"kind": "generator", "name": "spiral", "n": 400, "noise": 0.1, "test_fraction": 0.5, "seed": 0}


def experiment(sizes, optimizer="sgd", batch=0, dtype="float64", source=SPIRAL) -> Experiment:
    spec = NetworkSpec.mlp(sizes, dtype=dtype)
    return Experiment("big", "big", "", source, spec,
                      TrainConfig(optimizer=optimizer, batch_size=batch, epochs=1))


@pytest.mark.parametrize("sizes,optimizer,batch,dtype", [
    ([2, 64, 1], "momentum", 10, "float64"),
    ([2, 256, 256, 1], "adam", 50, "float64"),
    ([2, 512, 512, 512, 1], "sgd", 0, "float32"),
    ([2, 1024, 1024, 1], "adam", 0, "float32"),
    ([2, 1500, 1500, 1], "sgd", 7, "float64"),
])
def test_the_estimate_is_above_what_training_allocates_and_not_far_above(sizes, optimizer, batch, dtype):
    exp = experiment(sizes, optimizer, batch, dtype)
    ds = exp.make_dataset()
    tracemalloc.start()
    try:
        exp.build(ds)[2].run(2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rows = len(ds.x_train)
    estimate = estimate_bytes(exp.network, batch=min(batch or rows, rows), optimizer=optimizer,
                              eval_rows=len(ds.x_test))
    assert peak <= estimate <= 2.5 * peak + SMALL


def test_inference_needs_less_than_training():
    spec = NetworkSpec.mlp([784, 512, 10])
    assert estimate_bytes(spec, batch=1, optimizer=None) < estimate_bytes(spec, batch=1, optimizer="sgd") \
        < estimate_bytes(spec, batch=1, optimizer="adam") < estimate_bytes(spec, batch=512, optimizer="adam")
    assert estimate_bytes(spec, batch=1, dtype="float32") < estimate_bytes(spec, batch=1, dtype="float64")


def test_the_refusal_gives_both_figures_in_human_units():
    spec = NetworkSpec(2, (*[LayerSpec(4096, "tanh")] * 63, LayerSpec(1, "sigmoid")))
    with pytest.raises(TooLargeError) as info:
        check_memory(spec, batch=128, optimizer="adam", available=3 * GiB)
    message = str(info.value)
    needed = estimate_bytes(spec, batch=128, optimizer="adam")
    assert needed > 50 * GiB
    assert f"needs about {human(needed)} of memory, but only 3.0 GiB is available" in message
    assert "2-4096x63-1 network (1,040,457,729 weights" in message
    assert "use fewer or smaller layers" in message
    assert isinstance(info.value, SpecError)  # the window shows setting errors as it is
    assert check_memory(spec, batch=128, optimizer="adam", available=needed) == needed


def test_available_memory_is_known_here():
    free = available_bytes()
    assert free is not None and 16 * MiB < free < 1 << 50


def test_shapes_and_units_read_well():
    assert shape(NetworkSpec.mlp([784, 128, 10])) == "784-128-10"
    assert shape(NetworkSpec.mlp([2, 8, 8, 1])) == "2-8-8-1"
    assert shape(NetworkSpec.mlp([2, 8, 8, 8, 1])) == "2-8x3-1"
    assert [human(n) for n in (100, 3 * 1024, 5.5 * MiB, 250 * GiB)] == \
        ["100 bytes", "3.0 KiB", "5.5 MiB", "250 GiB"]


def test_a_network_of_tens_of_gb_is_refused_by_the_cli_before_allocating(tmp_path):
    # 63 hidden layers of 4,096 neurons: within every limit of the spec, about 60 GB to train.
    exp = experiment([2, *[4096] * 63, 1], optimizer="adam", batch=32)
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(exp.to_dict()))
    code, err, peak = run_cli_limited(["train", str(path), "--epochs", "1"], tmp_path, limit=2 * GiB)
    assert code == 1, err
    assert "nnbench: error: the 2-4096x63-1 network" in err and "GiB of memory, but only" in err
    assert "internal error" not in err
    assert peak < 300 * MiB


def test_the_address_space_limit_counts_as_the_memory_available(tmp_path):
    # 8 layers of 4,096 (134 M weights, about 7 GB to train) under a 2 GiB limit (ulimit -v)
    exp = experiment([2, *[4096] * 8, 1], optimizer="sgd", batch=32)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(exp.to_dict()))
    code, err, peak = run_cli_limited(["train", str(path), "--epochs", "1"], tmp_path, limit=2 * GiB)
    assert code == 1 and "GiB of memory, but only" in err, err
    assert peak < 300 * MiB


def test_an_untrained_network_too_large_to_predict_with_is_refused(tmp_path):
    exp = experiment([2, *[4096] * 40, 1])
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(exp.to_dict()))
    code, err, peak = run_cli_limited(["predict", str(path), "--input", "1,2"], tmp_path, limit=2 * GiB)
    assert code == 1 and "for inference needs about" in err, err
    assert peak < 300 * MiB


# ---- item 3: what a dataset source may ask for -------------------------------------------------

@pytest.mark.parametrize("label", [4096, 10**7, 10**15])  # 10**9 only in a limited child
def test_a_table_label_past_the_largest_output_layer_is_refused_before_building(label):
    source = {"kind": "table", "name": "two", "columns": ["x", "y"], "rows": [[0, 0], [1, label]]}
    tracemalloc.start()
    try:
        with pytest.raises(SpecError, match="at most 4,096 classes"):
            make(source)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MiB


def test_a_table_of_many_classes_within_the_limit_still_builds():
    source = {"kind": "table", "name": "wide", "columns": ["x", "y"], "rows": [[0, 0], [1, 4095]]}
    assert make(source).y_train.shape == (2, 4096)


def test_train_on_a_table_with_a_label_of_a_billion_is_one_line(tmp_path):
    exp = experiment([1, 4, 1], source={"kind": "table", "name": "two", "columns": ["x", "y"],
                                        "rows": [[0, 0], [1, 1_000_000_000]]})
    d = exp.to_dict()
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(d))
    code, err, peak = run_cli_limited(["train", str(path), "--epochs", "1"], tmp_path, limit=2 * GiB)
    assert code == 1 and "at most 4,096 classes" in err, err
    assert peak < 300 * MiB


def test_a_bench_restructure_too_large_for_memory_is_refused_and_the_network_stays():
    # The layer list allows every layer the spec does (item 21), so the bench checks first.
    from nnbench import commands as cmd
    from nnbench.bench import Bench

    bench = Bench.from_experiment(experiment([2, 4, 1]))
    before = bench.spec
    tracemalloc.start()
    try:
        with pytest.raises(TooLargeError, match="2-4096x63-1 network"):
            bench.apply(cmd.Restructure(tuple(LayerSpec(4096, "tanh") for _ in range(63)), None,
                                        before.output))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert bench.spec == before and peak < 16 * MiB
