"""`nnbench sweep`: a table, a heatmap PNG, a rerun that skips, one-line errors."""

import os

import pytest

from nnbench.cli import main
from nnbench.sweep import read_results

ARGS = ["sweep", "circle-features", "--grid", "lr=0.03,0.3", "--grid", "batch_size=10,40", "--seeds", "3",
        "--epochs", "4", "--executor", "serial"]


def test_sweep_writes_the_table_and_the_heatmap_and_a_rerun_skips(tmp_path, capsys):
    out, png = tmp_path / "r.csv", tmp_path / "map.png"
    assert main([*ARGS, "--out", str(out), "--heatmap", str(png)]) == 0
    text = capsys.readouterr().out
    assert "4 cell(s) x 3 seed(s)" in text and "[4/4]" in text and "of 12 reached test_acc>=0.98" in text
    assert len(read_results(out)) == 12
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and os.path.getsize(png) > 2000
    assert main([*ARGS, "--out", str(out)]) == 0
    again = capsys.readouterr().out
    assert "4 cell(s) already in" in again and "[1/4]" not in again


@pytest.mark.parametrize("extra,message", [
    (["--grid", "lr=0.1,fast"], "nnbench: error: --grid 'lr=0.1,fast': 'fast' is not a number"),
    (["--grid", "colour=red"], "unknown setting 'colour'"),
    (["--grid", "hidden"], "--grid 'hidden': write NAME=V1,V2"),
    (["--executor", "cloud"], "--executor 'cloud': give local, serial or dask://HOST:PORT"),
    (["--target", "acc>0.5"], "--target 'acc>0.5': write METRIC>=VALUE"),
    (["--heatmap", "m.png"], "--heatmap needs at least one --grid setting"),
])
def test_bad_sweep_arguments_are_one_line(capsys, extra, message):
    args = ["sweep", "circle-features", "--seeds", "2", "--epochs", "1", *extra]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_stacked_seeds_sweeps_and_the_cli_run_with_qt_blocked(tmp_path):
    from test_boundaries import run_without_qt

    r = run_without_qt(
        "from nnbench.cli import main\n"
        f"rc = main(['sweep', 'circle-features', '--grid', 'lr=0.1,0.3', '--seeds', '2', '--epochs', '2', "
        f"'--executor', 'serial', '--out', {str(tmp_path / 'r.json')!r}])\n"
        "assert rc == 0\n"
        f"rc = main(['sweep', 'circle-features', '--grid', 'lr=0.1', '--seeds', '2', '--epochs', '1', "
        f"'--executor', 'serial', '--heatmap', {str(tmp_path / 'm.png')!r}])\n"
        "assert rc == 1\n"
        "assert not any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules)\n"
        "print('ok')\n"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("ok")
    assert "nnbench: error: the heatmap is drawn with Qt, which cannot be loaded here" in r.stderr
