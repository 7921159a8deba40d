"""The Inspect window: the backprop inspector and the instruments, one tab each, and the hook
that puts them in the main window (an "Inspect" menu, the stability limit by the learning rate)."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from nnbench.ui.inspector_panel import BackpropTab
from nnbench.ui.instrument_tabs import CurvatureTab, GradCheckTab, LandscapeTab, LrFinderTab
from nnbench.ui.session import Session

TABS = ("backprop", "gradcheck", "lr", "curvature", "landscape")


class InspectWindow(QWidget):
    """A window of its own beside the main one (the main window's layout stays as it is)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("nnbench: look inside the learning")
        self.session = session
        self.backprop = BackpropTab(session)
        self.gradcheck = GradCheckTab(session)
        self.lr = LrFinderTab(session)
        self.curvature = CurvatureTab(session)
        self.landscape = LandscapeTab(session)
        self.tabs = QTabWidget()
        for tab, title in ((self.backprop, "Backprop"), (self.gradcheck, "Gradient check"),
                           (self.lr, "Learning-rate finder"), (self.curvature, "Curvature"),
                           (self.landscape, "Loss landscape")):
            self.tabs.addTab(tab, title)
        QVBoxLayout(self).addWidget(self.tabs)
        self.resize(980, 760)

    def show_tab(self, name: str) -> None:
        self.tabs.setCurrentIndex(TABS.index(name))
        self.show()
        if QGuiApplication.platformName() != "offscreen":  # which can neither raise nor activate
            self.raise_()
            self.activateWindow()
        if name == "backprop" and self.backprop.net is None:
            self.backprop._on_take()

    def shutdown(self) -> None:
        for tab in (self.gradcheck, self.lr, self.curvature, self.landscape):
            tab.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        # Closing the window cancels what it computes; its results stay for next time.
        self.shutdown()
        super().closeEvent(event)


class StabilityNote:
    """The curvature's stability limit next to the learning rate: the rate box's tooltip and a
    label in the status bar, red while the rate is above 2 / lambda_max."""

    def __init__(self, window, inspect: InspectWindow) -> None:
        self.window = window
        self.limit = math.nan
        self.epoch = 0
        self.label = QLabel("")
        self.label.setToolTip("Stability limit of gradient descent here: 2 / lambda_max, the top eigenvalue "
                              "of the loss Hessian (Inspect > Curvature)")
        self._tooltip = window.lr_box.toolTip()
        window.statusBar().addPermanentWidget(self.label)
        inspect.curvature.measured.connect(self._on_measured)
        window.session.config_changed.connect(self._on_config)
        window.session.spec_changed.connect(self._on_reset)

    @Slot(float, float, int)
    def _on_measured(self, lam: float, limit: float, epoch: int) -> None:
        self.limit, self.epoch = limit, epoch
        self._update()

    @Slot(object)
    def _on_config(self, _config) -> None:
        self._update()

    @Slot(object)
    def _on_reset(self, _spec) -> None:
        self.limit = math.nan
        self._update()

    def _update(self) -> None:
        box = self.window.lr_box
        if not math.isfinite(self.limit):
            self.label.setText("")
            box.setToolTip(self._tooltip)
            return
        lr = self.window.session.config.lr
        above = lr > self.limit
        self.label.setText(f" 2/λmax {self.limit:.3g} ")
        self.label.setStyleSheet("color: #c00000; font-weight: bold" if above else "color: #2a7d2a")
        box.setToolTip(f"Learning rate. Stability limit 2/lambda_max = {self.limit:.4g} (epoch "
                       f"{self.epoch:,}): "
                       + ("the rate is ABOVE it, gradient descent "
                          "oscillates" if above else "the rate is below it"))


def install(window) -> InspectWindow:
    """Add the Inspect menu and the stability note to the main window ``window``."""
    inspect = InspectWindow(window.session, window)
    menu = window.menuBar().addMenu("&Inspect")
    window.inspect_actions = {}
    for name, title in (("backprop", "&Backprop Step by Step…"), ("gradcheck", "Check &Gradients…"),
                        ("lr", "&Learning-Rate Finder…"), ("curvature", "&Curvature (Stability Limit)…"),
                        ("landscape", "Loss &Landscape…")):
        action = menu.addAction(title)
        action.triggered.connect(lambda _=False, n=name: inspect.show_tab(n))
        window.inspect_actions[name] = action
    window.stability_note = StabilityNote(window, inspect)
    return inspect
