"""CSV import: read a table in one pass, then turn chosen columns into a Dataset.

Every complaint names the file, the line and the column, so a user can fix the file.
The file is read in blocks and each record goes straight into compact arrays (a float per
cell, a small code per cell only in columns that hold text or gaps), so memory follows the
numbers in the file, not Python's per-string overhead, and the time is linear in the cells.
"""

from __future__ import annotations

import csv
import io
import math
import os
import stat
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import methodcaller
from pathlib import Path
from typing import Any

import numpy as np

from nnbench.data.arrays import check_split_params, class_targets, n_test_rows
from nnbench.data.dataset import Dataset, Task
from nnbench.errors import FileFormatError, SpecError

MAX_BYTES = 200 * 1024 * 1024
MAX_CLASSES = 100
AUTO_MAX_CLASSES = 20  # an integer target with more distinct values is taken as regression
DELIMITERS = (",", ";", "\t")
HEAD_ROWS = 1000  # rows kept as the file's own text (the preview, messages about those rows)
BLOCK = 1 << 20  # bytes read and decoded at a time
SAMPLE_BYTES = 8 << 20  # at most this much of the file's start is used to sniff the delimiter
EMPTY, NUMBER = -2, -1  # cell codes; a text cell's code is its index among the column's texts


class _Seq(Sequence[Any]):
    """A read-only list view (``CsvTable.rows`` and ``.lines``) that compares equal to a list."""

    def __init__(self, get: Any, n: int) -> None:
        self._get, self._n = get, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._get(k) for k in range(*i.indices(self._n))]
        i = int(i) + (self._n if i < 0 else 0)
        if not 0 <= i < self._n:
            raise IndexError("index out of range")
        return self._get(i)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != self._n:
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self[:10])[:-1] + (", ...]" if self._n > 10 else "]")


class _Store:
    """The cells of the data rows: every cell as a float in one row-major array (NaN where it
    is no number) and, only for columns holding text or empty cells, a code per row."""

    def __init__(self, n_columns: int) -> None:
        self.n_columns = n_columns
        self.n = 0
        self.values = array("d")
        self.lines = array("q")  # the first file line of each row
        self.codes: dict[int, array[int]] = {}
        self.texts: dict[int, dict[str, int]] = {}  # column -> text -> code
        self.head: list[list[str]] = []  # the first HEAD_ROWS rows as the file wrote them

    def matrix(self) -> np.ndarray:
        return np.frombuffer(self.values, dtype=np.float64).reshape(self.n, self.n_columns)

    def column_codes(self, j: int) -> np.ndarray | None:
        codes = self.codes.get(j)
        return None if codes is None else np.frombuffer(codes, dtype=np.int32)

    def text_names(self, j: int) -> list[str]:
        return list(self.texts.get(j, {}))

    def cell(self, i: int, j: int) -> str:
        if i < len(self.head):
            return self.head[i][j]
        codes = self.codes.get(j)
        code = NUMBER if codes is None else codes[i]
        if code == EMPTY:
            return ""
        if code >= 0:
            return self.text_names(j)[code]
        return _number_text(self.values[i * self.n_columns + j])

    def row(self, i: int) -> list[str]:
        if i < len(self.head):
            return list(self.head[i])
        return [self.cell(i, j) for j in range(self.n_columns)]


def _number_text(value: float) -> str:
    """A number as a short text; whole numbers without '.0', so that '1' and '1.0' agree."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@dataclass(frozen=True, eq=False)
class CsvTable:
    """A CSV file's cells: ``rows[i]`` (a list of strings) came from file line ``lines[i]``
    (a record's first line, when a quoted value spans several)."""

    path: Path
    columns: tuple[str, ...]
    delimiter: str
    has_header: bool
    store: _Store = field(repr=False)
    index: dict[str, int] = field(init=False, repr=False)  # column name -> position

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {c: j for j, c in enumerate(self.columns)})

    @property
    def rows(self) -> Sequence[list[str]]:
        return _Seq(self.store.row, self.store.n)

    @property
    def lines(self) -> Sequence[int]:
        return _Seq(self.store.lines.__getitem__, self.store.n)


