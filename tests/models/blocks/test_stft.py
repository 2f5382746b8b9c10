"""Dynamic STFT: agreement with torch.stft/istft, round trip, initial window, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from asabench.models.blocks.stft import DynamicSTFT, inverse_stft


def _wave(b: int, c: int, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, n, generator=g, dtype=torch.float64)


def test_hann_mode_equals_torch_stft() -> None:
    stft = DynamicSTFT(n_fft=64, hop=16, mode="hann").double()
    x = _wave(2, 3, 1001)
    ours = stft(x)
    ref = torch.stft(x.reshape(6, -1), 64, 16, window=torch.hann_window(64, dtype=torch.float64),
                     center=True, pad_mode="constant", return_complex=True)
    assert ours.shape == (2, 3, 1001 // 16 + 1, 33)
    torch.testing.assert_close(ours.reshape(6, -1, 33), ref.transpose(1, 2), atol=1e-10, rtol=0)


@pytest.mark.parametrize("n", [1000, 1024, 777])
def test_hann_round_trip_reconstructs(n: int) -> None:
    stft = DynamicSTFT(n_fft=64, hop=32, mode="hann").double()
    x = _wave(1, 4, n, seed=n)
    y = stft.inverse(stft(x), length=n)
    torch.testing.assert_close(y, x, atol=1e-10, rtol=0)


def test_inverse_matches_torch_istft() -> None:
    g = torch.Generator().manual_seed(3)
    spec = torch.randn(2, 40, 17, dtype=torch.complex128, generator=g)
    ours = inverse_stft(spec, 32, 8, length=300)
    ref = torch.istft(spec.transpose(1, 2), 32, 8, window=torch.hann_window(32, dtype=torch.float64),
                      center=True, length=300)
    torch.testing.assert_close(ours, ref)


def test_dynamic_init_is_close_to_fixed_gaussian() -> None:
    g = torch.Generator().manual_seed(0)
    dyn = DynamicSTFT(n_fft=640, hop=320, mode="dynamic", generator=g)
    fixed = DynamicSTFT(n_fft=640, hop=320, mode="fixed")
    x = 0.1 * _wave(1, 4, 16000).float()
    mu, sigma = dyn.window_params(x)
    assert mu.abs().max() < 0.5  # samples
    assert (sigma - 640 / 6).abs().max() < 0.5
    # the fixed Gaussian itself: centre 0, sigma 640/6, unit L2 norm
    tau = torch.arange(-320, 320, dtype=torch.float64)
    w = torch.exp(-(tau**2) / (2 * (640 / 6) ** 2))
    torch.testing.assert_close(fixed.fixed_window(torch.float64), w / w.norm(), atol=1e-6, rtol=0)
    a, b = dyn(x), fixed(x)
    rel = (a - b).abs().pow(2).sum().sqrt() / b.abs().pow(2).sum().sqrt()
    assert rel < 1e-2


def test_dynamic_window_shifts_with_mu() -> None:
    """A window centred at mu has its peak at sample mu (closed form of the Gaussian)."""
    dyn = DynamicSTFT(n_fft=64, hop=16, mode="invariant").double()
    with torch.no_grad():
        dyn.mu_logit.fill_(math.log(0.75 / 0.25))  # sigmoid = 0.75 -> mu = 0.75*64 - 32 = 16
    w = dyn.windows(_wave(1, 1, 100))
    assert int(w[0, 0, 0].argmax()) == 16 + 32
    torch.testing.assert_close(w.norm(dim=-1), torch.ones_like(w[..., 0]))


def test_gradients_and_freeze() -> None:
    dyn = DynamicSTFT(n_fft=64, hop=32, mode="dynamic", generator=torch.Generator().manual_seed(1))
    x = _wave(1, 2, 500).float()
    dyn(x).abs().pow(2).mean().backward()
    for name, p in dyn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    dyn.freeze()
    assert not any(p.requires_grad for p in dyn.parameters())
    frozen = DynamicSTFT(n_fft=64, hop=32, frozen=True)
    assert not any(p.requires_grad for p in frozen.parameters())


def test_bad_sizes_raise() -> None:
    with pytest.raises(ValueError, match="n_fft"):
        DynamicSTFT(n_fft=63)
    with pytest.raises(ValueError, match="hop"):
        DynamicSTFT(n_fft=64, hop=128)
    with pytest.raises(ValueError, match="waveform"):
        DynamicSTFT(n_fft=64, hop=32)(torch.zeros(10))
