"""SoundCompass blocks: SPIN, 12-TET band split, AdaNorm, FiLM, fusion module."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from asabench.models.blocks.adanorm import adanorm
from asabench.models.blocks.bandsplit import BandLinear, BandSplit, full_band_layout, tet_band_layout
from asabench.models.blocks.film import BandFiLM, FrameFiLM, film, residual_film
from asabench.models.blocks.fusion import FusionModule
from asabench.models.blocks.spin import SPIN, spin_features


def _spec(gen: torch.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.complex(torch.randn(shape, generator=gen), torch.randn(shape, generator=gen))


def test_spin_is_the_outer_product_of_phase_components() -> None:
    gen = torch.Generator().manual_seed(0)
    spec = _spec(gen, (2, 4, 5, 7)) * 10.0
    feats = spin_features(spec)
    assert feats.shape == (2, 64, 5, 7)
    assert feats.abs().max() <= 1.0 + 1e-6
    phase = torch.angle(spec)
    u = torch.cat([torch.cos(phase), torch.sin(phase)], dim=1)  # [B, 8, T, F]
    for i in range(8):
        for j in range(8):
            torch.testing.assert_close(feats[:, 8 * i + j], u[:, i] * u[:, j], atol=1e-5, rtol=0)
    # cos(a) cos(b) + sin(a) sin(b) = cos(a - b): the inter-channel phase difference is there
    torch.testing.assert_close(feats[:, 0 * 8 + 1] + feats[:, 4 * 8 + 5], torch.cos(phase[:, 0] - phase[:, 1]), atol=1e-5, rtol=0)
    # magnitude is discarded: scaling one channel does not change the features
    scaled = spec.clone()
    scaled[:, 2] *= 7.0
    torch.testing.assert_close(spin_features(scaled), feats, atol=1e-5, rtol=0)


def test_spin_without_pairwise_interaction() -> None:
    gen = torch.Generator().manual_seed(1)
    spec = _spec(gen, (1, 4, 3, 6))
    module = SPIN(4, pairwise=False)
    out = module(spec)
    assert module.out_channels == 8 and out.shape == (1, 8, 3, 6)
    torch.testing.assert_close(out[:, :4], torch.cos(torch.angle(spec)), atol=1e-5, rtol=0)
    torch.testing.assert_close(out[:, 4:], torch.sin(torch.angle(spec)), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="channels"):
        module(spec[:, :3])


def test_tet_band_layout_for_the_paper_resolution() -> None:
    layout = tet_band_layout(num_bins=321, sample_rate=16000, num_bands=31)
    assert layout.num_bands == 31
    freqs = np.arange(321) * 25.0
    covered = np.zeros(321, dtype=int)
    for a, b in zip(layout.starts, layout.stops):
        covered[a:b] += 1
    assert covered.min() >= 1  # every bin in some band
    assert layout.starts[0] == 0 and layout.stops[-1] == 321
    centres = np.array(layout.centres_hz)
    # centres a minor third apart on the 12-TET grid (A4 = 440 Hz), last centre 3 semitones below B8
    np.testing.assert_allclose(np.diff(12 * np.log2(centres / 440.0)), 3.0, atol=1e-9)
    np.testing.assert_allclose(centres[-1], 440.0 * 2 ** (47 / 12), rtol=1e-12)
    # a high band owns exactly the bins strictly inside [c / 2^(3/12), c * 2^(3/12)]
    k = 20
    lo, hi = centres[k] * 2 ** (-3 / 12), centres[k] * 2 ** (3 / 12)
    inside = np.flatnonzero((freqs > lo) & (freqs < hi))
    assert (layout.starts[k], layout.stops[k]) == (inside[0], inside[-1] + 1)
    # 50 % overlap: above the low-frequency fallback region, each bin is in exactly two bands
    high = freqs > centres[3]
    assert np.all(covered[high & (freqs < centres[-1])] == 2)
    # triangular weights on the semitone axis, normalised per bin
    total = np.zeros(321)
    for a, w in zip(layout.starts, layout.weights):
        total[a : a + len(w)] += w
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    w = np.array(layout.weights[k])
    pitch = 12 * np.log2(freqs[inside] / centres[k])
    np.testing.assert_allclose(w, 1 - np.abs(pitch) / 3.0, atol=1e-12)


def test_band_split_merge_reconstructs() -> None:
    gen = torch.Generator().manual_seed(2)
    split = BandSplit(tet_band_layout(num_bins=161, sample_rate=16000))
    x = torch.randn(2, 3, 161, 5, generator=gen)
    y = split.split(x, dim=2)
    assert y.shape == (2, 3, split.num_positions, 5)
    torch.testing.assert_close(split.merge(y, dim=2), x)
    # merge is the documented weighted overlap-add: bin f receives sum_p w_p y_p
    ones = torch.ones(split.num_positions)
    torch.testing.assert_close(split.merge(ones), torch.ones(161))
    p = torch.zeros(split.num_positions)
    p[5] = 1.0
    expected = torch.zeros(161)
    expected[split.bin_index[5]] = split.merge_weight[5]
    torch.testing.assert_close(split.merge(p), expected)
    full = BandSplit(full_band_layout(161))
    assert full.num_bands == 1 and full.num_positions == 161
    torch.testing.assert_close(full.merge(full.split(x, dim=2), dim=2), x)
    with pytest.raises(ValueError, match="bins"):
        split.split(torch.zeros(3, 160))


def test_band_linear_applies_each_band_its_own_weights() -> None:
    gen = torch.Generator().manual_seed(3)
    split = BandSplit(tet_band_layout(num_bins=65, sample_rate=16000, num_bands=8))
    lin = BandLinear(split.band_index, split.num_bands, 4, 3)
    x = torch.randn(2, split.num_positions, 4, generator=gen)
    out = lin(x)
    for p in range(split.num_positions):
        k = int(split.band_index[p])
        torch.testing.assert_close(out[:, p], x[:, p] @ lin.weight[k] + lin.bias[k])


def test_adanorm_closed_form_and_stopped_gain_gradient() -> None:
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(3, 16, generator=gen, dtype=torch.float64, requires_grad=True)
    out = adanorm(x, scale=2.0, k=0.1, eps=0.0)
    xn = x.detach().numpy()
    y = (xn - xn.mean(-1, keepdims=True)) / xn.std(-1, keepdims=True)
    np.testing.assert_allclose(out.detach().numpy(), 2.0 * (1 - 0.1 * y) * y, atol=1e-12)
    # the gain is a constant in backward: grad equals that of LayerNorm scaled by the gain
    g = torch.randn(3, 16, generator=gen, dtype=torch.float64)
    (out * g).sum().backward()
    x2 = x.detach().clone().requires_grad_(True)
    ln = torch.nn.functional.layer_norm(x2, (16,), eps=0.0)
    (ln * g * torch.from_numpy(2.0 * (1 - 0.1 * y))).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)


def test_film_identity_without_clue_and_per_band_closed_form() -> None:
    gen = torch.Generator().manual_seed(5)
    h = torch.randn(2, 3, 4, 6, generator=gen)
    torch.testing.assert_close(residual_film(h, torch.zeros(6), torch.zeros(6)), h)
    # one convention: gamma scales, beta shifts
    torch.testing.assert_close(film(h, torch.full((6,), 3.0), torch.full((6,), -1.0)), 3.0 * h - 1.0)
    band_index = torch.tensor([0, 0, 1, 1])
    mod = BandFiLM(band_index, num_bands=2, clue_dim=5, features=6)
    with torch.no_grad():
        mod.weight.zero_()
        mod.bias.zero_()
    torch.testing.assert_close(mod(h, torch.randn(2, 5, generator=gen)), h)  # zero clue contribution
    mod = BandFiLM(band_index, num_bands=2, clue_dim=5, features=6)
    clue = torch.randn(2, 3, 5, generator=gen)  # time-varying
    out = mod(h, clue)
    for p, k in enumerate(band_index.tolist()):
        gb = clue @ mod.weight[k] + mod.bias[k]
        torch.testing.assert_close(out[:, :, p], gb[..., :6] * h[:, :, p] + gb[..., 6:] + h[:, :, p])


def test_frame_film_scales_by_the_first_half_and_shifts_by_the_second() -> None:
    gen = torch.Generator().manual_seed(6)
    mod = FrameFiLM(3)
    z = torch.randn(2, 3, 4, 5, generator=gen)  # [B, D, T, F]
    u = torch.randn(2, 4, 3, generator=gen)  # [B, T, D]
    gb = u @ mod.proj.weight.T + mod.proj.bias  # [B, T, 2D]: released chunk order (scale, shift)
    gamma, beta = gb[..., :3].transpose(1, 2)[..., None], gb[..., 3:].transpose(1, 2)[..., None]
    torch.testing.assert_close(mod(z, u), gamma * z + beta)
    assert sum(p.numel() for p in mod.parameters()) == 3 * 6 + 6  # Linear(D -> 2D)


def test_fusion_module_parameter_counts_follow_the_ablations() -> None:
    def count(**kw: bool) -> int:
        return sum(p.numel() for p in FusionModule(4, 321, 16000, **kw).parameters())

    d, c, e, k = 64, 64, 72, 31
    per_band = (c * d + d) + (e * 2 * d + 2 * d) + (d * d + d) + 2  # enc, FiLM, dec, 2 PReLU slopes
    assert count() == k * per_band
    assert count(band_split=False) == per_band
    assert count() - count(pairwise=False) == k * (c - 8) * d  # SoundCompass: 2.70 M -> 2.59 M


def test_fusion_module_shapes_and_clue_dependence() -> None:
    gen = torch.Generator().manual_seed(6)
    fusion = FusionModule(4, 33, 16000, clue_dim=72, features=8, num_bands=6)
    spec = _spec(gen, (2, 4, 5, 33))
    clue = torch.randn(2, 72, generator=gen)
    out = fusion(spec, clue)
    assert out.shape == (2, 8, 5, 33)
    assert not torch.allclose(out, fusion(spec, clue.flip(0)))
    tv = fusion(spec, clue[:, None, :].expand(2, 5, 72))  # constant time-varying == static
    torch.testing.assert_close(tv, out)
    with pytest.raises(ValueError, match="clue"):
        fusion(spec, torch.zeros(2, 71))
    with pytest.raises(ValueError, match="frames"):
        fusion(spec, torch.zeros(2, 4, 72))
