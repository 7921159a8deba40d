"""The bench driven through its commands, in-process and synchronously (no Qt)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from nnbench import commands as cmd
from nnbench import frames, presets
from nnbench.bench import Bench, network_of
from nnbench.engine import LayerSpec, files
from nnbench.errors import IncompatibleError, SpecError

XOR = {"kind": "generator", "name": "xor", "n": 80, "noise": 0.1, "seed": 3, "test_fraction": 0.25}


def xor_bench() -> Bench:
    bench = Bench()
    bench.apply(cmd.SwitchData(source=XOR, hidden=(LayerSpec(4, "tanh"),), net_seed=0))
    return bench


def train(bench: Bench, epochs: int) -> list[cmd.Stopped]:
    bench.apply(cmd.Step(epochs))
    return bench.run_until_stopped()


def test_a_preset_on_the_bench_trains_exactly_as_the_experiment_builds_it():
    exp = presets.load_preset("xor-mlp")
    bench = Bench.from_experiment(exp)
    assert train(bench, 30) == [cmd.Stopped("step")]
    _, net, trainer = exp.build()
    trainer.run(30)
    assert bench.epoch == 30
    np.testing.assert_array_equal(bench.net.flat_params, net.flat_params)


def test_step_trains_the_epochs_asked_for_and_play_stops_at_the_limit():
    bench = xor_bench()
    train(bench, 3)
    assert bench.epoch == 3 and not bench.active
    bench.apply(cmd.SetConfig({"epochs": 7}))
    assert bench.apply(cmd.Play()) is None
    assert bench.run_until_stopped()[0].reason == "limit"
    assert bench.epoch == 7 and not bench.running
    refused = bench.apply(cmd.Play())  # at the limit: says so instead of one more epoch
    assert isinstance(refused, cmd.Stopped) and "Stop at epoch" in refused.text
    assert not bench.running and bench.epoch == 7
    # The window's Train: at the limit, a new one as far again, decided where the epoch is known.
    carried = bench.apply(cmd.Play(carry_on=True))
    assert isinstance(carried, cmd.Playing) and carried.config.epochs == 14 and "14" in carried.text
    assert bench.run_until_stopped()[0].reason == "limit" and bench.epoch == 14
    assert bench.apply(cmd.Play(carry_on=True)).config.epochs == 28  # from where it stands
    bench.apply(cmd.Pause())


def test_restructure_keeps_what_still_fits_and_its_record_brings_back_a_removed_neuron():
    bench = xor_bench()
    train(bench, 5)
    w0 = bench.net.layers[0].W.copy()
    spec = bench.spec
    edit = bench.apply(cmd.Restructure((LayerSpec(3, "tanh"),), None, spec.output,
                                       generation=bench.generation))
    assert isinstance(edit, cmd.StructureEdit) and edit.text == "neurons of layer 1"
    np.testing.assert_array_equal(bench.net.layers[0].W, w0[:, :3])
    assert bench.epoch == 5  # the history goes on
    # Undo: back to 4 neurons, the fourth from the record (plain data), not freshly initialised.
    bench.apply(cmd.Restructure(spec.hidden, None, spec.output, memory=edit.left_before))
    np.testing.assert_array_equal(bench.net.layers[0].W, w0)
    assert pickle.loads(pickle.dumps(edit)).left_before.params.tobytes() == edit.left_before.params.tobytes()


def test_an_edit_made_on_an_older_dataset_is_dropped_not_applied():
    bench = xor_bench()
    old = bench.generation
    spec = bench.spec
    bench.apply(cmd.SwitchData(source={**XOR, "seed": 4}))
    dropped = bench.apply(cmd.Restructure((LayerSpec(2, "relu"),), None, spec.output, generation=old))
    assert isinstance(dropped, cmd.Dropped) and bench.spec.hidden == spec.hidden
    with pytest.raises(IncompatibleError, match="another dataset"):
        bench.apply(cmd.SetParam(0, 0, 0, 1.0, generation=old))


def test_set_param_answers_what_it_changed_and_refuses_what_is_not_there():
    bench = xor_bench()
    before = float(bench.net.layers[0].W[1, 2])
    edit = bench.apply(cmd.SetParam(0, 1, 2, 0.5, bench.generation))
    assert (edit.before, edit.after) == (before, 0.5) and bench.net.layers[0].W[1, 2] == 0.5
    with pytest.raises(IncompatibleError):
        bench.apply(cmd.SetParam(0, 5, 0, 1.0))
    with pytest.raises(SpecError):
        bench.apply(cmd.SetParam(0, 0, 0, float("nan")))


def test_the_same_problem_again_keeps_the_tutorials_loss_and_output():
    bench = Bench.from_experiment(presets.load_preset("perceptron"))
    spec, loss = bench.spec, bench.config.loss
    table = bench.dataset
    rows = np.vstack([table.x_train, [[1.0, 1.0, 0.0]]])
    targets = np.vstack([table.y_train, [[1.0]]])
    from dataclasses import replace

    edited = replace(table, x_train=rows, y_train=targets, x_test=rows, y_test=targets)
    bench.apply(cmd.SwitchData(dataset=edited, hidden=spec.hidden))
    assert bench.config.loss == loss and bench.spec.output == spec.output


def test_speed_limits_batches_per_second():
    bench = xor_bench()
    bench.apply(cmd.SetConfig({"batch_size": 1}))
    bench.apply(cmd.SetSpeed(10))
    bench.apply(cmd.Play())
    clock = iter(np.arange(0, 100, 0.05))
    now = 0.0

    def tick() -> float:
        return now

    steps0 = bench.trainer.step_count
    for _ in range(40):  # two seconds of 50 ms frames at 10 batches/s
        now = next(clock)
        bench.advance(0.05, clock=tick)
    done = bench.trainer.step_count - steps0
    assert 17 <= done <= 21
    with pytest.raises(SpecError):
        bench.apply(cmd.SetSpeed(-1))


def test_divergence_is_an_answer_and_training_rewinds_to_the_restored_weights():
    bench = Bench.from_experiment(presets.load_preset("regression-curve"))
    train(bench, 30)
    bench.apply(cmd.SetConfig({"lr": 40.0}))
    bench.apply(cmd.Play())
    stopped = bench.run_until_stopped()
    assert stopped and stopped[0].reason == "diverged" and "learning rate" in stopped[0].text
    s = stopped[0]
    assert not bench.running and np.all(np.isfinite(bench.net.flat_params))
    # The counter and the curves are those of the restored network, not of the blow-up.
    assert 30 <= s.epoch == bench.epoch == bench.trainer.history.n and s.lr == 40.0
    losses = bench.trainer.history.column("train_loss")
    assert np.all(np.isfinite(losses)) and losses[-1] == s.loss


def test_frames_carry_only_new_history_rows_to_a_reader_that_has_the_rest():
    bench = xor_bench()
    train(bench, 4)
    first = bench.frame()
    assert first.history_start == 0 and len(first.history["epoch"]) == 4
    train(bench, 3)
    more = bench.frame(first.history_id, 4)
    assert more.history_start == 4 and list(more.history["epoch"]) == [5, 6, 7]
    bench.apply(cmd.Reset(9))  # a new history: everything again
    fresh = bench.frame(first.history_id, 7)
    assert fresh.history_id != first.history_id and fresh.history_start == 0


def test_save_and_load_through_commands_keep_the_experiment_and_the_predictions(tmp_path):
    exp = presets.load_preset("xor-mlp")
    bench = Bench.from_experiment(exp)
    train(bench, 20)
    path = tmp_path / "run.npz"
    assert bench.apply(cmd.Save(str(path))) == str(path)
    fields = files.load(path).extra["experiment"]
    assert (fields["name"], fields["title"], fields["net_seed"]) == (exp.name, exp.title, exp.net_seed)
    grid = np.random.default_rng(1).normal(size=(50, bench.spec.n_inputs))
    other = Bench()
    opened = other.apply(cmd.Load(str(path)))
    assert opened.meta["name"] == exp.name and other.epoch == 20
    np.testing.assert_array_equal(other.apply(cmd.Predict(grid)), bench.apply(cmd.Predict(grid)))
    with pytest.raises(SpecError):
        bench.apply(cmd.Save(""))


def test_restore_from_state_gives_back_the_same_network_and_history():
    bench = xor_bench()
    train(bench, 6)
    state = pickle.loads(pickle.dumps(bench.state()))  # it crosses a process boundary as data
    other = Bench()
    other.apply(cmd.Restore(state))
    assert other.epoch == 6 and other.generation == bench.generation
    np.testing.assert_array_equal(other.net.flat_params, bench.net.flat_params)
    np.testing.assert_array_equal(other.trainer.history.column("train_loss"),
                                  bench.trainer.history.column("train_loss"))
    np.testing.assert_array_equal(network_of(state.net).flat_params, bench.net.flat_params)


@pytest.mark.parametrize("command", [cmd.SwitchData(source=XOR), cmd.SetConfig({"lr": 0.3}), cmd.Play(),
                                     cmd.Pause(), cmd.Step(2), cmd.SetSpeed(30), cmd.Reset(3), cmd.Status(),
                                     cmd.GetState(),
                                     cmd.SetParam(0, 0, 0, 0.1), cmd.Predict(np.zeros((2, 2)))])
def test_commands_are_plain_data_that_survive_a_pickle_round_trip(command):
    bench = xor_bench()
    back = pickle.loads(pickle.dumps(command))
    assert type(back) is type(command)
    bench.apply(back)  # and the copy is carried out


def test_an_unknown_command_is_refused():
    with pytest.raises(SpecError, match="no command"):
        Bench().apply(object())
    with pytest.raises(IncompatibleError, match="no network yet"):
        Bench().apply(cmd.Play())


# ---- frames through shared memory --------------------------------------------------------------


def test_a_frame_written_to_shared_memory_reads_back_exactly():
    bench = xor_bench()
    train(bench, 5)
    shm = frames.create(1 << 16)
    try:
        writer, reader = frames.FrameWriter(shm), frames.FrameReader(shm)
        assert reader.read() is None  # nothing written yet
        f = bench.frame()
        assert writer.write(f) == 0
        got = reader.read()
        assert got.spec == f.spec and got.epoch == 5 and got.generation == f.generation
        np.testing.assert_array_equal(got.params, f.params)
        for key, column in f.history.items():
            np.testing.assert_array_equal(got.history[key], column)
        assert reader.read() is None  # read once
        reader.acknowledge(f.history_id, 5)
        assert writer.ack() == (f.history_id, 5)
        writer.close()
        reader.close()
    finally:
        shm.unlink()
        shm.close()


def test_a_half_written_frame_is_never_read():
    bench = xor_bench()
    shm = frames.create(1 << 16)
    try:
        writer, reader = frames.FrameWriter(shm), frames.FrameReader(shm)
        writer.write(bench.frame())
        first = reader.read()
        assert first is not None
        train(bench, 2)
        writer.write(bench.frame())
        slot = int(writer.words[frames._LATEST])
        writer.words[frames._SEQ[slot]] += 1  # as if the writer were in the middle of this slot
        assert reader.read() is None
        writer.words[frames._SEQ[slot]] += 1
        assert reader.read().epoch == 2
        writer.close()
        reader.close()
    finally:
        shm.unlink()
        shm.close()


def test_a_frame_too_large_for_its_slot_asks_for_more():
    bench = Bench.from_experiment(presets.load_preset("xor-mlp"))
    bench.apply(cmd.Restructure((LayerSpec(512, "relu"),), None, bench.spec.output))
    shm = frames.create(4096)
    try:
        writer = frames.FrameWriter(shm)
        need = writer.write(bench.frame())
        assert need > frames.slot_size(shm)
        writer.close()
    finally:
        shm.unlink()
        shm.close()
