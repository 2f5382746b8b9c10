"""Chain-of-inference with temporal coherence matching (DeepASA CoI/TCM).

Stage-1 estimates over the label frames, SED ``[B, T', J*C]`` and DoA ``[B, T', J*3]``,
meet in two cross-attentions over time (SED queries DoA, DoA queries SED), each with a
residual to its query and a projection to ``D``; the two are fused (product in the released
code, sum in the paper figure), upsampled ``T' -> T`` by a transposed convolution, and turned
into a FiLM modulation ``beta * z + gamma`` of the aggregated feature ``z: [B, D, T, F]``
(``beta, gamma: [B, D, T, 1]``). The modulated feature feeds a second object splitter and
second SED/DoA decoders whose outputs are added to stage 1's (see the DeepASA system).

References
----------
DeepASA (NeurIPS 2025), Fig. 4 and Table 2.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["CrossAttention", "TemporalCoherenceMatching", "FiLM"]


class CrossAttention(nn.Module):
    """Single-head cross-attention over frames with a residual to the query.

    ``query [B, T', Q], context [B, T', K] -> [B, T', dim]``: ``q = W_q query``,
    ``k = W_k context``, ``v = W_v context`` (width ``Q``), ``y = query + softmax(q k^T /
    sqrt(dim)) v``, then ``Linear(Q, dim)``.
    """

    def __init__(self, query_dim: int, context_dim: int, dim: int) -> None:
        super().__init__()
        self.scale = 1.0 / math.sqrt(dim)
        self.q = nn.Linear(query_dim, dim)
        self.k = nn.Linear(context_dim, dim)
        self.v = nn.Linear(context_dim, query_dim)
        self.proj = nn.Linear(query_dim, dim)

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.q(query) @ self.k(context).transpose(1, 2) * self.scale, dim=-1)
        return self.proj(query + w @ self.v(context))


class TemporalCoherenceMatching(nn.Module):
    """Fuse stage-1 SED and DoA into a frame-rate conditioning ``[B, T, D]``.

    Parameters
    ----------
    n_objects, n_classes : J and C.
    dim : D.
    label_hop_frames : STFT frames per label frame (upsampling factor, 5 in the paper).
    fusion : ``"product"`` (released code) or ``"sum"`` (paper figure).
    """

    def __init__(self, n_objects: int, n_classes: int, dim: int, label_hop_frames: int,
                 fusion: str = "product") -> None:
        super().__init__()
        if fusion not in ("product", "sum"):
            raise ValueError(f"TemporalCoherenceMatching: fusion must be 'product' or 'sum', got {fusion!r}")
        self.fusion = fusion
        sed_dim, doa_dim = n_objects * n_classes, n_objects * 3
        self.sed_query = CrossAttention(sed_dim, doa_dim, dim)
        self.doa_query = CrossAttention(doa_dim, sed_dim, dim)
        s = label_hop_frames
        # kernel 2s, stride s covers (T'+1)s - s >= T frames for any T with T // s = T'
        self.up = nn.ConvTranspose1d(dim, dim, kernel_size=2 * s, stride=s)

    def forward(self, sed: torch.Tensor, doa: torch.Tensor, n_frames: int) -> torch.Tensor:
        """``sed [B, T', J*C], doa [B, T', J*3] -> [B, n_frames, D]``."""
        a = self.sed_query(sed, doa)
        b = self.doa_query(doa, sed)
        fused = a * b if self.fusion == "product" else a + b
        up = self.up(fused.transpose(1, 2))
        if up.shape[-1] < n_frames:
            raise ValueError(f"TemporalCoherenceMatching: {sed.shape[1]} label frames cannot cover {n_frames} frames")
        return up[..., :n_frames].transpose(1, 2)


class FiLM(nn.Module):
    """``beta * z + gamma`` with ``beta, gamma = Linear(D, D)(u)`` broadcast over frequency.

    ``z: [B, D, T, F]``, ``u: [B, T, D]`` -> ``[B, D, T, F]``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.beta = nn.Linear(dim, dim)
        self.gamma = nn.Linear(dim, dim)

    def forward(self, z: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        beta = self.beta(u).transpose(1, 2)[..., None]
        gamma = self.gamma(u).transpose(1, 2)[..., None]
        return beta * z + gamma
