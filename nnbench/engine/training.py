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
from nnbench.errors import IncompatibleError, NnbenchError, SpecError, TrainingDiverged

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
            raise SpecError(f"unknown loss {self.loss!r}; known: {', '.join(losses.LOSSES)}")
        if self.optimizer not in optimizers.OPTIMIZERS:
            known = ", ".join(optimizers.OPTIMIZERS)
            raise SpecError(f"unknown optimizer {self.optimizer!r}; known: {known}")
        check_lr(self.lr)
        if not isinstance(self.momentum, (int, float)) or not 0.0 <= self.momentum < 1.0:
            raise SpecError(f"momentum must be in [0, 1), got {self.momentum}")
        if not isinstance(self.batch_size, int) or self.batch_size < 0:
            raise SpecError("batch size must be a whole number >= 1 (or 0 for the whole set), "
                            f"got {self.batch_size}")
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise SpecError(f"epochs must be a whole number >= 0, got {self.epochs}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise SpecError(f"the seed must be a whole number >= 0, got {self.seed}")
        if self.gradients not in GRADIENTS:
            raise SpecError(f"gradients must be one of {', '.join(GRADIENTS)}, got {self.gradients!r}")
        if self.regularization not in REGULARIZATIONS:
            raise SpecError(f"regularization must be one of {', '.join(REGULARIZATIONS)}, "
                            f"got {self.regularization!r}")
        rate = self.reg_rate
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not math.isfinite(rate) \
                or not 0.0 <= rate <= 10.0:
            raise SpecError(f"the regularization rate must be a number from 0 to 10, got {rate!r}")

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
                raise SpecError(f"training setting {key!r} has the wrong type: {value!r}")
        return cls(**d)

    def replace(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)


def check_lr(lr: float) -> float:
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not math.isfinite(lr) or lr <= 0:
        raise SpecError(f"the learning rate must be a number > 0, got {lr!r}")
    if lr > 1e4:
        raise SpecError(f"a learning rate of {lr:g} is far too large (at most 10000)")
    return float(lr)


class Step(NamedTuple):
    """What :meth:`Trainer.steps` yields after each batch."""

    epoch: int  # epochs completed so far
    step: int  # batches done in total
    loss: float  # this batch's loss (before its update)
    epoch_end: bool  # this batch finished an epoch; the history has a new row


# A batch loss per row this many times the lowest loss per row of a block of batches so far
# counts as divergence, from the second block on: by then the weights are astronomically large
# even when the loss is still finite. A block holds at least BLOCK_ROWS rows (or ends with the
# epoch), so that one lucky row of batch size 1 does not set the bar.
EXPLODED = 1e6
BLOCK_ROWS = 32

HISTORY_KEYS = ("epoch", "train_loss", "test_loss", "train_acc", "test_acc")


class History:
    """Append-only per-epoch metrics in growing arrays.

    ``train_loss`` is the epoch's batch losses (each measured before its update) put on the
    scale of the whole training set: their row-weighted mean for the mean losses, their sum for
    the sum of squared errors. ``test_loss`` is on the same scale (for the sum, the test set's
    sum per row times the training set's rows), so the two curves compare for every loss and
    batch size.

    A snapshot hands out ``column[:n]`` views without copying: rows below ``n`` are never
    written again, so the views stay valid while training goes on.
    """

    def __init__(self) -> None:
        self._data = np.full((len(HISTORY_KEYS), 256), np.nan)
        self.n = 0

    def append(self, **row: float) -> None:
        self.add(*(row.get(key, math.nan) for key in HISTORY_KEYS))

    def add(self, epoch: float, train_loss: float, test_loss: float = math.nan,
            train_acc: float = math.nan, test_acc: float = math.nan) -> None:
        """One row, in HISTORY_KEYS order (what the training loop calls once per epoch)."""
        if self.n == self._data.shape[1]:
            grown = np.full((len(HISTORY_KEYS), 2 * self.n), np.nan)
            grown[:, : self.n] = self._data
            self._data = grown
        d, n = self._data, self.n
        d[0, n], d[1, n] = epoch, train_loss
        # The rest is NaN already: write only what was measured (this runs at every step of a
        # full-batch run, so it is kept cheap).
        if test_loss == test_loss:
            d[2, n] = test_loss
        if train_acc == train_acc:
            d[3, n] = train_acc
        if test_acc == test_acc:
            d[4, n] = test_acc
        self.n = n + 1

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` rows (a rewind after divergence); later rows are written anew."""
        self.n = max(0, min(self.n, int(n)))

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
        self.optimizer = optimizers.make(config.optimizer, net.params_and_grads(), config.lr, config.momentum)
        if len(x_train) == 0:
            raise SpecError("the training set is empty")
        if np.ndim(x_train) == 2 and np.ndim(y_train) == 2 and (
                x_train.shape[1] != net.n_inputs or y_train.shape[1] != net.n_outputs):
            raise IncompatibleError(
                f"the network is {net.n_inputs} in / {net.n_outputs} out, the data "
                f"{x_train.shape[1]} in / {y_train.shape[1]} out"
            )
        net.check_batch(x_train, y_train)
        same = x_test is None or x_test is x_train
        if not same and y_test is not None and len(x_test):
            try:
                net.check_batch(x_test, y_test)
            except NnbenchError as e:
                raise type(e)(f"test set: {e}") from None
        self.x_train, self.y_train = x_train, y_train.astype(net.dtype, copy=False)
        self.x_test = None if same else x_test
        self.y_test = None if same or y_test is None else y_test.astype(net.dtype, copy=False)
        self.x_scale = x_scale
        if classification is None:
            classification = config.loss in ("bce", "cross_entropy")
        self.classification = classification
        self.epoch = 0
        self.step_count = 0
        self.history = History()
        # What divergence falls back to: the weights at the start of the epoch after the one with
        # the lowest loss (copied once that epoch's first batch has been checked), and the lowest
        # batch loss per row so far (what "exploded" is measured against from the first batch).
        self._best = net.flat_params.copy()
        self._best_epoch, self._best_loss = 0, math.nan
        self._lowest_epoch_loss = math.inf
        self._save_next = True
        self._lowest_row_loss = math.inf  # of a block, see BLOCK_ROWS
        self._limit = math.inf  # a batch loss per row above this is divergence
        # Class of every training row, once, so a batch's accuracy is one comparison.
        self._labels = None
        if self.classification:
            y = self.y_train
            # a column for one output (compared with a > 0.5 as it is), a class index otherwise
            self._labels = y > 0.5 if y.shape[1] == 1 else np.argmax(y, axis=1)
        self._features = None
        if x_train.dtype != net.dtype or x_scale != 1.0 or not x_train.flags.c_contiguous:
            if len(x_train) * x_train.shape[1] * net.dtype.itemsize <= FEATURE_CACHE_BYTES:
                self._features = np.ascontiguousarray(self.features(x_train))

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
        value = self._gradients(x, y)
        self._update()
        return value

    def _gradients(self, x: np.ndarray, y: np.ndarray) -> float:
        if self.config.gradients == "numerical":
            return self.numerical_gradients(x, y)
        return self.net.train_pass(x, y, self.loss)

    def _update(self) -> None:
        if self.config.regularization != "none":
            self.penalize()
        self.optimizer.step()

    def penalize(self) -> None:
        """Add the weight penalty's gradient to the weights' gradients (see REGULARIZATIONS)."""
        kind, rate = self.config.regularization, self.config.reg_rate
        if kind == "none" or rate == 0.0:
            return
        for _, W, dW in self.net.params_and_grads().weights():
            dW += rate * (W if kind == "l2" else np.sign(W))

    def penalty(self) -> float:
        """The weight penalty's value for the current weights (0 without regularization)."""
        kind, rate = self.config.regularization, self.config.reg_rate
        if kind == "none" or rate == 0.0:
            return 0.0
        weights = self.net.params_and_grads().weights()
        if kind == "l2":
            return 0.5 * rate * sum(float(np.vdot(W, W)) for _, W, _ in weights)
        return rate * sum(float(np.sum(np.abs(W))) for _, W, _ in weights)

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
        # One training forward pass leaves the outputs where the accuracy looks for them.
        return net.train_loss(x, y, self.loss)

    def steps(self) -> Iterator[Step]:
        """Train forever, one batch per ``next()``; raises TrainingDiverged when the loss becomes
        NaN or infinite or explodes (checked before the batch's update, from the first batch)."""
        n = len(self.x_train)
        net = self.net
        sums = self.loss.name == "sse"  # a sum over rows, not a mean
        seen = None
        while True:
            if self.config is not seen:  # new settings (or the first epoch): what they imply
                seen = self.config
                bs = self.batch_size
                full = bs >= n
                cached = self._features
                x_all = self.features(self.x_train) if full and cached is None else cached
            order = None if full or not seen.shuffle else self.rng.permutation(n)
            total, correct_sum = 0.0, 0
            block_total, block_rows = 0.0, 0
            labels = self._labels
            for start in range(0, n, bs):
                if full:
                    xb, yb, lb = x_all, self.y_train, labels
                else:
                    idx = order[start : start + bs] if order is not None else slice(start, start + bs)
                    xb = cached[idx] if cached is not None else self.features(self.x_train[idx])
                    yb = self.y_train[idx]
                    lb = labels[idx] if labels is not None else None
                rows = len(xb)
                config = self.config
                if config.gradients == "numerical":
                    value = self.numerical_gradients(xb, yb)
                else:
                    value = net.train_pass(xb, yb, self.loss)
                part = value if sums else value * rows  # this batch's share of the epoch's sum
                if not part <= rows * self._limit:  # also catches NaN
                    self._diverged(value)
                last = start + bs >= n
                block_total += part
                block_rows += rows
                if block_rows >= BLOCK_ROWS or last:
                    if block_total < block_rows * self._lowest_row_loss:
                        self._low_block(block_total / block_rows)
                    block_total, block_rows = 0.0, 0
                if self._save_next and start == 0:
                    # These weights just gave a sound loss, after the best epoch so far.
                    np.copyto(self._best, net.flat_params)
                    self._best_epoch, self._best_loss = self.epoch, self._lowest_epoch_loss
                    self._save_next = False
                if config.regularization != "none":
                    self.penalize()
                self.optimizer.step()
                self.step_count += 1
                total += part
                if lb is not None:
                    out = net.layers[-1].a
                    hit = np.equal(out > 0.5 if out.shape[1] == 1 else out.argmax(axis=1), lb)
                    correct_sum += int(np.add.reduce(hit, axis=None))  # a count, for booleans
                if last:
                    self._end_epoch(total if sums else total / n, correct_sum / n)
                yield Step(self.epoch, self.step_count, value, last)

    def _low_block(self, row_loss: float) -> None:
        """A block of batches ended with the lowest loss per row so far: the new bar."""
        self._lowest_row_loss = row_loss
        self._limit = EXPLODED * max(row_loss, 1e-6)

    def _end_epoch(self, train_loss: float, train_acc: float) -> None:
        if train_loss <= self._lowest_epoch_loss:
            self._lowest_epoch_loss = train_loss
            self._save_next = True
        self.epoch += 1
        test_loss = test_acc = math.nan
        if self.x_test is not None and len(self.x_test):
            test = self.evaluate(self.x_test, self.y_test)
            test_loss, test_acc = test["loss"], test.get("acc", math.nan)
            if self.loss.name == "sse":
                test_loss *= len(self.x_train) / len(self.x_test)
        self.history.add(self.epoch, train_loss, test_loss,
                         train_acc if self.classification else math.nan, test_acc)

    def evaluate(self, x: np.ndarray, y: np.ndarray, prefix: str = "") -> dict[str, float]:
        """Loss (and accuracy for classification) on any rows, in chunks through the training
        buffers (so nothing large is allocated; call it from the thread that trains, between
        steps); the sum of squared errors is the rows' sum."""
        total, correct = 0.0, 0.0
        chunk = min(max(self.batch_size, 64), 4096)
        net, sums = self.net, self.loss.name == "sse"
        for i in range(0, len(x), chunk):
            xb, yb = self.features(x[i : i + chunk]), y[i : i + chunk].astype(net.dtype, copy=False)
            value = net.train_loss(xb, yb, self.loss)
            total += value if sums else value * len(xb)
            if self.classification:
                correct += accuracy(net.layers[-1].a, yb) * len(xb)
        result = {prefix + "loss": total if sums else total / len(x)}
        if self.classification:
            result[prefix + "acc"] = correct / len(x)
        return result

    def _diverged(self, value: float) -> None:
        np.copyto(self.net.flat_params, self._best)
        self.optimizer.reset()
        self._save_next = False  # the restored weights are already saved
        what = "became infinite or NaN" if not math.isfinite(value) else f"exploded to {value:.3g}"
        diverged_at = self.epoch + 1
        # Rewind to the epoch whose weights came back: the epochs after it describe weights that
        # are gone, so the counter, the curves and the status all show the restored network.
        self.history.truncate(self.history.n - (self.epoch - self._best_epoch))
        self.epoch = self._best_epoch
        if self._best_epoch == 0:
            restored = "the starting weights were restored"
        else:
            restored = (f"the weights after epoch {self._best_epoch}, where the loss was lowest "
                        f"({self._best_loss:.4g}), were restored")
        raise TrainingDiverged(
            f"The loss {what} at epoch {diverged_at} with learning rate {self.lr:g}: the steps "
            f"overshoot. Training was paused and {restored}. Lower the learning "
            f"rate (try {self.lr / 10:g}) and continue.",
            self.epoch,
            self.step_count,
            restored_epoch=self._best_epoch,
            restored_loss=self._best_loss,
            lr=self.lr,
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
