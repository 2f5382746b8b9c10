"""evaluate(): untrained tiny models on the demo suites, oracle predictors with known scores."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from asabench.benchmark.evaluate import EvaluationError, evaluate, resolve_checkpoint
from asabench.benchmark.io.dcase_csv import DcaseLabels
from asabench.benchmark.scoring import load_reference, score
from asabench.benchmark.suites import SUITE_DIR, load_suite
from asabench.simulate.dataset.loader import SceneDataset


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Two demo test scenes (asabench simulate demo --split test --num 2)."""
    from asabench.simulate.dataset.build import simulate_dataset

    root = tmp_path_factory.mktemp("demo") / "data"
    simulate_dataset("demo", "test", root, num=2)
    return root


class Oracle:
    """Returns the references of the scene whose mixture it is given (looked up by its bytes).

    ``kind="targets"``: the full reverberant images and the reference labels; ``"mixture"``:
    the mixture as every object. Scores are then those of ``score --oracle``.
    """

    def __init__(self, data, kind="targets"):
        self.kind = kind
        ds = SceneDataset(data, "test", targets=True)
        ref = load_reference(data, "test")
        self.scenes = {}
        for k in range(len(ds)):
            item = ds[k]
            j = int(item["num_sources"])
            self.scenes[item["mixture"].numpy().tobytes()] = (
                (item["direct"][:j] + item["reverb"][:j]), ref.labels(ref.records[k]))
        self.clues = []

    def _scene(self, mixture):
        return [self.scenes[m.numpy().tobytes()] for m in mixture]

    def separate(self, mixture):
        if self.kind == "mixture":
            return mixture[:, None].repeat(1, 3, 1, 1)
        return torch.stack([images for images, _ in self._scene(mixture)])

    def detect(self, mixture):
        return [labels for _, labels in self._scene(mixture)]

    def extract(self, mixture, direction):
        self.clues.append(direction.clone())
        if self.kind == "mixture":
            return mixture.clone()
        out = []
        for m, d in zip(mixture, direction):
            images, labels = self.scenes[m.numpy().tobytes()]
            # the source whose first labelled direction is the clue
            k = _source_of(labels, d)
            out.append(images[k])
        return torch.stack(out)


def _source_of(labels: DcaseLabels, direction: torch.Tensor) -> int:
    best = None
    for k in np.unique(labels.track):
        first = np.flatnonzero(labels.track == k)[0]
        err = abs(labels.azimuth_deg[first] - float(direction[0])) + abs(labels.elevation_deg[first] - float(direction[1]))
        if best is None or err < best[0]:
            best = (err, int(k))
    return best[1]


def test_oracle_predictor_scores_equal_the_scorer_oracle_lines(demo, tmp_path):
    result = evaluate("demo-multitask", demo, tmp_path / "eval", predictor=Oracle(demo), workers=1)
    assert set(result.results) == {"seld", "uss", "seld-dcase", "uss-pooled"}
    pooled = json.loads((tmp_path / "eval" / "results" / "uss-pooled.json").read_text())
    line = score(demo, "uss", oracle="targets", workers=1)
    for metric in ("si_sdr_i", "sdr_i"):
        assert pooled["aggregate"][metric]["value"] == pytest.approx(line["aggregate"][metric]["value"], abs=1e-6)
    deepasa = result.results["uss"]
    line = score(demo, "uss", oracle="targets", workers=1, separation_convention="deepasa")
    for metric in ("si_snr_i_ref0", "snr_i_ref0"):
        assert deepasa["aggregate"][metric]["value"] == pytest.approx(line["aggregate"][metric]["value"], abs=1e-6)
    for entry, mode in (("seld", "deepasa"), ("seld-dcase", "default")):
        seld = result.results[entry]
        assert seld["definitions"]["seld_mode"] == mode
        assert seld["aggregate"]["seld"]["value"] == pytest.approx(
            score(demo, "seld", oracle="targets", seld_mode=mode)["aggregate"]["seld"]["value"], abs=1e-12)
    assert result.main_scores()["seld"] == result.results["seld"]["aggregate"]["seld"]["value"]


def test_mixture_predictor_improves_nothing(demo, tmp_path):
    result = evaluate("demo-tse", demo, tmp_path / "eval", predictor=Oracle(demo, "mixture"), workers=1)
    tse = result.results["tse"]
    assert abs(tse["aggregate"]["si_sdr_i"]["value"]) < 1e-9
    assert abs(tse["aggregate"]["sdr_i"]["value"]) < 1e-9


