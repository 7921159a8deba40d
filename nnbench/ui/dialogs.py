"""Every modal dialog behind one small function, so tests can replace them."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

NETWORK_FILTER = "nnbench experiment or network (*.npz *.json);;All files (*)"


def ask_save_path(parent: QWidget, title: str, suggested: str, file_filter: str = NETWORK_FILTER) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, title, suggested, file_filter)
    if path and not path.lower().endswith(".npz") and "npz" in file_filter.split(";;")[0]:
        path += ".npz"
    return path or None


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
