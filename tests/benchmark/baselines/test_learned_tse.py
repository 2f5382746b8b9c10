"""Learned TSE baselines in the harness: adapters, objective, recipes, fidelity rows."""

from __future__ import annotations

import math

import pytest
import torch

from asabench.benchmark.baselines.learned_tse import DirectionalTSEPredictor, SISDRTSEObjective, neg_si_sdr_loss
from asabench.benchmark.fidelity import ROWS, TORCHINFO_CLIP, build_table
from asabench.benchmark.predict import PredictorError, predictor_for_model
from asabench.benchmark.suites import load_suite
from asabench.benchmark.training.objectives import objective_for
from asabench.benchmark.training.recipe import default_recipe, load_recipe
from asabench.models import create
from asabench.models.registry import resolve_config


@pytest.mark.parametrize("name", ["dsenet", "ssdq"])
def test_adapter_extracts_every_channel_and_refuses_reference_only(name: str) -> None:
    model = create(name, "tiny")
    predictor = predictor_for_model(model)
    assert isinstance(predictor, DirectionalTSEPredictor)
    out = predictor.extract(0.1 * torch.randn(2, 4, 2000), torch.tensor([[10.0, 0.0], [200.0, 40.0]]))
    assert out.shape == (2, 4, 2000) and out.dtype == torch.float32
    cfg = resolve_config(name, "tiny")
    cfg.outputs = "reference"
    with pytest.raises(PredictorError, match="outputs"):
        predictor_for_model(create(name, cfg))


def test_neg_si_sdr_of_target_plus_orthogonal_noise_of_equal_energy_is_zero() -> None:
    # s = (1, 0, 1, 0, ...), e = (0, 1, 0, 1, ...): <s + e, s> = ||s||^2 so alpha = 1 and the
    # error is e, with ||e|| = ||s||: SI-SDR = 0 dB; with e scaled by 1/10: 20 dB
    s = torch.tensor([1.0, 0.0] * 8).expand(2, 3, 16)
    e = torch.tensor([0.0, 1.0] * 8).expand(2, 3, 16)
    assert neg_si_sdr_loss(s + e, s).item() == pytest.approx(0.0, abs=1e-5)
    assert neg_si_sdr_loss(s + 0.1 * e, s).item() == pytest.approx(-20.0, abs=1e-4)
    with pytest.raises(ValueError, match="differ"):
        neg_si_sdr_loss(s[:, :1], s)


def _batch(b: int = 2, j: int = 2, n: int = 1600, frames: int = 4) -> dict:
    g = torch.Generator().manual_seed(0)
    direct = 0.1 * torch.randn(b, j, 4, n, generator=g)
    reverb = 0.02 * torch.randn(b, j, 4, n, generator=g)
    doa = torch.zeros(b, j, frames, 3)
    doa[..., 0] = 1.0  # every source active, on +x
    sed = torch.zeros(b, j, frames, 13)
    sed[..., 0] = 1.0
    return {"mixture": (direct + reverb).sum(1), "direct": direct, "reverb": reverb, "doa": doa, "sed": sed,
            "num_sources": torch.tensor([j, 1]), "index": torch.arange(b), "id": [f"s{i}" for i in range(b)]}


def test_objective_is_registered_and_its_loss_is_the_si_sdr_of_the_picked_source() -> None:
    suite = load_suite("demo-tse")
    cfg = resolve_config("ssdq", "tiny")
    objective = objective_for("ssdq", cfg, suite)
    assert isinstance(objective, SISDRTSEObjective) and objective.kind == "tse"
    with pytest.raises(ValueError, match="tse"):
        objective_for("dsenet", resolve_config("dsenet", "tiny"), load_suite("demo-multitask"))
    model = create("ssdq", "tiny").eval()
    batch = _batch()
    from contextlib import nullcontext

    terms = objective.loss(model, batch, torch.device("cpu"), epoch=0, seed=0, autocast=nullcontext)
    slots = objective._pick(batch, 0, 0)
    rows = torch.arange(2)
    with torch.no_grad():
        out = model(batch["mixture"], torch.zeros(2, 2))["output"]  # clue of +x: azimuth 0, elevation 0
    ref = batch["direct"][rows, slots] + batch["reverb"][rows, slots]
    assert terms["loss"].item() == pytest.approx(neg_si_sdr_loss(out, ref).item(), abs=1e-4)
    state = objective.new_state()
    objective.validate(model, batch, torch.device("cpu"), state, autocast=nullcontext)
    scores = objective.scores(state, 2)
    assert state["n"] == 3 and len(state["si_sdr_i"]) == 3  # 3 (scene, source) pairs, channel-pooled
    assert all(math.isfinite(scores[k]) for k in ("loss", "si_sdr_i", "sdr_i", "si_snr_i"))


def test_default_recipes_follow_the_releases() -> None:
    assert default_recipe("dsenet", "tiny") == "dsenet-tiny" and default_recipe("ssdq", "paper") == "ssdq-paper"
    ssdq = load_recipe("ssdq-paper")
    # the SSDQ release: Adam 1e-4, clip 5, 150 epochs, 16 in all on 2 GPUs, halving after 5 bad epochs
    assert (ssdq.optimizer.name, ssdq.optimizer.lr, ssdq.grad_clip, ssdq.epochs) == ("adam", 1e-4, 5.0, 150)
    assert ssdq.batch_size * ssdq.paper_world_size == 16
    assert (ssdq.scheduler.factor, ssdq.scheduler.patience + 1) == (0.5, 5)
    assert load_recipe("dsenet-paper").models == ("dsenet",)


