"""The network diagram: inputs, hidden layers, outputs and connections, live while training,
and an editor too: "+"/"−" for layers and neurons, a click on a layer's header for its
activation, a click on an input feature (2-D data) to switch it on or off, a click on a
connection or a neuron to type a weight or a bias.

The scene is rebuilt only when the spec changes; frames only restyle the items that exist
(pens picked from a small cache, one pixmap per neuron), so redrawing stays cheap."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QEvent, QLineF, QPointF, QRect, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QToolTip,
    QWidget,
)

from nnbench.engine import LayerSpec, NetworkSpec
from nnbench.engine import features as feature_maps
from nnbench.engine import spec as spec_limits  # the limits, defined once in the core
from nnbench.engine.activations import HIDDEN_ACTIVATIONS
from nnbench.ui import dialogs
from nnbench.ui.colors import BLUE, ORANGE, diverging_rgb
from nnbench.ui.session import Session
from nnbench.ui.worker import Frame, grid_side

MAX_SHOWN = 16  # a wider layer shows its first MAX_SHOWN - 1 neurons and "+N more"
BLOCK_INPUTS = 16  # more inputs than this show as one block (MNIST's 784)
NODE = 30  # neuron size in scene units
DX = 120  # column spacing
DY = 35  # neuron spacing
TOP = 84  # room above the neurons for the layer controls
BUTTON = 20  # side of a "+"/"−" button and height of an activation box, in scene units
MIN_SCALE = 0.8  # the smallest the diagram is drawn: BUTTON * MIN_SCALE = 16 px
HEAT = 32  # heatmap pixels per side (the grid subsampled)
CURVE_POINTS = 64  # points per neuron curve (1-D data)
WIDTH_LEVELS = 8  # connection thickness is quantised so pens come from a cache
DIAGRAM_PIECE = ("diagram",)  # its turn (nnbench.ui.turns)
EDGES_INTERVAL = 1 / 10  # seconds between restyles of a dense diagram's lines while training
AA_EDGES = 600  # more connections than this are drawn without antialiasing (see EdgeLayer.paint)


def _font(points: int) -> QFont:
    font = QFont()  # the application's family, so the diagram matches the panels
    font.setPointSize(points)
    return font


# diverging_rgb as a 256-entry table: a frame colours ~10^5 heatmap pixels, and a table lookup
# is several times cheaper than blending per pixel.
_LUT = diverging_rgb(np.linspace(-1.0, 1.0, 256), 1.0)


_LUT32 = (0xFF000000 | (_LUT[:, 0].astype(np.uint32) << 16) | (_LUT[:, 1].astype(np.uint32) << 8)
          | _LUT[:, 2].astype(np.uint32))  # the same table as QImage.Format_RGB32 pixels


def _heat_argb(values: np.ndarray, limit: float) -> np.ndarray:
    """``values`` (h, w, k) onto the diverging scale, as RGB32 pixels (uint32)."""
    t = np.clip(values * (127.5 / max(limit, 1e-12)) + 127.5, 0, 255).astype(np.uint8)
    return _LUT32[t]


class HeatLayer(QGraphicsItem):
    """Every neuron's heatmap in one item: one image per column (its neurons' maps stacked),
    drawn piece by piece over the neurons. 150 pixmap items of their own, each re-made every
    frame, cost a 10x64 net's frame several milliseconds more."""

    def __init__(self) -> None:
        super().__init__()
        self._columns: dict[int, tuple[QImage, list[Neuron]]] = {}
        self._rect = QRectF()
        self.setZValue(2.5)  # over the neurons' white fill, under the controls

    def set_column(self, key: int, nodes: list[Neuron], argb: np.ndarray) -> None:
        """``argb`` (h, w, k) pixels: map k goes onto ``nodes[k]``."""
        h, w, k = argb.shape
        atlas = np.ascontiguousarray(argb.transpose(2, 0, 1)).reshape(k * h, w)
        image = QImage(atlas.data, w, k * h, 4 * w, QImage.Format.Format_RGB32).copy()
        self._columns[key] = (image, list(nodes[:k]))
        rect = self._rect
        for node in (nodes[0], nodes[k - 1]) if k else ():  # a column's first and last neuron span it
            rect = rect.united(node.rect())
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self.update()

    def has(self, node: Neuron) -> bool:
        return any(node in column for _, column in self._columns.values())

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        for image, column in self._columns.values():
            h = image.height() // max(len(column), 1)
            for k, node in enumerate(column):
                painter.setOpacity(node.opacity())
                painter.drawImage(node.rect(), image, QRectF(0, k * h, image.width(), h))


