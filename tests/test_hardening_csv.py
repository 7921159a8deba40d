"""Issue 11, CSV import: odd files get the project's message naming the file, the line and the
problem (never an internal error, never rows silently lost), and a load takes time linear in
the cells and memory in proportion to the arrays it returns.

Throughput and peak memory for a 100 MB file are measured by benchmarks/bench_csv.py; the
bounds here are loose enough for a busy machine and still far below what the old reader took."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnbench.data import dataset_from_csv, read_csv_table
from nnbench.data.csvdata import infer_task, is_numeric_column
from nnbench.errors import FileFormatError


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# ---- 14: only delimiters, unterminated quotes, records over several lines ------------------


NO_VALUES = "data.csv: no values: every line is empty or holds only delimiters"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (",,,\n,,,\n", NO_VALUES),  # before: IndexError
        (";;;\n;;;\n", NO_VALUES),
        (",,\n\n , ,\n", NO_VALUES),
        ("\t\t\n\t\t\n", "data.csv is empty"),  # tabs are white space
    ],
)
def test_a_file_of_only_delimiters_is_refused_with_a_message(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(FileFormatError, match=words):
        read_csv_table(path)
    with pytest.raises(FileFormatError, match=words):
        dataset_from_csv(path, ["a"], "y")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('a,b,y\n1,2,0\n3,"4,1\n5,6,0\n7,8,1\n', 3),  # before: 4 rows loaded as 2, no message
        ('a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,"1\n', 5),
        ('a,"b,y\n1,2,0\n3,4,1\n', 1),
    ],
)
def test_an_unterminated_quote_names_the_line_it_opens_on(tmp_path, text, line):
    path = write(tmp_path, text)
    with pytest.raises(FileFormatError, match=rf"data.csv: line {line}: a quoted value starts here"):
        read_csv_table(path)


def test_text_after_a_closing_quote_is_refused_not_glued_on(tmp_path):
    with pytest.raises(FileFormatError, match=r"data.csv: line 3: ',' expected after '\"'"):
        read_csv_table(write(tmp_path, 'a,b,y\n1,2,0\n3,"4"5,1\n'))


def test_records_over_several_lines_are_named_by_their_first_line(tmp_path):
    text = 'a,b,y\n1,2,0\n3,"x\nyz",1\n5,6,0\n'
    with pytest.raises(FileFormatError, match=r"data.csv: line 3, column 'b': 'x\\nyz' is not a number"):
        dataset_from_csv(write(tmp_path, text), ["a", "b"], "y")
    ragged = 'a,b,y\n1,2,0\n"3\n4",5\n6,7,8\n'
    with pytest.raises(FileFormatError, match=r"data.csv: line 3: 2 values, expected 3"):
        read_csv_table(write(tmp_path, ragged))
    good = 'a,note,y\n1,"two\nlines",0\n3,plain,1\n'
    table = read_csv_table(write(tmp_path, good))
    assert table.lines == [2, 4] and table.rows[0] == ["1", "two\nlines", "0"]


def test_bad_cells_far_into_a_file_are_found_on_the_fast_path(tmp_path):
    """Rows after the first block go through a C parser; what it cannot read exactly goes the
    careful way: a blank cell is an empty value (never read as a number), a ragged pair of lines
    is ragged even when their counts add up."""
    rows = "".join(f"{i},{i % 7},{i % 2}\n" for i in range(60_000))  # about 0.6 MB per 60,000
    many = "a,b,y\n" + rows + rows
    base = many.count("\n")
    cases = [
        ("3, ,1\n", f"line {base + 1}, column 'b': empty value"),
        ("3,,1\n", f"line {base + 1}, column 'b': empty value"),
        ("1,2,3,4\n5,6\n", f"line {base + 1}: 4 values, expected 3"),
        ("3,0x10,1\n", f"line {base + 1}, column 'b': '0x10' is not a number"),
        ("3,nan,1\n", f"line {base + 1}, column 'b': 'nan' is not a finite number"),
    ]
    for tail, words in cases:
        with pytest.raises(FileFormatError, match=words):
            dataset_from_csv(write(tmp_path, many + tail + rows), ["a", "b"], "y")


def test_both_paths_read_the_same_values(tmp_path):
    rng = np.random.default_rng(3)
    values = rng.normal(size=(30_000, 3)) * 10.0 ** rng.integers(-30, 30, (30_000, 3))
    lines = [",".join(repr(float(v)) for v in row) for row in values]
    lines[25_000] = '"1.5",' + lines[25_000].split(",", 1)[1]  # a quote: careful from here on
    lines[9_000] = lines[9_000].replace(",", ", ")  # white space: that block goes the careful way
    path = write(tmp_path, "a,b,c\r\n" + "\r\n".join(lines) + "\r\n")
    values[25_000, 0] = 1.5
    table = read_csv_table(path)
    assert table.store.matrix().tobytes() == values.tobytes()  # bit for bit, as float() reads
    assert table.lines[-1] == 30_001 and len(table.rows) == 30_000


# ---- 15: linear in the columns, memory in proportion to the data ----------------------------


def test_time_is_linear_in_the_number_of_columns(tmp_path):
    columns = 40_000
    header = ",".join(f"c{j}" for j in range(columns))
    body = "".join(",".join(str((i + j) % 10) for j in range(columns)) + "\n" for i in range(3))
    path = write(tmp_path, header + "\n" + body)
    started = time.perf_counter()
    ds = dataset_from_csv(path, [f"c{j}" for j in range(columns - 1)], f"c{columns - 1}", test_fraction=0)
    took = time.perf_counter() - started
    assert ds.x_train.shape == (3, columns - 1)
    assert took < 10.0, f"{columns} columns took {took:.1f} s"  # before: 23.5 s; now well under 1 s


def peak_of(fn):
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def held(ds) -> int:
    return sum(a.nbytes for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test))


def test_memory_follows_the_numbers_not_the_strings(tmp_path):
    rng = np.random.default_rng(0)
    n = 120_000
    x = rng.normal(size=(n, 8)).round(5)
    text = "".join(",".join(map(repr, row.tolist())) + f",{i % 3}\n" for i, row in enumerate(x))
    path = write(tmp_path, ",".join(f"f{j}" for j in range(8)) + ",y\n" + text)
    table, peak = peak_of(lambda: read_csv_table(path))
    cells = n * 9 * 8
    assert peak < 4 * cells, f"reading {cells / 1e6:.0f} MB of numbers peaked at {peak / 1e6:.0f} MB"
    del table
    ds, peak = peak_of(lambda: dataset_from_csv(path, [f"f{j}" for j in range(8)], "y", standardize=True))
    assert peak < 4 * held(ds), f"a {held(ds) / 1e6:.0f} MB dataset peaked at {peak / 1e6:.0f} MB"


def test_memory_with_a_hundred_text_classes(tmp_path):
    n = 60_000
    text = "".join(f"{i % 97},{i % 13},class{i % 100}\n" for i in range(n))
    path = write(tmp_path, "x1,x2,label\n" + text)
    ds, peak = peak_of(lambda: dataset_from_csv(path, ["x1", "x2"], "label"))
    assert ds.y_train.shape[1] == 100 and len(ds.target_names) == 100
    # The one-hot targets are most of it; they are built once, in their final order (before:
    # built, then copied by the shuffle, beside every cell as a string).
    assert peak < 1.5 * held(ds), f"a {held(ds) / 1e6:.0f} MB dataset peaked at {peak / 1e6:.0f} MB"


# ---- the preview's API over the compact table ------------------------------------------------


def test_the_preview_api_still_reads_rows_as_text(tmp_path):
    n = 1500  # more than the 1,000 rows kept as the file wrote them
    text = "n,w,kind\n" + "".join(f"{i},{i * 0.5},{'ab'[i % 2]}\n" for i in range(n))
    table = read_csv_table(write(tmp_path, text))
    assert len(table.rows) == n and table.rows[:2] == [["0", "0.0", "a"], ["1", "0.5", "b"]]
    assert table.rows[n - 1] == [str(n - 1), str((n - 1) * 0.5), "ab"[(n - 1) % 2]]
    assert table.lines[:3] == [2, 3, 4] and table.lines[-1] == n + 1
    assert infer_task(table, "kind") == "classification" and infer_task(table, "w") == "regression"
    assert is_numeric_column(table, "w", 50) and not is_numeric_column(table, "kind", 50)


# ---- the two paths against the csv module --------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    style=st.sampled_from(["repr", "fixed", "exp", "spaced", "quoted", "crlf", "semicolon"]),
    text_at=st.one_of(st.none(), st.integers(0, 1199)),
)
def test_every_number_is_read_as_the_csv_module_and_float_read_it(tmp_path_factory, seed, style, text_at):
    import csv

    rng = np.random.default_rng(seed)
    values = rng.normal(size=(1200, 3)) * 10.0 ** rng.integers(-8, 8, (1200, 3))
    fmt = {"fixed": "{:.4f}", "exp": "{:.6e}"}.get(style, "{!r}")
    delimiter = ";" if style == "semicolon" else ","
    cells = [[fmt.format(float(v)) for v in row] for row in values]
    if style == "spaced":
        cells = [[f" {c}" for c in row] for row in cells]
    if style == "quoted":
        for i, row in enumerate(cells):
            row[:] = [f'"{c}"' if (i + j) % 5 == 0 else c for j, c in enumerate(row)]
    if text_at is not None:
        cells[text_at][2] = "label"  # a text cell: that block (and its column) goes cell by cell
    end = "\r\n" if style == "crlf" else "\n"
    body = end.join(delimiter.join(row) for row in cells) + end
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_text(delimiter.join("abc") + end + body, newline="")
    table = read_csv_table(path)
    expected = [
        [float(c.strip()) if c.strip() != "label" else np.nan for c in row]
        for row in csv.reader(body.splitlines(), delimiter=delimiter)
    ]
    got = table.store.matrix()
    assert got.shape == (1200, 3)
    assert np.array_equal(got, np.array(expected), equal_nan=True)
    assert table.lines[0] == 2 and table.lines[-1] == 1201
    assert is_numeric_column(table, "c") == (text_at is None)
    assert is_numeric_column(table, "c", 50) == (text_at is None or text_at >= 50)
