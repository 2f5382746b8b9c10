"""Spectral pairwise interaction (SPIN): bounded cross-channel phase features.

References
----------
D. Choi and J.-W. Choi, "SoundCompass: navigating target sound extraction with effective
directional clue integration in complex acoustic scenes", Sec. 2.2 (SPIN).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["phase_components", "spin_features", "SPIN"]


def phase_components(spec: Tensor, eps: float = 1e-8) -> Tensor:
    """Cosine and sine of each channel's STFT phase.

    Parameters
    ----------
    spec : Tensor
        Complex spectrogram [B, M, T, F].
    eps : float
        Added to the magnitude so that silent bins give (0, 0) rather than NaN; the values
        stay within [-1, 1] either way.

    Returns
    -------
    Tensor
        [B, 2M, T, F]: ``cos(angle X_1..X_M)`` then ``sin(angle X_1..X_M)``.
    """
    if not torch.is_complex(spec) or spec.dim() != 4:
        raise ValueError(f"phase_components: expected a complex tensor [B, M, T, F], got {spec.dtype} {tuple(spec.shape)}")
    unit = spec / (spec.abs() + eps)
    return torch.cat([unit.real, unit.imag], dim=1)


def spin_features(spec: Tensor, pairwise: bool = True, eps: float = 1e-8) -> Tensor:
    """SPIN features of a multichannel spectrogram.

    With ``u = [cos phi_1..cos phi_M, sin phi_1..sin phi_M]`` (phi_m the phase of channel m
    at each time-frequency bin), the pairwise features are all products ``u_i u_j``
    (i, j = 0..2M-1, row-major: channel ``i 2M + j``); these contain ``cos(phi_a - phi_b)``
    and ``sin(phi_a - phi_b)`` combinations, i.e. the inter-channel phase differences, and
    lie in [-1, 1]. Without pairwise interaction (the ablation) the 2M components themselves
    are returned.

    Parameters
    ----------
    spec : Tensor
        Complex spectrogram [B, M, T, F].
    pairwise : bool
        All (2M)^2 products (paper) or only the 2M components (ablation).

    Returns
    -------
    Tensor
        [B, (2M)^2, T, F] (64 channels for M = 4) or [B, 2M, T, F].
    """
    u = phase_components(spec, eps)
    if not pairwise:
        return u
    b, c, t, f = u.shape
    return (u[:, :, None] * u[:, None, :]).reshape(b, c * c, t, f)


class SPIN(nn.Module):
    """Parameter-free SPIN module (see :func:`spin_features`).

    Parameters
    ----------
    num_mics : int
        M, the number of microphones.
    pairwise : bool
        False for the "no pairwise interaction" ablation.
    """

    def __init__(self, num_mics: int = 4, pairwise: bool = True):
        super().__init__()
        self.num_mics = num_mics
        self.pairwise = pairwise

    @property
    def out_channels(self) -> int:
        """Number of output channels, (2M)^2 or 2M."""
        return (2 * self.num_mics) ** 2 if self.pairwise else 2 * self.num_mics

    def forward(self, spec: Tensor) -> Tensor:
        """[B, M, T, F] complex -> [B, out_channels, T, F] real."""
        if spec.shape[1] != self.num_mics:
            raise ValueError(f"SPIN: expected {self.num_mics} channels, got spectrogram of shape {tuple(spec.shape)}")
        return spin_features(spec, self.pairwise)
