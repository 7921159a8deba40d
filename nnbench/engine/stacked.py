"""K copies of one network trained at once: the weights stacked as ``W[K, in, out]``.

Each copy starts from its own seed (``Network(spec, default_rng(net_seed))``) and shuffles its
batches with its own ``default_rng(train_seed)``, exactly as :class:`nnbench.engine.Trainer`
would; every layer is one batched matmul over the K copies, every activation and optimizer
update one whole-array operation. The maths is the engine's, step for step and in the same
order, so in float64 each copy ends bit for bit where a separate ``Trainer.run`` ends (the test
suite checks this against the real engine, so it catches drift).

A copy that diverges is put back to its best epoch's weights and frozen there; the others go on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from nnbench.engine import activations, optimizers
from nnbench.engine.network import Network
from nnbench.engine.spec import NetworkSpec
from nnbench.engine.training import EXPLODED, HISTORY_KEYS, TrainConfig
from nnbench.errors import IncompatibleError, SpecError

_EPS = 1e-12  # the clip the engine's losses use
_EVAL_CHUNK = 4096  # rows per chunk when evaluating, as Trainer.evaluate


UPDATE_BLOCK = 1 << 15  # values per copy-block of the optimizer step (see StackedTrainer._update)
MAX_BYTES = 2 << 30  # what the stacked arrays of one run may take at most


def _check_memory(spec: NetworkSpec, K: int, n_train: int, batch_size: int, n_test: int) -> None:
    """SpecError before anything is allocated when K copies would need more than MAX_BYTES:
    parameters, gradients and optimizer state (5 x K x P) and, per layer, a batch's z, a and
    the gradients flowing back (about 4 x K x rows x units, rows = the larger of a batch and an
    evaluation chunk)."""
    itemsize = np.dtype(spec.dtype).itemsize
    rows = max(n_train if batch_size in (0, None) else min(batch_size, n_train), min(n_test, _EVAL_CHUNK))
    units = sum(spec.sizes)
    need = itemsize * K * (5 * spec.n_params() + 4 * rows * units)
    if need > MAX_BYTES:
        raise SpecError(f"{K} copies of this network on these batches would need about {need / 2**30:.1f} "
                        f"GiB (at most {MAX_BYTES / 2**30:.0f}); use fewer seeds or smaller batches")


class _Layer:
    """One dense layer of K stacked copies; ``W``, ``b`` and their gradients are views of the
    trainer's flat ``(K, P)`` arrays."""

    def __init__(self, W, dW, b, db, activation: str) -> None:
        self.W, self.dW, self.b, self.db = W, dW, b, db
        self.act = activations.get(activation)
        self.softmax = activation == "softmax"
        self.x: np.ndarray | None = None
        self.z: np.ndarray | None = None
        self.a: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (n, in) shared by all copies or (K, n, in) -> a (K, n, out)"""
        z = np.matmul(x, self.W)
        if self.b is not None:
            z += self.b[:, None, :]
        if self.softmax:  # the engine's row-wise softmax, along the last axis
            a = np.subtract(z, z.max(axis=-1, keepdims=True))
            np.exp(a, out=a)
            a /= a.sum(axis=-1, keepdims=True)
        else:
            a = self.act.forward_into(z, np.empty_like(z))
        self.x, self.z, self.a = x, z, a
        return a

    def backward(self, grad_a: np.ndarray, need_input_grad: bool) -> np.ndarray | None:
        """dL/dz = act'(z) * dL/da (in place), then as :meth:`backward_z`."""
        if self.softmax:
            scratch = np.multiply(grad_a, self.a)
            grad_a -= scratch.sum(axis=-1, keepdims=True)
            grad_a *= self.a
            grad_z = grad_a
        else:
            grad_z = self.act.backward(self.z, self.a, grad_a, np.empty_like(grad_a))
        return self.backward_z(grad_z, need_input_grad)

    def backward_z(self, grad_z: np.ndarray, need_input_grad: bool) -> np.ndarray | None:
        """dL/dW[k] = x[k].T @ dL/dz[k]; dL/db[k] = sum_n dL/dz[k]; dL/dx[k] = dL/dz[k] @ W[k].T"""
        np.matmul(np.swapaxes(self.x, -1, -2), grad_z, out=self.dW)
        if self.db is not None:
            np.add.reduce(grad_z, axis=1, out=self.db)
        if not need_input_grad:
            return None
        return np.matmul(grad_z, np.swapaxes(self.W, -1, -2))


