"""The timeline under the curves: go back to any kept epoch, and fork a run from there.

:class:`RunsClient` keeps the engine's list of runs (``ListRuns``) fresh for the timeline and
the runs list. :class:`Timeline` is a slider over the checkpoints of one run (the live run, or
the run picked in the runs list): moving it asks the engine for that checkpoint (``Seek``),
has the worker evaluate it on the views' grid like a frame (``EngineWorker.evaluate``) and
pins it in every view (``Session.pin``); live frames wait until "Live". Arrow keys step checkpoint by
checkpoint; a click on the loss or accuracy curve goes to the nearest kept epoch.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from nnbench import commands as cmd
from nnbench.bench import network_of
from nnbench.history import RunInfo, Seen, Switched
from nnbench.ui.session import Session

REFRESH_MS = 700  # how often the runs list is asked for while training
SEEN_CACHE_BYTES = 64 << 20  # checkpoints already fetched (they never change), newest kept
MARKER_PEN = pg.mkPen((200, 30, 60), width=1.5, style=Qt.PenStyle.DashLine)


class RunsClient(QObject):
    """The runs as the engine last listed them, and which one the timeline scrubs."""

    runs_changed = Signal(object)  # a tuple of history.RunInfo: after every ListRuns answer
    switched = Signal(object)  # another run became live (a fork, a run picked): a history.Switched

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.runs: tuple[RunInfo, ...] = ()
        self.shown: int | None = None  # the run the timeline scrubs; None: the live one
        self._asking = False
        self._again = False
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        session.running_changed.connect(self._on_running_changed)
        session.spec_changed.connect(lambda _s: self.refresh())
        session.dataset_changed.connect(self._on_dataset_changed)
        session.stopped.connect(lambda _s: self.refresh())
        session.file_done.connect(lambda _p: self.refresh())
        session.restored.connect(lambda _note: self.refresh())  # a new engine brought the runs back

    def run(self, rid: int | None) -> RunInfo | None:
        for r in self.runs:
            if (rid is None and r.live) or r.id == rid:
                return r
        return None

    @property
    def live(self) -> RunInfo | None:
        return self.run(None)

    @Slot()
    def refresh(self) -> None:
        """Ask for the runs again (one question out at a time; a second call asks once more)."""
        if self.session.spec is None:
            return
        if self._asking:
            self._again = True
            return
        self._asking = True

        def done(runs: tuple[RunInfo, ...]) -> None:
            self._asking = False
            self.runs = tuple(runs)
            if self.shown is not None and self.run(self.shown) is None:
                self.shown = None
            self.runs_changed.emit(self.runs)
            if self._again:
                self._again = False
                self.refresh()

        def failed(_text: str) -> None:
            self._asking = False

        self.session.call(cmd.ListRuns(), done, failed)

    def switch(self, command: cmd.Fork | cmd.SetLive) -> None:
        """Fork or pick a live run; the panels follow its network and settings."""

        def done(sw: Switched) -> None:
            self.shown = None
            self.session.unpin()
            self.session.adopt_run(sw.spec, sw.config)
            self.switched.emit(sw)
            self.refresh()

        self.session.call(command, done)

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        if running:
            self._timer.start()
        else:
            self._timer.stop()
        self.refresh()

    @Slot(object)
    def _on_dataset_changed(self, _ds) -> None:
        self.runs, self.shown = (), None
        self.runs_changed.emit(self.runs)
        self.refresh()


class Timeline(QWidget):
    """A slider over one run's checkpoints; "Live" goes back to the network training now."""

    shown = Signal(int)  # a checkpoint's epoch is drawn in every view

    def __init__(self, client: RunsClient, plots_panel: QWidget | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.session = client.session
        self.epochs: list[int] = []  # the kept epochs of the run shown, ascending
        self.epoch: int | None = None  # the checkpoint drawn, None when live
        self.seen: Seen | None = None
        self._wanted: tuple[int, int | None] | None = None
        self._asking = False
        self._asked_at = self._answered_at = 0.0
        self._moves = 0  # counts moves and returns to live: an answer for an older one is not shown
        self._evaluating: tuple[int, Seen, int] | None = None  # (token, checkpoint, move)
        self._shown_token: tuple[int, Seen, int] | None = None  # drawn; its full grid may follow
        self.session.worker.evaluated.connect(self._on_evaluated)
        self._seen_cache: dict[tuple[int | None, int], Seen] = {}  # (run asked for, epoch) -> answer
        self.timing: dict[str, float] = {}  # perf_counter of the last move's stages (the benchmark)

        self.title = QLabel("Timeline")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setAccessibleName("timeline")
        self.slider.setToolTip("Go back to a kept epoch: every view shows the network as it was then "
                               "(arrow keys step checkpoint by checkpoint; a click on the loss curve too)")
        self.slider.setPageStep(1)
        self.slider.setEnabled(False)
        self.label = QLabel("live")
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance("epoch 9,999,999 of run 99  "))
        self.live_button = QPushButton("Live")
        self.live_button.setToolTip("Back to the network training now")
        self.live_button.setEnabled(False)
        self.fork_button = QPushButton("Fork from here")
        self.fork_button.setToolTip("A new run from the epoch shown; change any setting and train on")
        self.fork_button.setEnabled(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.live_button)
        layout.addWidget(self.fork_button)

        self.markers: list[pg.InfiniteLine] = []
        self._plots: list[pg.PlotWidget] = []
        self._panel = plots_panel
        if plots_panel is not None:
            self.watch_plots(plots_panel.loss_plot, plots_panel.acc_plot)

        self.slider.valueChanged.connect(self._on_slider)
        self.live_button.clicked.connect(self.go_live)
        self.fork_button.clicked.connect(self.fork_here)
        client.runs_changed.connect(self._on_runs_changed)
        self.session.pinned_changed.connect(self._on_pinned_changed)

    def watch_plots(self, *plots: pg.PlotWidget) -> None:
        """Mark the epoch shown on these plots, and go to the epoch clicked on them."""
        for plot in plots:
            line = pg.InfiniteLine(angle=90, movable=False, pen=MARKER_PEN)
            line.setVisible(False)
            line.setZValue(50)
            plot.addItem(line, ignoreBounds=True)
            self.markers.append(line)
            self._plots.append(plot)
            plot.scene().sigMouseClicked.connect(lambda ev, p=plot: self._on_plot_clicked(p, ev))

    # ---- moving --------------------------------------------------------------------------------
    def show_epoch(self, epoch: int) -> None:
        """Draw the checkpoint of ``epoch`` (of the run shown) in every view."""
        self._wanted = (int(epoch), self.client.shown)
        self._moves += 1
        self._ask()

    def step(self, by: int) -> None:
        """One checkpoint earlier (-1) or later (+1)."""
        if self.epochs:
            self.slider.setValue(min(max(self.slider.value() + by, 0), len(self.epochs) - 1))

    def go_live(self) -> None:
        self._wanted = None
        self._moves += 1
        self.epoch = self.seen = None
        self.session.unpin()

    def fork_here(self) -> None:
        """A new run from the checkpoint shown, settings unchanged until the user changes them."""
        if self.seen is None:
            return
        seen = self.seen
        self.client.switch(cmd.Fork(seen.epoch, {}, seen.run))
        self.session.message.emit(f"Forked a new run from epoch {seen.epoch:,}: change any setting "
                                  "(rate, optimizer, network...) and train on")

    def _ask(self) -> None:
        if self._asking or self._wanted is None:
            return
        epoch, run = self._wanted
        self._wanted = None
        move = self._moves
        self._asked_at = time.perf_counter()
        rid = run if run is not None else (self.client.live.id if self.client.live is not None else None)
        cached = self._seen_cache.get((rid, epoch))
        if cached is not None and rid is not None:  # checkpoints never change: no need to ask again
            self._draw(cached, move)
            return
        self._asking = True

        def done(seen: Seen) -> None:
            self._asking = False
            self._remember(seen)
            if self._wanted is None and move == self._moves:  # the newest wish only: a fast
                self._draw(seen, move)  # drag draws its last position; none after going live
            else:
                self._ask()

        def failed(text: str) -> None:
            self._asking = False
            self.session.message.emit(text)
            self._ask()

        self.session.call(cmd.Seek(epoch, run), done, failed)

    def _remember(self, seen: Seen) -> None:
        cache = self._seen_cache
        cache[(seen.run, seen.epoch)] = seen
        while sum(x.params.nbytes for x in cache.values()) > SEEN_CACHE_BYTES and len(cache) > 1:
            del cache[next(iter(cache))]

    def _draw(self, seen: Seen, move: int) -> None:
        """Have the worker evaluate ``seen`` on the views' grid (off the GUI thread);
        _on_evaluated shows it. Until then this counts as asking: a newer wish waits for it."""
        self._asking = True
        self._answered_at = time.perf_counter()
        # Quick: a deep net's checkpoint is drawn on the coarse grid at once and sharpened by
        # a second answer under the same token (the full grid took 17-27 ms for the spiral).
        token = self.session.worker.evaluate(seen.spec, seen.params, seen.epoch, seen.step, seen.lr,
                                             quick=True)
        self._evaluating = (token, seen, move)

    @Slot(int, object)
    def _on_evaluated(self, token: int, frame) -> None:
        shown = self._shown_token
        if shown is not None and shown[0] == token:  # the full grid of the checkpoint shown
            if frame is not None and self._wanted is None and shown[2] == self._moves \
                    and self.seen is shown[1] and self.session.pinned is not None:
                self.session.pin(frame, network_of(cmd.NetState(shown[1].spec, shown[1].params)))
            self._shown_token = None
            return
        if self._evaluating is None or self._evaluating[0] != token:
            return
        _, seen, move = self._evaluating
        self._evaluating = None
        self._asking = False
        if frame is not None and self._wanted is None and move == self._moves:  # the newest wish only
            self._show(seen, frame)
            self._shown_token = (token, seen, move)
        self._ask()

    def _show(self, seen: Seen, frame) -> None:
        t1 = time.perf_counter()
        self.seen, self.epoch = seen, seen.epoch
        self.session.pin(frame, network_of(cmd.NetState(seen.spec, seen.params)))
        self.timing = {"asked": self._asked_at, "answered": self._answered_at, "evaluated": t1,
                       "drawn": time.perf_counter()}
        self._place(seen.epoch)
        status = getattr(self._panel, "status", None)
        if status is not None:  # the panel's line shows the live run's last losses: these are the epoch's
            text = f"epoch {seen.epoch:,}   step {seen.step:,}   lr {seen.lr:g}"
            m = seen.metrics
            for key, name in (("train_loss", "train loss"), ("test_loss", "test loss")):
                if np.isfinite(m.get(key, np.nan)):
                    text += f"   {name} {m[key]:.4g}"
            status.setText(text)
        self.shown.emit(seen.epoch)

    def _place(self, epoch: int | None) -> None:
        run = self.client.run(self.client.shown)
        name = run.name if run is not None else ""
        self.label.setText("live" if epoch is None else f"epoch {epoch:,} of {name}")
        for line in self.markers:
            line.setVisible(epoch is not None)
            if epoch is not None:
                line.setValue(epoch)
        if epoch is not None and epoch in self.epochs:
            self.slider.blockSignals(True)
            self.slider.setValue(self.epochs.index(epoch))
            self.slider.blockSignals(False)

    # ---- slots ---------------------------------------------------------------------------------
    @Slot(int)
    def _on_slider(self, index: int) -> None:
        if 0 <= index < len(self.epochs):
            self.show_epoch(self.epochs[index])

    @Slot(object)
    def _on_runs_changed(self, runs) -> None:
        ids = {r.id for r in runs}
        for key in [k for k in self._seen_cache if k[0] not in ids]:
            del self._seen_cache[key]
        run = self.client.run(self.client.shown)
        self.epochs = list(run.checkpoints) if run is not None else []
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(self.epochs) - 1, 0))
        if self.epoch is not None and self.epoch in self.epochs:
            self.slider.setValue(self.epochs.index(self.epoch))
        elif self.epoch is None:
            self.slider.setValue(max(len(self.epochs) - 1, 0))
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(self.epochs) > 0)
        self.title.setText("Timeline" if run is None or run.live else f"Timeline ({run.name})")

    @Slot(bool)
    def _on_pinned_changed(self, pinned: bool) -> None:
        self.live_button.setEnabled(pinned)
        self.fork_button.setEnabled(pinned)
        if not pinned:
            self.epoch = self.seen = None
            self._place(None)
            if self.epochs:
                self.slider.blockSignals(True)
                self.slider.setValue(len(self.epochs) - 1)
                self.slider.blockSignals(False)

    def _on_plot_clicked(self, plot: pg.PlotWidget, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or not self.epochs:
            return
        vb = plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        x = vb.mapSceneToView(ev.scenePos()).x()
        kept = np.asarray(self.epochs)
        self.show_epoch(int(kept[np.argmin(np.abs(kept - x))]))
        ev.accept()