def test_ablation_rows_measure_the_ablation_presets() -> None:
    wanted = {"DoA after FA": "fusion-after", "no pairwise interaction in SPIN": "no-spin-pairs",
              "cyc-pos clue instead of SH": "cycpos-clue", "no band split": "no-band-split"}
    rows = {r.label.split(": ", 1)[1]: r for r in ROWS if r.label.startswith("SoundCompass ablation")}
    assert set(rows) == set(wanted)
    for label, preset in wanted.items():
        cfg = resolve_config("soundcompass", "paper")
        rows[label].config_edit(cfg)
        assert cfg == resolve_config("soundcompass", preset)
        assert rows[label].reported.convention == TORCHINFO_CLIP
    # what each preset changes is what Table 1 names
    paper = resolve_config("soundcompass", "paper")
    assert (paper.fusion.position, paper.fusion.pairwise, paper.clue.kind, paper.fusion.band_split) == \
        ("before", True, "sh", True)
    assert resolve_config("soundcompass", "fusion-after").fusion.position == "after"
    assert resolve_config("soundcompass", "no-spin-pairs").fusion.pairwise is False
    assert resolve_config("soundcompass", "cycpos-clue").clue.kind == "cycpos"
    assert resolve_config("soundcompass", "no-band-split").fusion.band_split is False
    # published parameters (Table 1) against the presets' counts: within 1 %
    for label, preset in wanted.items():
        params = sum(p.numel() for p in create("soundcompass", preset).parameters()) / 1e6
        assert abs(params - rows[label].reported.params_m) / rows[label].reported.params_m < 0.01, (label, params)


@pytest.mark.slow
def test_tse_baseline_rows_reproduce_table1_in_the_torchinfo_convention() -> None:
    rows = tuple(r for r in ROWS if r.name in ("dsenet", "ssdq"))
    assert [r.reported.gmacs for r in rows] == [86.89, 21.22]
    res = {r["row"].name: r for r in build_table(rows, seconds=4.0)}
    assert not any(r["missing"] for r in res.values())
    # SSDQ (point query, one output): 3,915,905 parameters (3.91 M) and 21.01 G (21.22 G) Mult-Adds
    assert abs(res["ssdq"]["rel_params"]) < 0.005 and abs(res["ssdq"]["rel_macs"]) < 0.02
    # DSENet (cyc-pos (az, el), one output): the Mult-Adds match (86.83 G vs 86.89 G); the parameters
    # do not (2.80 M vs 4.88 M, explained in the row)
    assert abs(res["dsenet"]["rel_macs"]) < 0.002
    assert res["dsenet"]["params_m"] == pytest.approx(2.804378, abs=1e-6)
    assert res["dsenet"]["rel_params"] < -0.10 and "counting artefact" in rows[0].explain_params


def _mini_tse(folder):
    """The demo recipe cut to 0.5-s scenes (4 train, 2 validation, 2 test) and a mini demo-tse suite."""
    from pathlib import Path

    from asabench.simulate.dataset.build import simulate_dataset
    from asabench.simulate.manifest import load_manifest

    root = Path(__file__).resolve().parents[3]
    text = (root / "manifests" / "demo.toml").read_text()
    text = text.replace('name = "demo"', 'name = "mini"').replace("duration_s = 2.0", "duration_s = 0.5")
    head, _, _ = text.partition("[splits]")
    (folder / "mini.toml").write_text(head + "[splits]\ntrain = 4\nvalidation = 2\ntest = 2\n")
    suite = (root / "benchmark" / "suites" / "demo-tse.toml").read_text()
    suite = suite.replace('manifest = "demo"', 'manifest = "mini.toml"').replace("clip_seconds = 2.0", "clip_seconds = 0.5")
    (folder / "mini-tse.toml").write_text(suite.replace('name = "demo-tse"', 'name = "mini-tse"'))
    m = load_manifest(folder / "mini.toml")
    for split in m.splits:
        simulate_dataset(m, split, folder / "data")
    return folder / "mini-tse.toml", folder / "data"


@pytest.mark.slow
def test_train_then_evaluate_both_baselines_on_a_mini_tse_suite(tmp_path, capsys):
    import json

    from asabench.benchmark.cli import main
    from asabench.benchmark.scoring import score

    suite, data = _mini_tse(tmp_path)
    for model in ("dsenet", "ssdq"):
        run = tmp_path / f"run-{model}"
        assert main(["train", "--suite", str(suite), "--model", model, "--config", "tiny", "--data", str(data),
                     "--out", str(run), "--max-steps", "2", "--no-progress"]) == 0
        assert "2 steps" in capsys.readouterr().out
        steps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert all(math.isfinite(s["loss"]) for s in steps if s["event"] == "step")
        assert f'name = "{model}-tiny"' in (run / "recipe.toml").read_text()  # the default tiny recipe
        ev = tmp_path / f"eval-{model}"
        assert main(["evaluate", "--suite", str(suite), "--run", str(run), "--data", str(data), "--out", str(ev),
                     "--workers", "1"]) == 0
        results = json.loads((ev / "results" / "tse.json").read_text())
        assert results["system"]["name"] == model
        again = score(data, "tse", predictions=ev / "predictions" / "tse", split="test", workers=1,
                      target="full", spatial=True)
        value = results["aggregate"]["si_sdr_i"]["value"]
        assert math.isfinite(value) and again["aggregate"]["si_sdr_i"]["value"] == pytest.approx(value, abs=1e-9)
