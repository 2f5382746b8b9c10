"""A learned model as a submission: a registry network behind the Predictor protocol.

``my_predictor.model:tiny_deepasa`` builds DeepASA's ``tiny`` preset fitted to the demo
suites' contract (8 kHz, 4 microphones, 3 object slots) and wraps it in asabench's own
adapter. With ``MY_PREDICTOR_CHECKPOINT=/path/best.pt`` in the environment the weights come
from that checkpoint instead, read by :func:`asabench.models.load`, which unpickles with
``torch.load(weights_only=True)``: a checkpoint cannot run code. Without it the weights are
untrained (seed 0): the numbers are meaningless, the shapes are real.
"""

from __future__ import annotations

import os

import torch

from asabench import models
from asabench.benchmark.predict import DeepASAPredictor, fit_model_config
from asabench.benchmark.suites import load_suite


class DeclaredDeepASA(DeepASAPredictor):
    """The DeepASA adapter plus the attributes a submission declares."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__(model, "cpu")
        self.sample_rate = int(model.config.sample_rate)
        self.num_channels = int(model.config.n_mics)


def tiny_deepasa() -> DeclaredDeepASA:
    """DeepASA ``tiny`` for demo-multitask (checkpoint from ``MY_PREDICTOR_CHECKPOINT`` if set)."""
    path = os.environ.get("MY_PREDICTOR_CHECKPOINT")
    if path:
        net = models.load(path, map_location="cpu")
    else:
        config = fit_model_config("deepasa", "tiny", load_suite("demo-multitask").contract)
        net = models.create("deepasa", config, seed=0)
    return DeclaredDeepASA(net)
