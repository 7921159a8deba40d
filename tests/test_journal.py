"""The runs journal: a new engine gets the runs and checkpoints of one that died (no Qt)."""

from __future__ import annotations

import json
import os
import struct
from dataclasses import replace

import numpy as np
import pytest
from test_history import spiral_bench, train

from nnbench import commands as cmd
from nnbench import journal
from nnbench.bench import Bench
from nnbench.engine import TrainConfig
from nnbench.history import RunInfo


def summary(runs: tuple[RunInfo, ...]) -> list[tuple]:
    return [(r.id, r.name, r.parent, r.branch_epoch, r.changes, r.epochs, r.checkpoints, r.live)
            for r in runs]


def died(bench: Bench) -> cmd.EngineState:
    """What the window holds when the engine dies: the state its last frame showed."""
    return replace(bench.state(), run=bench.frame().run)


def forked_bench(directory) -> Bench:
    bench = spiral_bench()
    bench.apply(cmd.UseJournal(str(directory)))
    train(bench, 30)
    bench.apply(cmd.Fork(10, {"lr": 0.03}, name="faster"))
    train(bench, 8)
    bench.apply(cmd.RenameRun(1, "slow"))
    return bench


def test_a_new_engine_gets_every_run_and_checkpoint_back_and_goes_on_bit_for_bit(tmp_path):
    bench = forked_bench(tmp_path)
    before = bench.apply(cmd.ListRuns())
    state = died(bench)
    assert state.run == 2
    old_net = bench.apply(cmd.Seek(4, 1)).params

    new = Bench()
    new.apply(cmd.UseJournal(str(tmp_path)))
    opened = new.apply(cmd.Restore(state))
    assert "2 runs" in opened.note and "came back" in opened.note and "lost" not in opened.note
    assert summary(new.apply(cmd.ListRuns())) == summary(before)
    assert new.apply(cmd.Seek(4, 1)).params.tobytes() == old_net.tobytes()  # another run's checkpoint
    np.testing.assert_array_equal(new.apply(cmd.RunHistory(1))["train_loss"],
                                  bench.apply(cmd.RunHistory(1))["train_loss"])

    # Paused where a checkpoint was kept, the optimizer and batch order came back too: both
    # benches train on to the same bits.
    train(bench, 6)
    train(new, 6)
    assert new.net.flat_params.tobytes() == bench.net.flat_params.tobytes()
    # And the old runs stay usable: forking one of them works in the new engine.
    new.apply(cmd.SetLive(1))
    assert new.epoch == 30


def test_a_restore_without_a_journal_or_for_another_generation_starts_one_fresh_run(tmp_path):
    bench = forked_bench(tmp_path)
    state = died(bench)
    plain = Bench()
    assert plain.apply(cmd.Restore(state)).note == ""
    assert len(plain.apply(cmd.ListRuns())) == 1

    other = Bench()
    other.apply(cmd.UseJournal(str(tmp_path)))
    opened = other.apply(cmd.Restore(replace(state, generation=state.generation + 1)))
    assert opened.note == "" and len(other.apply(cmd.ListRuns())) == 1
    # The old engine's files were removed: only the new run's are left.
    index = json.loads((tmp_path / "index.json").read_text())
    named = {n for r in index["runs"] for n in r["checkpoints"]}
    assert {p.name for p in tmp_path.glob("*.ckpt")} == named and len(index["runs"]) == 1


