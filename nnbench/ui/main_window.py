"""The main window: assembles the panels, the training toolbar and the menus."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QLabel,
    QMainWindow,
    QSpinBox,
    QSplitter,
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from nnbench.engine.losses import LOSS_TITLES
from nnbench.engine.optimizers import OPTIMIZERS
from nnbench.engine.training import TrainConfig
from nnbench import presets, resources
from nnbench.ui import dialogs
from nnbench.ui.dataset_panel import DatasetPanel
from nnbench.ui.exporter import Exporter
from nnbench.ui.network_panel import NetworkPanel
from nnbench.ui.network_view import NetworkView
from nnbench.ui.plots_panel import PlotsPanel
from nnbench.ui.predict_box import PredictBox
from nnbench.ui.session import Session
from nnbench.ui.undo import StructureHistory

DEFAULT_SOURCE = ("generator", "xor")
MAX_RECENT = 8


class MainWindow(QMainWindow):
    def __init__(self, session: Session | None = None) -> None:
        super().__init__()
        self.setWindowTitle("nnbench")
        self.session = session or Session(self)
        self.last_error = ""

        self.dataset_panel = DatasetPanel(self.session)
        self.network_panel = NetworkPanel(self.session)
        self.plots_panel = PlotsPanel(self.session)
        self.network_view = NetworkView(self.session)
        self.history = StructureHistory(self.session, self)
        self.exporter = Exporter(self.session, self)
        self.network_view.neuron_hovered.connect(self.plots_panel.show_neuron)
        self.network_view.neuron_hovered.connect(self.plots_panel.mnist_view.show_neuron)

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
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(side)
        self.centre = centre = QSplitter(Qt.Orientation.Vertical)
        centre.addWidget(self.network_view)
        centre.addWidget(self.plots_panel)
        centre.setSizes([300, 480])
        split.addWidget(centre)
        self._image_layout = False  # the diagram made small for image data (see _fit_centre)
        self.session.dataset_changed.connect(self._fit_centre)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([320, 900])
        self.setCentralWidget(split)

        self._build_toolbar()
        self._build_menus()
        self.statusBar().showMessage("Ready")

        s = self.session
        s.running_changed.connect(self._on_running_changed)
        s.config_changed.connect(self._on_config_changed)
        s.message.connect(self._on_message)
        s.error.connect(self._on_error)
        s.diverged.connect(self._on_diverged)
        s.frame.connect(self._on_frame)
        s.file_done.connect(self._on_file_done)
        # Runs, timeline and exports (nnbench.ui.runs_panel, nnbench.ui.timeline): their own block.
        from nnbench.ui import runs_panel

        runs_panel.install(self)
        self.resize(1280, 760)

    def start_default(self) -> None:
        """Open the default experiment: 2-D XOR and a small tanh network."""
        self.dataset_panel.select(*DEFAULT_SOURCE)

    # --- toolbar --------------------------------------------------------------------------
    def _build_toolbar(self) -> None:
        bar = QToolBar("Training")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(bar)
        style = self.style()
        self._play_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPause)
        self.train_action = QAction(self._play_icon, "Train", self)
        self.train_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.train_action.setToolTip("Train until paused (Space)")
        self.step_action = QAction(style.standardIcon(QStyle.StandardPixmap.SP_MediaSkipForward), "Step", self)
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
        for label, widget in (("Learning rate", self.lr_box), ("Optimizer", self.optimizer_box),
                              ("Loss", self.loss_box), ("Batch", self.batch_box),
                              ("Stop at epoch", self.epochs_box), ("Regularization", self.reg_box)):
            bar.addWidget(QLabel(f" {label} "))
            bar.addWidget(widget)
        bar.addWidget(self.reg_rate_box)
        self.epoch_label = QLabel(" epoch 0 ")
        # A fixed width: a label that grows with its text relays out (and repaints) its
        # neighbours on every frame.
        self.epoch_label.setMinimumWidth(self.epoch_label.fontMetrics().horizontalAdvance(" epoch 99,999,999 "))
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
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.open_action.triggered.connect(self._on_open)
        self.save_action.triggered.connect(self._on_save)
        self.export_action.triggered.connect(self._on_export)
        self.exporter.finished.connect(self._on_message)
        self.exporter.failed.connect(self._on_error)
        quit_action.triggered.connect(self.close)

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
        diagram = 110 if images else int(total * 0.38)
        self.centre.setSizes([diagram, max(total - diagram, 200)])

    @Slot()
    def _on_train_toggled(self) -> None:
        if self.session.running:
            self.session.pause()
        else:
            self.session.train()

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
        self.epoch_label.setText(f" epoch {frame.snapshot.epoch:,} ")

    @Slot(str)
    def _on_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    @Slot(str)
    def _on_error(self, text: str) -> None:
        self.last_error = text
        self.statusBar().showMessage(text.splitlines()[0], 15000)
        dialogs.show_error(self, "nnbench", text)

    @Slot(str)
    def _on_diverged(self, text: str) -> None:
        self.last_error = text
        self.statusBar().showMessage("Training diverged: lower the learning rate", 15000)
        dialogs.show_error(self, "Training diverged", text)

    def open_example(self, name: str) -> None:
        """Open a built-in preset (File > Examples)."""
        self.session.load(resources.preset_path(name))

    @Slot()
    def _on_save(self) -> None:
        path = dialogs.ask_save_path(self, "Save experiment", "experiment.npz")
        if path:
            self.session.save(path, latest_only=self.latest_only_action.isChecked())

    @Slot()
    def _on_export(self) -> None:
        picked = dialogs.ask_export_path(self)
        if picked:
            self.exporter.start(*picked)

    @Slot()
    def _on_open(self) -> None:
        path = dialogs.ask_open_path(self, "Open experiment or network")
        if path:
            self.session.load(path)

    # --- recent files ---------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = QSettings().value("recent_files", [])
        if isinstance(value, str):  # QSettings gives a lone entry back as a string
            value = [value]
        return [str(v) for v in (value or [])]

    @Slot(str)
    def _on_file_done(self, path: str) -> None:
        if path.startswith(str(resources.presets_dir())) or self.exporter.owns(path):
            return  # examples have their own menu; an export's snapshot is no file to reopen
        path = str(Path(path).resolve())
        recent = [path] + [p for p in self.recent_files() if p != path]
        QSettings().setValue("recent_files", recent[:MAX_RECENT])

    @Slot()
    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, p=path: self.session.load(p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.dataset_panel.shutdown()
        self.session.shutdown()
        self.exporter.wait()
        super().closeEvent(event)
