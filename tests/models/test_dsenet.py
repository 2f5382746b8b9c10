"""DSENet-style TSE: shapes, the (azimuth, elevation) cyc-pos clue, closed-form sizes, a fit."""

from __future__ import annotations

import math

import pytest
import torch

from asabench.models import create
from asabench.models.registry import resolve_config
from asabench.models.systems.dsenet import CycPosClueEncoder, DSENet, DSENetConfig, GroupLinear, SpatialNetLayer
from asabench.simulate.io.config import ConfigError


def _params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _layer_closed_form(h: int, ffn: int, s: int, g: int, kf: int, kt: int) -> int:
    """SpatialNetLayer parameters without its full-band GroupLinear."""
    ln = 2 * h
    fconv = ln + (h * (h // g) * kf + h) + h  # LN, grouped conv, PReLU(h)
    full_io = ln + (h * s + s) + (s * h + h)  # LN, squeeze, unsqueeze
    mhsa = ln + 3 * h * h + 3 * h + h * h + h
    tconv = ln + (h * ffn + ffn) + 3 * (ffn * (ffn // g) * kt + ffn) + 2 * ffn + (ffn * h + h)
    return 2 * fconv + full_io + mhsa + tconv


def test_forward_shapes_all_and_reference_outputs() -> None:
    model = create("dsenet", "tiny").eval()
    mix = 0.1 * torch.randn(2, 4, 3000, generator=torch.Generator().manual_seed(0))
    direction = torch.tensor([[30.0, 10.0], [-150.0, -60.0]])
    out = model(mix, direction)["output"]
    assert out.shape == (2, 4, 3000) and torch.isfinite(out).all()
    cfg = resolve_config("dsenet", "tiny")
    cfg.outputs = "reference"
    assert DSENet(cfg).eval()(mix, direction)["output"].shape == (2, 1, 3000)


def test_clue_of_azimuth_90_elevation_0_by_hand() -> None:
    # d = 4, alpha = 20: w = (1, 10000^(-1/2) = 0.01), so alpha w = (20, 0.2).
    # azimuth 90: sin = 1, cos = 0 -> (sin 20, 0, sin 0.2, 0); elevation 0: (0, sin 20, 0, sin 0.2);
    # each divided by its norm sqrt(sin^2 20 + sin^2 0.2) = 0.9343118
    model = DSENet(DSENetConfig(cycpos_dim=4, hidden=8, ffn=8, conv_groups=4, n_layers=1, n_heads=2,
                                squeeze=2))
    e = model.embed(torch.tensor([[90.0, 0.0]], dtype=torch.float64))[0]
    norm = math.hypot(math.sin(20.0), math.sin(0.2))
    a, b = math.sin(20.0) / norm, math.sin(0.2) / norm
    assert (norm, a, b) == pytest.approx((0.9343118, 0.9771312, 0.2126371), abs=1e-7)
    expected = torch.tensor([a, 0.0, b, 0.0, 0.0, a, 0.0, b], dtype=torch.float64)
    assert torch.allclose(e, expected, atol=1e-6)
    # azimuth is cyclic: 90 and 450 degrees give the same code; 90 and -90 do not
    assert torch.allclose(model.embed(torch.tensor([[450.0, 0.0]], dtype=torch.float64))[0], e, atol=1e-12)
    assert not torch.allclose(model.embed(torch.tensor([[-90.0, 0.0]], dtype=torch.float64))[0], e, atol=1e-3)


def test_parameter_counts_match_the_closed_form() -> None:
    cfg = DSENetConfig(hidden=16, ffn=24, squeeze=3, n_layers=3, n_heads=2, conv_groups=4, cycpos_dim=6,
                       encoder_kernel=5)
    f = cfg.stft.n_fft // 2 + 1
    h, e = cfg.hidden, cfg.clue_dim
    assert _params(GroupLinear(f, f, 3)) == 3 * f * f + 3 * f
    assert _params(CycPosClueEncoder(e, h)) == e * h + h + 2 * h + 1
    assert _params(SpatialNetLayer(cfg, f)) == _layer_closed_form(16, 24, 3, 4, 5, 3) + 3 * f * f + 3 * f
    model = DSENet(cfg)
    layers = 3 * (_layer_closed_form(16, 24, 3, 4, 5, 3) + e * h + 3 * h + 1)
    total = layers + (3 * f * f + 3 * f) + (8 * h * 5 + h) + (h * 8 + 8)  # shared full, encoder, decoder
    assert _params(model) == total
    assert all(layer.full is model.layers[0].full for layer in model.layers)
    cfg.share_full = False
    assert _params(DSENet(cfg)) == total + 2 * (3 * f * f + 3 * f)


def test_paper_preset_sizes() -> None:
    # H 192, FFN 192, S 8, 8 layers, F 129, E 80, 4-channel output: counted by the closed form
    cfg = resolve_config("dsenet", "paper")
    assert (cfg.stft.n_fft, cfg.stft.hop, cfg.hidden, cfg.ffn, cfg.n_layers, cfg.clue_dim) == (256, 128, 192, 192, 8, 80)
    with torch.device("meta"):
        model = DSENet(cfg)
    f, h = 129, 192
    expected = 8 * (_layer_closed_form(192, 192, 8, 8, 5, 3) + 80 * h + 3 * h + 1) + (8 * f * f + 8 * f) \
        + (8 * h * 5 + h) + (h * 8 + 8)
    assert _params(model) == expected == 2_805_536


def test_bad_config_and_clue_are_refused_with_the_field() -> None:
    with pytest.raises(ConfigError, match="hidden"):
        DSENetConfig(hidden=30, conv_groups=8)
    with pytest.raises(ConfigError, match="window"):
        DSENetConfig.from_dict({"stft": {"window": "dynamic"}})
    model = create("dsenet", "tiny")
    mix = torch.zeros(1, 4, 2000)
    with pytest.raises(ValueError, match="elevation_deg"):
        model(mix, torch.tensor([[0.0, 95.0]]))
    with pytest.raises(ValueError, match=r"\[B, 2\]"):
        model(mix, torch.tensor([0.0, 10.0]))


@pytest.mark.slow
def test_training_on_a_fixed_batch_lowers_the_loss() -> None:
    from asabench.benchmark.baselines.learned_tse import neg_si_sdr_loss

    g = torch.Generator().manual_seed(1)
    model = create("dsenet", "tiny", seed=3).train()
    n = 1024
    target = torch.sin(2 * math.pi * 440.0 * torch.arange(n) / 16000.0).expand(2, 4, n) * torch.rand(2, 4, 1, generator=g)
    mix = target + 0.5 * torch.randn(2, 4, n, generator=g)
    direction = torch.tensor([[20.0, 0.0], [-60.0, 30.0]])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        loss = neg_si_sdr_loss(model(mix, direction)["output"], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 1.0, losses
