"""DeFT-Mamba block: a frequency path then a time path over a ``[B, D, T, F]`` feature map.

Each path treats one axis as the sequence (F-path: frequency, T-path: time) and applies,
with a residual around each sub-block:

1. gated convolution: ``LN -> Conv1d(D, D, k) * Mish(Conv1d(D, D, k))``;
2. multi-head self-attention: ``LN -> q, k, v = Linear(D, H*E, no bias) -> SDPA ->
   Linear(H*E, D)`` (torch ``scaled_dot_product_attention``, fused on GPU);
3. feed-forward: ``LN ->`` F-path ``Linear(D, 4D) - Mish - Linear(4D, D)``; T-path
   ``BiMamba2 (-> 2D) - Linear(2D, 2D) - Mish - Linear(2D, D)``.

DeepASA's configuration: D = 64, 4 heads of dimension 64, BiMamba2 with d_state 16,
d_conv 4, expand 4, headdim 16; 6 blocks. DeepASA removed the neighbouring-frame unfold of
the original DeFT-Mamba gated convolution; it is not implemented.

References
----------
D. Lee, J.-W. Choi, "DeFT-Mamba: Universal multichannel sound separation and polyphonic
audio classification", ICASSP 2025; DeepASA (NeurIPS 2025), Fig. 3(a).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from asabench.models.blocks.mamba2 import BiMamba2
from asabench.simulate.io.config import ranged

__all__ = ["MambaSpec", "GatedConv", "MultiHeadSelfAttention", "HybridPath", "DeFTMambaBlock"]


@dataclass
class MambaSpec:
    """Hyper-parameters of the T-path BiMamba2 (released DeepASA values)."""

    d_state: int = ranged(16, lo=1, hi=4096)
    d_conv: int = ranged(4, lo=1, hi=1024)
    expand: int = ranged(4, lo=1, hi=1024)
    headdim: int = ranged(16, lo=1, hi=4096)
    ngroups: int = ranged(1, lo=1, hi=1024)
    scan_chunk: int = ranged(32, lo=1, hi=1 << 16)


class GatedConv(nn.Module):
    """``x + Conv1d(LN(x)) * Mish(Conv1d(LN(x)))`` along the sequence; ``[N, L, D] -> [N, L, D]``."""

    def __init__(self, dim: int, kernel: int = 3) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.value = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)
        self.gate = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x).transpose(1, 2)
        return x + (self.value(h) * F.mish(self.gate(h))).transpose(1, 2)


class MultiHeadSelfAttention(nn.Module):
    """Pre-norm multi-head self-attention with residual; ``[N, L, D] -> [N, L, D]``."""

    def __init__(self, dim: int, n_heads: int = 4, head_dim: int = 64) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = head_dim
        inner = n_heads * head_dim
        self.norm = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, inner, bias=False)
        self.k = nn.Linear(dim, inner, bias=False)
        self.v = nn.Linear(dim, inner, bias=False)
        self.out = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, l, _ = x.shape
        h = self.norm(x)

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(n, l, self.n_heads, self.head_dim).transpose(1, 2)

        y = F.scaled_dot_product_attention(heads(self.q(h)), heads(self.k(h)), heads(self.v(h)))
        return x + self.out(y.transpose(1, 2).reshape(n, l, -1))


class HybridPath(nn.Module):
    """One DeFT-Mamba path (gated conv, MHSA, feed-forward) over sequences ``[N, L, D]``.

    Parameters
    ----------
    dim : feature channels D.
    ffn : ``"mlp"`` (F-path: Linear(D, ffn_mult*D) - Mish - Linear) or ``"mamba"`` (T-path:
        BiMamba2 - Linear(2D, 2D) - Mish - Linear(2D, D)).
    """

    def __init__(self, dim: int, ffn: str, n_heads: int = 4, head_dim: int = 64,
                 kernel: int = 3, ffn_mult: int = 4, mamba: MambaSpec | None = None) -> None:
        super().__init__()
        self.gcb = GatedConv(dim, kernel)
        self.mhsa = MultiHeadSelfAttention(dim, n_heads, head_dim)
        self.ffn_norm = nn.LayerNorm(dim)
        if ffn == "mlp":
            self.ffn = nn.Sequential(nn.Linear(dim, ffn_mult * dim), nn.Mish(), nn.Linear(ffn_mult * dim, dim))
        elif ffn == "mamba":
            m = mamba or MambaSpec()
            self.ffn = nn.Sequential(
                BiMamba2(dim, d_state=m.d_state, d_conv=m.d_conv, expand=m.expand,
                         headdim=m.headdim, ngroups=m.ngroups, scan_chunk=m.scan_chunk),
                nn.Linear(2 * dim, 2 * dim), nn.Mish(), nn.Linear(2 * dim, dim))
        else:
            raise ValueError(f"HybridPath: ffn must be 'mlp' or 'mamba', got {ffn!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mhsa(self.gcb(x))
        return x + self.ffn(self.ffn_norm(x))


class DeFTMambaBlock(nn.Module):
    """F-path then T-path on ``[B, D, T, F]`` features (shape preserved)."""

    def __init__(self, dim: int = 64, n_heads: int = 4, head_dim: int = 64, kernel: int = 3,
                 ffn_mult: int = 4, mamba: MambaSpec | None = None) -> None:
        super().__init__()
        self.f_path = HybridPath(dim, "mlp", n_heads, head_dim, kernel, ffn_mult)
        self.t_path = HybridPath(dim, "mamba", n_heads, head_dim, kernel, mamba=mamba or MambaSpec())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, d, t, f = x.shape
        y = x.permute(0, 2, 3, 1).reshape(b * t, f, d)  # sequences along frequency
        y = self.f_path(y).reshape(b, t, f, d).transpose(1, 2).reshape(b * f, t, d)
        y = self.t_path(y).reshape(b, f, t, d)  # sequences along time
        return y.permute(0, 3, 2, 1)
