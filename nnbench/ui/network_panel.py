"""The network panel: the layer list. Add or remove hidden layers, set neurons and activation."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Signal, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from nnbench.engine import LayerSpec, NetworkSpec
from nnbench.engine.activations import HIDDEN_ACTIVATIONS
from nnbench.ui.session import Session

MAX_NEURONS = 512
MAX_HIDDEN = 16


class _UndoPassThrough(QObject):
    """Lets Ctrl+Z / Ctrl+Shift+Z reach the window's network undo from a focused spin box whose
    text has nothing of its own to undo (the spin box otherwise claims those keys)."""

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.ShortcutOverride:
            undo = event.matches(QKeySequence.StandardKey.Undo)
            redo = event.matches(QKeySequence.StandardKey.Redo) or event.keyCombination().toCombined() == \
                QKeySequence("Ctrl+Shift+Z")[0].toCombined()
            edit = obj.lineEdit()
            if (undo and not edit.isUndoAvailable()) or (redo and not edit.isRedoAvailable()):
                event.ignore()
                return True
        return False


class NetworkPanel(QWidget):
    hidden_edited = Signal(tuple)  # the user changed the hidden layers: tuple[LayerSpec, ...]

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._spec: NetworkSpec | None = None
        self._syncing = False
        self._pass_undo = _UndoPassThrough(self)

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Layer", "Neurons", "Activation"])
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        # Wide enough for the activation box (a cell widget: ResizeToContents does not see it).
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        probe = QComboBox()
        probe.addItems(HIDDEN_ACTIVATIONS)
        self.table.setColumnWidth(2, probe.sizeHint().width() + 4)
        probe.deleteLater()
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.add_button = QPushButton("Add layer")
        self.add_button.setToolTip("Add a hidden layer after the selected one (or before the output)")
        self.remove_button = QPushButton("Remove layer")
        self.remove_button.setToolTip("Remove the selected hidden layer (or the last one)")
        self.summary = QLabel()
        self.summary.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.summary)

        self.add_button.clicked.connect(self._on_add)
        self.remove_button.clicked.connect(self._on_remove)
        self.hidden_edited.connect(session.set_hidden)
        session.spec_changed.connect(self._on_spec_changed)

    # --- reading the table ------------------------------------------------------------------
    def hidden_layers(self) -> tuple[LayerSpec, ...]:
        """The hidden layers as the widgets show them."""
        layers = []
        for row in range(1, self.table.rowCount() - 1):
            units = self.table.cellWidget(row, 1)
            act = self.table.cellWidget(row, 2)
            bias = self.table.cellWidget(row, 0).property("bias")
            layers.append(LayerSpec(units.value(), act.currentText(), bias is not False))
        return tuple(layers)

    def neuron_box(self, hidden_index: int) -> QSpinBox:
        return self.table.cellWidget(hidden_index + 1, 1)

    def activation_box(self, hidden_index: int) -> QComboBox:
        return self.table.cellWidget(hidden_index + 1, 2)

    # --- slots ------------------------------------------------------------------------------
    @Slot(object)
    def _on_spec_changed(self, spec: NetworkSpec) -> None:
        self._spec = spec
        self._rebuild(spec.hidden)

    @Slot()
    def _on_add(self) -> None:
        layers = list(self.hidden_layers())
        if len(layers) >= MAX_HIDDEN:
            return
        row = self.table.currentRow()
        at = row if 1 <= row <= len(layers) else len(layers)
        template = layers[at - 1] if at > 0 and layers else LayerSpec(4, "tanh")
        layers.insert(at, LayerSpec(template.units, template.activation, template.bias))
        self._edited(layers)

    @Slot()
    def _on_remove(self) -> None:
        layers = list(self.hidden_layers())
        if not layers:
            return
        row = self.table.currentRow()
        at = row - 1 if 1 <= row <= len(layers) else len(layers) - 1
        del layers[at]
        self._edited(layers)

    def _on_widget_changed(self) -> None:
        # The sender stays in place (rebuilding it inside its own signal would delete it).
        if not self._syncing:
            self.hidden_edited.emit(self.hidden_layers())

    def _edited(self, layers: list[LayerSpec]) -> None:
        self._rebuild(tuple(layers))
        self.hidden_edited.emit(tuple(layers))

    # --- drawing the table ---------------------------------------------------------------
    def _rebuild(self, hidden: tuple[LayerSpec, ...]) -> None:
        self._syncing = True
        try:
            spec = self._spec
            same_shape = self.table.rowCount() == len(hidden) + 2
            self.table.setRowCount(len(hidden) + 2)
            n_in = spec.sizes[0] if spec else 0
            features = ", ".join(spec.features) if spec is not None and spec.features else ""
            self._fixed_row(0, "Input", str(n_in), features)
            for i, layer in enumerate(hidden):
                if same_shape and isinstance(self.table.cellWidget(i + 1, 1), QSpinBox):
                    self.neuron_box(i).setValue(layer.units)  # in place: keeps focus and editing
                    self.activation_box(i).setCurrentText(layer.activation)
                    label = self.table.cellWidget(i + 1, 0)
                    label.setProperty("bias", layer.bias)
                    label.setText(f"  Hidden {i + 1}" + ("" if layer.bias else " (no bias)"))
                else:
                    self._layer_row(i + 1, f"Hidden {i + 1}", layer)
            if spec is not None:
                out = spec.output
                self._fixed_row(len(hidden) + 1, "Output", str(out.units), out.activation)
            self.add_button.setEnabled(len(hidden) < MAX_HIDDEN)
            self.remove_button.setEnabled(bool(hidden))
            if spec is not None:
                sizes = [n_in, *(h.units for h in hidden), spec.output.units]
                n_params = NetworkSpec(spec.n_inputs, (*hidden, spec.output), spec.init, spec.dtype,
                                       spec.features).n_params()
                self.summary.setText(f"{'-'.join(map(str, sizes))} network, {n_params:,} parameters")
        finally:
            self._syncing = False

    def _fixed_row(self, row: int, name: str, units: str, activation: str) -> None:
        for col, text in enumerate((name, units, activation)):
            self.table.removeCellWidget(row, col)
            label = QLabel(f"  {text}")
            label.setEnabled(col == 0)
            self.table.setCellWidget(row, col, label)

    def _layer_row(self, row: int, name: str, layer: LayerSpec) -> None:
        label = QLabel(f"  {name}" if layer.bias else f"  {name} (no bias)")
        label.setProperty("bias", layer.bias)
        self.table.setCellWidget(row, 0, label)
        units = QSpinBox()
        units.installEventFilter(self._pass_undo)
        units.setRange(1, MAX_NEURONS)
        units.setValue(min(layer.units, MAX_NEURONS))
        units.setKeyboardTracking(False)
        units.setAccessibleName(f"neurons in hidden layer {row}")
        act = QComboBox()
        act.addItems(HIDDEN_ACTIVATIONS)
        act.setCurrentText(layer.activation)
        act.setAccessibleName(f"activation of hidden layer {row}")
        units.valueChanged.connect(self._on_widget_changed)
        act.currentTextChanged.connect(self._on_widget_changed)
        self.table.setCellWidget(row, 1, units)
        self.table.setCellWidget(row, 2, act)
