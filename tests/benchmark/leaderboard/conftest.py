"""Shared fixtures: a two-scene demo dataset and `asabench evaluate` folders of simple predictors."""

from __future__ import annotations

import pytest
from leaderboard_helpers import MixturePredictor


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    """Two demo test scenes (asabench simulate demo --split test --num 2)."""
    from asabench.simulate.dataset.build import simulate_dataset

    root = tmp_path_factory.mktemp("lbdemo") / "data"
    simulate_dataset("demo", "test", root, num=2)
    return root


@pytest.fixture(scope="session")
def demo_eval(tmp_path_factory, demo_data):
    """An evaluation folder of demo-multitask with the mixture predictor."""
    from asabench.benchmark.evaluate import evaluate

    out = tmp_path_factory.mktemp("lbeval") / "eval"
    evaluate("demo-multitask", demo_data, out, predictor=MixturePredictor(), workers=1)
    return out


@pytest.fixture(scope="session")
def demo_entry(demo_eval):
    """The store entry of ``demo_eval`` (a reference row)."""
    from asabench.benchmark.leaderboard.store import entry_from_evaluation

    return entry_from_evaluation(demo_eval, "reproduced", "reference", added="2026-12-01")

