"""Undo and redo of every edit to the network, whichever view made it: layers, neurons,
activations, input features, the output override, and weights or biases typed in.

The session reports each edit it carried out (``Session.edited``) with what it needs to go
back: the structure before and after, and the network as the edit left it, so undoing a
removed neuron brings back that neuron's own weights while the rest keeps what it has learned
since. An edit from the diagram and one from the layer list land on the same stack.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence

from nnbench.commands import NetState, ParamEdit, StructureEdit
from nnbench.ui.session import Session

Edit = StructureEdit | ParamEdit
MAX_EDITS = 500  # undo steps kept
# Bytes of stored networks (what undo restores removed neurons from) kept; older edits beyond it
# still undo, but removed neurons come back freshly initialised. A 16x512 net is ~33 MB.
MEMORY_BUDGET = 256 << 20


class StructureHistory(QObject):
    changed = Signal()  # the stack moved: can_undo / can_redo and the texts may have changed

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._undo: list[Edit] = []
        self._redo: list[Edit] = []
        session.dataset_changed.connect(self._on_dataset_changed)
        session.edited.connect(self._on_edited)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        return self._undo[-1].text if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1].text if self._redo else ""

    @Slot()
    def undo(self) -> None:
        # While an edit is still on its way to the engine, its record is not on the stack yet:
        # undoing now would undo the one before it.
        if self._undo and not self.session.edits_pending:
            edit = self._undo.pop()
            self._redo.append(edit)
            self._apply(edit, forward=False)

    @Slot()
    def redo(self) -> None:
        if self._redo and not self.session.edits_pending:
            edit = self._redo.pop()
            self._undo.append(edit)
            self._apply(edit, forward=True)

    def _apply(self, edit: Edit, forward: bool) -> None:
        s = self.session

        def back() -> None:  # it could not be applied: the edit returns to the stack it came from
            done, todo = (self._undo, self._redo) if forward else (self._redo, self._undo)
            if done and done[-1] is edit:
                done.pop()
                todo.append(edit)
                self.changed.emit()

        if isinstance(edit, ParamEdit):
            value = edit.after if forward else edit.before
            if edit.i < 0:
                s.set_bias(edit.layer, edit.j, value, record=False, on_failed=back)
            else:
                s.set_weight(edit.layer, edit.i, edit.j, value, record=False, on_failed=back)
        else:
            # The loss goes back only if this edit changed it (an output override): a loss picked
            # in the toolbar since is not this edit's to undo.
            changed = edit.before_loss != edit.after_loss
            if forward:
                s.restore_structure(edit.after, edit.after_loss if changed else None, edit.left_after,
                                    on_left=lambda net: _remember(edit, "left_before", net), on_failed=back)
            else:
                s.restore_structure(edit.before, edit.before_loss if changed else None, edit.left_before,
                                    on_left=lambda net: _remember(edit, "left_after", net), on_failed=back)
        self.changed.emit()

    def actions(self, parent: QObject) -> tuple[QAction, QAction]:
        """Undo and Redo actions (the platform's keys: Ctrl+Z, Ctrl+Shift+Z on X11) that follow the stack."""
        undo = QAction("&Undo", parent)
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = QAction("&Redo", parent)
        # The platform's own keys, once: on X11 they already hold Ctrl+Shift+Z, and adding it
        # again bound it twice ("Ambiguous shortcut overload") so that neither ran.
        redo.setShortcuts(QKeySequence.StandardKey.Redo)
        undo.triggered.connect(self.undo)
        redo.triggered.connect(self.redo)

        def follow() -> None:
            undo.setEnabled(self.can_undo)
            redo.setEnabled(self.can_redo)
            undo.setText(f"&Undo {self.undo_text}" if self.can_undo else "&Undo")
            redo.setText(f"&Redo {self.redo_text}" if self.can_redo else "&Redo")

        self.changed.connect(follow)
        follow()
        return undo, redo

    @Slot(object)
    def _on_dataset_changed(self, _dataset) -> None:
        # Another experiment: its history starts afresh.
        self._undo.clear()
        self._redo.clear()
        self.changed.emit()

    @Slot(object)
    def _on_edited(self, edit: Edit) -> None:
        self._undo.append(edit)
        self._redo.clear()
        self._trim()
        self.changed.emit()

    def _trim(self) -> None:
        """At most MAX_EDITS steps, and stored networks within MEMORY_BUDGET, newest first."""
        del self._undo[:-MAX_EDITS]
        used = 0
        for edit in reversed(self._undo):
            if not isinstance(edit, StructureEdit):
                continue
            for name in ("left_before", "left_after"):
                net = getattr(edit, name)
                if net is None:
                    continue
                used += net.nbytes
                if used > MEMORY_BUDGET:
                    setattr(edit, name, None)

    def stored_bytes(self) -> int:
        """Bytes of networks the history holds (tests and the memory budget)."""
        return sum(net.nbytes for edit in (*self._undo, *self._redo)
                   if isinstance(edit, StructureEdit)
                   for net in (edit.left_before, edit.left_after) if net is not None)


def _remember(edit: StructureEdit, name: str, net: NetState) -> None:
    # The network as an undo/redo left it: the next redo/undo of this edit restores from it.
    setattr(edit, name, net)