def test_the_directory_holds_only_what_the_index_names(tmp_path):
    bench = forked_bench(tmp_path)
    bench.apply(cmd.SetCheckpointBudget(200_000))  # the budget drops checkpoints: their files go
    bench.apply(cmd.DeleteRun(1))
    index = json.loads((tmp_path / "index.json").read_text())
    named = {n for r in index["runs"] for n in r["checkpoints"]}
    named |= {r["history"] for r in index["runs"]} - {None}
    on_disk = {p.name for p in tmp_path.iterdir() if p.suffix in (".ckpt", ".hist")}
    assert on_disk == named
    assert [r["id"] for r in index["runs"]] == [2]
    used = bench.apply(cmd.SetCheckpointBudget(200_000))["used"]
    assert sum((tmp_path / n).stat().st_size for n in named) >= used
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_damaged_journal_loses_what_is_damaged_and_nothing_else(tmp_path):
    bench = forked_bench(tmp_path)
    state = died(bench)
    index = json.loads((tmp_path / "index.json").read_text())
    run1 = next(r for r in index["runs"] if r["id"] == 1)
    victims = run1["checkpoints"][2:5]
    (tmp_path / victims[0]).write_bytes(b"NNBCKPT1" + struct.pack("<I", 2**31) + b"{}")  # a huge header
    with open(tmp_path / victims[1], "r+b") as f:  # cut short
        f.truncate(40)
    (tmp_path / victims[2]).unlink()
    new = Bench()
    new.apply(cmd.UseJournal(str(tmp_path)))
    opened = new.apply(cmd.Restore(state))
    assert "lost: a checkpoint of run 1" in opened.note
    runs = {r.id: r for r in new.apply(cmd.ListRuns())}
    old = {r.id: r for r in bench.apply(cmd.ListRuns())}
    assert len(runs[1].checkpoints) == len(old[1].checkpoints) - 3
    assert runs[2].checkpoints == old[2].checkpoints

    # An index naming files outside the directory, or garbage, brings back nothing but the live run.
    for text in ('{"version": 1, "generation": %d, "live": 2, "runs": [{"id": 2, "checkpoints": '
                 '["../../etc/passwd.ckpt", "/etc/x.ckpt"]}]}' % state.generation, "\0garbage", "[]"):
        (tmp_path / "index.json").write_text(text)
        fresh = Bench()
        fresh.apply(cmd.UseJournal(str(tmp_path)))
        fresh.apply(cmd.Restore(state))
        assert len(fresh.apply(cmd.ListRuns())) == 1


def test_a_journal_that_cannot_write_stops_and_training_goes_on(tmp_path):
    if os.geteuid() == 0:
        target = tmp_path / "full"
        bench = spiral_bench()
        bench.apply(cmd.UseJournal(str(target)))
        # Root writes anywhere: a file where the next checkpoint's temporary file must go stops it.
        for n in range(1, 200):
            (target / f".c{n}.ckpt.tmp").mkdir(exist_ok=True)
    else:
        target = tmp_path / "ro"
        bench = spiral_bench()
        bench.apply(cmd.UseJournal(str(target)))
        target.chmod(0o500)
    try:
        train(bench, 12)
        assert bench.journal.failed.startswith("the runs could not be kept on disk")
        assert bench.epoch == 12 and not (target / "index.json").exists()
        (notice,) = bench.notices()  # said once, for the user
        assert notice.startswith("The runs could not be kept on disk") and "Training goes on" in notice
        assert bench.notices() == []
    finally:
        target.chmod(0o700)


def test_stale_directories_of_closed_windows_are_swept_and_live_ones_kept(tmp_path):
    dead = tmp_path / f"{journal.PREFIX}dead"
    dead.mkdir()
    (dead / journal.OWNER).write_text("999999999")
    mine = tmp_path / f"{journal.PREFIX}mine"
    mine.mkdir()
    (mine / journal.OWNER).write_text(str(os.getpid()))
    stray = tmp_path / f"{journal.PREFIX}unowned"
    stray.mkdir()
    assert journal.sweep(tmp_path) == [str(dead)]
    assert mine.is_dir() and stray.is_dir() and not dead.exists()


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_restoring_mid_training_keeps_the_frames_network_and_the_runs(tmp_path, optimizer):
    bench = spiral_bench(optimizer)
    bench.apply(cmd.UseJournal(str(tmp_path)))
    train(bench, 5)
    bench.apply(cmd.Play())
    bench.advance(0.05)  # the engine dies while training: its frame is past the last checkpoint
    state = died(bench)
    new = Bench()
    new.apply(cmd.UseJournal(str(tmp_path)))
    new.apply(cmd.Restore(state))
    assert new.net.flat_params.tobytes() == state.net.params.tobytes()
    (run,) = new.apply(cmd.ListRuns())
    assert max(run.checkpoints) == state.epoch  # kept where the frame stood
    assert all(e <= state.epoch for e in run.checkpoints)


