"""nnbench gradcheck, lr-find and curvature: their numbers, their plots, their errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from nnbench import cli
from nnbench.engine import activations

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def headless(*argv, block_qt: bool = False):
    """``python -m nnbench ...`` with no display at all (and, if asked, Qt made unimportable)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore")
    code = "import sys, runpy\n"
    if block_qt:
        code += ("class Block:\n"
                 "    def find_spec(self, name, path=None, target=None):\n"
                 "        if name.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'):\n"
                 "            raise ImportError('Qt is blocked in this test')\n"
                 "sys.meta_path.insert(0, Block())\n")
    code += "from nnbench import cli\nsys.exit(cli.main(sys.argv[1:]))\n"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env,
                          timeout=120, cwd=ROOT)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_gradcheck_reports_every_layer(capsys):
    code, out, err = run(capsys, "gradcheck", "xor-mlp", "--json")
    assert code == 0, err
    r = last_json(out)
    assert r["verdict"] == "agree" and r["max_relative_error"] < 1e-6
    assert [(la["layer"], la["checked"], la["total"]) for la in r["layers"]] == [(1, 12, 12), (2, 4, 4)]
    assert "layer 1" in out and "backprop agrees" in out


def test_gradcheck_exits_4_when_backprop_is_wrong(capsys, monkeypatch):
    monkeypatch.setattr(activations.Sigmoid, "backward",
                        lambda self, z, a, grad, scratch: np.multiply(grad, a, out=grad))
    code, out, _ = run(capsys, "gradcheck", "xor-mlp")
    assert code == cli.EXIT_GRADIENTS_WRONG
    assert "DISAGREE" in out


def test_lr_find_suggests_a_rate_and_leaves_the_experiment_alone(capsys, tmp_path):
    code, out, err = run(capsys, "lr-find", "circle-features", "--json")
    assert code == 0, err
    r = last_json(out)
    assert len(r["lrs"]) == len(r["losses"]) <= 100 and np.all(np.diff(r["lrs"]) > 0)
    assert r["stopped"] == "blew up"  # a rate of 10 is far too much for this net
    assert r["lrs"][0] < r["suggested"] < r["lrs"][-1]
    assert "suggested learning rate" in out
    assert "on a copy" in out


def test_curvature_matches_the_dense_hessian(capsys):
    code, out, err = run(capsys, "curvature", "xor-mlp", "--train", "100", "--dense", "--json")
    assert code == 0, err
    r = last_json(out)
    assert abs(r["lambda_max"] - r["dense_lambda_max"]) / r["dense_lambda_max"] < 1e-4
    assert r["stability_limit"] == pytest.approx(2 / r["lambda_max"])
    assert "stability limit" in out and "epoch 100" in out


def test_curvature_every_n_epochs_while_training(capsys):
    code, out, err = run(capsys, "curvature", "xor-mlp", "--train", "100", "--every", "50", "--json")
    assert code == 0, err
    rows = last_json(out)["every"]
    assert [row["epoch"] for row in rows] == [0, 50, 100]
    assert all(row["stability_limit"] == pytest.approx(2 / row["lambda_max"]) for row in rows)


def test_plots_are_written_as_png_without_a_display(tmp_path):
    for argv in (("gradcheck", "xor-mlp"), ("lr-find", "xor-mlp", "--steps", "30"),
                 ("curvature", "xor-mlp", "--every", "50", "--train", "100")):
        out = tmp_path / f"{argv[0]}.png"
        r = headless(*argv, "--plot", str(out))
        assert r.returncode == 0, r.stderr
        assert png_size(out) == (800, 500)
        assert f"plot written to {out}" in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curvature.png", "gradcheck.png", "lr-find.png"]


def test_the_numbers_need_no_qt_and_a_plot_says_what_it_needs(tmp_path):
    r = headless("gradcheck", "xor-mlp", block_qt=True)
    assert r.returncode == 0, r.stderr
    assert "backprop agrees" in r.stdout
    r = headless("curvature", "xor-mlp", "--plot", str(tmp_path / "c.png"), block_qt=True)
    assert r.returncode == 1
    assert r.stderr.startswith("nnbench: error: --plot needs PySide6 and pyqtgraph")
    assert "Traceback" not in r.stderr and not (tmp_path / "c.png").exists()


def test_the_instruments_import_and_compute_with_qt_blocked():
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'):\n"
            "            raise ImportError('Qt is blocked in this test')\n"
            "sys.meta_path.insert(0, Block())\n"
            "from nnbench import presets\n"
            "from nnbench.bench import Bench\n"
            "from nnbench.inspect import backprop, curvature, figures, gradcheck, landscape, lr_finder, "
            "training_batch\n"
            "b = Bench.from_experiment(presets.load_preset('xor-mlp'))\n"
            "x, y = training_batch(b.dataset)\n"
            "backprop.trace(b.net, 'sse', x, y); gradcheck.check(b.net, 'sse', x, y)\n"
            "curvature.top_eigenvalue(curvature.LossFunction(b.net, 'sse', x, y))\n"
            "lr_finder.find(b.net, b.config, x, y, steps=10)\n"
            "landscape.random_plane(landscape.Evaluator(b.net, 'sse', x, y), points=3)\n"
            "assert not any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules)\n"
            "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_bad_arguments_are_one_line_errors(capsys, tmp_path):
    code, _, err = run(capsys, "lr-find", "xor-mlp", "--min", "1", "--max", "0.1")
    assert code == cli.EXIT_USAGE and err.startswith("nnbench: error: --min and --max")
    code, _, err = run(capsys, "gradcheck", str(tmp_path / "missing.json"))
    assert code == cli.EXIT_ERROR and "no such file or preset" in err
