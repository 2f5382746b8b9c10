"""The ASA2 motion law over thousands of sampled trajectories (sampling only, no rendering).

Closed forms of the published law (``A = U cap``, ``w = w_max U``, plain uniforms): per axis
``A / cap`` and ``w / w_max`` are uniform on [0, 1), ``E[A / cap] = 1/2``,
``E[(A / cap) (w / w_max)] = 1/4``; under the pre-2.0 ``U^3`` law these are 1/4 and 1/16.
The figures of issue 10 and the simulation notes (20 000 moving sources of the ASA2 rooms):
mean peak speed about 1.3 m/s (0.38 with U^3), 0.2 % of moving sources moving less than
5 cm (21 % with U^3), median largest change of direction from the start about 16 degrees.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from asabench.simulate.manifest import load_manifest
from asabench.simulate.scene.sampling import sample_layout
from asabench.simulate.scene.trajectory import sample_trajectory

W_MAX = 2 * np.pi / 40 * 2.0  # rad per point: at most 2 periods over 40 points
HOP_S = 0.1


def _ratios(draw_power: int, n: int = 3000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``[n, 3]`` A / cap and w / w_max of n moving trajectories in ASA2-sized rooms."""
    rng = np.random.default_rng(seed)
    amp, freq = [], []
    for _ in range(n):
        room = np.array([rng.uniform(5, 8), rng.uniform(5, 8), rng.uniform(3, 4)])
        t = sample_trajectory(rng, room, n_points=40, static_prob=0.0, amplitude_max_m=1.0,
                              max_oscillations=2.0, margin_m=0.5, draw_power=draw_power)
        p0 = t.points[0]  # sin(0) = 0: the first point is the start
        cap = np.minimum(np.minimum(p0 - 0.5, room - 0.5 - p0), 1.0)
        amp.append(t.amplitude_m / cap)
        freq.append(t.omega / W_MAX)
    return np.asarray(amp), np.asarray(freq)


def test_amplitude_and_frequency_draws_are_plain_uniforms():
    amp, freq = _ratios(1)
    for values in (amp.ravel(), freq.ravel()):
        assert stats.kstest(values, "uniform").pvalue > 1e-3
        assert values.mean() == pytest.approx(0.5, abs=0.01)  # standard error 0.003
    # The product A w (the speed at n = 0, per axis) has mean 1/4 of cap * w_max.
    assert (amp * freq).mean() == pytest.approx(0.25, abs=0.01)
    # Per-axis draws are independent (correlation of the two uniforms of one axis ~ 0).
    assert abs(np.corrcoef(amp[:, 0], freq[:, 0])[0, 1]) < 0.05


def test_draw_power_applies_to_the_same_uniforms():
    # Same generator, same stream: the U^3 law is exactly the cube of the same draws, so a
    # recipe change of draw_power never shifts any other random value of a scene.
    amp1, freq1 = _ratios(1, n=300)
    amp3, freq3 = _ratios(3, n=300)
    np.testing.assert_allclose(amp3, amp1**3, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(freq3, freq1**3, rtol=1e-9, atol=1e-15)
    assert (amp3 * freq3).mean() == pytest.approx(1 / 16, abs=0.01)
    with pytest.raises(ValueError, match="draw_power"):
        sample_trajectory(np.random.default_rng(0), np.array([6.0, 6.0, 3.0]), n_points=40, static_prob=0.0,
                          amplitude_max_m=1.0, max_oscillations=2.0, margin_m=0.5, draw_power=0)


def _motion_figures(draw_power: int, n_scenes: int) -> dict[str, float]:
    m = load_manifest("asa2")
    m = dataclasses.replace(m, motion=dataclasses.replace(m.motion, draw_power=draw_power))
    speed, still, doa = [], [], []
    for i in range(n_scenes):
        lay = sample_layout(m, "train", i)
        centre = lay.room_dim / 2
        for t in lay.trajectories:
            if t.static:
                continue
            p = t.points
            speed.append(np.linalg.norm(np.diff(p, axis=0), axis=1).max() / HOP_S)
            still.append(np.linalg.norm(p - p[0], axis=1).max() < 0.05)
            u = (p - centre) / np.linalg.norm(p - centre, axis=1, keepdims=True)
            doa.append(np.degrees(np.arccos(np.clip(u @ u[0], -1.0, 1.0))).max())
    return {"n": len(speed), "speed": float(np.mean(speed)), "still": float(np.mean(still)),
            "doa": float(np.median(doa))}


def test_asa2_manifest_motion_matches_the_published_figures():
    # 1200 scenes: about 3600 moving sources (standard error of the mean speed ~0.01 m/s).
    f = _motion_figures(1, 1200)
    assert f["n"] > 3000
    assert 1.15 < f["speed"] < 1.35, f
    assert f["still"] < 0.008, f  # 0.2 % expected: ~7 of 3600
    assert 14.0 < f["doa"] < 19.0, f


def test_pre_2_0_cube_law_moves_three_times_less():
    f = _motion_figures(3, 600)
    assert 0.32 < f["speed"] < 0.43, f
    assert 0.17 < f["still"] < 0.25, f
