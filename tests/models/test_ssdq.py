"""SSDQ-style TSE: shapes, the point spatial query against a plane wave, closed-form sizes, a fit."""

from __future__ import annotations

import math

import pytest
import torch

from asabench.models import create
from asabench.models.registry import resolve_config
from asabench.models.systems.ssdq import (SSDQ, DualPathBlock, MaskRefiner, SSDQConfig, point_spatial_query,
                                          target_phase_difference)
from asabench.simulate.io.config import ConfigError


def _params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_forward_shapes_all_and_reference_outputs() -> None:
    model = create("ssdq", "tiny").eval()
    mix = 0.1 * torch.randn(2, 4, 3001, generator=torch.Generator().manual_seed(0))
    direction = torch.tensor([[30.0, 10.0], [-150.0, -60.0]])
    out = model(mix, direction)["output"]
    assert out.shape == (2, 4, 3001) and torch.isfinite(out).all()
    cfg = resolve_config("ssdq", "tiny")
    cfg.outputs = "reference"
    assert SSDQ(cfg).eval()(mix, direction)["output"].shape == (2, 1, 3001)


def test_target_phase_difference_by_hand() -> None:
    # two capsules 0.1 m apart on x; a source on +x reaches capsule 0 first:
    # TPD = 2 pi f d / c = 2 pi 1000 0.1 / 343 = 1.831832 rad at 1 kHz; broadside (azimuth 90) gives 0
    pos = torch.tensor([[0.05, 0.0, 0.0], [-0.05, 0.0, 0.0]], dtype=torch.float64)
    freqs = torch.tensor([0.0, 1000.0], dtype=torch.float64)
    tpd = target_phase_difference(torch.tensor([[0.0, 0.0], [90.0, 0.0], [180.0, 0.0]], dtype=torch.float64),
                                  pos, freqs, 343.0)
    assert tpd.shape == (3, 1, 2)
    assert tpd[0, 0, 1].item() == pytest.approx(1.831832, abs=1e-6)
    assert tpd[1, 0, 1].item() == pytest.approx(0.0, abs=1e-12)
    assert tpd[2, 0, 1].item() == pytest.approx(-1.831832, abs=1e-6)
    # elevation 60 on the x axis pair: cos(60) of the horizontal value
    up = target_phase_difference(torch.tensor([[0.0, 60.0]], dtype=torch.float64), pos, freqs, 343.0)
    assert up[0, 0, 1].item() == pytest.approx(0.5 * 1.831832, abs=1e-6)


