"""Tiny hand-written tables (the perceptron and XOR exercises, height and weight) and edited ones.

A table is its own source: ``table_source(name)`` gives the rows in the form the GUI's editor
shows, and ``table_from_rows`` turns edited rows back into a Dataset whose source holds them.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from nnbench.data.arrays import check_split_params, class_targets, shuffle_split
from nnbench.data.dataset import Dataset, Task
from nnbench.engine.memory import check_bytes
from nnbench.engine.spec import MAX_UNITS
from nnbench.errors import SpecError, quote

# A class per output neuron: a table may not ask for more classes than a layer can have.
MAX_CLASSES = MAX_UNITS

TABLES: dict[str, str] = {
    "perceptron": "Perceptron (3 inputs, 4 rows)",
    "xor3": "XOR with a bias input (4 rows)",
    "height-weight": "Height and weight (4 people)",
    "height-weight-noisy": "Height and weight (80 people, noisy)",
}


def _noisy_people() -> list[list[float]]:
    # Fixed, not user-seeded: the table must be the same on every machine and every run.
    rng = np.random.default_rng(135)
    rows = []
    for label, (w, h) in ((0, (20.0, 3.5)), (1, (-15.0, -3.5))):  # 0 male, 1 female
        weight = np.round(rng.normal(w, 14.0, 40))
        height = np.round(rng.normal(h, 2.6, 40), 1)
        rows += [[float(a), float(b), label] for a, b in zip(weight, height, strict=True)]
    return rows


_SPECS: dict[str, dict[str, Any]] = {
    "perceptron": {
        "columns": ["X1", "X2", "X3", "Y"],
        "rows": [[0, 0, 1, 0], [1, 1, 1, 1], [1, 0, 1, 1], [0, 1, 1, 0]],
    },
    "xor3": {
        "columns": ["X1", "X2", "X3", "Y"],
        "rows": [[0, 0, 1, 0], [0, 1, 1, 1], [1, 0, 1, 1], [1, 1, 1, 0]],
    },
    "height-weight": {
        # centred: weight - 135 lb, height - 66 in
        "columns": ["weight", "height", "gender"],
        "rows": [[-2, -1, 1], [25, 6, 0], [17, 4, 0], [-15, -6, 1]],
        "row_labels": ["Alice", "Bob", "Charlie", "Diana"],
        "target_names": ["male", "female"],
    },
    "height-weight-noisy": {
        "columns": ["weight", "height", "gender"],
        "rows": _noisy_people(),
        "target_names": ["male", "female"],
        "test_fraction": 0.25,
    },
}


def table_source(name: str) -> dict[str, Any]:
    """The full, editable source of built-in table ``name`` (columns, rows, task...)."""
    if name not in _SPECS:
        raise SpecError(f"unknown table {quote(name)}; choose one of {', '.join(TABLES)}")
    spec = _SPECS[name]
    out: dict[str, Any] = {"kind": "table", "name": name, "task": "classification"}
    out["n_features"] = len(spec["columns"]) - 1
    out.update({k: list(v) if isinstance(v, list) else v for k, v in spec.items()})
    out["rows"] = [list(r) for r in spec["rows"]]
    return out


def table(name: str) -> Dataset:
    """Built-in table ``name`` (see ``TABLES``); its source is just the name."""
    src = table_source(name)
    src.pop("kind")
    # the rows are built in, so the name alone rebuilds the table
    return replace(table_from_rows(**src), source={"kind": "table", "name": name})


def _number(value: Any, row: int, column: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(f"row {row}, column {quote(column)}: {quote(value)} is not a finite number")
    return float(value)


def table_from_rows(
    name: str,
    columns: list[str],
    rows: list[list[float]],
    task: Task = "classification",
    n_features: int | None = None,
    row_labels: list[str] | None = None,
    target_names: list[str] | None = None,
    test_fraction: float = 0.0,
    seed: int = 0,
) -> Dataset:
    """A Dataset from table rows: the first ``n_features`` columns are inputs, the rest targets.

    Classification takes one target column of class numbers 0..k-1. With ``test_fraction`` 0
    (tiny tables) the test set is the training set.
    """
    columns = [str(c) for c in columns]
    n_features = len(columns) - 1 if n_features is None else n_features
    if not 1 <= n_features < len(columns):
        raise SpecError(f"table {quote(name)}: {n_features} input columns of {len(columns)} leaves no target")
    if task not in ("classification", "regression"):
        raise SpecError(f"table {quote(name)}: task must be 'classification' or 'regression', "
                        f"got {quote(task)}")
    if task == "classification" and len(columns) - n_features != 1:
        raise SpecError(f"table {quote(name)}: a classification table needs exactly one target column")
    if not rows:
        raise SpecError(f"table {quote(name)} has no rows")
    for i, r in enumerate(rows, 1):
        if len(r) != len(columns):
            raise SpecError(f"table {quote(name)}, row {i}: {len(r)} values for {len(columns)} columns")
    if row_labels is not None and len(row_labels) != len(rows):
        raise SpecError(f"table {quote(name)}: {len(row_labels)} row labels for {len(rows)} rows")
    check_split_params(test_fraction, seed)
    data = np.array(
        [[_number(v, i, c) for v, c in zip(r, columns, strict=True)] for i, r in enumerate(rows, 1)]
    )
    x, y = data[:, :n_features], data[:, n_features:]
    targets = tuple(columns[n_features:])
    if task == "classification":
        y, targets = _classes(name, y[:, 0], target_names)
    source: dict[str, Any] = {
        "kind": "table",
        "name": name,
        "columns": columns,
        "rows": [list(r) for r in rows],
        "task": task,
        "n_features": n_features,
    }
    if row_labels is not None:
        source["row_labels"] = [str(s) for s in row_labels]
    if target_names is not None:
        source["target_names"] = [str(s) for s in target_names]
    if test_fraction:
        source.update(test_fraction=float(test_fraction), seed=int(seed))
        x_train, y_train, x_test, y_test = shuffle_split(x, y, test_fraction, np.random.default_rng(seed))
        labels = None  # names no longer line up with shuffled rows
    else:
        x_train, y_train, x_test, y_test = x, y, x.copy(), y.copy()
        labels = tuple(source["row_labels"]) if row_labels is not None else None
    return Dataset(
        name=name,
        task=task,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        feature_names=tuple(columns[:n_features]),
        target_names=targets,
        source=source,
        row_labels=labels,
    )


def _classes(name: str, values: np.ndarray, names: list[str] | None) -> tuple[np.ndarray, tuple[str, ...]]:
    if np.any(values < 0) or np.any(values != np.round(values)):
        raise SpecError(f"table {quote(name)}: class numbers must be whole numbers 0, 1, 2...")
    # The one-hot targets are rows x classes: bound the classes before allocating them.
    if values.max() >= MAX_CLASSES or len(names or ()) > MAX_CLASSES:
        raise SpecError(f"table {quote(name)}: class numbers go up to {values.max():.0f}, but a table may "
                        f"have at most {MAX_CLASSES:,} classes (one output neuron each)")
    k = max(2, int(values.max()) + 1, len(names or ()))
    check_bytes(3 * len(values) * k * 8,
                f"the targets of table {quote(name)} ({len(values):,} rows, {k:,} classes)")
    if names is not None and len(names) != k:
        raise SpecError(f"table {quote(name)}: {len(names)} class names for {k} classes")
    return class_targets(values.astype(np.int64), k), tuple(names) if names else tuple(
        str(j) for j in range(k)
    )