class StackedTrainer:
    """Train ``len(net_seeds)`` copies of ``spec`` on the same data, each from its own seeds.

    ``history[key]`` is a ``(K, epochs)`` array per :data:`HISTORY_KEYS` column (NaN where a
    column does not apply or a copy had diverged); ``params[k]`` is copy k's flat parameters in
    :class:`Network`'s order (``network(k)`` builds it).
    """

    def __init__(
        self,
        spec: NetworkSpec,
        config: TrainConfig,
        net_seeds: Sequence[int],
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_test: np.ndarray | None = None,
        y_test: np.ndarray | None = None,
        *,
        train_seeds: Sequence[int] | None = None,
        x_scale: float = 1.0,
        classification: bool | None = None,
    ) -> None:
        if config.gradients != "backprop":
            raise SpecError("stacked seeds train with backprop only")
        net_seeds = [int(s) for s in net_seeds]
        train_seeds = net_seeds if train_seeds is None else [int(s) for s in train_seeds]
        if not net_seeds or len(train_seeds) != len(net_seeds):
            raise SpecError("give one or more seeds, as many training seeds as network seeds")
        self.spec, self.config = spec, config
        self.K = K = len(net_seeds)
        _check_memory(spec, K, len(x_train), config.batch_size, 0 if x_test is None else len(x_test))
        self.net_seeds, self.train_seeds = tuple(net_seeds), tuple(train_seeds)
        self.dtype = np.dtype(spec.dtype)
        nets = [Network(spec, np.random.default_rng(s)) for s in net_seeds]
        self.names = [name for name, _, _ in nets[0].params_and_grads()]
        self.params = np.stack([n.flat_params for n in nets])
        self.grads = np.zeros_like(self.params)
        self.layers: list[_Layer] = []
        offset = 0

        def views(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
            nonlocal offset
            size = int(np.prod(shape))
            p = self.params[:, offset : offset + size].reshape(K, *shape)
            g = self.grads[:, offset : offset + size].reshape(K, *shape)
            offset += size
            return p, g

        for layer, ls in zip(nets[0].layers, spec.layers, strict=True):
            W, dW = views(layer.W.shape)
            b, db = views(layer.b.shape) if layer.b is not None else (None, None)
            self.layers.append(_Layer(W, dW, b, db, ls.activation))
        self.features = spec.features
        self.loss = config.loss
        self.fused = {"bce": "sigmoid", "cross_entropy": "softmax"}.get(config.loss) == spec.output.activation
        self.lr: float | np.ndarray = config.lr  # or one rate per copy, shape (K,)
        self.rngs = [np.random.default_rng(s) for s in train_seeds]
        if classification is None:
            classification = config.loss in ("bce", "cross_entropy")
        self.classification = classification
        if len(x_train) == 0:
            raise SpecError("the training set is empty")
        if x_train.shape[1] != spec.n_inputs or y_train.shape[1] != spec.output.units:
            raise IncompatibleError(
                f"the network is {spec.n_inputs} in / {spec.output.units} out, the data "
                f"{x_train.shape[1]} in / {y_train.shape[1]} out"
            )
        self.x_scale = x_scale
        self.x = self._featurize(x_train)
        self.y = y_train.astype(self.dtype, copy=False)
        same = x_test is None or x_test is x_train
        self.x_test = None if same or len(x_test) == 0 else x_test
        self.y_test = None if self.x_test is None else y_test.astype(self.dtype, copy=False)
        self.labels = None
        if classification:
            self.labels = self.y[:, 0] > 0.5 if self.y.shape[1] == 1 else np.argmax(self.y, axis=1)
        # optimizer state, flat like the parameters
        self._m = np.zeros_like(self.params)
        self._v = np.zeros_like(self.params)
        self._scratch = np.empty_like(self.params)
        self.t = 0
        self.epoch = 0
        self.step_count = 0
        self._rows: dict[str, list[np.ndarray]] = {key: [] for key in HISTORY_KEYS}
        self._epoch_start = self.params.copy()
        self._best = self.params.copy()
        self._best_loss = np.full(K, math.inf)
        self._best_epoch = np.zeros(K, dtype=np.int64)
        self.alive = np.ones(K, dtype=bool)
        self.diverged_at = np.full(K, -1, dtype=np.int64)  # epoch (1-based) a copy diverged in, or -1

    # ---- data ------------------------------------------------------------------------------

    def _featurize(self, x: np.ndarray) -> np.ndarray:
        """What the first layer sees: Trainer.features, then the network's input features."""
        if x.dtype != self.dtype or self.x_scale != 1.0:
            x = x.astype(self.dtype)
            if self.x_scale != 1.0:
                x *= self.x_scale
        if self.features is not None:
            from nnbench.engine import features as feature_maps

            x = feature_maps.expand(x, self.features)
        return x

    @property
    def batch_size(self) -> int:
        n = len(self.x)
        return n if self.config.batch_size in (0, None) else min(self.config.batch_size, n)

    # ---- one step --------------------------------------------------------------------------

    def _loss_and_backward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Forward, every copy's loss and gradients for one batch; returns the K losses."""
        a = x
        for layer in self.layers:
            a = layer.forward(a)
        last = self.layers[-1]
        deep = len(self.layers) > 1
        n = a.shape[1]
        value = self._loss_value(last.z, a, y)
        if self.fused:
            if self.loss == "bce":  # dL/dz = (a - y) / n
                grad = np.subtract(a, y)
            else:  # dL/dz = (a * sum_k y - y) / n
                grad = np.multiply(a, y.sum(axis=-1, keepdims=True))
                grad -= y
            grad *= 1.0 / n
            g = last.backward_z(grad, deep)
        else:
            g = last.backward(self._loss_grad(a, y), deep)
        for i in range(len(self.layers) - 2, -1, -1):
            g = self.layers[i].backward(g, i > 0)
        return value

    def _loss_value(self, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Each copy's loss, by the engine's formula for one batch (z, a: (K, n, out))."""
        n = a.shape[1]
        name = self.loss
        if name in ("sse", "mse"):
            d = a - y
            out = np.array([float(np.vdot(d[k], d[k])) for k in range(self.K)])
            return out if name == "sse" else out / d[0].size
        if name == "bce":
            if self.fused:
                total = np.logaddexp(0.0, z)
                total -= y * z
                return np.add.reduce(total, axis=(1, 2)) / n
            c = np.clip(a, _EPS, 1.0 - _EPS)
            return -(y * np.log(c) + (1.0 - y) * np.log1p(-c)).sum(axis=(1, 2)) / n
        if self.fused:
            shifted = z - z.max(axis=-1, keepdims=True)
            log_a = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
            return -(y * log_a).sum(axis=(1, 2)) / n
        return -(y * np.log(np.maximum(a, _EPS))).sum(axis=(1, 2)) / n

    def _loss_grad(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dL/da by the engine's formula (for a loss not fused with the output activation)."""
        n = a.shape[1]
        name = self.loss
        if name == "sse":  # 2 (a - y)
            out = np.subtract(a, y)
            out *= 2.0
            return out
        if name == "mse":  # 2 (a - y) / size
            out = np.subtract(a, y)
            out *= 2.0 / a[0].size
            return out
        if name == "bce":  # (a - y) / (a (1 - a)) / n
            c = np.clip(a, _EPS, 1.0 - _EPS)
            return np.divide(c - y, c * (1.0 - c) * n)
        return np.divide(-y, np.maximum(a, _EPS) * n)  # -y / a / n

    def _penalize(self) -> None:
        kind, rate = self.config.regularization, self.config.reg_rate
        if kind == "none" or rate == 0.0:
            return
        for layer in self.layers:
            if kind == "l2":
                layer.dW += rate * layer.W
            else:
                layer.dW += rate * np.sign(layer.W)

    def _update(self) -> None:
        """The engine's optimizer step (its flat path, in the same order), on all copies at once,
        a block of copies at a time: K x P arrays of a deep net (32 x 42,000 for the 10x64
        spiral, 11 MB each, five of them) stream through memory once per operation, a block of
        about UPDATE_BLOCK values stays in cache for the whole step. Each value sees the same
        operations in the same order, so the result is the same bit for bit."""
        K, P = self.params.shape
        block = max(1, UPDATE_BLOCK // max(P, 1))
        if self.config.optimizer == "adam":
            self.t += 1
        for k0 in range(0, K, block):
            self._update_rows(slice(k0, min(k0 + block, K)))

    def _update_rows(self, rows: slice) -> None:
        p, g, s, name = self.params[rows], self.grads[rows], self._scratch[rows], self.config.optimizer
        lr = self.lr[rows, None] if isinstance(self.lr, np.ndarray) else self.lr
        if name == "sgd":  # p -= lr g
            np.multiply(g, lr, out=s)
            p -= s
        elif name == "momentum":  # v = mu v + g; p -= lr v  (torch.optim.SGD with momentum)
            v = self._v[rows]
            v *= self.config.momentum
            v += g
            np.multiply(v, lr, out=s)
            p -= s
        else:  # Adam as torch.optim.Adam, by the engine's own update
            t = self.t
            b1, b2 = 0.9, 0.999
            inv_c, e = optimizers.adam_scale(lr, t, b1, b2, 1e-8)
            flush = None
            if p.dtype == np.float32 and t % optimizers.FLUSH_EVERY == 0:
                flush = float(np.finfo(np.float32).tiny) / min(b1, b2) ** optimizers.FLUSH_EVERY
            optimizers.adam_update(p, g, self._m[rows], self._v[rows], s, b1, b2, inv_c, e, flush)

    # ---- epochs ----------------------------------------------------------------------------

    def run_epoch(self) -> None:
        """One epoch for every copy (as ``Trainer.steps`` does until its ``epoch_end``)."""
        n = len(self.x)
        bs = self.batch_size
        full = bs >= n
        orders = None
        if not full and self.config.shuffle:
            orders = np.stack([rng.permutation(n) for rng in self.rngs])
        np.copyto(self._epoch_start, self.params)
        total = np.zeros(self.K)
        correct = np.zeros(self.K, dtype=np.int64)
        frozen = not self.alive.all()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for start in range(0, n, bs):
                if full:
                    xb, yb, lb = self.x, self.y, self.labels
                elif orders is None:
                    sl = slice(start, start + bs)
                    xb, yb = self.x[sl], self.y[sl]
                    lb = self.labels[sl] if self.labels is not None else None
                else:
                    idx = orders[:, start : start + bs]
                    xb, yb = self.x[idx], self.y[idx]
                    lb = self.labels[idx] if self.labels is not None else None
                value = self._loss_and_backward(xb, yb)
                self._penalize()
                self._update()
                bad = ~np.isfinite(value) | (value > EXPLODED * np.maximum(self._best_loss, 1e-6))
                bad &= self.alive
                if bad.any():
                    self._diverge(bad)
                    frozen = True
                if frozen:
                    dead = ~self.alive
                    self.params[dead] = self._best[dead]
                self.step_count += 1
                total += value if self.loss == "sse" else value * xb.shape[-2]
                if lb is not None:
                    out = self.layers[-1].a
                    pred = out[..., 0] > 0.5 if out.shape[-1] == 1 else np.argmax(out, axis=-1)
                    correct += np.count_nonzero(pred == lb, axis=-1)
        self._end_epoch(total if self.loss == "sse" else total / n, correct / n)

    def _diverge(self, bad: np.ndarray) -> None:
        self.alive &= ~bad
        self.diverged_at[bad] = self.epoch + 1
        self._m[bad] = 0.0
        self._v[bad] = 0.0

    def _end_epoch(self, train_loss: np.ndarray, train_acc: np.ndarray) -> None:
        alive = self.alive
        better = alive & (train_loss <= self._best_loss)
        self._best_loss[better] = train_loss[better]
        self._best_epoch[better] = self.epoch
        self._best[better] = self._epoch_start[better]
        self.epoch += 1
        nan = np.full(self.K, np.nan)
        row = {"epoch": np.full(self.K, float(self.epoch)), "train_loss": np.where(alive, train_loss, np.nan),
               "train_acc": np.where(alive, train_acc, np.nan) if self.classification else nan,
               "test_loss": nan, "test_acc": nan}
        if self.x_test is not None:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                res = self.evaluate(self.x_test, self.y_test)
            test_loss = res["loss"]
            if self.loss == "sse":  # on the training set's scale, as Trainer does
                test_loss = test_loss * (len(self.x) / len(self.x_test))
            row["test_loss"] = np.where(alive, test_loss, np.nan)
            if self.classification:
                row["test_acc"] = np.where(alive, res["acc"], np.nan)
        for key in HISTORY_KEYS:
            self._rows[key].append(row[key])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Every copy's outputs for rows ``x``: (K, n, outputs)."""
        a = self._featurize(np.asarray(x))
        for layer in self.layers:
            a = layer.forward(a)
        return a

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """Each copy's loss (and accuracy) on any rows, chunked and summed as Trainer.evaluate."""
        total = np.zeros(self.K)
        correct = np.zeros(self.K)
        sse = self.loss == "sse"
        chunk = min(max(self.batch_size, 64), _EVAL_CHUNK)  # Trainer.evaluate's chunks
        for i in range(0, len(x), chunk):
            xb = self._featurize(x[i : i + chunk])
            yb = y[i : i + chunk].astype(self.dtype, copy=False)
            a = xb
            for layer in self.layers:
                a = layer.forward(a)
            value = self._loss_value(self.layers[-1].z, a, yb)
            total += value if sse else value * len(xb)
            if self.classification:
                if yb.shape[1] == 1:
                    hit = (a[..., 0] > 0.5) == (yb[:, 0] > 0.5)
                else:
                    hit = np.argmax(a, axis=-1) == np.argmax(yb, axis=1)
                correct += np.mean(hit, axis=-1) * len(xb)
        out = {"loss": total if sse else total / len(x)}
        if self.classification:
            out["acc"] = correct / len(x)
        return out

    def run(self, epochs: int, on_epoch: Callable[[int], bool | None] | None = None) -> None:
        """Train ``epochs`` more epochs; ``on_epoch(epoch)`` after each may return False to stop."""
        for _ in range(max(int(epochs), 0)):
            self.run_epoch()
            if on_epoch is not None and on_epoch(self.epoch) is False:
                return

    # ---- results ---------------------------------------------------------------------------

    @property
    def history(self) -> dict[str, np.ndarray]:
        """Each HISTORY_KEYS column as a (K, epochs) array."""
        return {key: (np.stack(rows, axis=1) if rows else np.zeros((self.K, 0)))
                for key, rows in self._rows.items()}

    def history_of(self, k: int) -> dict[str, np.ndarray]:
        """Copy k's history, as ``History.to_dict`` gives it."""
        return {key: (np.array([r[k] for r in rows]) if rows else np.zeros(0))
                for key, rows in self._rows.items()}

    def network(self, k: int) -> Network:
        """Copy k as an engine network."""
        net = Network(self.spec, np.random.default_rng(self.net_seeds[k]))
        net.flat_params[...] = self.params[k]
        return net
