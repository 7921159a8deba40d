"""Your own data from a CSV file: preview it, choose the columns, the task and scaling.

Reading and building run on a loader thread; a malformed file leaves its message (naming the
line and column) in the dialog, and nothing else changes.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nnbench.data import CsvTable, Dataset, read_csv_table
from nnbench.data.csvdata import infer_task, is_numeric_column
from nnbench.ui import dialogs
from nnbench.ui.loader import Loader, csv_job

PREVIEW_ROWS = 50
TASKS = (("Inferred", None), ("Classification", "classification"), ("Regression", "regression"))


class CsvDialog(QDialog):
    dataset_ready = Signal(object)  # the Dataset built from the chosen columns (then the dialog closes)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Your own CSV data")
        self.table: CsvTable | None = None
        self.dataset: Dataset | None = None
        self.loader = Loader(self)

        self.path_edit = QLineEdit()
        self.path_edit.setReadOnly(True)
        self.path_edit.setPlaceholderText("choose a CSV file")
        self.browse = QPushButton("Choose file…")
        self.preview = QTableWidget()
        self.preview.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.preview.setMinimumHeight(160)
        self.features = QListWidget()
        self.features.setMaximumHeight(110)
        self.target = QComboBox()
        self.task = QComboBox()
        for title, value in TASKS:
            self.task.addItem(title, value)
        self.standardize = QCheckBox("Standardise features (mean 0, standard deviation 1)")
        self.standardize.setChecked(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.use_button = self.buttons.addButton("Use this data", QDialogButtonBox.ButtonRole.AcceptRole)
        self.use_button.setEnabled(False)

        top = QHBoxLayout()
        top.addWidget(self.path_edit, 1)
        top.addWidget(self.browse)
        form = QFormLayout()
        form.addRow("Feature columns", self.features)
        form.addRow("Target column", self.target)
        form.addRow("Task", self.task)
        form.addRow("", self.standardize)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.preview, 1)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(640, 560)

        self.browse.clicked.connect(self._on_browse)
        self.target.currentIndexChanged.connect(self._on_target_changed)
        self.buttons.accepted.connect(self._on_use)
        self.buttons.rejected.connect(self.reject)
        self.loader.finished.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self.loader.busy_changed.connect(self._on_busy)

    # --- what the panel and tests call ------------------------------------------------------
    def open_file(self, path: str) -> None:
        """Read ``path`` for the preview (off the GUI thread)."""
        self.path_edit.setText(path)
        self.table = None
        self.use_button.setEnabled(False)
        self._say(f"Reading {path}…")
        self.loader.start(lambda progress, cancel: read_csv_table(path))

    def set_columns(self, features: list[str], target: str) -> None:
        self.target.setCurrentText(target)
        for i in range(self.features.count()):
            item = self.features.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in features else Qt.CheckState.Unchecked)

    def chosen_features(self) -> list[str]:
        return [
            self.features.item(i).text()
            for i in range(self.features.count())
            if self.features.item(i).checkState() == Qt.CheckState.Checked
            and not self.features.item(i).isHidden()
        ]

    # --- slots --------------------------------------------------------------------------------
    @Slot()
    def _on_browse(self) -> None:
        path = dialogs.ask_csv_path(self)
        if path:
            self.open_file(path)

    @Slot()
    def _on_use(self) -> None:
        if self.table is None or self.loader.busy:
            return
        job = csv_job(
            str(self.table.path),
            self.chosen_features(),
            self.target.currentText(),
            self.task.currentData(),
            self.standardize.isChecked(),
        )
        self._say("Building the dataset…")
        self.loader.start(job)

    @Slot(object)
    def _on_loaded(self, result: object) -> None:
        if isinstance(result, CsvTable):
            self._show_table(result)
            return
        self.dataset = result
        self._say("")
        self.dataset_ready.emit(result)
        self.accept()

    @Slot(str)
    def _on_failed(self, text: str) -> None:
        self._say(text, error=True)
        self.use_button.setEnabled(self.table is not None)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.browse.setEnabled(not busy)
        self.use_button.setEnabled(not busy and self.table is not None)

    @Slot()
    def _on_target_changed(self) -> None:
        target = self.target.currentText()
        for i in range(self.features.count()):
            item = self.features.item(i)
            item.setHidden(item.text() == target)
        if self.table is not None and target:
            guess = infer_task(self.table, target)
            self.task.setItemText(0, f"Inferred ({guess})")

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.loader.wait()
        super().closeEvent(event)

    def done(self, result: int) -> None:
        self.loader.wait()
        super().done(result)

    # --- helpers ------------------------------------------------------------------------------
    def _say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #b00020;" if error else "")
        self.message.setText(text)

    def _show_table(self, table: CsvTable) -> None:
        self.table = table
        rows = table.rows[:PREVIEW_ROWS]
        self.preview.clear()
        self.preview.setColumnCount(len(table.columns))
        self.preview.setRowCount(len(rows))
        self.preview.setHorizontalHeaderLabels(list(table.columns))
        self.preview.setVerticalHeaderLabels([str(n) for n in table.lines[:PREVIEW_ROWS]])
        for i, row in enumerate(rows):
            for j, cell in enumerate(row):
                self.preview.setItem(i, j, QTableWidgetItem(cell))
        self.preview.resizeColumnsToContents()
        self.features.clear()
        for c in table.columns:
            item = QListWidgetItem(c)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            # text columns start unchecked: a feature must be numbers
            numeric = is_numeric_column(table, c, PREVIEW_ROWS)
            item.setCheckState(Qt.CheckState.Checked if numeric else Qt.CheckState.Unchecked)
            self.features.addItem(item)
        self.target.blockSignals(True)
        self.target.clear()
        self.target.addItems(list(table.columns))
        self.target.setCurrentIndex(len(table.columns) - 1)  # the last column is the usual target
        self.target.blockSignals(False)
        self._on_target_changed()
        more = f" (first {PREVIEW_ROWS} shown)" if len(table.rows) > PREVIEW_ROWS else ""
        self._say(
            f"{len(table.rows)} rows, {len(table.columns)} columns{more}. "
            "Row numbers are the file's line numbers."
        )
        self.use_button.setEnabled(True)
