"""The loss landscape: the loss along the line from one weight vector to another (1-D), and
over a plane through the current weights (2-D).

The plane's directions are random and *filter-normalised* as in Li et al., "Visualizing the
Loss Landscape of Neural Nets" (2018): each neuron's incoming weights in a direction are scaled
to the norm of that neuron's weights, and biases get no direction, so the picture does not
depend on how large the weights happen to be. A path of weight vectors (taken while training)
is drawn on a plane of its own first two principal directions (PCA), where it shows; on random
directions a path would only show its small projection on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnbench.engine import Network, losses
from nnbench.inspect import Progress, tick, work_copy


class Evaluator:
    """The loss of a float64 copy of a network on fixed rows, at any flat weight vector."""

    def __init__(self, net: Network, loss_name: str, x: np.ndarray, y: np.ndarray) -> None:
        self.net = work_copy(net)
        self.loss = losses.get(loss_name)
        self.x, self.y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        self.center = self.net.flat_params.copy()

    def __call__(self, w: np.ndarray) -> float:
        self.net.flat_params[...] = w
        value = self.net.loss(self.x, self.y, self.loss)[0]
        return float(value) if np.isfinite(value) else np.nan


@dataclass(frozen=True, eq=False)
class Line:
    alphas: np.ndarray  # 0 at the start, 1 at the end
    losses: np.ndarray


@dataclass(frozen=True, eq=False)
class Plane:
    alphas: np.ndarray  # coordinates along d1
    betas: np.ndarray  # along d2
    losses: np.ndarray  # (len(betas), len(alphas)): rows follow d2
    d1: np.ndarray
    d2: np.ndarray
    kind: str  # "random" or "pca"
    path: np.ndarray | None = None  # (k, 2) coordinates of the path on the plane
    explained: tuple[float, float] | None = None  # the share of the path's variance on d1, d2


def line(f: Evaluator, start: np.ndarray, end: np.ndarray, *, points: int = 41, beyond: float = 0.25,
         progress: Progress | None = None) -> Line:
    """The loss at ``start + alpha (end - start)`` for alpha from ``-beyond`` to ``1 + beyond``."""
    alphas = np.linspace(-beyond, 1 + beyond, points)
    out = np.empty(points)
    for i, a in enumerate(alphas):
        out[i] = f(start + a * (end - start))
        tick(progress, i + 1, points)
    return Line(alphas, out)


def filter_normalized(net: Network, rng: np.random.Generator) -> np.ndarray:
    """A random direction of the network's flat weights, each neuron's incoming weights scaled
    to the norm of that neuron's own weights; zero on the biases (Li et al. 2018)."""
    parts = []
    for _, p, _ in net.params_and_grads():
        if p.ndim == 2:
            d = rng.standard_normal(p.shape)
            # A neuron's filter is its column of W: the weights coming into it.
            scale = np.linalg.norm(p, axis=0) / np.maximum(np.linalg.norm(d, axis=0), 1e-12)
            parts.append((d * scale).ravel())
        else:
            parts.append(np.zeros(p.size))
    return np.concatenate(parts)


def pca_directions(path: np.ndarray, center: np.ndarray,
                   ) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """The first two principal directions of ``path - center`` (rows are weight vectors), and the
    share of the path's variance each holds."""
    m = np.asarray(path, dtype=np.float64) - center
    _, s, vt = np.linalg.svd(m, full_matrices=False)
    var = s * s
    total = float(var.sum()) or 1.0
    d2 = vt[1] if len(vt) > 1 else np.zeros_like(vt[0])
    return vt[0], d2, (float(var[0] / total), float(var[1] / total) if len(var) > 1 else 0.0)


def project(path: np.ndarray, center: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """Coordinates (alpha, beta) of each weight vector on the plane center + alpha d1 + beta d2,
    by least squares (the directions need not be orthogonal)."""
    basis = np.column_stack([d1, d2])
    coords, *_ = np.linalg.lstsq(basis, (np.asarray(path) - center).T, rcond=None)
    return coords.T


def plane(f: Evaluator, d1: np.ndarray, d2: np.ndarray, *,
          span: float | tuple[float, float, float, float] = 1.0,
          points: int = 21, kind: str = "random", path: np.ndarray | None = None,
          explained: tuple[float, float] | None = None, progress: Progress | None = None) -> Plane:
    """The loss over ``center + alpha d1 + beta d2``; ``span`` s gives alpha, beta in [-s, s]
    (or a box ``(a0, a1, b0, b1)``)."""
    a0, a1, b0, b1 = (-span, span, -span, span) if np.isscalar(span) else span
    alphas, betas = np.linspace(a0, a1, points), np.linspace(b0, b1, points)
    out = np.empty((points, points))
    for r, b in enumerate(betas):
        for c, a in enumerate(alphas):
            out[r, c] = f(f.center + a * d1 + b * d2)
        tick(progress, r + 1, points)
    coords = project(path, f.center, d1, d2) if path is not None and len(path) else None
    return Plane(alphas, betas, out, d1, d2, kind, coords, explained)


def random_plane(f: Evaluator, *, seed: int = 0, span: float = 1.0, points: int = 21,
                 path: np.ndarray | None = None, progress: Progress | None = None) -> Plane:
    rng = np.random.default_rng(seed)
    d1, d2 = filter_normalized(f.net, rng), filter_normalized(f.net, rng)
    f.net.flat_params[...] = f.center
    return plane(f, d1, d2, span=span, points=points, kind="random", path=path, progress=progress)


def path_plane(f: Evaluator, path: np.ndarray, *, points: int = 21, margin: float = 0.3,
               progress: Progress | None = None) -> Plane:
    """The plane of the path's first two principal directions through the current weights, wide
    enough to hold the whole path."""
    d1, d2, explained = pca_directions(path, f.center)
    coords = project(path, f.center, d1, d2)
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    pad = margin * np.maximum(hi - lo, 1e-3)
    box = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    return plane(f, d1, d2, span=box, points=points, kind="pca", path=path, explained=explained,
                 progress=progress)
