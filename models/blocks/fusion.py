"""SoundCompass fusion module: SPIN features modulated by a DoA clue in overlapping bands.

Data flow (SoundCompass Fig. 1(b), Sec. 2.2)::

    complex spectrogram [B, M, T, F]
      -> SPIN                         [B, C, T, F]    C = (2M)^2 (or 2M without pairs)
      -> band split                   [B, T, P, C]    P = sum of band widths
      -> encoding: Linear_k(C -> D) + AdaNorm + PReLU_k
      -> FiLM_k by the clue + residual
      -> decoding: Linear_k(D -> D) + AdaNorm + PReLU_k
      -> overlap-add merge            [B, D, T, F]

Every layer with subscript k has its own weights per band k; bins of a band share them.
The output is the "spatial feature mask" that the system multiplies onto the encoder
features before the feature-aggregation blocks.

References
----------
D. Choi and J.-W. Choi, "SoundCompass: navigating target sound extraction with effective
directional clue integration in complex acoustic scenes", Sec. 2.2 and Fig. 1(b).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from asabench.models.blocks.adanorm import AdaNorm
from asabench.models.blocks.bandsplit import BandLinear, BandSplit, full_band_layout, tet_band_layout
from asabench.models.blocks.film import BandFiLM
from asabench.models.blocks.spin import SPIN

__all__ = ["BandPReLU", "FusionModule"]


class BandPReLU(nn.Module):
    """PReLU with one learnable negative slope per band.

    Parameters
    ----------
    band_index : Tensor
        [P] long, band of each position.
    num_bands : int
        K.
    init : float
        Initial slope (PyTorch's PReLU default).
    """

    band_index: Tensor

    def __init__(self, band_index: Tensor, num_bands: int, init: float = 0.25):
        super().__init__()
        self.register_buffer("band_index", band_index.clone(), persistent=False)
        self.weight = nn.Parameter(torch.full((num_bands,), init))

    def forward(self, x: Tensor) -> Tensor:
        """[..., P, D] -> [..., P, D]."""
        slope = self.weight.index_select(0, self.band_index)[:, None]
        return torch.where(x >= 0, x, slope * x)


class FusionModule(nn.Module):
    """Clue fusion in subbands (see the module docstring).

    Parameters
    ----------
    num_mics : int
        M.
    num_bins : int
        F, STFT bins.
    sample_rate : int
        Hz, for the 12-TET band edges.
    clue_dim : int
        E, length of the clue embedding.
    features : int
        D, output (and hidden) feature size.
    pairwise : bool
        SPIN with pairwise products (paper) or the 2M raw components (ablation).
    band_split : bool
        K overlapping 12-TET bands (paper) or one band over all bins (ablation).
    num_bands, step_semitones : int
        Band layout (see :func:`tet_band_layout`).
    adanorm_scale, adanorm_k : float
        AdaNorm hyper-parameters C and k.
    """

    def __init__(
        self,
        num_mics: int,
        num_bins: int,
        sample_rate: int,
        clue_dim: int = 72,
        features: int = 64,
        pairwise: bool = True,
        band_split: bool = True,
        num_bands: int = 31,
        step_semitones: int = 3,
        adanorm_scale: float = 1.0,
        adanorm_k: float = 0.1,
    ):
        super().__init__()
        self.spin = SPIN(num_mics, pairwise)
        layout = tet_band_layout(num_bins, sample_rate, num_bands, step_semitones) if band_split else full_band_layout(num_bins)
        self.bands = BandSplit(layout)
        k, idx = self.bands.num_bands, self.bands.band_index
        self.encode = BandLinear(idx, k, self.spin.out_channels, features)
        self.encode_act = BandPReLU(idx, k)
        self.film = BandFiLM(idx, k, clue_dim, features)
        self.decode = BandLinear(idx, k, features, features)
        self.decode_act = BandPReLU(idx, k)
        self.norm = AdaNorm(adanorm_scale, adanorm_k)
        self.clue_dim = clue_dim
        self.features = features

    def forward(self, spec: Tensor, clue: Tensor) -> Tensor:
        """Fuse a spectrogram with a clue.

        Parameters
        ----------
        spec : Tensor
            Complex spectrogram [B, M, T, F].
        clue : Tensor
            Clue embedding [B, E] (static) or [B, T, E] (time-varying, at the STFT frames).

        Returns
        -------
        Tensor
            [B, D, T, F] spatial feature mask.
        """
        if clue.shape[-1] != self.clue_dim or clue.dim() not in (2, 3):
            raise ValueError(f"FusionModule: expected a clue [B, {self.clue_dim}] or [B, T, {self.clue_dim}], got {tuple(clue.shape)}")
        if clue.dim() == 3 and clue.shape[1] != spec.shape[2]:
            raise ValueError(f"FusionModule: time-varying clue has {clue.shape[1]} frames, spectrogram {spec.shape[2]}")
        x = self.spin(spec).permute(0, 2, 3, 1)  # [B, T, F, C]
        x = self.bands.split(x, dim=2)  # [B, T, P, C]
        h = self.encode_act(self.norm(self.encode(x)))
        h = self.film(h, clue.to(h.dtype))
        h = self.decode_act(self.norm(self.decode(h)))
        return self.bands.merge(h, dim=2).permute(0, 3, 1, 2)
