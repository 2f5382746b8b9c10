"""DeFT-Mamba block: a frequency path then a time path over a ``[B, D, T, F]`` feature map.

Each path treats one axis as the sequence (F-path: frequency, T-path: time) and computes, as
the DeepASA authors' released block does (``DeFTANblock``)::

    n = LN(x)                                   # over channels
    h = n + Conv1d(n) * Mish(Conv1d(n))         # gated convolution, residual to the *normalised* input
    h = h + Dropout(Linear(MHSA(LN(h))))         # pre-norm multi-head self-attention
    h = h + FFN(LN(h))                           # pre-norm feed-forward
    y = x + h                                    # outer residual to the path's input

MHSA: ``q, k, v = Linear(D, H*E, no bias)``, torch ``scaled_dot_product_attention`` (fused on
GPU) with attention dropout, ``Linear(H*E, D)``, dropout. FFN: F-path ``Linear(D, 4D) - Mish -
Dropout - Linear(4D, D) - Dropout``; T-path ``BiMamba2 (-> 2D, its own Linear(2D, 2D)) - Mish -
Dropout - Linear(2D, D) - Dropout`` (see :class:`~asabench.models.blocks.mamba2.BiMamba2`).
Dropout (0.1 in the released configuration) is active in training mode only.

DeepASA's configuration: D = 64, 4 heads of dimension 64, BiMamba2 with d_state 16,
d_conv 4, expand 4, headdim 16; 6 blocks. DeepASA removed the neighbouring-frame unfold of
the original DeFT-Mamba gated convolution (the released block pads by ``emb_ks - emb_hs``
frames only when unfolding, a no-op at ``emb_hs = 1``); it is not implemented.

The front both DeepASA and DeFT-Mamba run on the STFT is here too: :func:`reference_scale`
(the per-frequency normalisation by the reference microphone) and :func:`run_blocks` (the
block stack, optionally checkpointed).

References
----------
D. Lee, J.-W. Choi, "DeFT-Mamba: Universal multichannel sound separation and polyphonic
audio classification", ICASSP 2025; DeepASA (NeurIPS 2025), Fig. 3(a).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from asabench.models.blocks.mamba2 import BiMamba2
from asabench.simulate.io.config import ranged

__all__ = ["MambaSpec", "GatedConv", "MultiHeadSelfAttention", "HybridPath", "DeFTMambaBlock",
           "dropout_attention", "DROPOUT_BLOCK_ELEMENTS", "reference_scale", "run_blocks"]

#: Attention-weight elements computed at a time by :func:`dropout_attention` (float32: 16 MB).
#: 0 sends training-mode dropout attention to ``scaled_dot_product_attention`` itself, which on
#: the CPU materialises every ``[N, H, L, L]`` weight, its dropout mask and the softmax saved
#: for backward at once (``benchmark.perf.models --attention sdpa`` times that path).
DROPOUT_BLOCK_ELEMENTS = 1 << 22


def _attention_block(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, p: float) -> torch.Tensor:
    """``dropout(softmax(q k^T / sqrt(E))) v`` for one block of queries (dropout scales by 1/(1-p))."""
    w = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * q.shape[-1] ** -0.5, dim=-1)
    return torch.matmul(F.dropout(w, p, training=True), v)


def dropout_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, p: float,
                      block_elements: int | None = None) -> torch.Tensor:
    """Scaled dot-product attention with dropout ``p`` on the weights, in blocks of queries.

    The same function as ``scaled_dot_product_attention(q, k, v, dropout_p=p)`` (``q, k, v:
    [N, H, L, E]``): softmax over keys, each weight zeroed with probability ``p`` and the rest
    scaled by ``1 / (1 - p)``. Queries are taken ``block`` at a time so that at most
    ``block_elements`` weights exist at once; each block is recomputed in backward
    (``torch.utils.checkpoint``, which restores the random state, so the masks are the same)
    instead of keeping its weights, mask and softmax. Dropout masks are drawn from the global
    torch generator, block after block.
    """
    n, h, l, _ = q.shape
    budget = DROPOUT_BLOCK_ELEMENTS if block_elements is None else block_elements
    block = max(1, budget // max(1, n * h * k.shape[2]))
    if block >= l:
        return _attention_block(q, k, v, p)
    recompute = torch.utils.checkpoint.checkpoint
    return torch.cat([recompute(_attention_block, q[:, :, s:s + block], k, v, p, use_reentrant=False)
                      for s in range(0, l, block)], dim=2)


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
    """``Conv1d(h) * Mish(Conv1d(h))`` along the sequence; ``[N, L, D] -> [N, L, D]`` (no norm,
    no residual: :class:`HybridPath` adds the residual to the normalised input)."""

    def __init__(self, dim: int, kernel: int = 3) -> None:
        super().__init__()
        self.value = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)
        self.gate = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h.transpose(1, 2)
        return (self.value(h) * F.mish(self.gate(h))).transpose(1, 2)


class MultiHeadSelfAttention(nn.Module):
    """Pre-norm multi-head self-attention with residual; ``[N, L, D] -> [N, L, D]``.

    ``x + Dropout(out(SDPA(q, k, v)))`` with ``q, k, v`` from ``LN(x)``; the attention weights
    are dropped out with probability ``dropout`` too, in training only: inside the fused call
    on CUDA, by :func:`dropout_attention` (blocks of queries, recomputed in backward) on the
    CPU, where the fused call would keep every weight for backward.
    """

    def __init__(self, dim: int, n_heads: int = 4, head_dim: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = head_dim
        self.dropout = dropout
        inner = n_heads * head_dim
        self.norm = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, inner, bias=False)
        self.k = nn.Linear(dim, inner, bias=False)
        self.v = nn.Linear(dim, inner, bias=False)
        self.out = nn.Linear(inner, dim)
        self.out_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, l, _ = x.shape
        h = self.norm(x)

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(n, l, self.n_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.q(h)), heads(self.k(h)), heads(self.v(h))
        if self.training and self.dropout > 0 and not x.is_cuda and DROPOUT_BLOCK_ELEMENTS > 0:
            y = dropout_attention(q, k, v, self.dropout)  # CPU: no [N, H, L, L] weights kept
        else:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return x + self.out_dropout(self.out(y.transpose(1, 2).reshape(n, l, -1)))


class HybridPath(nn.Module):
    """One DeFT-Mamba path (gated conv, MHSA, feed-forward) over sequences ``[N, L, D]``.

    Parameters
    ----------
    dim : feature channels D.
    ffn : ``"mlp"`` (F-path: Linear(D, ffn_mult*D) - Mish - Dropout - Linear - Dropout) or
        ``"mamba"`` (T-path: BiMamba2 - Mish - Dropout - Linear(2D, D) - Dropout).
    dropout : probability of every dropout of the path (attention weights included).
    """

    def __init__(self, dim: int, ffn: str, n_heads: int = 4, head_dim: int = 64,
                 kernel: int = 3, ffn_mult: int = 4, mamba: MambaSpec | None = None,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.gcb = GatedConv(dim, kernel)
        self.mhsa = MultiHeadSelfAttention(dim, n_heads, head_dim, dropout)
        self.ffn_norm = nn.LayerNorm(dim)
        if ffn == "mlp":
            self.ffn = nn.Sequential(nn.Linear(dim, ffn_mult * dim), nn.Mish(), nn.Dropout(dropout),
                                     nn.Linear(ffn_mult * dim, dim), nn.Dropout(dropout))
        elif ffn == "mamba":
            m = mamba or MambaSpec()
            self.ffn = nn.Sequential(
                BiMamba2(dim, d_state=m.d_state, d_conv=m.d_conv, expand=m.expand,
                         headdim=m.headdim, ngroups=m.ngroups, scan_chunk=m.scan_chunk),
                nn.Mish(), nn.Dropout(dropout), nn.Linear(2 * dim, dim), nn.Dropout(dropout))
        else:
            raise ValueError(f"HybridPath: ffn must be 'mlp' or 'mamba', got {ffn!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.norm(x)
        h = self.mhsa(n + self.gcb(n))
        h = h + self.ffn(self.ffn_norm(h))
        return x + h


class DeFTMambaBlock(nn.Module):
    """F-path then T-path on ``[B, D, T, F]`` features (shape preserved)."""

    def __init__(self, dim: int = 64, n_heads: int = 4, head_dim: int = 64, kernel: int = 3,
                 ffn_mult: int = 4, mamba: MambaSpec | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        self.f_path = HybridPath(dim, "mlp", n_heads, head_dim, kernel, ffn_mult, dropout=dropout)
        self.t_path = HybridPath(dim, "mamba", n_heads, head_dim, kernel, mamba=mamba or MambaSpec(),
                                 dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, d, t, f = x.shape
        y = x.permute(0, 2, 3, 1).reshape(b * t, f, d)  # sequences along frequency
        y = self.f_path(y).reshape(b, t, f, d).transpose(1, 2).reshape(b * f, t, d)
        y = self.t_path(y).reshape(b, f, t, d)  # sequences along time
        return y.permute(0, 3, 2, 1)


def reference_scale(spec: torch.Tensor, ref: int) -> torch.Tensor:
    """Per-frequency RMS magnitude over time of microphone ``ref``: ``[B, M, T, F]`` complex ->
    ``[B, 1, 1, F]`` real (at least 1e-8).

    DeepASA and DeFT-Mamba divide the spectrum by it before the encoder and multiply the decoded
    spectra by it. It is detached: a constant of the input, not a path to learn through, which
    keeps the outputs exactly linear in the input gain.
    """
    scale = spec[:, ref].abs().pow(2).mean(dim=1).sqrt().clamp_min(1e-8)
    return scale[:, None, None, :].detach()


def run_blocks(blocks: typing.Iterable[nn.Module], z: torch.Tensor, checkpoint: bool) -> torch.Tensor:
    """``z`` through ``blocks`` in turn; with ``checkpoint`` (and gradients enabled) each block's
    activations are recomputed in backward instead of kept (``torch.utils.checkpoint``, which
    restores the random state, so dropout masks are the same)."""
    for blk in blocks:
        if checkpoint and torch.is_grad_enabled():
            z = torch.utils.checkpoint.checkpoint(blk, z, use_reentrant=False)
        else:
            z = blk(z)
    return z
