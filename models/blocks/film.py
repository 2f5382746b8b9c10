"""Feature-wise linear modulation (FiLM): one convention for every model.

Convention (Perez et al.): ``gamma`` is the **scale**, ``beta`` the **shift**,
``film(h, gamma, beta) = gamma * h + beta``. Two generators use it:

* :class:`BandFiLM` (SoundCompass clue encoding): per-band scale and shift from the clue, with
  a residual path, ``h + film(h, gamma, beta)`` (:func:`residual_film`);
* :class:`FrameFiLM` (DeepASA chain of inference): per-frame scale and shift from the TCM
  conditioning, ``Linear(D -> 2D)`` split into (scale, shift) in that order, no residual. The
  DeepASA paper and code write this modulation ``beta * z + gamma``, i.e. with the letters
  swapped: their ``beta`` is our ``gamma`` (scale); the split order of the Linear's output
  (scale first) is the released one, so its weights load unchanged.

References
----------
E. Perez, F. Strub, H. de Vries, V. Dumoulin and A. Courville, "FiLM: visual reasoning with
a general conditioning layer", AAAI 2018.
D. Choi and J.-W. Choi, "SoundCompass", Sec. 2.2 (clue encoding: FiLM plus a residual
connection from the feature encoder, one FiLM generator per subband).
DeepASA (NeurIPS 2025), Fig. 4 (feature fusion ``beta x z + gamma``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["film", "residual_film", "BandFiLM", "FrameFiLM"]


def film(h: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
    """Feature-wise affine modulation ``gamma * h + beta`` (``gamma`` scale, ``beta`` shift).

    Parameters
    ----------
    h : Tensor
        Features.
    gamma, beta : Tensor
        Scale and shift broadcastable to ``h``.
    """
    return gamma * h + beta


def residual_film(h: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
    """FiLM plus the unmodulated features: ``h + film(h, gamma, beta)``.

    With ``gamma = beta = 0`` (no clue contribution) the output is ``h`` itself.
    """
    return h + film(h, gamma, beta)


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
            [B, T, P, D]: ``h + gamma_k * h + beta_k`` at every position of band k.
        """
        gamma, beta = self.scale_shift(clue)
        gamma = gamma.index_select(2, self.band_index)
        beta = beta.index_select(2, self.band_index)
        return residual_film(h, gamma, beta)


class FrameFiLM(nn.Module):
    """Per-frame FiLM of a ``[B, D, T, F]`` feature map, broadcast over frequency.

    ``gamma, beta = split(Linear(D -> 2D)(u))`` (scale first), ``u: [B, T, D]``;
    returns ``film(z, gamma, beta) = gamma * z + beta`` (DeepASA's ``beta * z + gamma``).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, 2 * dim)

    def scale_shift(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """``u: [B, T, D]`` -> ``gamma, beta: [B, D, T, 1]``."""
        gamma, beta = self.proj(u).transpose(1, 2)[..., None].chunk(2, dim=1)
        return gamma, beta

    def forward(self, z: Tensor, u: Tensor) -> Tensor:
        """``z: [B, D, T, F]``, ``u: [B, T, D]`` -> ``[B, D, T, F]``."""
        gamma, beta = self.scale_shift(u)
        return film(z, gamma, beta)
