"""Shared fixtures: a two-scene demo dataset and `asabench evaluate` folders of simple predictors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asabench.benchmark.io.dcase_csv import DcaseLabels


class MixturePredictor:
    """The mixture as every object, the given frames' events as its SELD output.

    ``events``: ``frame -> (class, azimuth-ish xyz)``; ``None`` predicts nothing. The scores
    are then known in closed form (all separation improvements 0 dB).
    """

    name = "mixture"

    def __init__(self, objects: int = 3, scale: float = 1.0):
        self.objects = objects
        self.scale = scale

    def separate(self, mixture):
        return self.scale * mixture[:, None].repeat(1, self.objects, 1, 1)

    def detect(self, mixture):
        out = []
        for _ in range(mixture.shape[0]):
            frames = np.arange(5, dtype=np.int64)
            out.append(DcaseLabels(frames, np.zeros(5, np.int64), np.zeros(5, np.int64),
                                   np.tile([1.0, 0.0, 0.0], (5, 1))))
        return out

    def extract(self, mixture, direction):
        return self.scale * mixture.clone()

    def describe(self):
        return {"kind": "object", "name": f"mixture x{self.scale:g}"}


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
