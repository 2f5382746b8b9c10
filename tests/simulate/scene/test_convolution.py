"""Time-varying trajectory convolution against direct numpy references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asabench.simulate.scene.convolution import convolve_trajectory


def segment_ola_reference(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """gpuRIR simulateTrajectory semantics, written as loops: ``x [N]``, ``h [P, M, L]``."""
    n, (p_count, m_count, taps) = x.shape[0], h.shape
    seg = -(-n // p_count)
    out = np.zeros((m_count, n + taps - 1))
    for p in range(p_count):
        piece = x[p * seg : (p + 1) * seg]
        for m in range(m_count):
            y = np.convolve(piece, h[p, m])
            out[m, p * seg : p * seg + y.shape[0]] += y
    return out


def test_static_trajectory_is_plain_convolution() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(777)
    h = rng.standard_normal((1, 3, 64))
    y = convolve_trajectory(x, h)
    expected = np.stack([np.convolve(x, h[0, m]) for m in range(3)])
    np.testing.assert_allclose(y, expected, atol=1e-10)
    # P identical points are the same source standing still, crossfaded or not.
    same = np.repeat(h, 5, axis=0)
    np.testing.assert_allclose(convolve_trajectory(x, same), expected, atol=1e-10)
    np.testing.assert_allclose(convolve_trajectory(x, same, crossfade="hann"), expected, atol=1e-10)


@pytest.mark.parametrize("n, points, taps", [(1000, 4, 50), (1003, 7, 31), (640, 40, 100)])
def test_segment_overlap_add_matches_reference(n: int, points: int, taps: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.standard_normal((2, n))
    h = rng.standard_normal((2, points, 3, taps))
    y = convolve_trajectory(x, h)
    assert y.shape == (2, 3, n + taps - 1)
    for b in range(2):
        np.testing.assert_allclose(y[b], segment_ola_reference(x[b], h[b]), atol=1e-9)


def test_crossfade_matches_windowed_reference_and_sums_to_static() -> None:
    rng = np.random.default_rng(1)
    n, points, taps, fade = 400, 4, 20, 40
    x = rng.standard_normal(n)
    h = rng.standard_normal((points, 2, taps))
    y = convolve_trajectory(x, h, crossfade="hann", fade=fade)
    # Reference: weights built independently, one full-length convolution per point.
    seg = n // points
    t = np.arange(n)
    weights = np.zeros((points, n))
    for p in range(points):
        rise = np.clip((t - (p * seg - fade / 2) - 0.5 + 1) / fade, 0, 1) if p > 0 else np.ones(n)
        fall = 1 - np.clip((t - ((p + 1) * seg - fade / 2) - 0.5 + 1) / fade, 0, 1) if p < points - 1 else np.ones(n)
        weights[p] = np.sin(0.5 * np.pi * rise) ** 2 * (np.cos(0.5 * np.pi * (1 - fall)) ** 2)
    np.testing.assert_allclose(weights.sum(0), 1.0, atol=1e-12)
    ref = sum(np.stack([np.convolve(weights[p] * x, h[p, m]) for m in range(2)]) for p in range(points))
    np.testing.assert_allclose(y, ref, atol=1e-9)


def test_crossfade_has_no_click_at_borders() -> None:
    # A constant signal through alternating gains 0/1: rectangular segments jump by 1 at
    # each border, the crossfade moves by at most pi / (2 * fade) per sample.
    x = np.ones(400)
    gains = np.array([0.0, 1.0, 0.0, 1.0])[:, None, None]
    rect = convolve_trajectory(x, gains)[0]
    smooth = convolve_trajectory(x, gains, crossfade="hann")[0]
    assert np.abs(np.diff(rect)).max() == pytest.approx(1.0)
    assert np.abs(np.diff(smooth)).max() < np.pi / (2 * 100) + 1e-9
    # Mid-segment the fade from the neighbour has (almost) finished: sin^2 of pi/2 - pi/200.
    np.testing.assert_allclose(smooth[[25, 150, 250, 375]], [0, 1, 0, 1], atol=np.sin(np.pi / 200) ** 2 + 1e-12)


def test_torch_input_keeps_device_and_dtype() -> None:
    x = torch.randn(3, 500, generator=torch.Generator().manual_seed(0))
    h = torch.randn(3, 5, 4, 30, generator=torch.Generator().manual_seed(1))
    y = convolve_trajectory(x, h)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32 and y.shape == (3, 4, 529)
    ref = segment_ola_reference(x[1].double().numpy(), h[1].double().numpy())
    np.testing.assert_allclose(y[1].numpy(), ref, atol=1e-4)


@pytest.mark.parametrize(
    "signal, rirs, kwargs, field",
    [
        (np.ones(10), np.ones((2, 10)), {}, "rirs"),
        (np.ones(0), np.ones((1, 1, 3)), {}, "signal"),
        (np.ones((3, 10)), np.ones((2, 2, 1, 3)), {}, "signal, rirs"),
        (np.ones(10), np.ones((2, 1, 3)), {"crossfade": "linear"}, "crossfade"),
        (np.ones(3), np.ones((5, 1, 3)), {}, "rirs"),
    ],
)
def test_bad_shapes_raise(signal, rirs, kwargs, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        convolve_trajectory(signal, rirs, **kwargs)
