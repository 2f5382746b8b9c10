"""Spectral encoder ("Up-Conv"): complex multichannel spectrum to a ``D``-channel feature map.

``[B, M, T, F]`` complex -> real/imaginary stacking ``[B, 2M, T, F]`` (all real parts, then
all imaginary parts) -> ``Conv2d(2M, D, 3x3) + GroupNorm(1, D)`` -> ``[B, D, T, F]``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SpectralEncoder", "complex_to_channels", "channels_to_complex"]


def complex_to_channels(spec: torch.Tensor) -> torch.Tensor:
    """Complex ``[B, M, T, F]`` -> real ``[B, 2M, T, F]`` (real parts first)."""
    return torch.cat([spec.real, spec.imag], dim=1)


def channels_to_complex(x: torch.Tensor) -> torch.Tensor:
    """Real ``[B, 2M, T, F]`` (real parts first) -> complex ``[B, M, T, F]``."""
    m = x.shape[1] // 2
    if x.dtype not in (torch.float32, torch.float64):  # no complex half types on every device
        x = x.float()
    return torch.complex(x[:, :m], x[:, m:])


class SpectralEncoder(nn.Module):
    """``Conv2d(in_channels, dim, 3x3, padding 1) + GroupNorm(1, dim)`` on ``[B, C, T, F]``."""

    def __init__(self, in_channels: int, dim: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, dim, kernel, padding=kernel // 2)
        self.norm = nn.GroupNorm(1, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))