def _number(text: str, delimiter: str) -> float | None:
    text = text.strip()
    if delimiter == ";" and "," in text and "." not in text:
        text = text.replace(",", ".")  # semicolon files usually come with decimal commas
    try:
        return float(text)
    except ValueError:
        return None


# ---- reading --------------------------------------------------------------------------------


def _blocks(f: Any, name: str, max_bytes: int, too_large: str, seen: list[bool]) -> Iterator[str]:
    """The file as UTF-8 text in blocks of whole lines (a character is never cut in two);
    ``seen[0]`` becomes True once a block holds more than white space."""
    line, parts, total, first = 1, [], 0, True
    while True:
        data = f.read(BLOCK)
        total += len(data)
        if total > max_bytes:  # files that hold more than they report (/proc)
            raise FileFormatError(f"{name} holds more than {max_bytes / 2**20:.0f} MB{too_large}")
        if first and data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        first = False
        end = data.rfind(b"\n") + 1 if data else len(data)
        if data and end == 0:
            parts.append(data)  # no line ends here yet
            continue
        chunk = b"".join([*parts, data[:end]]) if data else b"".join(parts)
        parts = [data[end:]] if data and end < len(data) else []
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            at = line + chunk.count(b"\n", 0, exc.start)
            raise FileFormatError(
                f"{name}: line {at}: byte 0x{chunk[exc.start]:02x} is not UTF-8 text; save the file as UTF-8"
            ) from None
        line += chunk.count(b"\n")
        if text:
            seen[0] = seen[0] or not text.isspace()
            yield text
        if not data:
            return


class _Feed:
    """The blocks' lines one at a time (for csv.reader, which reads no further than it needs);
    ``rest()`` hands over what is left of the current block."""

    def __init__(self, blocks: Iterator[str]) -> None:
        self.blocks, self.current = blocks, io.StringIO("")

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        while True:
            line = self.current.readline()
            if line:
                return line
            self.current = io.StringIO(next(self.blocks), newline="")

    def rest(self) -> str:
        text = self.current.read()
        self.current = io.StringIO("")
        return text


def _line_count(text: str) -> int:
    """Lines as csv counts them: ended by \n, \r\n or a lone \r."""
    n = text.count("\n")
    if "\r" in text:
        n += text.count("\r") - text.count("\r\n")
    return n


class _Records:
    """(first line, cells) of each record; quoting errors name the line the record starts on.
    ``base`` is the number of file lines before the first one in ``lines``."""

    def __init__(self, lines: Iterator[str], delimiter: str, name: str, base: int = 0) -> None:
        self.reader = csv.reader(lines, delimiter=delimiter, strict=True)
        self.name, self.base = name, base

    @property
    def consumed(self) -> int:
        """File lines read so far: through the end of the last record handed out."""
        return self.base + self.reader.line_num

    def __iter__(self) -> _Records:
        return self

    def __next__(self) -> tuple[int, list[str]]:
        start = self.consumed + 1
        try:
            return start, next(self.reader)
        except csv.Error as exc:
            text = str(exc)
            if "unexpected end of data" in text:
                text = 'a quoted value starts here and its closing quote (") never comes'
            elif "field larger than field limit" in text:
                text = (f"a value longer than {csv.field_size_limit():,} characters "
                        '(a quoted value whose closing quote (") never comes?)')
            raise FileFormatError(f"{self.name}: line {start}: {text}") from None


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


