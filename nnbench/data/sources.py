"""``make(source)``: rebuild any Dataset from the JSON-able ``source`` it carries.

A source comes from a file a user may have edited, so every field is checked against the
builder's own annotations (``columns: list[str]``...) before the builder runs: a wrong type is a
SpecError naming the field, never a TypeError from deep inside.
"""

from __future__ import annotations

import inspect
import os
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

from nnbench.data import mnist
from nnbench.data.csvdata import dataset_from_csv
from nnbench.data.dataset import Dataset
from nnbench.data.generators import generate
from nnbench.data.tables import table, table_from_rows
from nnbench.errors import SpecError, quote

KINDS = ("generator", "table", "csv", "mnist")
# make()'s MNIST branch takes a mapping; these are its fields (see mnist.dataset_from_source).
# 'path' and 'cache' are checked there, with their own message.
MNIST_FIELDS: dict[str, Any] = {
    "files": list[typing.Optional[str]],  # noqa: UP045 - a runtime type, not an annotation
    "subset": typing.Optional[int],  # noqa: UP045
    "test_subset": typing.Optional[int],  # noqa: UP045
    "split": typing.Optional[list[int]],  # noqa: UP045
}


_NAMES = {str: ("text", "texts"), int: ("a whole number", "whole numbers"), float: ("a number", "numbers"),
          bool: ("true or false", "true or false"), type(None): ("null", "nulls")}


def _describe(kind: Any, plural: bool = False) -> str:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        return " or ".join(dict.fromkeys(_describe(a, plural) for a in args))
    if origin is Literal:
        return " or ".join(repr(a) for a in args)
    if origin is list:
        return ("lists" if plural else "a list") + (f" of {_describe(args[0], True)}" if args else "")
    if kind is os.PathLike or origin is os.PathLike:
        kind = str
    return _NAMES.get(kind, (getattr(kind, "__name__", str(kind)),) * 2)[plural]


def fits(value: Any, kind: Any) -> bool:
    """Whether the JSON value ``value`` is of the annotated type ``kind``."""
    if kind is Any:
        return True
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (Union, types.UnionType):
        return any(fits(value, a) for a in args)
    if origin is Literal:
        return isinstance(value, str) and value in args
    if origin is list:
        return isinstance(value, list) and (not args or all(fits(v, args[0]) for v in value))
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is str or kind is os.PathLike or origin is os.PathLike:
        return isinstance(value, str)
    return isinstance(value, kind) if isinstance(kind, type) else True


def check_fields(kind: str, args: dict[str, Any], fields: dict[str, Any]) -> None:
    """SpecError naming the first field of ``args`` that is not of its type in ``fields``."""
    for key, value in args.items():
        if key in fields and not fits(value, fields[key]):
            raise SpecError(f"bad {kind} source: {key!r} must be {_describe(fields[key])}, "
                            f"got {quote(value)}")


def _call(kind: str, fn: Callable[..., Dataset], args: dict[str, Any]) -> Dataset:
    try:
        inspect.signature(fn).bind(**args)
    except TypeError as exc:  # a missing or unexpected key in a hand-edited source
        raise SpecError(f"bad {kind} source: {exc}") from None
    hints = typing.get_type_hints(fn)
    hints.pop("return", None)
    check_fields(kind, args, hints)
    return fn(**args)


def make(source: dict[str, Any]) -> Dataset:
    """The Dataset described by ``source`` (a generator, table, CSV file or MNIST copy)."""
    if not isinstance(source, dict):
        raise SpecError(f"a dataset source must be a dict, got {type(source).__name__}")
    kind = source.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise SpecError(f"unknown dataset source kind {quote(kind)}; expected one of {', '.join(KINDS)}")
    args = {k: v for k, v in source.items() if k != "kind"}
    if not all(isinstance(k, str) for k in args):
        raise SpecError(f"a {kind} source's fields must be named")
    if kind in ("generator", "table") and not isinstance(args.get("name"), str):
        raise SpecError(f"a {kind} source needs a 'name' string")
    if kind == "generator":
        return _call(kind, generate, args)
    if kind == "table":
        if "rows" in args:
            return _call(kind, table_from_rows, args)
        if set(args) != {"name"}:
            raise SpecError(f"a built-in table source takes only 'name', got {quote(sorted(args))}")
        return table(args["name"])
    if kind == "csv":
        # mean and std are results of standardising, recomputed from the file
        return _call(kind, dataset_from_csv, {k: v for k, v in args.items() if k not in ("mean", "std")})
    check_fields(kind, args, MNIST_FIELDS)
    return mnist.dataset_from_source(args)
