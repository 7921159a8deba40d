"""The main window: assembles the panels, the training toolbar and the menus."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGroupBox,
    QLabel,
    QMainWindow,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from nnbench import presets, resources
from nnbench.data.mnist import FILES as MNIST_FILES
from nnbench.data.mnist import default_cache_dir
from nnbench.engine.losses import LOSS_TITLES
from nnbench.engine.optimizers import OPTIMIZERS
from nnbench.engine.training import TrainConfig
from nnbench.errors import NnbenchError
from nnbench.experiment import load_experiment
from nnbench.ui import dialogs, inspect_window
from nnbench.ui.dataset_panel import DatasetPanel
from nnbench.ui.exporter import Exporter
from nnbench.ui.network_panel import NetworkPanel
from nnbench.ui.network_view import NetworkView
from nnbench.ui.plots_panel import PlotsPanel
from nnbench.ui.predict_box import PredictBox
from nnbench.ui.session import Session
from nnbench.ui.undo import StructureHistory

DEFAULT_SOURCE = ("generator", "xor")


def mnist_files_in(folder: Path) -> bool:
    """Whether ``folder`` holds MNIST's test files at least (gzipped or not): what the loader needs."""
    return all((folder / n).is_file() or (folder / n.removesuffix(".gz")).is_file() for n in MNIST_FILES[2:])
MAX_RECENT = 8


SPEED_CHOICES = ((0.0, "as fast as it can"), (1000.0, "1,000 batches/s"), (100.0, "100 batches/s"),
                 (30.0, "30 batches/s (one a frame)"), (10.0, "10 batches/s"), (3.0, "3 batches/s"),
                 (1.0, "1 batch/s"))


