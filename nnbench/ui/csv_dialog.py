"""Your own data from a CSV file: preview it, choose the columns, the task and scaling.

Reading and building run on a loader thread; a malformed file leaves its message (naming the
line and column) in the dialog, and nothing else changes.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal, Slot
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

        # Type a path and press Enter, or choose one: Enter reads the typed file (it used to
        # fall through to "Use this data" and import the previous file again).
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("type a path and press Enter, or choose a file")
        self.path_edit.installEventFilter(self)
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
        self.path_edit.textEdited.connect(self._on_path_edited)
        self.target.currentIndexChanged.connect(self._on_target_changed)
        self.buttons.accepted.connect(self._on_use)
        self.buttons.rejected.connect(self.reject)
        self.loader.finished.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self.loader.busy_changed.connect(self._on_busy)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        if obj is self.path_edit and event.type() == QEvent.Type.KeyPress \
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            text = self.path_edit.text().strip()
            if text and not self.loader.busy:
                self.open_file(text)
            return True  # never the dialog's default button
        return super().eventFilter(obj, event)

    @Slot(str)
    def _on_path_edited(self, text: str) -> None:
        loaded = str(self.table.path) if self.table is not None else ""
        if text.strip() != loaded:
            self.use_button.setEnabled(False)
            self._say("Press Enter to read this file")
        else:
            self.use_button.setEnabled(self.table is not None and not self.loader.busy)

    # --- what the panel and tests call ------------------------------------------------------
    def open_file(self, path: str) -> None:
        """Read ``path`` for the preview (off the GUI thread); the old preview goes at once, so a
        file that cannot be read never shows another file's rows."""
        self.path_edit.setText(path)
        self.table = None
        self.preview.clear()
        self.preview.setRowCount(0)
        self.preview.setColumnCount(0)
        self.features.clear()
        self.target.blockSignals(True)
        self.target.clear()
        self.target.blockSignals(False)
        self.use_button.setEnabled(False)
        self._say(f"Reading {path}…")
        self.loader.start(lambda progress, cancel: read_csv_table(path))

    def set_columns(self, features: list[str], target: str) -> None:
        self.target.setCurrentText(target)
        for i in range(self.features.count()):
            item = self.features.item(i)
            if item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
                on = _column(item) in features
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def chosen_features(self) -> list[str]:
        return [
            _column(self.features.item(i))
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
            item.setHidden(_column(item) == target)
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
        text_columns = []
        for c in table.columns:
            # A feature must be numbers: a text column says so and cannot be ticked (it can
            # still be the target: class names).
            numeric = is_numeric_column(table, c, PREVIEW_ROWS)
            item = QListWidgetItem(c if numeric else f"{c} (text: not a feature)")
            item.setData(Qt.ItemDataRole.UserRole, c)
            if numeric:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked)
            else:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsUserCheckable & ~Qt.ItemFlag.ItemIsEnabled)
                item.setCheckState(Qt.CheckState.Unchecked)
                item.setToolTip("This column holds text: it can be the target, not a feature")
                text_columns.append(c)
            self.features.addItem(item)
        self.target.blockSignals(True)
        self.target.clear()
        self.target.addItems(list(table.columns))
        self.target.setCurrentIndex(len(table.columns) - 1)  # the last column is the usual target
        self.target.blockSignals(False)
        self._on_target_changed()
        more = f" (first {PREVIEW_ROWS} shown)" if len(table.rows) > PREVIEW_ROWS else ""
        texts = f" Text column(s) {', '.join(text_columns)}: not features." if text_columns else ""
        self._say(
            f"{len(table.rows)} rows, {len(table.columns)} columns{more}. "
            f"Row numbers are the file's line numbers.{texts}"
        )
        self.use_button.setEnabled(True)


def _column(item: QListWidgetItem) -> str:
    """The column an entry of the feature list stands for (its text may say more)."""
    name = item.data(Qt.ItemDataRole.UserRole)
    return name if isinstance(name, str) else item.text()
