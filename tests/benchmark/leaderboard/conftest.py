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


@pytest.fixture(scope="session")
def demo_entry(demo_eval):
    """The store entry of ``demo_eval`` (a reference row)."""
    from asabench.benchmark.leaderboard.store import entry_from_evaluation

    return entry_from_evaluation(demo_eval, "reproduced", "reference", added="2026-12-01")


def variant(entry, name, kind="learned", shift=0.0, **system):
    """A copy of ``entry`` as another system whose every aggregate value is moved by ``shift``."""
    import copy
    import hashlib

    from asabench.benchmark.leaderboard.store import slugify

    e = copy.deepcopy(entry)
    e["system"].update(name=name, slug=slugify(name), kind=kind, **system)
    e["predictions_sha256"] = hashlib.sha256(name.encode()).hexdigest()
    for item in e["entries"].values():
        for stats in item["aggregate"].values():
            for key in ("value", "ci_low", "ci_high"):
                if stats.get(key) is not None:
                    stats[key] += shift
        item["main_score"]["value"] = item["aggregate"][item["main_score"]["name"]]["value"]
    return e
