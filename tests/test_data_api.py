"""The package surface: make() errors, and the numpy-and-stdlib-only boundary."""

import subprocess
import sys

import pytest

from nnbench.data import make
from nnbench.errors import SpecError

# Modules loaded at start-up (site hooks) or by numpy itself are not nnbench.data's doing.
BOUNDARY = """
import sys
import numpy
before = set(sys.modules)
import nnbench.data
added = {m.split(".")[0] for m in set(sys.modules) - before}
numpy_own = {m for m in added if m in ("numpy", "cython_runtime") or m.startswith("_cython_")}
print(",".join(sorted(added - numpy_own - set(sys.stdlib_module_names) - {"nnbench"})))
"""


def test_imports_only_numpy_and_stdlib():
    out = subprocess.run([sys.executable, "-c", BOUNDARY], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ([1], "must be a dict"),
        ({}, "unknown dataset source kind None"),
        ({"kind": "zip"}, "unknown dataset source kind 'zip'"),
        ({"kind": "generator"}, "needs a 'name'"),
        ({"kind": "generator", "name": "spiral", "colour": 1}, "unknown parameter"),
        ({"kind": "table", "name": "xor3", "extra": 1}, "takes only 'name'"),
        (
            {"kind": "table", "name": "t", "rows": [[1, 0]]},
            "missing a required argument: 'columns'",
        ),
        ({"kind": "csv", "target_column": "y"}, "bad csv source"),
        ({"kind": "mnist"}, "an MNIST source needs"),
        ({"kind": "mnist", "path": 3}, "an MNIST source needs"),
    ],
)
def test_make_refuses_malformed_sources(source, words):
    with pytest.raises(SpecError, match=words):
        make(source)
