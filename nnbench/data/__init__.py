"""Datasets for nnbench: generators, small tables, CSV files and MNIST, all as ``Dataset``.

Imports numpy and the standard library only.
"""

from nnbench.data.dataset import Dataset, Task
from nnbench.data.generators import GENERATORS, GeneratorInfo, generate
from nnbench.data.sources import make
from nnbench.data.tables import TABLES, table, table_from_rows, table_source

__all__ = [
    "GENERATORS",
    "TABLES",
    "Dataset",
    "GeneratorInfo",
    "Task",
    "generate",
    "make",
    "table",
    "table_from_rows",
    "table_source",
]
