"""Where nnbench's files live: the one module that knows (presets, icons, benchmarks).

The presets are package data (``nnbench/presets_data/*.json``), read through
:mod:`importlib.resources`, so a checkout, an editable install and a wheel all find them the
same way. Icons, when there are any, sit in the source tree's top-level ``resources/icons``;
the benchmark scripts exist only in a checkout. No Qt here: ``icon(name)`` returns a path for
the UI to load.
"""

from __future__ import annotations

import re
from importlib import resources as _importlib_resources
from pathlib import Path

from nnbench.errors import SpecError, quote

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ICON_SUFFIXES = (".svg", ".png")
PRESETS_PACKAGE = "nnbench"
PRESETS_FOLDER = "presets_data"


def repo_dir() -> Path:
    """The folder that holds the ``nnbench`` package (the source tree's root in a checkout)."""
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    """The source tree's top-level ``resources/`` (icons; absent from a wheel install)."""
    return repo_dir() / "resources"


def presets_dir() -> Path:
    """The presets' folder inside the installed package. The package is a plain folder on disk
    (never imported from a zip: the window opens presets as files), so this is a real path."""
    folder = _importlib_resources.files(PRESETS_PACKAGE).joinpath(PRESETS_FOLDER)
    return Path(str(folder))


def preset_path(name: str) -> Path:
    """``nnbench/presets_data/NAME.json``; the name is checked so it cannot leave the folder."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError(f"{quote(name)} is not a preset name (lower-case letters, digits, '-' and '_')")
    return presets_dir() / f"{name}.json"


preset = preset_path  # the house style's spelling


def icon(name: str) -> Path:
    """``resources/icons/NAME`` (with .svg or .png added when ``name`` has no suffix)."""
    folder = resources_dir() / "icons"
    base = Path(name).name  # never a path outside the icons folder
    if Path(base).suffix:
        return folder / base
    for suffix in ICON_SUFFIXES:
        candidate = folder / f"{base}{suffix}"
        if candidate.is_file():
            return candidate
    return folder / f"{base}{ICON_SUFFIXES[0]}"


def benchmark_path(name: str = "bench_engine.py") -> Path:
    """A script in the source tree's ``benchmarks/`` folder (absent from a wheel install)."""
    return repo_dir() / "benchmarks" / Path(name).name