def test_point_query_peaks_for_a_plane_wave_from_the_clue_direction() -> None:
    # capsule 0 hears white noise 2 samples (125 us at 16 kHz) before capsule 1: a plane wave from
    # +x for capsules 4.2875 cm apart (343 m/s x 125 us). cos(IPD - TPD) averages ~1 toward +x and
    # ~0 toward -x (TPD of the wrong sign: cos(4 pi f tau) over 0..8 kHz averages out)
    fs, delay, n = 16000, 2, 8000
    d = 343.0 * delay / fs
    cfg = SSDQConfig(n_mics=2, mic_positions_m=((d / 2, 0.0, 0.0), (-d / 2, 0.0, 0.0)), filters=8, kernel=40,
                     bottleneck=4, hidden=4, chunk=10, n_blocks=1, refine_width=4, refine_layers=1)
    model = SSDQ(cfg).double()
    s = torch.randn(n + delay, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.stack([s[delay:], s[:-delay]])[None]  # x0(t) = s(t + 2): capsule 0 leads
    toward = model.query(x, torch.tensor([[0.0, 0.0]], dtype=torch.float64))  # [1, 4P, K]
    away = model.query(x, torch.tensor([[180.0, 0.0]], dtype=torch.float64))
    assert toward.shape == (1, 4, (n - 40) // 20 + 1)
    assert toward[0, 0].mean() > 0.9
    assert away[0, 0].mean().abs() < 0.15
    # the IPD channels (cos, sin of the IPD) do not depend on the clue
    assert torch.equal(toward[:, 2:], away[:, 2:])
    # a direct check of the feature definition on a single bin
    spec = torch.polar(torch.ones(1, 2, 1, 1, dtype=torch.float64), torch.tensor([0.7, 0.2], dtype=torch.float64).view(1, 2, 1, 1))
    q = point_spatial_query(spec, torch.tensor([[[0.3]]], dtype=torch.float64))
    assert q[0, :, 0].tolist() == pytest.approx([math.cos(0.2), math.sin(0.2), math.cos(0.5), math.sin(0.5)])


def test_parameter_counts_match_the_closed_form() -> None:
    c, h = 6, 5
    lstm = 2 * 4 * h * (c + h + 2)  # bidirectional: W_ih, W_hh, b_ih, b_hh per direction
    assert _params(DualPathBlock(c, h)) == 2 * (lstm + (2 * h * c + c) + 2 * c)
    n, w, layers = 7, 3, 2
    res_in = (2 * n * n * 3 + n) + (n * n * 3 + n) + (2 * n * n + n)
    tcn = (n * w * 3 + w) + (w * w * 3 + w) + (w * n + n)
    res_out = 2 * (n * n * 3 + n)
    assert _params(MaskRefiner(n, w, layers, 0.25)) == res_in + tcn + res_out
    cfg = SSDQConfig(filters=n, kernel=8, bottleneck=c, hidden=h, chunk=4, n_blocks=2, refine_width=w,
                     refine_layers=layers)
    total = (4 * n * 8) + 2 * n + n * c + (c + 24) * c + 2 * _params(DualPathBlock(c, h)) + 1 + c * 4 * n \
        + (res_in + tcn + res_out) + n * 8
    assert _params(SSDQ(cfg)) == total


def test_paper_preset_sizes() -> None:
    # released sizes N 256, L 40, B 64, H 128, R 6: 3,915,905 with one output channel (Table 1: 3.91 M),
    # 49,152 more with one mask per microphone
    cfg = resolve_config("ssdq", "paper")
    assert _params(SSDQ(cfg)) == 3_965_057
    cfg.outputs = "reference"
    assert _params(SSDQ(cfg)) == 3_915_905


def test_chunking_round_trip_sums_the_two_overlaps() -> None:
    model = create("ssdq", "tiny")
    x = torch.randn(2, 3, 37, generator=torch.Generator().manual_seed(2))
    chunks, total = model._chunk(x)
    assert chunks.shape[-1] == model.config.chunk and (total - model.config.chunk) % (model.config.chunk // 2) == 0
    # half-overlapping chunks: every frame is in exactly two chunks, overlap-add doubles it
    assert torch.allclose(model._merge(chunks, total, 37), 2 * x)


def test_bad_config_and_clue_are_refused_with_the_field() -> None:
    with pytest.raises(ConfigError, match="mic_positions_m"):
        SSDQConfig(n_mics=3)
    with pytest.raises(ConfigError, match="kernel"):
        SSDQConfig(kernel=41)
    with pytest.raises(ValueError, match="elevation_deg"):
        create("ssdq", "tiny")(torch.zeros(1, 4, 800), torch.tensor([[0.0, -91.0]]))


@pytest.mark.slow
def test_training_on_a_fixed_batch_lowers_the_loss() -> None:
    from asabench.benchmark.baselines.learned_tse import neg_si_sdr_loss

    g = torch.Generator().manual_seed(1)
    model = create("ssdq", "tiny", seed=3).train()
    n = 1024
    target = torch.sin(2 * math.pi * 440.0 * torch.arange(n) / 16000.0).expand(2, 4, n) * torch.rand(2, 4, 1, generator=g)
    mix = target + 0.5 * torch.randn(2, 4, n, generator=g)
    direction = torch.tensor([[20.0, 0.0], [-60.0, 30.0]])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        loss = neg_si_sdr_loss(model(mix, direction)["output"], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 1.0, losses
