"""Sweeps: grid syntax, results tables that round-trip and resume, Cancel, the local pool and Dask."""

import json
import os
import signal
import threading

import numpy as np
import pytest

from nnbench.engine import LayerSpec, NetworkSpec, TrainConfig
from nnbench.errors import FileFormatError, SpecError
from nnbench.experiment import Experiment
from nnbench.sweep import (
    LocalExecutor,
    SerialExecutor,
    Sweep,
    heatmap,
    parse_grid,
    parse_target,
    read_results,
    run_cell,
    run_sweep,
)


def xor_experiment():
    spec = NetworkSpec(2, (LayerSpec(4, "tanh"), LayerSpec(1, "sigmoid")))
    return Experiment("xor-small", "t", "", {"kind": "generator", "name": "xor", "n": 40, "seed": 0}, spec,
                      TrainConfig(loss="bce", lr=0.3, epochs=10))


def small_sweep(seeds=(0, 1, 2), epochs=5, grid=("lr=0.1,1", "hidden=2,4")):
    return Sweep(xor_experiment(), parse_grid(list(grid)), seeds, epochs, parse_target("train_acc>=0.9"))


def test_the_grid_is_parsed_in_order_with_types():
    grid = parse_grid(["lr=0.01,0.1,1", "hidden=2,4-4", "optimizer=sgd,adam", "batch=10"])
    assert grid == {"lr": [0.01, 0.1, 1.0], "hidden": ["2", "4-4"], "optimizer": ["sgd", "adam"],
                    "batch_size": [10]}


@pytest.mark.parametrize("text,names", [
    ("lr", "'lr': write NAME=V1,V2"),
    ("=1,2", "write NAME=V1,V2"),
    ("speed=1,2", "unknown setting 'speed'"),
    ("lr=0.1,fast", "'fast' is not a number"),
    ("lr=0.1,,1", "an empty value"),
    ("hidden=2,x4", "'x4' is not a hidden-layer size"),
    ("optimizer=sgd,rmsprop", "'rmsprop' is not one of"),
    ("batch_size=10,2.5", "'2.5' is not a whole number"),
    ("lr=1,1", "listed twice"),
])
def test_bad_grid_syntax_is_one_line_naming_the_bad_part(text, names):
    with pytest.raises(SpecError) as info:
        parse_grid([text])
    message = str(info.value)
    assert names in message and "\n" not in message and repr(text) in message


def test_a_cell_returns_one_row_per_seed_equal_to_the_stacked_run():
    sweep = small_sweep()
    result = run_cell(sweep.task(3))
    assert result["cell"] == 3 and [r["seed"] for r in result["rows"]] == [0, 1, 2]
    row = result["rows"][0]
    assert 0.0 <= row["final_train_acc"] <= row["best_train_acc"] <= 1.0
    assert row["best_train_loss"] <= row["final_train_loss"]
    assert row["epochs_to_target"] is None or 1 <= row["epochs_to_target"] <= 5


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_results_round_trip_through_the_file(tmp_path, suffix):
    sweep = small_sweep()
    out = tmp_path / f"results{suffix}"
    rows = run_sweep(sweep, SerialExecutor(), out=out)
    assert len(rows) == 4 * 3
    back = read_results(out)
    assert len(back) == len(rows)
    for a, b in zip(rows, back, strict=True):
        assert set(a) == set(b)
        for key in a:
            if isinstance(a[key], float):
                assert b[key] == pytest.approx(a[key], rel=0, abs=0), key  # repr round-trips floats
            elif key in sweep.grid:
                assert str(b[key]) == str(a[key])
            else:
                assert b[key] == a[key], key


def test_a_rerun_with_the_same_out_skips_the_cells_done(tmp_path):
    out = tmp_path / "results.csv"
    stop = threading.Event()
    seen = []

    def progress(p):
        seen.append(p.done)
        if p.done == 2:
            stop.set()  # Cancel after two cells

    first = run_sweep(small_sweep(), SerialExecutor(), out=out, progress=progress, cancel=stop)
    assert len(first) == 2 * 3 and seen == [0, 1, 2]
    assert len(read_results(out)) == 6
    calls = []
    progress2 = calls.append
    rows = run_sweep(small_sweep(), SerialExecutor(), out=out, progress=progress2)
    assert calls[0].skipped == 2 and calls[-1].done == 4 and len(calls) == 3  # only two cells ran
    assert len(rows) == 12 == len(read_results(out))
    keys = {(r["lr"], str(r["hidden"]), r["seed"]) for r in read_results(out)}
    assert len(keys) == 12
    # more seeds than the file has: those cells run again, with all their seeds
    more = run_sweep(small_sweep(seeds=(0, 1, 2, 3)), SerialExecutor(), out=out)
    assert len(more) == 16


