"""Predictor protocols and adapters: DeepASA events, TSE clues, contract fitting, layout written."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asabench import models
from asabench.benchmark import predict as P
from asabench.benchmark.submissions.layout import validate_submission
from asabench.benchmark.suites import load_suite
from asabench.simulate.classes import NUM_CLASSES
from asabench.simulate.geometry import dcase_to_cartesian
from asabench.simulate.testing.dummies import make_dummy_dataset


def test_deepasa_events_put_each_object_on_its_own_track():
    active = torch.zeros(1, 3, 4, dtype=torch.bool)
    active[0, 2, 1] = active[0, 0, 1] = active[0, 0, 3] = True
    doa = torch.zeros(1, 3, 4, 3)
    doa[0, 0, 1] = torch.tensor([0.0, 1.0, 0.0])
    doa[0, 0, 3] = torch.tensor([1.0, 0.0, 0.0])
    doa[0, 2, 1] = torch.tensor([0.0, 0.0, 1.0])
    decoded = {"active": active, "class_index": torch.tensor([[4, 7, 12]]), "doa": doa}
    (labels,) = P.deepasa_events(decoded)
    assert labels.frame.tolist() == [1, 1, 3]          # by frame, then slot
    assert labels.track.tolist() == [0, 2, 0]          # track = object slot
    assert labels.cls.tolist() == [4, 12, 4]
    np.testing.assert_allclose(labels.azimuth_deg, [90.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(labels.elevation_deg, [0.0, 90.0, 0.0], atol=1e-9)


@pytest.mark.slow
def test_deepasa_adapter_events_follow_decode_events():
    from asabench.models.systems.deepasa import decode_events

    suite = load_suite("demo-multitask")
    model = models.create("deepasa", P.fit_model_config("deepasa", "tiny", suite.contract))
    adapter = P.DeepASAPredictor(model)
    x = 0.1 * torch.randn(2, 4, 16000, generator=torch.Generator().manual_seed(0))
    found = adapter.analyse(x)
    with torch.no_grad():
        out = model(x)
    decoded = decode_events(out)
    assert found.objects.shape == (2, 3, 4, 16000)
    torch.testing.assert_close(found.objects, out["separated"])
    assert [ev.num_rows for ev in found.events] == [int(a.sum()) for a in decoded["active"]]


def test_clue_is_the_first_labelled_direction():
    doa = torch.zeros(20, 3)
    doa[5:] = torch.from_numpy(dcase_to_cartesian(-120.0, 25.0)).float()
    doa[9] = torch.from_numpy(dcase_to_cartesian(10.0, 0.0)).float()  # a later frame moves
    direction, ok = P.clue_direction(doa)
    assert ok
    torch.testing.assert_close(direction, torch.tensor([-120.0, 25.0]), atol=1e-4, rtol=0)
    silent, ok = P.clue_direction(torch.zeros(20, 3))
    assert not ok and silent.tolist() == [0.0, 0.0]


def test_fit_model_config_keeps_the_label_hop_at_the_demo_rate():
    contract = load_suite("demo-multitask").contract
    cfg = P.fit_model_config("deepasa", "tiny", contract)
    assert (cfg.sample_rate, cfg.stft.n_fft, cfg.stft.hop, cfg.n_objects) == (8000, 64, 32, 3)
    assert cfg.label_hop_s == pytest.approx(0.1)
    sc = P.fit_model_config("soundcompass", "tiny", load_suite("demo-tse").contract)
    assert (sc.sample_rate, sc.stft.hop) == (8000, 32)


def test_a_model_off_the_contract_is_refused_by_name():
    contract = load_suite("demo-multitask").contract
    model = models.create("deepasa", "tiny")  # 16 kHz
    with pytest.raises(P.PredictorError, match="sample_rate 16000 Hz, the suite's data is 8000 Hz"):
        P.check_model_contract(model, contract, ["uss", "seld"])


class _OnlyExtract:
    def extract(self, mixture, direction):
        return mixture


def test_check_predictor_names_the_missing_methods():
    with pytest.raises(P.PredictorError, match=r"_OnlyExtract lacks separate\(\) for uss, detect\(\) for seld"):
        P.check_predictor(_OnlyExtract(), ["uss", "seld", "tse"])
    P.check_predictor(_OnlyExtract(), ["tse"])
    assert isinstance(_OnlyExtract(), P.TSEPredictor) and not isinstance(_OnlyExtract(), P.USSPredictor)


def test_load_predictor_imports_and_instantiates():
    obj = P.load_predictor(f"{__name__}:_OnlyExtract")
    assert isinstance(obj, _OnlyExtract)
    for spec, what in [("nocolon", "expected module:attr"), ("no_such_module_xyz:A", "cannot import"),
                       (f"{__name__}:Nope", "has no attribute")]:
        with pytest.raises(P.PredictorError, match=what):
            P.load_predictor(spec)


@pytest.fixture
def dummy(tmp_path, rng):
    make_dummy_dataset(tmp_path / "data", 2, [2, 3], 8000, 1.0, rng)
    return tmp_path / "data"


class _Fixed:
    """Returns what it is told to (for the shape and value checks)."""

    def __init__(self, objects=None, events=None):
        self.objects, self.events = objects, events

    def separate(self, mixture):
        return self.objects(mixture)

    def detect(self, mixture):
        return self.events(mixture)


@pytest.mark.parametrize("objects, what", [
    (lambda m: m[:, None].repeat(1, 2, 1, 1), "scene test-000001 has 3 sources but only 2 objects"),
    (lambda m: m[:, None].repeat(1, 4, 1, 1), "4 objects per scene, more than the suite's 3"),
    (lambda m: m[:, None, :2].repeat(1, 3, 1, 1), "expected shape"),
    (lambda m: m[:, None].repeat(1, 3, 1, 1) * float("nan"), "NaN/inf"),
    (lambda m: m.numpy(), "expected a [B, K, C, N] tensor"),
])
def test_bad_objects_are_refused(dummy, tmp_path, objects, what):
    with pytest.raises(P.PredictorError, match=what.replace("[", r"\[").replace("]", r"\]")):
        P.write_predictions(_Fixed(objects=objects), dummy, tmp_path / "p", ["uss"], split="test",
                            max_objects=3)


def test_events_beyond_the_scene_are_dropped_and_noted(dummy, tmp_path):
    from asabench.benchmark.io.dcase_csv import DcaseLabels

    def events(m):
        return [DcaseLabels.from_polar([0, 9, 10], [1, 2, 3], [0, 1, 0], [10, 20, 30], [0, 0, 0])
                for _ in range(m.shape[0])]
    report = P.write_predictions(_Fixed(events=events), dummy, tmp_path / "p", ["seld"], split="test")
    assert report.notes == [f"test-00000{k}: 1 event row(s) at frames >= 10 (beyond the scene) dropped"
                            for k in range(2)]
    assert (tmp_path / "p" / "seld" / "test-000000.csv").read_text().splitlines()[1].startswith("9,2,1,20.0,")


@pytest.mark.slow
def test_written_tse_and_seld_folders_pass_score_validation(tmp_path):
    from asabench.simulate.dataset.build import simulate_dataset
    from asabench.benchmark.scoring import load_reference

    simulate_dataset("demo", "test", tmp_path / "demo", num=2)
    suite = load_suite("demo-multitask")
    dm = P.DeepASAPredictor(models.create("deepasa", P.fit_model_config("deepasa", "tiny", suite.contract)))
    sc = P.SoundCompassPredictor(models.create("soundcompass", P.fit_model_config("soundcompass", "tiny",
                                                                                   suite.contract)))
    P.write_predictions(dm, tmp_path / "demo", tmp_path / "p", ["seld"], split="test", batch_size=2)
    report = P.write_predictions(sc, tmp_path / "demo", tmp_path / "p", ["tse"], split="test", batch_size=3)
    assert report.silent_clues == 0
    ref = load_reference(tmp_path / "demo", "test")
    for task in ("tse", "seld"):
        sub = validate_submission(tmp_path / "p" / task, task, ref.expectations(), num_classes=NUM_CLASSES)
        assert not sub.warnings
    assert sorted(p.name for p in (tmp_path / "p" / "tse" / "test-000000").iterdir()) == \
        [f"{k}.wav" for k in range(ref.records[0].num_sources)]
