"""Optimizers update parameters in place from their gradients; ``lr`` may change at any time.

Given ``flat=(params, grads)``, two 1-D arrays of which every parameter and gradient is a view in
order (what :class:`Network` keeps), an optimizer updates all parameters in a few whole-array
operations and keeps its state flat too; ``state()`` still names one array per parameter.
"""

from __future__ import annotations

import numpy as np

Flat = tuple[np.ndarray, np.ndarray]


def _is_flat(params: list[tuple[str, np.ndarray, np.ndarray]], flat: Flat | None) -> bool:
    """True when ``flat`` holds exactly the parameters and gradients, in order, with no gaps."""
    if flat is None:
        return False
    offset = 0
    for _, p, g in params:
        for arr, base in ((p, flat[0]), (g, flat[1])):
            if not (arr.flags.c_contiguous and arr.dtype == base.dtype and np.shares_memory(arr, base)):
                return False
            start = base.__array_interface__["data"][0] + offset * base.itemsize
            if arr.__array_interface__["data"][0] != start:
                return False
        offset += p.size
    return offset == flat[0].size == flat[1].size


class Optimizer:
    name = ""

    def __init__(
        self, params: list[tuple[str, np.ndarray, np.ndarray]], lr: float, flat: Flat | None = None
    ) -> None:
        self.params = params
        self.lr = lr
        self.flat = flat if _is_flat(params, flat) else None
        # Working space for lr * g and friends, so a step allocates nothing.
        self._scratch = np.empty_like(self.flat[1]) if self.flat is not None else None

    def _zeros(self) -> tuple[np.ndarray | None, list[np.ndarray]]:
        """A state array per parameter: views of one flat array when the parameters are flat."""
        if self.flat is None:
            return None, [np.zeros_like(p) for _, p, _ in self.params]
        whole = np.zeros_like(self.flat[0])
        views, offset = [], 0
        for _, p, _ in self.params:
            views.append(whole[offset : offset + p.size].reshape(p.shape))
            offset += p.size
        return whole, views

    def step(self) -> None:
        raise NotImplementedError

    def state(self) -> dict[str, np.ndarray]:
        """Arrays needed to continue exactly where training stopped (momenta, moments)."""
        return {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        for key, arr in self.state().items():
            if key in state and state[key].shape == arr.shape:
                arr[...] = state[key]

    def reset(self) -> None:
        for arr in self.state().values():
            arr[...] = 0


class SGD(Optimizer):
    """p -= lr * g"""

    name = "sgd"

    def step(self) -> None:
        lr = self.lr
        if self.flat is not None:
            p, g = self.flat
            np.multiply(g, lr, out=self._scratch)
            p -= self._scratch
            return
        for _, p, g in self.params:
            p -= lr * g


class Momentum(Optimizer):
    """v = mu v - lr g; p += v"""

    name = "momentum"

    def __init__(self, params, lr: float, momentum: float = 0.9, flat: Flat | None = None) -> None:
        super().__init__(params, lr, flat)
        self.momentum = momentum
        self._v, self.v = self._zeros()

    def step(self) -> None:
        if self.flat is not None:
            p, g = self.flat
            v, s = self._v, self._scratch
            v *= self.momentum
            np.multiply(g, self.lr, out=s)
            v -= s
            p += v
            return
        for (_, p, g), v in zip(self.params, self.v):
            v *= self.momentum
            v -= self.lr * g
            p += v

    def state(self) -> dict[str, np.ndarray]:
        return {f"{name}.v": v for (name, _, _), v in zip(self.params, self.v)}


class Adam(Optimizer):
    """m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr m^ / (sqrt(v^) + eps)"""

    name = "adam"

    def __init__(
        self,
        params,
        lr: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        flat: Flat | None = None,
    ) -> None:
        super().__init__(params, lr, flat)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self._m, self.m = self._zeros()
        self._v, self.v = self._zeros()
        self.t = np.zeros(1, dtype=np.int64)

    def step(self) -> None:
        self.t += 1
        t = int(self.t[0])
        b1, b2 = self.beta1, self.beta2
        # Bias corrections folded into the step size, as in the Adam paper's section 2.
        step = self.lr * np.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        if self.flat is not None:
            p, g = self.flat
            m, v, s = self._m, self._v, self._scratch
            m *= b1
            np.multiply(g, 1.0 - b1, out=s)
            m += s
            v *= b2
            np.multiply(g, g, out=s)
            s *= 1.0 - b2
            v += s
            np.sqrt(v, out=s)
            s += self.eps
            np.divide(m, s, out=s)
            s *= step
            p -= s
            return
        for (_, p, g), m, v in zip(self.params, self.m, self.v):
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            p -= step * m / (np.sqrt(v) + self.eps)

    def state(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {"t": self.t}
        for (name, _, _), m, v in zip(self.params, self.m, self.v):
            out[f"{name}.m"] = m
            out[f"{name}.v"] = v
        return out


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Momentum, Adam)}


def make(name: str, params, lr: float, momentum: float = 0.9, flat: Flat | None = None) -> Optimizer:
    if name == "momentum":
        return Momentum(params, lr, momentum, flat=flat)
    try:
        return OPTIMIZERS[name](params, lr, flat=flat)
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}") from None