class Clickable(QGraphicsRectItem):
    """A rectangle with a text that runs ``on_click`` (the view dispatches clicks)."""

    def __init__(self, rect: QRectF, text: str, on_click: Callable[[], None], tip: str) -> None:
        super().__init__(rect)
        self.on_click = on_click
        self.tip = tip
        self.setBrush(QBrush(QColor(245, 245, 245)))
        self.setPen(QPen(QColor(150, 150, 150)))
        self.setZValue(3)
        label = QGraphicsSimpleTextItem(text, self)
        label.setFont(_font(9))
        r = label.boundingRect()
        if r.width() + 8 > rect.width():  # the box holds its text ("sigmoid ▾", not "sigmoic")
            grow = (r.width() + 8 - rect.width()) / 2
            rect = rect.adjusted(-grow, 0, grow, 0)
            self.setRect(rect)
        label.setPos(rect.center().x() - r.width() / 2, rect.center().y() - r.height() / 2)


class Neuron(QGraphicsRectItem):
    def __init__(self, rect: QRectF, layer: int, index: int) -> None:
        super().__init__(rect)
        self.layer, self.index = layer, index  # layer: engine layer (0 = first hidden), -1 = input
        self.setPen(QPen(QColor(90, 90, 90)))
        self.setBrush(QBrush(Qt.GlobalColor.white))
        self.setZValue(2)
        self.heat = QGraphicsPixmapItem(self)
        self.heat.setPos(rect.topLeft())
        self.heat.setTransformationMode(Qt.TransformationMode.FastTransformation)
        self.heat.setScale(rect.width() / HEAT)


class FeatureNode(Neuron):
    """An input feature of 2-D data; ``index`` is its row in the first layer, -1 when off."""

    def __init__(self, rect: QRectF, name: str, index: int) -> None:
        super().__init__(rect, -1, index)
        self.feature = name
        self.on = index >= 0
        if not self.on:
            self.setOpacity(0.3)
            self.setPen(QPen(QColor(90, 90, 90), 1, Qt.PenStyle.DashLine))


