"""Where nnbench's files live: the one module that knows (presets, icons, benchmarks).

Resources sit in the top-level ``resources/`` folder of the source tree, beside the package, so
they are found from a checkout and from an editable install (``pip install -e .``); a regular
install (``pip install .``) copies the presets to ``<prefix>/share/nnbench``. No Qt here:
``icon(name)`` returns a path for the UI to load.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from nnbench.errors import SpecError, quote

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ICON_SUFFIXES = (".svg", ".png")


def repo_dir() -> Path:
    """The folder that holds the ``nnbench`` package (the source tree's root)."""
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    """``resources/`` of the source tree (a checkout, an editable install), else the copy a
    regular install puts in ``<prefix>/share/nnbench``."""
    here = repo_dir() / "resources"
    if (here / "presets").is_dir():
        return here
    import site

    for prefix in (sys.prefix, site.getuserbase()):  # pip install . / pip install --user .
        installed = Path(prefix) / "share" / "nnbench"
        if (installed / "presets").is_dir():
            return installed
    return here


def presets_dir() -> Path:
    return resources_dir() / "presets"


def preset_path(name: str) -> Path:
    """``resources/presets/NAME.json``; the name is checked so it cannot leave the folder."""
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