def test_a_checkpoint_file_gives_back_its_arrays_empty_and_zero_dimensional_ones_too(tmp_path):
    from nnbench.history import Checkpoint, _checkpoint

    bench = spiral_bench()
    train(bench, 2)
    c = Checkpoint.of(bench.trainer)
    c = replace(c, optimizer={**c.optimizer, "empty": np.zeros((0, 3)), "t": np.array(7, dtype=np.int64),
                              "f32": np.arange(6, dtype=np.float32).reshape(2, 3)})
    j = journal.Journal(tmp_path)
    header, blob = j._read_checkpoint(j._write_checkpoint(c))
    back = _checkpoint(header, blob, 10)
    assert back.params.tobytes() == c.params.tobytes() and back.rng == c.rng
    assert back.optimizer.keys() == c.optimizer.keys()
    for k, v in c.optimizer.items():
        assert back.optimizer[k].dtype == v.dtype and back.optimizer[k].shape == v.shape
        np.testing.assert_array_equal(back.optimizer[k], v)


def test_networks_without_hidden_layers_are_journaled_and_come_back(tmp_path):
    bench = Bench()
    bench.apply(cmd.UseJournal(str(tmp_path)))
    config = TrainConfig(loss="bce", optimizer="momentum", lr=0.5, batch_size=0, epochs=0, seed=1)
    bench.apply(cmd.SwitchData(source={"kind": "table", "name": "xor3"}, hidden=(), config=config))
    train(bench, 7)
    bench.apply(cmd.Fork(3, {"lr": 0.1}))
    train(bench, 2)
    state = died(bench)
    new = Bench()
    new.apply(cmd.UseJournal(str(tmp_path)))
    assert "2 runs" in new.apply(cmd.Restore(state)).note
    assert new.apply(cmd.Seek(5, 1)).params.tobytes() == bench.apply(cmd.Seek(5, 1)).params.tobytes()


# ---- what a review found (each failed before its fix) -------------------------------------------


def _restore(directory, state) -> tuple[Bench, str]:
    new = Bench()
    new.apply(cmd.UseJournal(str(directory)))
    return new, new.apply(cmd.Restore(state)).note


def _run1_files(directory) -> list[str]:
    index = json.loads((directory / "index.json").read_text())
    return next(r for r in index["runs"] if r["id"] == 1)["checkpoints"]


@pytest.mark.parametrize("damage", ["cut 8 bytes", "nan weight", "negative epoch", "sparse gigabyte"])
def test_one_damaged_checkpoint_loses_itself_and_never_the_other_runs(tmp_path, damage):
    bench = forked_bench(tmp_path)
    state = died(bench)
    path = tmp_path / _run1_files(tmp_path)[3]
    data = bytearray(path.read_bytes())
    (n,) = struct.unpack("<I", data[8:12])
    if damage == "cut 8 bytes":
        path.write_bytes(data[:-8])
    elif damage == "nan weight":
        data[12 + n:12 + n + 8] = struct.pack("<d", float("nan"))
        path.write_bytes(data)
    elif damage == "negative epoch":
        header = json.loads(data[12:12 + n])
        header["epoch"] = -3
        raw = json.dumps(header).encode()
        path.write_bytes(bytes(data[:8]) + struct.pack("<I", len(raw)) + raw + bytes(data[12 + n:]))
    else:
        with open(path, "r+b") as f:  # free to make, and must not be read whole
            f.truncate(1 << 30)
    new, note = _restore(tmp_path, state)
    assert note.startswith("2 runs") and "lost: a checkpoint of run 1" in note
    runs = {r.id: r for r in new.apply(cmd.ListRuns())}
    old = {r.id: r for r in bench.apply(cmd.ListRuns())}
    assert len(runs[1].checkpoints) == len(old[1].checkpoints) - 1
    assert runs[2].checkpoints == old[2].checkpoints


