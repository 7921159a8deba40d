"""The dataset panel: pick a tutorial table or a generator, set its parameters, regenerate;
or bring your own data (a CSV file, MNIST downloaded or from local files)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nnbench import data
from nnbench.data import Dataset
from nnbench.errors import SpecError
from nnbench.ui import dialogs
from nnbench.ui.csv_dialog import CsvDialog
from nnbench.ui.loader import Loader, mnist_download_job, mnist_local_job
from nnbench.ui.session import Session

SUBSETS = (("1,000 digits", 1000), ("10,000 digits", 10_000), ("all 60,000", None))

GROUPS = (
    ("Tutorial tables", [("table", name, title) for name, title in data.TABLES.items()]),
    (
        "2-D classification",
        [("generator", n, i.title) for n, i in data.GENERATORS.items() if i.task == "classification"],
    ),
    (
        "Regression",
        [("generator", n, i.title) for n, i in data.GENERATORS.items() if i.task == "regression"],
    ),
)


class DatasetPanel(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session

        self.combo = QComboBox()
        self.combo.setAccessibleName("dataset")
        model: QStandardItemModel = self.combo.model()
        for group, entries in GROUPS:
            self.combo.addItem(f"— {group} —")
            model.item(self.combo.count() - 1).setEnabled(False)
            for kind, name, title in entries:
                self.combo.addItem(f"  {title}", f"{kind}:{name}")
        # Your own data (a CSV file, MNIST) gets an entry once opened: the box never goes blank,
        # and the data can be chosen again without importing it again.
        self.own: dict[str, Dataset] = {}  # by "own:csv" / "own:mnist": the last of each kind
        # Asked before the network in use is replaced (the window asks Save / Discard / Cancel).
        self.confirm_replace: Callable[[], bool] = lambda: True
        self._mnist_then: Callable[[Dataset], None] | None = None
        self._shown = -1  # the combo entry of the dataset in use
        self.points = QSpinBox()
        self.points.setRange(8, 100_000)
        self.points.setSingleStep(50)
        self.points.setValue(200)
        self.noise = QDoubleSpinBox()
        self.noise.setRange(0.0, 2.0)
        self.noise.setSingleStep(0.05)
        self.noise.setValue(0.1)
        self.test_pct = QSpinBox()
        self.test_pct.setRange(0, 90)
        self.test_pct.setSuffix(" %")
        self.test_pct.setValue(50)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.classes = QSpinBox()
        self.classes.setRange(2, 10)
        self.classes.setValue(3)
        self.regenerate = QPushButton("Regenerate")
        self.regenerate.setToolTip("Draw the points again with these settings")
        self.csv_button = QPushButton("Your own CSV…")
        self.csv_button.setToolTip("Train on columns of a CSV file")
        self.mnist_button = QPushButton("MNIST…")
        self.mnist_button.setToolTip("Handwritten digits: download them or open local files")
        self.csv_dialog: CsvDialog | None = None
        self.mnist_dialog: MnistDialog | None = None
        self.table_editor = TableEditor(session)
        self.table_editor.setVisible(False)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.form = QFormLayout()
        self.form.addRow("Dataset", self.combo)
        self.form.addRow("Points", self.points)
        self.form.addRow("Noise", self.noise)
        self.form.addRow("Test share", self.test_pct)
        self.form.addRow("Classes", self.classes)
        self.form.addRow("Seed", self.seed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.form)
        layout.addWidget(self.regenerate)
        own = QHBoxLayout()
        own.addWidget(self.csv_button)
        own.addWidget(self.mnist_button)
        layout.addLayout(own)
        layout.addWidget(self.table_editor)
        layout.addWidget(self.info)

        self.combo.currentIndexChanged.connect(self._on_choice)
        self.regenerate.clicked.connect(self._on_regenerate)
        self.csv_button.clicked.connect(lambda: self.open_csv_dialog())
        self.mnist_button.clicked.connect(lambda: self.open_mnist_dialog())
        session.dataset_changed.connect(self._on_dataset_changed)

    def select(self, kind: str, name: str) -> None:
        """Choose a dataset as the user would (used by the window and by tests)."""
        index = self.combo.findData(f"{kind}:{name}")
        if index < 0:
            raise KeyError(name)
        self.combo.setCurrentIndex(index)

    @Slot()
    def open_csv_dialog(self) -> CsvDialog:
        """Show the CSV import dialog (window-modal, not blocking); it asks for a file first."""
        if self.csv_dialog is None:
            self.csv_dialog = CsvDialog(self)
            self.csv_dialog.dataset_ready.connect(self._use_dataset)
        self.csv_dialog.open()
        if self.csv_dialog.table is None:
            self.csv_dialog._on_browse()
        return self.csv_dialog

    @Slot()
    def open_mnist_dialog(self, then: Callable[[Dataset], None] | None = None, note: str = "",
                          local: str | None = None, all_digits: bool = False) -> MnistDialog:
        """Show the MNIST dialog; the digits it loads go to ``then`` (a preset that needs them)
        instead of replacing the dataset as they are; ``local`` is read at once."""
        if self.mnist_dialog is None:
            self.mnist_dialog = MnistDialog(self)
            self.mnist_dialog.dataset_ready.connect(self._on_mnist_ready)
        self._mnist_then = then
        if all_digits:
            self.mnist_dialog.subset.setCurrentIndex(len(SUBSETS) - 1)
        self.mnist_dialog.open()
        if note:
            self.mnist_dialog._say(note)
        if local and not self.mnist_dialog.loader.busy:
            self.mnist_dialog.open_local(local)
        return self.mnist_dialog

    @Slot(object)
    def _on_mnist_ready(self, ds: Dataset) -> None:
        then, self._mnist_then = self._mnist_then, None
        if then is not None:
            then(ds)
        else:
            self._use_dataset(ds)

    @Slot(object)
    def _use_dataset(self, ds: Dataset) -> None:
        """Data built off the GUI thread (a CSV import, MNIST): it replaces the one in use once
        the unsaved work is saved or given up."""
        if self.confirm_replace():
            self.session.set_dataset(ds)

    def shutdown(self) -> None:
        """Cancel and join any CSV or MNIST load still running (call before the window closes)."""
        for dialog in (self.csv_dialog, self.mnist_dialog):
            if dialog is not None:
                dialog.loader.wait()

    def source(self) -> dict[str, Any] | None:
        choice = self.combo.currentData()
        if choice is None or choice.startswith("own:"):
            return None
        kind, name = choice.split(":", 1)
        if kind == "table":
            return {"kind": "table", "name": name}
        src = {
            "kind": "generator",
            "name": name,
            "n": self.points.value(),
            "noise": self.noise.value(),
            "test_fraction": self.test_pct.value() / 100,
            "seed": self.seed.value(),
        }
        if "classes" in data.GENERATORS[name].defaults:
            src["classes"] = self.classes.value()
        return src

    @Slot()
    def _on_choice(self) -> None:
        choice = self.combo.currentData()
        if choice is None or self.combo.currentIndex() == self._shown:
            return
        if not self.confirm_replace():  # Cancel: the box goes back to the data in use
            self._show_entry(self._shown)
            return
        self._update_enabled()
        if choice.startswith("own:"):
            self.session.set_dataset(self.own[choice])
            return
        src = self.source()
        if src is not None:
            self.session.set_source(src)

    @Slot()
    def _on_regenerate(self) -> None:
        src = self.source()
        if src is not None and self.confirm_replace():
            self.session.set_source(src)

    def _show_entry(self, index: int) -> None:
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)
        self._update_enabled()

    def _update_enabled(self) -> None:
        """Only a generator's own settings show (a table, a CSV or MNIST has none of them)."""
        choice = (self.combo.currentData() or ":").split(":", 1)
        is_gen = choice[0] == "generator"
        for w in (self.points, self.noise, self.test_pct, self.seed):
            self.form.setRowVisible(w, is_gen)
        self.regenerate.setVisible(is_gen)
        has_classes = is_gen and "classes" in data.GENERATORS[choice[1]].defaults
        self.form.setRowVisible(self.classes, has_classes)

    def _own_entry(self, ds: Dataset) -> int:
        """The combo entry for a CSV or MNIST dataset (added, or updated to this one)."""
        key = f"own:{ds.source.get('kind')}"
        self.own[key] = ds
        kind = "MNIST" if ds.image_shape is not None else "CSV"
        text = f"  {kind}: {ds.name} ({len(ds.x_train):,} rows)"
        index = self.combo.findData(key)
        if index < 0:
            if self.combo.findText("— Your data —") < 0:
                self.combo.addItem("— Your data —")
                self.combo.model().item(self.combo.count() - 1).setEnabled(False)
            self.combo.addItem(text, key)
            index = self.combo.count() - 1
        self.combo.setItemText(index, text)
        return index

    @Slot(object)
    def _on_dataset_changed(self, ds: Dataset) -> None:
        src = ds.source
        kind, name = src.get("kind"), src.get("name")
        index = self.combo.findData(f"{kind}:{name}")
        if index < 0 and kind in ("csv", "mnist"):
            index = self._own_entry(ds)
        self._shown = index
        if index != self.combo.currentIndex():
            self._show_entry(index)
        if kind == "generator":
            for box, key, scale in ((self.points, "n", 1), (self.noise, "noise", 1),
                                    (self.test_pct, "test_fraction", 100), (self.seed, "seed", 1),
                                    (self.classes, "classes", 1)):
                if key in src:
                    box.blockSignals(True)
                    box.setValue(round(src[key] * scale) if isinstance(box, QSpinBox) else src[key])
                    box.blockSignals(False)
        self._update_enabled()
        self.table_editor.setVisible(kind == "table")
        task = ds.task if ds.task == "regression" else f"{ds.n_classes}-class classification"
        self.info.setText(
            ("" if kind in ("generator", "table") else f"{ds.name}: ")
            + f"{len(ds.x_train)} training rows, {len(ds.x_test)} test rows; "
            f"{ds.n_features} input(s): {', '.join(ds.feature_names[:6])}"
            f"{'…' if ds.n_features > 6 else ''}; {task}"
        )


