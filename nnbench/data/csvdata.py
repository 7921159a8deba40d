"""CSV import: read a table of strings, then turn chosen columns into a Dataset.

Every complaint names the file, the line and the column, so a user can fix the file.
"""

from __future__ import annotations

import csv
import io
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnbench.data.arrays import check_split_params, class_targets, shuffle_split
from nnbench.data.dataset import Dataset, Task
from nnbench.errors import FileFormatError, SpecError

MAX_BYTES = 200 * 1024 * 1024
MAX_CLASSES = 100
AUTO_MAX_CLASSES = 20  # an integer target with more distinct values is taken as regression
DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class CsvTable:
    """A CSV file as strings: ``rows[i]`` came from file line ``lines[i]``."""

    path: Path
    columns: tuple[str, ...]
    rows: list[list[str]]
    lines: list[int]
    delimiter: str
    has_header: bool


def _number(text: str, delimiter: str) -> float | None:
    text = text.strip()
    if delimiter == ";" and "," in text and "." not in text:
        text = text.replace(",", ".")  # semicolon files usually come with decimal commas
    try:
        return float(text)
    except ValueError:
        return None


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileFormatError(
            f"{name}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 text; save the file as UTF-8"
        ) from None


def _parse(text: str, delimiter: str, name: str) -> tuple[list[list[str]], list[int]]:
    rows, lines = [], []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            if any(cell.strip() for cell in row):  # blank lines separate nothing
                rows.append([cell.strip() for cell in row])
                lines.append(reader.line_num)
    except csv.Error as exc:
        raise FileFormatError(f"{name}: line {reader.line_num}: {exc}") from None
    return rows, lines


def _sniff(text: str) -> str:
    """The delimiter that splits the first lines into the most fields, the same number each."""
    sample = "\n".join(text.splitlines()[:20])
    best, score = ",", (False, 1)
    for d in DELIMITERS:
        try:
            counts = {len(r) for r in csv.reader(io.StringIO(sample), delimiter=d) if r}
        except csv.Error:
            continue
        s = (len(counts) == 1, max(counts, default=1))
        if s[1] > 1 and s > score:
            best, score = d, s
    return best


def _has_header(rows: list[list[str]], delimiter: str) -> bool:
    first, rest = rows[0], rows[1:21]
    if all(_number(c, delimiter) is None for c in first):
        return True
    # a text cell above a column of numbers is a column name
    return any(
        _number(c, delimiter) is None
        and any(j < len(r) and _number(r[j], delimiter) is not None for r in rest)
        for j, c in enumerate(first)
    )


