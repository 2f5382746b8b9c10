"""SRP-PHAT / MUSIC SELD baselines: grid, plane waves, peaks, tracks, the centroid classifier, single static sources, evaluate."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from asabench.benchmark.baselines import BaselineContext, BaselineError, get_baseline
from asabench.benchmark.baselines.beamform import array_geometry
from asabench.benchmark.baselines.localize import (SeldBaseline, SeldBaselineConfig, assign_tracks,
                                                   fibonacci_grid, grid_covering_radius_deg, pick_peaks)
from asabench.benchmark.baselines.seld_classify import (CentroidFit, fit_centroids, log_mel_statistics,
                                                        mel_filterbank, stft, stft_label_frames)
from asabench.simulate.geometry import SPEED_OF_SOUND, dcase_to_cartesian, tetra_array

FS = 8000
MICS = tetra_array((0.0, 0.0, 0.0), 0.042)


def plane_wave(az: float, el: float, n: int, rng: np.random.Generator, fs: int = FS) -> np.ndarray:
    """``[4, n]`` white noise arriving as a plane wave from (az, el): exact fractional delays in the DFT."""
    s = rng.standard_normal(n + 256)
    f = np.fft.rfftfreq(len(s), 1 / fs)
    lead = MICS @ dcase_to_cartesian(az, el) / SPEED_OF_SOUND
    x = np.fft.irfft(np.fft.rfft(s)[None] * np.exp(2j * np.pi * f[None] * lead[:, None]), len(s))
    return x[:, 128:128 + n]


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip((a * b).sum(-1), -1.0, 1.0)))


def test_fibonacci_grid_size_and_covering_radius():
    grid = fibonacci_grid(3.0)
    assert len(grid) == math.ceil(4 * math.pi / math.radians(3.0) ** 2) == 4584
    np.testing.assert_allclose(np.linalg.norm(grid, axis=1), 1.0, atol=1e-12)
    assert abs(grid.mean(axis=0)).max() < 1e-3                     # evenly spread: centroid at the origin
    radius = grid_covering_radius_deg(grid, n_probe=4000)
    assert 1.5 < radius < 0.8 * 3.0                                 # measured 2.13 deg


@pytest.mark.parametrize("method", ["srp-phat", "music"])
def test_plane_waves_found_within_the_grid_resolution(method):
    rng = np.random.default_rng(1)
    res = 4.0
    p = SeldBaseline(method, SeldBaselineConfig(grid_resolution_deg=res), fs=FS, label_hop_s=0.1,
                     max_objects=3, mics=MICS)
    n = FS
    for az, el in [(30.0, 10.0), (-120.0, -40.0), (170.0, 65.0)]:
        x = np.zeros((4, n))
        x[:, FS // 4: 3 * FS // 4] = plane_wave(az, el, FS // 2, rng)
        x += 1e-3 * rng.standard_normal(x.shape)
        found = p.localize(torch.from_numpy(x).float())
        assert found["active"].tolist() == [False] * 2 + [True] * 6 + [False] * 2   # frames 2..7 carry the wave
        on = found["table"] >= 0
        assert on[:, 0].tolist() == found["active"].tolist() and not on[:, 1:].any()   # one source, slot 0
        err = angle_deg(found["directions"][on[:, 0], 0], dcase_to_cartesian(az, el))
        assert err.max() <= res, (az, el, err)


def _band(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    spec = np.fft.rfft(x, axis=1)
    f = np.fft.rfftfreq(x.shape[1], 1 / FS)
    spec[:, (f < lo) | (f > hi)] = 0
    return np.fft.irfft(spec, x.shape[1], axis=1)


def test_music_counts_and_tracks_two_simultaneous_sources():
    # Disjoint bands (each time-frequency bin has one source: MUSIC's signal subspace of dim 1).
    rng = np.random.default_rng(2)
    n = FS
    x = (_band(plane_wave(60.0, 0.0, n, rng), 200, 1800) + _band(plane_wave(-90.0, 30.0, n, rng), 2000, 3800)
         + 1e-3 * rng.standard_normal((4, n)))
    x[:, :FS // 5] = 1e-3 * rng.standard_normal((4, FS // 5))      # a quiet start gives the noise floor
    p = SeldBaseline("music", SeldBaselineConfig(grid_resolution_deg=4.0), fs=FS, label_hop_s=0.1,
                     max_objects=3, mics=MICS)
    found = p.localize(torch.from_numpy(x).float())
    on = found["table"][3:] >= 0                                    # frames fully inside the sources
    assert on[:, :2].all() and not on[:, 2].any()                  # two sources counted in every frame
    truth = dcase_to_cartesian(np.array([60.0, -90.0]), np.array([0.0, 30.0]))
    slot_dir = found["directions"][3:, :2]                          # [L, 2, 3]
    first = int(np.argmin(angle_deg(slot_dir[0, 0], truth)))       # which source slot 0 locked on
    assert angle_deg(slot_dir[:, 0], truth[first]).max() <= 4.0    # and each slot stays on its source
    assert angle_deg(slot_dir[:, 1], truth[1 - first]).max() <= 4.0


def test_pick_peaks_separation_and_ratio():
    grid = fibonacci_grid(10.0)
    target = dcase_to_cartesian(np.array([0.0, 5.0, 120.0]), np.array([0.0, 0.0, 0.0]))
    near = [int(np.argmax(grid @ t)) for t in target]
    maps = torch.zeros(1, len(grid), dtype=torch.float64)
    maps[0, near[0]], maps[0, near[1]], maps[0, near[2]] = 1.0, 0.95, 0.7
    idx, counted = pick_peaks(maps, grid, 3, min_separation_deg=20.0, peak_ratio=0.8)
    assert len(grid) == 413
    # The 0.95 point lies within 20 deg of the maximum: suppressed; 0.7 is the second peak, below
    # 0.8 x (1 - median 0); the third is a zero of the map.
    assert idx[0, 0] == near[0] and idx[0, 1] == near[2]
    assert counted[0].tolist() == [True, False, False]
    _, counted = pick_peaks(maps, grid, 3, min_separation_deg=20.0, peak_ratio=0.6)
    assert counted[0].tolist() == [True, True, False]


def test_assign_tracks_continues_nearest_and_drops_short():
    a = dcase_to_cartesian(0.0, 0.0)
    b = dcase_to_cartesian(90.0, 0.0)
    a2 = dcase_to_cartesian(10.0, 0.0)
    c = dcase_to_cartesian(-150.0, 60.0)
    frames = [np.stack([a, b]), np.stack([b, a2]), np.stack([a2]), np.stack([c]), np.zeros((0, 3))]
    table = assign_tracks(frames, max_slots=3, gate_deg=30.0, min_frames=2)
    assert table[:, 0].tolist() == [0, 1, 0, -1, -1]               # a, then a2 (10 deg away) continue slot 0
    assert table[:, 1].tolist() == [1, 0, -1, -1, -1]              # b in slot 1 whatever its order
    assert table[:, 2].tolist() == [-1] * 5                        # c: a new slot, one frame only: dropped


def test_mel_filterbank_triangles():
    fb = mel_filterbank(FS, 256, 20)
    freqs = np.arange(129) * FS / 256
    mel = 2595 * np.log10(1 + freqs / 700)
    centres = np.linspace(0, 2595 * np.log10(1 + 4000 / 700), 22)[1:-1]
    inside = (mel >= centres[0]) & (mel <= centres[-1])
    np.testing.assert_allclose(fb.sum(axis=0)[inside], 1.0, atol=1e-9)   # neighbours' slopes sum to 1
    assert fb.max() <= 1.0 and (fb >= 0).all()


def _tone_clip(freq: float, n: int, rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    t = np.arange(n) / FS
    return gain * (np.sin(2 * np.pi * freq * t + rng.uniform(0, 6.28)) + 0.05 * rng.standard_normal(n))


def _power(clip: np.ndarray) -> np.ndarray:
    return stft(torch.from_numpy(clip), FS).abs().square().numpy()


def test_centroid_classifier_means_and_decisions():
    rng = np.random.default_rng(3)
    fb = mel_filterbank(FS, 256, 16)
    freqs = {2: 300.0, 5: 1200.0, 9: 3000.0}
    feats, labels = [], []
    for cls, f0 in freqs.items():
        for _ in range(3):
            feats.append(log_mel_statistics(_power(_tone_clip(f0 * rng.uniform(0.95, 1.05), FS, rng)), fb))
            labels.append(cls)
    feats = np.stack(feats)
    fit = fit_centroids(feats, labels, fs=FS, n_mels=16)
    assert fit.classes == [2, 5, 9] and fit.counts == [3, 3, 3]
    for i, cls in enumerate(fit.classes):
        hand = sum(feats[j] for j in range(len(labels)) if labels[j] == cls) / 3
        np.testing.assert_allclose(fit.centroids[i], hand, rtol=1e-12)
    np.testing.assert_allclose(fit.scale, feats.std(axis=0), rtol=1e-12)
    test = np.stack([log_mel_statistics(_power(_tone_clip(f0, FS, rng, gain=g)), fb)
                     for f0, g in [(310.0, 0.1), (1150.0, 3.0), (2900.0, 0.01)]])
    assert fit.predict(test).tolist() == [2, 5, 9]
    # The feature ignores the clip's gain (up to the log floor).
    clip = _tone_clip(700.0, FS, rng)
    np.testing.assert_allclose(log_mel_statistics(_power(clip), fb), log_mel_statistics(_power(20 * clip), fb),
                               atol=1e-6)
    # A saved fit reads back identically through the config loader.
    again = CentroidFit.from_dict(fit.to_dict())
    assert again == fit


def test_stft_label_frames():
    assert stft_label_frames(8, 8000, 0.1).tolist() == [0, 0, 0, 0, 0, 0, 0, 1]   # hop 128: 7 x 128 = 896 >= 800


# ----------------------------------------------------------------------------- datasets


@pytest.fixture(scope="module")
def single_static(tmp_path_factory) -> Path:
    """Four test scenes of asa2-static with one source each (16 kHz, 4 s)."""
    from asabench.simulate.dataset.build import simulate_dataset

    here = Path(__file__).resolve().parents[3] / "manifests" / "asa2-static.toml"
    text = here.read_text().replace("num_sources = [2, 3, 4, 5]", "num_sources = [1]")
    text = text.replace("num_sources_weights = [0.1, 0.2, 0.3, 0.4]", "num_sources_weights = [1.0]")
    root = tmp_path_factory.mktemp("single-static")
    (root / "single.toml").write_text(text)
    simulate_dataset(root / "single.toml", "test", root / "data", num=4)
    return root / "data"


@pytest.mark.slow
def test_single_static_sources_localised(single_static):
    from asabench.simulate.dataset.loader import SceneDataset

    ds = SceneDataset(single_static, "test", max_sources=5, targets=False)
    p = SeldBaseline("srp-phat", SeldBaselineConfig(), fs=ds.fs, label_hop_s=0.1, max_objects=5,
                     mics=array_geometry(single_static))
    errors = []
    for i in range(len(ds)):
        item = ds[i]
        found = p.localize(item["mixture"])
        ref = item["doa"][0].numpy()
        on = found["table"] >= 0
        for t in np.nonzero(np.linalg.norm(ref, axis=1) > 0.5)[0]:
            if on[t].any():
                errors.append(angle_deg(found["directions"][t][on[t]], ref[t]).min())
    errors = np.array(errors)
    assert len(errors) >= 40
    assert np.median(errors) < 15.0                                  # measured: see docs/baselines.md


@pytest.fixture(scope="module")
def demo_with_train(tmp_path_factory) -> Path:
    from asabench.simulate.dataset.build import simulate_dataset

    root = tmp_path_factory.mktemp("seld-demo") / "data"
    simulate_dataset("demo", "train", root, num=3)
    simulate_dataset("demo", "test", root, num=2)
    return root


def test_no_train_split_is_an_error_naming_the_folder(demo_dataset):
    from asabench.benchmark.suites import load_suite

    suite = load_suite("demo-multitask")
    with pytest.raises(BaselineError, match=f"{demo_dataset}: field 'split': no scene in a 'train' split"):
        get_baseline("srp-phat-uss").factory(BaselineContext(suite=suite, data=demo_dataset))


@pytest.mark.slow
def test_evaluate_demo_multitask_end_to_end(demo_with_train, tmp_path):
    import json

    from asabench.benchmark.evaluate import evaluate

    before = sorted(p.relative_to(demo_with_train) for p in demo_with_train.rglob("*"))
    out = tmp_path / "eval"
    evaluate("demo-multitask", demo_with_train, out, model="srp-phat-uss")
    after = sorted(p.relative_to(demo_with_train) for p in demo_with_train.rglob("*"))
    assert before == after                                          # nothing cached in the input
    record = json.loads((out / "results" / "seld.json").read_text())
    seld = record["main_score"]["value"]
    assert 0.0 <= seld <= 1.5
    assert sorted(p.name for p in (out / "predictions" / "uss").iterdir()) == ["test-000000", "test-000001"]
    assert len(list((out / "predictions" / "uss" / "test-000000").glob("*.wav"))) == 3   # max_objects


@pytest.mark.slow
def test_saved_fit_is_reused_through_config(demo_with_train, tmp_path):
    from asabench.benchmark.baselines.localize import fit_seld_config
    from asabench.benchmark.suites import load_suite

    suite = load_suite("demo-multitask")
    saved = tmp_path / "srp.toml"
    fitted = fit_seld_config(suite, demo_with_train, saved)
    direct = get_baseline("srp-phat").factory(BaselineContext(suite=suite, data=demo_with_train))
    assert direct.classifier.classes == fitted.classifier.classes
    np.testing.assert_allclose(direct.classifier.centroids, fitted.classifier.centroids, rtol=1e-9)
    # With --config FILE and no dataset at all: the saved classifier, the same events.
    loaded = get_baseline("srp-phat").factory(BaselineContext(suite=suite, data=None, config=str(saved)))
    from asabench.simulate.dataset.loader import SceneDataset

    mixture = SceneDataset(demo_with_train, "test", max_sources=3, targets=False)[0]["mixture"][None]
    a, b = direct.detect(mixture)[0], loaded.detect(mixture)[0]
    assert a.num_rows == b.num_rows and (a.cls == b.cls).all() and np.allclose(a.xyz, b.xyz, atol=1e-6)
    with pytest.raises(ValueError, match="inside|over"):
        fit_seld_config(suite, demo_with_train, demo_with_train / "fit.toml")
