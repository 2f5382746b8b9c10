"""Fixtures of the baseline tests: a tiny simulated demo test split (shared by the modules)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_dataset(tmp_path_factory) -> Path:
    """Four demo test scenes (``asabench simulate demo --split test --num 4``): 8 kHz, 2 s, 2-3 sources."""
    from asabench.simulate.dataset.build import simulate_dataset

    root = tmp_path_factory.mktemp("baselines-demo") / "data"
    simulate_dataset("demo", "test", root, num=4)
    return root