@pytest.mark.parametrize("text", ['"checkpoints": 5', "nested header", "nested index"])
def test_a_journal_that_does_not_parse_never_stops_the_live_network_coming_back(tmp_path, text):
    bench = forked_bench(tmp_path)
    state = died(bench)
    index_path = tmp_path / "index.json"
    if text == "nested index":
        index_path.write_text("[" * 200_000)
    elif text == "nested header":
        raw = b"[" * 200_000
        (tmp_path / _run1_files(tmp_path)[0]).write_bytes(b"NNBCKPT1" + struct.pack("<I", len(raw)) + raw)
    else:
        index = json.loads(index_path.read_text())
        index["runs"][0]["checkpoints"] = 5
        index_path.write_text(json.dumps(index))
    new, _note = _restore(tmp_path, state)
    assert new.trainer is not None and new.net.flat_params.tobytes() == state.net.params.tobytes()


def test_a_restore_mid_epoch_keeps_that_epochs_own_checkpoint(tmp_path):
    bench = spiral_bench("sgd")
    bench.apply(cmd.UseJournal(str(tmp_path)))
    train(bench, 5)
    bench.apply(cmd.Play())
    for _ in range(2000):  # stop mid-epoch, after an epoch whose checkpoint was kept
        bench.advance(0.002)
        c = bench.runs.live_run().checkpoint(bench.epoch)
        if c is not None and c.exact and bench.trainer.step_count != c.step:
            break
    state = died(bench)
    new, _note = _restore(tmp_path, state)
    seen = new.apply(cmd.Seek(state.epoch))
    assert seen.step == c.step and seen.params.tobytes() == c.params.tobytes()


def test_a_frame_of_another_run_than_the_journals_live_one_brings_back_both(tmp_path):
    bench = forked_bench(tmp_path)
    frame = bench.frame()  # the window's newest frame: run 2
    bench.apply(cmd.SetLive(1))  # and the engine dies right after, before its next frame
    state = replace(bench.state(), run=frame.run, epoch=frame.epoch, step=frame.step,
                    net=cmd.as_state(frame.spec, frame.params), history=bench.runs.runs[2].history.to_dict())
    new, note = _restore(tmp_path, state)
    assert note.startswith("2 runs") and "lost" not in note
    assert {r.id: r.epochs for r in new.apply(cmd.ListRuns())} == {1: 30, 2: 18}


def test_after_a_recover_the_index_on_disk_names_only_files_that_exist(tmp_path):
    bench = spiral_bench()
    bench.apply(cmd.UseJournal(str(tmp_path)))
    train(bench, 5)
    bench.apply(cmd.Play())
    bench.advance(0.1)
    state = replace(died(bench), step=1)  # checkpoints past the frame are dropped
    j = journal.Journal(tmp_path)
    j.recover(state.generation, state.run, bench.trainer.history, bench.dataset, None, 1)
    index = json.loads((tmp_path / "index.json").read_text())
    named = {n for r in index["runs"] for n in r["checkpoints"]} | {r["history"] for r in index["runs"]}
    assert all((tmp_path / n).is_file() for n in named)


def test_the_engine_given_a_journal_sweeps_the_closed_windows_ones_beside_it(tmp_path):
    dead = tmp_path / f"{journal.PREFIX}dead"
    dead.mkdir()
    (dead / journal.OWNER).write_text("999999999")
    Bench().apply(cmd.UseJournal(str(tmp_path / f"{journal.PREFIX}mine")))
    assert not dead.exists() and (tmp_path / f"{journal.PREFIX}mine").is_dir()
