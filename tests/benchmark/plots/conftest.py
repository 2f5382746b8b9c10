"""Fixtures of the scene-picture tests: two scenes of the shipped demo recipe."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory, demo_manifest) -> Path:
    """Scenes test-000000 (a static and a moving source) and test-000001 (two moving) of
    ``manifests/demo.toml`` (8 kHz, 2 s), simulated once per session."""
    from asabench.simulate.dataset.build import simulate_dataset

    root = tmp_path_factory.mktemp("plots") / "data"
    summary = simulate_dataset(demo_manifest, "test", root, num=2)
    assert not summary.failed
    return root


@pytest.fixture(scope="session")
def demo_scene(demo_data: Path) -> Path:
    """The folder of demo scene test-000000."""
    return demo_data / "test" / "test-000000"
