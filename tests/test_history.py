"""Runs and checkpoints on the bench, through its commands (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from nnbench import commands as cmd
from nnbench.bench import Bench
from nnbench.engine import LayerSpec, TrainConfig, files
from nnbench.errors import FileFormatError, IncompatibleError
from nnbench.history import LOG_EPOCHS, Checkpoint, RunStore, Seen, Switched

SPIRAL = {"kind": "generator", "name": "spiral", "n": 120, "noise": 0.1, "seed": 2, "test_fraction": 0.25}


def spiral_bench(optimizer: str = "adam") -> Bench:
    bench = Bench()
    config = TrainConfig(loss="bce", optimizer=optimizer, lr=0.01, batch_size=10, epochs=0, seed=5)
    bench.apply(cmd.SwitchData(source=SPIRAL, hidden=(LayerSpec(16, "tanh"), LayerSpec(16, "tanh")),
                               config=config, net_seed=1))
    assert bench.spec.dtype == "float64"
    return bench


def train(bench: Bench, epochs: int) -> None:
    bench.apply(cmd.Step(epochs))
    assert bench.run_until_stopped() == [cmd.Stopped("step")]


@pytest.mark.parametrize("optimizer", ["adam", "momentum", "sgd"])
def test_a_fork_that_changes_nothing_trains_on_bit_for_bit_as_the_original(optimizer):
    bench = spiral_bench(optimizer)
    train(bench, 30)
    original = bench.net.flat_params.copy()
    hist = bench.trainer.history.to_dict()
    step = bench.trainer.step_count
    assert 10 in bench.apply(cmd.ListRuns())[0].checkpoints
    switched = bench.apply(cmd.Fork(10))
    assert isinstance(switched, Switched) and switched.run == 2 and switched.epoch == 10
    assert bench.epoch == 10 and not np.array_equal(bench.net.flat_params, original)
    train(bench, 20)
    assert bench.epoch == 30 and bench.trainer.step_count == step
    assert bench.net.flat_params.tobytes() == original.tobytes()
    for key, column in bench.trainer.history.to_dict().items():
        np.testing.assert_array_equal(column, hist[key])
    runs = bench.apply(cmd.ListRuns())
    assert [(r.id, r.parent, r.branch_epoch, r.changes, r.live) for r in runs] == \
        [(1, None, None, {}, False), (2, 1, 10, {}, True)]


def test_seek_shows_the_network_of_a_kept_epoch_and_changes_nothing():
    bench = spiral_bench()
    train(bench, 3)
    at3 = bench.net.flat_params.copy()
    train(bench, 5)
    seen = bench.apply(cmd.Seek(3))
    assert isinstance(seen, Seen) and seen.epoch == 3 and seen.rows == 3
    assert seen.params.tobytes() == at3.tobytes()
    seen0 = bench.apply(cmd.Seek(0))  # the network before training
    assert seen0.rows == 0 and not np.array_equal(seen0.params, at3)
    assert bench.epoch == 8
    with pytest.raises(IncompatibleError, match="no checkpoint at epoch 9"):
        bench.apply(cmd.Seek(9))


def test_a_fork_with_changes_says_what_differs_and_the_parent_goes_on_where_it_was_left():
    bench = spiral_bench()
    train(bench, 12)
    end = bench.net.flat_params.copy()
    bench.apply(cmd.Fork(5, {"lr": 0.05, "hidden": (LayerSpec(8, "relu"),)}, name="faster"))
    assert bench.config.lr == 0.05 and bench.spec.hidden == (LayerSpec(8, "relu"),)
    train(bench, 4)
    runs = {r.id: r for r in bench.apply(cmd.ListRuns())}
    assert runs[2].name == "faster" and runs[2].epochs == 9
    assert runs[2].changes == {"lr": "0.01 → 0.05", "network": "2-16t-16t-1s → 2-8r-1s"}
    assert runs[1].epochs == 12 and np.isfinite(runs[1].best_loss) and 0 <= runs[1].best_acc <= 1
    # Back to the first run: exactly where it was left, and training goes on from there.
    switched = bench.apply(cmd.SetLive(1))
    assert switched.epoch == 12 and bench.spec.hidden == (LayerSpec(16, "tanh"), LayerSpec(16, "tanh"))
    assert bench.net.flat_params.tobytes() == end.tobytes()
    train(bench, 1)
    assert bench.epoch == 13
    bench.apply(cmd.RenameRun(1, "first"))
    with pytest.raises(IncompatibleError, match="live run"):
        bench.apply(cmd.DeleteRun(1))
    bench.apply(cmd.DeleteRun(2))
    assert [(r.id, r.name) for r in bench.apply(cmd.ListRuns())] == [(1, "first")]
    np.testing.assert_array_equal(bench.apply(cmd.RunHistory(1))["epoch"], np.arange(1, 14))


def test_checkpoints_are_log_spaced_plus_the_latest_within_the_budget():
    bench = spiral_bench()
    train(bench, 40)
    kept = bench.apply(cmd.ListRuns())[0].checkpoints
    assert {0, 1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, 40} <= set(kept)
    assert list(kept) == sorted(kept)
    one = Checkpoint.of(bench.trainer).nbytes
    usage = bench.apply(cmd.SetCheckpointBudget(5 * one))
    assert usage["used"] <= 5 * one and usage["checkpoints"] == 5
    kept = bench.apply(cmd.ListRuns())[0].checkpoints
    assert kept[0] == 0 and kept[-1] == 40  # the ends survive a small budget
    assert bench.apply(cmd.SetCheckpointBudget(0))["checkpoints"] == 0
    train(bench, 2)
    assert bench.apply(cmd.ListRuns())[0].checkpoints == ()
    assert {round(10 ** (j / 10)) for j in range(21)} <= LOG_EPOCHS


def test_the_file_keeps_the_runs_and_their_checkpoints_and_a_fork_from_it_reproduces(tmp_path):
    bench = spiral_bench()
    train(bench, 20)
    bench.apply(cmd.Fork(8, {"lr": 0.03}))
    train(bench, 4)
    path = tmp_path / "runs.npz"
    bench.apply(cmd.Save(str(path)))
    small = tmp_path / "small.npz"
    bench.apply(cmd.Save(str(small), latest_only=True))
    assert small.stat().st_size < path.stat().st_size

    again = Bench()
    again.apply(cmd.Load(str(path)))
    runs = again.apply(cmd.ListRuns())
    assert [(r.id, r.parent, r.branch_epoch, r.epochs, r.live) for r in runs] == \
        [(1, None, None, 20, False), (2, 1, 8, 12, True)]
    assert runs[0].checkpoints == bench.apply(cmd.ListRuns())[0].checkpoints
    np.testing.assert_array_equal(again.apply(cmd.Seek(13, 1)).params, bench.apply(cmd.Seek(13, 1)).params)
    # Back to run 1 from the file, fork it at 16 unchanged: it reaches run 1's own epoch 20.
    again.apply(cmd.SetLive(1))
    end = again.net.flat_params.copy()
    again.apply(cmd.Fork(16))
    train(again, 4)
    assert again.net.flat_params.tobytes() == end.tobytes()

    thin = Bench()
    thin.apply(cmd.Load(str(small)))
    assert [len(r.checkpoints) for r in thin.apply(cmd.ListRuns())] == [1, 1]


def test_older_files_open_with_one_run_and_a_damaged_runs_record_is_refused(tmp_path):
    bench = spiral_bench()
    train(bench, 3)
    old = tmp_path / "old.npz"
    t = bench.trainer
    from nnbench.experiment import save_experiment

    save_experiment(old, bench.experiment(), t.net, t)  # as nnbench wrote files before runs
    again = Bench()
    again.apply(cmd.Load(str(old)))
    runs = again.apply(cmd.ListRuns())
    assert len(runs) == 1 and runs[0].epochs == 3 and runs[0].checkpoints == (3,)

    record, arrays = bench.runs.to_file()
    key = next(k for k in arrays if k.endswith(".c1"))
    arrays[key] = arrays[key][:-8]  # a checkpoint shorter than its record says
    bad = tmp_path / "bad.npz"
    save_experiment(bad, bench.experiment(), t.net, t, runs=(record, arrays))
    with pytest.raises(FileFormatError, match="shorter than it says"):
        Bench().apply(cmd.Load(str(bad)))
    saved = files.load(bad)
    with pytest.raises(FileFormatError, match="runs record"):
        RunStore.from_file({"version": 1, "runs": "x"}, saved.arrays, t.history, None)


def test_nnbench_history_prints_the_runs_and_writes_them_as_csv(tmp_path, capsys):
    import csv

    from nnbench import cli

    bench = spiral_bench()
    train(bench, 6)
    bench.apply(cmd.Fork(3, {"lr": 0.02}))
    train(bench, 2)
    path = tmp_path / "two.npz"
    bench.apply(cmd.Save(str(path)))
    assert cli.main(["history", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["run", "name", "from", "epochs"]
    assert out[1].split()[:5] == ["1", "run", "1", "-", "6"]
    assert out[2].split()[:5] == ["2", "*", "run", "2", "1@3"] and "lr 0.01 → 0.02" in out[2]
    target = tmp_path / "runs.csv"
    assert cli.main(["history", str(path), "--csv", str(target)]) == 0
    rows = list(csv.DictReader(open(target, encoding="utf-8")))
    assert [(r["run"], r["epoch"]) for r in rows] == [("1", str(e)) for e in range(1, 7)] + \
        [("2", str(e)) for e in range(1, 6)]
    assert {r["lr"] for r in rows if r["run"] == "2"} == {"0.02"} and rows[0]["optimizer"] == "adam"
    assert float(rows[0]["train_loss"]) == pytest.approx(bench.apply(cmd.RunHistory(1))["train_loss"][0])
    assert cli.main(["history", str(tmp_path / "missing.npz")]) == 1