class Edge:
    """One connection: which weight it draws and where. Not a scene item: all connections are
    painted by one :class:`EdgeLayer`, a few ``drawLines`` calls, one per pen (STYLE.md, Plots);
    2,000 line items cost a 10x64 net's frame more than everything else together."""

    __slots__ = ("layer", "i", "j", "k", "_line", "_owner")

    def __init__(self, a: QPointF, b: QPointF, layer: int, i: int, j: int, owner: EdgeLayer) -> None:
        self.layer, self.i, self.j = layer, i, j  # i == -1: from the input block
        self.k = -1  # its place in the owner's arrays
        self._line = QLineF(a, b)
        self._owner = owner

    @property
    def level(self) -> int:
        """Pen code: sign * WIDTH_LEVELS + thickness level (-1 before the first frame)."""
        return int(self._owner.codes[self.k])

    def line(self) -> QLineF:
        return self._line

    def pen(self) -> QPen:
        c = max(self.level, 0)
        return self._owner.pens[(c // WIDTH_LEVELS, c % WIDTH_LEVELS)]

    def sceneBoundingRect(self) -> QRectF:  # noqa: N802 (as a scene item would say it)
        return QRectF(self._line.p1(), self._line.p2()).normalized()


class EdgeLayer(QGraphicsItem):
    """Every connection of the diagram in one item, drawn one pen at a time."""

    def __init__(self, pens: dict[tuple[int, int], QPen]) -> None:
        super().__init__()
        self.pens = pens
        self.edges: list[Edge] = []
        self.codes = np.empty(0, dtype=np.int64)  # each edge's pen code (see Edge.level)
        self._ends = np.empty((0, 4))  # x1, y1, x2, y2 per edge, for hit-testing
        self._lines: list[QLineF] = []
        self._groups: list[tuple[QPen, list[QLineF]]] = []
        self._rect = QRectF()
        self.setZValue(0)

    def set_edges(self, edges: list[Edge]) -> None:
        self.prepareGeometryChange()
        self.edges = edges
        for k, e in enumerate(edges):
            e.k = k
        self._lines = [e.line() for e in edges]
        self._ends = np.array([[ln.x1(), ln.y1(), ln.x2(), ln.y2()] for ln in self._lines]).reshape(-1, 4)
        if len(edges):
            lo, hi = self._ends.reshape(-1, 2).min(axis=0), self._ends.reshape(-1, 2).max(axis=0)
            self._rect = QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]).adjusted(-6, -6, 6, 6)
        else:
            self._rect = QRectF()
        self.set_codes(np.full(len(edges), -1, dtype=np.int64))
        # A dense diagram's lines are drawn into a pixmap Qt keeps (and remakes when the codes
        # or the zoom change): a frame that changed only the neurons' maps blits it. 2,000 lines
        # took 4.6 ms of each 10x64 frame's paint.
        dense = len(edges) > AA_EDGES
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache if dense
                          else QGraphicsItem.CacheMode.NoCache)

    def set_codes(self, codes: np.ndarray) -> None:
        """New pen codes for every edge; regroups the lines by pen and repaints if any changed."""
        if np.array_equal(codes, self.codes):
            return
        self.codes = codes
        shown = np.maximum(codes, 0)
        # Thin, pale lines first: the strong ones are drawn over them.
        order = np.argsort(shown % WIDTH_LEVELS * 2 * WIDTH_LEVELS + shown, kind="stable")
        sorted_codes = shown[order]
        cuts = np.flatnonzero(np.diff(sorted_codes)) + 1
        lines = self._lines
        self._groups = []
        for idx in np.split(order, cuts):
            if len(idx):
                c = int(shown[idx[0]])
                pen = self.pens[(c // WIDTH_LEVELS, c % WIDTH_LEVELS)]
                self._groups.append((pen, [lines[i] for i in idx.tolist()]))
        self.update()

    def nearest(self, p: QPointF, tolerance: float) -> Edge | None:
        """The connection closest to scene point ``p``, if it is within ``tolerance``."""
        if not len(self.edges):
            return None
        a, b = self._ends[:, :2], self._ends[:, 2:]
        d = b - a
        q = np.array([p.x(), p.y()])
        t = np.clip(np.einsum("ij,ij->i", q - a, d) / np.maximum(np.einsum("ij,ij->i", d, d), 1e-9), 0, 1)
        dist = np.linalg.norm(a + t[:, None] * d - q, axis=1)
        k = int(np.argmin(dist))
        return self.edges[k] if dist[k] <= tolerance else None

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        # Antialiased, 2,000 lines (a 10x64 net) took 7 ms of a 10 ms repaint under Xvfb, plain
        # ones 1.5 ms; that many lines at the scale they fit in are a hairline apart anyway.
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, len(self.edges) <= AA_EDGES)
        for pen, lines in self._groups:
            painter.setPen(pen)
            painter.drawLines(lines)


class NetworkView(QGraphicsView):
    # The pointer moved onto a neuron: (column, neuron index), column 0 = inputs; (-1, -1) when
    # it left. neuron_output(column, index) gives that neuron's values over the plane.
    neuron_hovered = Signal(int, int)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.scene_ = QGraphicsScene(self)
        self.setScene(self.scene_)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumHeight(80)  # the splitter can make room for the Digits tab
        self.spec: NetworkSpec | None = None
        self.weights: dict[str, np.ndarray] = {}
        self.columns: list[list[Neuron]] = []  # per column (inputs, hidden..., output)
        self.shown: list[np.ndarray] = []  # per column: neuron indices drawn
        self.edges: list[list[Edge]] = []  # per engine layer
        self.buttons: dict[str, Clickable] = {}  # by name: "add_layer", "neurons+1", "act1", ...
        self.more: dict[int, QGraphicsSimpleTextItem] = {}
        self.feature_nodes: dict[str, FeatureNode] = {}  # 2-D data: every input feature, on or off
        self._pens = self._make_pens()
        self.edge_layer = EdgeLayer(self._pens)  # replaced by each build
        self.heat_layer = HeatLayer()
        self._heatmaps = False
        self._edges_at = -np.inf  # time.monotonic() of the lines' last restyle
        self._curves = False
        self._pressed: QGraphicsItem | None = None
        self._hovered = (-1, -1)
        self._highlighted: Neuron | None = None
        self._outputs: tuple[np.ndarray, ...] = ()  # every layer's output on the grid, last frame
        self.setMouseTracking(True)

        session.spec_changed.connect(self._on_spec_changed)
        session.dataset_changed.connect(self._on_dataset_changed)
        session.frame.connect(self._on_frame)

    # --- finding items (tests use these too) ------------------------------------------------
    def neuron(self, column: int, index: int) -> Neuron:
        return next(n for n in self.columns[column] if n.index == index)

    def edge(self, layer: int, i: int, j: int) -> Edge:
        return next(e for e in self.edges[layer] if e.i == i and e.j == j)

    def item_at(self, pos) -> QGraphicsItem | None:
        """The item a click at viewport ``pos`` means: controls, then neurons, then the
        connection nearest the pointer."""
        near = self.items(QRect(pos.x() - 3, pos.y() - 3, 7, 7))
        for kind in (Clickable, Neuron):
            for item in near:
                while item is not None and not isinstance(item, kind):
                    item = item.parentItem()
                if item is not None:
                    return item
        tolerance = 3.5 / max(self.transform().m11(), 1e-6)  # about 3 px on screen, at any zoom
        return self.edge_layer.nearest(self.mapToScene(pos), tolerance)

    # --- building the scene -----------------------------------------------------------------
    @Slot(object)
    def _on_dataset_changed(self, dataset) -> None:
        self._heatmaps = dataset is not None and dataset.n_features == 2
        self._curves = dataset is not None and dataset.n_features == 1  # 1-D data: output along x
        self.session.set_want_hidden(self._heatmaps or self._curves)

    @Slot(object)
    def _on_spec_changed(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self.weights = {}
        self._outputs = ()
        self._highlighted = None
        if self._hovered != (-1, -1):  # the hovered neuron may be gone: the plots go back
            self._hovered = (-1, -1)
            self.neuron_hovered.emit(-1, -1)
        self._build(spec)

    def _build(self, spec: NetworkSpec) -> None:
        self.scene_.clear()
        self.heat_layer = HeatLayer()
        self.scene_.addItem(self.heat_layer)
        self.columns, self.shown, self.edges, self.buttons, self.more = [], [], [], {}, {}
        self.feature_nodes = {}
        sizes = spec.sizes
        n_cols = len(sizes)
        featured = spec.input_names is not None  # 2-D data: every feature shows, on or off
        tallest = max([min(s, MAX_SHOWN) for s in sizes] + [len(feature_maps.FEATURES) if featured else 0])
        height = tallest * DY
        for c, units in enumerate(sizes):
            x = c * DX
            if c == 0 and featured:
                self._feature_column(spec, height)
                continue
            if c == 0 and units > BLOCK_INPUTS:
                shown = np.array([], dtype=int)
                # At the top, next to the controls: the Digits tab leaves the diagram a strip of ~200 px.
                block = Neuron(QRectF(x - NODE / 2, TOP, NODE, 120), -1, -1)
                block.setBrush(QBrush(QColor(225, 225, 225)))
                text = QGraphicsSimpleTextItem(f"{units}\ninputs", block)
                text.setFont(_font(7))
                text.setPos(x - NODE / 2 + 1, TOP + 46)
                self.scene_.addItem(block)
                self.columns.append([block])
                self.shown.append(shown)
                continue
            n_show = units if units <= MAX_SHOWN else MAX_SHOWN - 1
            shown = np.arange(n_show)
            y0 = TOP + (height - min(units, MAX_SHOWN) * DY) / 2
            column = []
            for k in shown:
                node = Neuron(QRectF(x - NODE / 2, y0 + k * DY + (DY - NODE) / 2, NODE, NODE), c - 1, int(k))
                self.scene_.addItem(node)
                column.append(node)
            if units > n_show:
                more = self.scene_.addSimpleText(f"+{units - n_show}\nmore")
                more.setFont(_font(8))
                more.setPos(x - NODE / 2, y0 + n_show * DY)
                self.more[c] = more
            self.columns.append(column)
            self.shown.append(shown)
            self._column_header(c, n_cols, spec)
        self._input_nodes()
        self.edge_layer = EdgeLayer(self._pens)
        self._edges_at = -np.inf  # new lines: styled by the next frame
        self.scene_.addItem(self.edge_layer)
        for layer in range(n_cols - 1):
            edges = []
            src, dst = self.columns[layer], self.columns[layer + 1]
            for a in src:
                for b in dst:
                    start = a.rect().center() + QPointF(NODE / 2, 0)
                    end = b.rect().center() - QPointF(NODE / 2, 0)
                    edges.append(Edge(start, end, layer, a.index, b.index, self.edge_layer))
            self.edges.append(edges)
        self.edge_layer.set_edges([e for edges in self.edges for e in edges])
        self._layer_buttons(n_cols)
        self.scene_.setSceneRect(self.scene_.itemsBoundingRect().adjusted(-10, -10, 10, 10))
        self._fit()

    def _feature_column(self, spec: NetworkSpec, height: float) -> None:
        """All seven input features of 2-D data; those the network sees are on, the rest dim."""
        names = feature_maps.FEATURES
        on = spec.input_names
        y0 = TOP + (height - len(names) * DY) / 2
        for k, name in enumerate(names):
            rect = QRectF(-NODE / 2, y0 + k * DY + (DY - NODE) / 2, NODE, NODE)
            node = FeatureNode(rect, name, on.index(name) if name in on else -1)
            self.scene_.addItem(node)
            self.feature_nodes[name] = node
        column = sorted((n for n in self.feature_nodes.values() if n.on), key=lambda n: n.index)
        self.columns.append(column)
        self.shown.append(np.arange(len(column)))
        title = self.scene_.addSimpleText(f"Features ({len(column)} on)")
        title.setFont(_font(8))
        title.setPos(-title.boundingRect().width() / 2, TOP - 50)

    def _input_nodes(self) -> None:
        """Names beside the input nodes and, for 2-D data, each input's value over the plane."""
        ds, view = self.session.dataset, self.session.view
        if self.feature_nodes:
            self._feature_labels_and_heat(view)
            return
        if ds is None or not self.shown[0].size:
            return
        names = ds.feature_names
        for node in self.columns[0]:
            if node.index < len(names):
                label = QGraphicsSimpleTextItem(str(names[node.index])[:10], node)
                label.setFont(_font(8))
                r = label.boundingRect()
                label.setPos(node.rect().left() - r.width() - 4, node.rect().center().y() - r.height() / 2)
        if self._curves and view is not None and view.grid is not None and view.grid.shape[1] == 1:
            self._set_curves(self.columns[0], view.grid[:, :1], "linear")

    def _feature_labels_and_heat(self, view) -> None:
        for name, node in self.feature_nodes.items():
            label = QGraphicsSimpleTextItem(feature_maps.LABELS[name], node)
            label.setFont(_font(8))
            r = label.boundingRect()
            label.setPos(node.rect().left() - r.width() - 4, node.rect().center().y() - r.height() / 2)
        if not self._heatmaps or view is None or view.grid is None or view.grid.shape[1] != 2:
            return
        step = max(view.res // HEAT, 1)
        grid = view.grid.reshape(view.res, view.res, 2)[::-step, ::step].reshape(-1, 2)
        values = feature_maps.expand(grid, feature_maps.FEATURES)
        values -= values.mean(axis=0)  # each feature's own range, centred, as one colour scale
        values /= np.maximum(np.abs(values).max(axis=0), 1e-12)
        h = w = int(np.sqrt(len(grid)))
        argb = _heat_argb(values.reshape(h, w, -1), 1.0)
        self.heat_layer.set_column(0, list(self.feature_nodes.values()), argb)

    def _set_curves(self, nodes: list[Neuron], values: np.ndarray, activation: str) -> None:
        """For 1-D data: each node shows its output along x as a small curve, (points, k)."""
        size = 2 * NODE  # drawn at twice the node size, shown scaled down: crisp when zoomed
        values = values[:: max(len(values) // CURVE_POINTS, 1)]
        ranges = {"sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0)}
        lo, hi = ranges.get(activation, (None, None))
        xs = np.linspace(2, size - 2, len(values))
        for k, node in enumerate(nodes):
            v = values[:, k]
            a, b = (lo, hi) if lo is not None else (float(v.min()), float(v.max()))
            if b - a < 1e-12:
                a, b = a - 1.0, b + 1.0
            ys = size - 3 - (v - a) / (b - a) * (size - 6)
            pix = QPixmap(size, size)
            pix.fill(Qt.GlobalColor.white)
            painter = QPainter(pix)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            if a < 0 < b:  # the zero line
                zero = size - 3 - (0 - a) / (b - a) * (size - 6)
                painter.setPen(QPen(QColor(200, 200, 200), 1))
                painter.drawLine(QPointF(0, zero), QPointF(size, zero))
            painter.setPen(QPen(QColor(*BLUE), 2.5))
            painter.drawPolyline([QPointF(x, y) for x, y in zip(xs.tolist(), ys.tolist(), strict=True)])
            painter.end()
            node.heat.setPixmap(pix)
            node.heat.setScale(NODE / size)

    def has_picture(self, node: Neuron) -> bool:
        """Whether ``node`` shows its output (a heatmap or, for 1-D data, a curve)."""
        return self.heat_layer.has(node) or not node.heat.pixmap().isNull()

    def _column_header(self, c: int, n_cols: int, spec: NetworkSpec) -> None:
        x = c * DX
        if c == 0:
            title = self.scene_.addSimpleText(f"Input ({spec.n_inputs})")
        elif c == n_cols - 1:
            title = self.scene_.addSimpleText(f"Output ({spec.output.units})")
            out = Clickable(QRectF(x - 40, TOP - 28, 80, BUTTON), f"{spec.output.activation} ▾",
                            self._choose_output, "Override the output activation (the loss follows)")
            self.scene_.addItem(out)
            self.buttons["act_out"] = out
        else:
            h = c - 1
            layer = spec.hidden[h]
            act = Clickable(QRectF(x - 44, TOP - 50, 88, BUTTON), f"{layer.activation} ▾",
                            lambda h=h: self._choose_activation(h), "Choose this layer's activation")
            minus = Clickable(QRectF(x - 44, TOP - 28, BUTTON, BUTTON), "−",
                              lambda h=h: self._add_neurons(h, -1), "Remove a neuron")
            plus = Clickable(QRectF(x + 44 - BUTTON, TOP - 28, BUTTON, BUTTON), "+",
                             lambda h=h: self._add_neurons(h, +1), "Add a neuron")
            count = QGraphicsSimpleTextItem(f"{layer.units}")
            count.setFont(_font(9))
            r = count.boundingRect()
            count.setPos(x - r.width() / 2, TOP - 28 + (BUTTON - r.height()) / 2)
            for item in (act, minus, plus, count):
                self.scene_.addItem(item)
            self.buttons.update({f"act{h}": act, f"neurons-{h}": minus, f"neurons+{h}": plus})
            return
        title.setFont(_font(8))
        title.setPos(x - title.boundingRect().width() / 2, TOP - 50)

    def _layer_buttons(self, n_cols: int) -> None:
        x = (n_cols - 1) * DX / 2
        n_hidden = n_cols - 2
        label = self.scene_.addSimpleText(f"{n_hidden} hidden layer{'s' if n_hidden != 1 else ''}")
        label.setFont(_font(9))
        r = label.boundingRect()
        label.setPos(x - r.width() / 2, TOP - 80 + (BUTTON - r.height()) / 2)
        w = label.boundingRect().width() / 2
        add = Clickable(QRectF(x + w + 6, TOP - 80, BUTTON, BUTTON), "+", self._add_layer,
                        "Add a hidden layer")
        remove = Clickable(QRectF(x - w - 6 - BUTTON, TOP - 80, BUTTON, BUTTON), "−", self._remove_layer,
                           "Remove the last hidden layer")
        self.scene_.addItem(add)
        self.scene_.addItem(remove)
        self.buttons.update({"add_layer": add, "remove_layer": remove})

    def _fit(self) -> None:
        rect = self.scene_.sceneRect()
        if rect.isEmpty() or self.viewport().width() < 10:
            return
        scale = min(self.viewport().width() / rect.width(), self.viewport().height() / rect.height())
        # Below MIN_SCALE the diagram scrolls rather than shrinks: its buttons stay >= 16 px.
        scale = min(max(scale, MIN_SCALE), 1.6)
        self.resetTransform()
        self.scale(scale, scale)
        # Too big to fit (it scrolls): start at the top left, where the inputs and the controls are.
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().minimum())
        self.verticalScrollBar().setValue(self.verticalScrollBar().minimum())

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:  # Ctrl+wheel zooms
            factor = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
            self.scale(factor, factor)
            event.accept()
            return
        super().wheelEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit()

    # --- live drawing from frames --------------------------------------------------------------
    def _make_pens(self) -> dict[tuple[int, int], QPen]:
        pens = {}
        for sign, rgb in ((0, BLUE), (1, ORANGE)):
            for level in range(WIDTH_LEVELS):
                # Faint = mixed towards the white background, not transparent: the raster engine
                # draws ~2,000 antialiased translucent lines (a 10x64 net) in ~130 ms, opaque
                # ones in ~10 ms (measured under Xvfb).
                a = (70 + 185 * level / (WIDTH_LEVELS - 1)) / 255
                color = QColor(*(int(round(255 * (1 - a) + c * a)) for c in rgb))
                pen = QPen(color, 0.6 + 0.75 * level)
                pen.setCapStyle(Qt.PenCapStyle.FlatCap)
                pens[(sign, level)] = pen
        return pens

    @Slot(object)
    def _on_frame(self, frame: Frame) -> None:
        """A training frame is drawn in a turn of the event loop of its own (nnbench.ui.turns):
        the 10x64 diagram's update takes 4 ms and its paint 8, the plots' paints must not follow
        in the same stretch. Any other frame is drawn at once."""
        turns = self.session.turns
        if frame.running:
            turns.later(DIAGRAM_PIECE, lambda: self._draw_frame(frame))
        else:
            turns.drop(DIAGRAM_PIECE)
            self._draw_frame(frame)

    def _draw_frame(self, frame: Frame) -> None:
        if frame.dataset is not self.session.dataset or self.spec is None:
            return
        weights = frame.snapshot.weights
        if any(weights.get(f"layer{i}.W", np.empty((0, 0))).shape != (a, b)
               for i, (a, b) in enumerate(zip(self.spec.sizes, self.spec.sizes[1:], strict=False))):
            return  # a frame from before the last structural edit
        self.weights = weights
        # While training, a dense diagram's lines change colour at most every EDGES_INTERVAL
        # (its neurons' maps every frame): restyling and redrawing 2,000 lines is most of a
        # 10x64 frame's drawing, and a weight's colour moves little in a tenth of a second.
        now = time.monotonic()
        if not (frame.running and len(self.edge_layer.edges) > AA_EDGES
                and now - self._edges_at < EDGES_INTERVAL):
            self._edges_at = now
            self._style_edges(weights)
        have_grid = frame.grid_hidden is not None and frame.grid_output is not None
        if (self._heatmaps or self._curves) and have_grid:
            self._outputs = (*frame.grid_hidden, frame.grid_output)
            if self._heatmaps:
                self._draw_heatmaps(self._outputs)
            else:
                for c in range(1, len(self.columns)):
                    idx = self.shown[c]
                    if len(idx):
                        self._set_curves(self.columns[c], self._outputs[c - 1][:, idx],
                                         self.spec.layers[c - 1].activation)

    def _style_edges(self, weights: dict[str, np.ndarray]) -> None:
        shown = []
        for layer in range(len(self.edges)):
            W = weights[f"layer{layer}.W"]
            src = self.shown[layer]
            rows = W[src] if len(src) else W.mean(axis=0, keepdims=True)
            shown.append(rows[:, self.shown[layer + 1]].ravel())  # edges were made in this order
        # Thickness is relative to the largest weight drawn (but at least 1), so a net with
        # big weights does not turn into a wall of thick lines.
        scale = max(1.0, max((float(np.abs(v).max()) for v in shown if v.size), default=1.0))
        values = np.concatenate(shown) if shown else np.empty(0)
        level = np.minimum((np.abs(values) / scale * WIDTH_LEVELS).astype(np.int64), WIDTH_LEVELS - 1)
        self.edge_layer.set_codes(level + WIDTH_LEVELS * (values < 0))

    def _draw_heatmaps(self, outputs: tuple[np.ndarray, ...]) -> None:
        for c in range(1, len(self.columns)):
            out, layer = outputs[c - 1], self.spec.layers[c - 1]
            idx = self.shown[c]
            res = grid_side(out)  # the full grid, or the coarse one while a deep net trains
            step = max(res // HEAT, 1)
            if out.shape[0] != res * res or len(idx) == 0:
                continue
            img = out.reshape(res, res, -1)[::-step, ::step][:, :, idx]  # top row = largest y
            if layer.activation in ("sigmoid", "softmax"):
                img, limit = 2.0 * img - 1.0, 1.0
            elif layer.activation == "tanh":
                limit = 1.0
            else:
                limit = float(np.max(np.abs(img))) or 1.0
            self.heat_layer.set_column(c, self.columns[c], _heat_argb(img, limit))

    # --- editing ---------------------------------------------------------------------------
    def neuron_output(self, column: int, index: int) -> np.ndarray | None:
        """(res, res) values of a neuron over the plane from the last frame, rows = y; for 1-D
        data, its (res,) values along x."""
        view = self.session.view
        if view is None or view.grid is None:
            return None
        if view.grid.shape[1] == 1:  # 1-D data: the neuron's output along x
            if column == 0:
                return view.grid[:, 0].copy()
            return self._outputs[column - 1][:, index] if column - 1 < len(self._outputs) else None
        if view.grid.shape[1] != 2:
            return None
        if column == 0:
            names = self.spec.input_names if self.spec is not None else None
            if names is None:
                return view.grid[:, index].reshape(view.res, view.res)
            return feature_maps.expand(view.grid, (names[index],))[:, 0].reshape(view.res, view.res)
        if column - 1 >= len(self._outputs):
            return None
        values = self._outputs[column - 1][:, index]
        side = grid_side(values)
        return values.reshape(side, side)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        item = self.item_at(event.position().toPoint())
        hovered = (item.layer + 1, item.index) if isinstance(item, Neuron) and item.index >= 0 else (-1, -1)
        if hovered != self._hovered:
            self._hovered = hovered
            self._highlight(item if hovered[0] >= 0 else None)
            self.neuron_hovered.emit(*hovered)
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self._hovered != (-1, -1):  # the pointer left the diagram: the plots go back
            self._hovered = (-1, -1)
            self._highlight(None)
            self.neuron_hovered.emit(-1, -1)
        super().leaveEvent(event)

    def _highlight(self, node: Neuron | None) -> None:
        """A thick outline on the neuron the plots panel is showing large."""
        old = self._highlighted
        if old is not None and old.scene() is self.scene_:
            old.setPen(QPen(QColor(90, 90, 90)))
        self._highlighted = node
        if node is not None:
            node.setPen(QPen(QColor(20, 20, 20), 3))

    def _target(self, event) -> QGraphicsItem | None:
        item = self.item_at(event.position().toPoint())
        if isinstance(item, Clickable) or (isinstance(item, Neuron) and item.layer >= 0) \
                or isinstance(item, FeatureNode) or (isinstance(item, Edge) and item.i >= 0):
            return item
        return None

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._pressed = self._target(event) if event.button() == Qt.MouseButton.LeftButton else None
        if self._pressed is None:
            super().mousePressEvent(event)
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        item, self._pressed = self._pressed, None
        event.accept()
        if item is None or item is not self._target(event):
            super().mouseReleaseEvent(event)
            event.accept()
            return
        # Acts on release, after the mouse grab is over (a dialog may open).
        if isinstance(item, Clickable):
            item.on_click()
        elif isinstance(item, FeatureNode):
            self.toggle_feature(item.feature)
        elif isinstance(item, Neuron):
            self._edit_bias(item)
        else:
            self._edit_weight(item)

    def viewportEvent(self, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.ToolTip:
            text = self.tooltip_at(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    def tooltip_at(self, pos) -> str:
        """What hovering at viewport ``pos`` shows: a weight, a bias or what a control does."""
        item = self.item_at(pos)
        if isinstance(item, Clickable):
            return item.tip
        if isinstance(item, FeatureNode):
            state = "on: click to switch off" if item.on else "off: click to switch on"
            return f"input feature {feature_maps.LABELS[item.feature]} ({state})"
        if isinstance(item, Edge):
            W = self.weights.get(f"layer{item.layer}.W")
            if W is None:
                return ""
            if item.i < 0:
                return f"{W.shape[0]} weights into neuron {item.j + 1}, mean {W[:, item.j].mean():+.4f}"
            names = self.spec.input_names if self.spec is not None else None
            if item.layer > 0:
                src = f"neuron {item.i + 1}"
            elif names is not None:
                src = feature_maps.LABELS[names[item.i]]
            else:
                src = f"input {item.i + 1}"
            return f"weight {src} → neuron {item.j + 1}: {W[item.i, item.j]:+.4f} (click to edit)"
        if isinstance(item, Neuron) and item.layer >= 0:
            b = self.weights.get(f"layer{item.layer}.b")
            bias = f"bias {b[item.index]:+.4f} (click to edit)" if b is not None else "no bias"
            return f"layer {item.layer + 1}, neuron {item.index + 1}: {bias}"
        return ""

    def _edit_weight(self, edge: Edge) -> None:
        W = self.weights.get(f"layer{edge.layer}.W")
        current = float(W[edge.i, edge.j]) if W is not None else 0.0
        label = f"Weight {edge.i + 1} → {edge.j + 1} in layer {edge.layer + 1}:"
        value = dialogs.ask_number(self, "Weight", label, current)
        if value is not None:
            self.session.set_weight(edge.layer, edge.i, edge.j, value)

    def _edit_bias(self, node: Neuron) -> None:
        b = self.weights.get(f"layer{node.layer}.b")
        if b is None and self.weights:
            return  # this layer has no bias
        current = float(b[node.index]) if b is not None else 0.0
        label = f"Bias of neuron {node.index + 1} in layer {node.layer + 1}:"
        value = dialogs.ask_number(self, "Bias", label, current)
        if value is not None:
            self.session.set_bias(node.layer, node.index, value)

    def toggle_feature(self, name: str) -> None:
        """Switch input feature ``name`` on or off (at least one stays on)."""
        current = self.session.features or feature_maps.RAW
        if name in current:
            if len(current) == 1:
                self.session.message.emit("At least one input feature stays on")
                return
            wanted = tuple(n for n in current if n != name)
        else:
            wanted = (*current, name)
        self.session.set_features(wanted)

    def _hidden(self) -> list[LayerSpec]:
        # The newest requested layers (the spec may still be on its way from the engine).
        return list(self.session.hidden)

    def _add_layer(self) -> None:
        layers = self._hidden()
        if len(layers) < spec_limits.MAX_HIDDEN:
            template = layers[-1] if layers else LayerSpec(4, "tanh")
            self.session.set_hidden((*layers, LayerSpec(template.units, template.activation, template.bias)))

    def _remove_layer(self) -> None:
        layers = self._hidden()
        if layers:
            self.session.set_hidden(tuple(layers[:-1]))

    def _add_neurons(self, h: int, delta: int) -> None:
        layers = self._hidden()
        if h < len(layers) and 1 <= layers[h].units + delta <= spec_limits.MAX_UNITS:
            layers[h] = LayerSpec(layers[h].units + delta, layers[h].activation, layers[h].bias)
            self.session.set_hidden(tuple(layers))

    def _choose_output(self) -> None:
        spec = self.session.spec
        if spec is None:
            return
        choices = ["sigmoid", "linear", "tanh"] + (["softmax"] if spec.output.units >= 2 else [])
        picked = dialogs.ask_choice(self, "Output activation", choices, spec.output.activation)
        if picked and picked != spec.output.activation:
            self.session.set_output_activation(picked)

    def _choose_activation(self, h: int) -> None:
        layers = self._hidden()
        if h >= len(layers):
            return
        picked = dialogs.ask_choice(self, f"Activation of hidden layer {h + 1}", list(HIDDEN_ACTIVATIONS),
                                    layers[h].activation)
        if picked and picked != layers[h].activation:
            layers[h] = LayerSpec(layers[h].units, picked, layers[h].bias)
            self.session.set_hidden(tuple(layers))
