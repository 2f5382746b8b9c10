"""Fixtures of the CLI tests: a tiny dummy dataset, a prediction folder, a folder snapshot."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from asabench.simulate.testing.dummies import make_dummy_dataset


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with the SHA-256 of each file ("dir" for folders)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture(name="snapshot")
def snapshot_fixture():
    """:func:`snapshot`, for tests that compare a folder before and after a command."""
    return snapshot


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    """A two-scene dummy dataset (8 kHz, 0.5 s, two sources per scene) in ``tmp_path/ref``."""
    root = tmp_path / "ref"
    make_dummy_dataset(root, 2, 2, 8000, 0.5, np.random.default_rng(7))
    return root


@pytest.fixture
def seld_predictions(tmp_path: Path, reference: Path) -> Path:
    """SELD predictions: each scene's reference labels copied as ``<scene>.csv``."""
    pred = tmp_path / "pred"
    pred.mkdir()
    for scene in sorted((reference / "test").iterdir()):
        (pred / f"{scene.name}.csv").write_bytes((scene / "labels.csv").read_bytes())
    return pred


@pytest.fixture
def cli(capsys):
    """Run ``asabench`` in-process: returns (exit status, stdout, list of stderr lines)."""
    from asabench.benchmark.cli import main

    def run(*argv: str) -> tuple[int, str, list[str]]:
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err.splitlines()

    return run
