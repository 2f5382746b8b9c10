"""Fixtures shared by the whole suite (the tests mirror the package folders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]

#: the demo suites :func:`write_mini` cuts to 0.5-s clips; key in its result: the part after "demo-"
MINI_SUITES = ("demo-multitask", "demo-tse", "demo-seld", "demo-uss")


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


@pytest.fixture
def one_thread():
    """One torch thread for the test, restored afterwards: tiny models on a shared 2-core
    machine, where more threads stall each other (``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _replaced(text: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        if old not in text:  # the shipped file changed: the mini copy would silently keep its value
            raise AssertionError(f"write_mini: {old!r} is no longer in the shipped file")
        text = text.replace(old, new)
    return text


def write_mini(folder: Path, train: int = 4, validation: int = 2, test: int = 2) -> dict[str, Path]:
    """``mini.toml`` (the demo recipe cut to 0.5-s scenes) and ``mini-<task>.toml`` for each of
    :data:`MINI_SUITES`; returns ``{"manifest": ..., "multitask": ..., "tse": ..., "seld": ..., "uss": ...}``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (REPO_ROOT / "manifests" / "demo.toml").read_text()
    text = _replaced(text, ('name = "demo"', 'name = "mini"'), ("duration_s = 2.0", "duration_s = 0.5"))
    head, _, _ = text.partition("[splits]")
    (folder / "mini.toml").write_text(head + f"[splits]\ntrain = {train}\nvalidation = {validation}\ntest = {test}\n")
    out = {"manifest": folder / "mini.toml"}
    for name in MINI_SUITES:
        task = name.removeprefix("demo-")
        suite = (REPO_ROOT / "benchmark" / "suites" / f"{name}.toml").read_text()
        suite = _replaced(suite, ('manifest = "demo"', 'manifest = "mini.toml"'),
                          ("clip_seconds = 2.0", "clip_seconds = 0.5"), (f'name = "{name}"', f'name = "mini-{task}"'))
        out[task] = folder / f"mini-{task}.toml"
        out[task].write_text(suite)
    return out


@pytest.fixture(scope="session")
def mini(tmp_path_factory) -> dict[str, Path]:
    """The :func:`write_mini` files and ``"data"``: a dataset folder holding every split (4 train,
    2 validation, 2 test scenes), so training tests take seconds."""
    from asabench.simulate.dataset.build import simulate_dataset
    from asabench.simulate.manifest import load_manifest

    folder = tmp_path_factory.mktemp("mini")
    files = write_mini(folder)
    m = load_manifest(files["manifest"])
    data = folder / "data"
    for split in m.splits:
        simulate_dataset(m, split, data)
    files["data"] = data
    return files
