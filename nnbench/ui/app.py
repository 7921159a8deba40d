"""Start the window: ``nnbench`` with no arguments, or ``python -m nnbench``.

Qt is imported inside the functions, not at the top: the engine process is started with spawn,
which imports the main module again in the child (``nnbench-gui`` and ``python -m
nnbench.ui.app`` make this module the main one), and the child must not load Qt.
"""

from __future__ import annotations

import sys


def configure_pyqtgraph() -> None:
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, background="w", foreground="#333")


def main(path: str | None = None) -> int:
    from PySide6.QtWidgets import QApplication
    from threadpoolctl import threadpool_limits

    from nnbench.ui.main_window import MainWindow

    # One BLAS thread: with two, a busy GUI thread on the other core made a 784-128-10 epoch
    # 3-4x slower (shared/notes/qt-on-this-machine.md; benchmarks/bench_engine.py).
    threadpool_limits(limits=1, user_api="blas")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("nnbench")
    app.setApplicationName("nnbench")
    configure_pyqtgraph()
    window = MainWindow()
    app.aboutToQuit.connect(window.session.shutdown)
    window.show()
    if path:
        window.load(path)
    else:
        window.start_default()
    return app.exec()
