"""Scene sampling: per-scene seeds, order independence, and the recipe's distributions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from asabench.simulate.manifest import load_manifest
from asabench.simulate.rir.sabine import rt60_from_betas
from asabench.simulate.scene.sampling import sample_layout, split_key
from asabench.simulate.scene.trajectory import sample_trajectory

N_SCENES = 400


@pytest.fixture(scope="module")
def asa2():
    return load_manifest("asa2")


@pytest.fixture(scope="module")
def layouts(asa2):
    return [sample_layout(asa2, "train", i) for i in range(N_SCENES)]


def _same(a, b) -> bool:
    return (np.array_equal(a.room_dim, b.room_dim) and a.rt60_s == b.rt60_s and a.classes == b.classes
            and all(np.array_equal(x.points, y.points) for x, y in zip(a.trajectories, b.trajectories))
            and a.snr_db == b.snr_db and (a.rir_seed, a.noise_seed) == (b.rir_seed, b.noise_seed))


def test_scene_draws_do_not_depend_on_order(asa2, layouts):
    for i in (17, 3, 250, 0):  # any order, fresh generators
        assert _same(sample_layout(asa2, "train", i), layouts[i])
    assert not _same(layouts[1], layouts[2])
    assert not _same(sample_layout(asa2, "test", 1), layouts[1])
    assert split_key("train") != split_key("test") and split_key("dev") == split_key("dev")


def test_static_recipe_fixes_sources_where_the_moving_one_starts(asa2):
    static = load_manifest("asa2-static")
    for i in range(20):
        a, b = sample_layout(asa2, "test", i), sample_layout(static, "test", i)
        assert np.array_equal(a.room_dim, b.room_dim) and a.classes == b.classes
        for ta, tb in zip(a.trajectories, b.trajectories):
            assert tb.static and np.all(tb.points == ta.points[0])


def test_number_of_sources_follows_the_weights(asa2, layouts):
    counts = np.bincount([len(lay.classes) for lay in layouts], minlength=6)[2:]
    expected = np.asarray(asa2.sources.num_sources_weights) * N_SCENES
    assert stats.chisquare(counts, expected).pvalue > 1e-3
    # The same counts against uniform weights must be rejected (the test has power).
    assert stats.chisquare(counts, np.full(4, N_SCENES / 4)).pvalue < 1e-3


def test_classes_are_uniform_with_repeats(layouts):
    classes = np.concatenate([lay.classes for lay in layouts])
    counts = np.bincount(classes, minlength=13)
    assert stats.chisquare(counts).pvalue > 1e-3
    assert any(len(set(lay.classes)) < len(lay.classes) for lay in layouts)


@pytest.mark.parametrize("what, low, high", [
    ("width", 5.0, 8.0), ("length", 5.0, 8.0), ("height", 3.0, 4.0), ("rt60", 0.2, 0.6), ("snr", 6.0, 30.0),
])
def test_continuous_draws_are_uniform(layouts, what, low, high):
    values = {
        "width": [lay.room_dim[0] for lay in layouts], "length": [lay.room_dim[1] for lay in layouts],
        "height": [lay.room_dim[2] for lay in layouts], "rt60": [lay.rt60_s for lay in layouts],
        "snr": [lay.snr_db for lay in layouts],
    }[what]
    assert stats.kstest(values, stats.uniform(low, high - low).cdf).pvalue > 1e-3
    # A range 10 % narrower at the top is detected.
    assert stats.kstest(values, stats.uniform(low, 0.8 * (high - low)).cdf).pvalue < 1e-3


def test_betas_reproduce_the_drawn_rt60_by_sabine(layouts):
    for lay in layouts[:50]:
        assert rt60_from_betas(lay.room_dim, lay.betas) == pytest.approx(lay.rt60_s, rel=1e-9)
        # Ceiling (last wall) absorbs 0.5/0.8 of the others: alpha_z1 / alpha_x0 = 0.625.
        alpha = 1 - lay.betas**2
        assert alpha[5] / alpha[0] == pytest.approx(0.625, rel=1e-9)


def test_trajectories_follow_the_asa2_motion_model(asa2, layouts):
    trajs = [t for lay in layouts for t in lay.trajectories]
    static = np.array([t.static for t in trajs])
    assert stats.binomtest(int(static.sum()), len(trajs), 0.25).pvalue > 1e-3
    n = np.arange(40)
    for lay in layouts:
        lo, hi = 0.5, lay.room_dim - 0.5
        for t in lay.trajectories:
            assert t.points.shape == (40, 3)
            assert np.all(t.points >= lo - 1e-12) and np.all(t.points <= hi + 1e-12)
            assert np.all(t.amplitude_m <= 1.0) and np.all(t.omega * 40 / (2 * np.pi) <= 2.0)
            p0 = t.points[0]
            np.testing.assert_allclose(t.points, p0 + t.amplitude_m * np.sin(np.outer(n, t.omega)), atol=1e-12)
            if t.static:
                assert np.all(t.points == p0)
    # Start positions are uniform inside the margin (KS on the normalised x coordinate).
    u = [(t.points[0, 0] - 0.5) / (lay.room_dim[0] - 1.0) for lay in layouts for t in lay.trajectories]
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # A = U * cap with a plain uniform (ASA2 2.0); the U^3 law of 1.0 is rejected.
    ratio = [t.amplitude_m[0] / min(t.points[0, 0] - 0.5, lay.room_dim[0] - 0.5 - t.points[0, 0], 1.0)
             for lay in layouts for t in lay.trajectories if not t.static]
    assert stats.kstest(ratio, "uniform").pvalue > 1e-3
    assert stats.kstest(np.cbrt(ratio), "uniform").pvalue < 1e-3


def test_amplitude_is_limited_by_the_nearer_wall():
    rng = np.random.default_rng(5)
    room = np.array([1.2, 1.2, 1.2])  # only 0.2 m free inside the 0.5 m margin
    for _ in range(200):
        t = sample_trajectory(rng, room, n_points=40, static_prob=0.0, amplitude_max_m=1.0,
                              max_oscillations=2.0, margin_m=0.5)
        assert np.all(t.points >= 0.5 - 1e-12) and np.all(t.points <= 0.7 + 1e-12)


def test_spec_without_loading_equals_spec_with_loading():
    from asabench.simulate.scene.sampling import sample_scene
    from asabench.simulate.dataset.build import open_banks

    m = load_manifest("demo")
    banks = open_banks(m)
    for i in range(3):
        loaded, clips, noise_clip = sample_scene(m, "train", i, banks.sources, banks.noise)
        light, none_clips, none_noise = sample_scene(m, "train", i, banks.sources, banks.noise, load_clips=False)
        assert light == loaded and none_clips is None and none_noise is None
        for src, clip in zip(loaded.sources, clips):
            # Crop or zero-padded onset: the used part lies inside both the clip and the scene.
            assert src.clip_start + src.length <= clip.shape[0]
            assert src.onset + src.length <= loaded.num_samples
            assert src.length == min(clip.shape[0], loaded.num_samples)
