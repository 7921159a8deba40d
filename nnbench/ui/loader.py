"""Loading and downloading datasets off the GUI thread, with progress and cancel."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

from nnbench.data import Dataset
from nnbench.data.download import DownloadCancelled
from nnbench.errors import NnbenchError

# A job gets ``progress(done, total)`` and ``cancel() -> bool`` and returns a Dataset.
LoadJob = Callable[[Callable[[int, int], None], Callable[[], bool]], Dataset]


class LoadWorker(QObject):
    progress = Signal(int, int)  # (done, total) units of work; total 0 while unknown
    finished = Signal(object)  # the Dataset, when the job returned
    failed = Signal(str)  # the job raised (or was cancelled); the text is for the user
    done = Signal()  # after finished or failed: the thread may quit

    def __init__(self, job: LoadJob) -> None:
        super().__init__()
        self._job = job
        self._cancel = threading.Event()
        self._last = (-1, -1)

    def cancel(self) -> None:
        """Ask the job to stop at its next chunk (thread-safe)."""
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _progress(self, done: int, total: int) -> None:
        # Only whole percent changes cross threads: a 10 MB file in 64 kB chunks would
        # otherwise emit hundreds of signals for one bar.
        key = (int(100 * done / total) if total else done >> 20, total)
        if key != self._last:
            self._last = key
            self.progress.emit(int(done), int(total))

    @Slot()
    def run(self) -> None:
        try:
            ds = self._job(self._progress, self.cancelled)
        except DownloadCancelled:
            self.failed.emit("Cancelled")
        except (NnbenchError, OSError, ValueError) as e:
            self.failed.emit(str(e))
        except Exception as e:  # noqa: BLE001 (a loader bug must not kill the thread silently)
            self.failed.emit(f"{type(e).__name__}: {e}")
        else:
            if self._cancel.is_set():
                self.failed.emit("Cancelled")
            else:
                self.finished.emit(ds)
        self.done.emit()


class _Reaper(QObject):
    """Holds the jobs a closed dialog let go of (cancelled, no longer heard) until their threads
    end, then frees them on the GUI thread; ``join`` waits for the rest at quit."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[tuple[QThread, LoadWorker]] = []

    def keep(self, thread: QThread, worker: LoadWorker) -> None:
        self.jobs.append((thread, worker))
        thread.finished.connect(self._on_thread_finished)

    @Slot()
    def _on_thread_finished(self) -> None:
        ended = self.sender()
        for pair in [p for p in self.jobs if p[0] is ended or p[0].isFinished()]:
            self.jobs.remove(pair)
            pair[0].wait()  # it has emitted finished: this returns at once
            pair[0].deleteLater()
            pair[1].deleteLater()

    @Slot()
    def join(self) -> None:
        for thread, _ in list(self.jobs):
            thread.wait()
        self.jobs.clear()


_reaper: _Reaper | None = None


def released_jobs() -> int:
    """How many let-go jobs are still running (for tests)."""
    return 0 if _reaper is None else sum(not t.isFinished() for t, _ in _reaper.jobs)