def read_csv_table(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> CsvTable:
    """The file's cells as strings, with the delimiter sniffed and the header detected."""
    path = Path(path)
    name = path.name
    too_large = f"; nnbench reads CSV files up to {max_bytes / 2**20:.0f} MB"
    try:
        st = path.stat()
        # The size on disk is not enough: /dev/zero reports 0 bytes, and opening a FIFO blocks.
        if not stat.S_ISREG(st.st_mode):
            raise FileFormatError(f"{name} is not a regular file")
        if st.st_size > max_bytes:
            raise FileFormatError(f"{name} is {st.st_size / 2**20:.1f} MB{too_large}")
        with open(path, "rb") as f:
            # The reported size first (one right-sized read), then blocks up to the limit, for
            # files that hold more than they report (/proc).
            parts = [f.read(st.st_size + 1)]
            total = len(parts[0])
            while total > st.st_size and total <= max_bytes:
                block = f.read(min(1 << 20, max_bytes + 1 - total))
                if not block:
                    break
                parts.append(block)
                total += len(block)
            data = b"".join(parts)
    except OSError as exc:
        raise FileFormatError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise FileFormatError(f"{name} holds more than {max_bytes / 2**20:.0f} MB{too_large}")
    text = _decode(data, name)
    if not text.strip():
        raise FileFormatError(f"{name} is empty")
    delimiter = _sniff(text)
    rows, lines = _parse(text, delimiter, name)
    header = _has_header(rows, delimiter)
    header_line = lines[0]
    if header:
        columns = tuple(c or f"column {j + 1}" for j, c in enumerate(rows[0]))
        rows, lines = rows[1:], lines[1:]
    else:
        columns = tuple(f"column {j + 1}" for j in range(len(rows[0])))
    seen = set()
    for c in columns:
        if c in seen:
            raise FileFormatError(f"{name}: line {header_line}: column name {c!r} appears twice")
        seen.add(c)
    if not rows:
        raise FileFormatError(f"{name} has a header but no data rows")
    for row, line in zip(rows, lines, strict=True):
        if len(row) != len(columns):
            raise FileFormatError(
                f"{name}: line {line}: {len(row)} values, expected {len(columns)} ({', '.join(columns)})"
            )
    return CsvTable(path, columns, rows, lines, delimiter, header)


def _cell_error(table: CsvTable, i: int, column: str, problem: str) -> FileFormatError:
    return FileFormatError(f"{table.path.name}: line {table.lines[i]}, column {column!r}: {problem}")


def _numbers(table: CsvTable, column: str) -> np.ndarray:
    j = table.columns.index(column)
    out = np.empty(len(table.rows))
    for i, row in enumerate(table.rows):
        cell = row[j]
        if not cell:
            raise _cell_error(table, i, column, "empty value")
        value = _number(cell, table.delimiter)
        if value is None:
            raise _cell_error(table, i, column, f"{cell!r} is not a number")
        if not math.isfinite(value):
            raise _cell_error(table, i, column, f"{cell!r} is not a finite number")
        out[i] = value
    return out


def _class_values(table: CsvTable, column: str) -> list[str]:
    """Target cells as class names; numeric ones normalised so that '1' and '1.0' agree."""
    j = table.columns.index(column)
    out = []
    for i, row in enumerate(table.rows):
        if not row[j]:
            raise _cell_error(table, i, column, "empty value")
        value = _number(row[j], table.delimiter)
        out.append(str(int(value)) if value is not None and value.is_integer() else row[j])
    return out


def _infer_task(table: CsvTable, column: str) -> Task:
    j = table.columns.index(column)
    values = [_number(r[j], table.delimiter) if r[j] else math.nan for r in table.rows]
    if any(v is None for v in values):
        return "classification"  # text: class names
    numbers = [v for v in values if v is not None and not math.isnan(v)]
    if all(v.is_integer() for v in numbers) and len(set(numbers)) <= AUTO_MAX_CLASSES:
        return "classification"
    return "regression"


def _class_key(name: str) -> tuple[int, float, str]:
    try:
        return (0, float(name), name)  # numbers in numeric order, before text
    except ValueError:
        return (1, 0.0, name)


def _classes(table: CsvTable, column: str) -> tuple[np.ndarray, tuple[str, ...]]:
    values = _class_values(table, column)
    names = sorted(set(values), key=_class_key)
    if len(names) < 2:
        raise FileFormatError(
            f"{table.path.name}: column {column!r} has only one class ({names[0]!r}); "
            "classification needs two or more"
        )
    if len(names) > MAX_CLASSES:
        raise FileFormatError(
            f"{table.path.name}: column {column!r} has {len(names)} different values; "
            f"a class column may have at most {MAX_CLASSES} (use regression for a number)"
        )
    index = {n: k for k, n in enumerate(names)}
    return class_targets(np.array([index[v] for v in values]), len(names)), tuple(names)


def dataset_from_csv(
    path: str | os.PathLike[str],
    feature_columns: list[str],
    target_column: str,
    task: Task | None = None,
    standardize: bool = False,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """Columns of a CSV file as a Dataset; ``task=None`` guesses (few whole numbers or text: classes).

    With ``standardize`` the features are scaled by the training split's mean and standard
    deviation, which are kept in ``source`` for scaling new inputs the same way.
    """
    check_split_params(test_fraction, seed)
    if task not in (None, "classification", "regression"):
        raise SpecError(f"task must be 'classification', 'regression' or None, got {task!r}")
    table = read_csv_table(path)
    features = [str(c) for c in feature_columns]
    for c in [*features, target_column]:
        if c not in table.columns:
            raise SpecError(f"{table.path.name} has no column {c!r}; it has {', '.join(table.columns)}")
    if not features or target_column in features or len(set(features)) != len(features):
        raise SpecError("choose one or more distinct feature columns and a different target column")
    if len(table.rows) < 2:
        raise FileFormatError(f"{table.path.name}: needs at least 2 data rows, has {len(table.rows)}")
    x = np.column_stack([_numbers(table, c) for c in features])
    task = task or _infer_task(table, target_column)
    if task == "classification":
        y, target_names = _classes(table, target_column)
    else:
        y, target_names = _numbers(table, target_column).reshape(-1, 1), (target_column,)
    x_train, y_train, x_test, y_test = shuffle_split(x, y, test_fraction, np.random.default_rng(seed))
    source: dict[str, Any] = {
        "kind": "csv",
        "path": str(path),
        "feature_columns": features,
        "target_column": target_column,
        "task": task,
        "standardize": bool(standardize),
        "test_fraction": float(test_fraction),
        "seed": int(seed),
    }
    if standardize:
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        std[std == 0] = 1.0  # a constant column stays constant instead of dividing by zero
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
        source.update(mean=mean.tolist(), std=std.tolist())
    return Dataset(
        name=table.path.stem,
        task=task,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        feature_names=tuple(features),
        target_names=target_names,
        source=source,
    )


def infer_task(table: CsvTable, column: str) -> Task:
    """What ``dataset_from_csv(task=None)`` would choose for target ``column``."""
    return _infer_task(table, column)


def is_numeric_column(table: CsvTable, column: str, max_rows: int | None = None) -> bool:
    """Every non-empty cell of ``column`` (in the first ``max_rows`` rows) reads as a number."""
    j = table.columns.index(column)
    rows = table.rows if max_rows is None else table.rows[:max_rows]
    return all(_number(r[j], table.delimiter) is not None for r in rows if r[j])
