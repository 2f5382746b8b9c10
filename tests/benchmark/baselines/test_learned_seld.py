"""Learned SELD/USS baselines in the harness: adapters, objectives, recipes, train -> evaluate."""

from __future__ import annotations

import json
import math

import pytest
import torch

from asabench.benchmark.baselines import learned_seld
from asabench.benchmark.baselines.learned_seld import TETRA_ROTATIONS, DeFTMambaPredictor, SELDnetPredictor
from asabench.benchmark.predict import predictor_for_model
from asabench.benchmark.suites import load_suite
from asabench.benchmark.training.objectives import objective_for
from asabench.benchmark.training.recipe import default_recipe, load_recipe
from asabench.models.registry import resolve_config
from asabench.simulate.geometry import TETRA_CAPSULES_DEG, dcase_to_cartesian

pytestmark = pytest.mark.usefixtures("one_thread")


def test_tetra_rotations_are_rotations_of_the_array_bringing_capsule_c_first():
    caps = dcase_to_cartesian(*zip(*TETRA_CAPSULES_DEG))                 # [4, 3]
    for c, order in TETRA_ROTATIONS.items():
        assert order[0] == c and sorted(order) == [0, 1, 2, 3]
        # a proper rotation R with R p_i = p_order[i] for every capsule
        import numpy as np

        rot, *_ = np.linalg.lstsq(caps, caps[list(order)], rcond=None)
        assert np.allclose(caps @ rot, caps[list(order)], atol=1e-12)
        assert np.allclose(rot.T @ rot, np.eye(3), atol=1e-12) and np.linalg.det(rot) == pytest.approx(1.0)


class _FakeMISO(torch.nn.Module):
    """Returns stored object images at the capsule fed first, in an order that depends on it."""

    def __init__(self, mixture: torch.Tensor, images: torch.Tensor) -> None:
        super().__init__()
        self.mixture, self.images = mixture, images
        self.config = resolve_config("deft-mamba-miso", {"n_objects": images.shape[1]})
        self.asabench_name = "deft-mamba-miso"

    def forward(self, y: torch.Tensor) -> dict[str, torch.Tensor]:
        c = next(k for k in range(4) if torch.equal(y[:, 0], self.mixture[:, k]))
        order = [1, 0, 2] if c % 2 else [2, 0, 1] if c == 2 else [0, 1, 2]
        return {"separated": self.images[:, order, c:c + 1]}


def test_miso_adapter_runs_once_per_capsule_and_aligns_the_objects():
    g = torch.Generator().manual_seed(0)
    src = torch.randn(2, 3, 1, 800, generator=g)
    gains = torch.tensor([1.0, 0.8, 1.2, 0.9])[None, None, :, None]
    images = src * gains + 0.1 * torch.randn(2, 3, 4, 800, generator=g)   # [B, K, C, N]
    mixture = images.sum(1)
    pred = predictor_for_model(_FakeMISO(mixture, images))
    assert isinstance(pred, DeFTMambaPredictor)
    assert torch.equal(pred.separate(mixture), images)


def test_seldnet_adapter_turns_accdoa_into_dcase_rows():
    class Fake(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = resolve_config("seldnet", "tiny")
            self.asabench_name = "seldnet"

        def forward(self, x):
            out = torch.zeros(x.shape[0], 2, 3, 3, 13)
            out[0, 1, 0, :, 3] = torch.tensor([0.9, 0.0, 0.0])            # frame 1, class 3: azimuth 0
            out[0, 1, 2, :, 3] = torch.tensor([0.0, 0.8, 0.0])            # second event, azimuth 90
            out[0, 0, 1, :, 5] = torch.tensor([0.0, 0.0, 0.45])           # below 0.5: nothing
            return {"accdoa": out}

    pred = predictor_for_model(Fake())
    assert isinstance(pred, SELDnetPredictor)
    (labels,) = pred.detect(torch.zeros(1, 4, 3200))
    assert labels.frame.tolist() == [1, 1] and labels.cls.tolist() == [3, 3] and labels.track.tolist() == [0, 2]
    assert torch.allclose(torch.from_numpy(labels.xyz), torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64))


def test_objectives_refuse_suites_without_their_task_and_recipes_default():
    cfg = resolve_config("seldnet", "tiny")
    with pytest.raises(ValueError, match="seldnet localises and detects"):
        objective_for("seldnet", cfg, load_suite("demo-uss"))
    assert objective_for("seldnet", cfg, load_suite("demo-multitask")).kind == "seld"
    dcfg = resolve_config("deft-mamba-mimo", "tiny")
    with pytest.raises(ValueError, match="DeFT-Mamba separates"):
        objective_for("deft-mamba-mimo", dcfg, load_suite("demo-seld"))
    # demo-multitask's main score is SELD, which a USS network cannot be validated on
    with pytest.raises(ValueError, match="main score 'seld' is not computed during uss validation"):
        objective_for("deft-mamba-mimo", dcfg, load_suite("demo-multitask"))
    assert objective_for("deft-mamba-miso", dcfg, load_suite("asa2-uss")).kind == "uss"
    assert default_recipe("seldnet", "tiny") == "seldnet-tiny" and default_recipe("seldnet", "paper") == "seldnet-paper"
    assert default_recipe("deft-mamba-miso", "paper") == "deft-mamba-paper"
    s = load_recipe("seldnet-paper")
    assert (s.optimizer.lr, s.batch_size, s.epochs, s.scheduler.kind, s.grad_clip) == (1e-3, 128, 250, "none", 0.0)
    assert set(load_recipe("deft-mamba-tiny").models) == set(learned_seld.USS_MODELS)


def test_suites_refuse_a_system_missing_one_of_their_tasks(demo_dataset, tmp_path):
    from asabench.benchmark.evaluate import evaluate
    from asabench.benchmark.predict import PredictorError

    with pytest.raises(PredictorError, match=r"lacks separate\(\) for uss"):
        evaluate("demo-multitask", demo_dataset, tmp_path / "e", model="seldnet")
    assert not (tmp_path / "e").exists()


@pytest.mark.slow
def test_train_then_evaluate_both_baselines_and_the_scorer_agrees(mini, tmp_path, capsys):
    from asabench.benchmark.cli import main
    from asabench.benchmark.scoring import score

    for model, suite, entry, metric, options in (
            ("seldnet", "seld", "seld", "seld", {"seld_mode": "default", "average": "macro"}),
            ("deft-mamba-mimo", "uss", "uss", "si_sdr_i", {"target": "full", "spatial": False})):
        run = tmp_path / f"run-{model}"
        assert main(["train", "--suite", str(mini[suite]), "--model", model, "--config", "tiny", "--data",
                     str(mini["data"]), "--out", str(run), "--max-steps", "2", "--no-progress"]) == 0
        assert "2 steps" in capsys.readouterr().out
        steps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert all(math.isfinite(s["loss"]) for s in steps if s["event"] == "step")
        ev = tmp_path / f"eval-{model}"
        assert main(["evaluate", "--suite", str(mini[suite]), "--run", str(run), "--data", str(mini["data"]),
                     "--out", str(ev), "--workers", "1"]) == 0
        results = json.loads((ev / "results" / f"{entry}.json").read_text())
        again = score(mini["data"], entry.split("-")[0], predictions=ev / "predictions" / entry.split("-")[0],
                      split="test", workers=1, **options)
        assert again["aggregate"][metric]["value"] == pytest.approx(results["aggregate"][metric]["value"], abs=1e-9)
        assert results["system"]["name"] == model
