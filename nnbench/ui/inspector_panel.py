"""The backprop inspector: one forward and backward pass written out, layer by layer.

For the rows picked, it shows each layer's ``z`` and ``a``, the loss, then backwards each
layer's delta, ``dL/dW`` and ``dL/db``, each with its formula and the numbers filled in; "Step"
applies one update (the engine's own trainer, on the inspector's copy of the network) and shows
the new weights beside the old. Small arrays are written out in full; any array can also be
drawn as a heatmap, with its values on hover (what big layers need).
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from nnbench import commands as cmd
from nnbench.bench import network_of
from nnbench.inspect import backprop, training_batch
from nnbench.ui import colors
from nnbench.ui.session import Session

SHOW_ALL = 96  # arrays with at most this many numbers are written out in full
MAX_ROWS = 256


def _num(v: float) -> str:
    return f"{v:.4g}"


def matrix_html(a: np.ndarray | None, name: str) -> str:
    """A small array as a table of its numbers; a big one as its shape and range (the heatmap
    below shows it whole)."""
    if a is None:
        return ""
    m = np.atleast_2d(a)
    if m.size > SHOW_ALL:
        return (f"<i>{html.escape(name)}</i>: {m.shape[0]} x {m.shape[1]}<br>from {_num(m.min())} to "
                f"{_num(m.max())}<br>mean {_num(m.mean())}")
    rows = "".join("<tr>" + "".join(f"<td align='right'>{_num(v)}</td>" for v in r) + "</tr>" for r in m)
    return f"<table cellspacing='0' cellpadding='2' bgcolor='#eef2f7'>{rows}</table>"


def _formula(text: str) -> str:
    return f"<code style='color:#0b5394'>{html.escape(text)}</code>"


def equation_html(text: str, terms: list) -> str:
    """The formula, then its terms side by side: arrays (as tables) and operators between them."""
    cells = []
    for term in terms:
        if isinstance(term, str):
            cells.append(f"<td valign='middle'>&nbsp;<b>{html.escape(term)}</b>&nbsp;</td>")
        else:
            array, name = term
            cells.append(f"<td valign='middle'>{matrix_html(array, name)}</td>")
    return (f"<p style='margin-bottom:2px'>{_formula(text)}</p>"
            f"<table cellspacing='0' cellpadding='0'><tr>{''.join(cells)}</tr></table>")


def _forward_html(t: backprop.Trace) -> str:
    parts = [f"<h3>Forward pass ({len(t.x)} row(s))</h3>", equation_html("a0 = the inputs", [(t.x, "a0")])]
    for layer in t.layers:
        k = layer.number
        z_text, a_text = layer.forward
        parts.append(f"<h4>Layer {k} ({html.escape(layer.activation)})</h4>")
        terms = [(layer.a_prev, f"a{k - 1}"), "@", (layer.W, f"W{k}")]
        if layer.b is not None:
            terms += ["+", (layer.b, f"b{k}")]
        parts.append(equation_html(z_text, [*terms, "=", (layer.z, f"z{k}")]))
        parts.append(equation_html(a_text, ["=", (layer.a, f"a{k}")]))
    parts.append("<h3>Loss</h3>")
    parts.append(equation_html(t.loss_formula, ["y =", (t.y, "y"), f"L = {t.loss:.6g}"]))
    return "".join(parts)


def _backward_html(t: backprop.Trace) -> str:
    parts = ["<h3>Backward pass</h3>"]
    for i in range(len(t.layers) - 1, -1, -1):
        layer, k = t.layers[i], t.layers[i].number
        above = t.layers[i + 1] if i + 1 < len(t.layers) else None
        parts.append(f"<h4>Layer {k}</h4>")
        for text in layer.backward:
            head = text.split(" =")[0]
            if head.startswith("dL/da") and above is not None:
                terms = [(above.delta, f"delta{k + 1}"), "@", (above.W.T, f"W{k + 1}.T"), "=",
                         (layer.grad_a, head)]
            elif head.startswith("dL/dW"):
                terms = [(layer.a_prev.T, f"a{k - 1}.T"), "@", (layer.delta, f"delta{k}"), "=",
                         (layer.dW, head)]
            else:
                terms = ["=", (_backward_value(layer, text), head)]
            parts.append(equation_html(text, terms))
    return "".join(parts)


def _backward_value(layer: backprop.LayerTrace, text: str) -> np.ndarray | None:
    head = text.split(" =")[0]
    if head.startswith("dL/da"):
        return layer.grad_a
    if head.startswith("delta"):
        return layer.delta
    if head.startswith("dL/dW"):
        return layer.dW
    if head.startswith("dL/db"):
        return layer.db
    return None


def _step_html(before: dict[str, np.ndarray], after: dict[str, np.ndarray], lr: float | None) -> str:
    parts = ["<h3>One step: the weights before and after"
             + (f" (learning rate {lr:g})" if lr is not None else "") + "</h3>"]
    for name in before:
        i = int(name.split(".")[0].removeprefix("layer")) + 1
        label = f"{name.split('.')[1]}{i}"
        parts.append(equation_html(f"{label}: before, "
                                   f"after", [(before[name], label), "→", (after[name], label)]))
    return "".join(parts)


def trace_html(t: backprop.Trace, before: dict[str, np.ndarray] | None = None,
               after: dict[str, np.ndarray] | None = None, lr: float | None = None) -> str:
    """The pass as HTML: the forward pass and the loss on the left, the backward pass on the
    right, and after a Step the weights before and after above both."""
    step = _step_html(before, after, lr) if before is not None and after is not None else ""
    return (f"{step}<table width='100%' cellspacing='6'><tr><td valign='top' "
            f"width='50%'>{_forward_html(t)}</td>"
            f"<td valign='top' width='50%'>{_backward_html(t)}</td></tr></table>")


class BackpropTab(QWidget):
    traced = Signal(object)  # a backprop.Trace was computed and shown
    stepped = Signal(object)  # Step applied one update: the weights after it (name -> array)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.state: cmd.EngineState | None = None
        self.net = None  # the inspector's own copy of the network
        self.trace: backprop.Trace | None = None
        self.steps_taken = 0
        self._arrays: dict[str, np.ndarray] = {}

        self.take_button = QPushButton("Take the engine's network")
        self.take_button.setToolTip("Copy the network as the engine has it now (the live network is never "
                                    "changed here)")
        self.row_box = QSpinBox()
        self.row_box.setRange(0, 0)
        self.row_box.setPrefix("from row ")
        self.count_box = QSpinBox()
        self.count_box.setRange(1, MAX_ROWS)
        self.count_box.setSuffix(" row(s)")
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("One update by the engine's trainer (learning rate and optimizer in use) "
                                    "on the inspector's copy; the new weights are shown beside the old")
        self.step_button.setEnabled(False)
        self.note = QLabel("Press \"Take the engine's network\" to see one pass of backpropagation.")
        self.note.setWordWrap(True)
        self.text = QTextBrowser()
        self.heat_box = QComboBox()
        self.hover = QLabel("")
        self.heat = pg.PlotWidget()
        self.heat.getPlotItem().invertY(True)
        self.heat.getPlotItem().setAspectLocked(False)
        self.image = pg.ImageItem()
        self.heat.addItem(self.image)
        self.heat.setMinimumHeight(140)

        top = QHBoxLayout()
        for w in (self.take_button, self.row_box, self.count_box, self.step_button):
            top.addWidget(w)
        top.addStretch(1)
        heat_row = QHBoxLayout()
        heat_row.addWidget(QLabel("Heatmap of"))
        heat_row.addWidget(self.heat_box, 1)
        heat_row.addWidget(self.hover, 2)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addLayout(heat_row)
        lower_layout.addWidget(self.heat)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.text)
        split.addWidget(lower)
        split.setSizes([420, 200])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.note)
        layout.addWidget(split, 1)

        self.take_button.clicked.connect(self._on_take)
        self.step_button.clicked.connect(self._on_step)
        self.row_box.valueChanged.connect(self._on_rows_changed)
        self.count_box.valueChanged.connect(self._on_rows_changed)
        self.heat_box.currentTextChanged.connect(self._on_heat_choice)
        self.heat.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # --- actions ---------------------------------------------------------------------------
    @Slot()
    def _on_take(self) -> None:
        self.session.query_state(self._on_state)

    def _on_state(self, state: cmd.EngineState) -> None:
        self.state = state
        self.net = network_of(state.net)
        self.steps_taken = 0
        n = len(state.dataset.x_train)
        for box, top in ((self.row_box, max(n - 1, 0)), (self.count_box, max(min(n, MAX_ROWS), 1))):
            box.blockSignals(True)
            box.setMaximum(top)
            box.blockSignals(False)
        if state.epoch == 0 and self.count_box.value() == 1 and n <= 8:
            self.count_box.setValue(n)  # a tiny table: the whole batch, as it trains
        self.step_button.setEnabled(True)
        self.show_trace()

    def _batch(self) -> tuple[np.ndarray, np.ndarray]:
        return training_batch(self.state.dataset, self.count_box.value(), self.row_box.value())

    def show_trace(self, before=None, after=None) -> None:
        if self.net is None:
            return
        x, y = self._batch()
        self.trace = t = backprop.trace(self.net, self.state.config.loss, x, y)
        where = f"epoch {self.state.epoch:,}"
        if self.steps_taken:
            where += f" + {self.steps_taken} step(s) here"
        self.note.setText(f"The engine's network at {where}, on training rows {self.row_box.value() + 1} to "
                          f"{self.row_box.value() + len(x)}; loss {t.loss_name} = {t.loss:.6g}. The numbers "
                          "are the engine's own forward and backward pass.")
        config = self.state.config
        if config.regularization != "none" and config.reg_rate:
            self.note.setText(self.note.text() + f" Step also adds the {config.regularization.upper()} "
                              "penalty's gradient to dL/dW, as training does; dL/dW here is the data loss's.")
        self.text.setHtml(trace_html(t, before, after, config.lr))
        self._arrays = {}
        for layer in t.layers:
            k = layer.number
            for label, value in ((f"W{k}", layer.W), (f"dL/dW{k}", layer.dW), (f"delta{k}", layer.delta),
                                 (f"z{k}", layer.z), (f"a{k}", layer.a)):
                self._arrays[label] = np.atleast_2d(value)
        current = self.heat_box.currentText()
        self.heat_box.blockSignals(True)
        self.heat_box.clear()
        self.heat_box.addItems(list(self._arrays))
        self.heat_box.blockSignals(False)
        self.heat_box.setCurrentText(current if current in self._arrays else f"dL/dW{len(t.layers)}")
        self._on_heat_choice(self.heat_box.currentText())
        self.traced.emit(t)

    @Slot()
    def _on_step(self) -> None:
        if self.net is None:
            return
        x, y = self._batch()
        before = self.net.weights()
        after = backprop.step(self.net, self.state.config, x, y)
        self.net.set_weights(after)
        self.steps_taken += 1
        self.show_trace(before, after)
        self.stepped.emit(after)

    @Slot()
    def _on_rows_changed(self) -> None:
        self.show_trace()

    @Slot(str)
    def _on_heat_choice(self, name: str) -> None:
        a = self._arrays.get(name)
        if a is None:
            return
        self.image.setImage(colors.diverging_rgb(a), autoLevels=False)
        self.image.setRect(0, 0, a.shape[1], a.shape[0])
        self.heat.getPlotItem().setTitle(f"{name}: {a.shape[0]} x {a.shape[1]} (rows x columns)")
        self.heat.getPlotItem().autoRange()

    @Slot(object)
    def _on_mouse_moved(self, pos: QPointF) -> None:
        a = self._arrays.get(self.heat_box.currentText())
        if a is None:
            return
        p = self.image.mapFromScene(pos)
        r, c = int(np.floor(p.y())), int(np.floor(p.x()))
        if 0 <= r < a.shape[0] and 0 <= c < a.shape[1]:
            self.hover.setText(f"{self.heat_box.currentText()}[{r}, {c}] = {a[r, c]:.6g}")
        else:
            self.hover.setText("")
