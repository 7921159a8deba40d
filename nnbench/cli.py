"""The ``nnbench`` command: open the window, or train, predict and benchmark headless.

    nnbench                       open the window
    nnbench FILE                  open an experiment in the window
    nnbench presets               list the built-in experiments
    nnbench train PRESET_OR_FILE  train headless [--epochs N] [--seed S] [--save FILE] [--json]
    nnbench predict FILE --input 1,0,0
    nnbench export FILE --to onnx|torch|numpy --out PATH
    nnbench bench                 time the engine against hand-written NumPy and PyTorch CPU
    nnbench gradcheck FILE        backprop against finite differences, layer by layer [--plot PNG]
    nnbench lr-find FILE          the learning-rate finder: loss against rising rates [--plot PNG]
    nnbench curvature FILE        the Hessian's top eigenvalue and the stability limit 2/lambda
    nnbench sweep EXPERIMENT --grid lr=0.01,0.1,1 --grid hidden=2,4,8 --seeds 10 [--epochs N]
                  [--out results.csv] [--executor local|dask://HOST:PORT] [--heatmap map.png]
    nnbench history FILE          the runs a saved experiment holds [--csv OUT]

Errors are one line on stderr (``nnbench: error: ...``) and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from nnbench import __version__
from nnbench.errors import quote

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130
COMMANDS = ("presets", "train", "predict", "export", "bench", "sweep", "gradcheck", "lr-find", "curvature",
            "history")
EXIT_GRADIENTS_WRONG = 4  # gradcheck: backprop disagrees with the finite differences


class UsageError(Exception):
    """A bad command line: reported in one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="nnbench", description="A bench for small neural networks. Without a command, "
                "opens the window (with FILE, opens that experiment).")
    p.add_argument("--version", action="version", version=f"nnbench {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sub.add_parser("presets", help="list the built-in experiments")

    t = sub.add_parser("train", help="train a preset or an experiment file headless")
    t.add_argument("experiment", metavar="PRESET_OR_FILE")
    t.add_argument("--epochs", type=_count, help="epochs to train (default: the experiment's)")
    t.add_argument("--seed", type=_count, help="seed for the network's weights and the batch order")
    t.add_argument("--lr", type=float, help="learning rate (default: the experiment's)")
    t.add_argument("--save", metavar="FILE", type=_save_path,
                   help="save the trained experiment (.npz) to FILE")
    t.add_argument("--json", action="store_true", help="print the final metrics as JSON on the last line")
    t.add_argument("--gradients", choices=("backprop", "numerical"),
                   help="numerical: time central-difference gradients against backprop on a few rows")
    t.add_argument("--rows", type=_count, default=10, help="rows for --gradients numerical (default 10)")
    t.add_argument("--steps", type=_count, default=2, help="steps for --gradients numerical (default 2)")
    t.add_argument("--regularization", choices=("none", "l1", "l2"),
                   help="weight penalty (default: the experiment's)")
    t.add_argument("--reg-rate", type=float, metavar="RATE",
                   help="weight penalty rate (default: the experiment's)")
    t.add_argument("--features", metavar="F1,F2,...",
                   help="input features for 2-D data, from x1,x2,x1^2,x2^2,x1*x2,sin(x1),sin(x2) "
                        "(default: the experiment's)")
    t.add_argument("--every", type=_count, help="print a line every N epochs (default: the experiment's)")
    t.add_argument("--threads", type=_count, default=1,
                   help="BLAS threads (default 1: as fast for small networks, far faster on a busy machine)")
    t.add_argument("--data-dir", metavar="DIR", help="read MNIST from DIR instead of the download cache")
    t.add_argument("--mnist-mirror", metavar="URL", type=_mirror,
                   help="download MNIST from this mirror if it is missing")

    pr = sub.add_parser("predict", help="print a trained network's output for some inputs")
    pr.add_argument("experiment", metavar="FILE")
    pr.add_argument("--input", action="append", required=True, metavar="X1,X2,...",
                    help="one row of inputs, comma-separated; repeat for more rows")
    pr.add_argument("--json", action="store_true", help="print the outputs as JSON")

    ex = sub.add_parser("export", help="export a network as ONNX, a PyTorch script or a plain NumPy script")
    ex.add_argument("experiment", metavar="FILE", help="a saved experiment (.npz), an .onnx, or a preset")
    ex.add_argument("--to", required=True, choices=("onnx", "torch", "numpy"), help="what to write")
    ex.add_argument("--out", required=True, metavar="PATH",
                    help="the .onnx, or the .py (its weights go to NAME.weights.npz beside it)")
    ex.add_argument("--no-input-scaling", action="store_true",
                    help="leave out the dataset's input scaling (standardised CSV, MNIST's 1/255): the "
                         "export then takes the values the network itself is fed")

    h = sub.add_parser("history", help="print the runs a saved experiment holds (or write them as CSV)")
    h.add_argument("file", metavar="FILE")
    h.add_argument("--csv", metavar="OUT", help="write one row per epoch per run, with its settings, to OUT "
                   "('-': standard output)")

    b = sub.add_parser("bench", help="time the engine against hand-written NumPy and PyTorch CPU "
                                     "(when installed)")
    b.add_argument("--quick", action="store_true", help="fewer repeats (for a smoke test)")
    b.add_argument("--threads", default="1,2", help="BLAS thread counts to compare (default 1,2)")
    b.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    b.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    _inspect_parsers(sub)
    _add_sweep_parser(sub)
    return p


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{quote(text)} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _mirror(text: str) -> str:
    """An http(s) address with a host, or a usage error (urllib would raise ValueError later)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port is not False
    except ValueError:  # a bad port or bracket
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"{quote(text)} is not an http:// or https:// address")
    return text


def _save_path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("give a file name to save to")
    return text


def _join_input_values(argv: list[str]) -> list[str]:
    """``--input -1.5,2`` as ``--input=-1.5,2``: argparse takes a value that starts with '-'
    for an option, and negative inputs are common (standardised data, the plane around 0)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--input" and i + 1 < len(argv) and len(argv[i + 1]) > 1 and argv[i + 1][0] == "-" \
                and argv[i + 1][1] in "0123456789.":
            out.append(f"--input={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):
        # A name from a file may hold a lone surrogate ("\ud800"), which UTF-8 cannot encode:
        # print it escaped rather than fail the run.
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass
    try:
        if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
            if len(argv) > 1:
                raise UsageError(f"unknown command {quote(argv[0])}; commands: {', '.join(COMMANDS)}")
            return _open_window(argv[0] if argv else None)
        args = _parser().parse_args(_join_input_values(argv))
        if args.command is None:
            return _open_window(None)
        commands = {"presets": _presets, "train": _train, "predict": _predict, "export": _export,
                    "bench": _bench, "sweep": _sweep, "history": _history, **INSPECT_COMMANDS}
        return commands[args.command](args)
    except UsageError as e:
        return _fail(str(e), EXIT_USAGE)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    except Exception as e:  # noqa: BLE001 - the promise is: no traceback, ever
        from nnbench.errors import NnbenchError, TrainingDiverged

        if isinstance(e, TrainingDiverged):
            return _fail(f"training diverged: {e}", EXIT_DIVERGED)
        if isinstance(e, NnbenchError):
            return _fail(str(e), EXIT_ERROR)
        if isinstance(e, OSError):
            where = "" if e.filename is None else f"{quote(os.fsdecode(e.filename))}: "
            return _fail(f"{where}{e.strerror or e}", EXIT_ERROR)
        if os.environ.get("NNBENCH_DEBUG"):
            raise
        return _fail(f"internal error ({type(e).__name__}: {str(e)[:200]}); set NNBENCH_DEBUG=1 for details",
                     EXIT_ERROR)


MAX_MESSAGE = 2000  # characters: messages quote input shortened; this is the last guard


def _fail(message: str, code: int) -> int:
    text = " ".join(str(message).split())
    if len(text) > MAX_MESSAGE:
        text = f"{text[: MAX_MESSAGE // 2]} ... {text[-MAX_MESSAGE // 4 :]}"
    print(f"nnbench: error: {text}", file=sys.stderr)
    return code


# ---- the window --------------------------------------------------------------------------------


def _open_window(path: str | None) -> int:
    if path is not None and not Path(path).is_file():
        from nnbench import presets, resources

        if path not in presets.names():
            raise UsageError(f"{quote(path)}: no such file, preset or command "
                             f"(commands: {', '.join(COMMANDS)})")
        path = str(resources.preset_path(path))  # the window opens presets as files
    if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        from nnbench.errors import NnbenchError

        # Qt would abort the interpreter here; say so instead.
        raise NnbenchError("no display to open the window on (DISPLAY is not set); "
                           "use 'nnbench train' to work headless")
    try:
        from nnbench.ui import app
    except ImportError as e:
        from nnbench.errors import NnbenchError

        raise NnbenchError(f"the window cannot open: {e}; the headless commands still work") from None
    return int(app.main(path) or 0)


# ---- presets -----------------------------------------------------------------------------------


def _presets(args: argparse.Namespace) -> int:
    from nnbench.presets import list_presets

    rows = list_presets()
    width = max((len(name) for name, _ in rows), default=0)
    for name, title in rows:
        print(f"{name:<{width}}  {title}")
    return 0


# ---- train -------------------------------------------------------------------------------------


def resolve(spec: str):
    """A preset name or an experiment file (.json or trained .npz) as an Experiment."""
    from nnbench import presets
    from nnbench.errors import SpecError
    from nnbench.experiment import load_experiment

    if Path(spec).is_file():
        return load_experiment(spec)
    if spec in presets.names():
        return presets.load_preset(spec)
    raise SpecError(f"{quote(spec)}: no such file or preset (see 'nnbench presets')")


def _mnist_source(source: dict[str, Any], args: argparse.Namespace, out: TextIO) -> dict[str, Any]:
    """Point an MNIST source at --data-dir, or download into the cache when the files are missing."""
    from nnbench.data import mnist

    if source.get("kind") != "mnist":
        return source
    if args.data_dir:
        keep = {k: v for k, v in source.items() if k in ("subset", "test_subset", "split")}
        return {"kind": "mnist", "path": str(Path(args.data_dir)), **keep}
    if source.get("cache") is True:
        cache = mnist.default_cache_dir()
        have_test = all((cache / f).is_file() or (cache / f.removesuffix(".gz")).is_file()
                        for f in (mnist.TEST_IMAGES, mnist.TEST_LABELS))
        if not have_test:
            mirror = args.mnist_mirror or mnist.DEFAULT_MIRROR
            print(f"MNIST is not in {cache}; downloading from {mirror}", file=out)
            mnist.download_mnist(cache, mirror=mirror, progress=_DownloadProgress(sys.stderr))
    return source


def _train(args: argparse.Namespace) -> int:
    from nnbench.experiment import compare_gradients

    out = sys.stdout
    exp = resolve(args.experiment)
    changes: dict[str, Any] = {}
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.lr is not None:
        changes["lr"] = args.lr
    if args.regularization is not None:
        changes["regularization"] = args.regularization
    if args.reg_rate is not None:
        changes["reg_rate"] = args.reg_rate
    if changes:
        exp = exp.with_training(**changes)
    if args.seed is not None and exp.saved is None:
        exp = exp.replace(net_seed=args.seed)
    if args.features is not None:
        if exp.saved is not None:
            raise UsageError("--features changes the network's first layer: it applies to a preset or an "
                             "experiment .json, not to trained weights")
        names = tuple(n.strip() for n in args.features.split(",") if n.strip())
        exp = exp.replace(network=dataclasses.replace(exp.network, features=names))
    exp = exp.replace(dataset=_mnist_source(exp.dataset, args, out))

    gradients = args.gradients or exp.training.gradients
    if gradients == "numerical":
        if args.save:
            raise UsageError("--save does not apply to --gradients numerical (a timing comparison)")
        with _blas_threads(args.threads):
            return _numerical(exp, args, out, compare_gradients)
    with _blas_threads(args.threads):
        return _run(exp, args, out)


def _blas_threads(n: int):
    """Limit BLAS threads while training (0: leave the library's default)."""
    import contextlib

    if not n:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")


def _run(exp, args: argparse.Namespace, out: TextIO) -> int:
    from nnbench.bench import Bench
    from nnbench.commands import Save

    bench = Bench.from_experiment(exp)
    ds, net, trainer = bench.dataset, bench.net, bench.trainer
    every = args.every or exp.report_every or max(1, exp.training.epochs // 10)
    name = exp.name
    start_epoch = trainer.epoch
    print(f"training {name}: {net!r} on {ds.name} ({len(ds.x_train)} training rows), "
          f"{exp.training.epochs} epoch(s)"
          + (f", continuing from epoch {start_epoch}" if start_epoch else ""),
          file=out)
    bar = _Progress(exp.training.epochs, sys.stderr) if _is_tty(sys.stderr) and not args.json else None
    started = time.perf_counter()
    target = start_epoch + exp.training.epochs
    try:
        if exp.training.epochs > 0:
            for step in bench.steps():
                if bar is not None:
                    bar.update(step.epoch - start_epoch, step.loss)
                if step.epoch_end:
                    done = step.epoch - start_epoch
                    if done % every == 0 or step.epoch >= target:
                        if bar is not None:
                            bar.clear()
                        print(_epoch_line(trainer), file=out, flush=True)
                    if step.epoch >= target:
                        break
    finally:
        if bar is not None:
            bar.clear()
    seconds = time.perf_counter() - started
    if args.save:
        bench.apply(Save(args.save))
        print(f"saved to {args.save}", file=out)
    metrics = _metrics(trainer, exp.training.epochs, seconds)
    print(_summary(metrics), file=out)
    if args.json:
        print(json.dumps(metrics), file=out)
    return 0


def _numerical(exp, args: argparse.Namespace, out: TextIO, compare) -> int:
    print(f"{exp.name}: {exp.network.n_params()} weights, numerical gradients take two forward passes "
          f"each; timing {args.steps} step(s) on {args.rows} row(s)...", file=out, flush=True)
    r = compare(exp, rows=max(args.rows, 1), steps=max(args.steps, 1))
    print(f"numerical: {r['numerical_s_per_step']:.3f} s per step", file=out)
    print(f"backprop:  {r['backprop_s_per_step'] * 1e6:.0f} us per step", file=out)
    print(f"numerical gradients are {r['slowdown']:,.0f} times slower; largest relative difference between "
          f"the two gradients: {r['max_relative_difference']:.2e}", file=out)
    if args.json:
        print(json.dumps(r), file=out)
    return 0


def _epoch_line(trainer) -> str:
    h = trainer.history
    parts = [f"epoch {trainer.epoch}", f"loss {h.last('train_loss'):.6g}"]
    for key, label in (("train_acc", "acc"), ("test_loss", "test loss"), ("test_acc", "test acc")):
        value = h.last(key)
        if math.isfinite(value):
            parts.append(f"{label} {value:.4f}" if "acc" in key else f"{label} {value:.6g}")
    return "  ".join(parts)


def _metrics(trainer, epochs: int, seconds: float) -> dict[str, Any]:
    h = trainer.history
    metrics: dict[str, Any] = {"epochs": trainer.epoch, "epochs_run": epochs, "steps": trainer.step_count,
                               "seconds": round(seconds, 4)}
    for key, name in (("train_loss", "loss"), ("train_acc", "accuracy"), ("test_loss", "test_loss"),
                      ("test_acc", "test_accuracy")):
        value = h.last(key)
        if math.isfinite(value):
            metrics[name] = value
    return metrics


def _summary(m: dict[str, Any]) -> str:
    parts = [f"done: {m['epochs_run']} epoch(s) in {m['seconds']:.2f} s (epoch {m['epochs']})"]
    if "loss" in m:
        parts.append(f"loss {m['loss']:.6g}")
    if "accuracy" in m:
        parts.append(f"accuracy {m['accuracy']:.4f}")
    if "test_accuracy" in m:
        parts.append(f"test accuracy {m['test_accuracy']:.4f}")
    return ", ".join(parts)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _Progress:
    """A one-line bar on a terminal, redrawn at most 10 times a second."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream, self.last = max(total, 1), stream, 0.0

    def update(self, done: int, loss: float) -> None:
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        frac = min(done / self.total, 1.0)
        filled = int(30 * frac)
        self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {frac:4.0%} epoch {done}/{self.total}"
                          f"  loss {loss:.4g} ")
        self.stream.flush()

    def clear(self) -> None:
        self.stream.write("\r\x1b[K")
        self.stream.flush()


class _DownloadProgress:
    """Download progress on stderr: one line redrawn on a terminal (10 times a second at most),
    otherwise a line when a file starts, every 5 s and when it is complete."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.tty = stream, _is_tty(stream)
        self.name: str | None = None
        self.started = self.last = 0.0

    def __call__(self, name: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        first, complete = name != self.name, total is not None and done >= total
        if first:
            self.name, self.started, self.last = name, now, 0.0
        if not (first or complete or now - self.last >= (0.1 if self.tty else 5.0)):
            return
        self.last = now
        if not total:
            size = f"{done:,} B"
        elif total < 1e6:
            size = f"{done:,} of {total:,} B"
        else:
            size = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB ({done / total:.0%})"
        elapsed = now - self.started
        rate = f", {done / elapsed / 1e3:.1f} kB/s" if elapsed >= 1 else ""
        line = f"  {name}: {size}, {elapsed:.0f} s{rate}"
        if self.tty:
            self.stream.write("\r\x1b[K" + line + ("\n" if complete else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


# ---- predict -----------------------------------------------------------------------------------


def _predict(args: argparse.Namespace) -> int:
    from nnbench.errors import SpecError

    exp = _network_file(args.experiment)
    if exp is None:  # a network without a dataset record (.npz or .onnx): nothing else is needed
        from types import SimpleNamespace

        saved = _bare_network(args.experiment)
        exp = SimpleNamespace(saved=saved, network=saved.spec)
    rows = []
    for text in args.input:
        try:
            rows.append([float(v) for v in text.replace(";", ",").split(",") if v.strip()])
        except ValueError:
            raise UsageError(f"--input {quote(text)}: give numbers separated by commas") from None
    if any(len(r) != len(rows[0]) for r in rows):
        raise UsageError("every --input row needs the same number of values")
    net = exp.saved.network() if exp.saved is not None else None
    if net is None:
        from nnbench.engine import Network
        from nnbench.engine.memory import check_memory

        check_memory(exp.network, batch=len(rows), optimizer=None)
        print("note: this experiment is not trained; the outputs come from its initial weights",
              file=sys.stderr)
        net = Network(exp.network, np.random.default_rng(exp.net_seed))
    x = np.array(rows, dtype=float)
    if not np.all(np.isfinite(x)):
        raise SpecError("inputs must be finite numbers")
    y = net.predict(x)
    if args.json:
        print(json.dumps({"outputs": y.tolist()}))
        return 0
    softmax = exp.network.output.activation == "softmax"
    for row, out in zip(rows, y, strict=True):
        values = " ".join(f"{v:.6g}" for v in out)
        extra = f"  (class {int(np.argmax(out))})" if softmax else ""
        print(f"{','.join(f'{v:g}' for v in row)} -> {values}{extra}")
    return 0


# ---- export ------------------------------------------------------------------------------------


def _export(args: argparse.Namespace) -> int:
    from nnbench import export

    want = export.SUFFIXES[args.to]
    if Path(args.out).suffix.lower() != want:
        raise UsageError(f"--to {args.to} writes a {want} file; --out {args.out!r} does not end in {want}")
    exp = _network_file(args.experiment)
    if exp is None:  # a network that records no dataset: the network alone
        net = _bare_network(args.experiment).network()
        written = export.export(net, args.to, args.out, name=Path(args.experiment).stem)
        scaling = None
    else:
        net, trained = export.network_of(exp)
        if not trained:
            print("note: this experiment is not trained; the export holds its initial weights",
                  file=sys.stderr)
        written = export.export_experiment(exp, args.to, args.out, scaling=not args.no_input_scaling)
        scaling = export.from_source(exp.dataset, net.n_inputs)
    print(f"wrote {' and '.join(str(p) for p in written)}")
    if scaling is None:
        takes = "takes the rows the network takes (its dataset records no input scaling)"
    elif args.no_input_scaling:
        takes = f"takes the rows the network takes, already scaled ({scaling.describe()})"
    else:
        takes = f"takes rows as the data file holds them, scaled inside: {scaling.describe()}"
    print(f"{net!r} {takes}")
    if args.to == "onnx":
        from nnbench.export import onnx_io

        print(onnx_io.describe(written[0]))
    return 0


def _network_file(spec: str):
    """As :func:`resolve`, or None for a file that holds a network and no dataset record (a bare
    .npz network, an ONNX file from elsewhere): see :func:`_bare_network`."""
    return None if _bare_network(spec) is not None else resolve(spec)


def _bare_network(spec: str):
    """The checked network of an .npz or .onnx file without a dataset record, else None."""
    from nnbench.engine import files
    from nnbench.export import read_onnx_network

    path = Path(spec)
    if not path.is_file():  # also no FIFO: resolve() says what is wrong
        return None
    if path.suffix.lower() == ".onnx":
        saved = read_onnx_network(path)
    else:
        with open(path, "rb") as f:
            if f.read(2) != b"PK":
                return None
        saved = files.load(path)
    return saved if saved.dataset is None else None


# ---- bench -------------------------------------------------------------------------------------


def _bench(args: argparse.Namespace) -> int:
    import importlib.util

    from nnbench import resources
    from nnbench.errors import NnbenchError

    path = resources.benchmark_path("bench_engine.py")
    if not path.is_file():
        raise NnbenchError(f"the benchmark script is not installed ({path}); run it from a source checkout")
    spec = importlib.util.spec_from_file_location("nnbench_bench_engine", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        threads = [int(t) for t in args.threads.split(",") if t.strip()]
    except ValueError:
        raise UsageError(f"--threads {quote(args.threads)}: give thread counts like 1,2") from None
    if not threads or any(t < 1 for t in threads):
        raise UsageError("--threads needs counts >= 1")
    return int(module.main(threads=threads, quick=args.quick, torch=not args.no_torch,
                           with_memory=not args.no_memory) or 0)



# ---- look inside the learning: gradcheck, lr-find, curvature -----------------------------------


def _inspect_parsers(sub) -> None:
    def common(q, rows_help: str) -> None:
        q.add_argument("experiment", metavar="PRESET_OR_FILE")
        q.add_argument("--train", type=_count, default=0, metavar="EPOCHS",
                       help="train this many epochs first (default 0: the file's weights as they are)")
        q.add_argument("--rows", type=_count, help=rows_help)
        q.add_argument("--plot", metavar="PNG", help="write the plot to this PNG file")
        q.add_argument("--json", action="store_true", help="print the numbers as JSON on the last line")
        q.add_argument("--data-dir", metavar="DIR", help="read MNIST from DIR instead of the download cache")

    g = sub.add_parser("gradcheck", help="check backprop against finite differences, layer by layer")
    common(g, "training rows to check on (default: one batch of the experiment)")
    g.add_argument("--per-layer", type=_count, metavar="N",
                   help="check at most N weights per layer (default: all, or 40 for big networks)")
    lf = sub.add_parser("lr-find", help="the learning-rate finder on a copy of the network")
    common(lf, "training rows to draw batches from (default: enough for the steps)")
    lf.add_argument("--min", type=float, default=1e-4, dest="lr_min", help="first rate (default 1e-4)")
    lf.add_argument("--max", type=float, default=10.0, dest="lr_max", help="last rate (default 10)")
    lf.add_argument("--steps", type=_count, default=100, help="batches, one rate each (default 100)")
    c = sub.add_parser("curvature", help="top eigenvalue of the loss Hessian, stability limit 2/lambda")
    common(c, "training rows for the Hessian (default: one batch of the experiment)")
    c.add_argument("--iters", type=_count, default=100, help="power iterations at most (default 100)")
    c.add_argument("--dense", action="store_true", help="also form the whole Hessian (small networks)")
    c.add_argument("--every", type=_count, metavar="N",
                   help="train the experiment's epochs (or --train) and measure every N epochs")


def _inspect_bench(args: argparse.Namespace, out: TextIO, train: bool = True):
    """The experiment as a bench, trained ``--train`` epochs first."""
    from nnbench import commands as cmd
    from nnbench.bench import Bench

    _check_plot(args)
    exp = resolve(args.experiment)
    ns = argparse.Namespace(data_dir=args.data_dir, mnist_mirror=None)
    exp = exp.replace(dataset=_mnist_source(exp.dataset, ns, out))
    bench = Bench.from_experiment(exp)
    if train and args.train:
        with _blas_threads(1):
            bench.apply(cmd.Step(args.train))
            stopped = bench.run_until_stopped(timeout=3600)
        if stopped and stopped[0].reason == "diverged":
            from nnbench.errors import TrainingDiverged

            raise TrainingDiverged(stopped[0].text, bench.epoch, 0)
    return bench


def _inspect_rows(bench, rows: int | None, default_cap: int = 256) -> int:
    if rows:
        return rows
    bs = bench.config.batch_size
    return min(bs if bs else len(bench.dataset.x_train), default_cap)


def _described(bench) -> str:
    return f"{bench.meta.name if bench.meta else bench.dataset.name}: {bench.net!r}, epoch {bench.epoch}"


def _gradcheck(args: argparse.Namespace) -> int:
    from nnbench.inspect import gradcheck, training_batch
    from nnbench.inspect.figures import gradcheck_figure

    out = sys.stdout
    bench = _inspect_bench(args, out)
    x, y = training_batch(bench.dataset, _inspect_rows(bench, args.rows))
    n_params = bench.spec.n_params()
    per_layer = args.per_layer if args.per_layer is not None else (0 if n_params <= 2000 else 40)
    print(f"gradcheck {_described(bench)}, on {len(x)} row(s), float64, central differences "
          f"h={gradcheck.H:g}", file=out, flush=True)
    r = gradcheck.check(bench.net, bench.config.loss, x, y, per_layer=per_layer)
    for layer in r.layers:
        print(f"layer {layer.number}  {layer.checked:>6} of {layer.total:<6} weights  max relative error "
              f"{layer.error:.2e}  {gradcheck.VERDICTS[layer.verdict]}", file=out)
    print(f"verdict: {gradcheck.VERDICTS[r.verdict]} (max relative error {r.error:.2e})", file=out)
    if args.plot:
        _save_plot(args.plot, gradcheck_figure(r), out)
    if args.json:
        layers = [{"layer": la.number, "checked": la.checked, "total": la.total, "error": la.error,
                   "verdict": la.verdict} for la in r.layers]
        print(json.dumps({"verdict": r.verdict, "max_relative_error": r.error, "rows": r.rows, "h": r.h,
                          "layers": layers}), file=out)
    return EXIT_GRADIENTS_WRONG if r.verdict == "wrong" else 0


def _lr_find(args: argparse.Namespace) -> int:
    from nnbench.inspect import lr_finder, training_batch
    from nnbench.inspect.figures import lr_figure

    out = sys.stdout
    if not (0 < args.lr_min < args.lr_max <= 1e4):
        raise UsageError("--min and --max need 0 < min < max <= 10000")
    bench = _inspect_bench(args, out)
    bs = bench.config.batch_size or len(bench.dataset.x_train)
    x, y = training_batch(bench.dataset, args.rows or bs * max(args.steps, 2))
    print(f"lr-find {_described(bench)}, {bench.config.optimizer}, batches of {min(bs, len(x))} from "
          f"{len(x)} row(s), rates {args.lr_min:g} to {args.lr_max:g} over {args.steps} batches (on a copy)",
          file=out, flush=True)
    with _blas_threads(1):
        r = lr_finder.find(bench.net, bench.config, x, y, lr_min=args.lr_min, lr_max=args.lr_max,
                           steps=args.steps)
    step = max(1, len(r.lrs) // 10)
    for lr, loss, sm in list(zip(r.lrs, r.losses, r.smoothed, strict=True))[::step]:
        print(f"lr {lr:10.4g}  loss {loss:10.5g}  smoothed {sm:10.5g}", file=out)
    print(f"stopped: {r.stopped} after {len(r.lrs)} batch(es), at lr {r.lrs[-1]:.4g}", file=out)
    if math.isfinite(r.suggested):
        print(f"suggested learning rate: {r.suggested:.4g} (steepest fall of the loss; the experiment uses "
              f"{bench.config.lr:g})", file=out)
        if r.stopped == "last rate":
            print(f"note: the loss was still falling at the last rate: try a higher --max than "
                  f"{args.lr_max:g}", file=out)
    else:
        print("no suggestion: the loss did not fall before it rose (try a lower --min)", file=out)
    if args.plot:
        _save_plot(args.plot, lr_figure(r, bench.config.lr), out)
    if args.json:
        suggested = r.suggested if math.isfinite(r.suggested) else None
        print(json.dumps({"suggested": suggested, "stopped": r.stopped, "lrs": r.lrs.tolist(),
                          "losses": r.losses.tolist(), "smoothed": r.smoothed.tolist()}), file=out)
    return 0


def _curvature(args: argparse.Namespace) -> int:
    from nnbench import commands as cmd
    from nnbench.inspect import curvature, training_batch
    from nnbench.inspect.figures import curvature_figure, power_figure

    out = sys.stdout
    every = args.every
    bench = _inspect_bench(args, out, train=not every)
    x, y = training_batch(bench.dataset, _inspect_rows(bench, args.rows))
    l2 = bench.config.reg_rate if bench.config.regularization == "l2" else 0.0

    def measure():
        f = curvature.LossFunction(bench.net, bench.config.loss, x, y, l2=l2)
        with _blas_threads(1):
            return f, curvature.top_eigenvalue(f, iters=max(args.iters, 1), tol=1e-6)

    print(f"curvature {_described(bench)}, on {len(x)} row(s), float64, power iteration on Hessian-vector "
          f"products (central differences of gradients)", file=out, flush=True)
    if not every:
        f, c = measure()
        lr = bench.config.lr
        print(f"lambda_max {c.lambda_max:.6g} after {c.iterations} iteration(s)"
              + ("" if c.converged else " (not converged)"), file=out)
        print(f"stability limit 2/lambda_max {c.stability_limit:.6g}; learning rate {lr:g} is "
              + ("below it" if lr < c.stability_limit
                 else "ABOVE it: plain gradient descent oscillates here"), file=out)
        result = {"lambda_max": c.lambda_max, "stability_limit": c.stability_limit,
                  "iterations": c.iterations, "converged": c.converged, "lr": lr}
        if args.dense:
            d = curvature.dense_top_eigenvalue(f)
            rel = abs(d.lambda_max - c.lambda_max) / max(abs(d.lambda_max), 1e-300)
            print(f"dense Hessian ({f.size} x {f.size}): lambda_max {d.lambda_max:.6g}, relative difference "
                  f"{rel:.1e}", file=out)
            result["dense_lambda_max"] = d.lambda_max
        if args.plot:
            _save_plot(args.plot, power_figure(c), out)
    else:
        epochs = args.train or bench.config.epochs
        if not epochs:
            raise UsageError("--every needs epochs to train: give --train N (the experiment sets no limit)")
        rows: list[dict[str, float]] = []
        while True:
            _f, c = measure()
            rows.append({"epoch": bench.epoch, "lambda_max": c.lambda_max,
                         "stability_limit": c.stability_limit, "lr": bench.config.lr,
                         "loss": float(bench.trainer.history.last("train_loss"))})
            print(f"epoch {bench.epoch:>6}  lambda_max {c.lambda_max:10.5g}  2/lambda "
                  f"{c.stability_limit:10.5g}  lr {bench.config.lr:g}", file=out, flush=True)
            if bench.epoch >= epochs:
                break
            with _blas_threads(1):
                bench.apply(cmd.Step(min(every, epochs - bench.epoch)))
                stopped = bench.run_until_stopped(timeout=3600)
            if stopped and stopped[0].reason == "diverged":
                print(f"training diverged at epoch {bench.epoch}", file=out)
                break
        result = {"every": rows}
        if args.plot:
            _save_plot(args.plot, curvature_figure(rows), out)
    if args.json:
        print(json.dumps(result), file=out)
    return 0


def _check_plot(args: argparse.Namespace) -> None:
    """Before any work: --plot draws with pyqtgraph, so Qt must be importable."""
    if not getattr(args, "plot", None):
        return
    try:
        import pyqtgraph  # noqa: F401
        import PySide6.QtWidgets  # noqa: F401
    except ImportError as e:
        from nnbench.errors import NnbenchError

        raise NnbenchError(f"--plot needs PySide6 and pyqtgraph ({e}); without --plot the numbers "
                           "need neither") from None


def _save_plot(path: str, figure, out: TextIO) -> None:
    from nnbench.ui.plot_export import save_png

    save_png(path, figure)
    print(f"plot written to {path}", file=out)


INSPECT_COMMANDS = {"gradcheck": _gradcheck, "lr-find": _lr_find, "curvature": _curvature}


# ---- sweep -------------------------------------------------------------------------------------


def _add_sweep_parser(sub) -> None:
    s = sub.add_parser("sweep", help="train every cell of a grid of settings, times every seed")
    s.add_argument("experiment", metavar="EXPERIMENT", help="a preset name or an experiment file")
    s.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2,...",
                   help="a setting and its values (lr, momentum, batch_size, reg_rate, optimizer, "
                        "regularization, hidden, activation, init, noise, n); repeat for more")
    s.add_argument("--seeds", type=_count, default=10, help="seeds per cell (default 10, at most 256)")
    s.add_argument("--first-seed", type=_count, default=0, help="the first seed (default 0)")
    s.add_argument("--epochs", type=_count, help="epochs per run (default: the experiment's)")
    s.add_argument("--out", metavar="FILE", help="results table (.csv, else JSON); a rerun skips the cells "
                                                   "it already holds")
    s.add_argument("--executor", default="local", metavar="local|serial|dask://HOST:PORT",
                   help="where cells run (default local: a process per core)")
    s.add_argument("--workers", type=_count, help="local processes (default: one per core)")
    s.add_argument("--target", metavar="METRIC>=VALUE",
                   help="what counts as reached, e.g. test_acc>=0.95 (default: the experiment's expect, "
                        "else 95%% accuracy)")
    s.add_argument("--heatmap", metavar="PNG", help="save a heatmap of --metric over the first two swept "
                                                    "settings (median over seeds)")
    s.add_argument("--metric", help="the heatmap's column (default final_test_acc, or final_train_acc, or "
                                    "the final loss for regression)")
    s.add_argument("--json", action="store_true", help="print every row as JSON on the last line")


def _sweep(args: argparse.Namespace) -> int:
    from nnbench import sweep as sw

    exp = resolve(args.experiment)
    grid = sw.parse_grid(args.grid)
    if args.heatmap and not grid:
        raise UsageError("--heatmap needs at least one --grid setting")
    if not 1 <= args.seeds <= sw.MAX_SEEDS:
        raise UsageError(f"--seeds {args.seeds}: give 1 to {sw.MAX_SEEDS}")
    epochs = exp.training.epochs if args.epochs is None else args.epochs
    ds = exp.make_dataset()
    has_test = not (ds.x_test.shape == ds.x_train.shape and np.array_equal(ds.x_test, ds.x_train)) \
        and len(ds.x_test) > 0
    classify = ds.task == "classification"
    target = sw.parse_target(args.target) if args.target else sw.default_target(exp, has_test, classify)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    sweep = sw.Sweep(exp, grid, tuple(seeds), epochs, target)
    executor = sw.executor_for(args.executor, args.workers)
    metric = args.metric or (("final_test_acc" if has_test else "final_train_acc") if classify
                             else ("final_test_loss" if has_test else "final_train_loss"))
    if metric not in sweep.columns():
        raise UsageError(f"--metric {metric!r}: not a column; columns: {', '.join(sweep.columns())}")
    n = len(sweep.cells)
    print(f"sweep {exp.name}: {n} cell(s) x {len(sweep.seeds)} seed(s), {epochs} epoch(s) each, on "
          f"{executor.name}" + (f"; target {target}" if target else ""), flush=True)
    started = time.perf_counter()

    def progress(p) -> None:
        if p.last is None:
            if p.skipped:
                print(f"{p.skipped} cell(s) already in {args.out}: skipped", flush=True)
            return
        cell = sweep.cells[p.last["cell"]]
        rows = p.last["rows"]
        where = " ".join(f"{k}={sw.value_text(v)}" for k, v in cell.items()) or "the experiment"
        hit = sum(r["epochs_to_target"] is not None for r in rows)
        values = [r[metric] for r in rows if r.get(metric) is not None]
        median = f", median {metric} {np.median(values):.4g}" if values else ""
        reach = f": {hit} of {len(rows)} seeds reached the target" if target else ""
        print(f"[{p.done}/{p.total}] {where}{reach}{median} ({p.last['seconds']:.2f} s)", flush=True)

    rows = sw.run_sweep(sweep, executor, out=args.out, progress=progress)
    seconds = time.perf_counter() - started
    hit, total = sw.reached(rows)
    line = f"done: {len(rows)} run(s) in {seconds:.2f} s"
    if target:
        line += f"; {hit} of {total} reached {target}"
    print(line + (f"; results in {args.out}" if args.out else ""))
    if args.heatmap:
        try:
            from nnbench.ui.sweep_dialog import save_heatmap
        except ImportError as e:
            from nnbench.errors import NnbenchError

            raise NnbenchError(f"the heatmap is drawn with Qt, which cannot be loaded here ({e}); "
                               f"the results are saved{' in ' + args.out if args.out else ''}") from None

        values, xs, ys, xname, yname = sw.heatmap(sweep, rows, metric)
        save_heatmap(args.heatmap, values, xs, ys, xname, yname, f"{exp.name}: median {metric}")
        print(f"heatmap saved to {args.heatmap}")
    if args.json:
        print(json.dumps(rows))
    return 0


# ---- history -----------------------------------------------------------------------------------


def _history(args: argparse.Namespace) -> int:
    """The runs of a saved experiment: a table, or their per-epoch history as CSV."""
    from nnbench.engine.files import write_atomic
    from nnbench.history import read_runs, runs_csv

    runs, histories = read_runs(args.file)
    if args.csv:
        text = runs_csv(runs, histories)
        if args.csv == "-":
            sys.stdout.write(text)
        else:
            write_atomic(Path(args.csv), text.encode("utf-8"))
            print(f"wrote {sum(len(h['epoch']) for h in histories.values()):,} rows of {len(runs)} run(s) "
                  f"to {args.csv}")
        return 0
    head = ("run", "name", "from", "epochs", "best loss", "best acc", "time", "differs from its parent")
    rows = []
    for r in runs:
        parent = r.parent if r.parent is not None else "?"
        origin = "-" if r.branch_epoch is None else f"{parent}@{r.branch_epoch}"
        rows.append((f"{r.id}{' *' if r.live else ''}", r.name, origin, f"{r.epochs:,}",
                     "" if math.isnan(r.best_loss) else f"{r.best_loss:.4g}",
                     "" if math.isnan(r.best_acc) else f"{100 * r.best_acc:.1f} %", f"{r.seconds:.1f} s",
                     ", ".join(f"{k} {v}" for k, v in r.changes.items())))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    for row in (head, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)).rstrip())
    print("* the live run (the file's own network)")
    return 0