def test_a_foreign_or_damaged_results_file_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "r.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(FileFormatError, match="r.csv is not a sweep results table"):
        run_sweep(small_sweep(), SerialExecutor(), out=bad)
    bad_json = tmp_path / "r.json"
    bad_json.write_text(json.dumps({"format": "other"}))
    with pytest.raises(FileFormatError, match="r.json is not an nnbench sweep"):
        read_results(bad_json)


def test_the_heatmap_is_the_median_over_seeds(tmp_path):
    sweep = small_sweep()
    rows = run_sweep(sweep, SerialExecutor())
    values, xs, ys, xname, yname = heatmap(sweep, rows, "final_train_loss")
    assert (xname, yname, xs, ys) == ("lr", "hidden", ["0.1", "1.0"], ["2", "4"])
    cell = [r["final_train_loss"] for r in rows if r["lr"] == 1.0 and r["hidden"] == "4"]
    assert values[1, 1] == np.median(cell)


def test_the_local_pool_gives_the_serial_results(tmp_path):
    sweep = small_sweep()
    serial = run_sweep(sweep, SerialExecutor())
    pooled = run_sweep(sweep, LocalExecutor(2), out=tmp_path / "r.json")
    key = lambda r: (r["lr"], r["hidden"], r["seed"])  # noqa: E731
    strip = lambda r: {k: v for k, v in r.items() if k != "seconds"}  # noqa: E731
    assert sorted(map(strip, serial), key=key) == sorted(map(strip, pooled), key=key)


def test_cancel_stops_the_local_pool_and_keeps_what_finished(tmp_path):
    sweep = small_sweep(epochs=400, grid=("lr=0.1,0.2,0.3,0.4,0.5,0.6",))
    stop = threading.Event()

    def progress(p):
        if p.done >= 1:
            stop.set()

    rows = run_sweep(sweep, LocalExecutor(2), out=tmp_path / "r.csv", progress=progress, cancel=stop)
    assert 1 <= len(rows) // 3 < 6
    assert len(read_results(tmp_path / "r.csv")) == len(rows)


# ---- Dask ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    """One small cluster for the Dask tests (the killed-worker test runs last: its nanny restarts
    the worker)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as c, distributed.Client(c) as client:
        yield c, client


def test_dask_gives_the_local_results(cluster, tmp_path):
    from nnbench.sweep import DaskExecutor

    _, client = cluster
    sweep = small_sweep()
    serial = run_sweep(sweep, SerialExecutor())
    rows = run_sweep(sweep, DaskExecutor(client=client), out=tmp_path / "r.csv")
    key = lambda r: (r["lr"], r["hidden"], r["seed"])  # noqa: E731
    strip = lambda r: {k: v for k, v in r.items() if k != "seconds"}  # noqa: E731
    assert sorted(map(strip, serial), key=key) == sorted(map(strip, rows), key=key)


def test_a_dask_worker_killed_mid_sweep_has_its_cells_rerun(cluster, tmp_path):
    from nnbench.sweep import DaskExecutor

    _, client = cluster
    sweep = small_sweep(epochs=150, grid=("lr=0.1,0.2,0.3,0.4,0.5,0.6",))
    pids = client.run(os.getpid)  # worker address -> pid
    killed, came_from = {}, {}

    def progress(p):
        if p.last is not None:
            came_from[p.last["cell"]] = p.last["pid"]
        if p.last is not None and not killed:
            busy = {addr: keys for addr, keys in client.processing().items() if keys and addr in pids}
            victim = next(iter(busy), None)
            if victim is not None:
                killed["pid"], killed["keys"] = pids[victim], list(busy[victim])
                os.kill(pids[victim], signal.SIGKILL)

    rows = run_sweep(sweep, DaskExecutor(client=client), out=tmp_path / "r.csv", progress=progress)
    assert killed, "no worker was busy to kill"
    assert len(rows) == 6 * 3
    assert len({(r["lr"], r["seed"]) for r in rows}) == 18  # nothing lost, nothing twice
    assert len(read_results(tmp_path / "r.csv")) == 18
    rerun = [int(key.split("-")[2]) for key in killed["keys"]]
    assert rerun and all(came_from[cell] != killed["pid"] for cell in rerun)  # run again elsewhere


def test_a_test_target_on_a_tiny_table_is_judged_on_its_training_rows():
    from nnbench import presets

    exp = presets.load_preset("xor-mlp")  # the 4-row table: it tests on its training rows
    rows = run_sweep(Sweep(exp, {}, (6,), 1500, parse_target("test_acc>=1.0")), SerialExecutor())
    assert rows[0]["final_test_acc"] is None and rows[0]["final_train_acc"] == 1.0
    assert 1 <= rows[0]["epochs_to_target"] <= 1500