class MnistDialog(QDialog):
    """MNIST: download from a mirror (cached, checksummed) or open local files; off-thread."""

    dataset_ready = Signal(object)  # the loaded Dataset (then the dialog closes)

    def __init__(self, parent: QWidget | None = None, cache_dir: str | None = None,
                 checksums: dict[str, str] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("MNIST handwritten digits")
        self.cache_dir = cache_dir  # None: the user's data directory (tests pass tmp_path)
        self.checksums = checksums  # None: the published MD5s (tests pass their own)
        self.dataset: Dataset | None = None
        self.loader = Loader(self)

        self.subset = QComboBox()
        for title, n in SUBSETS:
            self.subset.addItem(title, n)
        self.subset.setCurrentIndex(1)
        # The mirror that last worked, remembered between runs (QSettings key "mnist_mirror").
        remembered = QSettings().value("mnist_mirror", data.DEFAULT_MIRROR)
        mirror = remembered if isinstance(remembered, str) and remembered else data.DEFAULT_MIRROR
        self.mirror = QLineEdit(mirror)
        self.mirror.setToolTip("Where the four IDX files are downloaded from: " + ", ".join(data.MIRRORS))
        self.download_button = QPushButton("Download")
        self.local_button = QPushButton("Open local files…")
        self.local_button.setToolTip(
            "A folder with the four IDX files (gzipped or not), or a Keras mnist.npz"
        )
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.message = QLabel(f"Downloads once into {cache_dir or data.default_cache_dir()}")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)

        form = QFormLayout()
        form.addRow("Training digits", self.subset)
        form.addRow("Mirror", self.mirror)
        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.local_button)
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addLayout(bar)
        layout.addWidget(self.message)
        layout.addWidget(close)
        self.resize(520, 220)

        self.download_button.clicked.connect(self.download)
        self.local_button.clicked.connect(self._on_local)
        self.cancel_button.clicked.connect(self.loader.cancel)
        close.rejected.connect(self.reject)
        self.loader.progress.connect(self._on_progress)
        self.loader.finished.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self.loader.busy_changed.connect(self._on_busy)

    @Slot()
    def download(self) -> None:
        mirror = self.mirror.text().strip() or data.DEFAULT_MIRROR
        self._downloading_from = mirror
        self._reading = None
        self._say(f"Downloading from {mirror}…")
        self.progress.setRange(0, 1000)
        job = mnist_download_job(self.cache_dir, mirror, self.subset.currentData(), self.checksums)
        self.loader.start(job)

    def open_local(self, path: str) -> None:
        """A Keras mnist.npz, or a folder (or any file in it) with the four IDX files."""
        from pathlib import Path

        p = Path(path)
        target = str(p if p.is_dir() or p.suffix.lower() == ".npz" else p.parent)
        self._say(f"Reading {target}…")
        self.progress.setRange(0, 0)  # busy: a local read has no useful percentage
        self._downloading_from = None
        self._reading = target
        self.loader.start(mnist_local_job(target, self.subset.currentData()))

    @Slot()
    def _on_local(self) -> None:
        path = dialogs.ask_mnist_path(self)
        if path:
            self.open_local(path)

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if total:
            self.progress.setValue(min(done, total))

    @Slot(object)
    def _on_loaded(self, ds: Dataset) -> None:
        self.dataset = ds
        if getattr(self, "_downloading_from", None):
            QSettings().setValue("mnist_mirror", self._downloading_from)
        elif getattr(self, "_reading", None):  # found again when a preset needs MNIST
            QSettings().setValue("mnist_local", self._reading)
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000)
        self._say(f"Loaded {len(ds.x_train):,} training and {len(ds.x_test):,} test digits")
        self.dataset_ready.emit(ds)
        self.accept()

    @Slot(str)
    def _on_failed(self, text: str) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self._say(text, error=text != "Cancelled")

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        for w in (self.download_button, self.local_button, self.subset, self.mirror):
            w.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #b00020;" if error else "")
        self.message.setText(text)

    def done(self, result: int) -> None:
        self.loader.wait()
        super().done(result)


