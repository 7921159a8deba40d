"""File > Export Network as...: the network in use written as ONNX, PyTorch or NumPy, off the
GUI thread.

It goes the way Save goes: the session saves the experiment to a temporary file on the engine
thread (the one public way to get the network and its dataset record out of it), then a plain
thread exports that file (:func:`nnbench.export.export_experiment`) and the temporary folder is
removed. The export gets the same input scaling a saved file would.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from nnbench.errors import NnbenchError
from nnbench.ui.session import Session


class Exporter(QObject):
    finished = Signal(str)  # an export was written; the text names the files
    failed = Signal(str)  # an export failed; the text is for the user, nothing was overwritten

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._folders: set[str] = set()  # temporary folders of exports not yet finished
        self._threads: list[threading.Thread] = []

    def start(self, out: str, kind: str) -> None:
        """Export the network in use to ``out`` as ``kind`` ("onnx", "torch" or "numpy")."""
        folder = tempfile.mkdtemp(prefix="nnbench-export-")
        self._folders.add(folder)
        snapshot = str(Path(folder) / "network.npz")
        self.session.save(snapshot, on_saved=lambda p: self._run(p, out, kind, folder))

    def owns(self, path: str) -> bool:
        """Whether ``path`` is one of this exporter's temporary files (not a file to remember)."""
        return str(Path(path).parent) in self._folders

    def _run(self, snapshot: str, out: str, kind: str, folder: str) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=self._work, args=(snapshot, out, kind, folder),
                                  name="nnbench-export", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _work(self, snapshot: str, out: str, kind: str, folder: str) -> None:
        from nnbench.experiment import load_experiment
        from nnbench.export import export_experiment

        failure = None
        try:
            exp = load_experiment(snapshot).replace(name=Path(out).stem)
            written = export_experiment(exp, kind, out)
        except (NnbenchError, OSError, ValueError) as e:
            failure = str(e)
        except Exception as e:  # noqa: BLE001 (an exporter bug must not die silently on its thread)
            failure = f"{type(e).__name__}: {e}"
        finally:  # the snapshot goes before anyone hears of the result
            shutil.rmtree(folder, ignore_errors=True)
            self._folders.discard(folder)
        if failure is not None:
            self.failed.emit(f"Could not export to {Path(out).name}: {failure}")
        else:
            self.finished.emit(f"Exported {' and '.join(p.name for p in written)}")

    def wait(self) -> None:
        """Let running exports finish (closing the window), then drop any temporary folder left
        by a save that failed."""
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        for folder in list(self._folders):
            shutil.rmtree(folder, ignore_errors=True)
        self._folders.clear()
