"""Hygiene (issue 11): the wheel carries the presets as package data and the licence; installed in
a fresh virtual environment outside the checkout, ``nnbench presets`` lists them and a preset
trains. Offline: no build isolation, ``--no-deps --no-index``, the environment borrows the
system's numpy and PySide6 (``--system-site-packages``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from nnbench import presets

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def run(*args, cwd, timeout=300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert proc.returncode == 0, f"{args}: {proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy, so building writes nothing into the checkout
    shutil.copytree(ROOT / "nnbench", src / "nnbench", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    dist = tmp / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", dist, src, cwd=tmp)
    wheel = next(dist.glob("nnbench-*.whl"))
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv, cwd=tmp)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--no-deps", "--no-index", wheel, cwd=tmp)
    return wheel, venv, tmp / "elsewhere"


def test_the_wheel_holds_the_presets_and_the_licence(installed):
    wheel, _, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).stem for n in names if n.startswith("nnbench/presets_data/") and n.endswith(".json")}
    assert shipped == set(presets.names())
    licence = [n for n in names if n.endswith("LICENSE") and ".dist-info/" in n]
    assert licence and "MIT License" in zipfile.ZipFile(wheel).read(licence[0]).decode()


def test_the_installed_copy_lists_and_trains_presets_outside_the_checkout(installed):
    _, venv, elsewhere = installed
    elsewhere.mkdir(exist_ok=True)
    where = run(venv / "bin" / "python", "-c", "import nnbench; print(nnbench.__file__)", cwd=elsewhere)
    assert str(venv) in where.stdout, where.stdout  # the wheel's copy, not the checkout's
    listed = run(venv / "bin" / "nnbench", "presets", cwd=elsewhere).stdout
    assert [line.split()[0] for line in listed.splitlines()] == presets.names()
    trained = run(venv / "bin" / "nnbench", "train", "xor-mlp", "--epochs", "200", "--json", cwd=elsewhere)
    assert '"epochs": 200' in trained.stdout.splitlines()[-1]
