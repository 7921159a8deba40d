"""Issue 11, item 16: saving over what is already there, as careful editors do: through a
symlink, keeping the mode, the owner and hard links, and refusing read-only files and anything
that is not a regular file. Also ``--save ''``."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from nnbench import cli
from nnbench.engine import Network, NetworkSpec, files
from nnbench.errors import NnbenchError


def net(seed: int) -> Network:
    return Network(NetworkSpec.mlp([2, 3, 1]), np.random.default_rng(seed))


def holds(path, expected: Network) -> bool:
    got = files.load(path).weights
    return all(np.array_equal(got[k], v) for k, v in expected.weights().items())


def test_a_read_only_file_is_refused_and_kept(tmp_path):
    path = tmp_path / "kept.npz"
    files.save(path, net(0))
    path.chmod(0o444)
    before = path.read_bytes()
    with pytest.raises(NnbenchError, match="kept.npz is read-only; nothing was overwritten"):
        files.save(path, net(1))  # as root too, where os.access says it could be written
    assert path.read_bytes() == before and stat.S_IMODE(path.stat().st_mode) == 0o444
    assert [p.name for p in tmp_path.iterdir()] == ["kept.npz"]


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "real" / "net.npz"
    real.parent.mkdir()
    files.save(real, net(0))
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    files.save(link, net(1))
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert holds(real, net(1))
    assert sorted(p.name for p in real.parent.iterdir()) == ["net.npz"]  # no temporary file left


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(tmp_path / "new.npz")
    files.save(link, net(2))
    assert link.is_symlink() and holds(tmp_path / "new.npz", net(2))


def test_hard_links_keep_sharing_the_file(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    files.save(a, net(0))
    os.link(a, b)
    inode = a.stat().st_ino
    files.save(a, net(1))
    assert a.stat().st_ino == b.stat().st_ino == inode and a.stat().st_nlink == 2
    assert holds(b, net(1))
    files.save(b, net(2))  # a shorter or longer file: the same bytes under both names
    assert a.read_bytes() == b.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600, 0o664, 0o666])
def test_the_mode_of_the_file_replaced_is_kept(tmp_path, mode):
    path = tmp_path / "mode.npz"
    files.save(path, net(0))
    path.chmod(mode)
    files.save(path, net(1))
    assert stat.S_IMODE(path.stat().st_mode) == mode and holds(path, net(1))


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_usual_mode_for_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        files.save(tmp_path / "new.npz", net(0))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.npz").stat().st_mode) == 0o666 & ~umask


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can give a file away")
def test_the_owner_of_the_file_replaced_is_kept(tmp_path):
    path = tmp_path / "owned.npz"
    files.save(path, net(0))
    os.chown(path, 12345, 23456)
    files.save(path, net(1))
    st = path.stat()
    assert (st.st_uid, st.st_gid) == (12345, 23456) and holds(path, net(1))


@pytest.mark.parametrize("kind", ["fifo", "folder", "link-to-fifo"])
def test_a_target_that_is_not_a_regular_file_is_refused_and_left(tmp_path, kind):
    target = tmp_path / "target"
    if kind == "folder":
        target.mkdir()
    else:
        os.mkfifo(target)
    path = target
    if kind == "link-to-fifo":
        path = tmp_path / "link.npz"
        path.symlink_to(target)
    with pytest.raises(NnbenchError, match="it is not a regular file"):
        files.save(path, net(0))
    assert (target.is_dir() if kind == "folder" else stat.S_ISFIFO(target.stat().st_mode))
    assert len(list(tmp_path.iterdir())) == (2 if kind == "link-to-fifo" else 1)


def test_the_cli_refuses_a_fifo_target_before_training_is_lost(tmp_path, capsys):
    fifo = tmp_path / "out.npz"
    os.mkfifo(fifo)
    code = cli.main(["train", "xor-mlp", "--epochs", "2", "--save", str(fifo)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR and "out.npz: it is not a regular file" in err
    assert stat.S_ISFIFO(fifo.stat().st_mode)


@pytest.mark.parametrize("name", ["", "   "])
def test_save_to_an_empty_name_is_a_usage_error(capsys, name):
    code = cli.main(["train", "xor-mlp", "--epochs", "1", "--save", name])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and "give a file name to save to" in err


def test_an_empty_path_is_refused_by_the_engine_too():
    with pytest.raises(NnbenchError, match="give a file name"):
        files.save("", net(0))
