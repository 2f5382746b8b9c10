"""Fixtures shared by the whole suite (the tests mirror the package folders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's root (manifests/, docs/, leaderboards/ live here)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def demo_manifest() -> Path:
    """The shipped tiny recipe, ``manifests/demo.toml``."""
    return REPO_ROOT / "manifests" / "demo.toml"


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator: every test's randomness is explicit and repeatable."""
    return np.random.default_rng(20261201)
