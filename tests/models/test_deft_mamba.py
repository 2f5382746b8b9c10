"""DeFT-Mamba (MISO, MIMO): shapes, closed-form size differences, gain linearity, PIT SI-SDR."""

from __future__ import annotations

import itertools

import pytest
import torch

from asabench import models
from asabench.models.blocks.deft import GatedConv
from asabench.models.losses.pit_sisdr import pit_si_sdr
from asabench.models.losses.sdr import si_sdr
from asabench.models.registry import resolve_config
from asabench.models.systems.deft_mamba import UnfoldGatedConv
from asabench.simulate.io.config import ConfigError


pytestmark = pytest.mark.usefixtures("one_thread")


def _n(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name,channels", [("deft-mamba-miso", 1), ("deft-mamba-mimo", 4)])
def test_outputs_are_objects_by_channels_and_linear_in_the_input_gain(name, channels):
    model = models.create(name, "tiny").eval()
    x = 0.1 * torch.randn(1, 4, 4000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = model.double()
    with torch.no_grad():
        y = model(x)["separated"]
        y3 = model(3.0 * x)["separated"]
    assert y.shape == (1, 3, channels, 4000)
    # the network sees the input divided by its reference-channel level: outputs scale with the gain
    assert torch.allclose(y3, 3.0 * y, rtol=1e-9, atol=1e-12)


def test_mimo_and_miso_differ_only_by_the_decoder_width():
    for preset in ("paper", "tiny"):
        miso, mimo = models.create("deft-mamba-miso", preset), models.create("deft-mamba-mimo", preset)
        d, m = miso.config.backbone.dim, miso.config.n_mics
        # Conv2d(D, 2M, 3x3) against Conv2d(D, 2, 3x3)
        assert _n(mimo) - _n(miso) == (2 * m - 2) * (9 * d + 1)
    assert _n(models.create("deft-mamba-miso", "paper")) == 2_873_474


def test_f_path_mamba_and_unfold_change_the_size_as_built():
    base = resolve_config("deft-mamba-miso", "tiny")
    d, k = base.backbone.dim, base.backbone.kernel
    n0 = _n(models.create("deft-mamba-miso", base))
    base.backbone.unfold = 3
    # value and gate convolutions of both paths read 3 D channels instead of D
    assert _n(models.create("deft-mamba-miso", base)) - n0 == 2 * 2 * (2 * d * d * k)
    base.backbone.unfold = 1
    base.backbone.f_mamba = False
    block = models.create("deft-mamba-miso", base).blocks[0]
    assert type(block.f_path.ffn[0]).__name__ == "Linear"      # DeepASA's MLP F-path


def test_unfold_one_is_the_plain_gated_convolution():
    g = torch.Generator().manual_seed(2)
    plain, unf = GatedConv(8, 3), UnfoldGatedConv(8, 3, 1)
    unf.load_state_dict(plain.state_dict())
    h = torch.randn(2, 11, 8, generator=g)
    assert torch.equal(unf(h), plain(h))
    # unfold 2 (stride 1) is a kernel-4 convolution over the original positions (away from the
    # first position, whose zero-padded window holds no sample while the wide kernel's does)
    u2 = UnfoldGatedConv(8, 3, 2)
    out = u2(h)
    assert out.shape == h.shape
    w = u2.value.weight.reshape(8, 2, 8, 3)                   # [out, position, in, tap]
    big = torch.zeros(8, 8, 4)
    for p in range(2):
        big[:, :, p:p + 3] += w[:, p]
    value = torch.nn.functional.conv1d(torch.nn.functional.pad(h.transpose(1, 2), (1, 2)), big, u2.value.bias)
    wg = u2.gate.weight.reshape(8, 2, 8, 3)
    bigg = torch.zeros(8, 8, 4)
    for p in range(2):
        bigg[:, :, p:p + 3] += wg[:, p]
    gate = torch.nn.functional.conv1d(torch.nn.functional.pad(h.transpose(1, 2), (1, 2)), bigg, u2.gate.bias)
    wide = (value * torch.nn.functional.mish(gate)).transpose(1, 2)
    assert torch.allclose(out[:, 1:], wide[:, 1:], atol=1e-6)
    assert not torch.allclose(out[:, :1], wide[:, :1], atol=1e-6)


def test_mode_and_window_mismatches_are_refused_by_field():
    with pytest.raises(ConfigError, match="mode"):
        models.create("deft-mamba-miso", {"mode": "mimo"})
    with pytest.raises(ConfigError, match="stft.window"):
        models.create("deft-mamba-mimo", {"stft": {"window": "dynamic"}})


def _brute_force(est, ref, n):
    """Best assignment of distinct estimates to the first n targets, loop by loop."""
    best = None
    for perm in itertools.permutations(range(est.shape[0]), n):
        value = sum(float(si_sdr(est[perm[j]], ref[j]).mean()) for j in range(n)) / n
        best = value if best is None else max(best, value)
    return -best


def test_pit_si_sdr_finds_the_swapped_assignment_and_ignores_padding():
    g = torch.Generator().manual_seed(5)
    ref = torch.randn(2, 3, 2, 400, generator=g, dtype=torch.float64)
    ref[1, 2] = 0.0                                            # item 1 holds two sources
    noise = 0.3 * torch.randn(2, 4, 2, 400, generator=g, dtype=torch.float64)
    est = noise.clone()
    est[0, 2] += ref[0, 0]
    est[0, 0] += 0.5 * ref[0, 1]
    est[0, 3] += ref[0, 2]
    est[1, 1] += ref[1, 0]
    est[1, 3] += ref[1, 1]
    n = torch.tensor([3, 2])
    loss, perm = pit_si_sdr(est, ref, n)
    assert perm[0].tolist() == [2, 0, 3] and perm[1, :2].tolist() == [1, 3]
    expected = -(sum(float(si_sdr(est[0, perm[0, j]], ref[0, j]).mean()) for j in range(3))
                 + sum(float(si_sdr(est[1, perm[1, j]], ref[1, j]).mean()) for j in range(2))) / 5
    assert float(loss) == pytest.approx(expected, rel=1e-12)
    # per item, the search agrees with the brute force
    assert float(pit_si_sdr(est[1:], ref[1:], n[1:])[0]) == pytest.approx(_brute_force(est[1], ref[1], 2), rel=1e-12)
    with pytest.raises(ValueError, match="targets but only"):
        pit_si_sdr(est[:, :2], ref)
