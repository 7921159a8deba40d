"""Training: a :class:`Trainer` owns a network, its optimizer, the data and the history.

``Trainer.steps()`` is the training loop as a plain generator: it yields after every batch, so
a caller (the CLI, a test, the GUI's worker thread) decides when to pause, step or stop, and
takes :meth:`Trainer.snapshot` whenever it wants to draw.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from nnbench.engine import losses, optimizers
from nnbench.engine.network import Network
from nnbench.errors import IncompatibleError, SpecError, TrainingDiverged, quote

GRADIENTS = ("backprop", "numerical")
# Weight penalties, as in TensorFlow Playground: on the weights, not the biases. The objective
# is the data loss plus rate * sum|W| (l1) or rate * sum(W^2) / 2 (l2); the loss curves show
# the data loss alone, so runs with and without a penalty compare.
REGULARIZATIONS = ("none", "l1", "l2")
# Numerical gradients are taken on a float64 copy of the network with this step (the
# from-scratch tutorial's h): float32 central differences would be mostly rounding noise.
NUMERICAL_H = 1e-4
# A training set whose network-ready floats fit in this many bytes is converted once, not per batch.
FEATURE_CACHE_BYTES = 64 << 20


@dataclass(frozen=True)
class TrainConfig:
    """Everything about *how* to train; ``batch_size`` 0 means the whole training set."""

    loss: str = "bce"
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    batch_size: int = 0
    epochs: int = 1000
    seed: int = 0
    shuffle: bool = True
    # "numerical": central differences instead of backprop (two forward passes per parameter)
    gradients: str = "backprop"
    regularization: str = "none"
    reg_rate: float = 0.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.loss not in losses.LOSSES:
            raise SpecError(f"unknown loss {quote(self.loss)}; known: {', '.join(losses.LOSSES)}")
        if self.optimizer not in optimizers.OPTIMIZERS:
            raise SpecError(f"unknown optimizer {quote(self.optimizer)}; "
                            f"known: {', '.join(optimizers.OPTIMIZERS)}")
        check_lr(self.lr)
        if not isinstance(self.momentum, (int, float)) or not 0.0 <= self.momentum < 1.0:
            raise SpecError(f"momentum must be in [0, 1), got {quote(self.momentum)}")
        if not isinstance(self.batch_size, int) or self.batch_size < 0:
            raise SpecError("batch size must be a whole number >= 1 (or 0 for the whole set), "
                            f"got {quote(self.batch_size)}")
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise SpecError(f"epochs must be a whole number >= 0, got {self.epochs}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise SpecError(f"the seed must be a whole number >= 0, got {self.seed}")
        if self.gradients not in GRADIENTS:
            raise SpecError(f"gradients must be one of {', '.join(GRADIENTS)}, got {quote(self.gradients)}")
        if self.regularization not in REGULARIZATIONS:
            raise SpecError(f"regularization must be one of {', '.join(REGULARIZATIONS)}, "
                            f"got {quote(self.regularization)}")
        rate = self.reg_rate
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not math.isfinite(rate) \
                or not 0.0 <= rate <= 10.0:
            raise SpecError(f"the regularization rate must be a number from 0 to 10, got {quote(rate)}")

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        if self.regularization == "none" and self.reg_rate == 0.0:
            del d["regularization"], d["reg_rate"]  # files without a penalty open in older nnbench too
        return d

    @classmethod
    def from_dict(cls, d: Any) -> TrainConfig:
        if not isinstance(d, dict):
            raise SpecError(f"training settings must be a mapping, got {type(d).__name__}")
        fields = cls.__dataclass_fields__
        unknown = sorted(set(d) - set(fields))
        if unknown:
            raise SpecError(f"unknown training settings: {', '.join(unknown)}")
        kinds = {"loss": str, "optimizer": str, "lr": (int, float), "momentum": (int, float),
                 "batch_size": int, "epochs": int, "seed": int, "shuffle": bool,
                 "gradients": str, "regularization": str, "reg_rate": (int, float)}
        for key, value in d.items():
            if not isinstance(value, kinds[key]) or (isinstance(value, bool) and kinds[key] is not bool):
                raise SpecError(f"training setting {key!r} has the wrong type: {quote(value)}")
            if kinds[key] == (int, float) and isinstance(value, int) and not -(2**53) <= value <= 2**53:
                # no rate is that large, and math.isfinite would raise OverflowError on it
                raise SpecError(f"training setting {key!r} is far out of range: {quote(value)}")
        return cls(**d)

    def replace(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)


def check_lr(lr: float) -> float:
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not math.isfinite(lr) or lr <= 0:
        raise SpecError(f"the learning rate must be a number > 0, got {quote(lr)}")
    if lr > 1e4:
        raise SpecError(f"a learning rate of {lr:g} is far too large (at most 10000)")
    return float(lr)


class Step(NamedTuple):
    """What :meth:`Trainer.steps` yields after each batch."""

    epoch: int  # epochs completed so far
    step: int  # batches done in total
    loss: float  # this batch's loss (before its update)
    epoch_end: bool  # this batch finished an epoch; the history has a new row


# A batch loss this many times the best epoch loss so far counts as divergence: by then the
# weights are astronomically large even when the loss is still finite.
EXPLODED = 1e6

HISTORY_KEYS = ("epoch", "train_loss", "test_loss", "train_acc", "test_acc")


class History:
    """Append-only per-epoch metrics in growing arrays.

    A snapshot hands out ``column[:n]`` views without copying: rows below ``n`` are never
    written again, so the views stay valid while training goes on.
    """

    def __init__(self) -> None:
        self._data = np.full((len(HISTORY_KEYS), 256), np.nan)
        self.n = 0

    def append(self, **row: float) -> None:
        if self.n == self._data.shape[1]:
            grown = np.full((len(HISTORY_KEYS), 2 * self.n), np.nan)
            grown[:, : self.n] = self._data
            self._data = grown
        for i, key in enumerate(HISTORY_KEYS):
            self._data[i, self.n] = row.get(key, np.nan)
        self.n += 1

    def column(self, key: str) -> np.ndarray:
        return self._data[HISTORY_KEYS.index(key), : self.n]

    def to_dict(self) -> dict[str, np.ndarray]:
        return {key: self.column(key).copy() for key in HISTORY_KEYS}

    @classmethod
    def from_dict(cls, d: dict[str, np.ndarray]) -> History:
        h = cls()
        n = len(d["epoch"])
        for i in range(n):
            h.append(**{key: float(d[key][i]) for key in HISTORY_KEYS if key in d})
        return h

    def last(self, key: str) -> float:
        return float(self._data[HISTORY_KEYS.index(key), self.n - 1]) if self.n else math.nan


@dataclass(frozen=True)
class Snapshot:
    """An immutable picture of training for a view: copies, never the live weights."""

    epoch: int
    step: int
    lr: float
    weights: dict[str, np.ndarray]
    history: dict[str, np.ndarray]
    last_loss: float


def accuracy(out: np.ndarray, y: np.ndarray) -> float:
    """Share of rows whose predicted class matches: threshold 0.5 for one output, argmax else."""
    if y.shape[1] == 1:
        return float(np.mean((out[:, 0] > 0.5) == (y[:, 0] > 0.5)))
    return float(np.mean(np.argmax(out, axis=1) == np.argmax(y, axis=1)))


class Trainer:
    def __init__(
        self,
        net: Network,
        config: TrainConfig,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_test: np.ndarray | None = None,
        y_test: np.ndarray | None = None,
        *,
        x_scale: float = 1.0,
        classification: bool | None = None,
    ) -> None:
        self.net = net
        self.config = config
        self.loss = losses.get(config.loss)
        self.rng = np.random.default_rng(config.seed)
        self.optimizer = optimizers.make(
            config.optimizer, list(net.params_and_grads()), config.lr, config.momentum,
            flat=(net.flat_params, net.flat_grads),
        )
        self.x_train, self.y_train = x_train, y_train.astype(net.dtype, copy=False)
        same = x_test is None or x_test is x_train
        self.x_test = None if same else x_test
        self.y_test = None if same or y_test is None else y_test.astype(net.dtype, copy=False)
        self.x_scale = x_scale
        if classification is None:
            classification = config.loss in ("bce", "cross_entropy")
        self.classification = classification
        if len(x_train) == 0:
            raise SpecError("the training set is empty")
        if x_train.shape[1] != net.n_inputs or y_train.shape[1] != net.n_outputs:
            raise IncompatibleError(
                f"the network is {net.n_inputs} in / {net.n_outputs} out, the data "
                f"{x_train.shape[1]} in / {y_train.shape[1]} out"
            )
        self.epoch = 0
        self.step_count = 0
        self.history = History()
        # Weights at the start of this epoch, and at the start of the epoch with the lowest loss:
        # what divergence falls back to.
        self._epoch_start = net.flat_params.copy()
        self._best = net.flat_params.copy()
        self._best_loss = math.inf
        self._best_epoch = 0
        # Class of every training row, once, so a batch's accuracy is one comparison.
        self._labels = None
        if self.classification:
            y = self.y_train
            self._labels = y[:, 0] > 0.5 if y.shape[1] == 1 else np.argmax(y, axis=1)
        self._features = None
        if x_train.dtype != net.dtype or x_scale != 1.0:
            if len(x_train) * x_train.shape[1] * net.dtype.itemsize <= FEATURE_CACHE_BYTES:
                self._features = self.features(x_train)

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.optimizer.lr = check_lr(value)
        self.config = self.config.replace(lr=float(value))

    @property
    def batch_size(self) -> int:
        n = len(self.x_train)
        return n if self.config.batch_size in (0, None) else min(self.config.batch_size, n)

    def features(self, x: np.ndarray) -> np.ndarray:
        """Rows as the network's floats (uint8 images are scaled here, per batch)."""
        if x.dtype == self.net.dtype and self.x_scale == 1.0:
            return x
        out = x.astype(self.net.dtype)
        if self.x_scale != 1.0:
            out *= self.x_scale
        return out

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One gradient step on one batch; returns the batch loss before the update."""
        if self.config.gradients == "numerical":
            value = self.numerical_gradients(x, y)
        else:
            value = self.net.loss_and_backward(x, y, self.loss)
        self.penalize()
        self.optimizer.step()
        return value

    def penalize(self) -> None:
        """Add the weight penalty's gradient to the weights' gradients (see REGULARIZATIONS)."""
        kind, rate = self.config.regularization, self.config.reg_rate
        if kind == "none" or rate == 0.0:
            return
        for layer in self.net.layers:
            if kind == "l2":
                layer.dW += rate * layer.W
            else:
                layer.dW += rate * np.sign(layer.W)

    def penalty(self) -> float:
        """The weight penalty's value for the current weights (0 without regularization)."""
        kind, rate = self.config.regularization, self.config.reg_rate
        if kind == "none" or rate == 0.0:
            return 0.0
        if kind == "l2":
            return 0.5 * rate * sum(float(np.sum(layer.W * layer.W)) for layer in self.net.layers)
        return rate * sum(float(np.sum(np.abs(layer.W))) for layer in self.net.layers)

    def numerical_gradients(self, x: np.ndarray, y: np.ndarray) -> float:
        """Fill the gradients by central differences, as the from-scratch tutorial does:
        dL/dp = (L(p + h) - L(p - h)) / 2h, two forward passes per parameter. Returns the loss."""
        from nnbench.engine.gradcheck import numerical_gradients

        net = self.net
        if net.dtype == np.float64:
            work = net
        else:
            work = Network(replace(net.spec, dtype="float64"))
            work.set_weights(net.weights())
        x64, y64 = x.astype(np.float64, copy=False), y.astype(np.float64, copy=False)
        grads = numerical_gradients(work, self.loss, x64, y64, h=NUMERICAL_H)
        for name, _, g in net.params_and_grads():
            g[...] = grads[name]
        # One plain forward pass leaves the outputs where the accuracy looks for them.
        value, _ = net.loss(x.astype(net.dtype, copy=False), y, self.loss)
        return value

    def steps(self) -> Iterator[Step]:
        """Train forever, one batch per ``next()``; raises TrainingDiverged on NaN/inf loss."""
        n = len(self.x_train)
        while True:
            bs = self.batch_size
            full = bs >= n
            order = None if full or not self.config.shuffle else self.rng.permutation(n)
            cached = self._features
            x_all = self.features(self.x_train) if full and cached is None else cached
            np.copyto(self._epoch_start, self.net.flat_params)
            total, correct_sum = 0.0, 0
            labels = self._labels
            for start in range(0, n, bs):
                if full:
                    xb, yb, lb = x_all, self.y_train, labels
                else:
                    idx = order[start : start + bs] if order is not None else slice(start, start + bs)
                    xb = cached[idx] if cached is not None else self.features(self.x_train[idx])
                    yb = self.y_train[idx]
                    lb = labels[idx] if labels is not None else None
                value = self.train_step(xb, yb)
                if not math.isfinite(value) or value > EXPLODED * max(self._best_loss, 1e-6):
                    self._diverged(value)
                self.step_count += 1
                total += value * len(xb)
                if lb is not None:
                    out = self.net.layers[-1].a
                    pred = out[:, 0] > 0.5 if out.shape[1] == 1 else np.argmax(out, axis=1)
                    correct_sum += int(np.count_nonzero(pred == lb))
                last = start + bs >= n
                if last:
                    self._end_epoch(total / n, correct_sum / n)
                yield Step(self.epoch, self.step_count, value, last)

    def _end_epoch(self, train_loss: float, train_acc: float) -> None:
        if train_loss <= self._best_loss:
            self._best_loss, self._best_epoch = train_loss, self.epoch
            np.copyto(self._best, self._epoch_start)
        self.epoch += 1
        row = {"epoch": self.epoch, "train_loss": train_loss}
        if self.classification:
            row["train_acc"] = train_acc
        if self.x_test is not None and len(self.x_test):
            row.update(self.evaluate(self.x_test, self.y_test, prefix="test_"))
        self.history.append(**row)

    def evaluate(self, x: np.ndarray, y: np.ndarray, prefix: str = "") -> dict[str, float]:
        """Loss (and accuracy for classification) on any rows, in bounded chunks."""
        total, correct, chunk = 0.0, 0.0, 4096
        for i in range(0, len(x), chunk):
            xb, yb = self.features(x[i : i + chunk]), y[i : i + chunk].astype(self.net.dtype, copy=False)
            value, out = self.net.loss(xb, yb, self.loss)
            # Sum losses scale with the rows; mean losses are averaged over the chunks.
            total += value if self.loss.name == "sse" else value * len(xb)
            if self.classification:
                correct += accuracy(out, yb) * len(xb)
        result = {prefix + "loss": total if self.loss.name == "sse" else total / len(x)}
        if self.classification:
            result[prefix + "acc"] = correct / len(x)
        return result

    def _diverged(self, value: float) -> None:
        np.copyto(self.net.flat_params, self._best)
        self.optimizer.reset()
        what = "became infinite or NaN" if not math.isfinite(value) else f"exploded to {value:.3g}"
        raise TrainingDiverged(
            f"The loss {what} at epoch {self.epoch + 1} with learning rate {self.lr:g}: the steps "
            f"overshoot. Training was paused and the weights from epoch {self._best_epoch}, where "
            f"the loss was lowest ({self._best_loss:.4g}), were restored. Lower the learning "
            f"rate (try {self.lr / 10:g}) and continue.",
            self.epoch,
            self.step_count,
        )

    def run(self, epochs: int) -> History:
        """Train ``epochs`` more epochs (no callbacks); returns the history."""
        if epochs <= 0:
            return self.history
        target = self.epoch + epochs
        for s in self.steps():
            if s.epoch_end and s.epoch >= target:
                break
        return self.history

    def snapshot(self) -> Snapshot:
        n = self.history.n
        return Snapshot(
            epoch=self.epoch,
            step=self.step_count,
            lr=self.lr,
            weights=self.net.weights(),
            history={key: self.history.column(key)[:n] for key in HISTORY_KEYS},
            last_loss=self.history.last("train_loss"),
        )
