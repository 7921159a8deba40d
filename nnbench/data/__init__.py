"""Datasets for nnbench: generators, small tables, CSV files and MNIST, all as ``Dataset``.

Imports numpy and the standard library only.
"""

from nnbench.data.csvdata import CsvTable, dataset_from_csv, read_csv_table
from nnbench.data.dataset import Dataset, Task
from nnbench.data.generators import GENERATORS, GeneratorInfo, generate
from nnbench.data.idx import read_idx, write_idx
from nnbench.data.mnist import (
    DEFAULT_MIRROR,
    MIRRORS,
    DownloadCancelled,
    default_cache_dir,
    download_mnist,
    load_mnist_dir,
    load_mnist_files,
    load_mnist_npz,
)
from nnbench.data.sources import make
from nnbench.data.tables import TABLES, table, table_from_rows, table_source

__all__ = [
    "DEFAULT_MIRROR",
    "GENERATORS",
    "MIRRORS",
    "TABLES",
    "CsvTable",
    "Dataset",
    "DownloadCancelled",
    "GeneratorInfo",
    "Task",
    "dataset_from_csv",
    "default_cache_dir",
    "download_mnist",
    "generate",
    "load_mnist_dir",
    "load_mnist_files",
    "load_mnist_npz",
    "make",
    "read_csv_table",
    "read_idx",
    "table",
    "table_from_rows",
    "table_source",
    "write_idx",
]
