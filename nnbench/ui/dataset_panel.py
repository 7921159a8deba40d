"""The dataset panel: pick a tutorial table or a generator, set its parameters, regenerate."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from nnbench import data
from nnbench.data import Dataset
from nnbench.ui.session import Session

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
        layout.addWidget(self.info)

        self.combo.currentIndexChanged.connect(self._on_choice)
        self.regenerate.clicked.connect(self._on_regenerate)
        session.dataset_changed.connect(self._on_dataset_changed)

    def select(self, kind: str, name: str) -> None:
        """Choose a dataset as the user would (used by the window and by tests)."""
        index = self.combo.findData(f"{kind}:{name}")
        if index < 0:
            raise KeyError(name)
        self.combo.setCurrentIndex(index)

    def source(self) -> dict[str, Any] | None:
        choice = self.combo.currentData()
        if choice is None:
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
        self._update_enabled()
        src = self.source()
        if src is not None:
            self.session.set_source(src)

    @Slot()
    def _on_regenerate(self) -> None:
        src = self.source()
        if src is not None:
            self.session.set_source(src)

    def _update_enabled(self) -> None:
        choice = (self.combo.currentData() or ":").split(":", 1)
        is_gen = choice[0] == "generator"
        for w in (self.points, self.noise, self.test_pct, self.seed, self.regenerate):
            w.setEnabled(is_gen)
        has_classes = is_gen and "classes" in data.GENERATORS[choice[1]].defaults
        self.classes.setEnabled(has_classes)

    @Slot(object)
    def _on_dataset_changed(self, ds: Dataset) -> None:
        src = ds.source
        kind, name = src.get("kind"), src.get("name")
        index = self.combo.findData(f"{kind}:{name}")
        if index >= 0 and index != self.combo.currentIndex():
            self.combo.blockSignals(True)
            self.combo.setCurrentIndex(index)
            self.combo.blockSignals(False)
        if kind == "generator":
            for box, key, scale in ((self.points, "n", 1), (self.noise, "noise", 1),
                                    (self.test_pct, "test_fraction", 100), (self.seed, "seed", 1),
                                    (self.classes, "classes", 1)):
                if key in src:
                    box.blockSignals(True)
                    box.setValue(round(src[key] * scale) if isinstance(box, QSpinBox) else src[key])
                    box.blockSignals(False)
        self._update_enabled()
        task = ds.task if ds.task == "regression" else f"{ds.n_classes}-class classification"
        self.info.setText(
            f"{len(ds.x_train)} training rows, {len(ds.x_test)} test rows; "
            f"{ds.n_features} input(s): {', '.join(ds.feature_names[:6])}"
            f"{'…' if ds.n_features > 6 else ''}; {task}"
        )
