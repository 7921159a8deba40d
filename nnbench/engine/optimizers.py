"""Optimizers update parameters in place from their gradients; ``lr`` may change at any time."""

from __future__ import annotations

import numpy as np


class Optimizer:
    name = ""

    def __init__(self, params: list[tuple[str, np.ndarray, np.ndarray]], lr: float) -> None:
        self.params = params
        self.lr = lr

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
        for _, p, g in self.params:
            p -= lr * g


class Momentum(Optimizer):
    """v = mu v - lr g; p += v"""

    name = "momentum"

    def __init__(self, params, lr: float, momentum: float = 0.9) -> None:
        super().__init__(params, lr)
        self.momentum = momentum
        self.v = [np.zeros_like(p) for _, p, _ in params]

    def step(self) -> None:
        for (_, p, g), v in zip(self.params, self.v):
            v *= self.momentum
            v -= self.lr * g
            p += v

    def state(self) -> dict[str, np.ndarray]:
        return {f"{name}.v": v for (name, _, _), v in zip(self.params, self.v)}


class Adam(Optimizer):
    """m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr m^ / (sqrt(v^) + eps)"""

    name = "adam"

    def __init__(self, params, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m = [np.zeros_like(p) for _, p, _ in params]
        self.v = [np.zeros_like(p) for _, p, _ in params]
        self.t = np.zeros(1, dtype=np.int64)

    def step(self) -> None:
        self.t += 1
        t = int(self.t[0])
        b1, b2 = self.beta1, self.beta2
        # Bias corrections folded into the step size, as in the Adam paper's section 2.
        step = self.lr * np.sqrt(1.0 - b2**t) / (1.0 - b1**t)
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


def make(name: str, params, lr: float, momentum: float = 0.9) -> Optimizer:
    if name == "momentum":
        return Momentum(params, lr, momentum)
    try:
        return OPTIMIZERS[name](params, lr)
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}") from None
