"""SELDnet (DCASE 2023 baseline): closed-form size, features against physics, inference rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from asabench import models
from asabench.models.registry import resolve_config
from asabench.models.systems.seldnet import (
    MicFeatures,
    SELDnetConfig,
    _hz_to_mel,
    decode_multi_accdoa,
    mel_filterbank,
)


def closed_form_params(cfg: SELDnetConfig) -> int:
    """Parameters of the DCASE 2023 SELDnet, layer by layer."""
    c_in = cfg.n_mics + cfg.n_mics * (cfg.n_mics - 1) // 2
    d, h = cfg.conv_channels, cfg.rnn_hidden
    n = 0
    for i in range(len(cfg.pools)):
        n += (c_in if i == 0 else d) * d * 9 + d + 2 * d          # conv + BatchNorm affine
    f_out = cfg.stft.n_mels // math.prod(p[1] for p in cfg.pools)
    for layer in range(cfg.rnn_layers):                           # bidirectional GRU: 3 gates
        x = d * f_out if layer == 0 else 2 * h
        n += 2 * 3 * (x * h + h * h + 2 * h)
    n += cfg.attn_layers * ((3 * h * h + 3 * h) + (h * h + h) + 2 * h)   # in/out projections + LayerNorm
    widths = [h] + [cfg.fnn_size] * cfg.fnn_layers
    n += sum(widths[i] * widths[i + 1] + widths[i + 1] for i in range(cfg.fnn_layers))
    n += widths[-1] * 3 * 3 * cfg.n_classes + 3 * 3 * cfg.n_classes
    return n


@pytest.mark.parametrize("preset", ["paper", "tiny"])
def test_parameter_count_matches_the_closed_form(preset):
    model = models.create("seldnet", preset)
    cfg = resolve_config("seldnet", preset)
    assert sum(p.numel() for p in model.parameters()) == closed_form_params(cfg)
    if preset == "paper":
        assert closed_form_params(cfg) == 738_869


def test_output_shape_is_the_label_grid():
    model = models.create("seldnet", "tiny").eval()
    cfg = model.config
    assert cfg.label_hop_s == pytest.approx(0.1)
    x = 0.1 * torch.randn(2, 4, 8000, generator=torch.Generator().manual_seed(0))   # 0.5 s at 16 kHz
    with torch.no_grad():
        out = model(x)["accdoa"]
    assert out.shape == (2, 5, 3, 3, 13)                    # 26 STFT frames // 5
    assert float(out.abs().max()) <= 1.0                     # tanh
    with pytest.raises(ValueError, match="n_mics"):
        model(x[:, :3])


def test_mel_filterbank_slaney_scale_and_unit_area():
    assert float(_hz_to_mel(1000.0)) == pytest.approx(15.0)            # the linear/log break
    assert float(_hz_to_mel(200.0)) == pytest.approx(3.0)
    fb = mel_filterbank(16000, 1024, 64)
    assert fb.shape == (513, 64)
    df = 16000 / 1024
    area = fb.sum(axis=0) * df
    wide = (fb > 0).sum(axis=0) >= 12                                   # bands spanning many bins
    assert wide.sum() >= 25
    assert np.allclose(area[wide], 1.0, atol=0.03)                       # height 2 / (f_hi - f_lo)


def test_gcc_phat_peaks_at_the_inter_channel_delay_and_logmel_at_the_tone():
    fs, n = 16000, 16000
    feats = MicFeatures(fs, 4, 1024, 320, 64)
    g = torch.Generator().manual_seed(1)
    s = torch.randn(n + 10, generator=g)
    # channel 1 is channel 0 delayed by 3 samples, channel 2 by 2, channel 3 identical
    x = torch.stack([s[10:10 + n], s[7:7 + n], s[8:8 + n], s[10:10 + n]])
    f = feats(x[None])                                      # [1, 4 + 6, T, 64]
    half = 32
    mid = f[0, :, 10:-10].mean(dim=1)                       # frames away from the edges
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    delay = {0: 0, 1: 3, 2: 2, 3: 0}
    for k, (i, j) in enumerate(pairs):
        assert int(mid[4 + k].argmax()) - half == delay[j] - delay[i], (i, j)
    tone = torch.sin(2 * math.pi * 3000.0 * torch.arange(n) / fs)[None, None].expand(1, 4, n)
    band = int(feats(tone)[0, 0, 10:-10].mean(0).argmax())
    # the loudest band is the one whose filter is highest at the tone's bin
    peak_bin = int(np.argmax(mel_filterbank(fs, 1024, 64)[round(3000 / (fs / 1024))]))
    assert band == peak_bin


def test_logmel_floor_is_top_db_below_the_channel_maximum():
    feats = MicFeatures(16000, 4, 1024, 320, 64, top_db=80.0)
    x = torch.zeros(1, 4, 8000)
    x[..., 4000] = 1.0                                        # one click: most bins far below the peak
    logmel = feats(x)[0, :4]
    for c in range(4):
        assert float(logmel[c].min()) == pytest.approx(float(logmel[c].max()) - 80.0, abs=1e-4)


def _accdoa(vectors: dict[tuple[int, int, int], tuple[float, float, float]], t: int = 1) -> torch.Tensor:
    out = torch.zeros(1, t, 3, 3, 13)
    for (frame, track, cls), v in vectors.items():
        out[0, frame, track, :, cls] = torch.tensor(v)
    return out


def test_decode_keeps_tracks_above_half_norm_and_merges_close_ones():
    c5, s5 = math.cos(math.radians(5)), math.sin(math.radians(5))
    acc = _accdoa({(0, 0, 3): (0.9, 0.0, 0.0), (0, 1, 3): (0.9 * c5, 0.9 * s5, 0.0), (0, 2, 3): (0.0, 0.3, 0.0),
                   (0, 0, 7): (0.0, 0.8, 0.0), (0, 2, 7): (0.8, 0.0, 0.0)})
    active, vec = decode_multi_accdoa(acc)
    # class 3: tracks 0 and 1 are 5 degrees apart -> one event (their mean) on track 0; track 2 below 0.5
    assert active[0, 0, :, 3].tolist() == [True, False, False]
    assert torch.allclose(vec[0, 0, 0, :, 3], torch.tensor([0.9 * (1 + c5) / 2, 0.9 * s5 / 2, 0.0], dtype=torch.float64))
    # class 7: 90 degrees apart -> two events
    assert active[0, 0, :, 7].tolist() == [True, False, True]
    assert int(active.sum()) == 3
    # three mutually close tracks -> one event, the mean of the three, on track 0
    acc = _accdoa({(0, k, 0): (0.7, 0.01 * k, 0.0) for k in range(3)})
    active, vec = decode_multi_accdoa(acc)
    assert active[0, 0, :, 0].tolist() == [True, False, False]
    assert float(vec[0, 0, 0, 1, 0]) == pytest.approx(0.01)
    # pair (1, 2) similar, track 0 elsewhere: track 0 kept, the pair's mean on track 1
    acc = _accdoa({(0, 0, 1): (0.0, 0.0, 0.9), (0, 1, 1): (0.9, 0.0, 0.0), (0, 2, 1): (0.9 * c5, -0.9 * s5, 0.0)})
    active, vec = decode_multi_accdoa(acc)
    assert active[0, 0, :, 1].tolist() == [True, True, False]
    assert float(vec[0, 0, 1, 1, 1]) == pytest.approx(-0.9 * s5 / 2)


def test_bad_configuration_is_named_by_field():
    from asabench.simulate.io.config import ConfigError

    with pytest.raises(ConfigError, match="pools"):
        SELDnetConfig.from_dict({"pools": [[5, 3]]}, source="x.toml")
    with pytest.raises(ConfigError, match="n_fft"):
        SELDnetConfig.from_dict({"stft": {"n_fft": 512, "hop": 320}}, source="x.toml")
