"""Synthetic datasets in TensorFlow Playground's style: 2-D points in [-6, 6]^2 and 1-D curves.

Every generator is deterministic for a seed: points are drawn class by class from
``np.random.default_rng(seed)``, then shuffled and split with the same generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnbench.data.arrays import check_split_params, class_targets, shuffle_split
from nnbench.data.dataset import Dataset, Task
from nnbench.errors import SpecError, quote

LIMIT = 6.0  # the plane is [-LIMIT, LIMIT]^2, as in TensorFlow Playground
SHIFT = 3.0  # noise 0.1 moves a point by sd 0.3: visible, still separable; 0.5 is heavy
MAX_N = 1_000_000

Points = tuple[np.ndarray, np.ndarray]  # (x, y): labels for classification, values for regression


@dataclass(frozen=True)
class GeneratorInfo:
    """What the UI shows for one generator and the parameters it accepts, with defaults."""

    title: str
    task: Task
    n_classes: int  # 2 binary, k one-hot, 0 regression
    n_features: int
    defaults: dict[str, Any] = field(default_factory=dict)


def _sizes(n: int, k: int) -> list[int]:
    """Class sizes that differ by at most one, so every set is balanced."""
    return [n // k + (1 if j < n % k else 0) for j in range(k)]


def _labels(sizes: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(sizes)), sizes)


def _jitter(points: np.ndarray, sd: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(points + rng.normal(0.0, sd, points.shape), -LIMIT, LIMIT)


def _polar(r: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.column_stack([r * np.cos(t), r * np.sin(t)])


def _circle(n: int, noise: float, rng: np.random.Generator) -> Points:
    inner, outer = _sizes(n, 2)[::-1]
    # class 1 is the disc of radius 2.5, class 0 the ring from 3.5 to 5
    r = np.concatenate([rng.uniform(3.5, 5.0, outer), rng.uniform(0.0, 2.5, inner)])
    t = rng.uniform(0.0, 2 * math.pi, n)
    return _jitter(_polar(r, t), noise * SHIFT, rng), _labels([outer, inner])


def _xor(n: int, noise: float, rng: np.random.Generator) -> Points:
    sizes = _sizes(n, 2)
    parts = []
    for label, size in enumerate(sizes):
        # class 1 in quadrants 1 and 3 (x1 * x2 > 0); 0.3 keeps points off the axes
        mag = rng.uniform(0.3, 5.0, (size, 2))
        sx = rng.choice([-1.0, 1.0], size)
        sy = sx if label == 1 else -sx
        parts.append(mag * np.column_stack([sx, sy]))
    return _jitter(np.concatenate(parts), noise * SHIFT, rng), _labels(sizes)


def _blob_points(sizes: list[int], centres: np.ndarray, noise: float, rng: np.random.Generator) -> Points:
    sd = 0.5 + 5.0 * noise  # noise widens the clusters until they overlap
    parts = [rng.normal(centres[j], sd, (size, 2)) for j, size in enumerate(sizes)]
    return np.clip(np.concatenate(parts), -LIMIT, LIMIT), _labels(sizes)


def _gaussians(n: int, noise: float, rng: np.random.Generator) -> Points:
    return _blob_points(_sizes(n, 2), np.array([[-2.0, -2.0], [2.0, 2.0]]), noise, rng)


def _blobs(n: int, noise: float, rng: np.random.Generator, classes: int = 3) -> Points:
    angles = 2 * math.pi * np.arange(classes) / classes + math.pi / 2
    return _blob_points(_sizes(n, classes), _polar(np.full(classes, 3.5), angles), noise, rng)


def _arms(n: int, k: int, noise: float, rng: np.random.Generator) -> Points:
    sizes = _sizes(n, k)
    parts = []
    for j, size in enumerate(sizes):
        s = np.arange(size) / max(size, 1)
        # out to radius 5 in 1.75 turns for two arms (Playground's spiral); more arms turn
        # less, so neighbouring arms stay as far apart as in the two-arm spiral
        turns = 3.5 / k
        parts.append(_polar(5.0 * s, turns * 2 * math.pi * s + 2 * math.pi * j / k))
    return _jitter(np.concatenate(parts), noise * SHIFT, rng), _labels(sizes)


def _spiral(n: int, noise: float, rng: np.random.Generator) -> Points:
    return _arms(n, 2, noise, rng)


def _spiral3(n: int, noise: float, rng: np.random.Generator) -> Points:
    return _arms(n, 3, noise, rng)


def _moons(n: int, noise: float, rng: np.random.Generator) -> Points:
    upper, lower = _sizes(n, 2)
    t0, t1 = rng.uniform(0, math.pi, upper), rng.uniform(0, math.pi, lower)
    a = np.column_stack([np.cos(t0), np.sin(t0)])
    b = np.column_stack([1 - np.cos(t1), 0.5 - np.sin(t1)])
    # scikit-learn's moons, centred on the origin and scaled to fill the plane
    points = (np.concatenate([a, b]) - [0.5, 0.25]) * 3.0
    return _jitter(points, noise * SHIFT, rng), _labels([upper, lower])


def _curve(f: Callable[[np.ndarray], np.ndarray]) -> Callable[..., Points]:
    def make(n: int, noise: float, rng: np.random.Generator) -> Points:
        x = rng.uniform(-1.0, 1.0, (n, 1))
        return x, f(x) + rng.normal(0.0, noise, (n, 1))

    return make


def _surface(f: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., Points]:
    def make(n: int, noise: float, rng: np.random.Generator) -> Points:
        x = rng.uniform(-LIMIT, LIMIT, (n, 2))
        y = f(x[:, 0], x[:, 1]).reshape(-1, 1)
        return x, y + rng.normal(0.0, noise, (n, 1))

    return make


# Playground's "reg-gauss": signed bumps on a 3x2 grid
_BUMPS = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]


def _gaussian_mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    bumps = [s * np.exp(-((a - cx) ** 2 + (b - cy) ** 2) / (2 * 1.2**2)) for cx, cy, s in _BUMPS]
    out: np.ndarray = np.sum(bumps, axis=0)
    return out


_MAKERS: dict[str, Callable[..., Points]] = {
    "circle": _circle,
    "xor": _xor,
    "gaussians": _gaussians,
    "spiral": _spiral,
    "moons": _moons,
    "blobs": _blobs,
    "spiral3": _spiral3,
    "line": _curve(lambda x: 0.8 * x + 0.1),
    "quadratic": _curve(lambda x: 2 * x**2 - 1),
    "sine": _curve(lambda x: np.sin(math.pi * x)),
    "abs": _curve(lambda x: 2 * np.abs(x) - 1),
    "step": _curve(lambda x: np.where(x > 0, 1.0, -1.0)),
    "plane": _surface(lambda a, b: (a + b) / 12),
    "gaussian-mix": _surface(_gaussian_mix),
}

_BASE = {"n": 200, "noise": 0.1, "test_fraction": 0.5, "seed": 0}


def _info(title: str, task: Task, n_classes: int, n_features: int, **extra: Any) -> GeneratorInfo:
    return GeneratorInfo(title, task, n_classes, n_features, {**_BASE, **extra})


GENERATORS: dict[str, GeneratorInfo] = {
    "circle": _info("Circle", "classification", 2, 2),
    "xor": _info("Exclusive or", "classification", 2, 2),
    "gaussians": _info("Two Gaussians", "classification", 2, 2),
    "spiral": _info("Spiral", "classification", 2, 2),
    "moons": _info("Two moons", "classification", 2, 2),
    "blobs": _info("Blobs", "classification", 3, 2, classes=3),
    "spiral3": _info("Three-arm spiral", "classification", 3, 2),
    "line": _info("Line", "regression", 0, 1),
    "quadratic": _info("Quadratic", "regression", 0, 1),
    "sine": _info("Sine", "regression", 0, 1),
    "abs": _info("Absolute value", "regression", 0, 1),
    "step": _info("Step", "regression", 0, 1),
    "plane": _info("Plane", "regression", 0, 2),
    "gaussian-mix": _info("Gaussian mixture", "regression", 0, 2),
}


def _check(name: str, n: int, noise: float, extra: dict[str, Any]) -> GeneratorInfo:
    if name not in GENERATORS:
        raise SpecError(f"unknown generator {quote(name)}; choose one of {', '.join(GENERATORS)}")
    info = GENERATORS[name]
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 4 <= n <= MAX_N:
        raise SpecError(f"{name}: number of points must be a whole number from 4 to {MAX_N:,}, "
                        f"got {quote(n)}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise < math.inf:
        raise SpecError(f"{name}: noise must be a number >= 0, got {quote(noise)}")
    unknown = set(extra) - set(info.defaults)
    if unknown:
        raise SpecError(f"{name}: unknown parameter(s) {', '.join(sorted(unknown))}")
    classes = extra.get("classes", 3)
    if "classes" in info.defaults and (
        isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or not 2 <= classes <= 10
    ):
        raise SpecError(f"{name}: classes must be a whole number from 2 to 10, got {quote(classes)}")
    if "classes" in info.defaults and n < 2 * classes:
        raise SpecError(f"{name}: {n} points are too few for {classes} classes (need {2 * classes})")
    return info


def generate(
    name: str,
    n: int = 200,
    noise: float = 0.1,
    test_fraction: float = 0.5,
    seed: int = 0,
    **extra: Any,
) -> Dataset:
    """Draw ``n`` points from generator ``name`` (see ``GENERATORS``), shuffle, split off the test set."""
    info = _check(name, n, noise, extra)
    check_split_params(test_fraction, seed)
    params = {k: v for k, v in info.defaults.items() if k not in _BASE}
    params.update({k: int(v) for k, v in extra.items()})  # the only extra is a count
    rng = np.random.default_rng(int(seed))
    x, y = _MAKERS[name](int(n), float(noise), rng, **params)
    n_classes = int(params.get("classes", info.n_classes))
    if info.task == "classification":
        y = class_targets(y, n_classes)
        target_names = tuple(str(k) for k in range(n_classes))
    else:
        target_names = ("y",)
    x_train, y_train, x_test, y_test = shuffle_split(x.astype(np.float64), y, test_fraction, rng)
    source = {
        "kind": "generator",
        "name": name,
        "n": int(n),
        "noise": float(noise),
        "test_fraction": float(test_fraction),
        "seed": int(seed),
        **params,
    }
    return Dataset(
        name=name,
        task=info.task,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        feature_names=("x1", "x2") if info.n_features == 2 else ("x",),
        target_names=target_names,
        source=source,
    )
