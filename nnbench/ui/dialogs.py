"""Every modal dialog behind one small function, so tests can replace them."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

NETWORK_FILTER = "nnbench experiment or network (*.npz *.json *.onnx);;All files (*)"


def ask_save_path(parent: QWidget, title: str, suggested: str,
                  file_filter: str = NETWORK_FILTER) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, title, suggested, file_filter)
    if path and not path.lower().endswith(".npz") and "npz" in file_filter.split(";;")[0]:
        path += ".npz"
    return path or None


EXPORT_FILTERS = {
    "onnx": "ONNX model (*.onnx)",
    "torch": "PyTorch script, weights in a .weights.npz beside it (*.py)",
    "numpy": "Plain NumPy script, weights in a .weights.npz beside it (*.py)",
}


def ask_export_path(parent: QWidget, suggested: str = "network.onnx") -> tuple[str, str] | None:
    """Where to export the network and as what: (path, "onnx" | "torch" | "numpy"), or None."""
    path, chosen = QFileDialog.getSaveFileName(parent, "Export network as", suggested,
                                               ";;".join(EXPORT_FILTERS.values()))
    if not path:
        return None
    kind = next((k for k, f in EXPORT_FILTERS.items() if f == chosen), "onnx")
    suffix = ".onnx" if kind == "onnx" else ".py"
    if not path.lower().endswith(suffix):
        path += suffix
    return path, kind


def ask_open_path(parent: QWidget, title: str, file_filter: str = NETWORK_FILTER) -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, title, "", file_filter)
    return path or None


def show_error(parent: QWidget, title: str, text: str) -> None:
    QMessageBox.warning(parent, title, text)


CSV_FILTER = "CSV files (*.csv *.tsv *.txt);;All files (*)"
MNIST_FILTER = "MNIST: mnist.npz or any of the IDX files (*.npz *ubyte *ubyte.gz);;All files (*)"


def ask_csv_path(parent: QWidget) -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Open a CSV file", "", CSV_FILTER)
    return path or None


def ask_mnist_path(parent: QWidget) -> str | None:
    """A Keras ``mnist.npz``, or one IDX file whose folder holds the others."""
    path, _ = QFileDialog.getOpenFileName(parent, "Open MNIST files", "", MNIST_FILTER)
    return path or None


def ask_number(parent: QWidget, title: str, label: str, value: float) -> float | None:
    """A number typed by the user (a weight or a bias), or None when cancelled."""
    from PySide6.QtWidgets import QInputDialog

    number, ok = QInputDialog.getDouble(parent, title, label, value, -1e6, 1e6, 4)
    return float(number) if ok else None


def ask_choice(parent: QWidget, title: str, choices: list[str], current: str) -> str | None:
    """One of ``choices`` from a pop-up menu at the mouse (an activation), or None."""
    from PySide6.QtGui import QCursor
    from PySide6.QtWidgets import QMenu

    menu = QMenu(title, parent)
    for choice in choices:
        action = menu.addAction(choice)
        action.setCheckable(True)
        action.setChecked(choice == current)
    picked = menu.exec(QCursor.pos())
    return picked.text() if picked is not None else None


def ask_unsaved(parent: QWidget, what: str) -> str:
    """Save, discard or cancel, for work that ``what`` would lose: "save", "discard" or "cancel"."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("nnbench")
    box.setText("The network has changes that are not saved.")
    box.setInformativeText(f"Save them before {what}?")
    box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                           | QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    return {QMessageBox.StandardButton.Save: "save",
            QMessageBox.StandardButton.Discard: "discard"}.get(QMessageBox.StandardButton(answer), "cancel")