def _fill(store: _Store, records: Iterator[tuple[int, list[str]]] | _Records, columns: tuple[str, ...],
          delimiter: str, name: str) -> None:
    """Every remaining record into ``store``: one pass, no per-cell objects kept."""
    n_columns = len(columns)
    values, lines, codes, texts, head = store.values, store.lines, store.codes, store.texts, store.head
    coded = list(codes.values())
    n = store.n
    for line, row in records:
        if len(row) == n_columns:
            before = len(values)
            try:  # the common case, all numbers: parsed in C, nothing kept but the floats
                values.extend(map(float, row))
            except ValueError:
                del values[before:]
            else:
                lines.append(line)
                for c in coded:
                    c.append(NUMBER)
                if n < HEAD_ROWS:
                    head.append([c.strip() for c in row])
                n += 1
                continue
        cells = [c.strip() for c in row]
        if not any(cells):
            continue  # blank lines (or only delimiters) separate nothing
        if len(cells) != n_columns:
            raise FileFormatError(
                f"{name}: line {line}: {len(cells)} values, expected {n_columns} ({', '.join(columns)})"
            )
        for j, cell in enumerate(cells):
            value = _number(cell, delimiter) if cell else None
            if value is not None:
                values.append(value)
                if j in codes:
                    codes[j].append(NUMBER)
                continue
            values.append(math.nan)
            if j not in codes:  # the column's first cell that is no number
                codes[j] = array("i", [NUMBER]) * n
                texts[j] = {}
                coded.append(codes[j])
            if cell:
                code = texts[j].setdefault(cell, len(texts[j]))
            else:
                code = EMPTY
            codes[j].append(code)
        lines.append(line)
        if n < HEAD_ROWS:
            head.append(cells)
        n += 1
    store.n = n


_NUMBER_CHARS = {d: str.maketrans("", "", "0123456789.eE+-\n" + d) for d in DELIMITERS}


def _fast_block(store: _Store, text: str, line: int, delimiter: str) -> bool:
    """A block of whole lines without quotes, every line with all its cells, straight into
    ``store`` at C speed (the number cells; text columns cell by cell). False, and ``store``
    untouched, when the block needs the careful path (quotes, blank or ragged lines, empty
    cells, decimal commas, a new text column)."""
    n_columns = store.n_columns
    if n_columns < 2 or '"' in text:
        return False
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return False
    body = text[:-1] if text.endswith("\n") else text
    lines = body.split("\n")
    if set(map(methodcaller("count", delimiter), lines)) != {n_columns - 1}:
        return False
    r = len(lines)
    texts = store.texts  # the columns that have held text or an empty cell so far
    block_codes: dict[int, np.ndarray] = {}
    try:
        if not texts:
            # Only characters of plain decimal numbers (no white space, which NumPy's parser
            # would let stand for a value): C parses them as Python's float() would; any cell it
            # cannot read raises, and any cell that is not one number changes the count.
            if body.translate(_NUMBER_CHARS[delimiter]):
                return False
            block = np.fromstring(body.replace("\n", delimiter), dtype=np.float64, sep=delimiter)
            if block.size != r * n_columns:
                return False
            block = block.reshape(r, n_columns)
        else:
            flat = body.replace("\n", delimiter).split(delimiter)
            grid = np.array(flat, dtype=object).reshape(r, n_columns)
            block = np.empty((r, n_columns))
            numeric = [j for j in range(n_columns) if j not in texts]
            block[:, numeric] = grid[:, numeric].astype(np.float64)
    except ValueError:
        return False
    for j in texts:  # each distinct cell once, as the careful path reads it; nothing here can fail
        names = dict(texts[j])
        distinct, where = np.unique(np.array(flat[j::n_columns]), return_inverse=True)
        values, codes = np.empty(len(distinct)), np.empty(len(distinct), np.int32)
        for k, cell in enumerate(distinct.tolist()):
            cell = cell.strip()
            value = _number(cell, delimiter) if cell else None
            values[k] = math.nan if value is None else value
            codes[k] = NUMBER if value is not None else names.setdefault(cell, len(names)) if cell else EMPTY
        block[:, j] = values[where.reshape(-1)]
        block_codes[j] = codes[where.reshape(-1)]
        texts[j] = names
    store.values.frombytes(block.tobytes())
    store.lines.extend(range(line, line + r))
    for j, codes in block_codes.items():
        store.codes[j].frombytes(codes.tobytes())
    if store.n < HEAD_ROWS:
        store.head.extend([c.strip() for c in row.split(delimiter)] for row in lines[: HEAD_ROWS - store.n])
    store.n += r
    return True


