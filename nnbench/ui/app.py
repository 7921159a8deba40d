"""Start the window: ``nnbench`` with no arguments, or ``python -m nnbench``.

Qt is imported inside the functions, not at the top: the engine process is started with spawn,
which imports the main module again in the child (``nnbench-gui`` and ``python -m
nnbench.ui.app`` make this module the main one), and the child must not load Qt.
"""

from __future__ import annotations

import sys

from nnbench import resources

_COLLECTOR = None


def collect_garbage_on_gui_thread() -> None:
    """Python's cyclic garbage collector runs on whichever thread happens to allocate, and
    once it ran on the engine worker's thread while collecting a closed window's widgets: Qt
    destructors there and on the GUI thread each waited for the other (a deadlock seen in the
    test suite, stacks taken with gdb). From the first window on, automatic collection is off
    and pyqtgraph's GarbageCollector collects on a GUI-thread timer, with the same thresholds.
    Call on the GUI thread; calling again does nothing."""
    global _COLLECTOR
    if _COLLECTOR is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _COLLECTOR = GarbageCollector(interval=0.25)


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
    icon = resources.icon("nnbench")
    if icon.is_file():  # a checkout's resources/icons (a wheel install has none)
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    configure_pyqtgraph()
    window = MainWindow()
    app.aboutToQuit.connect(window.session.shutdown)
    window.show()
    if path:
        window.load(path)
    else:
        window.start_default()
    return app.exec()
