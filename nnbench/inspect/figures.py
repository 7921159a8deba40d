"""Plots as data (Qt-free): what each instrument draws, for the PNG writer of the headless
commands (:mod:`nnbench.ui.plot_export`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Series:
    x: np.ndarray
    y: np.ndarray
    name: str = ""
    symbol: str | None = None  # "o" draws points (only, unless joined)
    dashed: bool = False
    joined: bool = False


@dataclass
class Figure:
    title: str
    x_label: str
    y_label: str
    series: list[Series] = field(default_factory=list)
    log_x: bool = False
    log_y: bool = False
    v_lines: list[tuple[float, str]] = field(default_factory=list)  # (x, label)
    h_lines: list[tuple[float, str]] = field(default_factory=list)


def gradcheck_figure(r) -> Figure:
    """Numerical against analytic gradient, every checked weight, one colour per layer."""
    fig = Figure(f"Gradient check: max relative error {r.error:.1e}", "backprop dL/dw",
                 "finite differences dL/dw")
    lo = min(float(min(la.analytic.min(), la.numerical.min())) for la in r.layers)
    hi = max(float(max(la.analytic.max(), la.numerical.max())) for la in r.layers)
    fig.series.append(Series(np.array([lo, hi]), np.array([lo, hi]), "equal", dashed=True))
    for la in r.layers:
        name = f"layer {la.number} ({la.error:.1e})"
        fig.series.append(Series(la.analytic, la.numerical, name, symbol="o"))
    return fig


def lr_figure(r, current: float | None = None) -> Figure:
    fig = Figure("Learning-rate finder (on a copy of the network)", "learning rate", "batch loss",
                 log_x=True)
    fig.series.append(Series(r.lrs, r.losses, "loss", symbol="o"))
    fig.series.append(Series(r.lrs, r.smoothed, "smoothed"))
    if math.isfinite(r.suggested):
        fig.v_lines.append((r.suggested, f"suggested {r.suggested:.3g}"))
    if current:
        fig.v_lines.append((current, f"in use {current:g}"))
    return fig


def power_figure(c) -> Figure:
    fig = Figure(f"Power iteration: lambda_max {c.lambda_max:.4g}, 2/lambda {c.stability_limit:.4g}",
                 "iteration", "Rayleigh quotient")
    fig.series.append(Series(np.arange(1, len(c.estimates) + 1), c.estimates, "lambda estimate"))
    return fig


def curvature_figure(rows: list[dict[str, float]]) -> Figure:
    """The stability limit 2/lambda_max over epochs against the learning rate in use."""
    epochs = np.array([r["epoch"] for r in rows], float)
    fig = Figure("Stability limit over training", "epoch", "learning rate", log_y=True)
    limits = np.array([r["stability_limit"] for r in rows])
    fig.series.append(Series(epochs, limits, "2 / lambda_max", symbol="o", joined=True))
    fig.series.append(Series(epochs, np.array([r["lr"] for r in rows]), "learning rate", dashed=True))
    return fig