def test_tse_runs_once_per_source_with_its_labelled_direction(demo, tmp_path):
    oracle = Oracle(demo)
    result = evaluate("demo-tse", demo, tmp_path / "eval", predictor=oracle, workers=1, batch_size=1)
    ref = load_reference(demo, "test")
    assert len(oracle.clues) == sum(r.num_sources for r in ref.records)
    labels = ref.labels(ref.records[0])
    first = np.flatnonzero(labels.track == 0)[0]
    torch.testing.assert_close(oracle.clues[0][0], torch.tensor([labels.azimuth_deg[first],
                                                                 labels.elevation_deg[first]]).float(),
                               atol=1e-3, rtol=0)
    oracle_line = score(demo, "tse", oracle="targets", workers=1)
    assert result.results["tse"]["aggregate"]["si_sdr_i"]["value"] == pytest.approx(
        oracle_line["aggregate"]["si_sdr_i"]["value"], abs=1e-6)


def test_results_record_the_suite_name_hash_and_provenance(demo, tmp_path):
    evaluate("demo-tse", demo, tmp_path / "eval", predictor=Oracle(demo, "mixture"), workers=1)
    res = json.loads((tmp_path / "eval" / "results" / "tse.json").read_text())
    digest = hashlib.sha256((SUITE_DIR / "demo-tse.toml").read_bytes()).hexdigest()
    assert res["suite"]["name"] == "demo-tse" and res["suite"]["sha256"] == digest
    assert res["suite"]["entry"] == "tse" and res["main_score"]["name"] == "si_sdr_i"
    assert res["dataset"]["name"] == "demo" and res["dataset"]["manifest_sha256"]
    assert res["schema_version"] == 1 and res["definitions"]["target_image"] == "full"
    assert set(res["timing"]) == {"predict_s", "score_s"}
    assert res["system"]["name"] == "Oracle"
    summary = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert summary["entries"]["tse"]["results"] == "results/tse.json"
    assert (tmp_path / "eval" / "results" / "tse.csv").is_file()


@pytest.mark.slow
def test_untrained_tiny_soundcompass_on_demo_tse(demo, tmp_path):
    result = evaluate("demo-tse", demo, tmp_path / "eval", model="soundcompass", config="tiny",
                      workers=1, batch_size=4)
    res = result.results["tse"]
    assert res["system"]["untrained"] is True and res["system"]["config"]["sample_rate"] == 8000
    value = res["aggregate"]["si_sdr_i"]["value"]
    assert value is not None and value < 0  # random weights: worse than the mixture
    assert res["dataset"]["num_scenes"] == 2


@pytest.mark.slow
def test_untrained_tiny_deepasa_on_demo_multitask(demo, tmp_path):
    # 3 object slots for 2-source scenes: the scorer matches the references to the best 2
    result = evaluate("demo-multitask", demo, tmp_path / "eval", model="deepasa", workers=1, batch_size=2)
    assert set(result.results) == {"seld", "uss", "seld-dcase", "uss-pooled"}
    for k in range(2):
        assert len(list((tmp_path / "eval" / "predictions" / "uss" / f"test-00000{k}").iterdir())) == 3
    assert result.results["uss"]["suite"]["sha256"] == load_suite("demo-multitask").sha256


def test_a_dataset_of_another_manifest_is_refused(tmp_path, rng):
    from asabench.simulate.testing.dummies import make_dummy_dataset

    make_dummy_dataset(tmp_path / "dummy", 1, 2, 8000, 2.0, rng)
    with pytest.raises(EvaluationError, match=r"dataset\.json: field 'name': dataset 'dummy', but suite demo-tse"):
        evaluate("demo-tse", tmp_path / "dummy", tmp_path / "eval", predictor=Oracle.__new__(Oracle))
    assert not (tmp_path / "eval").exists()


def test_out_must_be_new_or_empty_and_one_system(demo, tmp_path):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        evaluate("demo-tse", demo, tmp_path / "eval", model="soundcompass")
    assert (tmp_path / "eval" / "keep.txt").read_text() == "x"
    with pytest.raises(EvaluationError, match="exactly one of"):
        evaluate("demo-tse", demo, tmp_path / "e2", model="soundcompass", predictor=object())
    with pytest.raises(ValueError, match="inside"):
        evaluate("demo-tse", demo, demo / "eval", model="soundcompass")


def test_run_folder_checkpoint_is_found(tmp_path):
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    with pytest.raises(EvaluationError, match="no checkpoints/best.pt"):
        resolve_checkpoint(tmp_path / "run")
    (tmp_path / "run" / "checkpoints" / "last.pt").write_bytes(b"")
    assert resolve_checkpoint(tmp_path / "run").name == "last.pt"
    (tmp_path / "run" / "checkpoints" / "best.pt").write_bytes(b"")
    assert resolve_checkpoint(tmp_path / "run").name == "best.pt"
