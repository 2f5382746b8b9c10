"""Complexity counting: parameters and MACs against closed forms."""

from __future__ import annotations

import math

import torch
from torch import nn

from asabench.benchmark.metrics.complexity import complexity, count_macs, parameter_counts


def test_parameter_counts_closed_form_with_frozen_and_shared() -> None:
    lin = nn.Linear(10, 7)
    conv = nn.Conv1d(3, 5, 4)
    conv.requires_grad_(False)
    model = nn.Sequential(lin, conv, lin)  # lin shared: counted once
    counts = parameter_counts(model)
    assert counts == {"trainable": 10 * 7 + 7, "frozen": 3 * 5 * 4 + 5, "total": 77 + 65}


def test_linear_and_conv_macs_closed_form() -> None:
    lin = nn.Linear(16, 8)
    assert count_macs(lin, torch.randn(3, 5, 16))["macs"] == 3 * 5 * 16 * 8
    conv = nn.Conv1d(4, 6, kernel_size=3, stride=2)
    x = torch.randn(2, 4, 101)
    l_out = (101 - 3) // 2 + 1
    assert count_macs(conv, x)["macs"] == 2 * 6 * l_out * 4 * 3
    conv2 = nn.Conv2d(2, 3, 3, padding=1)
    assert count_macs(conv2, torch.randn(1, 2, 9, 11))["macs"] == 3 * 9 * 11 * 2 * 9


def test_attention_fft_and_gru_counts() -> None:
    class Attn(nn.Module):
        def forward(self, q, k, v):
            return nn.functional.scaled_dot_product_attention(q, k, v)

    q, k, v = torch.randn(2, 3, 7, 4), torch.randn(2, 3, 9, 4), torch.randn(2, 3, 9, 5)
    assert count_macs(Attn(), q, k, v)["macs"] == 2 * 3 * 7 * 9 * (4 + 5)

    class FFT(nn.Module):
        def forward(self, x):
            return torch.fft.rfft(x, dim=-1)

    res = count_macs(FFT(), torch.randn(6, 64))
    assert res["explicit_macs"]["fft"] == int(2.5 * 64 * 6 * 6 / 2)

    gru = nn.GRU(10, 20, batch_first=True)
    # 3 gates: input and hidden products per step
    assert count_macs(gru, torch.randn(2, 7, 10))["macs"] == 2 * 7 * 3 * (10 * 20 + 20 * 20)


def test_complexity_per_second_scales_a_linear_time_model() -> None:
    conv = nn.Conv1d(4, 8, 16, stride=8)
    res = complexity(conv, seconds=2.0, sample_rate=8000)
    frames = (16000 - 16) // 8 + 1
    assert math.isclose(res["macs_per_second"], 8 * frames * 4 * 16 / 2.0)
    assert res["params"]["trainable"] == 4 * 8 * 16 + 8
    assert "FlopCounterMode" in res["tool"] and res["caveats"]


def test_fake_tensor_count_equals_the_real_run() -> None:
    from asabench import models

    model = models.create("deepasa-coi", "tiny")
    fake = complexity(model, seconds=0.5, fake=True)
    real = complexity(model, seconds=0.5, fake=False)
    assert fake["fake_tensors"] and not real["fake_tensors"]
    assert fake["macs"] == real["macs"] > 0
    assert fake["explicit_macs"]["attention"] > 0 and fake["explicit_macs"]["fft"] > 0


def test_torchinfo_mult_adds_closed_form() -> None:
    from asabench.benchmark.metrics.complexity import torchinfo_mult_adds

    # torchinfo convention: a Linear counts its parameters once per batch item, whatever the
    # positions in between ([B, T, F, D] -> x B only); a convolution once per output position
    lin = nn.Linear(16, 8)
    assert torchinfo_mult_adds(lin, torch.zeros(2, 3, 5, 16)) == (16 * 8 + 8) * 2
    conv = nn.Conv2d(2, 3, 3, stride=(1, 2), padding=1)
    h_out, w_out = 9, (11 + 2 - 3) // 2 + 1
    assert torchinfo_mult_adds(conv, torch.zeros(4, 2, 9, 11)) == (2 * 3 * 9 + 3) * 4 * h_out * w_out
    # parameter-free products (attention) are invisible to the convention
    model = nn.Sequential(nn.Linear(4, 4), nn.Softmax(-1))
    assert torchinfo_mult_adds(model, torch.zeros(3, 7, 4)) == (16 + 4) * 3
