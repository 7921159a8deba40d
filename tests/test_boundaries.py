"""The engine, the data code and the CLI's headless commands work with Qt absent."""

import subprocess
import sys

BLOCK_QT = (
    "import sys\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'):\n"
    "            raise ImportError('Qt is blocked in this test: ' + name)\n"
    "sys.meta_path.insert(0, Block())\n"
)


def run_without_qt(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_QT + code], capture_output=True, text=True,
                          timeout=120)


def test_engine_and_data_import_and_train_with_qt_blocked():
    r = run_without_qt(
        "import nnbench.engine, nnbench.data, nnbench.engine.files\n"
        "from nnbench.engine import Network, NetworkSpec, TrainConfig, Trainer\n"
        "ds = nnbench.data.generate('xor', n=40)\n"
        "net = Network(NetworkSpec.mlp([2, 4, 1]))\n"
        "Trainer(net, TrainConfig(), ds.x_train, ds.y_train).run(3)\n"
        "assert not any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules)\n"
        "print('ok')\n"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_the_block_really_blocks_qt():
    r = run_without_qt("import PySide6.QtCore\n")
    assert r.returncode != 0 and "Qt is blocked" in r.stderr


def test_the_bench_its_commands_and_the_engine_process_code_import_with_qt_blocked():
    r = run_without_qt(
        "import nnbench.bench, nnbench.commands, nnbench.remote, nnbench.frames, nnbench.cli\n"
        "import nnbench.history, nnbench.journal\n"
        "import nnbench.ui.app  # the window's main module: spawn imports it again in the engine\n"
        "from nnbench import commands as cmd\n"
        "b = nnbench.bench.Bench()\n"
        "b.apply(cmd.SwitchData(source={'kind': 'generator', 'name': 'xor', 'n': 40}))\n"
        "b.apply(cmd.Step(2)); b.run_until_stopped()\n"
        "assert b.epoch == 2\n"
        "assert not any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules)\n"
        "print('ok')\n"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
