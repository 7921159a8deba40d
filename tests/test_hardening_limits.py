"""Issue 11, item 21: one set of limits, in the core. A hidden layer of 1,000 neurons stays 1,000
when its activation is changed in the layer list (the spin box clamped it to 512 and was read
back as the model)."""

from __future__ import annotations

import pytest
from engine_helpers import engine_net

from nnbench.engine import LayerSpec, spec
from nnbench.ui import network_panel, network_view
from nnbench.ui.app import configure_pyqtgraph
from nnbench.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot):
    configure_pyqtgraph()
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.session.spec_changed, timeout=10_000):
        w.start_default()
    yield w
    w.close()


def settle(qtbot, w) -> None:
    qtbot.waitUntil(lambda: not w.session.busy, timeout=10_000)


def test_the_ui_has_no_limits_of_its_own():
    for module in (network_panel, network_view):
        assert not hasattr(module, "MAX_NEURONS"), module.__name__
        assert getattr(module, "MAX_HIDDEN", spec.MAX_HIDDEN) == spec.MAX_HIDDEN, module.__name__
    assert spec.MAX_HIDDEN == spec.MAX_LAYERS - 1


def test_a_wide_layer_keeps_its_neurons_when_its_activation_changes(qtbot, window):
    s = window.session
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        s.set_hidden((LayerSpec(1000, "tanh"), LayerSpec(4, "tanh")))
    settle(qtbot, window)
    assert s.spec.hidden[0].units == 1000
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        window.network_panel.activation_box(1).setCurrentText("relu")
    settle(qtbot, window)
    assert [(h.units, h.activation) for h in s.spec.hidden] == [(1000, "tanh"), (4, "relu")]
    assert engine_net(qtbot, s).spec == s.spec  # what the engine trains
    box = window.network_panel.neuron_box(0)
    assert box.maximum() == spec.MAX_UNITS and box.value() == 1000


def test_the_layer_list_offers_every_layer_the_spec_allows(qtbot, window):
    s = window.session
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        s.set_hidden(tuple(LayerSpec(2, "tanh") for _ in range(spec.MAX_HIDDEN - 1)))
    settle(qtbot, window)
    assert window.network_panel.add_button.isEnabled()
    with qtbot.waitSignal(s.spec_changed, timeout=10_000):
        window.network_panel.add_button.click()
    settle(qtbot, window)
    assert len(s.spec.hidden) == spec.MAX_HIDDEN and not window.network_panel.add_button.isEnabled()
