"""``make(source)``: rebuild any Dataset from the JSON-able ``source`` it carries."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from nnbench.data import mnist
from nnbench.data.csvdata import dataset_from_csv
from nnbench.data.dataset import Dataset
from nnbench.data.generators import generate
from nnbench.data.tables import table, table_from_rows
from nnbench.errors import SpecError

KINDS = ("generator", "table", "csv", "mnist")


def _call(kind: str, fn: Callable[..., Dataset], args: dict[str, Any]) -> Dataset:
    try:
        inspect.signature(fn).bind(**args)
    except TypeError as exc:  # a missing or unexpected key in a hand-edited source
        raise SpecError(f"bad {kind} source: {exc}") from None
    return fn(**args)


def make(source: dict[str, Any]) -> Dataset:
    """The Dataset described by ``source`` (a generator, table, CSV file or MNIST copy)."""
    if not isinstance(source, dict):
        raise SpecError(f"a dataset source must be a dict, got {type(source).__name__}")
    kind = source.get("kind")
    if kind not in KINDS:
        raise SpecError(f"unknown dataset source kind {kind!r}; expected one of {', '.join(KINDS)}")
    args = {k: v for k, v in source.items() if k != "kind"}
    if kind in ("generator", "table") and not isinstance(args.get("name"), str):
        raise SpecError(f"a {kind} source needs a 'name' string")
    if kind == "generator":
        return _call(kind, generate, args)
    if kind == "table":
        if "rows" in args:
            return _call(kind, table_from_rows, args)
        if set(args) != {"name"}:
            raise SpecError(f"a built-in table source takes only 'name', got {sorted(args)}")
        return table(args["name"])
    if kind == "csv":
        # mean and std are results of standardising, recomputed from the file
        return _call(kind, dataset_from_csv, {k: v for k, v in args.items() if k not in ("mean", "std")})
    return mnist.dataset_from_source(args)