class MainWindow(QMainWindow):
    def __init__(self, session: Session | None = None) -> None:
        super().__init__()
        self.session = session or Session(self)
        self.last_error = ""
        # What the title names and whether the work in the window is saved (see _on_frame).
        self.file_name = ""  # the experiment file last opened or saved; "" = untitled
        self.ask_before_losing_work = True  # scripts that drive the window switch this off
        self._clean_step: int | None = None  # the step count saved or opened; None: the next frame's
        self._edited = False  # a network edit since the last save or open
        self._epoch = 0  # the epoch of the last frame drawn
        self._step: int | None = None  # its step count (None until a frame of this network came)
        self._loading = False  # a file is being opened: its dataset does not make it untitled
        self._shut_down = False
        self._update_title()

        self.dataset_panel = DatasetPanel(self.session)
        self.network_panel = NetworkPanel(self.session)
        self.plots_panel = PlotsPanel(self.session)
        self.network_view = NetworkView(self.session)
        self.history = StructureHistory(self.session, self)
        self.exporter = Exporter(self.session, self)
        self.network_view.neuron_hovered.connect(self.plots_panel.show_neuron)
        self.network_view.neuron_hovered.connect(self.plots_panel.show_digits_neuron)

        data_box = QGroupBox("Dataset")
        QVBoxLayout(data_box).addWidget(self.dataset_panel)
        net_box = QGroupBox("Network")
        QVBoxLayout(net_box).addWidget(self.network_panel)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(4, 4, 4, 4)
        side_layout.addWidget(data_box)
        side_layout.addWidget(net_box, 1)
        ask_box = QGroupBox("Ask the network")
        self.predict_box = PredictBox(self.session)
        QVBoxLayout(ask_box).addWidget(self.predict_box)
        side_layout.addWidget(ask_box)
        # The side panels scroll when the window is short, instead of squeezing their fields
        # (at 1024x700 the dataset fields shrank below their size and the window grew itself).
        self.side_scroll = QScrollArea()
        self.side_scroll.setWidget(side)
        self.side_scroll.setWidgetResizable(True)
        self.side_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        bar_width = self.side_scroll.verticalScrollBar().sizeHint().width()
        self.side_scroll.setMinimumWidth(side.sizeHint().width() + bar_width)
        self._side = side
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.side_scroll)
        self.centre = centre = QSplitter(Qt.Orientation.Vertical)
        centre.addWidget(self.network_view)
        centre.addWidget(self.plots_panel)
        centre.setSizes([320, 440])
        split.addWidget(centre)
        self._image_layout = False  # the diagram made small for image data (see _fit_centre)
        self.session.dataset_changed.connect(self._fit_centre)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([320, 900])
        self.setCentralWidget(split)

        self._build_toolbar()
        self._build_menus()
        self.inspect = inspect_window.install(self)  # the Inspect menu and its window (issue 15)
        self._build_seed_menu()
        self.statusBar().showMessage("Ready")

        s = self.session
        s.running_changed.connect(self._on_running_changed)
        s.config_changed.connect(self._on_config_changed)
        s.message.connect(self._on_message)
        s.error.connect(self._on_error)
        s.diverged.connect(self._on_diverged)
        s.frame.connect(self._on_frame)
        s.file_done.connect(self._on_file_done)
        s.dataset_changed.connect(self._on_dataset_changed)
        # A context object: the call is dropped if the window is gone by then.
        s.dataset_changed.connect(lambda _ds: QTimer.singleShot(0, self, self._fit_side))
        s.edited.connect(self._on_edited)
        self.dataset_panel.confirm_replace = lambda: self.maybe_save("replacing this network")
        self.dataset_panel.table_editor.confirm_replace = self.dataset_panel.confirm_replace
        # Runs, timeline and exports (nnbench.ui.runs_panel, nnbench.ui.timeline): their own block.
        from nnbench.ui import runs_panel

        runs_panel.install(self)
        self.resize(1280, 800)

    def start_default(self) -> None:
        """Open the default experiment: 2-D XOR and a small tanh network."""
        self.dataset_panel.select(*DEFAULT_SOURCE)

    # --- toolbar --------------------------------------------------------------------------
    def _build_toolbar(self) -> None:
        bar = self.toolbar = QToolBar("Training")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(bar)
        # The settings in a second row below: in one row they did not fit under 1,300 px and the
        # last ones hid behind the overflow button.
        self.addToolBarBreak()
        settings = self.settings_bar = QToolBar("Settings")
        settings.setMovable(False)
        self.addToolBar(settings)
        style = self.style()
        self._play_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPause)
        self.train_action = QAction(self._play_icon, "Train", self)
        self.train_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.train_action.setToolTip("Train until paused (Space)")
        skip = style.standardIcon(QStyle.StandardPixmap.SP_MediaSkipForward)
        self.step_action = QAction(skip, "Step", self)
        self.step_action.setToolTip("Train one epoch, then stop")
        self.reset_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Reset", self)
        self.reset_action.setToolTip("Fresh weights and an empty history")
        bar.addAction(self.train_action)
        bar.addAction(self.step_action)
        bar.addAction(self.reset_action)
        bar.addSeparator()

        self.lr_box = QDoubleSpinBox()
        self.lr_box.setDecimals(5)
        self.lr_box.setRange(0.00001, 100.0)
        self.lr_box.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.lr_box.setKeyboardTracking(False)
        self.lr_box.setAccessibleName("learning rate")
        self.optimizer_box = QComboBox()
        self.optimizer_box.addItems(list(OPTIMIZERS))
        self.loss_box = QComboBox()
        for name, title in LOSS_TITLES.items():
            self.loss_box.addItem(title, name)
        self.batch_box = QSpinBox()
        self.batch_box.setRange(0, 100_000)
        self.batch_box.setSpecialValueText("all")
        self.batch_box.setKeyboardTracking(False)
        self.epochs_box = QSpinBox()
        self.epochs_box.setRange(0, 10_000_000)
        self.epochs_box.setSpecialValueText("no limit")
        self.epochs_box.setKeyboardTracking(False)
        self.reg_box = QComboBox()
        for name, title in (("none", "none"), ("l1", "L1"), ("l2", "L2")):
            self.reg_box.addItem(title, name)
        self.reg_box.setToolTip("Weight penalty (not on biases): L1 drives weights to zero, L2 shrinks them. "
                                "Applies from the next batch.")
        self.reg_rate_box = QDoubleSpinBox()
        self.reg_rate_box.setDecimals(5)
        self.reg_rate_box.setRange(0.0, 10.0)
        self.reg_rate_box.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.reg_rate_box.setKeyboardTracking(False)
        self.reg_rate_box.setAccessibleName("regularization rate")
        self.reg_rate_box.setToolTip("Regularization rate")
        for row, label, widget in ((bar, "Learning rate", self.lr_box),
                                   (bar, "Optimizer", self.optimizer_box),
                                   (bar, "Loss", self.loss_box), (settings, "Batch", self.batch_box),
                                   (settings, "Stop at epoch", self.epochs_box),
                                   (settings, "Regularization", self.reg_box)):
            row.addWidget(QLabel(f" {label} "))
            row.addWidget(widget)
        settings.addWidget(self.reg_rate_box)
        # How fast training runs: as fast as it can (the default) down to slow motion, one batch
        # a frame and slower, so each update of the boundary can be watched.
        self.speed_box = QComboBox()
        for value, title in SPEED_CHOICES:
            self.speed_box.addItem(title, value)
        self.speed_box.setToolTip("Training speed: as fast as it can, or a number of batches (updates) "
                                  "a second")
        self.speed_box.setAccessibleName("training speed")
        settings.addSeparator()
        settings.addWidget(QLabel(" Speed "))
        settings.addWidget(self.speed_box)
        self.epoch_label = QLabel(" epoch 0 ")
        # A fixed width: a label that grows with its text relays out (and repaints) its
        # neighbours on every frame.
        # Fixed in both directions: Qt then does not even ask the status bar to lay out again.
        self.epoch_label.setFixedSize(self.epoch_label.fontMetrics().horizontalAdvance(" epoch 99,999,999 "),
                                      self.epoch_label.sizeHint().height())
        self.statusBar().addPermanentWidget(self.epoch_label)

        self.train_action.triggered.connect(self._on_train_toggled)
        self.step_action.triggered.connect(self.session.step)
        self.reset_action.triggered.connect(self.session.reset)
        self.lr_box.valueChanged.connect(lambda v: self.session.set_config(lr=float(v)))
        self.optimizer_box.currentTextChanged.connect(lambda t: self.session.set_config(optimizer=t))
        self.loss_box.currentIndexChanged.connect(
            lambda _: self.session.set_config(loss=self.loss_box.currentData()))
        self.batch_box.valueChanged.connect(lambda v: self.session.set_config(batch_size=int(v)))
        self.epochs_box.valueChanged.connect(lambda v: self.session.set_config(epochs=int(v)))
        self.reg_box.currentIndexChanged.connect(
            lambda _: self.session.set_config(regularization=self.reg_box.currentData()))
        self.reg_rate_box.valueChanged.connect(lambda v: self.session.set_config(reg_rate=float(v)))
        self.speed_box.currentIndexChanged.connect(
            lambda _: self.session.set_speed(float(self.speed_box.currentData())))

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action, self.redo_action = self.history.actions(self)
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        self.open_action = file_menu.addAction("&Open Experiment or Network…")
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.save_action = file_menu.addAction("&Save Experiment…")
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.setToolTip("Network, weights, optimizer state, history and dataset, in one .npz")
        self.export_action = file_menu.addAction("&Export Network as…")
        self.export_action.setToolTip("The network as ONNX, a PyTorch script or a plain NumPy script")
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        examples = file_menu.addMenu("&Examples")
        self.example_actions = {}
        for name, title in presets.list_presets():
            action = examples.addAction(title)
            action.setData(name)
            action.triggered.connect(lambda _=False, n=name: self.open_example(n))
            self.example_actions[name] = action
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit")
        # The platform's Quit keys (Ctrl+Q on X11); where it has none, Ctrl+Q still.
        quit_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Quit) or [QKeySequence("Ctrl+Q")]
        quit_action.setShortcuts(quit_keys)
        self.quit_action = quit_action
        self.open_action.triggered.connect(self._on_open)
        self.save_action.triggered.connect(self._on_save)
        self.export_action.triggered.connect(self._on_export)
        self.exporter.finished.connect(self._on_message)
        self.exporter.failed.connect(self._on_error)
        quit_action.triggered.connect(self.close)

    # --- Seeds x K and Sweep (nnbench/ui/seeds_view.py, nnbench/ui/sweep_dialog.py) -------------
    def _build_seed_menu(self) -> None:
        train_menu = self.menuBar().addMenu("&Train")
        self.seeds_action = train_menu.addAction("Seeds × K…")
        self.seeds_action.setToolTip("Train the current experiment from K seeds at once")
        self.sweep_action = train_menu.addAction("Sweep…")
        self.sweep_action.setToolTip("Every cell of a grid of settings, times every seed")
        self.seeds_action.triggered.connect(self.open_seeds)
        self.sweep_action.triggered.connect(self.open_sweep)
        self.seeds_dialog = None
        self.sweep_dialog = None

    def open_seeds(self):
        from nnbench.ui.seeds_view import SeedsDialog

        if self.seeds_dialog is None:
            self.seeds_dialog = SeedsDialog(self.session, self)
        self.seeds_dialog.show()
        return self.seeds_dialog

    def open_sweep(self):
        from nnbench.ui.seeds_view import experiment_of
        from nnbench.ui.sweep_dialog import SweepDialog

        if self.sweep_dialog is None:
            self.sweep_dialog = SweepDialog(lambda: experiment_of(self.session), self)
        self.sweep_dialog.show()
        return self.sweep_dialog

    # --- slots ------------------------------------------------------------------------------
    @Slot(object)
    def _fit_centre(self, ds) -> None:
        """Image data needs the room for the Digits tab (its diagram is one input block and a
        layer or two); other data gets the diagram's share back, once."""
        images = ds is not None and ds.image_shape is not None
        if images == self._image_layout:
            return
        self._image_layout = images
        total = sum(self.centre.sizes()) or 780
        diagram = 200 if images else int(total * 0.45)
        self.centre.setSizes([diagram, max(total - diagram, 200)])

    @Slot()
    def _fit_side(self) -> None:
        """The side panels never get less than they need (they scroll instead): their own minimum
        misses the wrapped texts, and the dataset fields were squeezed to 10 px."""
        self._side.setMinimumHeight(self._side.sizeHint().height())

    @Slot()
    def _on_train_toggled(self) -> None:
        if self.session.running:
            self.session.pause()
            return
        # At the stop epoch, Train carries on to a new one as far again and says so. The engine
        # decides: this window's newest frame may be another run's (just after a fork).
        self.session.train(carry_on=True)

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        self.train_action.setText("Pause" if running else "Train")
        self.train_action.setIcon(self._pause_icon if running else self._play_icon)

    @Slot(object)
    def _on_config_changed(self, config: TrainConfig) -> None:
        for box, value in ((self.lr_box, config.lr), (self.batch_box, config.batch_size),
                           (self.epochs_box, config.epochs), (self.reg_rate_box, config.reg_rate)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        for box, value in ((self.optimizer_box, config.optimizer),):
            box.blockSignals(True)
            box.setCurrentText(value)
            box.blockSignals(False)
        self.loss_box.blockSignals(True)
        self.loss_box.setCurrentIndex(self.loss_box.findData(config.loss))
        self.loss_box.blockSignals(False)
        self.reg_box.blockSignals(True)
        self.reg_box.setCurrentIndex(self.reg_box.findData(config.regularization))
        self.reg_box.blockSignals(False)

    @Slot(object)
    def _on_frame(self, frame) -> None:
        self._epoch = frame.snapshot.epoch
        self.epoch_label.setText(f" epoch {frame.snapshot.epoch:,} ")
        if frame.dataset is not self.session.dataset:
            return  # drawn before the dataset or file now open arrived
        self._step = frame.snapshot.step
        if self._clean_step is None:
            self._clean_step = self._step
        modified = self.modified
        if modified != self.isWindowModified():
            self.setWindowModified(modified)

    # --- saved or not: the title and the questions before work is lost ----------------------
    @property
    def modified(self) -> bool:
        """The network has changes not in any file: it trained (its step count moved from what was
        opened or saved, and is not a fresh network's 0), or it was edited (layers, neurons,
        activations, features, typed weights). Settings alone (learning rate...) do not count;
        a new dataset starts an untitled, unmodified experiment."""
        step, clean = self._step, self._clean_step
        trained = step is not None and clean is not None and step != clean and step > 0
        return self._edited or trained

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.file_name or 'untitled'}[*] — nnbench")
        self.setWindowModified(self.modified)

    def _mark_clean(self, name: str | None, saved: bool = False) -> None:
        if name is not None:
            self.file_name = name
        self._edited = False
        # A save keeps the step count drawn last (training may go on: then it is modified again);
        # an open or a new dataset takes the next frame's, the first of the new network.
        self._clean_step = self._step if saved else None
        if not saved:
            self._step = None
        self._update_title()

    @Slot(object)
    def _on_dataset_changed(self, _ds) -> None:
        if not self._loading:
            self._mark_clean("")

    @Slot(object)
    def _on_edited(self, _edit) -> None:
        self._edited = True
        self._update_title()

    def maybe_save(self, what: str) -> bool:
        """True when the work may go: it is saved, or the user saved it or chose to discard it."""
        if not self.ask_before_losing_work or not self.modified:
            return True
        answer = dialogs.ask_unsaved(self, what)
        if answer == "discard":
            return True
        if answer != "save":
            return False
        path = dialogs.ask_save_path(self, "Save experiment", self._suggested_name())
        return bool(path) and self.save_and_wait(path)

    def save_and_wait(self, path: str, timeout_ms: int = 120_000) -> bool:
        """Save and wait for the engine's answer (the window is about to close or change)."""
        loop, result = QEventLoop(), []
        done = lambda p: (result.append(True), loop.quit())  # noqa: E731
        failed = lambda _t: (result.append(False), loop.quit())  # noqa: E731
        self.session.file_done.connect(done)
        self.session.error.connect(failed)
        try:
            self.session.save(path, latest_only=self.latest_only_action.isChecked())
            QTimer.singleShot(timeout_ms, loop.quit)
            if not result:
                loop.exec()
        finally:
            self.session.file_done.disconnect(done)
            self.session.error.disconnect(failed)
        return bool(result and result[0])

    def _suggested_name(self) -> str:
        name = Path(self.file_name).stem if self.file_name else "experiment"
        return f"{name}.npz"

    @Slot(str)
    def _on_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    @Slot(str)
    def _on_error(self, text: str) -> None:
        self.last_error = text
        self._loading = False  # a file that failed to open changes nothing, the title neither
        self.statusBar().showMessage(text.splitlines()[0], 15000)
        dialogs.show_error(self, "nnbench", text)

    @Slot(str)
    def _on_diverged(self, text: str) -> None:
        self.last_error = text
        # The rate that blew up is not left in the box: a tenth of it, as the message advises.
        lr = self.session.config.lr
        lower = max(lr / 10, self.lr_box.minimum())
        self.session.set_config(lr=lower)
        restored = re.search(r"weights from epoch (\d+), where the loss was lowest \(([^)]*)\)", text)
        what = (f"weights of epoch {restored.group(1)} restored (loss {restored.group(2)})" if restored
                else "the best weights restored")
        note = (f"Diverged at learning rate {lr:g}: {what}. Learning rate lowered to {lower:g}; "
                "press Train to go on.")
        self.plots_panel.note_divergence(note)
        self.statusBar().showMessage(note, 15000)
        dialogs.show_error(self, "Training diverged", text + f"\n\nThe learning rate is now {lower:g}.")

    def open_example(self, name: str) -> None:
        """Open a built-in preset (File > Examples). One on MNIST that is not in the cache reads
        the files the user opened before, or asks for them (open local files or download)."""
        if not self.maybe_save("opening the example"):
            return
        path = resources.preset_path(name)
        try:
            experiment = load_experiment(path)
        except NnbenchError as e:
            self._on_error(str(e))
            return
        source = experiment.dataset
        if source.get("kind") == "mnist" and source.get("cache") and not mnist_files_in(default_cache_dir()):
            remembered = QSettings().value("mnist_local", "")
            found = isinstance(remembered, str) and remembered and Path(remembered).exists()
            local = remembered if found else None
            self.dataset_panel.open_mnist_dialog(
                then=lambda ds: self._start_preset_on(experiment, ds, path),
                note=f"The “{experiment.title}” example needs the MNIST digits: open the files you have "
                     "or download them.",
                local=local, all_digits=True)
            return
        self.load(str(path))

    def _start_preset_on(self, experiment, ds, path) -> None:
        """A preset with the digits the MNIST dialog loaded: its network and settings, as opening
        it would give (the same seed, initialiser and training settings)."""
        s = self.session
        s.hidden = experiment.network.hidden
        s.init = experiment.network.init
        s.net_seed = experiment.net_seed
        s.config = experiment.training
        self._loading = True
        with_name = Path(path).name

        def opened(_ds) -> None:
            s.dataset_changed.disconnect(opened)
            self._loading = False
            self._mark_clean(with_name)
            s.message.emit(f"Opened {with_name} on {ds.name}")

        s.dataset_changed.connect(opened)
        s.set_dataset(ds)

    def load(self, path: str) -> None:
        """Open an experiment or network file (asks nothing: callers ask first)."""
        self._loading = True
        self.session.load(path)

    @Slot()
    def _on_save(self) -> None:
        path = dialogs.ask_save_path(self, "Save experiment", self._suggested_name())
        if path:
            self.session.save(path, latest_only=self.latest_only_action.isChecked())

    @Slot()
    def _on_export(self) -> None:
        picked = dialogs.ask_export_path(self)
        if picked:
            self.exporter.start(*picked)

    @Slot()
    def _on_open(self) -> None:
        if not self.maybe_save("opening another file"):
            return
        path = dialogs.ask_open_path(self, "Open experiment or network")
        if path:
            self.load(path)

    # --- recent files ---------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = QSettings().value("recent_files", [])
        if isinstance(value, str):  # QSettings gives a lone entry back as a string
            value = [value]
        return [str(v) for v in (value or [])]

    @Slot(str)
    def _on_file_done(self, path: str) -> None:
        if self.exporter.owns(path):
            return  # an export's snapshot is no file to reopen, and saves nothing the user made
        self._mark_clean(Path(path).name, saved=not self._loading)
        self._loading = False
        if path.startswith(str(resources.presets_dir())):
            return  # examples have their own menu
        path = str(Path(path).resolve())
        recent = [path] + [p for p in self.recent_files() if p != path]
        QSettings().setValue("recent_files", recent[:MAX_RECENT])

    @Slot()
    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(
                lambda _=False, p=path: self.maybe_save("opening another file") and self.load(p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if not self._shut_down and not self.maybe_save("quitting"):
            event.ignore()
            return
        self._shut_down = True
        for dialog in (self.seeds_dialog, self.sweep_dialog):  # their runs stop first
            if dialog is not None:
                dialog.close()
        self.dataset_panel.shutdown()
        self.inspect.shutdown()
        self.session.shutdown()
        self.exporter.wait()
        super().closeEvent(event)
