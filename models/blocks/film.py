"""Feature-wise linear modulation (FiLM) by a clue embedding, with a residual path.

References
----------
E. Perez, F. Strub, H. de Vries, V. Dumoulin and A. Courville, "FiLM: visual reasoning with
a general conditioning layer", AAAI 2018.
D. Choi and J.-W. Choi, "SoundCompass", Sec. 2.2 (clue encoding: FiLM plus a residual
connection from the feature encoder, one FiLM generator per subband).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["film", "BandFiLM"]


def film(h: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
    """Modulate features and add the residual: ``gamma * h + beta + h``.

    With ``gamma = beta = 0`` (no clue contribution) the output is ``h`` itself.

    Parameters
    ----------
    h : Tensor
        Features [..., D].
    gamma, beta : Tensor
        Scale and shift broadcastable to ``h``.
    """
    return gamma * h + beta + h


class BandFiLM(nn.Module):
    """Per-band FiLM generator: clue [B, E] or [B, T, E] -> scale and shift per band.

    Band k has its own ``Linear(E -> 2D)``; ``gamma, beta`` of band k modulate every
    position (bin) of band k.

    Parameters
    ----------
    band_index : Tensor
        [P] long, band of each position (``BandSplit.band_index``).
    num_bands : int
        K.
    clue_dim : int
        E (72 for the order-5 SH embedding).
    features : int
        D.
    """

    band_index: Tensor

    def __init__(self, band_index: Tensor, num_bands: int, clue_dim: int, features: int):
        super().__init__()
        self.register_buffer("band_index", band_index.clone(), persistent=False)
        self.features = features
        self.weight = nn.Parameter(torch.empty(num_bands, clue_dim, 2 * features))
        self.bias = nn.Parameter(torch.empty(num_bands, 2 * features))
        bound = 1.0 / math.sqrt(clue_dim)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def scale_shift(self, clue: Tensor) -> tuple[Tensor, Tensor]:
        """Scale and shift per band.

        Parameters
        ----------
        clue : Tensor
            [B, E] (static) or [B, T, E] (time-varying).

        Returns
        -------
        gamma, beta : Tensor
            Each [B, 1, K, D] (static clue) or [B, T, K, D].
        """
        if clue.dim() == 2:
            clue = clue[:, None, :]
        gb = torch.einsum("bte,keo->btko", clue, self.weight) + self.bias
        return gb[..., : self.features], gb[..., self.features :]

    def forward(self, h: Tensor, clue: Tensor) -> Tensor:
        """Modulate band features.

        Parameters
        ----------
        h : Tensor
            [B, T, P, D] band-position features.
        clue : Tensor
            [B, E] or [B, T, E].

        Returns
        -------
        Tensor
            [B, T, P, D]: ``gamma_k * h + beta_k + h`` at every position of band k.
        """
        gamma, beta = self.scale_shift(clue)
        gamma = gamma.index_select(2, self.band_index)
        beta = beta.index_select(2, self.band_index)
        return film(h, gamma, beta)
