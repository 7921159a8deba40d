"""Curvature of the loss: the top eigenvalue of its Hessian, and the step size it allows.

Gradient descent on a quadratic with curvature lambda converges for ``lr < 2 / lambda`` and
oscillates with growing swings beyond it, so ``2 / lambda_max`` is the learning rate above which
plain gradient descent must diverge near the current weights. lambda_max comes from power
iteration on Hessian-vector products, each a central difference of two backprop gradients
(``Hv ~ (g(w + eps v) - g(w - eps v)) / 2 eps``) on a float64 copy; for tiny nets the whole
Hessian can be formed and its eigenvalues taken densely, as a check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nnbench.engine import Network, losses
from nnbench.errors import SpecError
from nnbench.inspect import Progress, tick, work_copy

EPS = 1e-5
DENSE_LIMIT = 2000  # parameters: the dense Hessian is n x n floats and 2n gradients


class LossFunction:
    """The training objective of a float64 copy of a network on fixed rows, as a function of the
    flat weight vector: value, gradient, Hessian-vector product. ``l2`` adds ``l2 * |W|^2 / 2``
    on the weights (not the biases), as the trainer's L2 penalty does."""

    def __init__(self, net: Network, loss_name: str, x: np.ndarray, y: np.ndarray, l2: float = 0.0) -> None:
        self.net = work_copy(net)
        self.loss = losses.get(loss_name)
        self.x, self.y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        self.w0 = self.net.flat_params.copy()
        self.l2 = float(l2)
        mask = np.zeros_like(self.w0)
        offset = 0
        for name, p, _ in self.net.params_and_grads():
            if name.endswith(".W"):
                mask[offset:offset + p.size] = 1.0
            offset += p.size
        self.weight_mask = mask
        self.evaluations = 0

    @property
    def size(self) -> int:
        return self.w0.size

    def value(self, w: np.ndarray) -> float:
        self.net.flat_params[...] = w
        value = self.net.loss(self.x, self.y, self.loss)[0]
        if self.l2:
            value += 0.5 * self.l2 * float(np.sum(self.weight_mask * w * w))
        return float(value)

    def gradient(self, w: np.ndarray) -> np.ndarray:
        self.net.flat_params[...] = w
        self.net.loss_and_backward(self.x, self.y, self.loss)
        self.evaluations += 1
        g = self.net.flat_grads.copy()
        if self.l2:
            g += self.l2 * self.weight_mask * w
        return g

    def hvp(self, v: np.ndarray, w: np.ndarray | None = None, eps: float = EPS) -> np.ndarray:
        """H v at ``w`` (default: the network's weights) by a central difference of gradients."""
        w = self.w0 if w is None else w
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            return np.zeros_like(v)
        step = eps / norm
        return (self.gradient(w + step * v) - self.gradient(w - step * v)) / (2 * step)


@dataclass(frozen=True, eq=False)
class Curvature:
    lambda_max: float
    iterations: int
    converged: bool
    estimates: np.ndarray  # lambda after each iteration
    vector: np.ndarray  # the eigenvector (unit length)
    method: str

    @property
    def stability_limit(self) -> float:
        """2 / lambda_max: the largest rate plain gradient descent stays stable at here."""
        return stability_limit(self.lambda_max)


def stability_limit(lambda_max: float) -> float:
    return 2.0 / lambda_max if lambda_max > 0 else math.inf


def _power(matvec, v: np.ndarray, iters: int, tol: float, progress: Progress | None, shift: float = 0.0,
           done0: int = 0, total: int = 0) -> tuple[float, np.ndarray, int, bool, list[float]]:
    v = v / np.linalg.norm(v)
    lam, estimates = 0.0, []
    for k in range(1, iters + 1):
        w = matvec(v) - shift * v
        new = float(v @ w)  # the Rayleigh quotient of the unit vector v
        norm = float(np.linalg.norm(w))
        estimates.append(new + shift)
        tick(progress, done0 + k, total or iters)
        if norm == 0.0:
            return new, v, k, True, estimates
        v = w / norm
        if k > 1 and abs(new - lam) <= tol * max(abs(new), 1e-12):
            return new, v, k, True, estimates
        lam = new
    return lam, v, iters, False, estimates


def top_eigenvalue(f: LossFunction, *, iters: int = 100, tol: float = 1e-6, seed: int = 0,
                   progress: Progress | None = None) -> Curvature:
    """The largest eigenvalue of the Hessian at the copy's weights by power iteration on
    Hessian-vector products. Power iteration finds the eigenvalue largest in size; when that
    one is negative (a saddle), a second run on H - lambda I finds the top one."""
    rng = np.random.default_rng(seed)
    v0 = rng.standard_normal(f.size)
    lam, v, k, ok, est = _power(f.hvp, v0, iters, tol, progress, total=2 * iters)
    if lam < 0:
        mu, v, k2, ok, est2 = _power(f.hvp, rng.standard_normal(f.size), iters, tol, progress, shift=lam,
                                     done0=k, total=2 * iters)
        lam, k, est = mu + lam, k + k2, est + est2
    tick(progress, 2 * iters, 2 * iters)
    return Curvature(lam, k, ok, np.array(est), v, "power iteration on Hessian-vector products")


def dense_hessian(f: LossFunction, progress: Progress | None = None) -> np.ndarray:
    """The full Hessian, one column per parameter from a central difference of gradients,
    symmetrised (tiny nets only)."""
    n = f.size
    if n > DENSE_LIMIT:
        raise SpecError(f"the dense Hessian is for networks of at most {DENSE_LIMIT} weights; this one "
                        f"has {n}")
    H = np.empty((n, n))
    e = np.zeros(n)
    for j in range(n):
        e[j] = 1.0
        H[:, j] = f.hvp(e)
        e[j] = 0.0
        tick(progress, j + 1, n)
    return 0.5 * (H + H.T)


def hessian_from_values(f: LossFunction, h: float = 1e-4) -> np.ndarray:
    """The full Hessian from second differences of the loss value alone (no backprop at all):
    an independent check of the Hessian-vector products, for nets of a few hundred weights."""
    n, w = f.size, f.w0.copy()
    H = np.empty((n, n))
    f0 = f.value(w)
    e = np.eye(n) * h
    plus = np.array([f.value(w + e[i]) for i in range(n)])
    minus = np.array([f.value(w - e[i]) for i in range(n)])
    for i in range(n):
        H[i, i] = (plus[i] - 2 * f0 + minus[i]) / (h * h)
        for j in range(i + 1, n):
            pp = f.value(w + e[i] + e[j])
            pm = f.value(w + e[i] - e[j])
            mp = f.value(w - e[i] + e[j])
            mm = f.value(w - e[i] - e[j])
            H[i, j] = H[j, i] = (pp - pm - mp + mm) / (4 * h * h)
    return H


def dense_top_eigenvalue(f: LossFunction, progress: Progress | None = None) -> Curvature:
    H = dense_hessian(f, progress)
    vals, vecs = np.linalg.eigh(H)
    return Curvature(float(vals[-1]), f.size, True, np.array([vals[-1]]), vecs[:, -1],
                     "dense Hessian (every column), numpy eigh")
