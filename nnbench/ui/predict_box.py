"""Type an input (``1,0,0``) and see what the network answers."""

from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from nnbench.data import Dataset
from nnbench.ui import colors
from nnbench.ui.session import Session

SPLIT = re.compile(r"[,;\s]+")


def parse_input(text: str, ds: Dataset) -> np.ndarray:
    """One row in the units of the file or table; ValueError with a message for the user."""
    parts = [p for p in SPLIT.split(text.strip()) if p]
    if not parts:
        raise ValueError(f"type {ds.n_features} number(s) separated by commas")
    values = []
    for i, p in enumerate(parts, 1):
        try:
            v = float(p)
        except ValueError:
            raise ValueError(f"value {i} ({p!r}) is not a number") from None
        if not np.isfinite(v):
            raise ValueError(f"value {i} ({p!r}) is not a finite number")
        values.append(v)
    if len(values) != ds.n_features:
        names = ", ".join(ds.feature_names[:6]) + ("…" if ds.n_features > 6 else "")
        raise ValueError(f"got {len(values)} value(s), the network takes {ds.n_features} ({names})")
    return np.array(values)[None, :]


def network_row(row: np.ndarray, ds: Dataset) -> np.ndarray:
    """The typed row as the network sees it: standardised like the CSV, scaled like MNIST."""
    src = ds.source
    if src.get("standardize") and "mean" in src and "std" in src:
        row = (row - np.asarray(src["mean"])) / np.asarray(src["std"])
    return row * ds.x_scale


def describe(out: np.ndarray, ds: Dataset) -> str:
    if ds.task != "classification":
        return "output: " + ", ".join(f"{v:.8g}" for v in out)
    p = colors.probabilities(out[None, :])[0]
    names = [ds.target_names[i] if i < len(ds.target_names) else str(i) for i in range(len(p))]
    best = int(np.argmax(p))
    if len(out) <= 3:
        # Eight significant digits: enough to compare with a tutorial's printout (0.99993704).
        values = ", ".join(f"{v:.8g}" for v in out)
        return f"output: {values} → class {names[best]!r} ({p[best]:.1%})"
    top = np.argsort(p)[::-1][:3]  # many classes: the three likeliest say more than ten numbers
    return f"output: class {names[best]!r} ({p[best]:.1%}); " + ", ".join(
        f"{names[i]}: {p[i]:.1%}" for i in top
    )


class PredictBox(QWidget):
    output_ready = Signal(object)  # the network's output row for the typed input

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.dataset: Dataset | None = None
        self.edit = QLineEdit()
        self.edit.setAccessibleName("predict input")
        self.edit.setPlaceholderText("e.g. 1,0,0 then Enter")
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        row = QHBoxLayout()
        row.addWidget(QLabel("Ask the net"))
        row.addWidget(self.edit, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.result)

        self.edit.returnPressed.connect(self.ask)
        session.dataset_changed.connect(self._on_dataset_changed)

    @Slot(object)
    def _on_dataset_changed(self, ds: Dataset) -> None:
        self.dataset = ds
        names = ", ".join(ds.feature_names[:4]) + ("…" if ds.n_features > 4 else "")
        self.edit.setPlaceholderText(f"{ds.n_features} value(s): {names}")
        self.edit.clear()  # an input for the old data means nothing to the new network
        self.result.clear()

    @Slot()
    def ask(self) -> None:
        ds = self.dataset
        if ds is None:
            return
        try:
            row = parse_input(self.edit.text(), ds)
        except ValueError as e:
            self._say(str(e), error=True)
            return
        self.session.predict(network_row(row, ds), lambda out: self._on_output(ds, out))

    def _on_output(self, ds: Dataset, out: np.ndarray) -> None:
        if ds is not self.dataset:
            return
        self._say(describe(out[0], ds))
        self.output_ready.emit(out[0])

    def _say(self, text: str, error: bool = False) -> None:
        self.result.setStyleSheet("color: #b00020;" if error else "")
        self.result.setText(text)
