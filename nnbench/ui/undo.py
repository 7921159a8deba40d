"""Undo and redo of structural edits (the hidden layers), whichever view made them.

It watches ``Session.spec_changed`` rather than wrapping the editors, so an edit from the
diagram and one from the layer list land on the same stack (one model, two views). Undo sets
the old hidden layers back through ``Session.set_hidden``: the weights that still fit are kept.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence

from nnbench.engine import LayerSpec, NetworkSpec
from nnbench.ui.session import Session

Hidden = tuple[LayerSpec, ...]


class StructureHistory(QObject):
    changed = Signal()  # the stack moved: can_undo / can_redo may have changed

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._current: Hidden | None = None
        self._undo: list[Hidden] = []
        self._redo: list[Hidden] = []
        self._expect: Hidden | None = None  # the spec an undo/redo asked for, not a new edit

        session.dataset_changed.connect(self._on_dataset_changed)
        session.spec_changed.connect(self._on_spec_changed)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @Slot()
    def undo(self) -> None:
        if self._undo and self._current is not None:
            self._redo.append(self._current)
            self._go(self._undo.pop())

    @Slot()
    def redo(self) -> None:
        if self._redo and self._current is not None:
            self._undo.append(self._current)
            self._go(self._redo.pop())

    def actions(self, parent: QObject) -> tuple[QAction, QAction]:
        """Undo (Ctrl+Z) and Redo (Ctrl+Shift+Z) actions that follow the stack."""
        undo = QAction("&Undo Network Edit", parent)
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = QAction("&Redo Network Edit", parent)
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence.StandardKey.Redo])
        undo.triggered.connect(self.undo)
        redo.triggered.connect(self.redo)

        def follow() -> None:
            undo.setEnabled(self.can_undo)
            redo.setEnabled(self.can_redo)

        self.changed.connect(follow)
        follow()
        return undo, redo

    def _go(self, hidden: Hidden) -> None:
        self._current = self._expect = hidden
        self.session.set_hidden(hidden)
        self.changed.emit()

    @Slot(object)
    def _on_dataset_changed(self, _dataset) -> None:
        # Another experiment: its history starts afresh at its first spec.
        self._current = None
        self._undo.clear()
        self._redo.clear()
        self._expect = None
        self.changed.emit()

    @Slot(object)
    def _on_spec_changed(self, spec: NetworkSpec) -> None:
        hidden = spec.hidden
        if self._expect is not None:
            if hidden == self._expect:
                self._expect = None
            return  # an undo/redo in flight (or an older edit still arriving)
        if self._current is None:
            self._current = hidden
        elif hidden != self._current:
            self._undo.append(self._current)
            self._redo.clear()
            self._current = hidden
        self.changed.emit()