class TableEditor(QWidget):
    """The tutorial table in use, editable: change cells, add or remove rows, then train on it."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.source: dict[str, Any] | None = None
        self.confirm_replace: Callable[[], bool] = lambda: True
        self.grid = QTableWidget()
        self.grid.setAccessibleName("table rows")
        self.grid.setMinimumHeight(120)
        self.grid.setMaximumHeight(200)
        self.grid.horizontalHeader().setDefaultSectionSize(56)
        self.add_button = QPushButton("Add row")
        self.remove_button = QPushButton("Remove row")
        self.apply_button = QPushButton("Train on this table")
        self.apply_button.setToolTip("Use the edited rows (the network starts afresh)")
        self.apply_button.setEnabled(False)
        self.message = QLabel()
        self.message.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.grid)
        layout.addLayout(buttons)
        layout.addWidget(self.message)

        self.add_button.clicked.connect(self.add_row)
        self.remove_button.clicked.connect(self.remove_row)
        self.apply_button.clicked.connect(self.apply)
        self.grid.itemChanged.connect(self._on_edited)
        session.dataset_changed.connect(self._on_dataset_changed)

    @Slot(object)
    def _on_dataset_changed(self, ds: Dataset) -> None:
        src = ds.source
        if src.get("kind") != "table":
            self.source = None
            return
        self.source = dict(src) if "rows" in src else data.table_source(src["name"])
        self.source.pop("kind", None)
        rows, columns = self.source["rows"], self.source["columns"]
        self.grid.blockSignals(True)
        self.grid.clear()
        self.grid.setColumnCount(len(columns))
        self.grid.setHorizontalHeaderLabels(columns)
        self.grid.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                self.grid.setItem(i, j, QTableWidgetItem(f"{v:g}"))
        self._label_rows()
        self.grid.blockSignals(False)
        self.apply_button.setEnabled(False)
        self._say("")

    def rows(self) -> list[list[float]]:
        """The grid as numbers; ValueError naming the row and column of a bad cell."""
        out = []
        for i in range(self.grid.rowCount()):
            row = []
            for j in range(self.grid.columnCount()):
                item = self.grid.item(i, j)
                text = item.text().strip() if item else ""
                try:
                    row.append(float(text))
                except ValueError:
                    column = self.grid.horizontalHeaderItem(j).text()
                    raise ValueError(f"row {i + 1}, column {column!r}: {text!r} is not a number") from None
            out.append(row)
        return out

    @Slot()
    def add_row(self) -> None:
        n = self.grid.rowCount()
        self.grid.blockSignals(True)
        self.grid.insertRow(n)
        if self.source is not None and self.source.get("row_labels") is not None:
            self.source["row_labels"] = [*self.source["row_labels"], f"row {n + 1}"]
        for j in range(self.grid.columnCount()):
            self.grid.setItem(n, j, QTableWidgetItem("0"))
        self._label_rows()
        self.grid.blockSignals(False)
        self._on_edited()

    @Slot()
    def remove_row(self) -> None:
        if self.grid.rowCount() <= 1:
            return
        current = self.grid.currentRow()
        index = current if current >= 0 else self.grid.rowCount() - 1
        self.grid.removeRow(index)
        labels = (self.source or {}).get("row_labels")
        if labels is not None:
            self.source["row_labels"] = [v for i, v in enumerate(labels) if i != index]
        self._label_rows()
        self._on_edited()

    @Slot()
    def apply(self) -> None:
        if self.source is None:
            return
        try:
            rows = self.rows()
            args = {k: v for k, v in self.source.items() if k not in ("rows", "row_labels")}
            labels = self.source.get("row_labels")
            if labels is not None:
                labels = [labels[i] if i < len(labels) else f"row {i + 1}" for i in range(len(rows))]
            ds = data.table_from_rows(rows=rows, row_labels=labels, **args)
        except (ValueError, SpecError) as e:
            self._say(str(e), error=True)
            return
        if not self.confirm_replace():
            return
        # The edited table keeps the tutorial's setup (its loss, an output without bias): a new
        # dataset otherwise gets the task's defaults (binary cross-entropy, a bias).
        s = self.session
        keep = (s.spec.output, s.config.loss) if s.spec is not None else None

        def adopted(new: Dataset) -> None:
            s.dataset_changed.disconnect(adopted)
            if keep is None or new is not ds or s.spec is None:
                return
            output, loss = keep
            if output.units == s.spec.output.units and (output != s.spec.output or loss != s.config.loss):
                s.restore_structure(replace(s.spec, layers=(*s.spec.hidden, output)), loss, None)

        s.dataset_changed.connect(adopted)
        s.set_dataset(ds)

    @Slot()
    def _on_edited(self) -> None:
        self.apply_button.setEnabled(True)
        self._say("Edited: press “Train on this table” to use it")

    def _label_rows(self) -> None:
        labels = (self.source or {}).get("row_labels") or []
        n = self.grid.rowCount()
        self.grid.setVerticalHeaderLabels([labels[i] if i < len(labels) else str(i + 1) for i in range(n)])

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #b00020;" if error else "")
        self.message.setText(text)
