"""Shared by the submission tests: a two-scene demo test split and a predictions folder for it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from asabench.benchmark.suites import load_suite

REPO = Path(__file__).resolve().parents[3]
EXAMPLE_CARD = REPO / "examples" / "submission" / "card.yaml"


@pytest.fixture(scope="session")
def example_card() -> Path:
    """``examples/submission/card.yaml``."""
    return EXAMPLE_CARD


@pytest.fixture(scope="session")
def examples_on_path():
    """``examples/`` importable, as ``PYTHONPATH=examples`` makes it for the commands."""
    path = str(REPO / "examples")
    added = path not in sys.path
    if added:
        sys.path.insert(0, path)
    yield path
    if added:
        sys.path.remove(path)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    """``asabench simulate demo --split test --num 2`` (public seeds)."""
    from asabench.simulate.dataset.build import simulate_dataset

    root = tmp_path_factory.mktemp("submissions") / "demo"
    simulate_dataset("demo", "test", root, num=2)
    return root


@pytest.fixture(scope="session")
def demo_predictions(demo_data, tmp_path_factory, examples_on_path) -> Path:
    """The example predictor's predictions of demo-multitask (PRED/uss, PRED/seld)."""
    from asabench.benchmark.evaluate import predict_suite
    from my_predictor.predictor import demo_predictor

    pred = tmp_path_factory.mktemp("pred") / "pred"
    predict_suite(load_suite("demo-multitask"), demo_predictor(), demo_data, pred, split="test")
    return pred


@pytest.fixture
def pred_copy(demo_predictions, tmp_path) -> Path:
    """A private copy of the predictions that a test may alter."""
    dst = tmp_path / "pred"
    shutil.copytree(demo_predictions, dst)
    return dst