def read_csv_table(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> CsvTable:
    """The file's cells, with the delimiter sniffed and the header detected, in one pass."""
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
            return _read(f, path, max_bytes, too_large)
    except OSError as exc:
        raise FileFormatError(f"{name}: cannot read: {exc.strerror or exc}") from None


def _read(f: Any, path: Path, max_bytes: int, too_large: str) -> CsvTable:
    name = path.name
    seen = [False]
    blocks = _blocks(f, name, max_bytes, too_large, seen)
    sample: list[str] = []
    size = 0
    for text in blocks:  # the start of the file, enough lines to sniff the delimiter
        sample.append(text)
        size += len(text)
        if sum(t.count("\n") for t in sample) > 20 or size > SAMPLE_BYTES:
            break
    delimiter = _sniff("".join(sample))
    feed = _Feed(_chain(sample, blocks))
    records = _Records(feed, delimiter, name)
    first: list[tuple[int, list[str]]] = []
    for line, row in records:  # the first rows decide the header
        cells = [c.strip() for c in row]
        if any(cells):
            first.append((line, cells))
            if len(first) > 21:
                break
    if not first:
        if not seen[0]:
            raise FileFormatError(f"{name} is empty")
        raise FileFormatError(f"{name}: no values: every line is empty or holds only delimiters")
    header = _has_header([cells for _, cells in first], delimiter)
    header_line, top = first[0]
    if header:
        columns = tuple(c or f"column {j + 1}" for j, c in enumerate(top))
        first = first[1:]
    else:
        columns = tuple(f"column {j + 1}" for j in range(len(top)))
    seen = set()
    for c in columns:
        if c in seen:
            raise FileFormatError(f"{name}: line {header_line}: column name {c!r} appears twice")
        seen.add(c)
    store = _Store(len(columns))
    _fill(store, iter(first), columns, delimiter, name)
    line = records.consumed + 1  # the first line after the records read so far
    for text in _chain([feed.rest()], blocks):
        if '"' in text:  # a quoted value may run on into the next block: careful to the end
            rest = _Feed(_chain([text], blocks))
            _fill(store, _Records(rest, delimiter, name, line - 1), columns, delimiter, name)
            break
        if not _fast_block(store, text, line, delimiter):
            lines = io.StringIO(text, newline="")
            _fill(store, _Records(lines, delimiter, name, line - 1), columns, delimiter, name)
        line += _line_count(text)
    if store.n == 0:
        raise FileFormatError(f"{name} has a header but no data rows")
    return CsvTable(path, columns, delimiter, header, store)


def _chain(sample: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from sample
    yield from rest


# ---- columns to arrays ----------------------------------------------------------------------


def _cell_error(table: CsvTable, i: int, column: str, problem: str) -> FileFormatError:
    return FileFormatError(f"{table.path.name}: line {table.lines[i]}, column {column!r}: {problem}")


def _check_numbers(table: CsvTable, column: str) -> None:
    """Refuse the column's first cell that is empty, text or not finite."""
    j = table.index[column]
    codes = table.store.column_codes(j)
    bad = np.flatnonzero(codes != NUMBER) if codes is not None else np.empty(0, np.intp)
    col = table.store.matrix()[:, j]
    infinite = np.flatnonzero(~np.isfinite(col) & (codes == NUMBER if codes is not None else True))
    candidates = [int(a[0]) for a in (bad, infinite) if len(a)]
    if not candidates:
        return
    i = min(candidates)
    cell = table.store.cell(i, j)
    if not cell:
        raise _cell_error(table, i, column, "empty value")
    if codes is not None and codes[i] >= 0:
        raise _cell_error(table, i, column, f"{cell!r} is not a number")
    raise _cell_error(table, i, column, f"{cell!r} is not a finite number")


def _numbers(table: CsvTable, column: str) -> np.ndarray:
    _check_numbers(table, column)
    return table.store.matrix()[:, table.index[column]].copy()


def _class_labels(table: CsvTable, column: str) -> tuple[np.ndarray, list[str]]:
    """Each row's class (an index into the names), and the names in their sorted order.
    Numeric cells are named by their value, so that '1' and '1.0' are one class."""
    j = table.index[column]
    store = table.store
    codes = store.column_codes(j)
    if codes is not None and (codes == EMPTY).any():
        raise _cell_error(table, int(np.flatnonzero(codes == EMPTY)[0]), column, "empty value")
    numeric = np.ones(store.n, bool) if codes is None else codes == NUMBER
    values, inverse = np.unique(store.matrix()[numeric, j], return_inverse=True)
    texts = store.text_names(j)
    names = [_number_text(float(v)) for v in values] + texts
    if len(names) > MAX_CLASSES:
        raise FileFormatError(
            f"{table.path.name}: column {column!r} has {len(names)} different values; "
            f"a class column may have at most {MAX_CLASSES} (use regression for a number)"
        )
    if len(names) < 2:
        raise FileFormatError(
            f"{table.path.name}: column {column!r} has only one class ({names[0]!r}); "
            "classification needs two or more"
        )
    order = sorted(range(len(names)), key=lambda k: _class_key(names[k]))
    rank = np.empty(len(names), np.int64)
    rank[order] = np.arange(len(names))
    labels = np.empty(store.n, np.int64)
    labels[numeric] = rank[inverse.reshape(-1)]
    if codes is not None:
        text_rows = ~numeric
        labels[text_rows] = rank[len(values) + codes[text_rows]]
    return labels, [names[k] for k in order]


def _infer_task(table: CsvTable, column: str) -> Task:
    j = table.index[column]
    codes = table.store.column_codes(j)
    if codes is not None and (codes >= 0).any():
        return "classification"  # text: class names
    col = table.store.matrix()[:, j]
    numbers = col[~np.isnan(col)]  # empty cells are NaN too
    if numbers.size and not (np.isfinite(numbers) & (numbers == np.floor(numbers))).all():
        return "regression"
    if len(np.unique(numbers)) <= AUTO_MAX_CLASSES:
        return "classification"
    return "regression"


def _class_key(name: str) -> tuple[int, float, str]:
    try:
        return (0, float(name), name)  # numbers in numeric order, before text
    except ValueError:
        return (1, 0.0, name)


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
    name = table.path.name
    features = [str(c) for c in feature_columns]
    for c in [*features, target_column]:
        if c not in table.index:
            raise SpecError(f"{name} has no column {c!r}; it has {', '.join(table.columns)}")
    if not features or target_column in features or len(set(features)) != len(features):
        raise SpecError("choose one or more distinct feature columns and a different target column")
    n = table.store.n
    if n < 2:
        raise FileFormatError(f"{name}: needs at least 2 data rows, has {n}")
    for c in features:
        _check_numbers(table, c)
    task = task or _infer_task(table, target_column)
    if task == "classification":
        labels, names = _class_labels(table, target_column)
        target_names = tuple(names)
    else:
        target = _numbers(table, target_column)
        target_names = (target_column,)
    # The same shuffle as arrays.shuffle_split, but each array is copied once, in its final
    # order: the features straight from the cells, the one-hot targets after the shuffle.
    order = np.random.default_rng(seed).permutation(n)
    x = table.store.matrix()[np.ix_(order, [table.index[c] for c in features])]
    del table  # the cells are not needed any more
    if task == "classification":
        y = class_targets(labels[order], len(target_names))
    else:
        y = target[order].reshape(-1, 1)
    cut = n - n_test_rows(n, test_fraction)
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
        mean, std = x[:cut].mean(axis=0), x[:cut].std(axis=0)
        std[std == 0] = 1.0  # a constant column stays constant instead of dividing by zero
        x -= mean  # in place: train and test are views of x
        x /= std
        source.update(mean=mean.tolist(), std=std.tolist())
    return Dataset(
        name=Path(path).stem,
        task=task,
        x_train=x[:cut],
        y_train=y[:cut],
        x_test=x[cut:],
        y_test=y[cut:],
        feature_names=tuple(features),
        target_names=target_names,
        source=source,
    )


def infer_task(table: CsvTable, column: str) -> Task:
    """What ``dataset_from_csv(task=None)`` would choose for target ``column``."""
    return _infer_task(table, column)


def is_numeric_column(table: CsvTable, column: str, max_rows: int | None = None) -> bool:
    """Every non-empty cell of ``column`` (in the first ``max_rows`` rows) reads as a number."""
    codes = table.store.column_codes(table.index[column])
    if codes is None:
        return True
    return not (codes[:max_rows] >= 0).any()
