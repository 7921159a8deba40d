"""Optimizers update parameters in place from their gradients; ``lr`` may change at any time.

Each follows ``torch.optim`` (the bench compares the engine with PyTorch), with the formula in
its docstring. An optimizer takes a network's :class:`~nnbench.engine.network.Parameters`: it
updates all of them at once through their two flat arrays and keeps its state flat too;
``state()`` still names one array per parameter (what files save).
"""

from __future__ import annotations

import numpy as np

from nnbench.engine.network import Parameters

# Float32 Adam moments of units that stop getting gradient decay geometrically into subnormal
# floats, which the CPU handles up to 100x slower: epochs slowed 4x as ReLU units died. Every
# FLUSH_EVERY steps, moments small enough to turn subnormal before the next flush are set to 0
# (float32 only; float64 follows the formula exactly).
FLUSH_EVERY = 16
# Updates run over pieces of this many numbers, so the working space is small and stays in cache.
CHUNK = 1 << 16


class Optimizer:
    name = ""

    def __init__(self, params: Parameters, lr: float) -> None:
        self.params = params
        self.lr = lr
        p, g = params.flat
        self._scratch = np.empty(min(p.size, CHUNK), p.dtype)  # for lr * g and friends

    def _zeros(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """A state array per parameter, as views of one flat array."""
        whole = np.zeros_like(self.params.flat[0])
        views, offset = [], 0
        for _, p, _ in self.params:
            views.append(whole[offset : offset + p.size].reshape(p.shape))
            offset += p.size
        return whole, views

    def _pieces(self, *flat: np.ndarray) -> list[tuple[np.ndarray, ...]]:
        """The flat arrays cut into matching pieces of at most CHUNK, each with scratch space."""
        n = flat[0].size
        return [(*(arr[i : i + CHUNK] for arr in flat), self._scratch[: min(CHUNK, n - i)])
                for i in range(0, n, CHUNK)]

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
    """p -= lr * g  (torch.optim.SGD)"""

    name = "sgd"

    def __init__(self, params: Parameters, lr: float) -> None:
        super().__init__(params, lr)
        self._work = self._pieces(*params.flat)

    def step(self) -> None:
        lr = self.lr
        for p, g, s in self._work:
            np.multiply(g, lr, out=s)
            p -= s


class Momentum(Optimizer):
    """v = mu * v + g;  p -= lr * v  (torch.optim.SGD with momentum, no dampening)

    The velocity holds gradients, not steps, so a new learning rate applies to all of it at once.
    """

    name = "momentum"

    def __init__(self, params: Parameters, lr: float, momentum: float = 0.9) -> None:
        super().__init__(params, lr)
        self.momentum = momentum
        self._v, self.v = self._zeros()
        self._work = self._pieces(*params.flat, self._v)

    def step(self) -> None:
        mu, lr = self.momentum, self.lr
        for p, g, v, s in self._work:
            v *= mu
            v += g
            np.multiply(v, lr, out=s)
            p -= s

    def state(self) -> dict[str, np.ndarray]:
        return {f"{name}.velocity": v for (name, _, _), v in zip(self.params, self.v, strict=True)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        # Older files kept Keras's velocity v' = mu v' - lr g under ".v": that is -lr v.
        state = dict(state)
        for name, _, _ in self.params:
            old = state.get(f"{name}.v")
            if f"{name}.velocity" not in state and old is not None:
                state[f"{name}.velocity"] = old / -self.lr
        super().load_state(state)


def adam_scale(lr, t: int, b1: float, b2: float, eps: float):
    """(1 / c, e) of step ``t``: lr m^ / (sqrt(v^) + eps) = m / (sqrt(v) / c + e) with
    c = lr sqrt(1 - b2^t) / (1 - b1^t) and e = eps (1 - b1^t) / lr, the bias corrections folded
    into two numbers (``lr`` may be an array, one rate per row, as the stacked trainer has)."""
    c = lr * np.sqrt(1.0 - b2**t) / (1.0 - b1**t)
    return 1.0 / c, eps * (1.0 - b1**t) / lr


def adam_update(p, g, m, v, s, b1: float, b2: float, inv_c, e, flush_below: float | None = None) -> None:
    """One Adam step in place on parameters ``p`` with gradients ``g``, moments ``m`` and ``v``
    and scratch ``s`` (all one shape); moments under ``flush_below`` become 0 (float32)."""
    m *= b1
    np.multiply(g, 1.0 - b1, out=s)
    m += s
    v *= b2
    np.multiply(g, g, out=s)
    s *= 1.0 - b2
    v += s
    np.sqrt(v, out=s)
    s *= inv_c
    s += e
    np.divide(m, s, out=s)
    p -= s
    if flush_below is not None:
        for arr in (m, v):
            np.abs(arr, out=s)
            np.copyto(arr, 0.0, where=s < flush_below)


class Adam(Optimizer):
    """m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr m^ / (sqrt(v^) + eps)  (torch.optim.Adam)

    with the bias corrections m^ = m / (1 - b1^t) and v^ = v / (1 - b2^t): eps is added to
    sqrt(v^), as PyTorch does (Keras adds it to sqrt(v), which takes larger first steps when
    gradients are tiny).
    """

    name = "adam"

    def __init__(self, params: Parameters, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self._m, self.m = self._zeros()
        self._v, self.v = self._zeros()
        self.t = np.zeros(1, dtype=np.int64)
        self._work = self._pieces(*params.flat, self._m, self._v)
        self._flush = None
        if self._m.dtype == np.float32:
            # Below this a moment would decay into subnormals within FLUSH_EVERY steps.
            self._flush = float(np.finfo(np.float32).tiny) / min(beta1, beta2) ** FLUSH_EVERY

    def step(self) -> None:
        self.t += 1
        t = int(self.t[0])
        inv_c, e = adam_scale(self.lr, t, self.beta1, self.beta2, self.eps)
        flush = self._flush if self._flush is not None and t % FLUSH_EVERY == 0 else None
        for p, g, m, v, s in self._work:
            adam_update(p, g, m, v, s, self.beta1, self.beta2, inv_c, e, flush)

    def state(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {"t": self.t}
        for (name, _, _), m, v in zip(self.params, self.m, self.v, strict=True):
            out[f"{name}.m"] = m
            out[f"{name}.v"] = v
        return out


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, Momentum, Adam)}


def make(name: str, params: Parameters, lr: float, momentum: float = 0.9) -> Optimizer:
    if name == "momentum":
        return Momentum(params, lr, momentum)
    try:
        return OPTIMIZERS[name](params, lr)
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}") from None