class Loader(QObject):
    """Runs one load job at a time on its own thread; re-emits the worker's signals."""

    progress = Signal(int, int)  # (done, total) of the running job
    finished = Signal(object)  # the loaded Dataset
    failed = Signal(str)  # why the load failed, or "Cancelled"
    busy_changed = Signal(bool)  # a job started (True) or ended (False)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: LoadWorker | None = None
        self._ended = True  # the worker has reported; its thread may still be winding down
        app = QCoreApplication.instance()
        if app is not None:  # a download running at quit must not outlive its QThread
            app.aboutToQuit.connect(self.join)

    @property
    def busy(self) -> bool:
        return not self._ended

    def start(self, job: LoadJob) -> None:
        if self.busy:
            raise RuntimeError("a load is already running")
        self._cleanup()
        worker = LoadWorker(job)
        thread = QThread()
        thread.setObjectName("nnbench-loader")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.done.connect(thread.quit)
        worker.done.connect(self._on_worker_done)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker, self._ended = thread, worker, False
        self.busy_changed.emit(True)
        thread.start()

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def wait(self) -> None:
        """Cancel the running job and let go of it without blocking (closing a dialog).

        The GUI thread never joins a job here: a download stops within 50 ms of its cancel,
        but a file being parsed cannot be interrupted. The job ends on its own thread, unheard
        (its result is dropped), and is freed when it ends, or joined at quit. The loader is
        idle at once."""
        global _reaper
        if self._thread is None:
            return
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        worker.cancel()
        thread.finished.disconnect(self._on_thread_finished)
        if _reaper is None:
            _reaper = _Reaper()
            app = QCoreApplication.instance()
            if app is not None:
                app.aboutToQuit.connect(_reaper.join)
        _reaper.keep(thread, worker)
        if thread.isFinished():  # it ended before we connected: free it now
            QTimer.singleShot(0, _reaper._on_thread_finished)
        self._on_done()

    def join(self) -> None:
        """Cancel and join the running job (at quit, and for tests that need it gone)."""
        self.cancel()
        self._cleanup()

    # Results are taken only from the current worker: one let go of may have queued some.
    def _current(self) -> bool:
        return self._worker is not None and self.sender() is self._worker

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if self._current():
            self.progress.emit(done, total)

    @Slot(object)
    def _on_finished(self, ds: Any) -> None:
        if self._current():
            self._on_done()  # idle before anyone hears of it, so a slot may start the next job
            self.finished.emit(ds)

    @Slot(str)
    def _on_failed(self, text: str) -> None:
        if self._current():
            self._on_done()
            self.failed.emit(text)

    @Slot()
    def _on_worker_done(self) -> None:
        if self._current():
            self._on_done()

    @Slot()
    def _on_thread_finished(self) -> None:
        # A queued signal of an earlier thread must not join the job started since.
        if self._thread is not None and self.sender() is self._thread:
            self._cleanup()

    def _on_done(self) -> None:
        if not self._ended:
            self._ended = True
            self.busy_changed.emit(False)

    def _cleanup(self) -> None:
        """Join the last job's thread (it has reported or was cancelled) and free it."""
        if self._thread is None:
            return
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        thread.quit()
        thread.wait()
        thread.deleteLater()
        worker.deleteLater()
        self._on_done()


def _first(ds: Dataset, subset: int | None) -> Dataset:
    """The first ``subset`` training digits (all when the files hold fewer)."""
    if subset is None or subset >= len(ds.x_train):
        return ds
    return replace(
        ds,
        x_train=ds.x_train[:subset],
        y_train=ds.y_train[:subset],
        source={**ds.source, "subset": int(subset)},
    )


# --- jobs -------------------------------------------------------------------------------------
def mnist_download_job(
    cache_dir: str | None, mirror: str, subset: int | None, checksums: dict[str, str] | None = None
) -> LoadJob:
    """Download the four files (cached ones are skipped), then load them."""
    from nnbench.data import download_mnist, load_mnist_dir
    from nnbench.data.mnist import FILES

    def job(progress, cancel) -> Dataset:
        def on_chunk(name: str, done: int, total: int | None) -> None:
            # the files come one after another: each is a quarter of the bar
            frac = min(done / total, 1.0) if total else 0.0
            progress(int(1000 * (FILES.index(name) + frac) / len(FILES)), 1000)

        directory = download_mnist(cache_dir, mirror, on_chunk, cancel, checksums=checksums)
        if cancel():
            raise DownloadCancelled("cancelled")
        return _first(load_mnist_dir(directory), subset)

    return job


def mnist_local_job(path: str, subset: int | None) -> LoadJob:
    """A folder with the IDX files, or a Keras mnist.npz."""
    from nnbench.data import load_mnist_dir, load_mnist_npz

    def job(progress, cancel) -> Dataset:
        progress(0, 0)
        ds = load_mnist_npz(path) if path.lower().endswith(".npz") else load_mnist_dir(path)
        return _first(ds, subset)

    return job


def csv_job(path: str, features: list[str], target: str, task: str | None, standardize: bool) -> LoadJob:
    from nnbench.data import dataset_from_csv

    def job(progress, cancel) -> Dataset:
        return dataset_from_csv(path, features, target, task=task, standardize=standardize)

    return job
